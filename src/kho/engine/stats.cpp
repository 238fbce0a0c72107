#include "kho/engine/stats.hpp"

#include <unordered_map>
#include <unordered_set>

#include "kho/engine/progress.hpp"

namespace kho::engine {

using repo::BlobType;
using repo::FileType;

const char* stats_mode_name(StatsMode mode) {
  switch (mode) {
    case StatsMode::restore_size: return "restore-size";
    case StatsMode::raw_data: return "raw-data";
  }
  return "unknown";
}

Result<StatsMode> parse_stats_mode(std::string_view text) {
  if (text == "restore-size") return StatsMode::restore_size;
  if (text == "raw-data") return StatsMode::raw_data;
  return fail(Errc::invalid_argument,
              "unknown stats mode '" + std::string(text) + "': use restore-size or raw-data");
}

namespace {

struct FileTotals {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

class StatsWalker {
public:
  explicit StatsWalker(const repo::Repository& repo) : m_repo(repo) {}

  // The files below the tree `id`, each tree read once; records the blobs seen.
  Result<FileTotals> visit(const Id& id) {
    if (auto it = m_memo.find(id); it != m_memo.end()) return it->second;
    repo::TreeDepth nesting;
    if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error("tree " + id.hex()));
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    auto tree = m_repo.load_tree(id);
    if (!tree)
      return tl::unexpected(tree.error().with_context("stats cannot read tree " + id.short_hex() +
                                                      ": run 'kho check' to find what is damaged"));
    m_trees.insert(id);
    FileTotals t;
    for (const auto& node : tree->nodes) {
      if (node.type == FileType::file) {
        ++t.files;
        t.bytes += node.size;
        m_data.insert(node.content.begin(), node.content.end());
      }
      if (node.subtree) {
        KHO_TRY_ASSIGN(FileTotals below, visit(*node.subtree));
        t.files += below.files;
        t.bytes += below.bytes;
      }
    }
    m_memo.emplace(id, t);
    return t;
  }

  // Adds the sizes of the unique blobs seen to `s`.
  void add_blob_sizes(Stats& s) const {
    auto add = [&](BlobType type, const Id& id) {
      auto loc = m_repo.index().find(type, id);
      if (!loc) {
        ++s.missing_blobs;
        return;
      }
      ++s.referenced_blobs;
      s.raw_data_size += loc->blob.raw_length;
      s.referenced_stored_size += loc->blob.stored_length;
      if (type == BlobType::data) s.raw_file_data_size += loc->blob.raw_length;
    };
    for (const auto& id : m_data) add(BlobType::data, id);
    for (const auto& id : m_trees) add(BlobType::tree, id);
  }

private:
  const repo::Repository& m_repo;
  std::unordered_map<Id, FileTotals, IdHash> m_memo;
  std::unordered_set<Id, IdHash> m_data;
  std::unordered_set<Id, IdHash> m_trees;
};

double ratio(std::uint64_t a, std::uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b); }

}  // namespace

Result<Stats> compute_stats(const repo::Repository& repo, const std::vector<repo::SnapshotRef>& snapshots,
                            StatsMode mode) {
  Stats s;
  s.mode = mode;
  StatsWalker walker(repo);
  std::unordered_set<Id, IdHash> seen;
  for (const auto& snap : snapshots) {
    if (!seen.insert(snap.id).second) continue;
    ++s.snapshots;
    auto totals = walker.visit(snap.snapshot.tree);
    if (!totals) return tl::unexpected(totals.error().with_context("snapshot " + snap.id.short_hex()));
    s.total_files += totals->files;
    s.restore_size += totals->bytes;
  }
  walker.add_blob_sizes(s);

  s.blob_count = repo.index().blob_count();
  s.pack_count = repo.index().pack_count();
  auto packs = repo.backend().list(backend::ObjectType::data);
  if (!packs) return tl::unexpected(packs.error().with_context("stats cannot list the packs of " + repo.location()));
  for (const auto& p : *packs) s.stored_size += p.size;
  auto snapshot_files = repo.backend().list(backend::ObjectType::snapshot);
  if (!snapshot_files)
    return tl::unexpected(snapshot_files.error().with_context("stats cannot list the snapshots of " + repo.location()));
  s.repository_snapshots = snapshot_files->size();

  s.dedup_ratio = ratio(s.restore_size, s.raw_file_data_size);
  s.compression_ratio = ratio(s.raw_data_size, s.referenced_stored_size);
  return s;
}

}  // namespace kho::engine
