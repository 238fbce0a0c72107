#include <catch2/catch.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kho/util/bytes.hpp"

using namespace kho;

namespace {

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// One of every encoding, so truncation tests cover each reader.
Bytes encode_record() {
  Bytes buf;
  ByteWriter w(buf);
  w.u8(0xab);
  w.u16(0xbeef);
  w.u32(0xdeadbeef);
  w.u64(0x0123456789abcdefULL);
  w.i64(-42);
  w.varint(300);
  w.svarint(-1'000'000);
  w.str("hello, kho");
  w.raw(as_bytes("raw!"));
  return buf;
}

Status decode_record(ByteSpan in) {
  ByteReader r(in, "test record");
  KHO_TRY_STATUS(r.u8());
  KHO_TRY_STATUS(r.u16());
  KHO_TRY_STATUS(r.u32());
  KHO_TRY_STATUS(r.u64());
  KHO_TRY_STATUS(r.i64());
  KHO_TRY_STATUS(r.varint());
  KHO_TRY_STATUS(r.svarint());
  KHO_TRY_STATUS(r.str());
  KHO_TRY_STATUS(r.raw(4));
  return {};
}

}  // namespace

TEST_CASE("hex encodes every byte value and decodes it back", "[util][bytes]") {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  std::string hex = to_hex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  auto back = from_hex(hex);
  REQUIRE(back);
  CHECK(*back == all);
  CHECK(to_hex({}).empty());
}

TEST_CASE("hex decoding accepts upper case and rejects malformed input", "[util][bytes]") {
  auto upper = from_hex("DEADbeef");
  REQUIRE(upper);
  CHECK(*upper == Bytes{0xde, 0xad, 0xbe, 0xef});
  for (const char* bad : {"a", "abc", "zz", "0g", "  ", "12 4", "-1"}) {
    INFO(bad);
    auto r = from_hex(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("base64 matches the RFC 4648 test vectors", "[util][bytes]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(to_base64(as_bytes(plain)) == encoded);
    auto back = from_base64(encoded);
    REQUIRE(back);
    CHECK(as_string_view(*back) == plain);
  }
}

TEST_CASE("base64 round-trips random data of every length up to 100", "[util][bytes]") {
  for (std::size_t n = 0; n <= 100; ++n) {
    Bytes data = random_bytes(n, n);
    std::string text = to_base64(data);
    CHECK(text.size() == (n + 2) / 3 * 4);
    auto back = from_base64(text);
    REQUIRE(back);
    CHECK(*back == data);
  }
}

TEST_CASE("base64 decoding rejects malformed input", "[util][bytes]") {
  // Wrong length, bad characters, misplaced padding, and non-canonical trailing bits.
  for (const char* bad : {"Z", "Zg=", "Zm9vY", "Zm9v!A==", "Z===", "====", "Zg==Zg==", "Zm=v", "Zh==", "Zm9=",
                          "Zg\n="}) {
    INFO(bad);
    auto r = from_base64(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("fixed-width integers are written little endian", "[util][bytes]") {
  Bytes buf;
  ByteWriter w(buf);
  w.u16(0x0102);
  w.u32(0x01020304);
  w.u64(0x0102030405060708ULL);
  CHECK(buf == Bytes{2, 1, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1});
}

TEST_CASE("varints round-trip at every size boundary", "[util][bytes]") {
  const std::uint64_t values[] = {0,           1,           127,         128,         16383,
                                  16384,       (1ULL << 21) - 1, 1ULL << 21, 0xffffffffULL, 1ULL << 56,
                                  (1ULL << 63) - 1, 1ULL << 63, std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t v : values) {
    INFO(v);
    Bytes buf;
    ByteWriter(buf).varint(v);
    std::size_t expected_len = 1;
    for (std::uint64_t x = v; x >= 0x80; x >>= 7) ++expected_len;
    CHECK(buf.size() == expected_len);
    ByteReader r(buf, "varint");
    auto back = r.varint();
    REQUIRE(back);
    CHECK(*back == v);
    CHECK(r.at_end());
  }
}

TEST_CASE("zig-zag varints round-trip signed extremes", "[util][bytes]") {
  const std::int64_t values[] = {0, 1, -1, 63, -64, 64, -65, 1'000'000'007, -1'000'000'007,
                                 std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()};
  for (std::int64_t v : values) {
    INFO(v);
    Bytes buf;
    ByteWriter(buf).svarint(v);
    ByteReader r(buf, "svarint");
    auto back = r.svarint();
    REQUIRE(back);
    CHECK(*back == v);
  }
  // Small magnitudes stay small whatever their sign.
  Bytes buf;
  ByteWriter(buf).svarint(-64);
  CHECK(buf.size() == 1);
}

TEST_CASE("varints that overflow 64 bits are rejected", "[util][bytes]") {
  // Ten bytes whose last carries more than the one remaining bit.
  Bytes too_big(9, 0xff);
  too_big.push_back(0x02);
  ByteReader r1(too_big, "varint");
  CHECK_FALSE(r1.varint());
  // Eleven bytes: continuation never ends within 64 bits.
  Bytes too_long(11, 0x80);
  ByteReader r2(too_long, "varint");
  auto bad = r2.varint();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Errc::corruption);
}

TEST_CASE("a record of every encoding round-trips", "[util][bytes]") {
  Bytes buf = encode_record();
  ByteReader r(buf, "record");
  CHECK(*r.u8() == 0xab);
  CHECK(*r.u16() == 0xbeef);
  CHECK(*r.u32() == 0xdeadbeef);
  CHECK(*r.u64() == 0x0123456789abcdefULL);
  CHECK(*r.i64() == -42);
  CHECK(*r.varint() == 300);
  CHECK(*r.svarint() == -1'000'000);
  CHECK(*r.str() == "hello, kho");
  auto raw = r.raw(4);
  REQUIRE(raw);
  CHECK(as_string_view(*raw) == "raw!");
  CHECK(r.at_end());
  CHECK(r.remaining() == 0);
  CHECK(r.position() == buf.size());
}

TEST_CASE("every truncation of an encoded record is rejected as corruption", "[util][bytes]") {
  Bytes buf = encode_record();
  REQUIRE(decode_record(buf));
  for (std::size_t len = 0; len < buf.size(); ++len) {
    INFO("truncated to " << len << " of " << buf.size() << " bytes");
    // A copy of exactly `len` bytes, so AddressSanitizer catches any over-read.
    Bytes prefix(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
    auto r = decode_record(prefix);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::corruption);
    CHECK(r.error().message().find("test record") != std::string::npos);
  }
}

TEST_CASE("a string longer than its limit or than the input is rejected", "[util][bytes]") {
  Bytes buf;
  ByteWriter(buf).str("0123456789");
  ByteReader short_limit(buf, "name");
  CHECK_FALSE(short_limit.str(9));
  ByteReader exact_limit(buf, "name");
  CHECK(*exact_limit.str(10) == "0123456789");

  // A length prefix claiming far more bytes than follow.
  Bytes lying;
  ByteWriter lw(lying);
  lw.varint(1'000'000);
  lw.raw(as_bytes("abc"));
  ByteReader r(lying, "name");
  CHECK_FALSE(r.str());
}

TEST_CASE("a failed read does not consume input", "[util][bytes]") {
  Bytes buf{1, 2, 3};
  ByteReader r(buf, "short");
  CHECK_FALSE(r.u32());
  CHECK(r.position() == 0);
  CHECK(*r.u16() == 0x0201);
  CHECK_FALSE(r.raw(2));
  CHECK(r.remaining() == 1);
}

namespace {
// Pages of [data, data + size) that are resident, counted with mincore.
std::size_t resident_pages(const std::uint8_t* data, std::size_t size) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(page - 1);
  std::vector<unsigned char> flags((end - begin) / page);
  REQUIRE(::mincore(reinterpret_cast<void*>(begin), end - begin, flags.data()) == 0);
  return static_cast<std::size_t>(std::count_if(flags.begin(), flags.end(), [](unsigned char f) { return f & 1; }));
}
}  // namespace

TEST_CASE("a scratch buffer reuses its memory and gives back the pages of a large use", "[util][bytes]") {
  constexpr std::size_t resident = 256 * 1024;
  constexpr std::size_t large = 4 * 1024 * 1024;
  kho::ScratchBuffer buffer(resident);
  std::uint8_t* first = buffer.reserve(large);
  std::fill(first, first + large, std::uint8_t{0x5A});
  CHECK(resident_pages(first + resident, large - resident) > 0);

  // A use within `resident` keeps the buffer and drops the pages past it.
  std::uint8_t* small = buffer.reserve(1000);
  CHECK(small == first);
  CHECK(resident_pages(first + resident, large - resident) == 0);
  CHECK(resident_pages(first, resident) > 0);
  std::fill(small, small + 1000, std::uint8_t{1});

  // The whole capacity is usable again, without a new allocation.
  std::uint8_t* again = buffer.reserve(large);
  CHECK(again == first);
  std::fill(again, again + large, std::uint8_t{2});
  CHECK(std::all_of(again, again + large, [](std::uint8_t b) { return b == 2; }));

  // Growing past the capacity moves to a larger allocation.
  buffer.reserve(2 * large);
  CHECK(buffer.capacity() >= 2 * large);
}
