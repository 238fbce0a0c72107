// Find: which snapshots hold paths that match a glob pattern.
//
// Patterns use kho::glob_match syntax (util/glob.hpp: * ? [..] ** \x) and are
// matched against each entry of every snapshot, files and directories alike:
//   no '/'           against the entry's name:          "*.conf", "id_rsa*"
//   starting '/'     against the whole absolute path:   "/etc/**/*.conf"
//   other with '/'   against the path's trailing components, at any depth:
//                    "nginx/*.conf" matches /etc/nginx/a.conf and /srv/x/nginx/b.conf
// Trailing slashes are ignored ("cache/" is "cache"). Unlike an exclude pattern
// (path_matches), a pattern that matches a directory does not match what is
// below it.
//
// Snapshots of the same data share most of their trees, so the matches below
// each tree are worked out once per tree ID (per tree ID and directory path for
// patterns with '/') and reused: searching 100 snapshots of mostly unchanged
// data costs little more than searching one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kho/repo/repository.hpp"

namespace kho::engine {

struct FindOptions {
  bool ignore_case = false;  // ASCII letters only
};

struct FindMatch {
  Id snapshot_id;
  TimeNs snapshot_time = 0;
  std::string path;  // absolute path inside the snapshot
  repo::FileType type = repo::FileType::file;
  std::uint64_t size = 0;  // regular files; 0 for other types
  std::int64_t mtime_ns = 0;
};

// Every entry of `snapshots` that `pattern` matches, grouped by snapshot in the
// given order, each snapshot's matches in tree order (a directory before what is
// below it, names sorted bytewise). No match is not an error: the result is empty.
// REQUIRES: the repository's index is loaded.
// Fails with Errc::invalid_argument for an empty pattern, with the error of a
// tree that cannot be loaded (naming its path and snapshot), and with
// Errc::interrupted when engine::cancelled() turns true.
[[nodiscard]] Result<std::vector<FindMatch>> find_in_snapshots(const repo::Repository& repo,
                                                               const std::vector<repo::SnapshotRef>& snapshots,
                                                               const std::string& pattern,
                                                               const FindOptions& options = {});

}  // namespace kho::engine
