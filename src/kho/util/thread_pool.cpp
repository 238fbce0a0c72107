#include "kho/util/thread_pool.hpp"

namespace kho {

ThreadPool::ThreadPool(unsigned threads, std::size_t max_queued) : m_max_queued(max_queued ? max_queued : 1) {
  if (threads == 0) threads = 1;
  m_threads.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) m_threads.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_not_empty.notify_all();
  for (auto& t : m_threads) t.join();
}

unsigned ThreadPool::default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 2;
}

void ThreadPool::enqueue(std::function<void()> job) {
  std::unique_lock lock(m_mutex);
  m_not_full.wait(lock, [this] { return m_queue.size() < m_max_queued; });
  m_queue.push_back(std::move(job));
  lock.unlock();
  m_not_empty.notify_one();
}

void ThreadPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(m_mutex);
      m_not_empty.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
      if (m_queue.empty()) return;
      job = std::move(m_queue.front());
      m_queue.pop_front();
    }
    m_not_full.notify_one();
    job();
  }
}

}  // namespace kho
