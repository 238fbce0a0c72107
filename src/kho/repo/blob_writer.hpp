// Stores new blobs: dedups against the index, seals, fills packs (data and tree
// blobs in separate packs), uploads full packs and records them in index files.
//
// Thread-safe: many workers call save() at once; sealing and uploading happen on
// the calling thread, so uploads run in parallel with each other and with work.
// Blobs go into the open pack's object writer as they come (under the writer's
// lock), so with a local repository a pack is never held in memory whole.
// Crash safety: a pack is uploaded before it is indexed, and the index file that
// names it is written before any snapshot that needs it.
#pragma once

#include <atomic>
#include <mutex>

#include "kho/repo/repository.hpp"

namespace kho::repo {

struct BlobWriterStats {
  std::uint64_t data_blobs = 0;
  std::uint64_t tree_blobs = 0;
  std::uint64_t stored_bytes = 0;  // sealed bytes of new blobs
  std::uint64_t raw_bytes = 0;     // raw bytes of new blobs
  std::uint64_t packs = 0;
};

class BlobWriter {
public:
  explicit BlobWriter(Repository& repo) : m_repo(repo) {}
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Stores the blob unless the repository has it (or another save() is storing
  // it). Returns the sealed bytes added, 0 when it was a duplicate.
  Result<std::uint64_t> save(BlobType type, const Id& id, ByteSpan raw);
  // Stores an already sealed blob (copy between repositories with the same keys).
  Result<std::uint64_t> save_sealed(SealedBlob&& blob);

  // Uploads the open packs and writes an index file for every pack not yet in
  // one. After flush() returns, every blob saved so far is durable and indexed.
  Status flush();

  BlobWriterStats stats() const;
  // Index files this writer has written so far.
  std::vector<Id> written_indexes() const;

private:
  Result<std::uint64_t> add(const SealedBlobView& blob);
  Status upload(std::unique_ptr<PackWriter> pack);
  Status write_index_locked();

  Repository& m_repo;
  mutable std::mutex m_mutex;
  std::unique_ptr<PackWriter> m_packs[2];  // by BlobType; opened by the first blob
  mutable std::mutex m_index_mutex;
  std::vector<IndexPack> m_unindexed;
  std::vector<Id> m_written_indexes;
  BlobWriterStats m_stats;
};

}  // namespace kho::repo
