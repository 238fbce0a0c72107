// The archive importer end to end (engine/archive_import.hpp): the input is
// written to a file in a private temporary directory and imported, as `kho
// import` does, into a repository held in memory (made once, with the fast KDF;
// pack contents are dropped, snapshots forgotten after each input). Nothing is
// written outside the temporary directory, which is removed at exit.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "fuzz_common.hpp"
#include "kho/engine/archive_import.hpp"
#include "kho/repo/repository.hpp"

namespace {
std::string g_dir;
std::string g_archive;
kho::fuzz::MemBackend* g_backend = nullptr;
std::unique_ptr<kho::repo::Repository> g_repo;

void remove_dir() {
  std::error_code ec;
  if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace kho;
  ::setenv("KHO_KDF_FAST", "1", 1);
  std::string tmpl = (std::filesystem::temp_directory_path() / "kho-fuzz-import-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) std::abort();
  g_dir = tmpl;
  g_archive = g_dir + "/input.tar";
  std::atexit(remove_dir);
  auto backend = std::make_unique<fuzz::MemBackend>(/*discard_data=*/true);
  g_backend = backend.get();
  repo::InitOptions options;
  options.chunker = {16 * 1024, 64 * 1024, 256 * 1024};
  auto repo = repo::Repository::init(std::move(backend), SecretString(std::string("fuzz")), options);
  if (!repo) {
    std::fprintf(stderr, "cannot create the in-memory repository: %s\n", repo.error().message().c_str());
    std::abort();
  }
  g_repo = std::move(*repo);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  {
    std::FILE* f = std::fopen(g_archive.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  engine::ImportOptions options;
  options.archive = g_archive;
  options.path_prefix = "/imported/fuzz";
  options.host = "fuzz";
  options.time = TimeNs{1'700'000'000'000'000'000};
  options.threads = 1;
  options.max_size = 64ULL * 1024 * 1024;
  (void)engine::run_import(*g_repo, options);
  options.strict = true;
  (void)engine::run_import(*g_repo, options);
  g_backend->clear(backend::ObjectType::snapshot);
  g_backend->clear(backend::ObjectType::index);
  return 0;
}
