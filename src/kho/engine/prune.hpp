// Prune: removes what no snapshot needs.
//
// Steps, each safe to interrupt:
//  1. find every blob the snapshots reference (walking all trees);
//  2. plan: packs with no used blob are deleted; packs whose unused share is
//     above `max_unused` are repacked (their used blobs copied, still sealed, into
//     new packs); packs no index lists (left by an interrupted backup) are deleted;
//  3. write the repacked blobs, then one new index file that lists every kept
//     blob and supersedes all old index files (durable before anything goes);
//  4. delete the old index files, then the packs no longer needed.
// A crash before step 3 finishes leaves only extra packs; after it, only
// superseded index files and unneeded packs. Running prune again finishes the job.
// REQUIRES: the caller holds an exclusive lock.
#pragma once

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct PruneOptions {
  double max_unused = 0.05;  // repack a pack when more than this share of it is unused
  bool dry_run = false;
};

struct PruneResult {
  std::uint64_t packs_before = 0;
  std::uint64_t packs_deleted = 0;     // wholly unused or unindexed
  std::uint64_t packs_repacked = 0;
  std::uint64_t packs_written = 0;
  std::uint64_t unindexed_packs = 0;
  std::uint64_t blobs_removed = 0;
  std::uint64_t blobs_kept = 0;
  std::uint64_t bytes_before = 0;      // stored size of all packs
  std::uint64_t bytes_freed = 0;       // stored bytes deleted (net of what repacking wrote)
  std::uint64_t bytes_repacked = 0;    // stored bytes copied into new packs
  std::uint64_t index_files_removed = 0;
  std::uint64_t temporaries_removed = 0;  // files of saves killed mid-write
  bool dry_run = false;
  double duration_s = 0;
};

Result<PruneResult> run_prune(repo::Repository& repo, const PruneOptions& options, Progress* progress = nullptr);

}  // namespace kho::engine
