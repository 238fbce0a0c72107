// Master keys and the key files that wrap them, one per password.
//
// Key file (JSON, stored unencrypted as keys/<sha256 of the file>):
//   {"version": 1, "created": RFC3339, "host": str, "username": str,
//    "kdf": {"algorithm": "argon2id13", "opslimit": n, "memlimit": n, "salt": base64(16)},
//    "data": base64(nonce(24) || XChaCha20-Poly1305(master key set) || tag(16))}
// The wrapping key is Argon2id(password, salt, opslimit, memlimit), 32 bytes; the
// AEAD's associated data is "kho:key:v1". The sealed plaintext is the master key
// set, 96 bytes: encryption key (32) || ID key (32) || chunker seed (32).
#pragma once

#include <string>

#include "kho/backend/backend.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/util/secret.hpp"
#include "kho/util/time.hpp"

namespace kho::repo {

struct MasterKeys {
  SecretBytes encryption;   // XChaCha20-Poly1305 key for every object and blob
  SecretBytes id;           // BLAKE2b key for blob IDs
  SecretBytes chunker_seed; // FastCDC gear table seed

  static MasterKeys generate();
};

struct KeyFileInfo {
  int version = 1;
  TimeNs created = 0;
  std::string host;
  std::string username;
  crypto::KdfParams kdf;
};

// Wraps `keys` with `password` into the bytes of a new key file.
Result<Bytes> make_key_file(const MasterKeys& keys, const SecretString& password, const crypto::KdfParams& kdf);

// Parses a key file's public part (no password needed). Errc::corruption on bad input.
Result<KeyFileInfo> parse_key_file(ByteSpan file, const std::string& what);

// Unwraps a key file. Errc::wrong_password when the password does not open it,
// Errc::corruption when the file is malformed.
Result<MasterKeys> open_key_file(ByteSpan file, const SecretString& password, const std::string& what);

// Key files are small: one listed larger than this is refused before it is read.
inline constexpr std::uint64_t k_max_key_file_size = 64 * 1024;

// Loads the key file `info` lists, after checking its listed size (Errc::corruption,
// "is N bytes, too large to be a key file", when it is above k_max_key_file_size).
Result<Bytes> load_key_file(backend::Backend& backend, const backend::ObjectInfo& info);

// Whether `file` is what keys/<name> must hold: key files are named by the SHA-256
// of their bytes. False for a name that is not an ID.
bool key_file_matches_name(ByteSpan file, std::string_view name);

}  // namespace kho::repo
