// Stats: how big a set of snapshots is, and how well the repository stores it.
//
// Two views of the chosen snapshots, both always computed (the ratios need both):
//   restore-size  the sum of the sizes of the regular files, each snapshot
//                 counted in full: what restoring them all would write;
//   raw-data      the unique blobs (data and tree) the snapshots reference: their
//                 count, raw size and stored size (compressed, encrypted, padded).
// The mode only says which of the two is the headline (`total_size`).
// Repository-wide figures come with them: blobs and packs in the index, stored
// size of the pack files on the backend, number of snapshot files.
//   dedup_ratio        restore size / raw size of the unique *data* blobs
//                      (tree blobs are left out: they are not file content);
//   compression_ratio  raw size / stored size of the unique blobs.
// A ratio is 0 when its divisor is 0 (nothing to measure).
//
// Each tree is read once, however many snapshots share it: the per-tree totals
// are memoised by tree ID.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "kho/repo/repository.hpp"

namespace kho::engine {

enum class StatsMode { restore_size, raw_data };

// "restore-size", "raw-data".
const char* stats_mode_name(StatsMode mode);
// Parses the names above; Errc::invalid_argument otherwise.
[[nodiscard]] Result<StatsMode> parse_stats_mode(std::string_view text);

struct Stats {
  StatsMode mode = StatsMode::restore_size;
  std::uint64_t snapshots = 0;  // snapshots counted

  // restore-size view
  std::uint64_t total_files = 0;   // regular files, each snapshot counted in full
  std::uint64_t restore_size = 0;  // their sizes

  // raw-data view: unique blobs the snapshots reference
  std::uint64_t referenced_blobs = 0;
  std::uint64_t raw_data_size = 0;           // sum of raw lengths (data and tree blobs)
  std::uint64_t raw_file_data_size = 0;      // ... of the data blobs only
  std::uint64_t referenced_stored_size = 0;  // sum of stored lengths
  std::uint64_t missing_blobs = 0;           // referenced but not in the index (the repository is damaged)

  // Repository-wide
  std::uint64_t repository_snapshots = 0;  // snapshot files on the backend
  std::uint64_t blob_count = 0;            // blobs in the index
  std::uint64_t pack_count = 0;            // packs in the index
  std::uint64_t stored_size = 0;           // sum of the sizes of the pack files on the backend

  double dedup_ratio = 0;
  double compression_ratio = 0;

  // The headline figure of the mode: restore_size or raw_data_size.
  std::uint64_t total_size() const { return mode == StatsMode::restore_size ? restore_size : raw_data_size; }
};

// Computes the stats of `snapshots` (a snapshot given twice counts once).
// REQUIRES: the repository's index is loaded.
// A blob missing from the index is counted in `missing_blobs`, not an error; a
// tree that cannot be loaded fails the whole computation (the error names it),
// as does a backend that cannot list its packs. Errc::interrupted when
// engine::cancelled() turns true.
[[nodiscard]] Result<Stats> compute_stats(const repo::Repository& repo, const std::vector<repo::SnapshotRef>& snapshots,
                                          StatsMode mode);

}  // namespace kho::engine
