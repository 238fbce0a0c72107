#include <catch2/catch.hpp>

#include <zstd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kho/compress/zstd.hpp"

using namespace kho;

namespace {

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// Text-like data that compresses well.
Bytes text_data(std::size_t n) {
  static const std::string words[] = {"backup ", "snapshot ", "restore ", "chunk ", "pack ", "index ", "tree\n"};
  std::mt19937 rng(1);
  Bytes out;
  while (out.size() < n) {
    const std::string& w = words[rng() % 7];
    out.insert(out.end(), w.begin(), w.end());
  }
  out.resize(n);
  return out;
}

Bytes compress_frame(ByteSpan data, int level = 3) {
  Bytes out;
  compress::compress_append(data, level, out);
  return out;
}

}  // namespace

TEST_CASE("compressed data decompresses to the original", "[compress]") {
  for (int level : {1, 3, 9}) {
    for (std::size_t n : {0, 1, 100, 100'000, 1 << 20}) {
      INFO("level " << level << ", " << n << " bytes");
      Bytes data = text_data(n);
      Bytes frame = compress_frame(data, level);
      auto back = compress::decompress(frame, n, "blob");
      REQUIRE(back);
      CHECK(*back == data);
      if (n >= 100'000) CHECK(frame.size() < n / 3);
    }
  }
}

TEST_CASE("incompressible data round-trips within zstd's bound", "[compress]") {
  Bytes data = random_bytes(300'000, 2);
  Bytes frame = compress_frame(data);
  CHECK(frame.size() <= ZSTD_compressBound(data.size()));
  auto back = compress::decompress(frame, data.size(), "blob");
  REQUIRE(back);
  CHECK(*back == data);
}

TEST_CASE("compress_append keeps what the buffer already holds", "[compress]") {
  Bytes data = text_data(5000);
  Bytes out = {1, 2, 3};
  compress::compress_append(data, 3, out);
  REQUIRE(out.size() > 3);
  CHECK(out[0] == 1);
  CHECK(out[2] == 3);
  auto back = compress::decompress(ByteSpan(out).subspan(3), data.size(), "blob");
  REQUIRE(back);
  CHECK(*back == data);
}

TEST_CASE("bytes after the frame, such as padding, are ignored", "[compress]") {
  Bytes data = text_data(20'000);
  Bytes frame = compress_frame(data);
  SECTION("zero padding") { frame.resize(frame.size() + 4096, 0); }
  SECTION("garbage") {
    Bytes junk = random_bytes(777, 3);
    frame.insert(frame.end(), junk.begin(), junk.end());
  }
  SECTION("a second frame") {
    Bytes other = compress_frame(text_data(10));
    frame.insert(frame.end(), other.begin(), other.end());
  }
  auto back = compress::decompress(frame, data.size(), "blob");
  REQUIRE(back);
  CHECK(*back == data);
}

TEST_CASE("a frame whose size differs from the expected size is rejected", "[compress]") {
  Bytes data = text_data(50'000);
  Bytes frame = compress_frame(data);
  for (std::size_t expected : {std::size_t{0}, std::size_t{1}, data.size() - 1, data.size() + 1, std::size_t{1} << 40}) {
    INFO("expected " << expected);
    auto r = compress::decompress(frame, expected, "blob 9f3a");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::corruption);
    CHECK(r.error().message().find("blob 9f3a") != std::string::npos);
  }
}

TEST_CASE("a frame without a declared size must still decompress to exactly the expected size", "[compress]") {
  // Streaming compression without a pledged size leaves the content size out of the header.
  Bytes data = text_data(40'000);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  Bytes frame(ZSTD_compressBound(data.size()));
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  REQUIRE(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue) == 0);  // no size known yet
  REQUIRE(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end) == 0);
  ZSTD_freeCCtx(cctx);
  frame.resize(out.pos);
  REQUIRE(ZSTD_getFrameContentSize(frame.data(), frame.size()) == ZSTD_CONTENTSIZE_UNKNOWN);

  auto ok = compress::decompress(frame, data.size(), "blob");
  REQUIRE(ok);
  CHECK(*ok == data);
  CHECK_FALSE(compress::decompress(frame, data.size() - 1, "blob"));  // inflates past the buffer
  CHECK_FALSE(compress::decompress(frame, data.size() + 1, "blob"));  // falls short
}

TEST_CASE("damaged frames are rejected as corruption", "[compress]") {
  Bytes data = text_data(30'000);
  Bytes frame = compress_frame(data);

  SECTION("every truncation") {
    for (std::size_t len = 0; len < frame.size(); ++len) {
      INFO("truncated to " << len << " of " << frame.size());
      Bytes prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
      auto r = compress::decompress(prefix, data.size(), "blob");
      REQUIRE_FALSE(r);
      CHECK(r.error().code() == Errc::corruption);
    }
  }
  SECTION("a wrong magic number") {
    frame[0] ^= 0x01;
    CHECK_FALSE(compress::decompress(frame, data.size(), "blob"));
  }
  SECTION("a damaged frame header") {
    frame[4] = 0xff;  // frame header descriptor: reserved bit set
    CHECK_FALSE(compress::decompress(frame, data.size(), "blob"));
  }
  SECTION("a damaged block header") {
    // The first block header follows the frame header; type 3 is reserved.
    const std::uint8_t fhd = frame[4];
    const bool single_segment = fhd >> 5 & 1;
    const std::size_t dict_id_sizes[] = {0, 1, 2, 4};
    const std::size_t content_size_sizes[] = {single_segment ? 1U : 0U, 2, 4, 8};
    const std::size_t header =
        4 + 1 + (single_segment ? 0 : 1) + dict_id_sizes[fhd & 3] + content_size_sizes[fhd >> 6];
    frame[header] |= 0x06;
    CHECK_FALSE(compress::decompress(frame, data.size(), "blob"));
  }
  SECTION("random data") {
    Bytes junk = random_bytes(1000, 4);
    CHECK_FALSE(compress::decompress(junk, 1000, "blob"));
  }
  SECTION("a skippable frame") {
    Bytes skippable = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
    CHECK_FALSE(compress::decompress(skippable, 0, "blob"));
  }
}

TEST_CASE("threads compress and decompress independently", "[compress]") {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &ok] {
      bool all = true;
      for (int i = 0; i < 20; ++i) {
        Bytes data = text_data(10'000 + static_cast<std::size_t>(t * 1000 + i));
        Bytes frame;
        compress::compress_append(data, 1 + t, frame);
        auto back = compress::decompress(frame, data.size(), "blob");
        all = all && back && *back == data;
      }
      ok[static_cast<std::size_t>(t)] = all;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>(4, 1));
}

TEST_CASE("a frame depends on the data and its level only and not on what the thread compressed before", "[compress]") {
  // A thread keeps its contexts, with their parameters, between calls: a change
  // of level must reach the next frame, for small inputs and for chunks over 256 KiB.
  for (std::size_t n : {std::size_t{20'000}, std::size_t{1'500'000}}) {
    INFO(n << " bytes");
    Bytes data = text_data(n);
    Bytes noise = random_bytes(n / 8, n);
    for (std::size_t i = 0; i < noise.size(); ++i) data[i * 8] = noise[i];
    auto fresh = [&](int level) {  // compressed on a new thread, its contexts new
      Bytes frame;
      std::thread([&] { frame = compress_frame(data, level); }).join();
      return frame;
    };
    const Bytes at1 = fresh(1), at3 = fresh(3), at19 = fresh(19);
    REQUIRE(at1 != at3);  // else the checks below could not tell the levels apart
    REQUIRE(at3 != at19);
    REQUIRE(at1 != at19);
    for (int round = 0; round < 2; ++round)
      for (int level : {19, 3, 1, 3, 19, 1}) {
        INFO("round " << round << ", level " << level);
        CHECK(compress_frame(data, level) == (level == 1 ? at1 : level == 3 ? at3 : at19));
      }
  }
}

TEST_CASE("at the default level inputs of 4 KiB or less are compressed as at level 1", "[compress]") {
  // Small files are most of a tree's pieces and a twentieth of its bytes: zstd's
  // fast strategy stores them in a quarter less time for about as many bytes.
  auto zstd_level = [](const Bytes& data, int level) {
    Bytes out(ZSTD_compressBound(data.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
  };
  for (std::size_t n : {std::size_t{1'000}, std::size_t{4'096}, std::size_t{4'097}, std::size_t{20'000}}) {
    INFO(n << " bytes");
    Bytes data = text_data(n);
    Bytes noise = random_bytes(n / 8, n);
    for (std::size_t i = 0; i < noise.size(); ++i) data[i * 8] = noise[i];
    const Bytes at1 = zstd_level(data, 1), at3 = zstd_level(data, 3);
    REQUIRE(at1 != at3);  // else the check below could not tell the levels apart
    const Bytes frame = compress_frame(data, 3);
    CHECK(frame == (n <= 4'096 ? at1 : at3));
    auto back = compress::decompress(frame, n, "blob");
    REQUIRE(back);
    CHECK(*back == data);
  }
}
