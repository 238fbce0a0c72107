#include "kho/crypto/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
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

// Bumped in the child of every fork(), so that no nonce drawn ahead by the parent
// is used again by its child (see NonceBuffer).
std::atomic<std::uint64_t> g_fork_generation{0};
void forked_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

void init() {
  // A function-local static: after the first call this costs one load and branch.
  static const bool initialised = [] {
    if (sodium_init() < 0) die("cannot initialise libsodium");
    if (::pthread_atfork(nullptr, nullptr, forked_child) != 0) die("cannot register the fork handler");
    return true;
  }();
  (void)initialised;
}

void random_bytes(std::span<std::uint8_t> out) {
  init();
  randombytes_buf(out.data(), out.size());
}

namespace {

static_assert(k_key_size == crypto_aead_xchacha20poly1305_ietf_KEYBYTES &&
              k_nonce_size == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES &&
              k_tag_size == crypto_aead_xchacha20poly1305_ietf_ABYTES);

// XChaCha20-Poly1305 as libsodium defines it (crypto_aead_xchacha20poly1305_ietf):
// HChaCha20 of the key and the nonce's first 16 bytes gives a subkey, under which
// ChaCha20-Poly1305 (RFC 8439) runs with the 12-byte nonce 0^4 || nonce[16..24].
// OpenSSL's ChaCha20-Poly1305 does that second part ~1.7x as fast as libsodium
// here, so it does it for all but small messages (setting up its context costs
// ~1 us more a call, more than it saves below a few KiB); one context per thread.
// Where this OpenSSL has no ChaCha20-Poly1305, libsodium does all of it. Same
// bytes either way.
class ChaChaPoly {
public:
  ChaChaPoly() {
    if ((m_cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr)) != nullptr) m_ctx = EVP_CIPHER_CTX_new();
  }
  ~ChaChaPoly() {
    EVP_CIPHER_CTX_free(m_ctx);
    EVP_CIPHER_free(m_cipher);
  }
  ChaChaPoly(const ChaChaPoly&) = delete;
  ChaChaPoly& operator=(const ChaChaPoly&) = delete;

  // Whether OpenSSL takes a message of `size` bytes.
  bool takes(std::size_t size) const { return m_ctx != nullptr && size >= k_smallest; }

  // Ciphertext of `plain` to `out` (which may equal `plain`), then the tag.
  bool seal(const std::uint8_t* key, const std::uint8_t* nonce, ByteSpan ad, const std::uint8_t* plain,
            std::size_t size, std::uint8_t* out) {
    int len = 0;
    return start(key, nonce, ad, 1) && update(plain, size, out) && EVP_CipherFinal_ex(m_ctx, out + size, &len) == 1 &&
           EVP_CIPHER_CTX_ctrl(m_ctx, EVP_CTRL_AEAD_GET_TAG, k_tag_size, out + size) == 1;
  }

  // Plaintext of `cipher` to `out` (which may equal `cipher`); false when the
  // tag does not match. OpenSSL checks the tag after it decrypts, so `out` is
  // zeroed on failure, as libsodium leaves it, and no caller sees unverified bytes.
  bool open(const std::uint8_t* key, const std::uint8_t* nonce, ByteSpan ad, const std::uint8_t* cipher,
            std::size_t size, const std::uint8_t* tag, std::uint8_t* out) {
    std::uint8_t expected[k_tag_size];
    std::memcpy(expected, tag, k_tag_size);  // `out` may not reach it, but a copy costs nothing
    int len = 0;
    if (start(key, nonce, ad, 0) && EVP_CIPHER_CTX_ctrl(m_ctx, EVP_CTRL_AEAD_SET_TAG, k_tag_size, expected) == 1 &&
        update(cipher, size, out) && EVP_CipherFinal_ex(m_ctx, out + size, &len) == 1)
      return true;
    if (size > 0) sodium_memzero(out, size);
    return false;
  }

private:
  static constexpr std::size_t k_smallest = 4096;
  // EVP takes int lengths: larger inputs go in pieces.
  static constexpr std::size_t k_piece = std::size_t{1} << 30;

  bool start(const std::uint8_t* key, const std::uint8_t* nonce, ByteSpan ad, int encrypt) {
    std::uint8_t subkey[k_key_size];
    std::uint8_t iv[12] = {};
    crypto_core_hchacha20(subkey, nonce, key, nullptr);
    std::memcpy(iv + 4, nonce + 16, 8);
    const bool ok = EVP_CipherInit_ex2(m_ctx, m_cipher, subkey, iv, encrypt, nullptr) == 1;
    sodium_memzero(subkey, sizeof subkey);
    return ok && update(ad.data(), ad.size(), nullptr);
  }

  // Encrypts or decrypts `size` bytes, or passes them as associated data when `out` is null.
  bool update(const std::uint8_t* in, std::size_t size, std::uint8_t* out) {
    for (std::size_t done = 0; done < size;) {
      const std::size_t n = std::min(size - done, k_piece);
      int len = 0;
      if (EVP_CipherUpdate(m_ctx, out ? out + done : nullptr, &len, in + done, static_cast<int>(n)) != 1 ||
          static_cast<std::size_t>(len) != n)
        return false;
      done += n;
    }
    return true;
  }

  EVP_CIPHER* m_cipher = nullptr;
  EVP_CIPHER_CTX* m_ctx = nullptr;
};

ChaChaPoly& chacha_poly() {
  thread_local ChaChaPoly cipher;
  return cipher;
}

// Random nonces made 170 at a time per thread, from 32 random bytes drawn from
// the kernel: a system call per sealed blob cost ~2 us each in a virtual
// machine, as much as sealing a small blob.
// Nonces are public, so the bytes drawn ahead are no secret, but each must be
// used once only: a fork's child starts with a copy of its parent's buffer, so
// the buffer is drawn anew when a fork happened since it was filled.
class NonceBuffer {
public:
  void take(std::uint8_t* nonce) {
    const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
    if (m_used == sizeof m_bytes || generation != m_generation) {
      // ChaCha20's stream under a fresh random key: one 32-byte draw, where
      // filling the buffer from the kernel took 16 (256 bytes a call).
      std::uint8_t seed[randombytes_SEEDBYTES];
      randombytes_buf(seed, sizeof seed);
      randombytes_buf_deterministic(m_bytes, sizeof m_bytes, seed);
      sodium_memzero(seed, sizeof seed);
      m_used = 0;
      m_generation = generation;
    }
    std::memcpy(nonce, m_bytes + m_used, k_nonce_size);
    m_used += k_nonce_size;
  }

private:
  std::uint8_t m_bytes[170 * k_nonce_size];
  std::size_t m_used = sizeof m_bytes;  // empty until first use
  std::uint64_t m_generation = 0;
};

// Writes a fresh nonce at `out`, then the ciphertext and tag of `plain` after it.
// `plain` may start exactly at out + k_nonce_size (in place), as both libraries allow.
void seal_to(const SecretBytes& key, const std::uint8_t* plain, std::size_t plain_size, ByteSpan ad,
             std::uint8_t* out) {
  init();
  require_key(key, k_key_size, k_key_size, "seal: the encryption key must be 32 bytes");
  std::uint8_t* nonce = out;
  thread_local NonceBuffer nonces;
  nonces.take(nonce);
  if (ChaChaPoly& cipher = chacha_poly(); cipher.takes(plain_size)) {
    if (!cipher.seal(key.data(), nonce, ad, plain, plain_size, out + k_nonce_size))
      die("seal: XChaCha20-Poly1305 encryption failed (OpenSSL)");
    return;
  }
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
  const std::size_t size = sealed.size() - k_seal_overhead;
  const std::uint8_t* nonce = sealed.data();
  bool authentic = false;
  if (ChaChaPoly& cipher = chacha_poly(); cipher.takes(size)) {
    authentic = cipher.open(key.data(), nonce, ad, nonce + k_nonce_size, size, nonce + k_nonce_size + size, out);
  } else {
    unsigned long long written = 0;
    authentic = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &written, nullptr, nonce + k_nonce_size,
                                                           size + k_tag_size, ad.data(), ad.size(), nonce,
                                                           key.data()) == 0;
  }
  if (!authentic)
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
