// Stores new blobs: dedups against the index, seals, fills packs (data and tree
// blobs in separate packs), uploads full packs and records them in index files.
//
// Thread-safe: many workers call save() at once; sealing happens on the calling
// thread. Blobs go into the open pack's object writer as they come (under the
// writer's lock), so with a local repository a pack is never held in memory whole.
// A full pack written to its file as it filled (a local repository's) is finished
// on the writer's own upload threads, so the workers go on while it is flushed to
// disk: at most k_upload_threads + 1 such packs wait or finish at once, and a
// save() that fills one more waits for room. A pack held in memory (for a remote
// repository) is uploaded by the save() that filled it: packs waiting for a server
// would each hold their bytes, so that is kept to one a worker.
// An upload's failure is returned by the next save() and by flush().
// Crash safety: a pack is uploaded before it is indexed, and the index file that
// names it is written before any snapshot that needs it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "kho/repo/repository.hpp"
#include "kho/util/thread_pool.hpp"

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
  explicit BlobWriter(Repository& repo);
  ~BlobWriter();  // waits for the uploads in flight (a pack not indexed is only unreferenced)
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
  // Uploads a full pack here when it is held in memory, else hands it to the
  // upload threads.
  Status finish_pack(std::unique_ptr<PackWriter> pack);
  // Hands a full pack to the upload threads; waits while they have no room.
  void start_upload(std::unique_ptr<PackWriter> pack);
  Status upload(std::unique_ptr<PackWriter> pack);
  // Waits for every upload started so far; the first upload error, if any.
  Status wait_uploads();
  Status upload_status() const;
  Status write_index_locked();

  static constexpr unsigned k_upload_threads = 2;

  Repository& m_repo;
  mutable std::mutex m_mutex;
  std::unique_ptr<PackWriter> m_packs[2];  // by BlobType; opened by the first blob
  mutable std::mutex m_index_mutex;
  std::vector<IndexPack> m_unindexed;
  std::vector<Id> m_written_indexes;
  BlobWriterStats m_stats;
  mutable std::mutex m_upload_mutex;
  std::condition_variable m_upload_done;
  unsigned m_uploads_in_flight = 0;       // started and not yet finished
  std::optional<Error> m_upload_error;    // the first upload's failure
  std::atomic<bool> m_upload_failed{false};
  ThreadPool m_uploads;  // last member: joined first, while the rest is alive
};

}  // namespace kho::repo
