#include "kho/crypto/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

namespace kho::crypto {

namespace {

[[noreturn]] void die(const char* message) {
  std::fprintf(stderr, "kho: %s\n", message);
  std::abort();
}

// A wrong-sized key is a programming error, and reading 32 bytes from a shorter
// buffer would be undefined behaviour: stop instead.
void require_key(const SecretBytes& key, std::size_t min, std::size_t max, const char* what) {
  if (key.size() < min || key.size() > max) die(what);
}

EVP_MD_CTX* md_ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

void init() {
  // A function-local static: after the first call this costs one load and branch.
  static const bool initialised = [] {
    if (sodium_init() < 0) die("cannot initialise libsodium");
    return true;
  }();
  (void)initialised;
}

void random_bytes(std::span<std::uint8_t> out) {
  init();
  randombytes_buf(out.data(), out.size());
}

namespace {
// Writes a fresh nonce at `out`, then the ciphertext and tag of `plain` after it.
// `plain` may start exactly at out + k_nonce_size (in place), as libsodium allows.
void seal_to(const SecretBytes& key, const std::uint8_t* plain, std::size_t plain_size, ByteSpan ad,
             std::uint8_t* out) {
  init();
  require_key(key, k_key_size, k_key_size, "seal: the encryption key must be 32 bytes");
  std::uint8_t* nonce = out;
  randombytes_buf(nonce, k_nonce_size);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + k_nonce_size, &written, plain, plain_size, ad.data(),
                                                 ad.size(), nullptr, nonce, key.data()) != 0 ||
      written != plain_size + k_tag_size)
    die("seal: XChaCha20-Poly1305 encryption failed");
}
}  // namespace

void seal_in_place(const SecretBytes& key, std::uint8_t* buffer, std::size_t plain_size, ByteSpan ad) {
  seal_to(key, buffer + k_nonce_size, plain_size, ad, buffer);
}

void seal_append(const SecretBytes& key, ByteSpan plain, ByteSpan ad, Bytes& out) {
  const std::size_t start = out.size();
  // One resize, then encrypt straight from `plain` into its final place.
  out.resize(start + k_nonce_size + plain.size() + k_tag_size);
  seal_to(key, plain.data(), plain.size(), ad, out.data() + start);
}

Bytes seal(const SecretBytes& key, ByteSpan plain, ByteSpan ad) {
  Bytes out;
  out.reserve(plain.size() + k_seal_overhead);
  seal_append(key, plain, ad, out);
  return out;
}

Status open_into(const SecretBytes& key, ByteSpan sealed, ByteSpan ad, const std::string& what, std::uint8_t* out) {
  init();
  require_key(key, k_key_size, k_key_size, "open: the encryption key must be 32 bytes");
  if (sealed.size() < k_seal_overhead)
    return failf(Errc::corruption, "{} is too short ({} bytes) to be encrypted data", what, sealed.size());
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &written, nullptr, sealed.data() + k_nonce_size,
                                                 sealed.size() - k_nonce_size, ad.data(), ad.size(), sealed.data(),
                                                 key.data()) != 0)
    return fail(Errc::corruption,
                what + " failed authentication: it was modified or damaged, or was sealed with another key");
  return {};
}

Result<Bytes> open(const SecretBytes& key, ByteSpan sealed, ByteSpan ad, const std::string& what) {
  Bytes plain(sealed.size() < k_seal_overhead ? 0 : sealed.size() - k_seal_overhead);
  KHO_TRY_STATUS(open_into(key, sealed, ad, what, plain.data()));
  return plain;
}

namespace {

// OpenSSL's keyed BLAKE2b (the BLAKE2BMAC MAC, 32-byte output): the same digest
// as libsodium's crypto_generichash, about 1.5x as fast here. One context per
// thread; null when this OpenSSL has no BLAKE2 (a FIPS-only build), and then
// libsodium hashes.
class Blake2bMac {
public:
  Blake2bMac() {
    if (EVP_MAC* mac = EVP_MAC_fetch(nullptr, "BLAKE2BMAC", nullptr)) {
      m_ctx = EVP_MAC_CTX_new(mac);
      EVP_MAC_free(mac);  // the context keeps its own reference
    }
  }
  ~Blake2bMac() { EVP_MAC_CTX_free(m_ctx); }
  Blake2bMac(const Blake2bMac&) = delete;
  Blake2bMac& operator=(const Blake2bMac&) = delete;

  bool hash(const SecretBytes& key, ByteSpan data, Id& out) {
    if (!m_ctx) return false;
    std::size_t size = out.bytes.size();
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    std::size_t written = 0;
    return EVP_MAC_init(m_ctx, key.data(), key.size(), params) == 1 &&
           EVP_MAC_update(m_ctx, data.data(), data.size()) == 1 &&
           EVP_MAC_final(m_ctx, out.bytes.data(), &written, out.bytes.size()) == 1 && written == out.bytes.size();
  }

private:
  EVP_MAC_CTX* m_ctx = nullptr;
};

}  // namespace

Id keyed_hash(const SecretBytes& key, ByteSpan data) {
  init();
  require_key(key, crypto_generichash_KEYBYTES_MIN, crypto_generichash_KEYBYTES_MAX,
              "keyed_hash: the key must be 16 to 64 bytes");
  thread_local Blake2bMac mac;
  Id id;
  if (mac.hash(key, data, id)) return id;
  if (crypto_generichash(id.bytes.data(), id.bytes.size(), data.data(), data.size(), key.data(), key.size()) != 0)
    die("keyed_hash: BLAKE2b failed");
  return id;
}

Id sha256(ByteSpan data) {
  Id id;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), id.bytes.data(), &len, EVP_sha256(), nullptr) != 1 || len != id.bytes.size())
    die("sha256: OpenSSL digest failed");
  return id;
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  if (m_ctx == nullptr) throw std::bad_alloc();
  if (EVP_DigestInit_ex(md_ctx(m_ctx), EVP_sha256(), nullptr) != 1) die("sha256: OpenSSL digest init failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(md_ctx(m_ctx)); }

void Sha256::update(ByteSpan data) {
  if (EVP_DigestUpdate(md_ctx(m_ctx), data.data(), data.size()) != 1) die("sha256: OpenSSL digest update failed");
}

Id Sha256::finish() {
  Id id;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md_ctx(m_ctx), id.bytes.data(), &len) != 1 || len != id.bytes.size())
    die("sha256: OpenSSL digest final failed");
  return id;
}

KdfParams default_kdf_params() {
  KdfParams p;
  const char* fast = std::getenv("KHO_KDF_FAST");
  if (fast != nullptr && std::string_view(fast) == "1") {
    // Tests only: libsodium's minimum (1 pass over 8 KiB), so that the hundreds
    // of commands an end-to-end run makes do not each spend ~0.25 s deriving.
    p.opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
    p.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  } else {
    // 32 MiB, the memory restic's scrypt asks for (N=2^15, r=8), and 4 passes:
    // twice the work of OWASP's m=19 MiB, t=2 baseline.
    p.opslimit = 4;
    p.memlimit = 32ULL << 20;
  }
  p.salt.resize(crypto_pwhash_argon2id_SALTBYTES);
  random_bytes(p.salt);
  return p;
}

Result<SecretBytes> derive_key(const SecretString& password, const KdfParams& params) {
  init();
  if (params.salt.size() != crypto_pwhash_argon2id_SALTBYTES)
    return failf(Errc::invalid_argument, "key derivation salt is {} bytes, expected {}", params.salt.size(),
                 crypto_pwhash_argon2id_SALTBYTES);
  if (params.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || params.opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || params.memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
    return failf(Errc::invalid_argument, "key derivation parameters out of range (ops {}, memory {} bytes)",
                 params.opslimit, params.memlimit);
  const std::string& pw = password.value();
  if (pw.size() > crypto_pwhash_argon2id_PASSWD_MAX)
    return fail(Errc::invalid_argument, "password is too long for key derivation");
  SecretBytes key(k_key_size);
  if (crypto_pwhash(key.data(), key.size(), pw.data(), pw.size(), params.salt.data(), params.opslimit,
                    static_cast<std::size_t>(params.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
    return failf(Errc::invalid_argument, "key derivation failed: not enough memory for Argon2id with {} MiB",
                 params.memlimit >> 20);
  return key;
}

}  // namespace kho::crypto
