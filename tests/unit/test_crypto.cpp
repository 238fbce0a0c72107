#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "kho/crypto/crypto.hpp"

using namespace kho;

namespace {

Bytes pattern(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

SecretBytes make_key(std::uint8_t first) {
  SecretBytes key(crypto::k_key_size);
  for (std::size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<std::uint8_t>(first + i);
  return key;
}

// Cheap Argon2id parameters so most KDF tests take milliseconds.
crypto::KdfParams small_kdf(std::uint8_t salt_byte) {
  crypto::KdfParams p;
  p.opslimit = 1;
  p.memlimit = 1 << 20;
  p.salt.assign(16, salt_byte);
  return p;
}

}  // namespace

TEST_CASE("sealed data opens to the original plaintext", "[crypto]") {
  crypto::init();
  SecretBytes key = make_key(1);
  Bytes ad = {'a', 'd'};
  for (std::size_t n : {0, 1, 15, 16, 17, 1000, 1 << 20}) {
    INFO("plaintext of " << n << " bytes");
    Bytes plain = pattern(n, n);
    Bytes sealed = crypto::seal(key, plain, ad);
    CHECK(sealed.size() == n + crypto::k_seal_overhead);
    auto opened = crypto::open(key, sealed, ad, "blob");
    REQUIRE(opened);
    CHECK(*opened == plain);
  }
}

TEST_CASE("sealing the same plaintext twice uses fresh nonces", "[crypto]") {
  SecretBytes key = make_key(1);
  Bytes plain = pattern(64, 7);
  Bytes a = crypto::seal(key, plain, {});
  Bytes b = crypto::seal(key, plain, {});
  CHECK(a != b);
  CHECK(!std::equal(a.begin(), a.begin() + crypto::k_nonce_size, b.begin()));
}

TEST_CASE("nonces stay unique over many seals on two threads and after a fork", "[crypto]") {
  crypto::init();
  SecretBytes key = make_key(2);
  Bytes plain = pattern(16, 3);
  auto nonce_of = [&] {
    Bytes sealed = crypto::seal(key, plain, {});
    return std::string(sealed.begin(), sealed.begin() + crypto::k_nonce_size);
  };
  // Nonces are drawn ahead in blocks: several blocks' worth on two threads.
  std::vector<std::string> mine, theirs;
  std::thread other([&] {
    for (int i = 0; i < 1000; ++i) theirs.push_back(nonce_of());
  });
  for (int i = 0; i < 1000; ++i) mine.push_back(nonce_of());
  other.join();
  std::set<std::string> all(mine.begin(), mine.end());
  all.insert(theirs.begin(), theirs.end());
  CHECK(all.size() == 2000);

  // A child of fork() holds a copy of this thread's nonces drawn ahead: it must
  // not seal with the ones this process uses next.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string n = nonce_of();
    bool ok = ::write(fds[1], n.data(), n.size()) == static_cast<ssize_t>(n.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  std::string child(crypto::k_nonce_size, '\0');
  std::size_t got = 0;
  while (got < child.size()) {
    ssize_t n = ::read(fds[0], child.data() + got, child.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(got == child.size());
  std::string parent = nonce_of();
  CHECK(child != parent);
  CHECK(all.count(child) == 0);
}

TEST_CASE("seal_append keeps what the buffer already holds", "[crypto]") {
  SecretBytes key = make_key(3);
  Bytes plain = pattern(500, 3);
  Bytes out = {'p', 'r', 'e'};
  crypto::seal_append(key, plain, as_bytes("ad"), out);
  crypto::seal_append(key, plain, as_bytes("ad2"), out);
  REQUIRE(out.size() == 3 + 2 * (plain.size() + crypto::k_seal_overhead));
  CHECK(out[0] == 'p');
  CHECK(out[2] == 'e');
  const std::size_t one = plain.size() + crypto::k_seal_overhead;
  auto first = crypto::open(key, ByteSpan(out).subspan(3, one), as_bytes("ad"), "first");
  auto second = crypto::open(key, ByteSpan(out).subspan(3 + one, one), as_bytes("ad2"), "second");
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first == plain);
  CHECK(*second == plain);
}

TEST_CASE("flipping any single bit of sealed data makes it fail to open", "[crypto]") {
  SecretBytes key = make_key(9);
  Bytes ad = {'t', 'r', 'e', 'e'};

  SECTION("every bit of a small message") {
    Bytes sealed = crypto::seal(key, pattern(100, 1), ad);
    for (std::size_t bit = 0; bit < sealed.size() * 8; ++bit) {
      Bytes damaged = sealed;
      damaged[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
      auto r = crypto::open(key, damaged, ad, "pack abc");
      INFO("bit " << bit);
      REQUIRE_FALSE(r);
      CHECK(r.error().code() == Errc::corruption);
    }
  }

  SECTION("a sample of bits across a large message, including nonce and tag") {
    Bytes sealed = crypto::seal(key, pattern(256 * 1024, 2), ad);
    std::mt19937_64 rng(42);
    std::vector<std::size_t> bits;
    for (std::size_t b = 0; b < crypto::k_nonce_size * 8; b += 7) bits.push_back(b);
    for (std::size_t b = (sealed.size() - crypto::k_tag_size) * 8; b < sealed.size() * 8; b += 5) bits.push_back(b);
    for (int i = 0; i < 200; ++i) bits.push_back(rng() % (sealed.size() * 8));
    for (std::size_t bit : bits) {
      INFO("bit " << bit);
      sealed[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
      CHECK_FALSE(crypto::open(key, sealed, ad, "pack"));
      sealed[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));  // restore
    }
    CHECK(crypto::open(key, sealed, ad, "pack"));
  }
}

TEST_CASE("sealed data fails to open with other associated data or another key", "[crypto]") {
  SecretBytes key = make_key(1);
  Bytes plain = pattern(300, 5);
  Bytes sealed = crypto::seal(key, plain, as_bytes("data:1234"));
  CHECK_FALSE(crypto::open(key, sealed, as_bytes("data:1235"), "blob"));
  CHECK_FALSE(crypto::open(key, sealed, as_bytes("data:123"), "blob"));
  CHECK_FALSE(crypto::open(key, sealed, {}, "blob"));
  auto wrong_key = crypto::open(make_key(2), sealed, as_bytes("data:1234"), "blob 1234");
  REQUIRE_FALSE(wrong_key);
  CHECK(wrong_key.error().code() == Errc::corruption);
  CHECK(wrong_key.error().message().find("blob 1234") != std::string::npos);
  CHECK(crypto::open(key, sealed, as_bytes("data:1234"), "blob"));
}

TEST_CASE("truncated or extended sealed data fails to open", "[crypto]") {
  SecretBytes key = make_key(4);
  Bytes sealed = crypto::seal(key, pattern(64, 4), {});
  for (std::size_t len = 0; len < sealed.size(); ++len) {
    INFO("truncated to " << len);
    Bytes prefix(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(len));
    auto r = crypto::open(key, prefix, {}, "index 42");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::corruption);
    CHECK(r.error().message().find("index 42") != std::string::npos);
  }
  Bytes longer = sealed;
  longer.push_back(0);
  CHECK_FALSE(crypto::open(key, longer, {}, "index"));
}

TEST_CASE("keyed hash is BLAKE2b-256 keyed with the ID key", "[crypto]") {
  // Expected value from Python: hashlib.blake2b(msg, key=bytes(range(32)), digest_size=32).
  SecretBytes key = make_key(0);
  Id id = crypto::keyed_hash(key, as_bytes("kho keyed hash test"));
  CHECK(id.hex() == "0f74b9ca398e50c15fe1cdf520d756dcf3546ab5e6f2ad11e4bf49918d748ebc");
  CHECK(crypto::keyed_hash(make_key(1), as_bytes("kho keyed hash test")) != id);
  CHECK(crypto::keyed_hash(key, as_bytes("kho keyed hash test!")) != id);
}

TEST_CASE("keyed hash gives libsodium's BLAKE2b digest for every length and key size", "[crypto]") {
  // Blob IDs must never change: whichever library computes them, the digest is
  // crypto_generichash's, as it was when the repository was written.
  crypto::init();
  std::mt19937_64 rng(7);
  Bytes data(3 * 1024 * 1024 + 17);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (std::size_t key_size : {16, 32, 64}) {
    SecretBytes key(key_size);
    for (std::size_t i = 0; i < key_size; ++i) key.data()[i] = static_cast<std::uint8_t>(rng());
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{127}, std::size_t{128}, std::size_t{129},
                          std::size_t{4096}, std::size_t{1} << 20, data.size()}) {
      INFO("key " << key_size << " bytes, data " << n << " bytes");
      Id expected;
      REQUIRE(crypto_generichash(expected.bytes.data(), expected.bytes.size(), data.data(), n, key.data(),
                                 key.size()) == 0);
      CHECK(crypto::keyed_hash(key, ByteSpan(data.data(), n)) == expected);
    }
  }
}

TEST_CASE("sealed bytes are libsodium's XChaCha20-Poly1305, whichever library seals or opens", "[crypto]") {
  // Repositories written before and after must open alike: kho's seal, given the
  // nonce it chose, equals libsodium's, and each opens what the other sealed.
  crypto::init();
  std::mt19937_64 rng(11);
  Bytes data(3 * 1024 * 1024 + 5);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  SecretBytes key(crypto::k_key_size);
  for (std::size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<std::uint8_t>(rng());
  const Bytes ad_bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  for (std::size_t ad_size : {std::size_t{0}, ad_bytes.size()}) {
    const ByteSpan ad(ad_bytes.data(), ad_size);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                          std::size_t{4096}, std::size_t{1} << 20, data.size()}) {
      INFO("ad " << ad_size << " bytes, data " << n << " bytes");
      const ByteSpan plain(data.data(), n);
      Bytes sealed = crypto::seal(key, plain, ad);
      REQUIRE(sealed.size() == n + crypto::k_seal_overhead);

      Bytes reference(n + crypto::k_tag_size);
      unsigned long long written = 0;
      REQUIRE(crypto_aead_xchacha20poly1305_ietf_encrypt(reference.data(), &written, plain.data(), n, ad.data(),
                                                         ad.size(), nullptr, sealed.data(), key.data()) == 0);
      CHECK(std::equal(reference.begin(), reference.end(), sealed.begin() + crypto::k_nonce_size));

      Bytes opened(n);
      CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt(opened.data(), &written, nullptr,
                                                       sealed.data() + crypto::k_nonce_size,
                                                       sealed.size() - crypto::k_nonce_size, ad.data(), ad.size(),
                                                       sealed.data(), key.data()) == 0);
      CHECK(opened == Bytes(plain.begin(), plain.end()));

      // libsodium's sealed bytes (under a nonce of its own) open with kho, also in place.
      Bytes theirs(crypto::k_nonce_size + n + crypto::k_tag_size);
      randombytes_buf(theirs.data(), crypto::k_nonce_size);
      REQUIRE(crypto_aead_xchacha20poly1305_ietf_encrypt(theirs.data() + crypto::k_nonce_size, &written, plain.data(),
                                                         n, ad.data(), ad.size(), nullptr, theirs.data(),
                                                         key.data()) == 0);
      auto ours = crypto::open(key, theirs, ad, "sealed bytes");
      REQUIRE(ours.has_value());
      CHECK(*ours == Bytes(plain.begin(), plain.end()));
      REQUIRE(crypto::open_into(key, theirs, ad, "sealed bytes", theirs.data() + crypto::k_nonce_size).has_value());
      CHECK(std::equal(plain.begin(), plain.end(), theirs.begin() + crypto::k_nonce_size));
    }
  }
}

TEST_CASE("sealed bytes that fail to open leave zeros where the plaintext would go", "[crypto]") {
  // Decryption may run before the tag is known to be wrong: no caller may see those bytes.
  const SecretBytes key = make_key(3);
  Bytes plain(100000, 0x5a);
  Bytes sealed = crypto::seal(key, plain, {});
  sealed.back() ^= 1;  // the tag's last byte
  Bytes out(plain.size(), 0xff);
  CHECK_FALSE(crypto::open_into(key, sealed, {}, "sealed bytes", out.data()).has_value());
  CHECK(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; }));
  CHECK_FALSE(crypto::open_into(key, sealed, {}, "sealed bytes", sealed.data() + crypto::k_nonce_size).has_value());
  CHECK(std::all_of(sealed.begin() + crypto::k_nonce_size, sealed.end() - crypto::k_tag_size,
                    [](std::uint8_t b) { return b == 0; }));
}

TEST_CASE("sha256 matches the FIPS 180 test vectors, one-shot and incremental", "[crypto]") {
  CHECK(crypto::sha256(as_bytes("abc")).hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::sha256({}).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  const std::string million(1'000'000, 'a');
  const char* expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  CHECK(crypto::sha256(as_bytes(million)).hex() == expected);
  crypto::Sha256 inc;
  std::size_t pos = 0;
  for (std::size_t step = 1; pos < million.size(); step = step * 3 + 1) {
    std::size_t n = std::min(step, million.size() - pos);
    inc.update(as_bytes(std::string_view(million).substr(pos, n)));
    pos += n;
  }
  CHECK(inc.finish().hex() == expected);
}

TEST_CASE("default KDF parameters are the minimum under KHO_KDF_FAST and have a random salt", "[crypto][kdf]") {
  setenv("KHO_KDF_FAST", "1", 1);
  crypto::KdfParams a = crypto::default_kdf_params();
  crypto::KdfParams b = crypto::default_kdf_params();
  CHECK(a.opslimit == crypto_pwhash_argon2id_OPSLIMIT_MIN);
  CHECK(a.memlimit == crypto_pwhash_argon2id_MEMLIMIT_MIN);
  CHECK(a.salt.size() == 16);
  CHECK(a.salt != b.salt);
}

TEST_CASE("without KHO_KDF_FAST new keys use Argon2id with 4 passes over 32 MiB", "[crypto][kdf]") {
  const char* old = std::getenv("KHO_KDF_FAST");
  std::string saved = old ? old : "";
  unsetenv("KHO_KDF_FAST");
  crypto::KdfParams p = crypto::default_kdf_params();  // only reads the parameters: no slow derivation
  CHECK(p.opslimit == 4);
  CHECK(p.memlimit == 32 * 1024 * 1024);
  if (old) setenv("KHO_KDF_FAST", saved.c_str(), 1);
}

TEST_CASE("a derived key depends on the password and the salt, and nothing else", "[crypto][kdf]") {
  SecretString password("correct horse battery staple");
  auto k1 = crypto::derive_key(password, small_kdf(1));
  auto k2 = crypto::derive_key(SecretString("correct horse battery staple"), small_kdf(1));
  auto other_password = crypto::derive_key(SecretString("correct horse battery stapler"), small_kdf(1));
  auto other_salt = crypto::derive_key(password, small_kdf(2));
  REQUIRE(k1);
  REQUIRE(k2);
  REQUIRE(other_password);
  REQUIRE(other_salt);
  CHECK(k1->size() == crypto::k_key_size);
  auto same = [](const SecretBytes& a, const SecretBytes& b) {
    return std::equal(a.data(), a.data() + a.size(), b.data(), b.data() + b.size());
  };
  CHECK(same(*k1, *k2));
  CHECK_FALSE(same(*k1, *other_password));
  CHECK_FALSE(same(*k1, *other_salt));
}

TEST_CASE("derive_key is Argon2id v1.3 with memory given in bytes", "[crypto][kdf]") {
  // An independent check of algorithm and parameter mapping: libsodium's verifier
  // parses the standard encoded form and recomputes the hash from it.
  crypto::KdfParams p = small_kdf(7);
  auto key = crypto::derive_key(SecretString("hunter2"), p);
  REQUIRE(key);
  auto unpadded = [](std::string s) {
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
  };
  std::string encoded = "$argon2id$v=19$m=" + std::to_string(p.memlimit / 1024) + ",t=" + std::to_string(p.opslimit) +
                        ",p=1$" + unpadded(to_base64(p.salt)) + "$" + unpadded(to_base64(key->span()));
  CHECK(crypto_pwhash_str_verify(encoded.c_str(), "hunter2", 7) == 0);
  CHECK(crypto_pwhash_str_verify(encoded.c_str(), "hunter3", 7) != 0);
}

TEST_CASE("a key wrapped under a password opens only with that password", "[crypto][kdf]") {
  setenv("KHO_KDF_FAST", "1", 1);
  crypto::KdfParams params = crypto::default_kdf_params();  // what a new key file records
  SecretBytes master(crypto::k_key_size);
  crypto::random_bytes({master.data(), master.size()});

  auto wrap = crypto::derive_key(SecretString("s3cret"), params);
  REQUIRE(wrap);
  Bytes wrapped = crypto::seal(*wrap, master.span(), as_bytes("kho key"));

  auto again = crypto::derive_key(SecretString("s3cret"), params);
  REQUIRE(again);
  auto unwrapped = crypto::open(*again, wrapped, as_bytes("kho key"), "key file");
  REQUIRE(unwrapped);
  CHECK(*unwrapped == Bytes(master.data(), master.data() + master.size()));

  crypto::KdfParams cheap = small_kdf(3);  // a wrong password needs no costly derivation to show failure
  auto wrong = crypto::derive_key(SecretString("S3cret"), cheap);
  REQUIRE(wrong);
  CHECK_FALSE(crypto::open(*wrong, wrapped, as_bytes("kho key"), "key file"));
}

TEST_CASE("derive_key rejects parameters outside libsodium's range", "[crypto][kdf]") {
  SecretString pw("pw");
  crypto::KdfParams bad_salt = small_kdf(1);
  bad_salt.salt.resize(15);
  crypto::KdfParams no_ops = small_kdf(1);
  no_ops.opslimit = 0;
  crypto::KdfParams tiny_memory = small_kdf(1);
  tiny_memory.memlimit = 1024;
  crypto::KdfParams no_salt = small_kdf(1);
  no_salt.salt.clear();
  for (const auto* p : {&bad_salt, &no_ops, &tiny_memory, &no_salt}) {
    auto r = crypto::derive_key(pw, *p);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("random bytes are not constant", "[crypto]") {
  Bytes a(32), b(32);
  crypto::random_bytes(a);
  crypto::random_bytes(b);
  CHECK(a != b);
  CHECK(a != Bytes(32, 0));
}

TEST_CASE("seal and keyed hash throughput", "[.][benchmark]") {
  SecretBytes key = make_key(1);
  Bytes plain = pattern(4 << 20, 1);
  Bytes out;
  out.reserve(plain.size() + crypto::k_seal_overhead);
  const int rounds = 64;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    out.clear();
    crypto::seal_append(key, plain, as_bytes("ad"), out);
  }
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) (void)crypto::keyed_hash(key, plain);
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) (void)crypto::sha256(plain);
  auto t3 = std::chrono::steady_clock::now();
  auto mbps = [&](auto d) { return rounds * plain.size() / 1e6 / std::chrono::duration<double>(d).count(); };
  WARN("seal " << mbps(t1 - t0) << " MB/s, keyed_hash " << mbps(t2 - t1) << " MB/s, sha256 " << mbps(t3 - t2)
               << " MB/s");

  // Small blobs (tree nodes, small files): the per-call cost against libsodium's.
  const int calls = 100000;
  for (std::size_t size : {1024, 4096, 16384}) {
    const ByteSpan small(plain.data(), size);
    Bytes sealed(small.size() + crypto::k_seal_overhead);
    auto s0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) crypto::seal_in_place(key, sealed.data(), small.size(), as_bytes("ad"));
    auto s1 = std::chrono::steady_clock::now();
    unsigned long long written = 0;
    for (int i = 0; i < calls; ++i) {
      randombytes_buf(sealed.data(), crypto::k_nonce_size);
      crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data() + crypto::k_nonce_size, &written, small.data(),
                                                 small.size(), nullptr, 0, nullptr, sealed.data(), key.data());
    }
    auto s2 = std::chrono::steady_clock::now();
    auto us = [&](auto d) { return std::chrono::duration<double, std::micro>(d).count() / calls; };
    WARN("seal of " << size << " bytes: " << us(s1 - s0) << " us, libsodium alone " << us(s2 - s1) << " us");
  }
}
