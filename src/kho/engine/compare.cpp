#include "kho/engine/compare.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "kho/util/fd.hpp"
#include "kho/util/glob.hpp"
#include "kho/util/path.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using platform::FileType;
using repo::BlobType;
using repo::Node;

namespace {

std::optional<FileType> type_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return FileType::file;
    case S_IFDIR:
      return FileType::dir;
    case S_IFLNK:
      return FileType::symlink;
    case S_IFIFO:
      return FileType::fifo;
    case S_IFCHR:
      return FileType::chardev;
    case S_IFBLK:
      return FileType::blockdev;
    case S_IFSOCK:
      return FileType::socket;
    default:
      return std::nullopt;
  }
}

const char* type_name(std::optional<FileType> type) { return type ? platform::file_type_name(*type) : "unknown"; }

// Names in the open directory `dirfd`, without "." and "..". The descriptor
// itself is left open (and at an unspecified position).
Result<std::vector<std::string>> list_names(int dirfd, const std::string& what) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno(what, errno);
  struct Closer {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, Closer> dir(::fdopendir(dup));
  if (!dir) {
    int err = errno;
    ::close(dup);
    return fail_errno(what, err);
  }
  ::rewinddir(dir.get());
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(dir.get());
    if (!e) {
      if (errno != 0) return fail_errno("listing " + what, errno);
      break;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> read_link_at(int dirfd, const std::string& name, const std::string& what) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return fail_errno(what, errno);
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

class Comparer {
 public:
  Comparer(const repo::Repository& repo, const CompareOptions& opt, Progress* progress)
      : m_repo(repo), m_opt(opt), m_progress(progress), m_filter(opt.includes, opt.excludes) {}

  Result<CompareResult> run(const repo::Snapshot& snapshot);

 private:
  Result<std::uint64_t> walk(int dirfd, const repo::Tree& tree, const std::string& snap);
  Result<std::uint64_t> compare_dir(int parentfd, const Node& node, const std::string& snap, bool wanted);
  void compare_leaf(int dirfd, const Node& node, const std::string& snap);
  void check_content(Fd fd, const std::vector<Id>& content, std::uint64_t size, const std::string& snap,
                     bool other_reasons);
  Result<bool> any_selected(const Node& dir, const std::string& snap);
  void extras(int dirfd, const std::string& snap);
  void report_extras(int dirfd, const std::string& snap, const std::vector<std::string>& names, const repo::Tree* tree);

  void differ(const std::string& path, FileType type, std::string reason) {
    std::lock_guard lock(m_mutex);
    m_result.differ.push_back({path, type, std::move(reason)});
    if (m_progress) m_progress->errors++;
  }
  void missing(const std::string& path, FileType type) {
    std::lock_guard lock(m_mutex);
    m_result.missing.push_back({path, type, {}});
    if (m_progress) m_progress->errors++;
  }
  void extra(const std::string& path, FileType type) {
    std::lock_guard lock(m_mutex);
    m_result.extra.push_back({path, type, {}});
  }
  void add(std::uint64_t& counter, std::uint64_t n = 1) {
    std::lock_guard lock(m_mutex);
    counter += n;
  }

  const repo::Repository& m_repo;
  const CompareOptions& m_opt;
  Progress* m_progress;
  PathFilter m_filter;
  std::mutex m_mutex;
  CompareResult m_result;
  std::unique_ptr<ThreadPool> m_pool;  // last: destroyed (joined) first
};

// Whether anything below the snapshot directory `dir` is selected by the
// filters: a directory walked only to reach included paths, with none below
// it, is not restored, so its absence is no difference.
Result<bool> Comparer::any_selected(const Node& dir, const std::string& snap) {
  if (!dir.subtree) return false;
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(snap));
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  auto tree = m_repo.load_tree(*dir.subtree);
  if (!tree) return true;  // unreadable: reported when (if) it is compared
  for (const auto& node : tree->nodes) {
    std::string child = join_path(snap, node.name);
    if (m_filter.excluded(child)) continue;
    if (m_filter.included(child)) return true;
    if (node.type == FileType::dir && m_filter.may_contain_included(child)) {
      KHO_TRY_ASSIGN(bool below, any_selected(node, child));
      if (below) return true;
    }
  }
  return false;
}

void Comparer::check_content(Fd fd, const std::vector<Id>& content, std::uint64_t size, const std::string& snap,
                             bool other_reasons) {
  if (cancelled()) return;
  Bytes buf;
  std::uint64_t offset = 0;
  auto done = [&](const std::string& why) {
    add(m_result.bytes, offset);
    if (!why.empty()) {
      differ(snap, FileType::file, why);
    } else if (!other_reasons) {
      add(m_result.matched);
    }
    if (m_progress) m_progress->files_done++;
  };
  for (const Id& id : content) {
    auto loc = m_repo.index().find(BlobType::data, id);
    if (!loc) return done("data blob " + id.hex() + " is not in the repository's index");
    buf.resize(loc->blob.raw_length);
    auto n = pread_all(fd.get(), buf.data(), buf.size(), offset, snap);
    if (!n) return done("cannot read: " + n.error().message());
    if (*n != buf.size()) return done("file is shorter than in the snapshot");
    if (m_repo.hash_blob(buf) != id) return done(fmt::format("content differs at offset {}", offset));
    offset += buf.size();
    if (m_progress) m_progress->bytes_done += buf.size();
  }
  if (offset != size)
    return done(fmt::format("size differs: {} bytes in the snapshot's content, {} on disk", offset, size));
  done({});
}

void Comparer::compare_leaf(int dirfd, const Node& node, const std::string& snap) {
  add(m_result.files);
  struct stat st;
  if (::fstatat(dirfd, node.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return missing(snap, node.type);
    return differ(snap, node.type, std::string("cannot stat: ") + std::strerror(errno));
  }
  Fd fd;
  if (node.type == FileType::file && S_ISREG(st.st_mode)) {
    // Opened without following a symlink (one could have replaced the file
    // since the fstatat), and without blocking should it now be a fifo.
    int f = ::openat(dirfd, node.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) return differ(snap, node.type, std::string("cannot open: ") + std::strerror(errno));
    fd.reset(f);
    if (::fstat(fd.get(), &st) != 0)
      return differ(snap, node.type, std::string("cannot stat: ") + std::strerror(errno));
  }
  auto disk_type = type_of(st.st_mode);
  if (disk_type != node.type)
    return differ(snap, node.type,
                  fmt::format("type differs: {} in the snapshot, {} on disk", platform::file_type_name(node.type),
                              type_name(disk_type)));
  bool reasons = false;
  auto report = [&](std::string why) {
    reasons = true;
    differ(snap, node.type, std::move(why));
  };
  std::uint32_t disk_mode = static_cast<std::uint32_t>(st.st_mode) & 07777;
  if (node.type != FileType::symlink && disk_mode != (node.mode & 07777))
    report(fmt::format("mode differs: {:04o} in the snapshot, {:04o} on disk", node.mode & 07777, disk_mode));
  switch (node.type) {
    case FileType::file: {
      auto disk_size = static_cast<std::uint64_t>(st.st_size);
      if (disk_size != node.size) {
        report(fmt::format("size differs: {} bytes in the snapshot, {} on disk", node.size, disk_size));
        break;
      }
      // Hashed on the pool; the walk goes on meanwhile.
      m_pool->submit([this, fd = std::move(fd), content = node.content, size = node.size, snap, reasons]() mutable {
        check_content(std::move(fd), content, size, snap, reasons);
      });
      return;
    }
    case FileType::symlink: {
      auto target = read_link_at(dirfd, node.name, snap);
      if (!target)
        report("cannot read the symlink: " + target.error().message());
      else if (*target != node.link_target)
        report(fmt::format("symlink target differs: '{}' in the snapshot, '{}' on disk", node.link_target, *target));
      break;
    }
    case FileType::chardev:
    case FileType::blockdev:
      if (static_cast<std::uint64_t>(st.st_rdev) != node.rdev)
        report(fmt::format("device number differs: {}:{} in the snapshot, {}:{} on disk",
                           major(static_cast<dev_t>(node.rdev)), minor(static_cast<dev_t>(node.rdev)),
                           major(st.st_rdev), minor(st.st_rdev)));
      break;
    default:
      break;
  }
  if (!reasons) add(m_result.matched);
  if (m_progress) m_progress->files_done++;
}

Result<std::uint64_t> Comparer::compare_dir(int parentfd, const Node& node, const std::string& snap, bool wanted) {
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(snap));
  // `wanted`: the directory is selected itself; otherwise it is only walked
  // to reach included paths and counts only when something below it does.
  auto selected_below = [&]() -> Result<bool> { return wanted ? Result<bool>(true) : any_selected(node, snap); };
  struct stat st;
  if (::fstatat(parentfd, node.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    KHO_TRY_ASSIGN(bool counts, selected_below());
    if (!counts) return 0;
    add(m_result.dirs);
    if (err == ENOENT)
      missing(snap, FileType::dir);
    else
      differ(snap, FileType::dir, std::string("cannot stat: ") + std::strerror(err));
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    KHO_TRY_ASSIGN(bool counts, selected_below());
    if (!counts) return 0;
    add(m_result.dirs);
    differ(snap, FileType::dir,
           fmt::format("type differs: dir in the snapshot, {} on disk", type_name(type_of(st.st_mode))));
    return 1;
  }
  int f = ::openat(parentfd, node.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (f < 0) {
    int err = errno;
    KHO_TRY_ASSIGN(bool counts, selected_below());
    if (!counts) return 0;
    add(m_result.dirs);
    differ(snap, FileType::dir, std::string("cannot open: ") + std::strerror(err));
    return 1;
  }
  Fd dir(f);
  std::uint64_t below = 0;
  if (node.subtree) {
    auto tree = m_repo.load_tree(*node.subtree);
    if (!tree) {
      add(m_result.dirs);
      differ(snap, FileType::dir, "cannot read the snapshot's tree: " + tree.error().message());
      return 1;
    }
    KHO_TRY_ASSIGN(below, walk(dir.get(), *tree, snap));
  } else {
    KHO_TRY_ASSIGN(below, walk(dir.get(), repo::Tree{}, snap));
  }
  if (!wanted && below == 0) return 0;
  add(m_result.dirs);
  if (::fstat(dir.get(), &st) != 0) {
    differ(snap, FileType::dir, std::string("cannot stat: ") + std::strerror(errno));
  } else {
    std::uint32_t disk_mode = static_cast<std::uint32_t>(st.st_mode) & 07777;
    if (disk_mode != (node.mode & 07777))
      differ(snap, FileType::dir,
             fmt::format("mode differs: {:04o} in the snapshot, {:04o} on disk", node.mode & 07777, disk_mode));
    else
      add(m_result.matched);
  }
  return below + 1;
}

// Lists, as extra, the entries of `names` (in the directory `dirfd`, whose
// snapshot path is `snap`) that `tree` (null: none) does not have and the
// filters select.
void Comparer::report_extras(int dirfd, const std::string& snap, const std::vector<std::string>& names,
                             const repo::Tree* tree) {
  for (const auto& name : names) {
    if (tree && tree->find(name)) continue;
    std::string child = join_path(snap, name);
    if (m_filter.excluded(child)) continue;
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    auto type = type_of(st.st_mode).value_or(FileType::file);
    if (m_filter.included(child)) {
      extra(child, type);
      continue;
    }
    if (type != FileType::dir || !m_filter.may_contain_included(child)) continue;
    int f = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0) continue;
    Fd sub(f);
    extras(sub.get(), child);
  }
}

// Lists what the directory `dirfd`, which the snapshot does not have, holds
// that the filters select (it is walked only to reach included paths).
void Comparer::extras(int dirfd, const std::string& snap) {
  if (cancelled()) return;  // the walk reports it
  auto names = list_names(dirfd, snap);
  if (names) report_extras(dirfd, snap, *names, nullptr);
}

// Compares the snapshot directory `tree` (at `snap`) with the open directory
// `dirfd`; returns how many entries below it the filters selected.
Result<std::uint64_t> Comparer::walk(int dirfd, const repo::Tree& tree, const std::string& snap) {
  std::uint64_t selected = 0;
  for (const auto& node : tree.nodes) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    std::string child = join_path(snap, node.name);
    if (m_filter.excluded(child)) continue;
    if (node.type == FileType::dir) {
      bool wanted = m_filter.included(child);
      if (!wanted && !m_filter.may_contain_included(child)) continue;
      KHO_TRY_ASSIGN(std::uint64_t n, compare_dir(dirfd, node, child, wanted));
      selected += n;
      continue;
    }
    if (!m_filter.included(child)) continue;
    selected++;
    compare_leaf(dirfd, node, child);
  }
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  auto names = list_names(dirfd, snap);
  if (!names) {
    differ(snap, FileType::dir, "cannot list the directory: " + names.error().message());
    return selected;
  }
  report_extras(dirfd, snap, *names, &tree);
  return selected;
}

Result<CompareResult> Comparer::run(const repo::Snapshot& snapshot) {
  if (m_opt.target.empty()) return fail(Errc::invalid_argument, "no directory to compare with given");
  auto root = open_fd(m_opt.target, O_RDONLY | O_DIRECTORY);
  if (!root) return tl::unexpected(root.error().with_context("cannot open the directory to compare with"));
  unsigned threads = m_opt.threads ? m_opt.threads : ThreadPool::default_threads();
  m_pool = std::make_unique<ThreadPool>(threads, 2 * threads);

  // Where the comparison starts: as restore finds it.
  std::string sub = m_opt.subpath;
  while (sub.size() > 1 && sub.back() == '/') sub.pop_back();
  Status walked;
  if (sub.empty() || sub == "/") {
    KHO_TRY_ASSIGN(repo::Tree tree, m_repo.load_tree(snapshot.tree));
    auto n = walk(root->get(), tree, "/");
    if (!n) walked = tl::unexpected(n.error());
  } else {
    if (sub.front() != '/') sub = "/" + sub;
    Id tree_id = snapshot.tree;
    std::string snap_path;
    std::size_t pos = 1;
    std::optional<Node> found;
    while (pos <= sub.size()) {
      std::size_t next = sub.find('/', pos);
      if (next == std::string::npos) next = sub.size();
      std::string comp = sub.substr(pos, next - pos);
      pos = next + 1;
      if (comp.empty()) continue;
      KHO_TRY_ASSIGN(repo::Tree tree, m_repo.load_tree(tree_id));
      const Node* node = tree.find(comp);
      if (!node) return fail(Errc::not_found, "path " + sub + " is not in the snapshot");
      snap_path += "/" + comp;
      found = *node;
      if (pos <= sub.size()) {
        if (!node->subtree) return fail(Errc::not_found, "path " + sub + " is not in the snapshot");
        tree_id = *node->subtree;
      }
    }
    if (!found) return fail(Errc::not_found, "path " + sub + " is not in the snapshot");
    if (found->type == FileType::dir) {
      repo::Tree tree;
      if (found->subtree) {
        KHO_TRY_ASSIGN(tree, m_repo.load_tree(*found->subtree));
      }
      auto n = walk(root->get(), tree, snap_path);
      if (!n) walked = tl::unexpected(n.error());
    } else {
      // One file: compared as TARGET/<name>, like restore writes it.
      compare_leaf(root->get(), *found, snap_path);
    }
  }
  m_pool.reset();  // waits for the content checks
  if (!walked) return tl::unexpected(walked.error());
  if (cancelled()) return fail(Errc::interrupted, "interrupted");

  auto by_path = [](const CompareEntry& a, const CompareEntry& b) { return a.path < b.path; };
  std::stable_sort(m_result.differ.begin(), m_result.differ.end(), by_path);
  std::sort(m_result.missing.begin(), m_result.missing.end(), by_path);
  std::sort(m_result.extra.begin(), m_result.extra.end(), by_path);
  // One entry per path, its reasons in the order found (mode before content).
  std::vector<CompareEntry> merged;
  for (auto& e : m_result.differ) {
    if (!merged.empty() && merged.back().path == e.path)
      merged.back().reason += "; " + e.reason;
    else
      merged.push_back(std::move(e));
  }
  m_result.differ = std::move(merged);
  return std::move(m_result);
}

}  // namespace

Result<CompareResult> compare_tree(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                   const CompareOptions& options, Progress* progress) {
  Comparer comparer(repo, options, progress);
  return comparer.run(snapshot);
}

}  // namespace kho::engine
