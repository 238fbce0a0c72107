// Cryptographic primitives kho uses, behind one small interface (libsodium, OpenSSL).
//
// Pure functions, no I/O. All are thread-safe once crypto::init() has returned.
//   seal/open:   XChaCha20-Poly1305 (IETF), random 24-byte nonce prepended:
//                sealed = nonce(24) || ciphertext || tag(16); `ad` is authenticated.
//   keyed_hash:  BLAKE2b-256 keyed with the repository's ID key (blob IDs).
//   sha256:      SHA-256 of stored bytes (object names), OpenSSL.
#pragma once

#include <cstdint>

#include "kho/util/bytes.hpp"
#include "kho/util/id.hpp"
#include "kho/util/secret.hpp"

namespace kho::crypto {

constexpr std::size_t k_key_size = 32;
constexpr std::size_t k_nonce_size = 24;
constexpr std::size_t k_tag_size = 16;
constexpr std::size_t k_seal_overhead = k_nonce_size + k_tag_size;

// Initialises libsodium; safe to call many times. Aborts the process if it cannot.
void init();

// Fills `out` with cryptographically secure random bytes.
void random_bytes(std::span<std::uint8_t> out);

// Encrypts and authenticates `plain` (with `ad` authenticated but not encrypted).
// REQUIRES: key.size() == k_key_size (aborts otherwise, as for open()).
Bytes seal(const SecretBytes& key, ByteSpan plain, ByteSpan ad);
// Appends sealed bytes (plain.size() + k_seal_overhead) to `out` instead of
// returning a new buffer: one resize, no intermediate copy.
// REQUIRES: `plain` and `ad` do not point into `out` (the resize may move it).
void seal_append(const SecretBytes& key, ByteSpan plain, ByteSpan ad, Bytes& out);
// Seals in place: `buffer` holds k_nonce_size free bytes, then `plain_size` bytes
// of plaintext, then k_tag_size free bytes; afterwards it holds the sealed bytes.
void seal_in_place(const SecretBytes& key, std::uint8_t* buffer, std::size_t plain_size, ByteSpan ad);

// Decrypts `sealed`; fails with Errc::corruption (message names `what`) when the
// bytes are too short or were modified, or `ad` differs from the one sealed with.
Result<Bytes> open(const SecretBytes& key, ByteSpan sealed, ByteSpan ad, const std::string& what);
// The same into `out`, which has room for sealed.size() - k_seal_overhead bytes;
// `out` may be sealed.data() + k_nonce_size (decryption in place), nothing else inside `sealed`.
Status open_into(const SecretBytes& key, ByteSpan sealed, ByteSpan ad, const std::string& what, std::uint8_t* out);

// BLAKE2b-256 of `data` keyed with `key` (32 bytes; aborts unless 16 to 64).
Id keyed_hash(const SecretBytes& key, ByteSpan data);

// SHA-256 of `data`.
Id sha256(ByteSpan data);

// Incremental SHA-256, for hashing a pack while it is written.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteSpan data);
  // The digest of everything passed to update(). Call once; the object is spent.
  Id finish();

private:
  void* m_ctx;
};

// Argon2id parameters recorded in every key file.
struct KdfParams {
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;  // bytes
  Bytes salt;                  // 16 bytes
};

// Default parameters for new keys (Argon2id t=4, m=32 MiB: ~35 ms here),
// or libsodium's minimum when the environment variable KHO_KDF_FAST=1 is set
// (tests only: such a key is no protection against guessing the password).
KdfParams default_kdf_params();

// Derives a 32-byte wrapping key from a password. Fails (Errc::invalid_argument)
// on parameters out of libsodium's range or out of memory.
Result<SecretBytes> derive_key(const SecretString& password, const KdfParams& params);

}  // namespace kho::crypto
