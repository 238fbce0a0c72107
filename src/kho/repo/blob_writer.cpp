#include "kho/repo/blob_writer.hpp"

#include <exception>

#include "kho/util/crash_point.hpp"

namespace kho::repo {

namespace {
// Write an index file every this many packs, so a crash loses little work.
constexpr std::size_t k_packs_per_index = 64;
}  // namespace

BlobWriter::BlobWriter(Repository& repo) : m_repo(repo), m_uploads(k_upload_threads, 1) {}

BlobWriter::~BlobWriter() {
  // The pool's threads use the members: wait for them while all are alive.
  std::unique_lock lock(m_upload_mutex);
  m_upload_done.wait(lock, [this] { return m_uploads_in_flight == 0; });
}

Result<std::uint64_t> BlobWriter::save(BlobType type, const Id& id, ByteSpan raw) {
  if (raw.size() > k_max_blob_size) return failf(Errc::invalid_argument, "{} blob {} is too large ({} bytes)",
                                                 blob_type_name(type), id.hex(), raw.size());
  if (!m_repo.index().claim(type, id)) return 0;
  return add(seal_blob_scratch(m_repo.keys(), m_repo.config(), type, id, raw));
}

Result<std::uint64_t> BlobWriter::save_sealed(SealedBlob&& blob) {
  return add(SealedBlobView{blob.type, blob.id, blob.compression, blob.raw_length, blob.bytes});
}

Result<std::uint64_t> BlobWriter::add(const SealedBlobView& blob) {
  if (m_upload_failed.load(std::memory_order_relaxed)) KHO_TRY_STATUS(upload_status());
  std::uint64_t stored = blob.bytes.size();
  std::unique_ptr<PackWriter> full;
  {
    std::lock_guard lock(m_mutex);
    auto& pack = m_packs[static_cast<int>(blob.type)];
    if (!pack) {
      // A pack closes at the first blob that takes it to pack_size: hint a little more.
      const std::uint64_t hint = m_repo.config().pack_size + m_repo.config().pack_size / 8;
      KHO_TRY_ASSIGN(auto out, m_repo.backend().begin_save(backend::ObjectType::data, hint));
      pack = std::make_unique<PackWriter>(std::move(out));
    }
    if (auto added = pack->add(blob); !added) {
      // The pack is lost with what it held (its temporary file goes with it), as
      // when an upload fails: the caller's run fails and writes no snapshot.
      pack.reset();
      return tl::unexpected(added.error());
    }
    (blob.type == BlobType::tree ? m_stats.tree_blobs : m_stats.data_blobs)++;
    m_stats.stored_bytes += stored;
    m_stats.raw_bytes += blob.raw_length;
    if (pack->size() >= m_repo.config().pack_size) full = std::move(pack);
  }
  if (full) KHO_TRY_STATUS(finish_pack(std::move(full)));
  return stored;
}

Status BlobWriter::finish_pack(std::unique_ptr<PackWriter> pack) {
  if (pack->buffered()) return upload(std::move(pack));
  start_upload(std::move(pack));
  return {};
}

void BlobWriter::start_upload(std::unique_ptr<PackWriter> pack) {
  {
    std::lock_guard lock(m_upload_mutex);
    // After a failed upload the run fails: a pack not yet finished is dropped (its
    // temporary file goes with it) instead of meeting the same error before the
    // run can stop.
    if (m_upload_error) return;
    ++m_uploads_in_flight;
  }
  // Blocks while both upload threads are busy and one more pack waits: the
  // workers wait for the disk instead of running ever further ahead of it.
  m_uploads.submit([this, pack = std::move(pack)]() mutable {
    Status done;
    try {
      if (!m_upload_failed.load()) done = upload(std::move(pack));
      pack.reset();
    } catch (const std::exception& e) {  // out of memory: the run fails, nobody waits forever
      done = failf(Errc::io, "finishing a pack: {}", e.what());
    }
    std::lock_guard lock(m_upload_mutex);
    if (!done && !m_upload_error) {
      m_upload_error = done.error();
      m_upload_failed = true;
    }
    --m_uploads_in_flight;
    m_upload_done.notify_all();
  });
}

Status BlobWriter::wait_uploads() {
  std::unique_lock lock(m_upload_mutex);
  m_upload_done.wait(lock, [this] { return m_uploads_in_flight == 0; });
  if (m_upload_error) return tl::unexpected(*m_upload_error);
  return {};
}

Status BlobWriter::upload_status() const {
  std::lock_guard lock(m_upload_mutex);
  if (m_upload_error) return tl::unexpected(*m_upload_error);
  return {};
}

Status BlobWriter::upload(std::unique_ptr<PackWriter> pack) {
  KHO_TRY_ASSIGN(Id pack_id, pack->finish(m_repo.keys()));
  std::vector<PackedBlob> blobs = pack->blobs();
  pack.reset();
  crash_point("after-pack-upload");
  m_repo.index().add_pack(pack_id, blobs);
  std::lock_guard lock(m_index_mutex);
  {
    std::lock_guard stats_lock(m_mutex);
    m_stats.packs++;
  }
  m_unindexed.push_back({pack_id, std::move(blobs)});
  if (m_unindexed.size() >= k_packs_per_index) return write_index_locked();
  return {};
}

Status BlobWriter::write_index_locked() {
  if (m_unindexed.empty()) return {};
  IndexFile file;
  file.packs = std::move(m_unindexed);
  m_unindexed.clear();
  auto id = m_repo.save_index(file);
  if (!id) {
    m_unindexed = std::move(file.packs);
    return tl::unexpected(id.error());
  }
  m_written_indexes.push_back(*id);
  return {};
}

Status BlobWriter::flush() {
  for (auto& open : m_packs) {
    std::unique_ptr<PackWriter> pack;
    {
      std::lock_guard lock(m_mutex);
      pack = std::move(open);
    }
    if (pack && !pack->empty()) KHO_TRY_STATUS(finish_pack(std::move(pack)));
  }
  KHO_TRY_STATUS(wait_uploads());
  crash_point("before-index");
  std::lock_guard lock(m_index_mutex);
  return write_index_locked();
}

std::vector<Id> BlobWriter::written_indexes() const {
  std::lock_guard lock(m_index_mutex);
  return m_written_indexes;
}

BlobWriterStats BlobWriter::stats() const {
  std::lock_guard lock(m_mutex);
  return m_stats;
}

}  // namespace kho::repo
