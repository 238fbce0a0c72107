// Restore: writes all or part of a snapshot under a target directory.
//
// Safety: nothing is written outside the target. Every path is opened beneath
// the target with symlinks refused (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS),
// and tree names are validated when decoded, so a crafted snapshot or a symlink
// planted in the target cannot redirect a write. A file is created only when
// its data blobs add up to the size the tree records, and a tree only when its
// content matches its ID, so crafted sizes and cyclic trees are refused too.
//
// Speed: content is planned per pack, so each pack is read once (in ranges that
// cover the blobs needed); several packs are read in parallel and each blob is
// written with pwrite to every file that uses it. Files are created with their
// final size first, and all-zero blobs are not written, so holes stay holes.
//
// Failures: a file whose data cannot be read (missing or damaged pack) is
// removed and reported; every other file is restored. Metadata (owner when root,
// mode, xattrs, times to the nanosecond) is applied last, directories deepest
// first, so restoring content does not disturb directory mtimes.
#pragma once

#include <string>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct RestoreOptions {
  std::string target;
  // Path inside the snapshot whose contents are restored directly under the
  // target ("" or "/": the whole snapshot, absolute paths recreated under it).
  std::string subpath;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool verify = false;
  unsigned threads = 0;
};

struct RestoreProblem {
  std::string path;  // path inside the snapshot
  std::string error;
};

struct RestoreResult {
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t other = 0;  // symlinks, fifos, devices
  std::uint64_t bytes = 0;
  std::vector<RestoreProblem> errors;           // not restored (or metadata not applied)
  std::vector<RestoreProblem> verify_failures;  // restored but different on read-back
  double duration_s = 0;
};

// Plans and runs the restore. Returns an error only when nothing could be done
// (bad target, unreadable snapshot tree); per-file problems are in the result.
Result<RestoreResult> run_restore(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                  const RestoreOptions& options, Progress* progress = nullptr);

}  // namespace kho::engine
