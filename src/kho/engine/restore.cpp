#include "kho/engine/restore.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "kho/platform/fs.hpp"
#include "kho/repo/pack_reader.hpp"
#include "kho/util/fd.hpp"
#include "kho/util/glob.hpp"
#include "kho/util/path.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using platform::FileType;
using repo::BlobType;
using repo::Node;

namespace {

// Opens `rel` beneath `root` without following any symlink on the way.
Result<Fd> open_beneath(int root, const std::string& rel, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno == ELOOP || errno == EXDEV)
      return fail(Errc::permission, rel + ": refusing to restore through a symbolic link or outside the target");
    return fail_errno(rel, errno);
  }
}

// The directory an item is created in, opened beneath the target. Items come in
// tree order, so consecutive ones mostly share it: it is opened once for them.
class ParentDir {
public:
  explicit ParentDir(int root) : m_root(root) {}
  Result<int> open(const std::string& parent_rel) {
    if (m_fd && parent_rel == m_rel) return m_fd.get();
    m_fd.reset();
    m_asked = false;
    KHO_TRY_ASSIGN(m_fd, open_beneath(m_root, parent_rel, O_RDONLY | O_DIRECTORY, 0));
    m_rel = parent_rel;
    return m_fd.get();
  }
  // The group of a file created in the directory last opened: the directory's
  // own when it is set-group-ID, else this process's. None when the directory
  // has a default ACL (a new file's mode then comes from it, not from the umask)
  // or cannot be asked. Asked once per directory.
  std::optional<gid_t> new_file_group() {
    if (!m_asked && m_fd) {
      m_asked = true;
      struct stat st;
      const bool no_default_acl = ::fgetxattr(m_fd.get(), "system.posix_acl_default", nullptr, 0) < 0 &&
                                  (errno == ENODATA || errno == ENOTSUP);
      if (no_default_acl && ::fstat(m_fd.get(), &st) == 0)
        m_new_group = (st.st_mode & S_ISGID) ? st.st_gid : ::getegid();
      else
        m_new_group.reset();
    }
    return m_new_group;
  }

private:
  int m_root;
  Fd m_fd;
  std::string m_rel;
  bool m_asked = false;
  std::optional<gid_t> m_new_group;
};

// This process's umask, read without changing it; none when it cannot be read.
std::optional<mode_t> read_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) {
      try {
        return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
      } catch (...) {
        return std::nullopt;
      }
    }
  return std::nullopt;
}

// Makes room for `name` when something is already there: anything but a
// directory is removed (a directory is never replaced by anything else).
Status clear_name(int dir, const std::string& name, const std::string& rel) {
  struct stat st;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(rel, errno);
  if (S_ISDIR(st.st_mode)) return fail(Errc::already_exists, rel + " exists as a directory in the target");
  if (::unlinkat(dir, name.c_str(), 0) != 0) return fail_errno("cannot replace " + rel, errno);
  return {};
}

// The directory part of `rel` ("" at the top).
std::string_view parent_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? std::string_view() : std::string_view(rel).substr(0, slash);
}

std::pair<std::string, std::string> split_parent(const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {".", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// Items handed to a thread at a time when creating files and setting metadata.
constexpr std::size_t k_batch = 128;
// Stored bytes of a pack handed to a writing thread at a time (a pack holds 16 MiB
// by default).
constexpr std::uint64_t k_restore_piece = 4 * 1024 * 1024;

struct Item {
  std::string rel;   // path below the target; its snapshot path is m_snap_prefix + rel
  Node node;
  std::size_t depth = 0;
  std::size_t link_to = SIZE_MAX;  // for a hardlink: the item it links to
  bool not_created = false;        // refused or failed (reported): no metadata to apply
};

struct FileState {
  std::mutex mutex;
  Fd fd;                      // open while blobs are written: from creation, or from the first write
  std::size_t remaining = 0;  // blob writes still to do
  std::uint64_t size = 0;     // what the file's size must be when its writes are done
  std::uint64_t end = 0;      // the end of the furthest bytes written (blobs of zeros are not)
  bool failed = false;
  bool kept = false;      // fd is open from creation, counted in m_kept_open
  bool meta_set = false;  // owner, mode, xattrs and times set through the descriptor
  bool made_final = false;  // created with its owner and mode
  std::string error;
};

// Where an entry's metadata is set: through a descriptor open on it (a file whose
// writes are done), or by its name in its directory.
struct MetaTarget {
  int fd = -1;
  int dir = -1;
  const char* name = nullptr;
  bool made_final = false;  // the owner and mode it was created with are its own
};

struct BlobUse {
  std::size_t item;
  std::uint64_t offset;
};

struct PlannedBlob {
  repo::PackedBlob blob;
  std::vector<BlobUse> uses;
};

// How far file creation has come: every item before upto() has been created or
// found impossible to create. Batches of items finish in any order; the mark
// moves over the batches done in a row from the first.
class CreationMark {
public:
  explicit CreationMark(std::vector<std::size_t> ends) : m_ends(std::move(ends)), m_done(m_ends.size(), 0) {}

  std::size_t batches() const { return m_ends.size(); }
  // The items of a batch: [first, second).
  std::pair<std::size_t, std::size_t> batch(std::size_t k) const { return {k == 0 ? 0 : m_ends[k - 1], m_ends[k]}; }

  void finish(std::size_t batch) {
    {
      std::lock_guard lock(m_mutex);
      m_done[batch] = 1;
      while (m_next < m_done.size() && m_done[m_next]) m_upto = m_ends[m_next++];
    }
    m_changed.notify_all();
  }
  // Returns once `item` has been through creation.
  void wait_for(std::size_t item) {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_upto > item || m_next == m_done.size(); });
  }

private:
  const std::vector<std::size_t> m_ends;  // by batch: one past its last item
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<char> m_done;  // by batch
  std::size_t m_next = 0;    // the first batch not done
  std::size_t m_upto = 0;
};

class Restorer {
public:
  Restorer(const repo::Repository& repo, const RestoreOptions& opt, Progress* progress)
      : m_repo(repo), m_opt(opt), m_progress(progress), m_filter(opt.includes, opt.excludes) {}
  ~Restorer() { close_dir_feed(); }  // the thread making directories ends, and is joined
  Restorer(const Restorer&) = delete;
  Restorer& operator=(const Restorer&) = delete;

  Result<RestoreResult> run(const repo::Snapshot& snapshot);

private:
  // Loads the trees under `root` (at snapshot path `snap`) ahead of collect(),
  // level by level and in parallel; collect() walks depth-first, one tree at a time.
  void prefetch_trees(const Id& root, const std::string& snap);
  Result<repo::Tree> take_tree(const Id& id);
  Status collect(const Id& tree_id, const std::string& rel, const std::string& snap, std::size_t depth);
  void add_node(Node node, const std::string& rel, std::size_t depth);
  // The item's absolute path in the snapshot, for messages.
  std::string snap_of(const Item& item) const { return m_snap_prefix + item.rel; }
  // Creates the entries and writes the files' content, the writes of a pack
  // starting as soon as the files it writes to exist.
  Status restore_files();
  // Plans the writes of the files' content (m_plan), also of files that will not
  // be created (their writes are skipped); a file missing a blob is added to
  // `missing`, with the blob, and gets no writes.
  void plan_content(std::vector<std::pair<std::size_t, std::string>>& missing);
  // The end of a batch of items starting at `begin`: at least k_batch items, and
  // no directory's run of entries split between two batches, so that two threads
  // seldom create entries in one directory (they would wait on its lock).
  std::size_t batch_end(std::size_t begin) const {
    std::size_t end = std::min(m_items.size(), begin + k_batch);
    if (end == m_items.size()) return end;
    const std::string_view parent = parent_of(m_items[end - 1].rel);
    while (end < m_items.size() && parent_of(m_items[end].rel) == parent) ++end;
    return end;
  }
  Status create_one(Item& item, std::size_t index, ParentDir& parent);
  Status create_dir(const Item& item, ParentDir& parent);
  // Directories are made on a thread of their own, in the order they are handed
  // over (a parent before its children); nothing below one that could not be
  // made is tried. wait_dirs(end) returns once every directory among the items
  // before `end` has been tried, and below_failed_dir() tells whether an item
  // lies below one that could not be made: files are created while the last
  // directories are still being made. finish_dirs() waits for the last, reports
  // those not made and marks them and what is below them not created.
  void start_dirs();
  void add_dir(std::size_t index, const Item& item);
  void close_dir_feed();
  void wait_dirs(std::size_t end);
  bool below_failed_dir(const std::string& rel);
  void finish_dirs();
  // Writes `blobs` (sorted by offset) of one pack to their files.
  void restore_pack(const Id& pack_id, std::span<PlannedBlob> blobs);
  void fail_blob(const PlannedBlob& planned, const std::string& why);
  void write_blob(const PlannedBlob& planned, ByteSpan data, ParentDir& parent);
  // Closes the file's descriptor (if open), counting one fewer kept open; what
  // close(2) reports matters only after writes.
  Status close_file(FileState& state, const std::string& name);
  // Opens the file for writing unless it is open (kept from creation); false, with
  // the file marked failed, when it cannot be.
  bool open_file(FileState& state, const Item& item, ParentDir& parent);
  void size_file(FileState& state, const Item& item, ParentDir& parent);
  void apply_metadata(const Item& item, ParentDir& parent);
  void set_metadata(const Item& item, const MetaTarget& target);
  // Runs work(k, parent) for every k in [0, count) on the pool, in batches of
  // k_batch with a ParentDir each, and waits for all.
  void in_batches(ThreadPool& pool, std::size_t count, const std::function<void(std::size_t, ParentDir&)>& work);
  void apply_file_metadata(ThreadPool& pool);
  void apply_dir_metadata(ThreadPool& pool);
  unsigned threads() const { return m_opt.threads ? m_opt.threads : ThreadPool::default_threads(); }
  void verify_files();
  // Entries created, counted by the creating threads without a lock.
  void count(std::atomic<std::uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
  void problem(const std::string& path, const std::string& error) {
    std::lock_guard lock(m_problem_mutex);
    m_result.errors.push_back({path, error});
    if (m_progress) m_progress->errors++;
  }

  const repo::Repository& m_repo;
  const RestoreOptions& m_opt;
  Progress* m_progress;
  PathFilter m_filter;
  Fd m_root;
  std::deque<Item> m_items;  // a deque: no copy of the whole list when it grows
  std::vector<std::unique_ptr<FileState>> m_files;  // parallel to m_items (files only)
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::size_t> m_hardlinks;
  std::unordered_map<Id, repo::Tree, IdHash> m_trees;  // prefetched, each taken once by collect()
  std::map<Id, std::vector<PlannedBlob>> m_plan;  // by pack
  std::mutex m_problem_mutex;
  std::string m_snap_prefix;  // snapshot path of the target's top
  RestoreResult m_result;
  const uid_t m_euid = ::geteuid();
  const bool m_is_root = m_euid == 0;
  std::optional<mode_t> m_umask = read_umask();
  // Files created are kept open for their writes, up to this many at once:
  // closing and reopening one costs two system calls (a lookup beneath the target).
  std::size_t m_keep_open_limit = keep_open_limit();
  std::atomic<std::size_t> m_kept_open{0};
  std::atomic<std::uint64_t> m_files_created{0}, m_dirs_created{0}, m_other_created{0};

  static std::size_t keep_open_limit() {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    // What this process may open but 1024 (or half of a smaller limit), left for
    // pack reads, directories and connections.
    const rlim_t spare = rl.rlim_cur > 2 * k_reserved_fds ? rl.rlim_cur - k_reserved_fds : rl.rlim_cur / 2;
    return static_cast<std::size_t>(std::min<rlim_t>(spare, k_max_kept_open));
  }
  static constexpr rlim_t k_max_kept_open = 1 << 16;
  static constexpr rlim_t k_reserved_fds = 1024;

  struct DirFeed {
    std::mutex mutex;
    std::condition_variable ready;
    std::vector<std::pair<std::size_t, const Item*>> queue;  // index and item (a deque keeps items in place)
    bool closed = false;
    std::condition_variable made;       // made_upto moved on, or the thread ended
    std::size_t made_upto = 0;          // every directory among the items before it has been tried
    bool ended = false;                 // the thread making them has returned
    std::vector<std::pair<std::size_t, std::string>> failures;  // directories not made: item, why
    std::atomic<bool> any_failed{false};
  };
  DirFeed m_dir_feed;
  std::jthread m_dir_maker;  // last: joined before the members it uses go
};

void Restorer::add_node(Node node, const std::string& rel, std::size_t depth) {
  Item item{rel, std::move(node), depth};
  if (item.node.type == FileType::file && item.node.nlink > 1) {
    auto key = std::make_pair(item.node.device, item.node.inode);
    auto [it, inserted] = m_hardlinks.emplace(key, m_items.size());
    if (!inserted) item.link_to = it->second;
  }
  m_items.push_back(std::move(item));
  if (m_dir_maker.joinable() && m_items.back().node.type == FileType::dir) add_dir(m_items.size() - 1, m_items.back());
}

void Restorer::prefetch_trees(const Id& root, const std::string& snap) {
  // Breadth first, with no wait between levels: a tree's subtrees are queued as
  // soon as it is taken, so the pool always has trees to load.
  struct Loading {
    Id id;
    std::string snap;
    std::future<Result<repo::Tree>> tree;
  };
  ThreadPool pool(threads() + 2, 4 * (threads() + 2));
  auto load = [&](const Id& id, std::string at) {
    return Loading{id, std::move(at), pool.submit([this, id] { return m_repo.load_tree(id); })};
  };
  std::deque<Loading> loading;
  std::unordered_set<Id, IdHash> seen{root};
  loading.push_back(load(root, snap));
  while (!loading.empty()) {
    Loading next = std::move(loading.front());
    loading.pop_front();
    auto tree = next.tree.get();
    if (!tree || cancelled()) continue;  // collect() loads it again and reports the error
    for (const Node& node : tree->nodes) {
      if (node.type != FileType::dir || !node.subtree) continue;
      // The same choice as collect() makes: skip what it would not walk.
      std::string child_snap = join_path(next.snap, node.name);
      if (m_filter.excluded(child_snap)) continue;
      if (!m_filter.included(child_snap) && !m_filter.may_contain_included(child_snap)) continue;
      if (seen.insert(*node.subtree).second) loading.push_back(load(*node.subtree, std::move(child_snap)));
    }
    m_trees.emplace(next.id, std::move(*tree));
  }
}

Result<repo::Tree> Restorer::take_tree(const Id& id) {
  // A tree is cached once; a second directory with the same tree (two empty
  // directories, say) loads it again rather than keeping a copy of every tree.
  auto it = m_trees.find(id);
  if (it == m_trees.end()) return m_repo.load_tree(id);
  repo::Tree tree = std::move(it->second);
  m_trees.erase(it);
  return tree;
}

Status Restorer::collect(const Id& tree_id, const std::string& rel, const std::string& snap, std::size_t depth) {
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(snap));
  KHO_TRY_ASSIGN(repo::Tree tree, take_tree(tree_id));
  for (auto& node : tree.nodes) {
    std::string child_snap = join_path(snap, node.name);
    std::string child_rel = rel.empty() ? node.name : rel + "/" + node.name;
    if (m_filter.excluded(child_snap)) continue;
    if (node.type == FileType::dir) {
      bool wanted = m_filter.included(child_snap);
      if (!wanted && !m_filter.may_contain_included(child_snap)) continue;
      std::size_t before = m_items.size();
      Id sub = *node.subtree;
      add_node(node, child_rel, depth + 1);
      auto st = collect(sub, child_rel, child_snap, depth + 1);
      if (!st) {
        if (st.error().code() == Errc::interrupted) return st;
        problem(child_snap, st.error().message());
      }
      // A directory walked only to reach included paths, with none below it, is dropped.
      if (!wanted && m_items.size() == before + 1) m_items.pop_back();
      continue;
    }
    if (!m_filter.included(child_snap)) continue;
    add_node(std::move(node), child_rel, depth + 1);
  }
  return {};
}

Status Restorer::create_dir(const Item& item, ParentDir& parent) {
  auto [parent_rel, name] = split_parent(item.rel);
  KHO_TRY_ASSIGN(const int dir, parent.open(parent_rel));
  if (::mkdirat(dir, name.c_str(), 0700) != 0) {
    if (errno != EEXIST) return fail_errno("cannot create directory " + item.rel, errno);
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(item.rel, errno);
    if (!S_ISDIR(st.st_mode)) {
      if (::unlinkat(dir, name.c_str(), 0) != 0 || ::mkdirat(dir, name.c_str(), 0700) != 0)
        return fail_errno("cannot replace " + item.rel + " with a directory", errno);
    }
  }
  count(m_dirs_created);
  return {};
}

void Restorer::start_dirs() {
  m_dir_maker = std::jthread([this] {
    // However the thread returns, whoever waits for directories is let go.
    struct Ended {
      DirFeed& feed;
      ~Ended() {
        {
          std::lock_guard lock(feed.mutex);
          feed.ended = true;
        }
        feed.made.notify_all();
      }
    } ended{m_dir_feed};
    ParentDir parent(m_root.get());
    std::string failed;  // "rel/" of the last directory not made: nothing below it is tried
    std::vector<std::pair<std::size_t, const Item*>> batch;
    for (;;) {
      {
        std::unique_lock lock(m_dir_feed.mutex);
        m_dir_feed.ready.wait(lock, [this] { return m_dir_feed.closed || !m_dir_feed.queue.empty(); });
        if (m_dir_feed.queue.empty()) return;
        batch.swap(m_dir_feed.queue);
      }
      std::size_t tried = 0;  // of the batch, told to those waiting every so often
      for (const auto& [index, item] : batch) {
        if (cancelled()) return;
        if (failed.empty() || item->rel.compare(0, failed.size(), failed) != 0) {
          if (auto st = create_dir(*item, parent); !st) {
            failed = item->rel + "/";
            std::lock_guard lock(m_dir_feed.mutex);
            m_dir_feed.failures.emplace_back(index, st.error().message());
            m_dir_feed.any_failed = true;
          }
        }
        if (++tried % 64 == 0 || tried == batch.size()) {
          {
            std::lock_guard lock(m_dir_feed.mutex);
            m_dir_feed.made_upto = index + 1;
          }
          m_dir_feed.made.notify_all();
        }
      }
      batch.clear();
    }
  });
}

void Restorer::add_dir(std::size_t index, const Item& item) {
  bool was_empty;
  {
    std::lock_guard lock(m_dir_feed.mutex);
    was_empty = m_dir_feed.queue.empty();
    m_dir_feed.queue.emplace_back(index, &item);
  }
  if (was_empty) m_dir_feed.ready.notify_one();  // else it is awake, or woken already
}

void Restorer::close_dir_feed() {
  {
    std::lock_guard lock(m_dir_feed.mutex);
    m_dir_feed.closed = true;
  }
  m_dir_feed.ready.notify_one();
}

void Restorer::wait_dirs(std::size_t end) {
  std::unique_lock lock(m_dir_feed.mutex);
  // Directories are handed over in the items' order: one tried at `end` or after
  // means all before it were.
  m_dir_feed.made.wait(lock, [&] { return m_dir_feed.ended || m_dir_feed.made_upto >= end; });
}

bool Restorer::below_failed_dir(const std::string& rel) {
  if (!m_dir_feed.any_failed.load()) return false;
  std::lock_guard lock(m_dir_feed.mutex);
  for (const auto& [i, why] : m_dir_feed.failures) {
    const std::string& dir = m_items[i].rel;
    if (rel.size() > dir.size() && rel[dir.size()] == '/' && rel.compare(0, dir.size(), dir) == 0) return true;
  }
  return false;
}

void Restorer::finish_dirs() {
  close_dir_feed();
  if (m_dir_maker.joinable()) m_dir_maker.join();
  for (auto& [i, why] : m_dir_feed.failures) {  // in the walk's order
    problem(snap_of(m_items[i]), why);
    m_items[i].not_created = true;
    // Nothing below a directory that could not be made can be restored.
    const std::string prefix = m_items[i].rel + "/";
    for (std::size_t j = i + 1; j < m_items.size() && m_items[j].rel.compare(0, prefix.size(), prefix) == 0; ++j)
      m_items[j].not_created = true;
  }
}

Status Restorer::create_one(Item& item, std::size_t index, ParentDir& parent) {
  const Node& n = item.node;
  if (n.type == FileType::dir) return create_dir(item, parent);
  auto [parent_rel, name] = split_parent(item.rel);
  KHO_TRY_ASSIGN(const int dir, parent.open(parent_rel));
  const bool hardlink = n.type == FileType::file && item.link_to != SIZE_MAX;
  // The size comes from the tree: trust it only when the content adds up to it,
  // so a crafted size cannot make a huge (sparse) file.
  bool all_indexed = true;
  if (n.type == FileType::file && !hardlink) {
    std::uint64_t total = 0;
    for (const Id& id : n.content) {
      auto loc = m_repo.index().find(BlobType::data, id);
      if (!loc) {
        all_indexed = false;  // reported when the content is planned
        break;
      }
      total += loc->blob.raw_length;
    }
    if (all_indexed && total != n.size)
      return failf(Errc::corruption, "{}: its data blobs hold {} bytes but the snapshot records {}", item.rel, total,
                   n.size);
  }
  // A file that gets its owner and group from this process anyway is created
  // with its mode, when the umask leaves that whole and it lets the owner write
  // (for a reopen): no owner look-up nor change of mode after. Owners are set
  // only by root. An access ACL set after would change the mode: not so.
  bool made_final = false;
  if (n.type == FileType::file && !hardlink && m_umask && (n.mode & ~mode_t{0777}) == 0 && (n.mode & *m_umask) == 0 &&
      (n.mode & S_IWUSR) != 0 &&
      std::none_of(n.xattrs.begin(), n.xattrs.end(), [](const auto& x) { return x.first == "system.posix_acl_access"; }))
    if (auto group = parent.new_file_group()) made_final = !m_is_root || (n.uid == m_euid && n.gid == *group);
  // Anything else replaces what is there (but never a directory). Creating is
  // tried first; what is in the way is looked at only when that fails.
  Fd file;
  const char* nm = name.c_str();
  auto create = [&]() -> int {
    switch (n.type) {
      case FileType::file: {
        if (hardlink) return ::linkat(m_root.get(), m_items[item.link_to].rel.c_str(), dir, nm, 0);
        const int fd =
            ::openat(dir, nm, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, made_final ? n.mode : 0600);
        if (fd < 0) return -1;
        file = Fd(fd);
        return 0;
      }
      case FileType::symlink:
        return ::symlinkat(n.link_target.c_str(), dir, nm);
      case FileType::fifo:
        return ::mkfifoat(dir, nm, 0600);
      case FileType::chardev:
      case FileType::blockdev:
      case FileType::socket: {
        const mode_t kind = n.type == FileType::chardev ? S_IFCHR : n.type == FileType::blockdev ? S_IFBLK : S_IFSOCK;
        return ::mknodat(dir, nm, kind | 0600, static_cast<dev_t>(n.rdev));
      }
      default:
        return 0;
    }
  };
  int rc = create();
  if (rc != 0 && errno == EEXIST) {
    KHO_TRY_STATUS(clear_name(dir, name, item.rel));
    rc = create();
  }
  if (rc != 0) {
    const int err = errno;
    const char* what = hardlink                        ? "cannot create hard link "
                       : n.type == FileType::file      ? "cannot create "
                       : n.type == FileType::symlink   ? "cannot create symlink "
                       : n.type == FileType::fifo      ? "cannot create fifo "
                                                       : "cannot create special file ";
    return fail_errno(what + item.rel, err);
  }
  if (n.type != FileType::file) {
    count(m_other_created);
    return {};
  }
  if (!hardlink) {
    // The size is set when the writes are done, and only if the last bytes were
    // zeros (not written): a file whose last blob is written has it already.
    auto state = std::make_unique<FileState>();
    state->remaining = n.content.size();
    state->size = n.size;  // a file missing blobs fails before it is sized
    state->made_final = made_final;
    if (state->remaining == 0) {
      set_metadata(item, {.fd = file.get(), .made_final = made_final});  // an empty file: nothing to write
      state->meta_set = true;
    } else if (m_kept_open.fetch_add(1, std::memory_order_relaxed) < m_keep_open_limit) {
      state->fd = std::move(file);
      state->kept = true;
    } else {
      m_kept_open.fetch_sub(1, std::memory_order_relaxed);
    }
    m_files[index] = std::move(state);
  }
  count(m_files_created);
  return {};
}

Status Restorer::restore_files() {
  m_files.resize(m_items.size());
  // The content is planned on a thread of its own while directories and files
  // are created: it reads only the items' blob lists and the index.
  std::vector<std::pair<std::size_t, std::string>> missing;  // files with a blob the index lacks: item, why
  std::jthread planner([this, &missing] { plan_content(missing); });
  // Directories in order: a parent exists before its children. Most are made
  // already, while the snapshot was walked; a batch of other items is created
  // once the directories before its end have been tried.
  if (!m_dir_maker.joinable()) {
    start_dirs();
    for (std::size_t i = 0; i < m_items.size(); ++i)
      if (m_items[i].node.type == FileType::dir) add_dir(i, m_items[i]);
  }
  close_dir_feed();
  auto create = [this](std::size_t i, ParentDir& parent) {
    auto st = create_one(m_items[i], i, parent);
    if (!st) {
      problem(snap_of(m_items[i]), st.error().message());
      m_items[i].not_created = true;
    }
  };
  std::vector<std::size_t> ends;  // of the batches of items handed to a creating thread
  for (std::size_t begin = 0; begin < m_items.size(); begin = ends.back()) ends.push_back(batch_end(begin));
  CreationMark created(std::move(ends));
  // Pack reads are I/O: keep one more in flight than there are cores (each
  // thread holds a read buffer and a decompression buffer of up to 2 MiB).
  ThreadPool writers(threads() + 1, threads() + 1);
  std::vector<std::future<void>> written;
  {
    // Files, links and special files are created in parallel: creating files is
    // kernel work that scales with cores on most filesystems. Items go to the
    // threads in batches, which keeps the hand-offs few and the parent directory
    // open. The pack writes start while files are still being created, each once
    // the files it writes to exist.
    ThreadPool creators(threads() + 2, created.batches());
    std::vector<std::future<void>> creating;
    for (std::size_t k = 0; k < created.batches(); ++k) {
      const auto range = created.batch(k);
      creating.push_back(creators.submit([this, &create, &created, k, begin = range.first, end = range.second] {
        struct Finish {
          CreationMark& mark;
          std::size_t batch;
          ~Finish() { mark.finish(batch); }
        } finish{created, k};
        wait_dirs(end);
        ParentDir parent(m_root.get());
        for (std::size_t i = begin; i < end; ++i) {
          if (m_items[i].node.type == FileType::dir || m_items[i].link_to != SIZE_MAX) continue;
          if (cancelled()) return;
          if (below_failed_dir(m_items[i].rel)) continue;  // reported with its directory
          create(i, parent);
        }
      }));
    }
    planner.join();
    ::malloc_trim(0);  // the planner's look-up table
    // Packs in the order of the last file they write to: mostly the order files
    // are created in.
    std::vector<std::pair<std::size_t, decltype(m_plan)::value_type*>> order;
    order.reserve(m_plan.size());
    for (auto& entry : m_plan) {
      std::size_t last = 0;
      for (const auto& blob : entry.second)
        for (const auto& use : blob.uses) last = std::max(last, use.item);
      order.emplace_back(last, &entry);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& pack : order) {
      if (cancelled()) break;
      created.wait_for(pack.first);
      auto* entry = pack.second;
      auto& blobs = entry->second;
      std::sort(blobs.begin(), blobs.end(),
                [](const PlannedBlob& a, const PlannedBlob& b) { return a.blob.offset < b.blob.offset; });
      // A pack goes to the writers in pieces of ~k_restore_piece stored bytes:
      // the last packs are then shared by all threads instead of one writing a
      // whole pack while the others have nothing left.
      for (std::size_t begin = 0; begin < blobs.size();) {
        std::size_t end = begin;
        std::uint64_t bytes = 0;
        while (end < blobs.size() && (end == begin || bytes < k_restore_piece))
          bytes += blobs[end++].blob.stored_length;
        std::span<PlannedBlob> piece(blobs.data() + begin, end - begin);
        written.push_back(writers.submit([this, entry, piece] { restore_pack(entry->first, piece); }));
        begin = end;
      }
    }
    for (auto& f : creating) f.get();
  }
  finish_dirs();
  // Hard links to an earlier file come last, once their target exists.
  if (!cancelled()) {
    ParentDir link_parent(m_root.get());
    for (std::size_t i = 0; i < m_items.size(); ++i)
      if (!m_items[i].not_created && m_items[i].link_to != SIZE_MAX) create(i, link_parent);
  }
  // Files missing a blob have no writes planned.
  for (auto& [i, why] : missing) {
    if (!m_files[i]) continue;
    std::lock_guard lock(m_files[i]->mutex);
    m_files[i]->failed = true;
    m_files[i]->error = std::move(why);
    m_files[i]->remaining = 0;
    (void)close_file(*m_files[i], m_items[i].rel);  // nothing will be written: it is removed after the writes
  }
  // The writes need the plan only: the blob lists go (unless --verify reads them
  // again), and the memory planning took goes back to the system.
  if (!m_opt.verify)
    for (auto& item : m_items) std::vector<Id>().swap(item.node.content);
  ::malloc_trim(0);
  for (auto& f : written) f.get();
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  return {};
}

void Restorer::plan_content(std::vector<std::pair<std::size_t, std::string>>& missing) {
  // Which blob goes where, grouped by pack; each blob once, with every place it is written to.
  // A file missing a blob gets no writes: it is removed after them.
  std::unordered_map<Id, std::size_t, IdHash> plan_pos;  // blob -> position in its pack's list
  std::vector<repo::BlobLocation> locs;
  for (std::size_t i = 0; i < m_items.size() && !cancelled(); ++i) {
    const Item& item = m_items[i];
    if (item.node.type != FileType::file || item.link_to != SIZE_MAX) continue;
    locs.clear();
    for (const Id& id : item.node.content) {
      auto loc = m_repo.index().find(BlobType::data, id);
      if (!loc) {
        missing.emplace_back(i, "data blob " + id.hex() + " is missing from the repository");
        break;
      }
      locs.push_back(*loc);
    }
    if (locs.size() != item.node.content.size()) continue;
    std::uint64_t offset = 0;
    for (const auto& loc : locs) {
      auto& blobs = m_plan[loc.pack_id];
      auto [pos, inserted] = plan_pos.emplace(loc.blob.id, blobs.size());
      if (inserted) blobs.push_back({loc.blob, {}});
      blobs[pos->second].uses.push_back({i, offset});
      offset += loc.blob.raw_length;
    }
  }
}

void Restorer::fail_blob(const PlannedBlob& planned, const std::string& why) {
  for (const auto& use : planned.uses) {
    if (!m_files[use.item]) continue;  // not created (reported)
    auto& state = *m_files[use.item];
    std::lock_guard lock(state.mutex);
    if (!state.failed) {
      state.failed = true;
      state.error = why;
    }
    if (state.remaining > 0 && --state.remaining == 0) (void)close_file(state, m_items[use.item].rel);
  }
}

Status Restorer::close_file(FileState& state, const std::string& name) {
  auto st = state.fd ? state.fd.close(name) : Status{};
  if (state.kept) m_kept_open.fetch_sub(1, std::memory_order_relaxed);
  state.kept = false;
  return st;
}

void Restorer::write_blob(const PlannedBlob& planned, ByteSpan data, ParentDir& parent) {
  bool zero = std::all_of(data.begin(), data.end(), [](std::uint8_t b) { return b == 0; });
  for (const auto& use : planned.uses) {
    if (!m_files[use.item]) continue;  // not created (reported)
    auto& state = *m_files[use.item];
    const Item& item = m_items[use.item];
    std::lock_guard lock(state.mutex);
    if (!state.failed && !zero) {
      if (open_file(state, item, parent)) {
        std::size_t done = 0;
        while (done < data.size()) {
          ssize_t n = ::pwrite(state.fd.get(), data.data() + done, data.size() - done,
                               static_cast<off_t>(use.offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            state.failed = true;
            state.error = std::string("cannot write: ") + std::strerror(n < 0 ? errno : EIO);
            break;
          }
          done += static_cast<std::size_t>(n);
        }
        if (!state.failed) state.end = std::max<std::uint64_t>(state.end, use.offset + data.size());
      }
    }
    if (m_progress) m_progress->bytes_done += data.size();
    if (state.remaining > 0 && --state.remaining == 0) {
      if (!state.failed && state.end < state.size) size_file(state, item, parent);
      if (!state.failed && state.fd) {
        // Set while the file is open: no lookup of its name again.
        set_metadata(item, {.fd = state.fd.get(), .made_final = state.made_final});
        state.meta_set = true;
      }
      if (auto st = close_file(state, item.rel); !st && !state.failed) {
        state.failed = true;
        state.error = st.error().message();
      }
      if (m_progress) {
        m_progress->files_done++;
        if (m_progress->log && !state.failed) m_progress->log("restored", snap_of(item));
      }
    }
  }
}

bool Restorer::open_file(FileState& state, const Item& item, ParentDir& parent) {
  if (state.fd) return true;
  // By its name in its directory: consecutive blobs of a pack mostly belong to
  // files of one directory, which stays open, so a lookup of one name is all.
  auto [parent_rel, name] = split_parent(item.rel);
  auto dir = parent.open(parent_rel);
  auto fd = dir ? open_beneath(*dir, name, O_WRONLY | O_NOFOLLOW, 0) : Result<Fd>(tl::unexpected(dir.error()));
  if (!fd) {
    state.failed = true;
    state.error = fd.error().message();
    return false;
  }
  state.fd = std::move(*fd);
  return true;
}

void Restorer::size_file(FileState& state, const Item& item, ParentDir& parent) {
  // Its last bytes are zeros, left unwritten: the size makes them a hole.
  if (!open_file(state, item, parent)) return;
  if (::ftruncate(state.fd.get(), static_cast<off_t>(state.size)) != 0) {
    state.failed = true;
    state.error = std::string("cannot set its size: ") + std::strerror(errno);
  }
}

void Restorer::restore_pack(const Id& pack_id, std::span<PlannedBlob> blobs) {
  std::vector<repo::PackedBlob> sorted;
  sorted.reserve(blobs.size());
  for (const auto& p : blobs) sorted.push_back(p.blob);
  ParentDir parent(m_root.get());
  repo::read_pack_blobs(
      m_repo.backend(), pack_id, sorted,
      [&](std::size_t k, const Result<std::span<std::uint8_t>>& stored) {
        const PlannedBlob& p = blobs[k];
        std::string what = fmt::format("data blob {} in pack {}", p.blob.id.hex(), pack_id.hex());
        if (!stored) {
          fail_blob(p, "cannot read " + what + ": " + stored.error().message());
          return;
        }
        auto raw = repo::open_blob_in_place(m_repo.keys(), p.blob, *stored, what);
        if (!raw) {
          fail_blob(p, raw.error().message());
          return;
        }
        write_blob(p, *raw, parent);
      },
      [] { return cancelled(); });
}

void Restorer::apply_metadata(const Item& item, ParentDir& parent) {
  auto [parent_rel, name] = split_parent(item.rel);
  auto dir = parent.open(parent_rel);
  if (!dir) {
    problem(snap_of(item), "cannot set metadata: " + dir.error().message());
    return;
  }
  set_metadata(item, {.dir = *dir, .name = name.c_str()});
}

void Restorer::set_metadata(const Item& item, const MetaTarget& t) {
  const Node& n = item.node;
  const bool by_fd = t.fd >= 0;
  // A file made by this restore mostly has its owner already (root's files
  // restored by root): asking costs less than a change, which the filesystem
  // journals even when it changes nothing.
  struct stat st;
  const bool owned = t.made_final || (m_is_root && by_fd && ::fstat(t.fd, &st) == 0 && st.st_uid == n.uid &&
                                      st.st_gid == n.gid);
  if (m_is_root && !owned &&
      (by_fd ? ::fchown(t.fd, n.uid, n.gid) : ::fchownat(t.dir, t.name, n.uid, n.gid, AT_SYMLINK_NOFOLLOW)) != 0)
    problem(snap_of(item), std::string("cannot set owner: ") + std::strerror(errno));
  for (const auto& [key, value] : n.xattrs) {
    int rc;
    if (by_fd) {
      rc = ::fsetxattr(t.fd, key.c_str(), value.data(), value.size(), 0);
    } else {
      // l*xattr on a path: never follows the final symlink.
      std::string full = "/proc/self/fd/" + std::to_string(t.dir) + "/" + t.name;
      rc = ::lsetxattr(full.c_str(), key.c_str(), value.data(), value.size(), 0);
    }
    if (rc != 0 && errno != ENOTSUP && errno != EPERM)
      problem(snap_of(item), "cannot set xattr " + key + ": " + std::strerror(errno));
  }
  if (n.type != FileType::symlink && !t.made_final &&
      (by_fd ? ::fchmod(t.fd, n.mode) : ::fchmodat(t.dir, t.name, n.mode, 0)) != 0)
    problem(snap_of(item), std::string("cannot set mode: ") + std::strerror(errno));
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(n.mtime_ns / 1'000'000'000);
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(n.mtime_ns % 1'000'000'000);
  if (times[0].tv_nsec < 0) {
    times[0].tv_nsec = times[1].tv_nsec = times[0].tv_nsec + 1'000'000'000;
    times[0].tv_sec = times[1].tv_sec = times[0].tv_sec - 1;
  }
  if ((by_fd ? ::futimens(t.fd, times) : ::utimensat(t.dir, t.name, times, AT_SYMLINK_NOFOLLOW)) != 0)
    problem(snap_of(item), std::string("cannot set times: ") + std::strerror(errno));
}

void Restorer::in_batches(ThreadPool& pool, std::size_t count,
                          const std::function<void(std::size_t, ParentDir&)>& work) {
  std::vector<std::future<void>> done;
  for (std::size_t begin = 0; begin < count; begin += k_batch) {
    const std::size_t end = std::min(count, begin + k_batch);
    done.push_back(pool.submit([this, &work, begin, end] {
      ParentDir parent(m_root.get());
      for (std::size_t k = begin; k < end; ++k) work(k, parent);
    }));
  }
  for (auto& f : done) f.get();
}

void Restorer::apply_file_metadata(ThreadPool& pool) {
  // Owner, mode, xattrs and times of everything but directories, in parallel:
  // each is a few system calls on its own name.
  in_batches(pool, m_items.size(), [this](std::size_t i, ParentDir& parent) {
    const Item& item = m_items[i];
    if (item.node.type == FileType::dir || item.not_created) return;
    const std::size_t source = item.link_to != SIZE_MAX ? item.link_to : i;
    // A file's metadata was set through its descriptor when its writes were
    // done (a hard link shares it).
    if (m_files[source] && (m_files[source]->failed || m_files[source]->meta_set)) return;
    apply_metadata(item, parent);
  });
}

void Restorer::apply_dir_metadata(ThreadPool& pool) {
  // Deepest first, so that no directory's mode stands in the way of those below
  // it; the directories of one depth do not touch each other, and are done in
  // parallel.
  std::vector<std::size_t> dirs;
  for (std::size_t i = 0; i < m_items.size(); ++i)
    if (m_items[i].node.type == FileType::dir && !m_items[i].not_created) dirs.push_back(i);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [&](std::size_t a, std::size_t b) { return m_items[a].depth > m_items[b].depth; });
  for (std::size_t level = 0, level_end = 0; level < dirs.size(); level = level_end) {
    const std::size_t depth = m_items[dirs[level]].depth;
    while (level_end < dirs.size() && m_items[dirs[level_end]].depth == depth) ++level_end;
    in_batches(pool, level_end - level,
               [&](std::size_t k, ParentDir& parent) { apply_metadata(m_items[dirs[level + k]], parent); });
  }
}

void Restorer::verify_files() {
  unsigned threads = m_opt.threads ? m_opt.threads : ThreadPool::default_threads();
  ThreadPool pool(threads, threads * 2);
  std::mutex mutex;
  std::vector<std::future<void>> done;
  for (std::size_t i = 0; i < m_items.size(); ++i) {
    if (!m_files[i] || m_files[i]->failed) continue;
    done.push_back(pool.submit([this, i, &mutex] {
      const Item& item = m_items[i];
      auto report = [&](const std::string& why) {
        std::lock_guard lock(mutex);
        m_result.verify_failures.push_back({snap_of(item), why});
      };
      auto fd = open_beneath(m_root.get(), item.rel, O_RDONLY | O_NOFOLLOW, 0);
      if (!fd) return report(fd.error().message());
      Bytes buf;
      std::uint64_t offset = 0;
      for (const Id& id : item.node.content) {
        auto loc = m_repo.index().find(BlobType::data, id);
        if (!loc) return report("blob " + id.hex() + " missing");
        buf.resize(loc->blob.raw_length);
        auto n = pread_all(fd->get(), buf.data(), buf.size(), offset, item.rel);
        if (!n || *n != buf.size()) return report("file is shorter than in the snapshot");
        if (m_repo.hash_blob(buf) != id) return report(fmt::format("content differs at offset {}", offset));
        offset += buf.size();
      }
      struct stat st;
      if (::fstat(fd->get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != offset)
        return report("file size differs from the snapshot");
    }));
  }
  for (auto& f : done) f.get();
}

Result<RestoreResult> Restorer::run(const repo::Snapshot& snapshot) {
  TimeNs start = now_ns();
  if (m_opt.target.empty()) return fail(Errc::invalid_argument, "no restore target given (--target DIR)");
  if (::mkdir(m_opt.target.c_str(), 0700) != 0 && errno != EEXIST)
    return fail_errno("cannot create the restore target " + m_opt.target, errno);
  KHO_TRY_ASSIGN(m_root, open_fd(m_opt.target, O_RDONLY | O_DIRECTORY));

  // Directories are made on a thread of their own as the walk finds them, unless
  // include patterns may drop a directory walked only to look below it (then
  // restore_files() hands them over after the walk).
  if (!m_filter.has_includes()) start_dirs();
  // Find the node the restore starts from.
  std::string sub = m_opt.subpath;
  while (sub.size() > 1 && sub.back() == '/') sub.pop_back();
  if (sub.empty() || sub == "/") {
    m_snap_prefix = "/";
    prefetch_trees(snapshot.tree, "/");
    KHO_TRY_STATUS(collect(snapshot.tree, "", "/", 0));
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
      m_snap_prefix = snap_path + "/";
      prefetch_trees(*found->subtree, snap_path);
      KHO_TRY_STATUS(collect(*found->subtree, "", snap_path, 0));
    } else {
      std::string name = found->name;
      m_snap_prefix = snap_path.substr(0, snap_path.size() - name.size());
      add_node(*found, name, 1);
    }
  }
  std::uint64_t total = 0;
  for (const auto& it : m_items)
    if (it.node.type == FileType::file && it.link_to == SIZE_MAX) total += it.node.size;
  if (m_progress) {
    m_progress->bytes_total = total;
    m_progress->files_total = m_items.size();
  }
  KHO_TRY_STATUS(restore_files());
  m_result.files = m_files_created;
  m_result.dirs = m_dirs_created;
  m_result.other = m_other_created;
  for (std::size_t i = 0; i < m_items.size(); ++i) {
    std::size_t source = m_items[i].link_to != SIZE_MAX ? m_items[i].link_to : i;
    if (!m_files[source] || !m_files[source]->failed) continue;
    // A file missing data is removed rather than left looking complete.
    ::unlinkat(m_root.get(), m_items[i].rel.c_str(), 0);
    problem(snap_of(m_items[i]), "not restored: " + m_files[source]->error);
    m_result.files--;
  }
  {
    // Both metadata passes run on one pool: a few system calls per item, so
    // more threads than cores.
    ThreadPool pool(threads() + 2, 4 * (threads() + 2));
    apply_file_metadata(pool);
    apply_dir_metadata(pool);
  }
  for (std::size_t i = 0; i < m_items.size(); ++i)
    if (m_files[i] && !m_files[i]->failed) m_result.bytes += m_items[i].node.size;
  if (m_opt.verify) verify_files();
  m_result.duration_s = static_cast<double>(now_ns() - start) / 1e9;
  return std::move(m_result);
}

}  // namespace

Result<RestoreResult> run_restore(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                  const RestoreOptions& options, Progress* progress) {
  Restorer restorer(repo, options, progress);
  return restorer.run(snapshot);
}

}  // namespace kho::engine
