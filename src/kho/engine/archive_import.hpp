// Import: turns an archive (any format and compression libarchive reads) into
// an ordinary snapshot. File content is cut with the repository's chunker and
// stored through repo::BlobWriter, so it dedups against everything already in
// the repository, and a later backup of the same files adds nothing.
//
// Nothing is ever written to the filesystem: entries are read from the archive
// stream straight into blobs, and the directory structure is built in memory
// (metadata only: tens of bytes per entry plus 32 bytes per MiB of content).
//
// Hostile input. Each entry's path is checked before anything is stored:
//   - leading '/' is removed (the entry goes below the import prefix)   sanitised
//   - "." and empty components are dropped                              (silent)
//   - a ".." component                                                  refused
//   - a path through an earlier symlink or file ("link/x")              refused
//   - a name that is not valid UTF-8: bytes replaced by U+FFFD          sanitised
//   - a component longer than 255 bytes                                 refused
//   - a later entry with the same path replaces the earlier one         sanitised
//     (as tar does); one that would replace a directory by a non-directory,
//     or a non-directory by a directory, is refused
//   - a hard link to a path not (yet) in the archive, or to a non-file  refused
//   - sockets and unknown entry types                                   refused
// libarchive ends a name at a NUL byte, so no NUL can reach a snapshot.
// A refused entry is left out and recorded in the snapshot's errors (the
// snapshot is saved, marked incomplete); with `strict`, any refused or
// sanitised entry fails the import and no snapshot is saved.
//
// Stream-level problems fail the import whatever `strict` says, and no snapshot
// is saved: a truncated or corrupted archive (what libarchive reports, with the
// entry it was reading), a declared size that does not match the data, more
// expanded data than `max_size`, or an expansion ratio above `max_ratio` once
// more than 256 MiB have been expanded (a "zip bomb"). Blobs stored before the
// failure stay unreferenced until the next prune.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

struct ImportOptions {
  // The archive: a path, or "-" for standard input.
  std::string archive;
  // Directory in the snapshot the archive's entries go below, absolute
  // ("/imported/vendor-2025"). Empty: "/imported/<archive name without extension>".
  std::string path_prefix;
  std::string host;  // empty: this machine's name
  std::vector<std::string> tags;
  std::optional<TimeNs> time;  // empty: now
  bool strict = false;
  // Expansion ratio (expanded bytes / archive bytes read) above which the
  // import stops; 0: no limit.
  double max_ratio = 200;
  // Expanded bytes above which the import stops; 0: no limit.
  std::uint64_t max_size = 0;
  unsigned threads = 0;  // 0: one per core
};

// An entry that was refused or changed.
struct ImportProblem {
  std::string entry;   // the path as the archive gives it, invalid UTF-8 replaced by U+FFFD
  std::string action;  // "refused" or "sanitised"
  std::string reason;
};

struct ImportResult {
  Id snapshot_id;
  repo::Snapshot snapshot;
  std::uint64_t entries = 0;  // entries read from the archive
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t hardlinks = 0;
  std::uint64_t other = 0;
  std::uint64_t bytes = 0;
  std::uint64_t refused = 0;
  std::uint64_t sanitised = 0;
  std::vector<ImportProblem> problems;
};

// Errors: Errc::invalid_argument (bad prefix), Errc::failed (with `strict`, the
// first problem entry; the size or ratio limit), Errc::corruption (truncated or
// damaged archive, size mismatch), Errc::not_found/io (cannot open the
// archive), or the repository's error storing data.
Result<ImportResult> run_import(repo::Repository& repo, const ImportOptions& options, Progress* progress = nullptr);

// Path checks, exposed for tests: splits an archive entry path into the
// components it is stored under. Returns false (with `reason`) when the entry
// must be refused; `sanitised` gets a note for each change made.
bool sanitise_entry_path(std::string_view path, std::vector<std::string>& components, std::string& reason,
                         std::vector<std::string>& sanitised);

}  // namespace kho::engine
