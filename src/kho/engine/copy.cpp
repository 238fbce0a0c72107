#include "kho/engine/copy.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "kho/chunker/fastcdc.hpp"
#include "kho/repo/blob_writer.hpp"
#include "kho/repo/pack_reader.hpp"
#include "kho/util/thread_pool.hpp"

namespace kho::engine {

using repo::BlobType;
using repo::Node;
using repo::Tree;

namespace {

bool same_secret(const SecretBytes& a, const SecretBytes& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The snapshot a snapshot descends from: itself unless it is a copy.
Id original_of(const repo::SnapshotRef& ref) { return ref.snapshot.original.value_or(ref.id); }

// Keeps the first error of many workers.
class FirstError {
public:
  void set(Error error) {
    std::lock_guard<std::mutex> guard(m_mutex);
    if (!m_error) m_error = std::move(error);
    m_failed.store(true, std::memory_order_relaxed);
  }
  bool failed() const { return m_failed.load(std::memory_order_relaxed); }
  Status status() const {
    std::lock_guard<std::mutex> guard(m_mutex);
    if (m_error) return tl::unexpected<Error>(*m_error);
    return {};
  }

private:
  mutable std::mutex m_mutex;
  std::optional<Error> m_error;
  std::atomic<bool> m_failed{false};
};

class Copier {
public:
  Copier(const repo::Repository& source, repo::Repository& destination, const CopyOptions& options,
         Progress* progress)
      : m_src(source),
        m_dst(destination),
        m_writer(destination),
        m_threads(options.threads ? options.threads : ThreadPool::default_threads()),
        m_progress(progress),
        m_shared_ids(same_blob_id_space(source, destination)),
        m_chunker(destination.config().chunker, destination.gear()) {}

  bool rechunks() const { return !m_shared_ids; }

  // Copies the snapshot's trees and data; returns the root tree in the destination.
  Result<Id> copy_tree_and_data(const repo::SnapshotRef& ref) {
    m_snapshot_name = ref.id.short_hex();
    if (m_shared_ids) {
      KHO_TRY_STATUS(transfer_missing(ref.snapshot.tree));
      KHO_TRY_STATUS(m_writer.flush());
      return ref.snapshot.tree;
    }
    ThreadPool pool(m_threads, m_threads * 2);
    KHO_TRY_ASSIGN(Id root, rewrite_tree(pool, ref.snapshot.tree, "/"));
    KHO_TRY_STATUS(m_writer.flush());
    return root;
  }

  std::uint64_t bytes_read() const { return m_bytes_read.load(); }
  repo::BlobWriterStats writer_stats() const { return m_writer.stats(); }

private:
  void add_read(std::uint64_t n) {
    m_bytes_read.fetch_add(n, std::memory_order_relaxed);
    if (m_progress) m_progress->bytes_done.fetch_add(n, std::memory_order_relaxed);
  }

  // --- Same blob-ID space: move the blobs the destination lacks. ---

  struct Wanted {
    BlobType type;
    Id id;
  };

  Status transfer_missing(const Id& root) {
    std::vector<Wanted> wanted;
    KHO_TRY_STATUS(collect_missing(root, wanted));
    // Group by source pack so each pack is read once, in ranges.
    std::map<Id, std::vector<repo::PackedBlob>> by_pack;
    for (const auto& w : wanted) {
      auto loc = m_src.index().find(w.type, w.id);
      if (!loc)
        return failf(Errc::corruption,
                     "{} blob {} needed by snapshot {} is not in the source repository's index "
                     "(run 'kho check' on the source)",
                     repo::blob_type_name(w.type), w.id.hex(), m_snapshot_name);
      by_pack[loc->pack_id].push_back(loc->blob);
    }
    FirstError error;
    {
      ThreadPool pool(m_threads + 2, m_threads + 2);
      std::vector<std::future<void>> done;
      for (auto& [pack_id, blobs] : by_pack) {
        std::sort(blobs.begin(), blobs.end(),
                  [](const repo::PackedBlob& a, const repo::PackedBlob& b) { return a.offset < b.offset; });
        done.push_back(pool.submit([this, &error, id = pack_id, &list = blobs] { copy_pack(id, list, error); }));
      }
      for (auto& f : done) f.get();
    }
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    return error.status();
  }

  void copy_pack(const Id& pack_id, const std::vector<repo::PackedBlob>& blobs, FirstError& error) {
    repo::read_pack_blobs(
        m_src.backend(), pack_id, blobs,
        [&](std::size_t k, const Result<std::span<std::uint8_t>>& stored) {
          if (error.failed()) return;
          const auto& blob = blobs[k];
          std::string what = fmt::format("{} blob {} in source pack {}", repo::blob_type_name(blob.type),
                                         blob.id.hex(), pack_id.hex());
          if (!stored) return error.set(stored.error().with_context("reading " + what));
          auto raw = repo::open_blob(m_src.keys(), blob, *stored, what);
          if (!raw) return error.set(raw.error());
          if (m_dst.hash_blob(*raw) != blob.id)
            return error.set(Error(Errc::corruption, what + " does not match its ID (damaged source data)"));
          add_read(raw->size());
          if (auto saved = m_writer.save(blob.type, blob.id, *raw); !saved) error.set(saved.error());
        },
        [&] { return error.failed() || cancelled(); });
  }

  // Walks the trees under `root` level by level (loads in parallel) and lists
  // every tree and data blob the destination does not hold yet.
  Status collect_missing(const Id& root, std::vector<Wanted>& wanted) {
    std::vector<Id> level;
    if (m_seen_trees.insert(root).second) level.push_back(root);
    while (!level.empty()) {
      if (cancelled()) return fail(Errc::interrupted, "interrupted");
      std::vector<Result<Tree>> trees(level.size());
      {
        ThreadPool pool(m_threads + 2, m_threads + 2);
        std::vector<std::future<void>> done;
        for (std::size_t i = 0; i < level.size(); ++i)
          done.push_back(pool.submit([this, &trees, &level, i] { trees[i] = m_src.load_tree(level[i]); }));
        for (auto& f : done) f.get();
      }
      std::vector<Id> next;
      for (std::size_t i = 0; i < level.size(); ++i) {
        if (!trees[i])
          return tl::unexpected<Error>(
              trees[i].error().with_context(fmt::format("copying snapshot {}", m_snapshot_name)));
        if (!m_dst.index().has(BlobType::tree, level[i]) && m_queued.insert(level[i]).second)
          wanted.push_back({BlobType::tree, level[i]});
        for (const Node& node : trees[i]->nodes) {
          for (const Id& id : node.content)
            if (!m_dst.index().has(BlobType::data, id) && m_queued.insert(id).second)
              wanted.push_back({BlobType::data, id});
          if (node.subtree && m_seen_trees.insert(*node.subtree).second) next.push_back(*node.subtree);
        }
      }
      level = std::move(next);
    }
    return {};
  }

  // --- Different blob-ID space: re-chunk files and rebuild trees. ---

  Result<Id> rewrite_tree(ThreadPool& pool, const Id& src_id, const std::string& path) {
    if (auto it = m_tree_map.find(src_id); it != m_tree_map.end()) return it->second;
    repo::TreeDepth nesting;
    if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(path));
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    KHO_TRY_ASSIGN(Tree tree, m_src.load_tree(src_id));
    // Files of this directory in parallel; subdirectories depth first on this thread.
    std::vector<std::future<Result<std::vector<Id>>>> files(tree.nodes.size());
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      const Node& node = tree.nodes[i];
      if (node.content.empty()) continue;
      files[i] = pool.submit([this, &node, p = path + node.name] { return rechunk_file(node, p); });
    }
    Status status;
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      Node& node = tree.nodes[i];
      if (files[i].valid()) {
        auto content = files[i].get();
        if (!content && status) status = tl::unexpected<Error>(content.error());
        if (content) node.content = std::move(*content);
      }
    }
    KHO_TRY_STATUS(status);
    for (Node& node : tree.nodes) {
      if (!node.subtree) continue;
      KHO_TRY_ASSIGN(Id sub, rewrite_tree(pool, *node.subtree, path + node.name + "/"));
      node.subtree = sub;
    }
    Bytes bytes = tree.encode();
    Id id = m_dst.hash_blob(bytes);
    KHO_TRY_STATUS(m_writer.save(BlobType::tree, id, bytes));
    m_tree_map.emplace(src_id, id);
    return id;
  }

  Result<std::vector<Id>> rechunk_file(const Node& node, const std::string& path) {
    {
      std::lock_guard<std::mutex> guard(m_content_mutex);
      if (auto it = m_content_map.find(node.content); it != m_content_map.end()) return it->second;
    }
    std::vector<Id> out;
    Bytes buffer;
    std::size_t start = 0;
    chunker::StreamCuts cuts(m_chunker);
    auto emit = [&](std::size_t length) -> Status {
      ByteSpan chunk(buffer.data() + start, length);
      Id id = m_dst.hash_blob(chunk);
      KHO_TRY_STATUS(m_writer.save(BlobType::data, id, chunk));
      out.push_back(id);
      start += length;
      return {};
    };
    for (const Id& id : node.content) {
      if (cancelled()) return fail(Errc::interrupted, "interrupted");
      auto raw = m_src.load_blob(BlobType::data, id);
      if (!raw)
        return tl::unexpected<Error>(
            raw.error().with_context(fmt::format("copying {} of snapshot {}", path, m_snapshot_name)));
      add_read(raw->size());
      if (start > 0 && start >= buffer.size() / 2) {
        buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(start));
        start = 0;
      }
      buffer.insert(buffer.end(), raw->begin(), raw->end());
      while (std::size_t cut = cuts.next(ByteSpan(buffer.data() + start, buffer.size() - start), false))
        KHO_TRY_STATUS(emit(cut));
    }
    while (start < buffer.size())
      KHO_TRY_STATUS(emit(cuts.next(ByteSpan(buffer.data() + start, buffer.size() - start), true)));
    if (m_progress) m_progress->files_done.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> guard(m_content_mutex);
    m_content_map.emplace(node.content, out);
    return out;
  }

  struct ContentHash {
    std::size_t operator()(const std::vector<Id>& ids) const {
      std::size_t h = ids.size();
      for (const Id& id : ids) h = h * 31 + IdHash{}(id);
      return h;
    }
  };

  const repo::Repository& m_src;
  repo::Repository& m_dst;
  repo::BlobWriter m_writer;
  unsigned m_threads;
  Progress* m_progress;
  bool m_shared_ids;
  chunker::Chunker m_chunker;
  std::string m_snapshot_name;
  std::atomic<std::uint64_t> m_bytes_read{0};
  // Shared-ID mode: trees walked and blobs queued in this run.
  std::unordered_set<Id, IdHash> m_seen_trees;
  std::unordered_set<Id, IdHash> m_queued;
  // Re-chunk mode: source tree -> destination tree, source content -> destination content.
  std::unordered_map<Id, Id, IdHash> m_tree_map;
  std::mutex m_content_mutex;
  std::unordered_map<std::vector<Id>, std::vector<Id>, ContentHash> m_content_map;
};

}  // namespace

bool same_blob_id_space(const repo::Repository& a, const repo::Repository& b) {
  const auto& ca = a.config().chunker;
  const auto& cb = b.config().chunker;
  return ca.min_size == cb.min_size && ca.avg_size == cb.avg_size && ca.max_size == cb.max_size &&
         same_secret(a.keys().id, b.keys().id) && same_secret(a.keys().chunker_seed, b.keys().chunker_seed);
}

Result<CopyResult> copy_snapshots(const repo::Repository& source, repo::Repository& destination,
                                  const std::vector<repo::SnapshotRef>& snapshots, const CopyOptions& options,
                                  Progress* progress) {
  auto started = std::chrono::steady_clock::now();
  CopyResult result;
  // What the destination holds already, by the snapshot each one descends from.
  std::unordered_map<Id, Id, IdHash> present;
  KHO_TRY_ASSIGN(auto existing, destination.list_snapshots());
  for (const auto& ref : existing) {
    present.emplace(original_of(ref), ref.id);
    present.emplace(ref.id, ref.id);
  }
  Copier copier(source, destination, options, progress);
  result.rechunked = copier.rechunks();
  for (const auto& ref : snapshots) {
    CopiedSnapshot item;
    item.source = ref.id;
    item.original = original_of(ref);
    if (auto it = present.find(item.original); it != present.end()) {
      item.skipped = true;
      item.destination = it->second;
      result.snapshots.push_back(item);
      continue;
    }
    KHO_TRY_ASSIGN(Id tree, copier.copy_tree_and_data(ref));
    repo::Snapshot snap = ref.snapshot;
    snap.tree = tree;
    snap.parent.reset();  // names a snapshot of the source
    snap.original = item.original;
    KHO_TRY_ASSIGN(Id id, destination.save_snapshot(snap));
    item.destination = id;
    present.emplace(item.original, id);
    result.snapshots.push_back(item);
  }
  auto stats = copier.writer_stats();
  result.blobs_copied = stats.data_blobs + stats.tree_blobs;
  result.bytes_added = stats.stored_bytes;
  result.raw_added = stats.raw_bytes;
  result.bytes_read = copier.bytes_read();
  result.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace kho::engine
