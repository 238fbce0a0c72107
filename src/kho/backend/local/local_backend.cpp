#include "kho/backend/local/local_backend.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "kho/backend/object_names.hpp"
#include "kho/util/atomic_file.hpp"
#include "kho/util/fd.hpp"

namespace kho::backend {

namespace fs = std::filesystem;

namespace {

constexpr std::array<ObjectType, 5> k_dir_types = {ObjectType::key, ObjectType::data, ObjectType::index,
                                                   ObjectType::snapshot, ObjectType::lock};

bool is_dir(const fs::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Calls `fn(name, dirfd)` for each entry but "." and ".."; a missing directory
// is reported as not_found.
template <typename Fn>
Status for_each_entry(const fs::path& dir, Fn&& fn) {
  DirPtr d(::opendir(dir.c_str()));
  if (!d) return fail_errno(dir.string(), errno);
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return fail_errno("listing " + dir.string(), errno);
      return {};
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    KHO_TRY_STATUS(fn(name, ::dirfd(d.get())));
  }
}

// True when `root` holds nothing but (parts of) an empty kho layout, as left by
// an interrupted create().
Result<bool> only_empty_layout(const fs::path& root) {
  bool only = true;
  auto empty_dir = [&](const fs::path& dir) -> Status {
    return for_each_entry(dir, [&](std::string_view, int) -> Status {
      only = false;
      return {};
    });
  };
  KHO_TRY_STATUS(for_each_entry(root, [&](std::string_view name, int) -> Status {
    bool layout = false;
    for (ObjectType type : k_dir_types) layout = layout || name == type_dir(type);
    fs::path sub = root / name;
    if (!layout || !is_dir(sub)) {
      only = false;
      return {};
    }
    if (name != "data") return empty_dir(sub);
    return for_each_entry(sub, [&](std::string_view prefix, int) -> Status {
      if (!is_data_dir_name(prefix) || !is_dir(sub / prefix)) {
        only = false;
        return {};
      }
      return empty_dir(sub / prefix);
    });
  }));
  return only;
}

Status make_dir(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("creating directory " + path.string(), errno);
  return {};
}

// Appends the objects (regular files, not temporaries) in `dir`.
Status list_objects(const fs::path& dir, std::vector<ObjectInfo>& out) {
  auto status = for_each_entry(dir, [&](std::string_view name, int dfd) -> Status {
    if (is_temporary_name(name)) return {};
    std::string n(name);
    struct stat st;
    if (::fstatat(dfd, n.c_str(), &st, 0) != 0) {
      if (errno == ENOENT) return {};  // removed while we listed
      return fail_errno((dir / n).string(), errno);
    }
    if (S_ISREG(st.st_mode)) out.push_back({std::move(n), static_cast<std::uint64_t>(st.st_size)});
    return {};
  });
  if (!status && status.error().code() == Errc::not_found) return {};  // no such type directory: nothing stored
  return status;
}

// Compares a stored object with `data`; any read problem counts as "differs".
bool same_content(const fs::path& path, ByteSpan data) {
  auto fd = open_fd(path.string(), O_RDONLY);
  if (!fd) return false;
  std::vector<std::uint8_t> buf(std::min<std::size_t>(data.size(), 1 << 20));
  std::uint64_t offset = 0;
  while (offset < data.size()) {
    std::size_t want = std::min<std::size_t>(buf.size(), data.size() - offset);
    auto got = pread_all(fd->get(), buf.data(), want, offset, path.string());
    if (!got || *got != want || std::memcmp(buf.data(), data.data() + offset, want) != 0) return false;
    offset += want;
  }
  std::uint8_t extra;
  auto tail = pread_all(fd->get(), &extra, 1, offset, path.string());
  return tail && *tail == 0;
}

}  // namespace

// Data objects kept open for ranged reads, the least recently used closed first.
// A reader holds its own reference, so closing one here never pulls a descriptor
// from under a read. At most 16, and none under a small open-file limit (a
// restore keeps files open up to what the limit leaves).
class OpenObjects {
public:
  OpenObjects() : m_max(capacity()) {}

  struct Open {
    std::shared_ptr<const Fd> fd;
    std::uint64_t size = 0;
  };

  std::optional<Open> find(const std::string& name) {
    std::lock_guard lock(m_mutex);
    for (auto& e : m_entries)
      if (e.name == name) {
        e.used = ++m_clock;
        return e.open;
      }
    return std::nullopt;
  }

  void put(const std::string& name, const Open& open) {
    if (m_max == 0) return;
    std::lock_guard lock(m_mutex);
    for (const auto& e : m_entries)
      if (e.name == name) return;  // another thread opened it meanwhile
    if (m_entries.size() < m_max) {
      m_entries.push_back({name, open, ++m_clock});
      return;
    }
    auto oldest = std::min_element(m_entries.begin(), m_entries.end(),
                                   [](const Entry& a, const Entry& b) { return a.used < b.used; });
    *oldest = {name, open, ++m_clock};
  }

  void forget(const std::string& name) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_entries, [&](const Entry& e) { return e.name == name; });
  }

private:
  struct Entry {
    std::string name;
    Open open;
    std::uint64_t used = 0;
  };
  static std::size_t capacity() {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    return static_cast<std::size_t>(std::min<rlim_t>(16, rl.rlim_cur / 64));
  }
  const std::size_t m_max;
  std::mutex m_mutex;
  std::vector<Entry> m_entries;
  std::uint64_t m_clock = 0;
};

LocalBackend::LocalBackend(fs::path root) : m_root(std::move(root)), m_open(std::make_unique<OpenObjects>()) {}

LocalBackend::LocalBackend(LocalBackend&&) noexcept = default;
LocalBackend::~LocalBackend() = default;

void LocalBackend::forget_open(const Handle& handle) const {
  if (handle.type == ObjectType::data) m_open->forget(handle.name);
}

fs::path LocalBackend::path_of(const Handle& handle) const {
  switch (handle.type) {
    case ObjectType::config: return m_root / "config";
    case ObjectType::data: return m_root / "data" / handle.name.substr(0, 2) / handle.name;
    default: return m_root / type_dir(handle.type) / handle.name;
  }
}

namespace {

tl::unexpected<Error> repo_missing(const fs::path& root) {
  return failf(Errc::not_found, "no repository at {}: the directory does not exist", root.string());
}

// Turns an error on an object into one that names it and its repository; a
// missing object is distinguished from a missing repository.
tl::unexpected<Error> object_error(const fs::path& root, const Handle& handle, const char* action, const Error& error) {
  if (error.code() == Errc::not_found) {
    if (!is_dir(root)) return repo_missing(root);
    return failf(Errc::not_found, "{} not found in repository {}", describe(handle), root.string());
  }
  return tl::unexpected(error.with_context(fmt::format("{} {} in repository {}", action, describe(handle), root.string())));
}

tl::unexpected<Error> object_error(const fs::path& root, const Handle& handle, const char* action, int err) {
  if (err == ENOENT || err == ENOTDIR) return object_error(root, handle, action, Error(Errc::not_found, ""));
  return fail_errno(fmt::format("{} {} in repository {}", action, describe(handle), root.string()), err);
}

// A failed write of `wanted` bytes into `dir`, said to be for want of space when
// the file system has less than that free.
tl::unexpected<Error> write_error(const fs::path& dir, tl::unexpected<Error> error, std::uint64_t wanted) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) == 0 && std::uint64_t{vfs.f_bavail} * vfs.f_frsize < wanted)
    return tl::unexpected(Error(error.value().code(),
                                error.value().message() +
                                    "; the file system holding the repository is full: free space (kho forget, "
                                    "then kho prune) or move the repository to a larger disk",
                                error.value().transient()));
  return error;
}

// An object written in pieces into "<type dir>/<type dir>.tmp-<random>", renamed to
// its place at commit (for data, into its data/xx directory).
class LocalObjectWriter final : public ObjectWriter {
public:
  LocalObjectWriter(const LocalBackend& backend, const fs::path& root, ObjectType type, std::string temp, Fd fd)
      : m_backend(backend), m_root(root), m_type(type), m_temp(std::move(temp)), m_fd(std::move(fd)) {}

  Status append(ByteSpan data) override {
    if (!m_fd.valid()) return spent();
    auto written = write_all(m_fd.get(), data, m_temp.path());
    if (!written) {
      const fs::path dir = fs::path(m_temp.path()).parent_path();
      return write_error(dir, tl::unexpected(written.error().with_context("in repository " + m_root.string())),
                         data.size());
    }
    return {};
  }

  Status commit(const Handle& handle) override {
    if (!m_fd.valid()) return spent();
    KHO_TRY_STATUS(check_object_name(handle));
    if (handle.type != m_type)
      return failf(Errc::invalid_argument, "{} committed by a writer begun for {}", describe(handle), type_dir(m_type));
    const std::string& what = m_temp.path();
    Fd fd = std::move(m_fd);
    auto synced = fsync_fd(fd.get(), what).and_then([&] { return fd.close(what); });
    if (!synced) return object_error(m_root, handle, "saving", synced.error());
    const fs::path path = m_backend.path_of(handle);
    m_backend.forget_open(handle);
    int err = ::rename(what.c_str(), path.c_str()) == 0 ? 0 : errno;
    if (err == ENOENT && m_type == ObjectType::data && is_dir(m_root)) {
      // Its data/xx directory is missing (an older or hand-copied repository), as save() handles it.
      KHO_TRY_STATUS(make_dir(path.parent_path()));
      err = ::rename(what.c_str(), path.c_str()) == 0 ? 0 : errno;
    }
    if (err != 0) {
      if (!is_dir(m_root)) return repo_missing(m_root);
      return fail_errno(fmt::format("saving {} in repository {}", describe(handle), m_root.string()), err);
    }
    m_temp.committed();
    return fsync_dir(path.parent_path().string());
  }

  bool buffered() const override { return false; }

private:
  tl::unexpected<Error> spent() const {
    return failf(Errc::invalid_argument, "{} is spent (committed, or its commit failed)", m_temp.path());
  }

  const LocalBackend& m_backend;
  const fs::path& m_root;
  ObjectType m_type;
  TempFile m_temp;
  Fd m_fd;
};

}  // namespace

Status LocalBackend::create() {
  const std::string root = m_root.string();
  struct stat st;
  if (::lstat((m_root / "config").c_str(), &st) == 0)
    return failf(Errc::already_exists, "a repository already exists at {} (it has a config)", root);
  if (::stat(m_root.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return failf(Errc::already_exists, "{} exists and is not a directory", root);
    KHO_TRY_ASSIGN(bool empty, only_empty_layout(m_root));
    if (!empty)
      return failf(Errc::already_exists,
                   "{} is not empty and holds no repository config; refusing to create a repository over "
                   "existing files (choose a new or empty directory)",
                   root);
  } else if (errno == ENOENT) {
    if (m_root.has_parent_path()) {
      std::error_code ec;
      fs::create_directories(m_root.parent_path(), ec);
      if (ec) return failf(Errc::io, "creating directory {}: {}", m_root.parent_path().string(), ec.message());
    }
    KHO_TRY_STATUS(make_dir(m_root));
  } else {
    return fail_errno(root, errno);
  }
  for (ObjectType type : k_dir_types) KHO_TRY_STATUS(make_dir(m_root / type_dir(type)));
  for (unsigned i = 0; i < 256; ++i) KHO_TRY_STATUS(make_dir(m_root / "data" / data_dir_name(i)));
  KHO_TRY_STATUS(fsync_dir((m_root / "data").string()));
  KHO_TRY_STATUS(fsync_dir(root));
  fs::path parent = m_root.has_parent_path() ? m_root.parent_path() : fs::path(".");
  return fsync_dir(parent.string());
}

Status LocalBackend::save(const Handle& handle, ByteSpan data) {
  KHO_TRY_STATUS(check_object_name(handle));
  const fs::path path = path_of(handle);
  const fs::path dir = path.parent_path();

  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == data.size() &&
      same_content(path, data))
    return {};

  TempFile temp(path.string() + std::string(k_temp_marker) + random_temp_suffix());
  auto fd = open_fd(temp.path(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!fd && fd.error().code() == Errc::not_found && is_dir(m_root) && handle.type != ObjectType::config) {
    // A directory of the layout is missing (an older or hand-copied repository).
    KHO_TRY_STATUS(make_dir(m_root / type_dir(handle.type)));
    if (handle.type == ObjectType::data) KHO_TRY_STATUS(make_dir(dir));
    fd = open_fd(temp.path(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  }
  if (!fd) return object_error(m_root, handle, "saving", fd.error());

  const std::string what = temp.path();
  auto written = write_all(fd->get(), data, what)
                     .and_then([&] { return fsync_fd(fd->get(), what); })
                     .and_then([&] { return fd->close(what); });
  if (!written) return write_error(dir, object_error(m_root, handle, "saving", written.error()), data.size());
  forget_open(handle);
  if (::rename(temp.path().c_str(), path.c_str()) != 0)
    return object_error(m_root, handle, "saving", errno);
  temp.committed();
  return fsync_dir(dir.string());
}

Result<std::unique_ptr<ObjectWriter>> LocalBackend::begin_save(ObjectType type, std::uint64_t size_hint) {
  if (type == ObjectType::config) return Backend::begin_save(type, size_hint);
  const fs::path dir = m_root / type_dir(type);
  std::string temp = (dir / type_dir(type)).string() + std::string(k_temp_marker) + random_temp_suffix();
  auto fd = open_fd(temp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!fd && fd.error().code() == Errc::not_found && is_dir(m_root)) {
    KHO_TRY_STATUS(make_dir(dir));  // an older or hand-copied repository
    fd = open_fd(temp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  }
  if (!fd) {
    if (!is_dir(m_root)) return repo_missing(m_root);
    return tl::unexpected(fd.error().with_context("in repository " + m_root.string()));
  }
  return std::unique_ptr<ObjectWriter>(
      std::make_unique<LocalObjectWriter>(*this, m_root, type, std::move(temp), std::move(*fd)));
}

Status LocalBackend::read_range(const Handle& handle, std::uint64_t offset, std::uint64_t length,
                                const std::function<std::uint8_t*(std::uint64_t)>& buffer_for) {
  KHO_TRY_STATUS(check_object_name(handle));
  // A whole object is read once (indexes, snapshots, a pack being copied); a
  // range of a data object is mostly followed by more from the same pack.
  const bool keep = handle.type == ObjectType::data && length != 0;
  std::optional<OpenObjects::Open> open = keep ? m_open->find(handle.name) : std::nullopt;
  if (!open) {
    auto fd = open_fd(path_of(handle).string(), O_RDONLY);
    if (!fd) return object_error(m_root, handle, "loading", fd.error());
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return object_error(m_root, handle, "loading", errno);
    if (!S_ISREG(st.st_mode))
      return failf(Errc::corruption, "{} in repository {} is not a regular file", describe(handle), m_root.string());
    open = OpenObjects::Open{std::make_shared<const Fd>(std::move(*fd)), static_cast<std::uint64_t>(st.st_size)};
    if (keep) m_open->put(handle.name, *open);
  }
  const std::uint64_t size = open->size;
  const bool too_short = length == 0 ? offset > size : (offset > size || length > size - offset);
  if (too_short)
    return failf(Errc::corruption, "{} in repository {} is {} bytes, shorter than the requested range {}+{}",
                 describe(handle), m_root.string(), size, offset, length);
  const std::uint64_t want = length == 0 ? size - offset : length;

  KHO_TRY_ASSIGN(std::size_t got, pread_all(open->fd->get(), buffer_for(want), want, offset, describe(handle)));
  if (got != want)
    return failf(Errc::corruption, "{} in repository {} ended after {} bytes while reading {}+{}", describe(handle),
                 m_root.string(), offset + got, offset, want);
  return {};
}

Result<Bytes> LocalBackend::load(const Handle& handle, std::uint64_t offset, std::uint64_t length) {
  Bytes out;
  KHO_TRY_STATUS(read_range(handle, offset, length, [&out](std::uint64_t want) {
    out.resize(want);
    return out.data();
  }));
  return out;
}

Status LocalBackend::load_into(const Handle& handle, std::uint64_t offset, std::span<std::uint8_t> out) {
  if (out.empty()) return {};
  return read_range(handle, offset, out.size(), [&out](std::uint64_t) { return out.data(); });
}

Result<ObjectInfo> LocalBackend::stat(const Handle& handle) {
  KHO_TRY_STATUS(check_object_name(handle));
  const fs::path path = path_of(handle);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return object_error(m_root, handle, "examining", errno);
  if (!S_ISREG(st.st_mode))
    return failf(Errc::corruption, "{} in repository {} is not a regular file", describe(handle), m_root.string());
  return ObjectInfo{handle.name, static_cast<std::uint64_t>(st.st_size)};
}

Result<std::vector<ObjectInfo>> LocalBackend::list(ObjectType type) {
  if (!is_dir(m_root)) return repo_missing(m_root);
  std::vector<ObjectInfo> out;
  if (type == ObjectType::config) {
    struct stat st;
    if (::stat((m_root / "config").c_str(), &st) == 0 && S_ISREG(st.st_mode))
      out.push_back({"", static_cast<std::uint64_t>(st.st_size)});
    return out;
  }
  for (const auto& dir : object_dirs(type)) KHO_TRY_STATUS(list_objects(dir, out));
  return out;
}

std::vector<fs::path> LocalBackend::object_dirs(ObjectType type) const {
  std::vector<fs::path> dirs;
  if (type == ObjectType::data)
    for (unsigned i = 0; i < 256; ++i) dirs.push_back(m_root / "data" / data_dir_name(i));
  else
    dirs.push_back(m_root / type_dir(type));
  return dirs;
}

Status LocalBackend::remove(const Handle& handle) {
  KHO_TRY_STATUS(check_object_name(handle));
  const fs::path path = path_of(handle);
  forget_open(handle);
  if (::unlink(path.c_str()) != 0) return object_error(m_root, handle, "removing", errno);
  return fsync_dir(path.parent_path().string());
}

Result<std::uint64_t> LocalBackend::remove_temporaries(ObjectType type) {
  if (type == ObjectType::config) return 0;
  // save() leaves OBJECT.tmp-SUFFIX beside the object; begin_save() leaves
  // TYPE.tmp-SUFFIX in the type's directory (for data, above the data/xx ones).
  std::vector<fs::path> dirs = object_dirs(type);
  if (type == ObjectType::data) dirs.push_back(m_root / "data");
  std::uint64_t removed = 0;
  for (const auto& dir : dirs) {
    auto status = for_each_entry(dir, [&](std::string_view name, int dfd) -> Status {
      // Only what save() names so (OBJECT.tmp-SUFFIX), never another hidden file.
      if (name.find(k_temp_marker) == std::string_view::npos || name.front() == '.') return {};
      std::string n(name);
      struct stat st;
      if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return {};
      if (::unlinkat(dfd, n.c_str(), 0) != 0) {
        if (errno == ENOENT) return {};
        return fail_errno("removing " + (dir / n).string(), errno);
      }
      ++removed;
      return {};
    });
    if (!status && status.error().code() != Errc::not_found) return tl::unexpected(status.error());
  }
  return removed;
}

Properties LocalBackend::properties() const {
  Properties p;
  p.location = m_root.string();
  return p;
}

}  // namespace kho::backend
