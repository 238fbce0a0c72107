#include "kho/engine/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <variant>

#include "kho/platform/fs.hpp"
#include "kho/platform/process.hpp"
#include "kho/repo/blob_writer.hpp"
#include "kho/util/crash_point.hpp"
#include "kho/util/fd.hpp"
#include "kho/util/glob.hpp"
#include "kho/util/json.hpp"
#include "kho/util/path.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using platform::FileInfo;
using platform::FileType;
using repo::BlobType;
using repo::Node;
using repo::Tree;

std::atomic<bool>& cancel_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

// Files are read in blocks of this size into a per-thread buffer of two blocks,
// which grows (up to the largest chunk plus a block) only for a window without
// a cut point. Small blocks keep the resident memory per reader low.
constexpr std::size_t k_read_block = 2 * 1024 * 1024;
// Files larger than this have their chunks processed in parallel.
constexpr std::size_t k_offload_size = 4 * 1024 * 1024;

// Copies of chunks handed to the blob pool, in buffers that are reused: a fresh
// buffer per chunk cost a page fault per 4 KiB of it, and the faults are dear in
// a virtual machine. Buffers start at k_buffer_size, so most chunks fit any of
// them; larger ones get a buffer of their own that is not kept. At most k_kept
// are kept (more than can be in flight at once), so the memory stays what the
// chunks in flight need.
class ChunkBufferPool {
public:
  struct Buffer {
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t capacity = 0;
    std::size_t size = 0;
    ByteSpan bytes() const { return {data.get(), size}; }
  };

  Buffer copy(ByteSpan chunk) {
    Buffer b;
    {
      std::lock_guard lock(m_mutex);
      if (!m_free.empty() && chunk.size() <= k_buffer_size) {
        b = std::move(m_free.back());
        m_free.pop_back();
      }
    }
    if (b.capacity < chunk.size()) {
      b.capacity = std::max(chunk.size(), k_buffer_size);
      b.data = std::make_unique_for_overwrite<std::uint8_t[]>(b.capacity);
    }
    std::copy(chunk.begin(), chunk.end(), b.data.get());
    b.size = chunk.size();
    return b;
  }

  void give_back(Buffer&& b) {
    if (b.capacity != k_buffer_size) return;
    std::lock_guard lock(m_mutex);
    if (m_free.size() < k_kept) m_free.push_back(std::move(b));
  }

private:
  static constexpr std::size_t k_buffer_size = 2 * 1024 * 1024;
  static constexpr std::size_t k_kept = 4;
  std::mutex m_mutex;
  std::vector<Buffer> m_free;
};

bool all_zero(ByteSpan s) { return !s.empty() && s[0] == 0 && std::memcmp(s.data(), s.data() + 1, s.size() - 1) == 0; }

// The IDs of all-zero chunks stored by this backup, by length: such a chunk's ID
// depends on its length only, and the zeros of a sparse or preallocated file
// (most of them in chunks of the chunker's largest size) need not be hashed,
// copied or looked up again. An ID is added once its chunk is stored.
class ZeroChunkIds {
public:
  std::optional<Id> find(std::size_t size) const {
    std::lock_guard lock(m_mutex);
    for (const auto& known : m_ids)
      if (known.first == size) return known.second;
    return std::nullopt;
  }
  void add(std::size_t size, const Id& id) {
    std::lock_guard lock(m_mutex);
    if (m_ids.size() >= k_max) return;
    for (const auto& known : m_ids)
      if (known.first == size) return;
    m_ids.emplace_back(size, id);
  }

private:
  static constexpr std::size_t k_max = 64;
  mutable std::mutex m_mutex;
  std::vector<std::pair<std::size_t, Id>> m_ids;
};

// A source tree's skeleton: the directories leading to each backed-up path.
struct VirtualDir {
  std::map<std::string, VirtualDir> children;
  std::string real_path;  // absolute path on this machine
  bool is_target = false;
  std::optional<StreamSource> stream;
};

struct Counters {
  std::atomic<std::uint64_t> files_new{0}, files_changed{0}, files_unmodified{0};
  std::atomic<std::uint64_t> dirs_new{0}, dirs_changed{0}, dirs_unmodified{0}, dirs{0};
  std::atomic<std::uint64_t> total_files{0}, total_bytes{0};
};

// Small files are read in batches, one pool task for several: a task (two
// allocations and a wake-up or two of a sleeping thread) per file cost more than
// reading most files of a tree. A batch is sent to the pool when it is full, and
// whenever the walk is about to wait (see Backup::send_queued).
constexpr std::uint64_t k_batch_file_max = 64 * 1024;  // larger files get a task of their own
constexpr std::size_t k_batch_files = 32;
constexpr std::uint64_t k_batch_bytes = 1024 * 1024;

// A directory the walk holds open, shared with the reads of its files still to
// come: they open each file by its name in it, not by its whole path (one name
// to look up instead of every component of the path, and the very directory that
// was listed). The last holder closes it; `count` is the number open at once.
struct OpenDir {
  // `d` kept open and counted, or null (and `d` closed) when `max` are open already.
  static std::shared_ptr<const OpenDir> keep(platform::Dir d, std::atomic<unsigned>& count, unsigned max) {
    if (count++ >= max) {
      count--;
      return nullptr;
    }
    return std::make_shared<const OpenDir>(std::move(d), count);
  }
  OpenDir(platform::Dir d, std::atomic<unsigned>& open) : dir(std::move(d)), count(open) {}
  ~OpenDir() { count--; }
  OpenDir(const OpenDir&) = delete;
  OpenDir& operator=(const OpenDir&) = delete;
  platform::Dir dir;
  std::atomic<unsigned>& count;
};
using OpenDirRef = std::shared_ptr<const OpenDir>;

struct FileBatch {
  struct Entry {
    std::string path;
    Node node;
    bool modified;
    OpenDirRef dir;  // holding the file, or none: it is opened by its path
  };
  std::vector<Entry> entries;
  std::uint64_t bytes = 0;
  std::vector<Result<Node>> results;  // one per entry once `done` is ready
  std::promise<void> finished;
  std::shared_future<void> done = finished.get_future().share();
};

// A file of a batch: its node is results[index] once the batch is done.
struct BatchedNode {
  std::shared_ptr<FileBatch> batch;
  std::size_t index;
};

using PendingNode = std::variant<Node, std::future<Result<Node>>, BatchedNode>;

// A walked directory whose tree blob is written once its entries are ready.
struct DirJob {
  Node node;
  std::vector<PendingNode> children;
  std::optional<Id> parent_subtree;
  std::promise<Result<Node>> promise;
};
constexpr std::size_t k_max_queued_dirs = 4096;
constexpr std::size_t k_dir_wake_batch = 32;
// Directories held open at once, by the walk (one per level) and for files
// queued to be read; past it, entries are looked up and opened by their paths.
constexpr unsigned k_max_open_dirs = 256;

// Errors of reading a source file (it vanished, is unreadable): the file is left
// out of the snapshot; anything else (the repository failing) stops the backup.
bool is_source_error(const Error& e) {
  return e.code() == Errc::io || e.code() == Errc::permission || e.code() == Errc::not_found;
}

std::vector<std::string> split_path(const std::string& abs) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < abs.size()) {
    std::size_t j = abs.find('/', i);
    if (j == std::string::npos) j = abs.size();
    if (j > i) out.push_back(abs.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Node node_from_info(const std::string& name, const FileInfo& info) {
  Node n;
  n.name = name;
  n.type = info.type;
  n.mode = info.mode;
  n.uid = info.uid;
  n.gid = info.gid;
  n.user = platform::user_name(info.uid);
  n.group = platform::group_name(info.gid);
  n.mtime_ns = info.mtime_ns;
  n.ctime_ns = info.ctime_ns;
  n.size = info.type == FileType::file ? info.size : 0;
  n.inode = info.inode;
  n.device = info.device;
  n.nlink = info.nlink;
  n.rdev = info.rdev;
  return n;
}

class Backup {
public:
  Backup(repo::Repository& repo, const BackupOptions& opt, Progress* progress)
      : m_repo(repo),
        m_opt(opt),
        m_progress(progress),
        m_writer(repo),
        m_chunker(repo.config().chunker, repo.gear()),
        m_filter({}, opt.excludes),
        m_blob_pool(opt.threads ? opt.threads : ThreadPool::default_threads(),
                    2 * (opt.threads ? opt.threads : ThreadPool::default_threads())),
        m_pool(opt.threads ? opt.threads : ThreadPool::default_threads(),
               2 * (opt.threads ? opt.threads : ThreadPool::default_threads())) {}

  Result<BackupResult> run();

private:
  std::atomic<bool> m_store_failed{false};  // an upload failed: the backup stops
  std::string m_store_error;                 // the first such failure (under m_errors_mutex)

  void record_error(const std::string& path, const Error& e) {
    std::lock_guard lock(m_errors_mutex);
    m_errors.push_back({path, e.message()});
    if (m_progress) m_progress->errors++;
  }
  // The xattrs of `path`, looked up by name (a file that is read gets them
  // through its descriptor instead); an error is recorded, not returned.
  void xattrs_by_path(const std::string& path, Node& node) {
    if (auto xattrs = platform::get_xattrs(path)) node.xattrs = std::move(*xattrs);
    else record_error(path, xattrs.error());
  }

  template <typename ReadFn>
  Result<std::vector<Id>> store_content(ReadFn&& read, std::uint64_t& total, bool offload, Bytes* head = nullptr);
  // `dir`, when given, holds the file: it is opened there by its name.
  Result<Node> store_file(const std::string& path, Node node, bool modified, const OpenDir* dir);
  Result<Node> read_file(const std::string& path, Node node, bool modified, const OpenDir* dir);
  PendingNode queue_file(std::string path, Node node, bool modified, OpenDirRef dir);
  void send_batch();
  Result<Node> store_stream(const StreamSource& source, const std::string& name);
  Result<PendingNode> save_dir(const std::string& path, Node node, const Node* parent, std::uint64_t root_device);
  void finish_dir(DirJob& job);
  void send_queued();
  void tree_writer_loop();
  // `dir`, when given, is the open directory holding the entry: it is looked up by name there.
  std::optional<PendingNode> process_entry(const std::string& name, const std::string& path, const Node* parent,
                                           std::uint64_t root_device, const OpenDirRef& dir = nullptr);
  Result<Id> save_tree(std::vector<PendingNode>& pending);
  Result<Node> save_virtual(const std::string& name, VirtualDir& dir, const Node* parent);
  Result<Tree> load_parent_tree(const Node* parent);
  bool unchanged(const Node* parent, const FileInfo& info) const;

  repo::Repository& m_repo;
  const BackupOptions& m_opt;
  Progress* m_progress;
  repo::BlobWriter m_writer;
  chunker::Chunker m_chunker;
  PathFilter m_filter;
  Counters m_count;
  std::mutex m_errors_mutex;
  std::vector<repo::SnapshotError> m_errors;
  std::atomic<unsigned> m_open_dirs{0};
  std::mutex m_dir_mutex;
  std::condition_variable m_dir_ready;
  std::condition_variable m_dir_space;
  std::deque<std::unique_ptr<DirJob>> m_dir_queue;
  bool m_dir_closed = false;
  AnomalyCollector m_anomaly;
  std::shared_ptr<FileBatch> m_batch;  // small files not yet sent (walking thread only)
  bool m_has_parent = false;
  ChunkBufferPool m_chunk_buffers;
  ZeroChunkIds m_zero_chunks;
  ThreadPool m_blob_pool;  // seals chunks of large files; outlives m_pool, whose tasks use it
  ThreadPool m_pool;  // last member: joined first, while the rest is alive
};

template <typename ReadFn>
Result<std::vector<Id>> Backup::store_content(ReadFn&& read, std::uint64_t& total, bool offload, Bytes* head) {
  thread_local Bytes buffer;
  const std::size_t max = m_chunker.params().max_size;
  if (buffer.size() < 2 * k_read_block) buffer.resize(2 * k_read_block);
  std::size_t start = 0, end = 0;
  bool eof = false;
  std::vector<Id> ids;
  // With `offload`, chunks are hashed, compressed and encrypted on the blob pool
  // while this thread reads and chunks on: one large file keeps every core busy.
  std::deque<std::future<Result<Id>>> inflight;
  const std::size_t max_inflight = m_blob_pool.size() + 1;
  auto drain_one = [&]() -> Status {
    auto id = inflight.front().get();
    inflight.pop_front();
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
    return {};
  };
  auto store = [this](ByteSpan chunk) -> Result<Id> {
    // After one failed upload the backup is lost anyway: fail fast instead of
    // letting every queued file wait out the backend's retries again.
    if (m_store_failed.load(std::memory_order_acquire)) {
      std::lock_guard lock(m_errors_mutex);
      return fail(Errc::failed, m_store_error);
    }
    const bool zero = all_zero(chunk);
    if (auto known = zero ? m_zero_chunks.find(chunk.size()) : std::nullopt) return *known;
    Id id = m_repo.hash_blob(chunk);
    if (auto saved = m_writer.save(BlobType::data, id, chunk); !saved) {
      std::lock_guard lock(m_errors_mutex);
      if (!m_store_failed.load(std::memory_order_relaxed))
        m_store_error = "cannot store data in the repository: " + saved.error().message();
      m_store_failed.store(true, std::memory_order_release);
      return fail(Errc::failed, m_store_error);
    }
    if (zero) m_zero_chunks.add(chunk.size(), id);
    return id;
  };
  // Reads one more block after the window, moving the window to the front of the
  // buffer (or growing the buffer) when there is no room for it.
  auto read_more = [&]() -> Status {
    if (buffer.size() - end < k_read_block) {
      if (start > 0) {
        std::memmove(buffer.data(), buffer.data() + start, end - start);
        end -= start;
        start = 0;
      }
      if (buffer.size() - end < k_read_block) buffer.resize(end + k_read_block);
    }
    KHO_TRY_ASSIGN(std::size_t n, read(buffer.data() + end, k_read_block));
    if (n == 0) eof = true;
    end += n;
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    return {};
  };
  total = 0;
  chunker::StreamCuts cuts(m_chunker);
  for (;;) {
    while (!eof && end - start < k_read_block) KHO_TRY_STATUS(read_more());
    if (start == end) break;
    // The first bytes, for the anomaly checks (type, entropy), from the data read anyway.
    if (head && total == 0 && head->empty())
      head->assign(buffer.data() + start, buffer.data() + start + std::min(end - start, k_anomaly_head_bytes));
    std::size_t cut = cuts.next(ByteSpan(buffer.data() + start, end - start), eof);
    // No cut point in the window yet: it cannot end before `max` bytes or EOF. A
    // pipe gives a few KiB a read: only the bytes read since are scanned.
    while (cut == 0 && !eof && end - start < max) {
      KHO_TRY_STATUS(read_more());
      cut = cuts.next(ByteSpan(buffer.data() + start, end - start), eof);
    }
    ByteSpan window(buffer.data() + start, end - start);
    if (cut == 0) cut = window.size();  // cannot happen: the window is max-sized or at EOF
    ByteSpan chunk = window.subspan(0, cut);
    if (offload) {
      std::optional<Id> known = all_zero(chunk) ? m_zero_chunks.find(chunk.size()) : std::nullopt;
      if (known) {  // stored already: nothing to copy, hash or seal
        std::promise<Result<Id>> ready;
        ready.set_value(*known);
        inflight.push_back(ready.get_future());
      } else {
        inflight.push_back(m_blob_pool.submit([this, store, data = m_chunk_buffers.copy(chunk)]() mutable {
          auto id = store(data.bytes());
          m_chunk_buffers.give_back(std::move(data));
          return id;
        }));
      }
      while (inflight.size() > max_inflight) KHO_TRY_STATUS(drain_one());
    } else {
      KHO_TRY_ASSIGN(Id id, store(chunk));
      ids.push_back(id);
    }
    start += cut;
    total += cut;
    if (m_progress) m_progress->bytes_done += cut;
  }
  while (!inflight.empty()) KHO_TRY_STATUS(drain_one());
  return ids;
}

Result<Node> Backup::store_file(const std::string& path, Node node, bool modified, const OpenDir* dir) {
  int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  const int at = dir ? dir->dir.fd() : AT_FDCWD;
  const char* name = dir ? node.name.c_str() : path.c_str();
  int fd = ::openat(at, name, flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(at, name, flags);
  if (fd < 0) return fail_errno("cannot open " + path, errno);
  Fd file(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail_errno("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return fail(Errc::io, path + " is no longer a regular file");
  if (auto xattrs = platform::get_xattrs_fd(fd, path)) node.xattrs = std::move(*xattrs);
  else record_error(path, xattrs.error());
  // Larger read-ahead for a file read in several blocks; a system call saved on
  // each small one (most files of a tree).
  if (st.st_size > static_cast<off_t>(k_read_block)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::uint64_t total = 0;
  // A read that comes short where fstat put the end has reached the end: the
  // read that would return 0 is left out (a system call on each small file). A
  // file that grew since is read on.
  std::uint64_t got = 0;
  bool at_end = false;
  // A large file with fewer blocks than its size has holes: they are not read.
  std::optional<SparseReader> sparse;
  if (st.st_size > static_cast<off_t>(k_read_block) && st.st_blocks * 512 < st.st_size) sparse.emplace(fd, path);
  auto read = [&](std::uint8_t* buf, std::size_t size) -> Result<std::size_t> {
    if (at_end) return std::size_t{0};
    KHO_TRY_ASSIGN(std::size_t n, sparse ? sparse->read(buf, size) : read_some(fd, buf, size, path));
    got += n;
    at_end = n < size && got == static_cast<std::uint64_t>(st.st_size);
    return n;
  };
  Bytes head;
  KHO_TRY_ASSIGN(node.content, store_content(read, total, st.st_size > static_cast<off_t>(k_offload_size),
                                             m_opt.score_anomaly ? &head : nullptr));
  if (m_opt.score_anomaly) m_anomaly.file_read(path, modified, total, head);
  node.size = total;
  m_count.total_bytes += total;
  if (m_progress) m_progress->files_done++;
  return node;
}

Result<Node> Backup::store_stream(const StreamSource& source, const std::string& name) {
  KHO_TRY_ASSIGN(platform::ShellCommand cmd, platform::ShellCommand::start(source.command));
  Node node;
  node.name = name;
  node.type = FileType::file;
  node.mode = 0600;
  node.uid = ::getuid();
  node.gid = ::getgid();
  node.user = platform::user_name(node.uid);
  node.group = platform::group_name(node.gid);
  node.nlink = 1;
  std::uint64_t total = 0;
  auto read = [&](std::uint8_t* buf, std::size_t size) { return cmd.read(buf, size); };
  Bytes head;
  auto content = store_content(read, total, true, m_opt.score_anomaly ? &head : nullptr);
  auto status = cmd.wait();
  if (!status) return tl::unexpected(status.error().with_context("source command for " + source.filename));
  if (!content) return tl::unexpected(content.error());
  node.content = std::move(*content);
  node.size = total;
  node.mtime_ns = node.ctime_ns = now_ns();
  // A command's output replaces last night's (a dump): modified when there is a parent.
  if (m_opt.score_anomaly) m_anomaly.file_read("/" + source.filename, m_has_parent, total, head);
  m_count.files_new++;
  m_count.total_files++;
  m_count.total_bytes += total;
  if (m_progress) m_progress->files_done++;
  return node;
}

bool Backup::unchanged(const Node* parent, const FileInfo& info) const {
  if (!parent || m_opt.force_read || parent->type != FileType::file) return false;
  if (parent->size != info.size || parent->mtime_ns != info.mtime_ns || parent->ctime_ns != info.ctime_ns ||
      parent->inode != info.inode)
    return false;
  for (const auto& id : parent->content)
    if (!m_repo.index().has(BlobType::data, id)) return false;
  return true;
}

Result<Tree> Backup::load_parent_tree(const Node* parent) {
  if (!parent || !parent->subtree) return Tree{};
  auto t = m_repo.load_tree(*parent->subtree);
  if (!t) return Tree{};  // a damaged parent only costs re-reading
  return t;
}

std::optional<PendingNode> Backup::process_entry(const std::string& name, const std::string& path,
                                                 const Node* parent, std::uint64_t root_device,
                                                 const OpenDirRef& dir) {
  auto info = dir ? dir->dir.lstat(name, path) : platform::lstat_path(path);
  if (!info) {
    record_error(path, info.error());
    return std::nullopt;
  }
  Node node = node_from_info(name, *info);
  const Node* pnode = parent && parent->type == info->type ? parent : nullptr;
  // The same inode with the same change time as in the parent snapshot has the
  // same xattrs and symlink target: changing either sets the change time. They
  // are taken from the parent instead of asked for again (a path lookup each).
  const bool same_inode = pnode && !m_opt.force_read && pnode->inode == info->inode &&
                          pnode->device == info->device && pnode->ctime_ns == info->ctime_ns;
  // A regular file read again has them read through the descriptor it is read by.
  const bool xattrs_when_read = info->type == FileType::file && !same_inode;
  if (same_inode) node.xattrs = pnode->xattrs;
  else if (!xattrs_when_read) xattrs_by_path(path, node);
  switch (info->type) {
    case FileType::dir: {
      if (m_opt.one_file_system && root_device != 0 && info->device != root_device) {
        // A mount point: keep the directory itself, not the filesystem below it.
        std::vector<PendingNode> none;
        auto id = save_tree(none);
        if (!id) {
          record_error(path, id.error());
          return std::nullopt;
        }
        node.subtree = *id;
        m_count.dirs++;
        return PendingNode(std::move(node));
      }
      auto dir = save_dir(path, std::move(node), pnode, root_device);
      if (!dir) {
        if (dir.error().code() == Errc::interrupted) return std::nullopt;
        record_error(path, dir.error());
        return std::nullopt;
      }
      return std::move(*dir);
    }
    case FileType::file: {
      m_count.total_files++;
      if (unchanged(pnode, *info)) {
        if (xattrs_when_read) xattrs_by_path(path, node);  // another device, same inode and change time
        node.content = pnode->content;
        m_count.files_unmodified++;
        m_count.total_bytes += info->size;
        if (m_progress) {
          m_progress->files_done++;
          m_progress->bytes_done += info->size;
        }
        return PendingNode(std::move(node));
      }
      (pnode ? m_count.files_changed : m_count.files_new)++;
      if (m_progress && m_progress->log) m_progress->log(pnode ? "modified" : "new", path);
      return queue_file(path, std::move(node), pnode != nullptr, dir);
    }
    case FileType::symlink: {
      if (same_inode) {
        node.link_target = pnode->link_target;
        return PendingNode(std::move(node));
      }
      auto target = platform::read_link(path);
      if (!target) {
        record_error(path, target.error());
        return std::nullopt;
      }
      node.link_target = std::move(*target);
      return PendingNode(std::move(node));
    }
    default:
      return PendingNode(std::move(node));
  }
}

Result<Node> Backup::read_file(const std::string& path, Node node, bool modified, const OpenDir* dir) {
  auto stored = store_file(path, std::move(node), modified, dir);
  if (!stored && is_source_error(stored.error())) {
    // The file is left out and named in the snapshot's errors.
    record_error(path, stored.error());
    return fail(Errc::incomplete, path);
  }
  return stored;
}

PendingNode Backup::queue_file(std::string path, Node node, bool modified, OpenDirRef dir) {
  if (node.size > k_batch_file_max)
    return m_pool.submit(
        [this, path = std::move(path), modified, node = std::move(node), dir = std::move(dir)]() mutable {
          return read_file(path, std::move(node), modified, dir.get());
        });
  if (!m_batch) m_batch = std::make_shared<FileBatch>();
  m_batch->bytes += node.size;
  m_batch->entries.push_back({std::move(path), std::move(node), modified, std::move(dir)});
  BatchedNode queued{m_batch, m_batch->entries.size() - 1};
  if (m_batch->entries.size() >= k_batch_files || m_batch->bytes >= k_batch_bytes) send_batch();
  return queued;
}

void Backup::send_batch() {
  if (!m_batch) return;
  // The task holds the batch too: a walk that failed drops its pending nodes.
  m_pool.submit([this, batch = std::move(m_batch)] {
    try {
      batch->results.reserve(batch->entries.size());
      for (auto& e : batch->entries) {
        batch->results.push_back(read_file(e.path, std::move(e.node), e.modified, e.dir.get()));
        e.dir.reset();  // closed as soon as its last file is read
      }
      batch->finished.set_value();
    } catch (...) {
      batch->finished.set_exception(std::current_exception());
    }
  });
}

// The node of a file or directory being read or written elsewhere, once it is.
Result<Node> take_pending(PendingNode& pending) {
  if (auto* batched = std::get_if<BatchedNode>(&pending)) {
    // A copy of the future each: the walk and the tree writer may wait on one batch at once.
    std::shared_future<void> done = batched->batch->done;
    done.get();
    return std::move(batched->batch->results[batched->index]);
  }
  return std::get<1>(pending).get();
}

Result<Id> Backup::save_tree(std::vector<PendingNode>& pending) {
  Tree tree;
  tree.nodes.reserve(pending.size());
  for (auto& p : pending) {
    if (auto* ready = std::get_if<Node>(&p)) {
      tree.nodes.push_back(std::move(*ready));
      continue;
    }
    auto result = take_pending(p);
    if (!result) {
      if (result.error().code() == Errc::incomplete) continue;  // already recorded
      return tl::unexpected(result.error());  // repository trouble or interruption: the backup fails
    }
    tree.nodes.push_back(std::move(*result));
  }
  std::sort(tree.nodes.begin(), tree.nodes.end(), [](const Node& a, const Node& b) { return a.name < b.name; });
  Bytes bytes = tree.encode();
  Id id = m_repo.hash_blob(bytes);
  KHO_TRY_STATUS(m_writer.save(BlobType::tree, id, bytes));
  return id;
}

Result<PendingNode> Backup::save_dir(const std::string& path, Node node, const Node* parent,
                                     std::uint64_t root_device) {
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  KHO_TRY_ASSIGN(platform::Dir listed, platform::Dir::open(path));
  KHO_TRY_ASSIGN(auto names, listed.names());
  // Entries are looked up, and files opened, in the open directory, which stays
  // open while the walk is below it and until its files are read (see OpenDir).
  // With k_max_open_dirs open already (a deep tree, or many directories whose
  // files wait to be read), it is closed once listed and its entries are looked
  // up by path.
  const OpenDirRef dir = OpenDir::keep(std::move(listed), m_open_dirs, k_max_open_dirs);
  KHO_TRY_ASSIGN(Tree parent_tree, load_parent_tree(parent));
  auto job = std::make_unique<DirJob>();
  job->children.reserve(names.size());
  for (const auto& name : names) {
    std::string child = join_path(path, name);
    if (m_filter.excluded(child)) continue;
    auto entry = process_entry(name, child, parent_tree.find(name), root_device, dir);
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    if (entry) job->children.push_back(std::move(*entry));
  }
  if (m_opt.score_anomaly && !parent_tree.nodes.empty()) {
    std::unordered_set<std::string_view> present(names.begin(), names.end());
    for (const auto& gone : parent_tree.nodes)
      if (!present.count(gone.name)) m_anomaly.gone(join_path(path, gone.name), gone.type == FileType::dir);
  }
  job->node = std::move(node);
  if (parent && parent->subtree) job->parent_subtree = parent->subtree;
  auto future = job->promise.get_future();
  // The walk goes on while the tree writer waits for this directory's files.
  std::unique_lock lock(m_dir_mutex);
  if (m_dir_queue.size() >= k_max_queued_dirs) {
    lock.unlock();
    send_queued();  // the tree writer may be waiting for the files not yet sent
    lock.lock();
    m_dir_space.wait(lock, [this] { return m_dir_queue.size() < k_max_queued_dirs; });
  }
  m_dir_queue.push_back(std::move(job));
  // The tree writer is woken for a batch of directories, not for each: a wake-up
  // costs more than writing most trees. send_queued() sends what is queued
  // before the walk waits for a directory.
  const bool wake = m_dir_queue.size() >= k_dir_wake_batch;
  lock.unlock();
  if (wake) m_dir_ready.notify_one();
  return PendingNode(std::move(future));
}

// Before the walk waits for anything, it sends what it holds back: the batch of
// small files, and a wake-up for the queued directories (which may wait for
// those files).
void Backup::send_queued() {
  send_batch();
  m_dir_ready.notify_one();
}

void Backup::finish_dir(DirJob& job) {
  auto id = save_tree(job.children);
  if (!id) {
    job.promise.set_value(tl::unexpected(id.error()));
    return;
  }
  m_count.dirs++;
  if (!job.parent_subtree) m_count.dirs_new++;
  else if (*job.parent_subtree == *id) m_count.dirs_unmodified++;
  else m_count.dirs_changed++;
  job.node.subtree = *id;
  job.promise.set_value(std::move(job.node));
}

void Backup::tree_writer_loop() {
  for (;;) {
    std::unique_ptr<DirJob> job;
    {
      std::unique_lock lock(m_dir_mutex);
      m_dir_ready.wait(lock, [this] { return m_dir_closed || !m_dir_queue.empty(); });
      if (m_dir_queue.empty()) return;
      job = std::move(m_dir_queue.front());
      m_dir_queue.pop_front();
    }
    m_dir_space.notify_one();
    // Directories arrive in post-order, so their subdirectories are finished first.
    finish_dir(*job);
  }
}

Result<Node> Backup::save_virtual(const std::string& name, VirtualDir& dir, const Node* parent) {
  Node node;
  if (auto info = platform::lstat_path(dir.real_path); info && info->type == FileType::dir) {
    node = node_from_info(name, *info);
  } else {
    node.name = name;
    node.type = FileType::dir;
    node.mode = 0755;
    node.mtime_ns = node.ctime_ns = now_ns();
  }
  KHO_TRY_ASSIGN(Tree parent_tree, load_parent_tree(parent));
  std::vector<PendingNode> pending;
  for (auto& [child_name, child] : dir.children) {
    const Node* pchild = parent_tree.find(child_name);
    if (child.is_target) {
      auto info = platform::lstat_path(child.real_path);
      std::uint64_t device = info ? info->device : 0;
      auto entry = process_entry(child_name, child.real_path, pchild, m_opt.one_file_system ? device : 0);
      if (cancelled()) return fail(Errc::interrupted, "interrupted");
      if (entry) pending.push_back(std::move(*entry));
    } else if (child.stream) {
      StreamSource source = *child.stream;
      // A failing source command fails the whole backup (Errc::failed), unlike an unreadable file.
      pending.emplace_back(m_pool.submit([this, source, name = child_name]() -> Result<Node> {
        auto node = store_stream(source, name);
        if (!node && node.error().code() != Errc::interrupted)
          return fail(Errc::failed, node.error().message());
        return node;
      }));
    } else {
      KHO_TRY_ASSIGN(Node sub, save_virtual(child_name, child, pchild && pchild->type == FileType::dir ? pchild : nullptr));
      pending.emplace_back(std::move(sub));
    }
  }
  send_queued();  // save_tree() waits for the files and directories among `pending`
  KHO_TRY_ASSIGN(Id id, save_tree(pending));
  node.subtree = id;
  return node;
}

Result<BackupResult> Backup::run() {
  TimeNs start = now_ns();
  if (m_opt.paths.empty() && m_opt.streams.empty())
    return fail(Errc::invalid_argument, "nothing to back up: give at least one path or --stdin-from");
  VirtualDir root;
  root.real_path = "/";
  std::vector<std::string> snapshot_paths;
  for (const auto& given : m_opt.paths) {
    std::string abs = platform::absolute_path(given);
    auto info = platform::lstat_path(abs);
    if (!info) {
      if (info.error().code() == Errc::not_found)
        return fail(Errc::not_found, "source path " + given + " does not exist");
      return tl::unexpected(info.error().with_context("source path " + given));
    }
    snapshot_paths.push_back(abs);
    VirtualDir* v = &root;
    std::string real = "";
    for (const auto& comp : split_path(abs)) {
      if (v->is_target) break;  // a parent of this path is already a target
      real += "/" + comp;
      v = &v->children[comp];
      v->real_path = real;
    }
    v->is_target = true;
    v->children.clear();
  }
  for (const auto& s : m_opt.streams) {
    auto comps = split_path(s.filename);
    if (comps.empty() || std::any_of(comps.begin(), comps.end(), [](auto& c) { return !repo::valid_node_name(c); }))
      return fail(Errc::invalid_argument, "invalid --stdin-filename '" + s.filename + "'");
    VirtualDir* v = &root;
    std::string real = "";
    for (std::size_t i = 0; i < comps.size(); ++i) {
      real += "/" + comps[i];
      v = &v->children[comps[i]];
      if (v->is_target || v->stream) return fail(Errc::invalid_argument, "--stdin-filename '" + s.filename + "' collides with a source path");
      if (i + 1 < comps.size()) v->real_path = "";  // synthetic directory
    }
    v->stream = s;
    snapshot_paths.push_back(real);
  }
  std::sort(snapshot_paths.begin(), snapshot_paths.end());
  snapshot_paths.erase(std::unique(snapshot_paths.begin(), snapshot_paths.end()), snapshot_paths.end());

  std::string host = m_opt.host.empty() ? platform::host_name() : m_opt.host;
  // Paths as a snapshot's JSON holds them: a path that is not UTF-8 is stored with
  // U+FFFD for its invalid bytes, and must still find its parent.
  std::vector<std::string> stored_paths;
  for (const auto& p : snapshot_paths) stored_paths.push_back(as_json_string(p));
  std::optional<repo::SnapshotRef> parent;
  // Earlier snapshots of the same source (host, paths, policy), newest first:
  // the parent, and the history the anomaly score compares with.
  std::vector<SnapshotHistory> history;
  if (auto all = m_repo.list_snapshots()) {
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      const auto& s = it->snapshot;
      if (s.host != host || s.paths != stored_paths || s.policy != m_opt.policy) continue;
      if (!parent && !m_opt.parent && !m_opt.force_read) parent = *it;
      if (history.size() < 5)
        history.push_back({s.summary.total_files, s.summary.total_bytes, s.summary.files_new, s.summary.files_changed});
    }
  }
  if (!m_opt.force_read && m_opt.parent) {
    KHO_TRY_ASSIGN(repo::Snapshot s, m_repo.load_snapshot(*m_opt.parent));
    parent = repo::SnapshotRef{*m_opt.parent, std::move(s)};
  }
  m_has_parent = parent.has_value();
  std::thread tree_writer([this] { tree_writer_loop(); });
  struct StopTreeWriter {
    Backup& b;
    std::thread& t;
    ~StopTreeWriter() {
      {
        std::lock_guard lock(b.m_dir_mutex);
        b.m_dir_closed = true;
      }
      b.send_batch();  // queued directories may wait for its files, even when the walk failed
      b.m_dir_ready.notify_all();
      t.join();
    }
  } stop_tree_writer{*this, tree_writer};
  Node parent_root;
  if (parent) {
    parent_root.type = FileType::dir;
    parent_root.subtree = parent->snapshot.tree;
  }
  Result<Node> root_node = fail(Errc::failed, "nothing was backed up");
  if (root.is_target) {
    // The whole filesystem tree from / down.
    if (!m_opt.streams.empty())
      return fail(Errc::invalid_argument, "--stdin-from cannot be combined with backing up / itself");
    KHO_TRY_ASSIGN(FileInfo info, platform::lstat_path("/"));
    auto pending = save_dir("/", node_from_info("", info), parent ? &parent_root : nullptr,
                            m_opt.one_file_system ? info.device : 0);
    send_queued();
    if (!pending) root_node = tl::unexpected(pending.error());
    else root_node = std::get<1>(*pending).get();
  } else {
    root_node = save_virtual("", root, parent ? &parent_root : nullptr);
  }
  if (!root_node) {
    (void)m_writer.flush();  // keep what was uploaded indexed; the snapshot is not written
    return tl::unexpected(root_node.error());
  }
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  KHO_TRY_STATUS(m_writer.flush());

  repo::Snapshot snap;
  snap.time = m_opt.time.value_or(start);
  snap.tree = *root_node->subtree;
  snap.paths = snapshot_paths;
  snap.host = host;
  snap.username = platform::current_user();
  snap.uid = ::getuid();
  snap.gid = ::getgid();
  snap.tags = m_opt.tags;
  if (parent) snap.parent = parent->id;
  snap.excludes = m_opt.excludes;
  snap.policy = m_opt.policy;
  snap.program_version = std::string("kho ") + KHO_VERSION;
  snap.errors = m_errors;
  snap.incomplete = !m_errors.empty();
  auto stats = m_writer.stats();
  auto& sum = snap.summary;
  sum.files_new = m_count.files_new;
  sum.files_changed = m_count.files_changed;
  sum.files_unmodified = m_count.files_unmodified;
  sum.dirs_new = m_count.dirs_new;
  sum.dirs_changed = m_count.dirs_changed;
  sum.dirs_unmodified = m_count.dirs_unmodified;
  sum.dirs = m_count.dirs;
  sum.total_files = m_count.total_files;
  sum.total_bytes = m_count.total_bytes;
  sum.data_blobs = stats.data_blobs;
  sum.tree_blobs = stats.tree_blobs;
  sum.data_added = stats.stored_bytes;
  sum.data_added_raw = stats.raw_bytes;
  sum.errors = m_errors.size();
  sum.backup_start = start;
  sum.backup_end = now_ns();
  sum.duration_s = static_cast<double>(sum.backup_end - start) / 1e9;
  if (m_opt.score_anomaly) {
    AnomalyInput in = m_anomaly.take();
    in.total_files = sum.total_files;
    in.total_bytes = sum.total_bytes;
    in.files_unmodified = sum.files_unmodified;
    in.new_raw_bytes = stats.raw_bytes;
    in.new_stored_bytes = stats.stored_bytes;
    in.has_parent = m_has_parent;
    in.history = std::move(history);
    // Through its text, so the record names paths as the stored snapshot will
    // (U+FFFD for bytes that are not UTF-8), in the summary printed now as later.
    snap.anomaly = nlohmann::json::parse(json_dump(score_anomaly(in, m_opt.anomaly).to_json()));
  }
  crash_point("before-snapshot");
  KHO_TRY_ASSIGN(Id id, m_repo.save_snapshot(snap));
  return BackupResult{id, std::move(snap)};
}

void scan_dir(const std::string& path, const PathFilter& filter, std::uint64_t device, bool one_fs, Progress& progress,
              const std::atomic<bool>& stop) {
  auto names = platform::list_dir(path);
  if (!names) return;
  for (const auto& name : *names) {
    if (stop.load(std::memory_order_relaxed) || cancelled()) return;
    std::string child = join_path(path, name);
    if (filter.excluded(child)) continue;
    auto info = platform::lstat_path(child);
    if (!info) continue;
    if (info->type == FileType::file) {
      progress.files_total++;
      progress.bytes_total += info->size;
    } else if (info->type == FileType::dir && (!one_fs || info->device == device)) {
      scan_dir(child, filter, device, one_fs, progress, stop);
    }
  }
}

}  // namespace

void scan_totals(const BackupOptions& options, Progress& progress, const std::atomic<bool>& stop) {
  PathFilter filter({}, options.excludes);
  for (const auto& given : options.paths) {
    std::string abs = platform::absolute_path(given);
    auto info = platform::lstat_path(abs);
    if (!info) continue;
    if (info->type == FileType::file) {
      progress.files_total++;
      progress.bytes_total += info->size;
    } else if (info->type == FileType::dir) {
      scan_dir(abs, filter, info->device, options.one_file_system, progress, stop);
    }
  }
}

Result<BackupResult> run_backup(repo::Repository& repo, const BackupOptions& options, Progress* progress) {
  Backup backup(repo, options, progress);
  return backup.run();
}

}  // namespace kho::engine
