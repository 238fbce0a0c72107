#include "kho/engine/archive_import.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <memory>

#include "kho/platform/fs.hpp"
#include "kho/platform/locale.hpp"
#include "kho/repo/blob_writer.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using platform::FileType;
using repo::BlobType;
using repo::Node;

namespace {

constexpr std::size_t k_archive_read_block = 1024 * 1024;
constexpr std::uint64_t k_ratio_floor = 256ull * 1024 * 1024;
constexpr std::size_t k_max_name = 255;
constexpr std::size_t k_max_depth = repo::k_max_tree_depth / 2;

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD.
// Returns true when `s` was changed.
bool fix_utf8(std::string& s) {
  std::string out;
  bool changed = false;
  std::size_t i = 0;
  auto cont = [&](std::size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    bool ok = len > 0;
    for (std::size_t k = 1; ok && k < len; ++k) ok = cont(i + k);
    if (ok && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) ok = false;  // overlong, surrogates
    }
    if (ok && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) ok = false;
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      changed = true;
      i += 1;
    }
  }
  if (changed) s = std::move(out);
  return changed;
}

struct ArchiveReaderDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// One directory or file of the archive as it is being assembled.
struct Item {
  Node node;  // metadata; content and links are filled at the end for files
  std::map<std::string, std::unique_ptr<Item>> children;  // directories
  std::size_t inode = SIZE_MAX;  // files: index into Importer::m_inodes
  bool explicit_entry = false;   // false: a directory made to hold what is below it
  std::string entry;             // the archive path that made it (for messages)
};

struct Inode {
  std::vector<Id> content;
  std::uint64_t size = 0;
  std::uint64_t links = 0;  // items referring to it (counted at the end)
};

class Importer {
public:
  Importer(repo::Repository& repo, const ImportOptions& opt, Progress* progress)
      : m_repo(repo),
        m_opt(opt),
        m_progress(progress),
        m_writer(repo),
        m_chunker(repo.config().chunker, repo.gear()),
        m_pool(opt.threads ? opt.threads : ThreadPool::default_threads(),
               2 * (opt.threads ? opt.threads : ThreadPool::default_threads())) {}

  Result<ImportResult> run();

private:
  Status open_archive();
  Status process_entry(archive_entry* e);
  Result<std::vector<Id>> store_data(const std::string& entry, std::uint64_t& total);
  Status check_limits(const std::string& entry);
  Status problem(const std::string& entry, bool refused, const std::string& reason);
  tl::unexpected<Error> archive_error(const std::string& entry, const std::string& what);
  Item* find(const std::vector<std::string>& comps);
  void count_links(Item& item);
  Result<Id> save_tree(Item& dir);

  repo::Repository& m_repo;
  const ImportOptions& m_opt;
  Progress* m_progress;
  repo::BlobWriter m_writer;
  chunker::Chunker m_chunker;
  ThreadPool m_pool;
  std::unique_ptr<struct archive, ArchiveReaderDeleter> m_archive;
  Item m_root;  // the import prefix directory
  std::deque<Inode> m_inodes;
  TimeNs m_time = 0;
  std::uint64_t m_expanded = 0;
  ImportResult m_result;
  std::vector<repo::SnapshotError> m_errors;
};

Status Importer::problem(const std::string& entry, bool refused, const std::string& reason) {
  std::string shown = entry;
  fix_utf8(shown);
  if (m_opt.strict)
    return failf(Errc::failed, "archive entry '{}': {} (--strict: no snapshot saved)", shown, reason);
  m_result.problems.push_back({shown, refused ? "refused" : "sanitised", reason});
  if (refused) {
    m_result.refused++;
    m_errors.push_back({shown, "refused: " + reason});
    if (m_progress) m_progress->errors++;
  } else {
    m_result.sanitised++;
  }
  return {};
}

tl::unexpected<Error> Importer::archive_error(const std::string& entry, const std::string& what) {
  const char* msg = archive_error_string(m_archive.get());
  std::string shown = entry;
  fix_utf8(shown);
  return failf(Errc::corruption, "{}{}: {}: the archive is truncated or damaged; no snapshot saved",
               shown.empty() ? "" : "entry '" + shown + "': ", what, msg ? msg : "unknown libarchive error");
}

Status Importer::check_limits(const std::string& entry) {
  if (m_opt.max_size && m_expanded > m_opt.max_size)
    return failf(Errc::failed,
                 "entry '{}': the archive expands to more than {} (--max-size); no snapshot saved", entry,
                 format_size(m_opt.max_size));
  if (m_opt.max_ratio > 0 && m_expanded > k_ratio_floor) {
    auto raw = archive_filter_bytes(m_archive.get(), -1);
    double ratio = static_cast<double>(m_expanded) / static_cast<double>(std::max<la_int64_t>(raw, 1));
    if (ratio > m_opt.max_ratio)
      return failf(Errc::failed,
                   "entry '{}': {} expanded from {} of archive, a ratio above {:.0f}:1 — this looks like a "
                   "decompression bomb; no snapshot saved (raise --max-ratio, or 0 to disable, if the archive is trusted)",
                   entry, format_size(m_expanded), format_size(static_cast<std::uint64_t>(raw)), m_opt.max_ratio);
  }
  return {};
}

Status Importer::open_archive() {
  m_archive.reset(archive_read_new());
  if (!m_archive) return fail(Errc::failed, "libarchive: out of memory");
  struct archive* a = m_archive.get();
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  int r;
  if (m_opt.archive == "-") r = archive_read_open_fd(a, STDIN_FILENO, k_archive_read_block);
  else r = archive_read_open_filename(a, m_opt.archive.c_str(), k_archive_read_block);
  if (r != ARCHIVE_OK) {
    const char* msg = archive_error_string(a);
    std::string what = m_opt.archive == "-" ? "standard input" : m_opt.archive;
    if (::access(m_opt.archive.c_str(), R_OK) != 0 && m_opt.archive != "-")
      return fail_errno("cannot open the archive " + what, errno);
    return failf(Errc::corruption, "cannot read {} as an archive: {}", what, msg ? msg : "unknown format");
  }
  return {};
}

Result<std::vector<Id>> Importer::store_data(const std::string& entry, std::uint64_t& total) {
  Bytes buffer;
  std::size_t start = 0;
  chunker::StreamCuts cuts(m_chunker);
  bool eof = false;
  std::vector<Id> ids;
  std::deque<std::future<Result<Id>>> inflight;
  const std::size_t max_inflight = 2 * m_pool.size();
  auto drain_one = [&]() -> Status {
    auto id = inflight.front().get();
    inflight.pop_front();
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
    return {};
  };
  struct Wait {  // no task may outlive this frame's writer use
    std::deque<std::future<Result<Id>>>& q;
    ~Wait() {
      for (auto& f : q) f.wait();
    }
  } wait{inflight};
  auto emit = [&](std::size_t cut) -> Status {
    Bytes chunk(buffer.begin() + static_cast<std::ptrdiff_t>(start),
                buffer.begin() + static_cast<std::ptrdiff_t>(start + cut));
    start += cut;
    inflight.push_back(m_pool.submit([this, chunk = std::move(chunk)]() -> Result<Id> {
      Id id = m_repo.hash_blob(chunk);
      auto saved = m_writer.save(BlobType::data, id, chunk);
      if (!saved) return tl::unexpected(saved.error().with_context("cannot store data in the repository"));
      return id;
    }));
    while (inflight.size() > max_inflight) KHO_TRY_STATUS(drain_one());
    return {};
  };
  total = 0;
  while (!eof) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    if (start > 0 && start >= buffer.size() / 2) {
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(start));
      start = 0;
    }
    std::size_t old = buffer.size();
    buffer.resize(old + k_archive_read_block);
    la_ssize_t n = archive_read_data(m_archive.get(), buffer.data() + old, k_archive_read_block);
    if (n < 0) {
      buffer.resize(old);
      return archive_error(entry, "cannot read the entry's data");
    }
    buffer.resize(old + static_cast<std::size_t>(n));
    if (n == 0) eof = true;
    total += static_cast<std::uint64_t>(n);
    m_expanded += static_cast<std::uint64_t>(n);
    if (m_progress) m_progress->bytes_done += static_cast<std::uint64_t>(n);
    KHO_TRY_STATUS(check_limits(entry));
    while (start < buffer.size()) {
      std::size_t cut = cuts.next(ByteSpan(buffer.data() + start, buffer.size() - start), eof);
      if (cut == 0) break;
      KHO_TRY_STATUS(emit(cut));
    }
  }
  while (!inflight.empty()) KHO_TRY_STATUS(drain_one());
  return ids;
}

Item* Importer::find(const std::vector<std::string>& comps) {
  Item* cur = &m_root;
  for (const auto& c : comps) {
    if (cur->node.type != FileType::dir) return nullptr;
    auto it = cur->children.find(c);
    if (it == cur->children.end()) return nullptr;
    cur = it->second.get();
  }
  return cur;
}

Status Importer::process_entry(archive_entry* e) {
  const char* raw_path = archive_entry_pathname(e);
  if (!raw_path) raw_path = archive_entry_pathname_utf8(e);
  std::string path = raw_path ? raw_path : "";
  m_result.entries++;
  std::vector<std::string> comps;
  std::string reason;
  std::vector<std::string> notes;
  if (!sanitise_entry_path(path, comps, reason, notes)) return problem(path, true, reason);
  for (const auto& n : notes) KHO_TRY_STATUS(problem(path, false, n));

  FileType type;
  const char* hardlink = archive_entry_hardlink(e);
  if (!hardlink) hardlink = archive_entry_hardlink_utf8(e);
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: type = FileType::file; break;
    case AE_IFDIR: type = FileType::dir; break;
    case AE_IFLNK: type = FileType::symlink; break;
    case AE_IFIFO: type = FileType::fifo; break;
    case AE_IFCHR: type = FileType::chardev; break;
    case AE_IFBLK: type = FileType::blockdev; break;
    case AE_IFSOCK: return problem(path, true, "a socket cannot be imported");
    default:
      if (hardlink) {
        type = FileType::file;
        break;
      }
      return problem(path, true, "unknown entry type");
  }
  if (hardlink && type != FileType::file) type = FileType::file;
  if (comps.empty() && type != FileType::dir) return problem(path, true, "names no file (only '.' or '/')");

  Node node;
  node.name = comps.empty() ? m_root.node.name : comps.back();
  node.type = type;
  node.mode = static_cast<std::uint32_t>(archive_entry_perm(e)) & 07777;
  node.uid = static_cast<std::uint32_t>(archive_entry_uid(e));
  node.gid = static_cast<std::uint32_t>(archive_entry_gid(e));
  if (const char* u = archive_entry_uname(e)) node.user = u;
  if (const char* g = archive_entry_gname(e)) node.group = g;
  if (archive_entry_mtime_is_set(e))
    node.mtime_ns = static_cast<std::int64_t>(archive_entry_mtime(e)) * 1'000'000'000 + archive_entry_mtime_nsec(e);
  else
    node.mtime_ns = m_time;
  node.ctime_ns = archive_entry_ctime_is_set(e)
                      ? static_cast<std::int64_t>(archive_entry_ctime(e)) * 1'000'000'000 + archive_entry_ctime_nsec(e)
                      : node.mtime_ns;
  if (type == FileType::chardev || type == FileType::blockdev) node.rdev = archive_entry_rdev(e);
  if (type == FileType::symlink) {
    const char* target = archive_entry_symlink(e);
    if (!target) target = archive_entry_symlink_utf8(e);
    if (!target || !*target) return problem(path, true, "symbolic link without a target");
    node.link_target = target;
  }
  if (archive_entry_xattr_reset(e) > 0) {
    const char* name;
    const void* value;
    std::size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (!name || !*name) continue;
      auto* p = static_cast<const std::uint8_t*>(value);
      node.xattrs.emplace_back(name, Bytes(p, p + size));
    }
    std::sort(node.xattrs.begin(), node.xattrs.end(), [](auto& a, auto& b) { return a.first < b.first; });
    node.xattrs.erase(std::unique(node.xattrs.begin(), node.xattrs.end(),
                                  [](auto& a, auto& b) { return a.first == b.first; }),
                      node.xattrs.end());
  }

  // Where it goes: every parent must be a directory (made when missing).
  Item* dir = &m_root;
  for (std::size_t i = 0; i + 1 < comps.size(); ++i) {
    auto it = dir->children.find(comps[i]);
    if (it == dir->children.end()) {
      auto made = std::make_unique<Item>();
      made->node.name = comps[i];
      made->node.type = FileType::dir;
      made->node.mode = 0755;
      made->node.uid = ::getuid();
      made->node.gid = ::getgid();
      made->node.user = platform::user_name(made->node.uid);
      made->node.group = platform::group_name(made->node.gid);
      made->node.mtime_ns = made->node.ctime_ns = m_time;
      it = dir->children.emplace(comps[i], std::move(made)).first;
    } else if (it->second->node.type != FileType::dir) {
      std::string through;
      for (std::size_t k = 0; k <= i; ++k) through += (k ? "/" : "") + comps[k];
      return problem(path, true,
                     fmt::format("its path goes through '{}', which the archive made a {}, not a directory", through,
                                 platform::file_type_name(it->second->node.type)));
    }
    dir = it->second.get();
  }

  // Hard link: shares the target's content (and, in newc cpio, may bring it).
  std::size_t inode = SIZE_MAX;
  if (hardlink) {
    std::vector<std::string> tcomps;
    std::string treason;
    std::vector<std::string> tnotes;
    if (!sanitise_entry_path(hardlink, tcomps, treason, tnotes))
      return problem(path, true, "hard link target '" + std::string(hardlink) + "': " + treason);
    Item* target = tcomps.empty() ? nullptr : find(tcomps);
    if (!target) return problem(path, true, "hard link to '" + std::string(hardlink) + "', which is not earlier in the archive");
    if (target->node.type != FileType::file)
      return problem(path, true, "hard link to '" + std::string(hardlink) + "', which is not a regular file");
    if (comps == tcomps) return problem(path, true, "hard link to itself");
    inode = target->inode;
  }

  Item* existing = nullptr;
  if (comps.empty()) {
    existing = &m_root;
  } else if (auto it = dir->children.find(comps.back()); it != dir->children.end()) {
    existing = it->second.get();
  }
  if (existing) {
    bool was_dir = existing->node.type == FileType::dir;
    if (was_dir != (type == FileType::dir))
      return problem(path, true,
                     fmt::format("an earlier entry made it a {}; refusing to replace it by a {}",
                                 platform::file_type_name(existing->node.type), platform::file_type_name(type)));
    if (!was_dir || existing->explicit_entry)
      KHO_TRY_STATUS(problem(path, false, "duplicate entry: the later one replaces the earlier"));
  }

  // Content.
  if (type == FileType::file) {
    bool has_data = archive_entry_size_is_set(e) ? archive_entry_size(e) > 0 : !hardlink;
    if (has_data || !hardlink) {
      if (archive_entry_size_is_set(e) && archive_entry_size(e) < 0)
        return archive_error(path, "negative size");
      std::uint64_t total = 0;
      KHO_TRY_ASSIGN(auto ids, store_data(path, total));
      if (archive_entry_size_is_set(e) && static_cast<std::uint64_t>(archive_entry_size(e)) != total &&
          !archive_entry_sparse_count(e))
        return failf(Errc::corruption, "entry '{}' declares {} bytes but holds {}: the archive is damaged; no snapshot saved",
                     path, archive_entry_size(e), total);
      if (inode == SIZE_MAX) {
        inode = m_inodes.size();
        m_inodes.emplace_back();
      }
      m_inodes[inode].content = std::move(ids);
      m_inodes[inode].size = total;
      m_result.bytes += total;
    }
    if (m_progress) m_progress->files_done++;
  }

  if (existing && existing->node.type == FileType::dir) {
    // A directory named again (or first named after what is inside it): its metadata.
    std::string name = existing->node.name;
    existing->node = std::move(node);
    existing->node.name = name;
    existing->explicit_entry = true;
    existing->entry = path;
    return {};
  }
  auto item = std::make_unique<Item>();
  item->node = std::move(node);
  item->inode = inode;
  item->explicit_entry = true;
  item->entry = path;
  dir->children[comps.back()] = std::move(item);
  return {};
}

void Importer::count_links(Item& item) {
  for (auto& [name, child] : item.children) {
    if (child->node.type == FileType::file && child->inode != SIZE_MAX) m_inodes[child->inode].links++;
    if (child->node.type == FileType::dir) count_links(*child);
  }
}

Result<Id> Importer::save_tree(Item& dir) {
  repo::Tree tree;
  tree.nodes.reserve(dir.children.size());
  for (auto& [name, child] : dir.children) {
    Node n = child->node;
    n.name = name;
    switch (n.type) {
      case FileType::dir: {
        KHO_TRY_ASSIGN(Id sub, save_tree(*child));
        n.subtree = sub;
        m_result.dirs++;
        break;
      }
      case FileType::file: {
        if (child->inode != SIZE_MAX) {
          const Inode& ino = m_inodes[child->inode];
          n.content = ino.content;
          n.size = ino.size;
          n.nlink = ino.links;
          n.inode = child->inode + 1;
          n.device = 1;
          if (ino.links > 1) m_result.hardlinks++;
        } else {
          n.nlink = 1;
        }
        m_result.files++;
        break;
      }
      case FileType::symlink: m_result.symlinks++; n.nlink = 1; break;
      default: m_result.other++; n.nlink = 1; break;
    }
    tree.nodes.push_back(std::move(n));
  }
  // std::map orders names bytewise, as trees require.
  Bytes bytes = tree.encode();
  Id id = m_repo.hash_blob(bytes);
  KHO_TRY_STATUS(m_writer.save(BlobType::tree, id, bytes));
  return id;
}

Result<ImportResult> Importer::run() {
  platform::ScopedUtf8Locale utf8_names;  // non-ASCII names survive 7zip and pax
  TimeNs start = now_ns();
  m_time = m_opt.time.value_or(start);
  // The prefix: where the archive's root goes in the snapshot.
  std::string prefix = m_opt.path_prefix;
  if (prefix.empty()) {
    std::string base = m_opt.archive == "-" ? "stdin" : m_opt.archive;
    if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
    for (const char* ext : {".gz", ".tgz", ".zst", ".xz", ".bz2", ".lz4", ".tar", ".zip", ".cpio", ".7z", ".pax"}) {
      std::string x = ext;
      if (base.size() > x.size() && base.compare(base.size() - x.size(), x.size(), x) == 0)
        base.resize(base.size() - x.size());
    }
    if (base.empty() || !repo::valid_node_name(base)) base = "archive";
    prefix = "/imported/" + base;
  }
  if (prefix.front() != '/') return fail(Errc::invalid_argument, "--path-prefix must be an absolute path, e.g. /imported/vendor");
  std::vector<std::string> prefix_comps;
  for (std::size_t i = 1; i <= prefix.size();) {
    std::size_t j = prefix.find('/', i);
    if (j == std::string::npos) j = prefix.size();
    std::string c = prefix.substr(i, j - i);
    if (!c.empty()) {
      if (!repo::valid_node_name(c) || c == "." || c == "..")
        return fail(Errc::invalid_argument, "--path-prefix '" + prefix + "' has an invalid component '" + c + "'");
      prefix_comps.push_back(c);
    }
    i = j + 1;
  }
  if (prefix_comps.empty()) return fail(Errc::invalid_argument, "--path-prefix cannot be '/': name a directory");
  prefix.clear();
  for (const auto& c : prefix_comps) prefix += "/" + c;

  m_root.node.name = prefix_comps.back();
  m_root.node.type = FileType::dir;
  m_root.node.mode = 0755;
  m_root.node.uid = ::getuid();
  m_root.node.gid = ::getgid();
  m_root.node.user = platform::user_name(m_root.node.uid);
  m_root.node.group = platform::group_name(m_root.node.gid);
  m_root.node.mtime_ns = m_root.node.ctime_ns = m_time;

  KHO_TRY_STATUS(open_archive());
  Status status;
  for (;;) {
    if (cancelled()) {
      status = fail(Errc::interrupted, "interrupted");
      break;
    }
    archive_entry* e = nullptr;
    int r = archive_read_next_header(m_archive.get(), &e);
    if (r == ARCHIVE_EOF) break;
    // RETRY: a damaged header libarchive skipped over; entries may be lost.
    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
      status = archive_error("", m_result.entries ? fmt::format("after {} entries", m_result.entries)
                                                  : std::string("at the start"));
      break;
    }
    status = process_entry(e);
    if (!status) break;
  }
  if (status) {
    // Data still unread after the last header (e.g. a truncated trailer) is a damaged stream too.
    if (archive_read_close(m_archive.get()) != ARCHIVE_OK) status = archive_error("", "at the end");
  }
  if (!status) {
    (void)m_writer.flush();  // what was stored stays indexed, unreferenced until prune
    return tl::unexpected(status.error());
  }
  count_links(m_root);
  KHO_TRY_ASSIGN(Id root_tree, save_tree(m_root));
  // The directories above the prefix.
  Id tree_id = root_tree;
  Node child = m_root.node;
  child.subtree = root_tree;
  child.nlink = 1;
  for (std::size_t i = prefix_comps.size() - 1; i-- > 0;) {
    repo::Tree t;
    t.nodes.push_back(child);
    Bytes bytes = t.encode();
    tree_id = m_repo.hash_blob(bytes);
    KHO_TRY_STATUS(m_writer.save(BlobType::tree, tree_id, bytes));
    Node parent;
    parent.name = prefix_comps[i];
    parent.type = FileType::dir;
    parent.mode = 0755;
    parent.uid = m_root.node.uid;
    parent.gid = m_root.node.gid;
    parent.user = m_root.node.user;
    parent.group = m_root.node.group;
    parent.mtime_ns = parent.ctime_ns = m_time;
    parent.nlink = 1;
    parent.subtree = tree_id;
    child = parent;
  }
  repo::Tree top;
  top.nodes.push_back(child);
  Bytes top_bytes = top.encode();
  Id top_id = m_repo.hash_blob(top_bytes);
  KHO_TRY_STATUS(m_writer.save(BlobType::tree, top_id, top_bytes));
  KHO_TRY_STATUS(m_writer.flush());

  repo::Snapshot snap;
  snap.time = m_time;
  snap.tree = top_id;
  snap.paths = {prefix};
  snap.host = m_opt.host.empty() ? platform::host_name() : m_opt.host;
  snap.username = platform::current_user();
  snap.uid = ::getuid();
  snap.gid = ::getgid();
  snap.tags = m_opt.tags;
  snap.program_version = std::string("kho ") + KHO_VERSION;
  snap.errors = m_errors;
  snap.incomplete = !m_errors.empty();
  auto stats = m_writer.stats();
  auto& sum = snap.summary;
  sum.files_new = m_result.files;
  sum.dirs_new = m_result.dirs;
  sum.dirs = m_result.dirs;
  sum.total_files = m_result.files;
  sum.total_bytes = m_result.bytes;
  sum.data_blobs = stats.data_blobs;
  sum.tree_blobs = stats.tree_blobs;
  sum.data_added = stats.stored_bytes;
  sum.data_added_raw = stats.raw_bytes;
  sum.errors = m_errors.size();
  sum.backup_start = start;
  sum.backup_end = now_ns();
  sum.duration_s = static_cast<double>(sum.backup_end - start) / 1e9;
  KHO_TRY_ASSIGN(Id id, m_repo.save_snapshot(snap));
  m_result.snapshot_id = id;
  m_result.snapshot = std::move(snap);
  return std::move(m_result);
}

}  // namespace

bool sanitise_entry_path(std::string_view path, std::vector<std::string>& components, std::string& reason,
                         std::vector<std::string>& sanitised) {
  components.clear();
  if (path.empty()) {
    reason = "empty name";
    return false;
  }
  if (path.front() == '/') sanitised.push_back("absolute path: stored relative to the import prefix");
  std::size_t i = 0;
  bool utf8_noted = false;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string comp(path.substr(i, j - i));
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      reason = "'..' in the path would climb out of the import directory";
      components.clear();
      return false;
    }
    if (comp.size() > k_max_name) {
      reason = fmt::format("a name of {} bytes (more than {}) cannot be restored", comp.size(), k_max_name);
      components.clear();
      return false;
    }
    if (fix_utf8(comp) && !utf8_noted) {
      sanitised.push_back("name is not valid UTF-8: invalid bytes replaced by U+FFFD");
      utf8_noted = true;
    }
    if (comp.size() > k_max_name) {  // U+FFFD is longer than the byte it replaces
      reason = fmt::format("a name of more than {} bytes once made valid UTF-8 cannot be restored", k_max_name);
      components.clear();
      return false;
    }
    components.push_back(std::move(comp));
  }
  // Trees nest at most repo::k_max_tree_depth levels; half of that is left for the
  // import prefix (such a path is longer than any system's limit anyway).
  if (components.size() > k_max_depth) {
    reason = fmt::format("a path {} levels deep (more than {}) cannot be restored", components.size(), k_max_depth);
    components.clear();
    return false;
  }
  return true;
}

Result<ImportResult> run_import(repo::Repository& repo, const ImportOptions& options, Progress* progress) {
  Importer importer(repo, options, progress);
  return importer.run();
}

}  // namespace kho::engine
