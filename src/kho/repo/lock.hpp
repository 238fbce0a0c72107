// Repository locks: shared for commands that add or read (backup, restore, check,
// copy, export), exclusive for commands that delete (forget, prune).
//
// A lock is a sealed JSON object in locks/<sha256>:
//   {"version": 1, "time": RFC3339 (last refresh), "created": RFC3339,
//    "host": str, "pid": n, "username": str, "exclusive": bool, "command": str}
// A held lock is refreshed every 5 minutes (a new lock object replaces the old).
// A lock is stale when not refreshed for 30 minutes, or when it names this host
// and a process that no longer exists; stale locks are ignored and removed.
// Acquiring writes the lock, then lists again: when a conflicting live lock
// appeared meanwhile, the newcomer withdraws (and retries with --retry-lock).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kho/repo/repository.hpp"

namespace kho::repo {

struct LockInfo {
  Id id;
  TimeNs time = 0;
  TimeNs created = 0;
  std::string host;
  std::int64_t pid = 0;
  std::string username;
  bool exclusive = false;
  std::string command;

  bool stale(TimeNs now) const;
  std::string describe() const;  // "exclusive lock held by pid 123 on host since ... (prune)"
};

constexpr double k_lock_stale_s = 30 * 60;
constexpr double k_lock_refresh_s = 5 * 60;

// Parses the (decrypted) content of the lock object `id`. Errc::corruption when
// it is not a lock.
Result<LockInfo> decode_lock(const Id& id, ByteSpan content);

// Every lock in the repository; unreadable lock objects are returned in `bad`.
Result<std::vector<LockInfo>> list_locks(const Repository& repo, std::vector<Id>* bad = nullptr);

class Lock {
public:
  // Takes a lock, waiting up to `retry_s` seconds for conflicting locks to go.
  // Errc::locked, naming the holder, when it cannot.
  static Result<std::unique_ptr<Lock>> acquire(Repository& repo, bool exclusive, const std::string& command,
                                               double retry_s = 0);
  ~Lock();  // releases
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // Removes the lock now; reports failure (the destructor ignores it).
  Status release();
  bool exclusive() const { return m_info.exclusive; }

private:
  Lock(Repository& repo, LockInfo info) : m_repo(repo), m_info(std::move(info)) {}
  void refresh_loop();

  Repository& m_repo;
  LockInfo m_info;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  bool m_released = false;
  std::thread m_refresher;
};

// Removes stale locks (all locks with `all`); returns how many were removed.
Result<std::size_t> remove_locks(Repository& repo, bool all);

}  // namespace kho::repo
