// Compare: checks a directory on disk against a snapshot (or a subtree of it)
// without reading any data pack.
//
// The layout is restore's: without a subpath the snapshot's absolute paths are
// looked for under the target (/srv/x -> TARGET/srv/x); with a subpath naming a
// directory, that directory's contents are looked for directly in the target
// (a file: as TARGET/<name>). Includes and excludes select paths exactly as
// restore's do, so what a restore with the same arguments wrote is what is
// compared.
//
// For each entry of the snapshot the entry on disk must exist with the same
// type and permission bits; a file must have the same size and content (each
// data blob's bytes are read from the file and hashed with the repository's
// blob-ID key, so the IDs in the tree are checked without the packs), a symlink
// the same target, a device node the same device number. Owners and times are
// not compared. Entries on disk that the snapshot does not have are listed as
// extra; they do not make the comparison fail.
//
// Nothing is written. Every path below the target is opened relative to its
// parent directory with O_NOFOLLOW, so no symlink on disk is followed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct CompareOptions {
  std::string target;   // directory on disk
  std::string subpath;  // path inside the snapshot ("" or "/": the whole snapshot)
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  unsigned threads = 0;  // 0: one per core
};

struct CompareEntry {
  // Absolute path inside the snapshot (for an extra entry: where it would be).
  std::string path;
  // The snapshot's type (for an extra entry: the type on disk).
  repo::FileType type = repo::FileType::file;
  // Differences only: what differs ("content differs at offset 65536").
  std::string reason;
};

struct CompareResult {
  std::uint64_t files = 0;    // non-directory entries of the snapshot compared
  std::uint64_t dirs = 0;     // directories compared
  std::uint64_t bytes = 0;    // bytes of file content read and hashed
  std::uint64_t matched = 0;  // entries (files and directories) found equal
  // Sorted by path; one entry per path, its reasons joined by "; ".
  std::vector<CompareEntry> differ;
  // In the snapshot, not on disk (a missing directory is listed alone).
  std::vector<CompareEntry> missing;
  // On disk, not in the snapshot (an extra directory is listed alone).
  std::vector<CompareEntry> extra;

  bool ok() const { return differ.empty() && missing.empty(); }
};

// Runs the comparison. Returns an error only when it cannot be done at all (no
// target directory, subpath not in the snapshot, unreadable tree, interrupted);
// differences are in the result.
Result<CompareResult> compare_tree(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                   const CompareOptions& options, Progress* progress = nullptr);

}  // namespace kho::engine
