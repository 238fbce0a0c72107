// A fixed pool of worker threads with a bounded queue.
//
// submit() blocks while the queue is full, which is how pipelines built on it
// keep their memory flat. Tasks must not wait on other tasks of the same pool.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace kho {

class ThreadPool {
public:
  ThreadPool(unsigned threads, std::size_t max_queued);
  ~ThreadPool();  // finishes queued tasks, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <typename F>
  auto submit(F&& fn) -> std::future<decltype(fn())> {
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> future = task->get_future();
    enqueue([task] { (*task)(); });
    return future;
  }

  unsigned size() const { return static_cast<unsigned>(m_threads.size()); }

  // Threads to use when the user did not say: the number of cores.
  static unsigned default_threads();

private:
  void enqueue(std::function<void()> job);
  void work();

  std::mutex m_mutex;
  std::condition_variable m_not_empty;
  std::condition_variable m_not_full;
  std::deque<std::function<void()>> m_queue;
  std::size_t m_max_queued;
  bool m_stopping = false;
  std::vector<std::thread> m_threads;
};

}  // namespace kho
