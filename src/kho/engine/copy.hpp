// Copy: snapshots from one repository into another, with its own keys.
//
// Each source snapshot becomes a snapshot in the destination with the same
// time, host, user, paths, tags, policy, summary and anomaly verdict, and
// `original` set to the snapshot it descends from (the source's own `original`
// when it is itself a copy, so a chain local -> sftp -> rest keeps pointing at
// the first one). A snapshot whose original the destination already holds is
// skipped: copying twice adds nothing.
//
// Two ways to move the data:
// - Same blob-ID space (the destination was made with `init --copy-chunker-params`:
//   same chunker parameters and seed, same blob-ID key): blob and tree IDs are the
//   same in both repositories, so only the blobs the destination lacks are read
//   (each source pack once, in ranges), checked against their IDs, re-encrypted
//   and stored. Trees are copied unchanged.
// - Otherwise the content is re-chunked: every file of the snapshot is read
//   from the source, cut with the destination's chunker, hashed with its ID key,
//   and only new chunks are stored; trees are rebuilt with the new IDs (same
//   names and metadata).
// Either way the destination's index is written before its snapshot, so an
// interrupted copy leaves a repository that passes check (unreferenced blobs at
// worst, which prune removes).
#pragma once

#include <string>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct CopyOptions {
  unsigned threads = 0;  // 0 = one per core
};

struct CopiedSnapshot {
  Id source;                      // the snapshot read from the source
  Id original;                    // the snapshot it descends from
  std::optional<Id> destination;  // the new (or, when skipped, existing) snapshot
  bool skipped = false;           // the destination already held it
};

struct CopyResult {
  std::vector<CopiedSnapshot> snapshots;
  bool rechunked = false;           // the repositories do not share a blob-ID space
  std::uint64_t blobs_copied = 0;   // data and tree blobs stored in the destination
  std::uint64_t bytes_read = 0;     // raw bytes read from the source
  std::uint64_t bytes_added = 0;    // stored bytes added to the destination
  std::uint64_t raw_added = 0;      // raw bytes of the blobs added
  double duration_s = 0;
};

// True when blob and tree IDs mean the same in both repositories.
bool same_blob_id_space(const repo::Repository& a, const repo::Repository& b);

// REQUIRES: both indexes loaded; the caller holds a shared lock on each.
// `snapshots` are copied oldest first. Fails on the first snapshot that cannot
// be copied (a missing or damaged source blob names the blob and the snapshot);
// snapshots copied before it stay.
Result<CopyResult> copy_snapshots(const repo::Repository& source, repo::Repository& destination,
                                  const std::vector<repo::SnapshotRef>& snapshots, const CopyOptions& options,
                                  Progress* progress = nullptr);

}  // namespace kho::engine
