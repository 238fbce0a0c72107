// Check: verifies a repository's structure and, optionally, its data.
//
// Structure: every index file decrypts and matches its name; every indexed pack
// exists with room for its blobs; every snapshot decrypts; every tree reachable
// from a snapshot loads and decodes; every blob a tree names is indexed.
// Data (--read-data or a subset): every selected pack is read whole, its SHA-256
// compared with its name, its header compared with the index, and every blob
// decrypted and its ID recomputed. Damaged blobs are traced back to the snapshot
// paths that use them, so the report says what is lost.
#pragma once

#include <string>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct CheckOptions {
  bool read_data = false;
  // Subset of packs to read: "" (all when read_data), "N%" or "n/m".
  std::string read_data_subset;
  unsigned threads = 0;
};

struct CheckProblem {
  std::string object;   // "pack <id>", "index <id>", "snapshot <id>", "tree <id>", ...
  std::string message;  // what is wrong, and what it affects
};

struct CheckResult {
  std::vector<CheckProblem> errors;
  std::vector<std::string> hints;  // not errors: e.g. unreferenced packs left by an interrupted backup
  std::uint64_t snapshots = 0;
  std::uint64_t trees = 0;
  std::uint64_t blobs = 0;
  std::uint64_t packs = 0;
  std::uint64_t packs_read = 0;
  std::uint64_t bytes_read = 0;
  double duration_s = 0;
};

// Parses a subset spec; fails with Errc::invalid_argument on bad syntax.
Status validate_subset(const std::string& spec);

Result<CheckResult> run_check(repo::Repository& repo, const CheckOptions& options, Progress* progress = nullptr);

}  // namespace kho::engine
