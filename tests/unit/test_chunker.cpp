#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <random>
#include <set>
#include <vector>

#include "kho/chunker/fastcdc.hpp"

using namespace kho;
using chunker::Chunker;
using chunker::Params;

namespace {

Bytes noise(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = rng();
    for (int k = 0; k < 8; ++k) out[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
  }
  for (; i < n; ++i) out[i] = static_cast<std::uint8_t>(rng());
  return out;
}

Bytes seed_bytes(std::uint8_t first) {
  Bytes seed(32);
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(first + i);
  return seed;
}

// Small sizes keep tests fast while exercising the same code as the defaults.
constexpr Params k_small{2 * 1024, 8 * 1024, 64 * 1024};

// Chunk lengths of `data` when it is available all at once.
std::vector<std::size_t> chunk_whole(const Chunker& c, ByteSpan data) {
  std::vector<std::size_t> out;
  while (!data.empty()) {
    std::size_t n = c.next_cut(data, true);
    REQUIRE(n > 0);
    REQUIRE(n <= data.size());
    out.push_back(n);
    data = data.subspan(n);
  }
  return out;
}

// Chunk lengths of `data` when it arrives in pieces of 1 to `max_piece` bytes, as
// from a pipe. With `resume`, through StreamCuts: each call is told how many bytes
// the last one that found no cut point had looked at.
std::vector<std::size_t> chunk_streamed(const Chunker& c, ByteSpan data, std::size_t max_piece, std::uint64_t seed,
                                        bool resume) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> out;
  Bytes window;  // bytes received but not yet chunked
  chunker::StreamCuts cuts(c);
  std::size_t fed = 0;
  bool eof = false;
  while (!eof || !window.empty()) {
    std::size_t cut = resume ? cuts.next(window, eof) : c.next_cut(window, eof);
    if (cut == 0) {
      REQUIRE(!eof);
      REQUIRE(window.size() < c.params().max_size);
      std::size_t piece = std::min<std::size_t>(1 + rng() % max_piece, data.size() - fed);
      window.insert(window.end(), data.begin() + static_cast<std::ptrdiff_t>(fed),
                    data.begin() + static_cast<std::ptrdiff_t>(fed + piece));
      fed += piece;
      eof = fed == data.size();
      continue;
    }
    out.push_back(cut);
    window.erase(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(cut));
  }
  return out;
}

// Start offsets of chunks, to compare two chunkings position by position.
std::set<std::size_t> boundaries(const std::vector<std::size_t>& lengths) {
  std::set<std::size_t> out;
  std::size_t pos = 0;
  for (std::size_t n : lengths) out.insert(pos += n);
  return out;
}

}  // namespace

TEST_CASE("chunker parameters are validated", "[chunker]") {
  struct Row {
    Params p;
    bool valid;
  };
  const Row rows[] = {
      {Params{}, true},
      {{64, 128, 256}, true},
      {{63, 128, 256}, false},                                   // min below 64
      {{128, 128, 256}, false},                                  // min not below avg
      {{64, 256, 256}, false},                                   // avg not below max
      {{64, 96, 256}, false},                                    // avg not a power of two
      {{1024, 1 << 20, 64 << 20}, true},                         // max at the 64 MiB limit
      {{1024, 1 << 20, (64 << 20) + 1}, false},                  // max above it
      {{512 * 1024, 1024 * 1024, 512 * 1024}, false},            // max below avg
  };
  for (const Row& row : rows) {
    INFO(row.p.min_size << "/" << row.p.avg_size << "/" << row.p.max_size);
    auto r = chunker::validate(row.p);
    CHECK(bool(r) == row.valid);
    if (!r) CHECK(r.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("the gear table is keyed BLAKE2b of the seed, as specified", "[chunker]") {
  // Expected values from Python: int.from_bytes(blake2b(b"kho-gear" + i.to_bytes(4, "little"),
  // key=bytes(range(32)), digest_size=32).digest()[:8], "little").
  chunker::GearTable gear = chunker::derive_gear(seed_bytes(0));
  CHECK(gear[0] == 0xa44c6e8f12afa49eULL);
  CHECK(gear[1] == 0x703ed28a43591576ULL);
  CHECK(gear[255] == 0xc07da238eb4b09b7ULL);
  CHECK(chunker::derive_gear(seed_bytes(0)) == gear);
  CHECK(chunker::derive_gear(seed_bytes(1)) != gear);
}

TEST_CASE("cut points for a fixed seed and input never change", "[chunker]") {
  // Recorded from this implementation. A change here changes every chunk of every
  // existing repository and so defeats deduplication against old snapshots:
  // update these numbers only together with a new chunker version.
  auto gear = chunker::derive_gear(seed_bytes(8));
  auto lengths = chunk_whole(Chunker(k_small, gear), noise(200'000, 8));
  const std::vector<std::size_t> expected = {8692,  3921, 9429,  9731,  10998, 14454, 9316, 10729,
                                             3752,  13359, 16427, 8894, 2288,  5600,  4026, 4019,
                                             11179, 11370, 11552, 8515, 11329, 8325,  2095};
  CHECK(lengths == expected);
}

TEST_CASE("every chunk is within the size limits except a short last one", "[chunker]") {
  auto gear = chunker::derive_gear(seed_bytes(1));
  Chunker c(k_small, gear);
  Bytes data = noise(4 << 20, 1);
  auto lengths = chunk_whole(c, data);
  REQUIRE(lengths.size() > 100);
  std::size_t total = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    total += lengths[i];
    if (i + 1 < lengths.size()) {
      CHECK(lengths[i] > k_small.min_size);
      CHECK(lengths[i] <= k_small.max_size);
    }
  }
  CHECK(total == data.size());
  // Normalised chunking keeps the mean near the target average.
  double mean = double(total) / double(lengths.size());
  CHECK(mean > 0.8 * k_small.avg_size);
  CHECK(mean < 1.6 * k_small.avg_size);
}

TEST_CASE("chunking is deterministic for a seed and differs between seeds", "[chunker]") {
  Bytes data = noise(2 << 20, 2);
  auto gear_a = chunker::derive_gear(seed_bytes(10));
  auto gear_b = chunker::derive_gear(seed_bytes(11));
  auto first = chunk_whole(Chunker(k_small, gear_a), data);
  auto second = chunk_whole(Chunker(k_small, chunker::derive_gear(seed_bytes(10))), data);
  auto other = chunk_whole(Chunker(k_small, gear_b), data);
  CHECK(first == second);
  // Another seed cuts elsewhere: hardly any boundaries in common.
  auto a = boundaries(first);
  auto b = boundaries(other);
  std::vector<std::size_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  CHECK(common.size() < a.size() / 10);
}

TEST_CASE("an insertion near the start changes only the chunks around it", "[chunker]") {
  // Default (1 MiB average) parameters over 20 MB.
  auto gear = chunker::derive_gear(seed_bytes(3));
  Chunker c(Params{}, gear);
  Bytes data = noise(20'000'000, 3);
  Bytes edited = data;
  edited.insert(edited.begin() + 1000, std::uint8_t{0x5a});

  auto before = chunk_whole(c, data);
  auto after = chunk_whole(c, edited);
  REQUIRE(before.size() >= 10);
  // Compare chunk contents: the edited stream shares all but a few chunks.
  std::multiset<Bytes> old_chunks;
  std::size_t pos = 0;
  for (std::size_t n : before) {
    old_chunks.emplace(data.begin() + pos, data.begin() + pos + n);
    pos += n;
  }
  std::size_t changed = 0;
  pos = 0;
  for (std::size_t n : after) {
    Bytes chunk(edited.begin() + pos, edited.begin() + pos + n);
    if (old_chunks.count(chunk) == 0) ++changed;
    pos += n;
  }
  CHECK(changed >= 1);
  CHECK(changed <= 3);
}

TEST_CASE("data of exactly the minimum or maximum size", "[chunker]") {
  auto gear = chunker::derive_gear(seed_bytes(4));
  Chunker c(k_small, gear);

  Bytes at_min = noise(k_small.min_size, 4);
  CHECK(c.next_cut(at_min, true) == k_small.min_size);
  CHECK(c.next_cut(at_min, false) == 0);  // more data might follow

  Bytes below_min = noise(k_small.min_size - 1, 4);
  CHECK(c.next_cut(below_min, true) == below_min.size());

  Bytes at_max = noise(k_small.max_size, 5);
  std::size_t eof_cut = c.next_cut(at_max, true);
  std::size_t stream_cut = c.next_cut(at_max, false);  // max_size bytes always decide
  CHECK(eof_cut == stream_cut);
  CHECK(eof_cut > k_small.min_size);
  CHECK(eof_cut <= k_small.max_size);

  CHECK(c.next_cut({}, true) == 0);
  CHECK(c.next_cut({}, false) == 0);
}

TEST_CASE("all-zero data is cut at the maximum size", "[chunker]") {
  // Over constant bytes the hash settles on one value; for this seed (as for almost
  // every seed) its top bits are not all zero, so no content-defined cut is found.
  auto gear = chunker::derive_gear(seed_bytes(5));
  Chunker c(k_small, gear);
  Bytes zeros(k_small.max_size * 3 + 100, 0);
  auto lengths = chunk_whole(c, zeros);
  REQUIRE(lengths.size() == 4);
  CHECK(lengths[0] == k_small.max_size);
  CHECK(lengths[1] == k_small.max_size);
  CHECK(lengths[2] == k_small.max_size);
  CHECK(lengths[3] == 100);
  // Also with the default parameters.
  Chunker big(Params{}, gear);
  Bytes more_zeros(Params{}.max_size + 1, 0);
  CHECK(big.next_cut(more_zeros, false) == Params{}.max_size);
}

// FastCDC as specified, one byte at a time: the gear hash from the chunk's start,
// a cut after position i >= min_size where (hash & mask) == 0, the mask having
// two bits more than log2(avg_size) before avg_size and two fewer from there on.
std::size_t reference_cut(const Params& params, const chunker::GearTable& gear, ByteSpan data, bool at_eof) {
  const auto bits = static_cast<unsigned>(std::countr_zero(params.avg_size));
  const std::uint64_t small = ~std::uint64_t{0} << (64 - (bits + 2)), large = ~std::uint64_t{0} << (64 - (bits - 2));
  if (data.size() <= params.min_size) return at_eof ? data.size() : 0;
  const std::size_t limit = std::min<std::size_t>(data.size(), params.max_size);
  std::uint64_t h = 0;
  for (std::size_t i = 0; i < limit; ++i) {
    h = (h << 1) + gear[data[i]];
    if (i >= params.min_size && (h & (i < params.avg_size ? small : large)) == 0) return i + 1;
  }
  return limit == params.max_size ? limit : (at_eof ? data.size() : 0);
}

std::vector<std::size_t> reference_whole(const Params& params, const chunker::GearTable& gear, ByteSpan data) {
  std::vector<std::size_t> out;
  for (; !data.empty(); data = data.subspan(out.back())) out.push_back(reference_cut(params, gear, data, true));
  return out;
}

TEST_CASE("runs of zeros are cut as byte-by-byte FastCDC cuts them", "[chunker]") {
  // Random data with zero runs of many lengths, some longer than max_size; the
  // scan passes over zeros quickly, which must not move a single cut.
  Bytes data = noise(3 << 20, 11);
  std::mt19937_64 rng(12);
  for (std::size_t at = 1000; at < data.size();) {
    const std::size_t run = std::min<std::size_t>(data.size() - at, rng() % 3 == 0 ? rng() % 200'000 : rng() % 300);
    std::fill_n(data.begin() + static_cast<std::ptrdiff_t>(at), run, std::uint8_t{0});
    at += run + 1 + rng() % 40'000;
  }
  auto gear = chunker::derive_gear(seed_bytes(3));
  auto expected = reference_whole(k_small, gear, data);
  REQUIRE(std::count(expected.begin(), expected.end(), k_small.max_size) >= 2);
  CHECK(chunk_whole(Chunker(k_small, gear), data) == expected);
  CHECK(chunk_streamed(Chunker(k_small, gear), data, 5000, 13, true) == expected);
  // A table for which zeros do make cut points (the hash over zeros settles on
  // -gear[0] = 1, whose top bits are zero): every zero run of 64 bytes or more cuts.
  gear[0] = ~std::uint64_t{0};
  auto cutting = reference_whole(k_small, gear, data);
  REQUIRE(std::count(cutting.begin(), cutting.end(), k_small.min_size + 1) >= 10);
  CHECK(chunk_whole(Chunker(k_small, gear), data) == cutting);
  CHECK(chunk_streamed(Chunker(k_small, gear), data, 5000, 13, true) == cutting);
}

TEST_CASE("feeding a stream in pieces gives the same chunks as one buffer", "[chunker]") {
  auto gear = chunker::derive_gear(seed_bytes(6));
  Chunker c(k_small, gear);
  // Random data with a long zero run, so some chunks are cut at max_size.
  Bytes data = noise(3 << 20, 6);
  std::fill(data.begin() + 1'000'000, data.begin() + 1'300'000, std::uint8_t{0});
  auto expected = chunk_whole(c, data);
  auto streamed = chunk_streamed(c, data, 20'000, 99, false);
  CHECK(streamed == expected);
}

TEST_CASE("a scan resumed after the bytes already looked at finds the same cuts", "[chunker]") {
  auto gear = chunker::derive_gear(seed_bytes(8));
  Chunker c(k_small, gear);
  // Random data with zero runs longer than max_size (chunks cut at max_size) and
  // shorter ones, fed in pieces of 1 to 3000 bytes as a pipe gives them.
  Bytes data = noise(2 << 20, 8);
  std::fill(data.begin() + 100'000, data.begin() + 300'000, std::uint8_t{0});
  std::fill(data.begin() + 700'000, data.begin() + 712'000, std::uint8_t{0});
  auto expected = chunk_whole(c, data);
  REQUIRE(std::count(expected.begin(), expected.end(), k_small.max_size) >= 2);

  auto streamed = chunk_streamed(c, data, 3000, 7, true);
  CHECK(streamed == expected);

  // Bytes said to be scanned are not looked at again: a cut among them is passed over.
  Bytes one = noise(k_small.max_size, 9);
  std::size_t first = c.next_cut(one, false);
  REQUIRE(first > k_small.min_size);
  REQUIRE(first < k_small.max_size);
  CHECK(c.next_cut(one, false, first - 1) == first);  // the byte ending the chunk is still looked at
  CHECK(c.next_cut(one, false, first) > first);
}

TEST_CASE("chunker throughput", "[.][benchmark]") {
  auto gear = chunker::derive_gear(seed_bytes(7));
  Chunker c(Params{}, gear);
  Bytes data = noise(256 << 20, 7);
  auto t0 = std::chrono::steady_clock::now();
  std::size_t chunks = chunk_whole(c, data).size();
  auto t1 = std::chrono::steady_clock::now();
  double mbps = double(data.size()) / 1e6 / std::chrono::duration<double>(t1 - t0).count();
  WARN("FastCDC (1 MiB average): " << mbps << " MB/s, " << chunks << " chunks");
}
