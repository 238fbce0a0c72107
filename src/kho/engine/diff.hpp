// Diff: what changed between two snapshots.
//
// Both root trees are walked in step, merging each directory's entries by name.
// Trees are Merkle trees, so two directories with the same subtree ID hold the
// same things: the walk never loads them. Diffing two snapshots of a large,
// mostly unchanged tree reads only the trees on the paths to the changes.
//
// Each path that differs is one Change:
//   added     only in the second snapshot;
//   removed   only in the first;
//   modified  the content differs: another type, another list of data blobs
//             (files), another device number (device nodes);
//   metadata  same content, but mode, uid, gid, mtime, xattrs or symlink target
//             differ. ctime, inode, link count and owner names are ignored: they
//             change without the file changing.
// An added or removed directory is listed with everything below it. A directory
// whose contents changed is not itself listed for its mtime (adding or removing
// an entry changes it; the entry is listed instead), only for a change of mode,
// owner or xattrs; a directory whose contents are unchanged is listed for any
// metadata change, its mtime included.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kho/repo/repository.hpp"

namespace kho::engine {

enum class ChangeKind { added, removed, modified, metadata };

// "added", "removed", "modified", "metadata".
const char* change_kind_name(ChangeKind kind);

struct Change {
  std::string path;  // absolute path inside the snapshots: "/home/ann/notes.txt"
  ChangeKind kind = ChangeKind::modified;
  repo::FileType type = repo::FileType::file;  // the type in the second snapshot (first, when removed)
  std::uint64_t size_before = 0;               // regular files only; 0 when absent
  std::uint64_t size_after = 0;
  std::optional<Id> first_blob;  // added or modified regular file: its first data blob (for the anomaly checks)
};

struct DiffTotals {
  std::uint64_t added = 0;  // number of changes of each kind
  std::uint64_t removed = 0;
  std::uint64_t modified = 0;
  std::uint64_t metadata = 0;
  // Sizes of regular files: added files plus the growth of modified ones, and
  // removed files plus the shrinkage of modified ones. Their difference is the
  // change in the total size of the files.
  std::uint64_t bytes_added = 0;
  std::uint64_t bytes_removed = 0;
};

struct DiffResult {
  std::vector<Change> changes;  // in walk order: a directory before what is below it, names sorted bytewise
  DiffTotals totals;
};

// Compares snapshot `a` (before) with snapshot `b` (after).
// REQUIRES: the repository's index is loaded.
// Fails when a tree that differs cannot be loaded (the error names its path) and
// with Errc::interrupted when engine::cancelled() turns true.
[[nodiscard]] Result<DiffResult> diff_snapshots(const repo::Repository& repo, const repo::Snapshot& a,
                                                const repo::Snapshot& b);

}  // namespace kho::engine
