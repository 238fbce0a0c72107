// AnomalyCollector: what a running backup hands to the anomaly score.
#include "kho/engine/anomaly.hpp"

namespace kho::engine {

void AnomalyCollector::file_read(const std::string& path, bool modified, std::uint64_t size, ByteSpan head) {
  // The checks run here, on the backup's threads; only their outcome is kept.
  FileSeen seen(path, modified, size, head);
  std::lock_guard lock(m_mutex);
  if (m_input.seen.size() < m_max_files) {
    m_input.seen.push_back(std::move(seen));
    return;
  }
  auto& u = m_input.unkept;
  (modified ? u.modified_files : u.new_files)++;
  u.encrypted += seen.head.encrypted;
  u.mismatched += !facts_type_mismatch(path, seen.head).empty();
  u.notes += seen.head.note;
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
