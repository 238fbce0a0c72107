// The index: where every blob lives (pack, offset, lengths), so a client finds
// blobs without reading packs.
//
// Index file content (inside a sealed object, type "index", zstd-compressed):
//   index      := version:u8 (=1) || superseded_count:varint || index id(32)*
//                 || pack_count:varint || pack*
//   pack       := pack id(32) || blob_count:varint || entry*
//   entry      := type:u8 || compression:u8 || offset:u32le || stored_length:u32le
//                 || raw_length:u32le || blob id(32)
// `superseded` lists index files this one replaces (written by prune); a reader
// ignores superseded index files that are still present.
//
// In memory (MasterIndex) each blob costs 48 bytes: a sorted array of fixed-size
// entries plus a small hash map for blobs added since the last merge.
#pragma once

#include <functional>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kho/repo/keys.hpp"
#include "kho/repo/pack.hpp"

namespace kho::repo {

struct IndexPack {
  Id pack_id;
  std::vector<PackedBlob> blobs;
};

struct IndexFile {
  std::vector<Id> superseded;
  std::vector<IndexPack> packs;

  Bytes encode() const;
  static Result<IndexFile> decode(ByteSpan content, const std::string& what);
};

// One blob's location, 48 bytes.
struct IndexEntry {
  Id id;
  std::uint32_t pack = 0;  // position in MasterIndex::packs()
  std::uint32_t offset = 0;
  std::uint32_t stored_length = 0;
  std::uint32_t raw_and_flags = 0;  // raw length (28 bits) | compression (bits 28-29) | type (bit 31)

  BlobType type() const { return static_cast<BlobType>(raw_and_flags >> 31); }
  std::uint8_t compression() const { return static_cast<std::uint8_t>(raw_and_flags >> 28 & 3); }
  std::uint32_t raw_length() const { return raw_and_flags & k_max_blob_size; }
};
static_assert(sizeof(IndexEntry) == 48);

struct BlobLocation {
  Id pack_id;
  PackedBlob blob;
};

// All blobs of a repository. Thread-safe: lookups take a shared lock, additions
// an exclusive one.
class MasterIndex {
public:
  // Adds every blob of `pack`. A blob already known keeps its first location.
  void add_pack(const Id& pack_id, const std::vector<PackedBlob>& blobs);
  // Adds a pack while loading index files: cheaper than add_pack (no look-up
  // per blob). REQUIRES: merge() before the next look-up.
  void bulk_add(const Id& pack_id, const std::vector<PackedBlob>& blobs);

  bool has(BlobType type, const Id& id) const;
  std::optional<BlobLocation> find(BlobType type, const Id& id) const;

  // Claims a blob for writing: true when it is neither indexed nor claimed yet,
  // so exactly one writer stores each new blob.
  bool claim(BlobType type, const Id& id);
  // Releases a claim for a blob that was not stored after all.
  void unclaim(BlobType type, const Id& id);

  // Moves recently added blobs into the sorted array.
  void merge();
  // The same; a blob listed in several packs keeps the first location whose
  // pack `usable` accepts (or the first, when none is). `usable` is asked only
  // about such duplicates, so a stale index file put back into the repository
  // cannot hide a blob's live copy behind a pack that is gone.
  void merge(const std::function<bool(const Id& pack)>& usable);

  std::size_t blob_count() const;
  // Distinct packs holding indexed blobs.
  std::size_t pack_count() const;

  // Calls fn(pack_id, blob) for every blob (merges first).
  void for_each(const std::function<void(const Id&, const PackedBlob&)>& fn);

private:
  std::uint32_t add_pack_id(const Id& pack_id);
  void fold_fresh(const std::function<bool(const Id& pack)>* usable = nullptr);
  const IndexEntry* find_locked(BlobType type, const Id& id) const;
  // Rebuilds m_buckets after m_sorted changed.
  void index_buckets();
  PackedBlob to_blob(const IndexEntry& e) const;

  mutable std::shared_mutex m_mutex;
  std::vector<Id> m_packs;  // a pack listed twice (e.g. after a crash) just has two positions
  std::vector<IndexEntry> m_sorted;
  bool m_sorted_dirty = false;  // bulk_add appended unsorted entries
  // Where each run of m_sorted with the same leading m_bucket_bits bits of ID
  // starts (2-4 entries a run; one more element holds the end): a look-up
  // searches one run instead of the whole array. Covers m_sorted only when
  // m_bucketed equals its size.
  static constexpr unsigned k_max_bucket_bits = 20;  // 4 MiB of table at most
  std::vector<std::uint32_t> m_buckets;
  unsigned m_bucket_bits = 0;
  std::size_t m_bucketed = 0;
  std::vector<IndexEntry> m_fresh;                      // unsorted, small
  std::unordered_map<Id, std::uint32_t, IdHash> m_fresh_pos;  // id -> position in m_fresh (type in entry)
  std::unordered_set<Id, IdHash> m_claimed_data;
  std::unordered_set<Id, IdHash> m_claimed_tree;
};

}  // namespace kho::repo
