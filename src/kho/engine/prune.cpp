#include "kho/engine/prune.hpp"

#include <map>
#include <set>
#include <unordered_set>

#include "kho/repo/blob_writer.hpp"
#include "kho/util/crash_point.hpp"

namespace kho::engine {

using backend::Handle;
using backend::ObjectType;
using repo::BlobType;

namespace {

struct UsedBlobs {
  std::unordered_set<Id, IdHash> data;
  std::unordered_set<Id, IdHash> trees;
  bool has(BlobType t, const Id& id) const { return t == BlobType::tree ? trees.count(id) : data.count(id); }
};

Status mark_used(const repo::Repository& repo, const Id& tree_id, UsedBlobs& used) {
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error("tree " + tree_id.hex()));
  if (!used.trees.insert(tree_id).second) return {};
  if (cancelled()) return fail(Errc::interrupted, "interrupted");
  auto tree = repo.load_tree(tree_id);
  if (!tree)
    return tl::unexpected(tree.error().with_context(
        "prune needs every tree to decide what is used; run 'kho check' and repair the repository first"));
  for (const auto& node : tree->nodes) {
    for (const auto& id : node.content) used.data.insert(id);
    if (node.subtree) KHO_TRY_STATUS(mark_used(repo, *node.subtree, used));
  }
  return {};
}

struct PackPlan {
  std::vector<repo::PackedBlob> blobs;
  std::uint64_t used_bytes = 0;
  std::uint64_t unused_bytes = 0;
  std::uint64_t size = 0;
};

}  // namespace

Result<PruneResult> run_prune(repo::Repository& repo, const PruneOptions& options, Progress* progress) {
  TimeNs start = now_ns();
  PruneResult result;
  result.dry_run = options.dry_run;

  std::vector<Error> snapshot_errors;
  KHO_TRY_ASSIGN(auto snapshots, repo.list_snapshots(&snapshot_errors));
  if (!snapshot_errors.empty())
    return tl::unexpected(snapshot_errors.front().with_context(
        "prune refuses to run while a snapshot cannot be read (its data would be deleted)"));
  UsedBlobs used;
  for (const auto& s : snapshots) KHO_TRY_STATUS(mark_used(repo, s.snapshot.tree, used));

  std::map<Id, PackPlan> packs;
  repo.index().for_each([&](const Id& pack, const repo::PackedBlob& b) {
    auto& p = packs[pack];
    p.blobs.push_back(b);
    (used.has(b.type, b.id) ? p.used_bytes : p.unused_bytes) += b.stored_length;
  });
  // The same blob may be indexed in two packs (two writers raced); keep one copy.
  KHO_TRY_ASSIGN(auto stored, repo.backend().list(ObjectType::data));
  std::map<Id, std::uint64_t> stored_size;
  for (const auto& info : stored)
    if (auto id = Id::parse(info.name)) stored_size[*id] = info.size;
  result.packs_before = stored_size.size();
  for (const auto& [id, size] : stored_size) result.bytes_before += size;

  std::vector<Id> to_delete;
  std::vector<Id> to_repack;
  for (auto& [pack_id, plan] : packs) {
    auto it = stored_size.find(pack_id);
    plan.size = it == stored_size.end() ? 0 : it->second;
    if (it == stored_size.end()) {
      if (plan.used_bytes > 0)
        return failf(Errc::corruption,
                     "pack {} is indexed and holds data snapshots need, but it is missing; run 'kho check' "
                     "and repair the repository before pruning",
                     pack_id.hex());
      continue;  // its index entries go with the rewritten index
    }
    if (plan.used_bytes == 0) {
      to_delete.push_back(pack_id);
      result.bytes_freed += plan.size;
    } else if (plan.unused_bytes > 0 &&
               static_cast<double>(plan.unused_bytes) / static_cast<double>(plan.used_bytes + plan.unused_bytes) >
                   options.max_unused) {
      to_repack.push_back(pack_id);
      result.bytes_freed += plan.size;
      result.bytes_repacked += plan.used_bytes;
    }
  }
  for (const auto& [id, size] : stored_size) {
    if (packs.count(id)) continue;
    to_delete.push_back(id);  // no index lists it: an interrupted backup's leftover
    result.unindexed_packs++;
    result.bytes_freed += size;
  }
  result.packs_deleted = to_delete.size();
  result.packs_repacked = to_repack.size();
  std::set<Id> gone(to_delete.begin(), to_delete.end());
  gone.insert(to_repack.begin(), to_repack.end());
  for (const auto& [pack_id, plan] : packs)
    for (const auto& b : plan.blobs) {
      if (used.has(b.type, b.id)) result.blobs_kept++;
      else result.blobs_removed++;
    }
  result.bytes_freed = result.bytes_freed > result.bytes_repacked ? result.bytes_freed - result.bytes_repacked : 0;
  const bool nothing_to_delete = to_delete.empty() && to_repack.empty() && result.blobs_removed == 0;
  // Refused deletions (append-only) are found before anything is written or removed.
  if (!options.dry_run && !nothing_to_delete) {
    if (auto allowed = backend::check_deletions_allowed(repo.backend()); !allowed) {
      if (allowed.error().code() != Errc::permission) return tl::unexpected(allowed.error());
      return fail(Errc::permission, allowed.error().message() +
                                        "; nothing was changed. Run prune where the repository is not served "
                                        "append-only (for example on the backup server itself)");
    }
  }
  // Files of saves killed mid-write: no save runs while prune holds its exclusive lock.
  if (!options.dry_run)
    for (ObjectType type : {ObjectType::data, ObjectType::index, ObjectType::snapshot}) {
      KHO_TRY_ASSIGN(std::uint64_t removed, repo.backend().remove_temporaries(type));
      result.temporaries_removed += removed;
    }
  if (options.dry_run || nothing_to_delete) {
    result.duration_s = static_cast<double>(now_ns() - start) / 1e9;
    return result;
  }

  // Repack: copy used blobs, still sealed, into new packs.
  repo::MasterIndex fresh;  // what the new index will list
  std::set<std::pair<int, Id>> listed;
  if (progress) {
    progress->bytes_total = result.bytes_repacked;
    progress->files_total = to_repack.size();
  }
  repo::BlobWriter writer(repo);
  for (const auto& pack_id : to_repack) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    KHO_TRY_ASSIGN(Bytes bytes, repo.backend().load(Handle{ObjectType::data, pack_id.hex()}));
    if (crypto::sha256(bytes) != pack_id)
      return failf(Errc::corruption, "pack {} is damaged (its content does not match its name); prune stops", pack_id.hex());
    for (const auto& b : packs[pack_id].blobs) {
      if (!used.has(b.type, b.id) || !listed.insert({static_cast<int>(b.type), b.id}).second) continue;
      if (static_cast<std::uint64_t>(b.offset) + b.stored_length > bytes.size())
        return failf(Errc::corruption, "pack {} is shorter than its index says", pack_id.hex());
      repo::SealedBlob sealed;
      sealed.type = b.type;
      sealed.id = b.id;
      sealed.compression = b.compression;
      sealed.raw_length = b.raw_length;
      sealed.bytes.assign(bytes.begin() + b.offset, bytes.begin() + b.offset + b.stored_length);
      KHO_TRY_STATUS(writer.save_sealed(std::move(sealed)));
      if (progress) progress->bytes_done += b.stored_length;
    }
    if (progress) progress->files_done++;
  }
  KHO_TRY_STATUS(writer.flush());  // new packs and their own index file are durable
  result.packs_written = writer.stats().packs;
  crash_point("prune-after-repack");

  // One index for everything kept in packs that stay, superseding all old index files.
  repo::IndexFile rewritten;
  rewritten.superseded = repo.index_files();
  for (const auto& [pack_id, plan] : packs) {
    if (gone.count(pack_id) || !stored_size.count(pack_id)) continue;
    repo::IndexPack p{pack_id, {}};
    for (const auto& b : plan.blobs)
      if (listed.insert({static_cast<int>(b.type), b.id}).second) p.blobs.push_back(b);
    if (!p.blobs.empty()) rewritten.packs.push_back(std::move(p));
  }
  KHO_TRY_ASSIGN(Id new_index, repo.save_index(rewritten));
  crash_point("prune-after-index");
  // Every other index file is now superseded (including any an earlier,
  // interrupted prune left behind).
  std::set<Id> keep_indexes{new_index};
  for (const auto& id : writer.written_indexes()) keep_indexes.insert(id);
  KHO_TRY_ASSIGN(auto index_objects, repo.backend().list(ObjectType::index));
  for (const auto& info : index_objects) {
    auto id = Id::parse(info.name);
    if (!id || keep_indexes.count(*id)) continue;
    auto st = repo.backend().remove(Handle{ObjectType::index, info.name});
    if (!st && st.error().code() != Errc::not_found) return tl::unexpected(st.error());
    result.index_files_removed++;
  }
  crash_point("prune-after-index-delete");
  std::size_t deleted = 0;
  for (const auto& pack_id : gone) {
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    if (++deleted == gone.size() / 2 + 1) crash_point("prune-mid-delete");
    auto st = repo.backend().remove(Handle{ObjectType::data, pack_id.hex()});
    if (!st && st.error().code() != Errc::not_found) return tl::unexpected(st.error());
  }
  result.duration_s = static_cast<double>(now_ns() - start) / 1e9;
  return result;
}

}  // namespace kho::engine
