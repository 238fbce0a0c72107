#include "kho/platform/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <memory>
#include <mutex>
#include <optional>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <unordered_map>

#include "kho/util/fd.hpp"

namespace kho::platform {

const char* file_type_name(FileType type) {
  switch (type) {
    case FileType::file: return "file";
    case FileType::dir: return "dir";
    case FileType::symlink: return "symlink";
    case FileType::fifo: return "fifo";
    case FileType::chardev: return "chardev";
    case FileType::blockdev: return "blockdev";
    case FileType::socket: return "socket";
  }
  return "unknown";
}

namespace {

std::int64_t to_ns(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

namespace {

Result<FileInfo> info_from_stat(const struct stat& st, const std::string& path) {
  FileInfo info;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: info.type = FileType::file; break;
    case S_IFDIR: info.type = FileType::dir; break;
    case S_IFLNK: info.type = FileType::symlink; break;
    case S_IFIFO: info.type = FileType::fifo; break;
    case S_IFCHR: info.type = FileType::chardev; break;
    case S_IFBLK: info.type = FileType::blockdev; break;
    case S_IFSOCK: info.type = FileType::socket; break;
    default: return failf(Errc::unsupported, "{}: unknown file type (mode {:o})", path, st.st_mode);
  }
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mtime_ns = to_ns(st.st_mtim);
  info.ctime_ns = to_ns(st.st_ctim);
  info.atime_ns = to_ns(st.st_atim);
  info.inode = st.st_ino;
  info.device = st.st_dev;
  info.rdev = st.st_rdev;
  info.nlink = st.st_nlink;
  info.blocks = static_cast<std::uint64_t>(st.st_blocks);
  return info;
}

}  // namespace

Result<FileInfo> lstat_path(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return fail_errno(path, errno);
  return info_from_stat(st, path);
}

void Dir::Closer::operator()(DIR* d) const { ::closedir(d); }

Result<Dir> Dir::open(const std::string& path) {
  // O_NOFOLLOW: a symlink to a directory is not listed through.
  auto fd = open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return failf(Errc::invalid_argument, "{}: is a symlink, not a directory", path);
    return tl::unexpected(fd.error());
  }
  Dir dir;
  dir.m_path = path;
  dir.m_dir.reset(::fdopendir(fd->get()));
  if (!dir.m_dir) return fail_errno(path, errno);
  fd->release();  // now owned by the DIR
  return dir;
}

Result<std::vector<std::string>> Dir::names() const {
  std::vector<std::string> names;
  ::rewinddir(m_dir.get());
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(m_dir.get());
    if (!e) {
      if (errno != 0) return fail_errno("listing " + m_path, errno);
      break;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());  // std::string compares as unsigned bytes (char_traits<char>)
  return names;
}

Result<FileInfo> Dir::lstat(const std::string& name, const std::string& path) const {
  struct stat st;
  if (::fstatat(::dirfd(m_dir.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(path, errno);
  return info_from_stat(st, path);
}

int Dir::fd() const { return ::dirfd(m_dir.get()); }

Result<std::vector<std::string>> list_dir(const std::string& path) {
  KHO_TRY_ASSIGN(Dir dir, Dir::open(path));
  return dir.names();
}

Result<std::string> read_link(const std::string& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return fail_errno(path, errno);
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // possibly truncated: grow and read again
  }
}

namespace {

bool no_xattr_support(int err) { return err == ENOTSUP || err == ENOSYS; }

// list(buffer, size) and get(name, buffer, size) are listxattr(2) and getxattr(2)
// on one file; `path` names it in errors.
template <typename List, typename Get>
Result<Xattrs> read_xattrs(const std::string& path, List&& list, Get&& get) {
  // The list and values can change between the size query and the read: retry on ERANGE.
  std::string names;
  for (;;) {
    ssize_t size = list(nullptr, 0);
    if (size < 0) {
      if (no_xattr_support(errno)) return Xattrs{};
      return fail_errno("listing xattrs of " + path, errno);
    }
    if (size == 0) return Xattrs{};
    names.resize(static_cast<std::size_t>(size));
    size = list(names.data(), names.size());
    if (size >= 0) {
      names.resize(static_cast<std::size_t>(size));
      break;
    }
    if (errno != ERANGE) return fail_errno("listing xattrs of " + path, errno);
  }

  Xattrs out;
  for (std::size_t pos = 0; pos < names.size();) {
    std::size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string name = names.substr(pos, end - pos);
    pos = end + 1;
    if (name.empty()) continue;
    Bytes value;
    bool present = true;
    for (;;) {
      ssize_t size = get(name.c_str(), nullptr, 0);
      if (size < 0) {
        if (errno == ENODATA) {  // removed since listed
          present = false;
          break;
        }
        return fail_errno("reading xattr " + name + " of " + path, errno);
      }
      value.resize(static_cast<std::size_t>(size));
      size = get(name.c_str(), value.data(), value.size());
      if (size >= 0) {
        value.resize(static_cast<std::size_t>(size));
        break;
      }
      if (errno == ENODATA) {
        present = false;
        break;
      }
      if (errno != ERANGE) return fail_errno("reading xattr " + name + " of " + path, errno);
    }
    if (present) out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace

Result<Xattrs> get_xattrs(const std::string& path) {
  return read_xattrs(
      path, [&](char* list, std::size_t size) { return ::llistxattr(path.c_str(), list, size); },
      [&](const char* name, void* value, std::size_t size) { return ::lgetxattr(path.c_str(), name, value, size); });
}

Result<Xattrs> get_xattrs_fd(int fd, const std::string& path) {
  return read_xattrs(
      path, [fd](char* list, std::size_t size) { return ::flistxattr(fd, list, size); },
      [fd](const char* name, void* value, std::size_t size) { return ::fgetxattr(fd, name, value, size); });
}

Status set_xattr_fd(int fd, const std::string& name, ByteSpan value) {
  if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0)
    return fail_errno("setting xattr " + name, errno);
  return {};
}

namespace {

// getpw*_r/getgr*_r need a caller buffer whose size is only a hint; grow on ERANGE.
template <typename Entry, typename Lookup>
bool lookup_entry(Lookup&& lookup, Entry& entry, std::vector<char>& buf) {
  buf.resize(1024);
  for (;;) {
    Entry* result = nullptr;
    int err = lookup(&entry, buf.data(), buf.size(), &result);
    if (err == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return err == 0 && result != nullptr;
  }
}

struct NameCache {
  std::mutex mutex;
  std::unordered_map<std::uint32_t, std::string> users;
  std::unordered_map<std::uint32_t, std::string> groups;
  std::unordered_map<std::string, std::optional<std::uint32_t>> user_ids;
  std::unordered_map<std::string, std::optional<std::uint32_t>> group_ids;
};

NameCache& cache() {
  static NameCache c;
  return c;
}

}  // namespace

std::string user_name(std::uint32_t uid) {
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.users.find(uid); it != c.users.end()) return it->second;
  struct passwd pw;
  std::vector<char> buf;
  std::string name;
  if (lookup_entry(
          [&](struct passwd* e, char* b, std::size_t n, struct passwd** r) { return ::getpwuid_r(uid, e, b, n, r); }, pw,
          buf))
    name = pw.pw_name;
  c.users.emplace(uid, name);  // unknown ids are cached too: a backup meets the same ones repeatedly
  return name;
}

std::string group_name(std::uint32_t gid) {
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.groups.find(gid); it != c.groups.end()) return it->second;
  struct group gr;
  std::vector<char> buf;
  std::string name;
  if (lookup_entry([&](struct group* e, char* b, std::size_t n, struct group** r) { return ::getgrgid_r(gid, e, b, n, r); },
                   gr, buf))
    name = gr.gr_name;
  c.groups.emplace(gid, name);
  return name;
}

bool user_id(const std::string& name, std::uint32_t& uid) {
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.user_ids.find(name);
  if (it == c.user_ids.end()) {
    struct passwd pw;
    std::vector<char> buf;
    std::optional<std::uint32_t> id;
    if (lookup_entry(
            [&](struct passwd* e, char* b, std::size_t n, struct passwd** r) { return ::getpwnam_r(name.c_str(), e, b, n, r); },
            pw, buf))
      id = pw.pw_uid;
    it = c.user_ids.emplace(name, id).first;
  }
  if (!it->second) return false;
  uid = *it->second;
  return true;
}

bool group_id(const std::string& name, std::uint32_t& gid) {
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.group_ids.find(name);
  if (it == c.group_ids.end()) {
    struct group gr;
    std::vector<char> buf;
    std::optional<std::uint32_t> id;
    if (lookup_entry(
            [&](struct group* e, char* b, std::size_t n, struct group** r) { return ::getgrnam_r(name.c_str(), e, b, n, r); },
            gr, buf))
      id = gr.gr_gid;
    it = c.group_ids.emplace(name, id).first;
  }
  if (!it->second) return false;
  gid = *it->second;
  return true;
}

namespace {

std::string current_dir() {
  std::string buf(PATH_MAX, '\0');
  for (;;) {
    if (::getcwd(buf.data(), buf.size())) {
      buf.resize(std::char_traits<char>::length(buf.c_str()));
      return buf;
    }
    if (errno != ERANGE) return "/";  // cwd removed or unreadable: best effort
    buf.resize(buf.size() * 2);
  }
}

}  // namespace

std::string absolute_path(const std::string& path) {
  std::string full = !path.empty() && path[0] == '/' ? path : current_dir() + "/" + path;
  std::vector<std::string_view> parts;
  std::string_view rest = full;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // "/.." is "/"
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return "/";
  std::string out;
  for (auto part : parts) {
    out += '/';
    out += part;
  }
  return out;
}

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string current_user() {
  std::uint32_t uid = ::getuid();
  std::string name = user_name(uid);
  return name.empty() ? "uid" + std::to_string(uid) : name;
}

}  // namespace kho::platform
