// Export: writes a snapshot, or one subtree of it, as an archive (libarchive).
//
// Streaming: the snapshot's trees are walked depth-first and each file's blobs
// are read from the repository and handed to libarchive as they arrive (a few
// blobs are prefetched in parallel), so memory stays flat whatever the size of
// the snapshot: at most the prefetch window of blobs plus the trees on the
// current path.
//
// What each format keeps (docs/ARCHIVES.md):
//   pax    modes, uid/gid and names, mtime/atime in ns, symlinks, hardlinks,
//          xattrs (SCHILY.xattr), sparse files (GNU sparse 1.0), devices, fifos
//   tar    GNU tar: as pax but times in seconds, no xattrs, no sparse map
//   cpio   SVR4 "newc": modes, owners, mtime in seconds, symlinks, devices;
//          hardlinked files are stored as separate copies
//   zip    modes, mtime (seconds), symlinks; no owners, hardlinks, xattrs
//   7zip   content, mtime, modes (through attributes); no owners or hardlinks
// Sockets cannot be archived and are skipped (reported in the result).
//
// Failures: any error reading the repository or writing the archive stops the
// export; the caller removes the partial output. The archive is never a
// silently incomplete copy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kho/engine/progress.hpp"
#include "kho/repo/repository.hpp"

namespace kho::engine {

enum class ArchiveFormat { pax, tar, zip, cpio, sevenzip };
enum class ArchiveCompression { none, gzip, zstd, xz };

// "pax", "tar", "zip", "cpio", "7zip" (Errc::invalid_argument otherwise).
Result<ArchiveFormat> parse_archive_format(std::string_view name);
// "none", "gzip", "zstd", "xz".
Result<ArchiveCompression> parse_archive_compression(std::string_view name);

struct ExportOptions {
  ArchiveFormat format = ArchiveFormat::pax;
  ArchiveCompression compression = ArchiveCompression::none;
  // Path inside the snapshot to export ("" or "/": the whole snapshot, its
  // absolute paths stored relative: "srv/app/x"). A directory's contents are
  // stored relative to it; a single file is stored under its name.
  std::string subpath;
  std::vector<std::string> includes;  // globs on snapshot paths (util/glob.hpp)
  std::vector<std::string> excludes;
  // Where the archive goes: an open, writable descriptor (a file or a pipe).
  // Not closed by the export.
  int fd = -1;
  unsigned threads = 0;  // blob readers (0: one per core)
};

struct ExportProblem {
  std::string path;  // snapshot path
  std::string what;
};

struct ExportResult {
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t hardlinks = 0;  // entries written as links to an earlier entry
  std::uint64_t other = 0;      // fifos, devices
  std::uint64_t sparse_files = 0;
  std::uint64_t bytes = 0;          // file content (logical sizes)
  std::uint64_t archive_bytes = 0;  // written to the descriptor
  std::vector<ExportProblem> skipped;  // entries or attributes the format cannot hold
  double duration_s = 0;
};

// Writes the archive to options.fd. Errors: Errc::not_found (subpath not in the
// snapshot), Errc::invalid_argument (a compression the format does not take),
// Errc::io (writing), or the repository's error reading a tree or blob.
Result<ExportResult> run_export(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                const ExportOptions& options, Progress* progress = nullptr);

}  // namespace kho::engine
