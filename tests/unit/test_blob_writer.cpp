// BlobWriter with a local repository: full packs are finished (flushed to disk and
// put in place) on the writer's own threads while the savers go on. Every pack
// must be indexed after flush(), and a pack that cannot be put in place must fail
// the run, with no index naming it and no temporary file left.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include "kho/backend/local/local_backend.hpp"
#include "kho/repo/blob_writer.hpp"
#include "kho/repo/repository.hpp"
#include "file_helpers.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::repo;
using kho::test::ScopedTempDir;
using kho::test::write_file;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_blob_size = 64 * 1024;

std::unique_ptr<Repository> small_pack_repo(const fs::path& root) {
  ::setenv("KHO_KDF_FAST", "1", 1);
  InitOptions options;
  options.pack_size = 1024 * 1024;  // the smallest allowed: many packs from little data
  return value_of(Repository::init(std::make_unique<backend::LocalBackend>(root), SecretString("pw"), options));
}

// Random bytes: zstd cannot shrink them, so each blob takes its full size in a pack.
Bytes random_blob(std::mt19937_64& rng) {
  Bytes b(k_blob_size);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// Files below `dir` whose name marks them temporary.
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().string());
  return out;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST_CASE("packs of a local repository are finished on the writer's threads and all are indexed after flush",
          "[blob_writer]") {
  ScopedTempDir dir;
  const fs::path root = dir.path() / "repo";
  auto repo = small_pack_repo(root);
  // Four savers at once, ~10 MiB in all: about ten packs, several finishing while
  // the savers fill the next.
  constexpr int k_threads = 4, k_per_thread = 40;
  std::vector<std::vector<std::pair<Id, Bytes>>> saved(k_threads);
  std::atomic<int> failed{0};
  {
    BlobWriter writer(*repo);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t)
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
        for (int i = 0; i < k_per_thread; ++i) {
          Bytes b = random_blob(rng);
          Id id = repo->hash_blob(b);
          if (!writer.save(BlobType::data, id, b)) failed++;  // counted: Catch2 asserts on the main thread only
          saved[t].emplace_back(id, std::move(b));
        }
      });
    for (auto& th : threads) th.join();
    REQUIRE(failed == 0);
    ok(writer.flush());
    const auto stats = writer.stats();
    CHECK(stats.data_blobs == std::uint64_t{k_threads * k_per_thread});
    CHECK(stats.packs >= 8);
    CHECK(files_in(root / "data") == stats.packs);
    CHECK(writer.written_indexes().size() == 1);
  }
  CHECK(temp_files(root).empty());
  // A reader that opens the repository afresh finds every blob, byte for byte.
  auto reader = value_of(Repository::open(std::make_unique<backend::LocalBackend>(root), SecretString("pw")));
  CHECK(value_of(reader->load_index()).empty());  // no index file was unreadable
  for (const auto& per_thread : saved)
    for (const auto& [id, bytes] : per_thread) {
      auto back = reader->load_blob(BlobType::data, id);
      REQUIRE(back);
      CHECK(*back == bytes);
    }
}

TEST_CASE("a local pack that cannot be put in place fails the run and no index names it", "[blob_writer]") {
  ScopedTempDir dir;
  const fs::path root = dir.path() / "repo";
  auto repo = small_pack_repo(root);
  // Every data/xx directory replaced by a file: a finished pack cannot be renamed
  // into its place, while its temporary file (in data/) is written as usual.
  std::vector<fs::path> subdirs;
  for (const auto& e : fs::directory_iterator(root / "data"))
    if (e.is_directory()) subdirs.push_back(e.path());
  REQUIRE(subdirs.size() == 256);
  for (const auto& d : subdirs) {
    fs::remove(d);
    write_file(d, "not a directory\n");
  }
  std::mt19937_64 rng(7);
  std::optional<Error> failure;
  {
    BlobWriter writer(*repo);
    // Three packs' worth: the first full pack's failure reaches a later save()
    // or, at the latest, flush().
    for (int i = 0; i < 48 && !failure; ++i) {
      Bytes b = random_blob(rng);
      auto stored = writer.save(BlobType::data, repo->hash_blob(b), b);
      if (!stored) failure = stored.error();
    }
    auto flushed = writer.flush();
    REQUIRE_FALSE(flushed);
    if (!failure) failure = flushed.error();
    CHECK(writer.written_indexes().empty());
  }
  INFO(failure->message());
  CHECK(failure->message().find("saving") != std::string::npos);
  CHECK(files_in(root / "index") == 0);
  CHECK(temp_files(root).empty());
}
