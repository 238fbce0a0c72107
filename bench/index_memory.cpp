// Memory of kho's in-memory index: loads N blobs (default 10 million) spread
// over packs of ~16 MiB into a repo::MasterIndex, the way a repository's index
// files are loaded, and reports the resident memory it costs per blob, plus the
// time of the load and of N random look-ups.
//
//   kho_index_memory [N]
//
// Prints one JSON object: {"blobs", "bytes_per_blob", "rss_delta_bytes",
// "load_s", "lookups_per_s"}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "kho/repo/index.hpp"

namespace {

std::uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * 4096;
}

kho::Id random_id(std::mt19937_64& rng) {
  kho::Id id;
  for (std::size_t i = 0; i < kho::Id::k_size; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(id.bytes.data() + i, &v, 8);
  }
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  constexpr std::size_t k_blobs_per_pack = 16;  // ~1 MiB blobs in 16 MiB packs
  std::mt19937_64 rng(42);
  std::uint64_t before = rss_bytes();
  auto start = Clock::now();
  kho::repo::MasterIndex index;
  std::vector<kho::repo::PackedBlob> blobs;
  for (std::size_t done = 0; done < n;) {
    blobs.clear();
    std::uint32_t offset = 0;
    for (std::size_t i = 0; i < k_blobs_per_pack && done < n; ++i, ++done) {
      kho::repo::PackedBlob b;
      b.id = random_id(rng);
      b.offset = offset;
      b.stored_length = 1'000'000;
      b.raw_length = 1'048'576;
      b.compression = 1;
      offset += b.stored_length;
      blobs.push_back(b);
    }
    index.bulk_add(random_id(rng), blobs);
  }
  index.merge();
  double load_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t after = rss_bytes();

  std::mt19937_64 probe(42);
  std::size_t lookups = std::min<std::size_t>(n, 2'000'000), found = 0;
  auto lstart = Clock::now();
  for (std::size_t i = 0; i < lookups; ++i) {
    // Every 16 blobs the generator also produced a pack ID; skip it to hit real blobs.
    kho::Id id = random_id(probe);
    if ((i + 1) % k_blobs_per_pack == 0) (void)random_id(probe);
    found += index.has(kho::repo::BlobType::data, id);
  }
  double lookup_s = std::chrono::duration<double>(Clock::now() - lstart).count();
  std::printf(
      "{\"blobs\": %zu, \"bytes_per_blob\": %.1f, \"rss_delta_bytes\": %llu, \"load_s\": %.2f, "
      "\"lookups_per_s\": %.0f, \"found\": %zu}\n",
      index.blob_count(), static_cast<double>(after - before) / static_cast<double>(n),
      static_cast<unsigned long long>(after - before), load_s, static_cast<double>(lookups) / lookup_s, found);
  return 0;
}
