#include "kho/engine/check.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>

#include "kho/util/path.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using backend::Handle;
using backend::ObjectType;
using repo::BlobType;

namespace {

struct Subset {
  double percent = 100;
  std::uint32_t n = 0, m = 0;  // group n of m (1-based)
};

Result<Subset> parse_subset(const std::string& spec) {
  Subset s;
  if (spec.empty()) return s;
  auto bad = [&] {
    return fail(Errc::invalid_argument, "'" + spec + "' is not a subset: use N% (e.g. 10%) or n/m (e.g. 1/7)");
  };
  try {
    if (spec.back() == '%') {
      std::size_t used = 0;
      s.percent = std::stod(spec.substr(0, spec.size() - 1), &used);
      if (used != spec.size() - 1 || s.percent <= 0 || s.percent > 100) return bad();
      return s;
    }
    auto slash = spec.find('/');
    if (slash == std::string::npos) return bad();
    std::size_t u1 = 0, u2 = 0;
    long n = std::stol(spec.substr(0, slash), &u1);
    long m = std::stol(spec.substr(slash + 1), &u2);
    if (u1 != slash || u2 != spec.size() - slash - 1 || m < 1 || n < 1 || n > m) return bad();
    s.n = static_cast<std::uint32_t>(n);
    s.m = static_cast<std::uint32_t>(m);
    return s;
  } catch (...) {
    return bad();
  }
}

class Checker {
public:
  Checker(repo::Repository& repo, const CheckOptions& opt, Progress* progress)
      : m_repo(repo), m_opt(opt), m_progress(progress) {}
  Result<CheckResult> run();

private:
  void error(std::string object, std::string message) {
    std::lock_guard lock(m_mutex);
    add_error(m_result.errors, std::move(object), std::move(message));
  }
  // What the walk of the snapshots' trees finds: kept apart (it runs beside the
  // pack reads) and listed before their errors.
  void walk_error(std::string object, std::string message) {
    add_error(m_walk_errors, std::move(object), std::move(message));
  }
  void add_error(std::vector<CheckProblem>& list, std::string object, std::string message) {
    list.push_back({std::move(object), std::move(message)});
    if (m_progress) m_progress->errors++;
  }
  void walk_tree(const Id& tree_id, const std::string& snapshot, const std::string& path);
  Status walk_snapshots();
  void check_keys();
  // " (listed in index/…)": which index files name a pack, so a stale one can be found.
  std::string listed_by(const Id& pack) const;
  void read_pack(const Id& pack_id);
  void trace_damage();

  repo::Repository& m_repo;
  const CheckOptions& m_opt;
  Progress* m_progress;
  std::mutex m_mutex;
  CheckResult m_result;
  std::vector<repo::SnapshotRef> m_snapshots;
  std::unordered_set<Id, IdHash> m_seen_trees;
  std::vector<CheckProblem> m_walk_errors;
  std::map<Id, std::vector<repo::PackedBlob>> m_pack_blobs;  // from the index
  std::unordered_set<Id, IdHash> m_damaged_data;  // blob ids
  std::unordered_set<Id, IdHash> m_damaged_trees;
};

void Checker::walk_tree(const Id& tree_id, const std::string& snapshot, const std::string& path) {
  repo::TreeDepth nesting;
  if (nesting.too_deep()) {
    walk_error("snapshot " + snapshot, repo::TreeDepth::error(path).message() + ": nothing below it is checked");
    return;
  }
  if (!m_seen_trees.insert(tree_id).second) return;
  m_result.trees++;
  if (!m_repo.index().has(BlobType::tree, tree_id)) {
    walk_error("snapshot " + snapshot,
               fmt::format("tree {} for {} is missing from the index: everything below {} is lost", tree_id.hex(),
                           path, path));
    return;
  }
  auto tree = m_repo.load_tree(tree_id);
  if (!tree) {
    auto loc = m_repo.index().find(BlobType::tree, tree_id);
    walk_error(loc ? "pack " + loc->pack_id.hex() : "tree " + tree_id.hex(),
               fmt::format("tree {} ({} in snapshot {}) cannot be read: {}", tree_id.hex(), path, snapshot,
                           tree.error().message()));
    return;
  }
  for (const auto& node : tree->nodes) {
    std::string child = join_path(path, node.name);
    for (const auto& id : node.content) {
      m_result.blobs++;
      if (!m_repo.index().has(BlobType::data, id))
        walk_error("snapshot " + snapshot, fmt::format("{}: data blob {} is missing from the index", child, id.hex()));
    }
    if (node.subtree) walk_tree(*node.subtree, snapshot, child);
  }
}

std::string Checker::listed_by(const Id& pack) const {
  std::string out;
  for (const Id& index : m_repo.index_files_listing(pack))
    out += (out.empty() ? " (listed in " : ", ") + backend::describe(Handle{ObjectType::index, index.hex()});
  return out.empty() ? out : out + ")";
}

void Checker::check_keys() {
  // Key files are not sealed, but named by their SHA-256 like the others: one
  // replaced, swapped or cut short is found here even if another key opens.
  auto infos = m_repo.backend().list(ObjectType::key);
  if (!infos) {
    error("keys", "cannot be listed: " + infos.error().message());
    return;
  }
  for (const auto& info : *infos) {
    const Handle handle{ObjectType::key, info.name};
    const std::string what = backend::describe(handle);
    if (!Id::parse(info.name)) {
      m_result.hints.push_back(what + " is not a key file name; ignored");
      continue;
    }
    auto bytes = repo::load_key_file(m_repo.backend(), info);
    if (!bytes)
      error(what, bytes.error().code() == Errc::corruption ? bytes.error().message()
                                                           : "cannot be read: " + bytes.error().message());
    else if (!repo::key_file_matches_name(*bytes, info.name))
      error(what, "does not match its name (SHA-256): it was modified or swapped");
  }
}

void Checker::read_pack(const Id& pack_id) {
  if (cancelled()) return;
  std::string what = "pack " + pack_id.hex();
  const Handle handle{ObjectType::data, pack_id.hex()};
  auto info = m_repo.backend().stat(handle);
  if (!info) {
    error(what, "cannot be read: " + info.error().message());
    return;
  }
  const std::uint64_t size = info->size;
  std::vector<repo::PackedBlob> indexed = m_pack_blobs.at(pack_id);
  std::sort(indexed.begin(), indexed.end(),
            [](const repo::PackedBlob& a, const repo::PackedBlob& b) { return a.offset < b.offset; });
  auto damaged = [&](const repo::PackedBlob& b, const std::string& message) {
    error(what, fmt::format("{} blob {} {}", repo::blob_type_name(b.type), b.id.hex(), message));
    std::lock_guard lock(m_mutex);
    (b.type == BlobType::tree ? m_damaged_trees : m_damaged_data).insert(b.id);
  };

  // Stream the pack in segments: hash everything, open each indexed blob once
  // all its bytes have arrived, keep only the bytes of the next blob pending.
  // The window's buffer is this thread's and kept from pack to pack: a fresh one
  // per segment cost a page fault per 4 KiB read.
  constexpr std::uint64_t k_segment = 2 * 1024 * 1024;
  constexpr std::size_t k_header_tail = 256 * 1024;  // kept of the last segment for the header
  crypto::Sha256 sha;
  thread_local Bytes window;      // pack bytes [window_start, pos)
  window.clear();
  std::uint64_t window_start = 0;
  std::uint64_t pos = 0;
  std::size_t next = 0;           // first indexed blob not yet opened
  Bytes last_segment;
  while (pos < size) {
    if (cancelled()) return;
    std::uint64_t n = std::min(k_segment, size - pos);
    const std::size_t filled = window.size();
    window.resize(filled + n);
    const std::span<std::uint8_t> segment(window.data() + filled, n);
    if (auto loaded = m_repo.backend().load_into(handle, pos, segment); !loaded) {
      error(what, "cannot be read: " + loaded.error().message());
      for (; next < indexed.size(); ++next) damaged(indexed[next], "cannot be read");
      return;
    }
    sha.update(segment);
    pos += n;
    for (; next < indexed.size(); ++next) {
      const auto& b = indexed[next];
      std::uint64_t end = static_cast<std::uint64_t>(b.offset) + b.stored_length;
      if (end > pos) break;
      std::string blob_what = fmt::format("{} blob {}", repo::blob_type_name(b.type), b.id.hex());
      if (b.offset < window_start) {  // only a crafted index makes entries overlap
        damaged(b, "overlaps another blob in the pack");
        continue;
      }
      ByteSpan stored(window.data() + (b.offset - window_start), b.stored_length);
      auto raw = repo::open_blob_scratch(m_repo.keys(), b, stored, blob_what);
      if (!raw)
        damaged(b, "is damaged: " + raw.error().message());
      else if (m_repo.hash_blob(*raw) != b.id)
        damaged(b, "does not match its ID");
    }
    std::uint64_t keep_from = next < indexed.size() ? std::max<std::uint64_t>(indexed[next].offset, window_start) : pos;
    if (pos >= size)
      last_segment.assign(segment.end() - static_cast<std::ptrdiff_t>(std::min(n, k_header_tail)), segment.end());
    window.erase(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(std::min(keep_from, pos) - window_start));
    window_start = std::min(keep_from, pos);
  }
  {
    std::lock_guard lock(m_mutex);
    m_result.packs_read++;
    m_result.bytes_read += size;
  }
  if (m_progress) m_progress->bytes_done += size;
  if (sha.finish() != pack_id) error(what, "content does not match its name (SHA-256): the pack was modified or damaged");
  for (; next < indexed.size(); ++next) damaged(indexed[next], "lies beyond the end of the pack");

  auto header = repo::parse_pack_header(m_repo.keys(), last_segment, size, what);
  if (!header && header.error().code() == Errc::not_found && last_segment.size() >= 4) {
    // A header longer than the last segment: read exactly the tail it needs.
    ByteReader length(ByteSpan(last_segment).subspan(last_segment.size() - 4), what);
    std::uint64_t tail = std::uint64_t{*length.u32()} + 4;
    auto bytes = tail <= size ? m_repo.backend().load(handle, size - tail, tail)
                              : Result<Bytes>(failf(Errc::corruption, "its header length {} exceeds its size", tail));
    if (bytes && bytes->size() != tail)
      bytes = failf(Errc::corruption, "{} bytes returned instead of {}", bytes->size(), tail);
    if (!bytes) {
      error(what, "header cannot be read: " + bytes.error().message());
      return;
    }
    header = repo::parse_pack_header(m_repo.keys(), *bytes, size, what);
  }
  if (!header) {
    error(what, "header cannot be read: " + header.error().message());
    return;
  }
  std::set<std::pair<Id, std::uint32_t>> in_header;
  for (const auto& b : *header) in_header.insert({b.id, b.offset});
  for (const auto& b : indexed)
    if (!in_header.count({b.id, b.offset}))
      error(what, fmt::format("{} blob {} is in the index but not in the pack header", repo::blob_type_name(b.type),
                              b.id.hex()));
}

void Checker::trace_damage() {
  // Name what the damage costs: the snapshot paths whose data is gone.
  std::map<std::string, std::vector<std::string>> affected;  // snapshot -> paths
  std::function<void(const Id&, const std::string&, const std::string&)> walk =
      [&](const Id& tree_id, const std::string& snap, const std::string& path) {
        repo::TreeDepth nesting;
        if (nesting.too_deep()) return;  // reported by walk_tree()
        if (m_damaged_trees.count(tree_id)) {
          affected[snap].push_back(path + "/ (directory listing)");
          return;
        }
        auto tree = m_repo.load_tree(tree_id);
        if (!tree) return;
        for (const auto& node : tree->nodes) {
          std::string child = join_path(path, node.name);
          for (const auto& id : node.content)
            if (m_damaged_data.count(id)) {
              affected[snap].push_back(child);
              break;
            }
          if (node.subtree) walk(*node.subtree, snap, child);
        }
      };
  for (const auto& s : m_snapshots) walk(s.snapshot.tree, s.id.short_hex(), "/");
  for (auto& [snap, paths] : affected) {
    std::string list;
    for (std::size_t i = 0; i < paths.size() && i < 20; ++i) list += (i ? ", " : "") + paths[i];
    if (paths.size() > 20) list += fmt::format(" and {} more", paths.size() - 20);
    error("snapshot " + snap, fmt::format("{} file(s) cannot be restored because of damaged data: {}", paths.size(), list));
  }
}

Status Checker::walk_snapshots() {
  for (const auto& s : m_snapshots) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    walk_tree(s.snapshot.tree, s.id.short_hex(), "/");
  }
  return {};
}

Result<CheckResult> Checker::run() {
  TimeNs start = now_ns();
  KHO_TRY_ASSIGN(Subset subset, parse_subset(m_opt.read_data_subset));
  bool read_data = m_opt.read_data || !m_opt.read_data_subset.empty();

  check_keys();
  KHO_TRY_ASSIGN(auto index_errors, m_repo.load_index(true));
  for (const auto& e : index_errors) error("index", e.message());
  m_repo.index().for_each([&](const Id& pack, const repo::PackedBlob& b) { m_pack_blobs[pack].push_back(b); });

  KHO_TRY_ASSIGN(auto pack_infos, m_repo.backend().list(ObjectType::data));
  std::map<Id, std::uint64_t> stored;
  for (const auto& info : pack_infos) {
    auto id = Id::parse(info.name);
    if (!id) {
      m_result.hints.push_back("data/" + info.name + " is not a pack name; ignored");
      continue;
    }
    stored[*id] = info.size;
  }
  m_result.packs = m_pack_blobs.size();
  for (const auto& [pack, blobs] : m_pack_blobs) {
    auto it = stored.find(pack);
    if (it == stored.end()) {
      error("pack " + pack.hex(),
            fmt::format("is missing: {} blob(s) it holds are lost{}", blobs.size(), listed_by(pack)));
      for (const auto& b : blobs) (b.type == BlobType::tree ? m_damaged_trees : m_damaged_data).insert(b.id);
      continue;
    }
    std::uint64_t end = 0;
    for (const auto& b : blobs) end = std::max<std::uint64_t>(end, std::uint64_t{b.offset} + b.stored_length);
    if (end + 4 + crypto::k_seal_overhead > it->second)
      error("pack " + pack.hex(),
            fmt::format("is {} bytes, too short for the blobs the index places in it{}", it->second, listed_by(pack)));
  }
  std::uint64_t unreferenced = 0;
  for (const auto& [pack, size] : stored)
    if (!m_pack_blobs.count(pack)) unreferenced++;
  if (unreferenced)
    m_result.hints.push_back(fmt::format(
        "{} pack(s) are not in any index (left by an interrupted backup or prune); 'kho prune' removes them",
        unreferenced));

  std::vector<Error> snapshot_errors;
  KHO_TRY_ASSIGN(m_snapshots, m_repo.list_snapshots(&snapshot_errors));
  for (const auto& e : snapshot_errors) error("snapshot", e.message());
  m_result.snapshots = m_snapshots.size();
  // The trees are walked while the packs are read (on a thread of their own then).
  const std::size_t errors_before = m_result.errors.size();
  Status walked;  // before the thread that sets it, which is joined first
  std::optional<std::jthread> walker;
  if (read_data)
    walker.emplace([this, &walked] { walked = walk_snapshots(); });
  else
    walked = walk_snapshots();

  if (read_data) {
    std::vector<std::pair<Id, std::uint64_t>> to_read;
    for (const auto& [pack, blobs] : m_pack_blobs) {
      auto it = stored.find(pack);
      if (it != stored.end()) to_read.push_back({pack, it->second});
    }
    if (subset.m > 0) {
      std::vector<std::pair<Id, std::uint64_t>> picked;
      for (std::size_t i = 0; i < to_read.size(); ++i)
        if (i % subset.m == subset.n - 1) picked.push_back(to_read[i]);
      to_read = std::move(picked);
    } else if (subset.percent < 100) {
      std::mt19937_64 rng(std::random_device{}());
      std::shuffle(to_read.begin(), to_read.end(), rng);
      auto keep = static_cast<std::size_t>(std::ceil(to_read.size() * subset.percent / 100.0));
      to_read.resize(std::min(keep, to_read.size()));
    }
    if (m_progress) {
      std::uint64_t total = 0;
      for (const auto& p : to_read) total += p.second;
      m_progress->bytes_total = total;
    }
    unsigned threads = m_opt.threads ? m_opt.threads : ThreadPool::default_threads();
    {
      ThreadPool pool(threads + 1, threads + 1);
      std::vector<std::future<void>> done;
      for (const auto& entry : to_read) {
        const Id& pack = entry.first;
        Id id = pack;
        done.push_back(pool.submit([this, id] { read_pack(id); }));
      }
      for (auto& f : done) f.get();
    }
    walker.reset();  // joins it
  }
  KHO_TRY_STATUS(walked);
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  m_result.errors.insert(m_result.errors.begin() + static_cast<std::ptrdiff_t>(errors_before),
                         std::make_move_iterator(m_walk_errors.begin()), std::make_move_iterator(m_walk_errors.end()));
  if (!m_damaged_data.empty() || !m_damaged_trees.empty()) trace_damage();
  m_result.duration_s = static_cast<double>(now_ns() - start) / 1e9;
  return std::move(m_result);
}

}  // namespace

Status validate_subset(const std::string& spec) {
  KHO_TRY_STATUS(parse_subset(spec));
  return {};
}

Result<CheckResult> run_check(repo::Repository& repo, const CheckOptions& options, Progress* progress) {
  Checker checker(repo, options, progress);
  return checker.run();
}

}  // namespace kho::engine
