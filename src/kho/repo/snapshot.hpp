// Snapshots: one backup's root tree plus who, when, what and how it went.
// Stored as sealed JSON objects in snapshots/<sha256 of the stored file>.
//
//   {"version": 1, "time": RFC3339, "tree": hex, "paths": [str], "host": str,
//    "username": str, "uid": n, "gid": n, "tags": [str], "parent": hex?,
//    "excludes": [str], "policy": str?, "program_version": str,
//    "incomplete": bool, "errors": [{"path": str, "error": str}],
//    "original": hex?   (the snapshot this one was copied from)
//    "summary": {...}, "anomaly": {...}?}
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kho/util/id.hpp"
#include "kho/util/time.hpp"

namespace kho::repo {

struct SnapshotSummary {
  std::uint64_t files_new = 0;
  std::uint64_t files_changed = 0;
  std::uint64_t files_unmodified = 0;
  std::uint64_t dirs_new = 0;
  std::uint64_t dirs_changed = 0;
  std::uint64_t dirs_unmodified = 0;
  std::uint64_t dirs = 0;
  std::uint64_t total_files = 0;
  std::uint64_t total_bytes = 0;     // bytes read or reused
  std::uint64_t data_blobs = 0;      // new data blobs
  std::uint64_t tree_blobs = 0;      // new tree blobs
  std::uint64_t data_added = 0;      // stored bytes added (after compression)
  std::uint64_t data_added_raw = 0;  // raw bytes of the new blobs
  std::uint64_t errors = 0;
  TimeNs backup_start = 0;
  TimeNs backup_end = 0;
  double duration_s = 0;

  nlohmann::ordered_json to_json() const;
  static SnapshotSummary from_json(const nlohmann::json& j);
};

struct SnapshotError {
  std::string path;
  std::string error;
};

struct Snapshot {
  TimeNs time = 0;
  Id tree;
  std::vector<std::string> paths;
  std::string host;
  std::string username;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::string> tags;
  std::optional<Id> parent;
  std::vector<std::string> excludes;
  std::string policy;
  std::string program_version;
  bool incomplete = false;
  std::vector<SnapshotError> errors;
  std::optional<Id> original;
  SnapshotSummary summary;
  nlohmann::json anomaly;  // null until scored

  std::string to_json() const;
  static Result<Snapshot> from_json(ByteSpan text, const std::string& what);
  bool has_tag(const std::string& tag) const;
  // Flagged by the anomaly score (ransomware) or marked suspect by a person:
  // `latest-clean` passes over it.
  bool flagged() const;
};

// A snapshot with the ID it is stored under.
struct SnapshotRef {
  Id id;
  Snapshot snapshot;
};

// The snapshot as `kho snapshots --json` shows it.
nlohmann::ordered_json snapshot_listing_json(const SnapshotRef& ref);

}  // namespace kho::repo
