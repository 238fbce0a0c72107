// AnomalyCollector: what a running backup hands to the anomaly score.
#include "kho/engine/anomaly.hpp"

namespace kho::engine {

void AnomalyCollector::file_read(const std::string& path, bool modified, std::uint64_t size, ByteSpan head) {
  if (head.size() > k_anomaly_head_bytes) head = head.subspan(0, k_anomaly_head_bytes);
  std::unique_lock lock(m_mutex);
  if (m_input.seen.size() < m_max_files) {
    m_input.seen.push_back(FileSeen{path, modified, size, Bytes(head.begin(), head.end())});
    return;
  }
  lock.unlock();
  // Past the limit the checks run here and only their outcome is kept.
  const bool encrypted = looks_encrypted(head);
  const bool mismatched = !type_mismatch(path, head).empty();
  const bool note = !modified && looks_like_ransom_note(path, head);
  lock.lock();
  auto& u = m_input.unkept;
  (modified ? u.modified_files : u.new_files)++;
  u.encrypted += encrypted;
  u.mismatched += mismatched;
  u.notes += note;
}

void AnomalyCollector::gone(const std::string& path, bool is_dir) {
  std::lock_guard lock(m_mutex);
  if (m_input.gone.size() < m_max_gone)
    m_input.gone.push_back(FileGone{path, is_dir});
  else
    m_input.unkept.gone++;
}

AnomalyInput AnomalyCollector::take() {
  std::lock_guard lock(m_mutex);
  return std::move(m_input);
}

}  // namespace kho::engine
