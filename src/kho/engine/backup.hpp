// Backup: turns paths and command output into a snapshot.
//
// Pipeline: the calling thread walks the sources depth-first and writes tree
// blobs; regular files that changed since the parent snapshot go to a worker
// pool that reads, chunks (FastCDC), hashes, dedups, compresses, encrypts and
// packs them (repo::BlobWriter). Queues are bounded, so memory stays flat.
// Unchanged files (same type, size, mtime, ctime, inode as in the parent) reuse
// their blob list without being read.
//
// A snapshot is saved only after every pack and index it needs is durable. An
// unreadable file is left out and recorded in the snapshot's `errors`; the
// snapshot is then marked incomplete. A failing source command fails the backup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kho/engine/anomaly.hpp"
#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct StreamSource {
  std::string command;   // run with sh -c
  std::string filename;  // path inside the snapshot, e.g. "db/portal.dump"
};

struct BackupOptions {
  std::vector<std::string> paths;
  std::vector<StreamSource> streams;
  std::vector<std::string> tags;
  std::string host;               // empty: this machine's name
  std::optional<TimeNs> time;     // empty: now
  std::vector<std::string> excludes;
  bool one_file_system = false;
  std::string policy;
  std::optional<Id> parent;       // empty: latest snapshot with the same host and paths
  bool force_read = false;        // ignore the parent: read every file
  bool score_anomaly = true;      // compute the ransomware anomaly score (engine/anomaly.hpp)
  AnomalyThresholds anomaly;
  unsigned threads = 0;           // 0: one per core
};

struct BackupResult {
  Id snapshot_id;
  repo::Snapshot snapshot;
};

Result<BackupResult> run_backup(repo::Repository& repo, const BackupOptions& options, Progress* progress = nullptr);

// Counts the files and bytes a backup of `options.paths` will see (with the same
// excludes), into progress.files_total/bytes_total, so progress can show an ETA.
// Runs alongside the backup; returns early when `stop` becomes true.
void scan_totals(const BackupOptions& options, Progress& progress, const std::atomic<bool>& stop);

}  // namespace kho::engine
