// The filesystem as backup and restore see it: metadata without following
// symlinks, sorted directory listings, xattrs, owner names.
//
// Every function takes a path and never follows a symlink in its last component.
// Errors name the path (Errc::not_found, Errc::permission, Errc::io, ...).
#pragma once

#include <dirent.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kho/util/bytes.hpp"

namespace kho::platform {

enum class FileType : std::uint8_t { file = 0, dir = 1, symlink = 2, fifo = 3, chardev = 4, blockdev = 5, socket = 6 };

const char* file_type_name(FileType type);  // "file", "dir", "symlink", ...

struct FileInfo {
  FileType type = FileType::file;
  std::uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (st_mode & 07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::int64_t atime_ns = 0;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;  // st_dev
  std::uint64_t rdev = 0;    // device number for char/block devices
  std::uint64_t nlink = 0;
  std::uint64_t blocks = 0;  // st_blocks (512-byte units), to spot sparse files
};

// lstat(2).
Result<FileInfo> lstat_path(const std::string& path);

// Names in a directory, without "." and "..", sorted bytewise.
Result<std::vector<std::string>> list_dir(const std::string& path);

// A directory held open: its names, and lstat of an entry by name relative to it
// (no lookup of the whole path from the root for each entry, as a walk would do).
class Dir {
public:
  // Opens `path` (a symlink there is refused, as by list_dir).
  static Result<Dir> open(const std::string& path);
  // As list_dir.
  Result<std::vector<std::string>> names() const;
  // lstat(2) of the entry `name`; errors name `path`, the entry's full path.
  Result<FileInfo> lstat(const std::string& name, const std::string& path) const;
  // The directory's descriptor, for the *at() calls on its entries.
  int fd() const;

private:
  struct Closer {
    void operator()(DIR* d) const;
  };
  std::unique_ptr<DIR, Closer> m_dir;
  std::string m_path;
};

// readlink(2), whole target.
Result<std::string> read_link(const std::string& path);

using Xattrs = std::vector<std::pair<std::string, Bytes>>;

// Extended attributes of `path` (not following a symlink), sorted by name. A
// filesystem without xattr support yields an empty list, not an error.
Result<Xattrs> get_xattrs(const std::string& path);
// The same of an open file, `path` naming it in errors: no look-up of the path.
Result<Xattrs> get_xattrs_fd(int fd, const std::string& path);

// Sets one extended attribute on an open file descriptor.
Status set_xattr_fd(int fd, const std::string& name, ByteSpan value);

// Owner and group names for ids (cached, thread-safe); empty when unknown.
std::string user_name(std::uint32_t uid);
std::string group_name(std::uint32_t gid);
// Reverse look-ups; return false when the name is unknown.
bool user_id(const std::string& name, std::uint32_t& uid);
bool group_id(const std::string& name, std::uint32_t& gid);

// Absolute, lexically normalised form of `path` relative to the current directory
// (no symlink resolution; "a/../b" -> "/cwd/b"; trailing slashes removed).
std::string absolute_path(const std::string& path);

// Host name of this machine.
std::string host_name();
// Login name of the current user (from the uid), or "uid<N>".
std::string current_user();

}  // namespace kho::platform
