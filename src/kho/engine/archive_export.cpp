#include "kho/engine/archive_export.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <unordered_map>

#include "kho/platform/locale.hpp"
#include "kho/util/glob.hpp"
#include "kho/util/path.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using platform::FileType;
using repo::BlobType;
using repo::Node;

Result<ArchiveFormat> parse_archive_format(std::string_view name) {
  if (name == "pax") return ArchiveFormat::pax;
  if (name == "tar" || name == "gnutar") return ArchiveFormat::tar;
  if (name == "zip") return ArchiveFormat::zip;
  if (name == "cpio" || name == "newc") return ArchiveFormat::cpio;
  if (name == "7zip" || name == "7z") return ArchiveFormat::sevenzip;
  return failf(Errc::invalid_argument, "unknown archive format '{}': use pax, tar, zip, cpio or 7zip", name);
}

Result<ArchiveCompression> parse_archive_compression(std::string_view name) {
  if (name == "none" || name.empty()) return ArchiveCompression::none;
  if (name == "gzip" || name == "gz") return ArchiveCompression::gzip;
  if (name == "zstd" || name == "zst") return ArchiveCompression::zstd;
  if (name == "xz") return ArchiveCompression::xz;
  return failf(Errc::invalid_argument, "unknown compression '{}': use none, gzip, zstd or xz", name);
}

namespace {

constexpr std::int64_t k_ns = 1'000'000'000;

struct ArchiveWriterDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveWriterDeleter>;
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

// A buffer of zeros for holes, from calloc: large calloc'd blocks are fresh
// mappings, so the zero pages cost no resident memory until written (never).
struct ZeroBuffer {
  struct Free {
    void operator()(std::uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<std::uint8_t, Free> data;
  std::size_t size = 0;
  ByteSpan get(std::size_t n) {
    if (n > size) {
      data.reset(static_cast<std::uint8_t*>(std::calloc(n, 1)));
      if (!data) std::abort();
      size = n;
    }
    return ByteSpan(data.get(), n);
  }
};

const char* format_name(ArchiveFormat f) {
  switch (f) {
    case ArchiveFormat::pax: return "pax";
    case ArchiveFormat::tar: return "tar";
    case ArchiveFormat::zip: return "zip";
    case ArchiveFormat::cpio: return "cpio";
    case ArchiveFormat::sevenzip: return "7zip";
  }
  return "?";
}

class Exporter {
public:
  Exporter(const repo::Repository& repo, const ExportOptions& opt, Progress* progress)
      : m_repo(repo),
        m_opt(opt),
        m_progress(progress),
        m_filter(opt.includes, opt.excludes),
        m_pool(opt.threads ? opt.threads : ThreadPool::default_threads(), 64) {
    m_window = std::min<std::size_t>(m_pool.size() + 1, 4);
  }

  Result<ExportResult> run(const repo::Snapshot& snapshot);

private:
  Status open_archive();
  Status walk(const Id& tree_id, const std::string& snap_dir, const std::string& arc_dir);
  Status write_node(const Node& node, const std::string& snap_path, const std::string& arc_path);
  Status write_content(const Node& node, const std::string& snap_path, archive_entry* entry);
  Status write_bytes(ByteSpan data, const std::string& snap_path);
  Result<bool> is_zero_blob(const Id& id, std::uint32_t raw_length);
  tl::unexpected<Error> archive_error(const std::string& what) {
    return fail(Errc::io, what + ": " + (archive_error_string(m_archive.get()) ? archive_error_string(m_archive.get())
                                                                                : "unknown libarchive error"));
  }
  void skip(const std::string& path, std::string what) { m_result.skipped.push_back({path, std::move(what)}); }

  const repo::Repository& m_repo;
  const ExportOptions& m_opt;
  Progress* m_progress;
  PathFilter m_filter;
  ThreadPool m_pool;
  std::size_t m_window = 2;
  ArchivePtr m_archive;
  ExportResult m_result;
  ZeroBuffer m_zeros;
  std::unordered_map<std::uint32_t, Id> m_zero_ids;  // raw length -> ID of that many zero bytes
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> m_links;  // (device, inode) -> archive path
  std::uint64_t m_next_ino = 1;
};

Status Exporter::open_archive() {
  m_archive.reset(archive_write_new());
  if (!m_archive) return fail(Errc::failed, "libarchive: out of memory");
  struct archive* a = m_archive.get();
  int r = ARCHIVE_OK;
  switch (m_opt.format) {
    case ArchiveFormat::pax: r = archive_write_set_format_pax(a); break;
    case ArchiveFormat::tar: r = archive_write_set_format_gnutar(a); break;
    case ArchiveFormat::zip: r = archive_write_set_format_zip(a); break;
    case ArchiveFormat::cpio: r = archive_write_set_format_cpio_newc(a); break;
    case ArchiveFormat::sevenzip: r = archive_write_set_format_7zip(a); break;
  }
  if (r != ARCHIVE_OK) return archive_error(std::string("cannot set up the ") + format_name(m_opt.format) + " format");
  bool self_compressing = m_opt.format == ArchiveFormat::zip || m_opt.format == ArchiveFormat::sevenzip;
  if (self_compressing && m_opt.compression != ArchiveCompression::none)
    return failf(Errc::invalid_argument, "{} compresses its entries itself: --compress applies to pax, tar and cpio",
                 format_name(m_opt.format));
  switch (m_opt.compression) {
    case ArchiveCompression::none: r = archive_write_add_filter_none(a); break;
    case ArchiveCompression::gzip: r = archive_write_add_filter_gzip(a); break;
    case ArchiveCompression::zstd: r = archive_write_add_filter_zstd(a); break;
    case ArchiveCompression::xz: r = archive_write_add_filter_xz(a); break;
  }
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return archive_error("cannot set up the compression filter");
  // Streams to pipes: no block padding beyond what the format needs.
  if (m_opt.compression != ArchiveCompression::none) archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open_fd(a, m_opt.fd) != ARCHIVE_OK) return archive_error("cannot start the archive");
  return {};
}

Result<bool> Exporter::is_zero_blob(const Id& id, std::uint32_t raw_length) {
  auto it = m_zero_ids.find(raw_length);
  if (it == m_zero_ids.end()) it = m_zero_ids.emplace(raw_length, m_repo.hash_blob(m_zeros.get(raw_length))).first;
  return it->second == id;
}

Status Exporter::write_bytes(ByteSpan data, const std::string& snap_path) {
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(m_archive.get(), data.data(), data.size());
    if (n <= 0) return archive_error("cannot write " + snap_path + " to the archive");
    data = data.subspan(static_cast<std::size_t>(n));
    m_result.bytes += static_cast<std::uint64_t>(n);
    if (m_progress) m_progress->bytes_done += static_cast<std::uint64_t>(n);
  }
  return {};
}

Status Exporter::write_content(const Node& node, const std::string& snap_path, archive_entry* entry) {
  // Blob lengths from the index: checks the tree against the size, finds the
  // all-zero blobs (holes), without reading any data yet.
  std::vector<std::uint32_t> lengths;
  std::vector<bool> zero;
  lengths.reserve(node.content.size());
  std::uint64_t total = 0;
  bool any_zero = false, any_data = false;
  for (const Id& id : node.content) {
    auto loc = m_repo.index().find(BlobType::data, id);
    if (!loc) return failf(Errc::not_found, "{}: data blob {} is not in the index (run kho check)", snap_path, id.hex());
    lengths.push_back(loc->blob.raw_length);
    KHO_TRY_ASSIGN(bool z, is_zero_blob(id, loc->blob.raw_length));
    zero.push_back(z);
    (z ? any_zero : any_data) = true;
    total += loc->blob.raw_length;
  }
  if (total != node.size)
    return failf(Errc::corruption, "{}: its blobs hold {} bytes but the snapshot records {}", snap_path, total, node.size);
  if (m_opt.format == ArchiveFormat::pax && any_zero && total > 0) {
    std::uint64_t offset = 0;
    std::int64_t run_start = -1;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      if (!zero[i] && run_start < 0) run_start = static_cast<std::int64_t>(offset);
      if (zero[i] && run_start >= 0) {
        archive_entry_sparse_add_entry(entry, run_start, static_cast<std::int64_t>(offset) - run_start);
        run_start = -1;
      }
      offset += lengths[i];
    }
    if (run_start >= 0) archive_entry_sparse_add_entry(entry, run_start, static_cast<std::int64_t>(offset) - run_start);
    // The map must end at the file's end: a file ending in a hole gets a
    // one-byte data region (a zero) there, as GNU tar does.
    if (zero.back() || !any_data) archive_entry_sparse_add_entry(entry, static_cast<std::int64_t>(total) - 1, 1);
    m_result.sparse_files++;
  }
  if (archive_write_header(m_archive.get(), entry) < ARCHIVE_WARN)
    return archive_error("cannot write the header of " + snap_path);
  // Data blobs are read a few ahead, in parallel, in order.
  std::deque<std::future<Result<Bytes>>> pending;
  std::size_t next = 0;
  auto refill = [&] {
    while (pending.size() < m_window && next < node.content.size()) {
      if (!zero[next]) {
        const Id id = node.content[next];
        pending.push_back(m_pool.submit([this, id] { return m_repo.load_blob(BlobType::data, id); }));
      }
      ++next;
    }
  };
  struct Drain {  // never leave a task referring to this frame
    std::deque<std::future<Result<Bytes>>>& p;
    ~Drain() {
      for (auto& f : p) f.wait();
    }
  } drain{pending};
  for (std::size_t i = 0; i < node.content.size(); ++i) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    refill();
    if (zero[i]) {
      KHO_TRY_STATUS(write_bytes(m_zeros.get(lengths[i]), snap_path));
      continue;
    }
    auto blob = pending.front().get();
    pending.pop_front();
    if (!blob) return tl::unexpected(blob.error().with_context(snap_path));
    if (blob->size() != lengths[i])
      return failf(Errc::corruption, "{}: blob {} has {} bytes, the index says {}", snap_path, node.content[i].hex(),
                   blob->size(), lengths[i]);
    KHO_TRY_STATUS(write_bytes(*blob, snap_path));
  }
  return {};
}

Status Exporter::write_node(const Node& node, const std::string& snap_path, const std::string& arc_path) {
  EntryPtr holder(archive_entry_new());
  archive_entry* e = holder.get();
  archive_entry_copy_pathname(e, arc_path.c_str());
  mode_t type = 0;
  switch (node.type) {
    case FileType::file: type = AE_IFREG; break;
    case FileType::dir: type = AE_IFDIR; break;
    case FileType::symlink: type = AE_IFLNK; break;
    case FileType::fifo: type = AE_IFIFO; break;
    case FileType::chardev: type = AE_IFCHR; break;
    case FileType::blockdev: type = AE_IFBLK; break;
    case FileType::socket:
      skip(snap_path, "a socket cannot be stored in an archive");
      return {};
  }
  archive_entry_set_filetype(e, type);
  archive_entry_set_size(e, 0);  // cpio and zip want a size on every entry
  archive_entry_set_perm(e, node.mode & 07777);
  archive_entry_set_uid(e, node.uid);
  archive_entry_set_gid(e, node.gid);
  if (!node.user.empty()) archive_entry_copy_uname(e, node.user.c_str());
  if (!node.group.empty()) archive_entry_copy_gname(e, node.group.c_str());
  std::int64_t sec = node.mtime_ns / k_ns, nsec = node.mtime_ns % k_ns;
  if (nsec < 0) {
    nsec += k_ns;
    sec -= 1;
  }
  archive_entry_set_mtime(e, sec, nsec);
  if (node.type == FileType::chardev || node.type == FileType::blockdev) archive_entry_set_rdev(e, node.rdev);
  if (node.type == FileType::symlink) archive_entry_copy_symlink(e, node.link_target.c_str());
  if (!node.xattrs.empty()) {
    if (m_opt.format == ArchiveFormat::pax) {
      for (const auto& [key, value] : node.xattrs) archive_entry_xattr_add_entry(e, key.c_str(), value.data(), value.size());
    } else {
      skip(snap_path, fmt::format("{} extended attribute(s) left out: the {} format cannot hold them", node.xattrs.size(),
                                  format_name(m_opt.format)));
    }
  }
  // cpio readers link entries by inode number: give each entry its own.
  if (m_opt.format == ArchiveFormat::cpio) {
    archive_entry_set_ino64(e, static_cast<std::int64_t>(m_next_ino++));
    archive_entry_set_nlink(e, node.type == FileType::dir ? 2 : 1);
  }

  if (node.type == FileType::file) {
    bool tar_like = m_opt.format == ArchiveFormat::pax || m_opt.format == ArchiveFormat::tar;
    if (tar_like && node.nlink > 1) {
      auto key = std::make_pair(node.device, node.inode);
      auto it = m_links.find(key);
      if (it != m_links.end()) {
        archive_entry_copy_hardlink(e, it->second.c_str());
        archive_entry_set_size(e, 0);
        if (archive_write_header(m_archive.get(), e) < ARCHIVE_WARN)
          return archive_error("cannot write the header of " + snap_path);
        m_result.hardlinks++;
        m_result.files++;
        if (m_progress) m_progress->files_done++;
        return {};
      }
      m_links.emplace(key, arc_path);
    }
    archive_entry_set_size(e, static_cast<la_int64_t>(node.size));
    KHO_TRY_STATUS(write_content(node, snap_path, e));
    m_result.files++;
    if (m_progress) m_progress->files_done++;
    return {};
  }
  if (archive_write_header(m_archive.get(), e) < ARCHIVE_WARN)
    return archive_error("cannot write the header of " + snap_path);
  switch (node.type) {
    case FileType::dir: m_result.dirs++; break;
    case FileType::symlink: m_result.symlinks++; break;
    default: m_result.other++; break;
  }
  return {};
}

Status Exporter::walk(const Id& tree_id, const std::string& snap_dir, const std::string& arc_dir) {
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(snap_dir));
  KHO_TRY_ASSIGN(repo::Tree tree, m_repo.load_tree(tree_id));
  for (const Node& node : tree.nodes) {
    std::string snap = join_path(snap_dir, node.name);
    std::string arc = arc_dir.empty() ? node.name : arc_dir + "/" + node.name;
    if (m_filter.excluded(snap)) continue;
    if (node.type == FileType::dir) {
      bool wanted = m_filter.included(snap);
      if (!wanted && !m_filter.may_contain_included(snap)) continue;
      // A directory walked only to reach included paths is not stored itself:
      // extractors create it.
      if (wanted) KHO_TRY_STATUS(write_node(node, snap, arc));
      if (node.subtree) KHO_TRY_STATUS(walk(*node.subtree, snap, arc));
      continue;
    }
    if (!m_filter.included(snap)) continue;
    KHO_TRY_STATUS(write_node(node, snap, arc));
  }
  return {};
}

Result<ExportResult> Exporter::run(const repo::Snapshot& snapshot) {
  platform::ScopedUtf8Locale utf8_names;  // non-ASCII names survive 7zip and pax
  TimeNs start = now_ns();
  if (m_opt.fd < 0) return fail(Errc::invalid_argument, "no output for the archive");
  // Find where the export starts (as restore does) before writing anything.
  std::string sub = m_opt.subpath;
  while (sub.size() > 1 && sub.back() == '/') sub.pop_back();
  std::optional<Node> found;
  std::string snap_path;
  if (!sub.empty() && sub != "/") {
    if (sub.front() != '/') sub = "/" + sub;
    Id tree_id = snapshot.tree;
    std::size_t pos = 1;
    while (pos <= sub.size()) {
      std::size_t next = sub.find('/', pos);
      if (next == std::string::npos) next = sub.size();
      std::string comp = sub.substr(pos, next - pos);
      pos = next + 1;
      if (comp.empty()) continue;
      if (found) {
        if (!found->subtree) return fail(Errc::not_found, "path " + sub + " is not in the snapshot");
        tree_id = *found->subtree;
      }
      KHO_TRY_ASSIGN(repo::Tree tree, m_repo.load_tree(tree_id));
      const Node* node = tree.find(comp);
      if (!node) return fail(Errc::not_found, "path " + sub + " is not in the snapshot");
      snap_path += "/" + comp;
      found = *node;
    }
  }
  KHO_TRY_STATUS(open_archive());
  if (!found) {
    KHO_TRY_STATUS(walk(snapshot.tree, "/", ""));
  } else if (found->type == FileType::dir) {
    if (found->subtree) KHO_TRY_STATUS(walk(*found->subtree, snap_path, ""));
  } else {
    KHO_TRY_STATUS(write_node(*found, snap_path, found->name));
  }
  if (archive_write_close(m_archive.get()) != ARCHIVE_OK) return archive_error("cannot finish the archive");
  m_result.archive_bytes = static_cast<std::uint64_t>(archive_filter_bytes(m_archive.get(), -1));
  m_result.duration_s = static_cast<double>(now_ns() - start) / 1e9;
  return std::move(m_result);
}

}  // namespace

Result<ExportResult> run_export(const repo::Repository& repo, const repo::Snapshot& snapshot,
                                const ExportOptions& options, Progress* progress) {
  Exporter exporter(repo, options, progress);
  return exporter.run(snapshot);
}

}  // namespace kho::engine
