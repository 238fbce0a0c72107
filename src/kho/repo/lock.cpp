#include "kho/repo/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "kho/platform/fs.hpp"
#include "kho/util/json.hpp"

namespace kho::repo {

using backend::Handle;
using backend::ObjectType;

namespace {

std::string encode_lock(const LockInfo& info) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["time"] = format_rfc3339(info.time);
  j["created"] = format_rfc3339(info.created);
  j["host"] = info.host;
  j["pid"] = info.pid;
  j["username"] = info.username;
  j["exclusive"] = info.exclusive;
  j["command"] = info.command;
  return json_dump(j);
}

}  // namespace

Result<LockInfo> decode_lock(const Id& id, ByteSpan content) {
  nlohmann::json j = nlohmann::json::parse(content.begin(), content.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::corruption, "lock " + id.hex() + " is malformed");
  LockInfo info;
  info.id = id;
  try {
    auto t = parse_rfc3339(j.at("time").get<std::string>());
    if (!t) return fail(Errc::corruption, "lock " + id.hex() + " has a bad time");
    info.time = *t;
    auto c = parse_rfc3339(j.value("created", ""));
    info.created = c ? *c : info.time;
    info.host = j.value("host", "");
    info.pid = json_integer(j, "pid", std::int64_t{0});
    info.username = j.value("username", "");
    info.exclusive = j.value("exclusive", false);
    info.command = j.value("command", "");
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::corruption, "lock " + id.hex() + " is malformed: " + e.what());
  }
  return info;
}

namespace {

bool process_alive(std::int64_t pid) {
  // A pid from a lock file that does not fit pid_t would name another process.
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
  return errno == EPERM;
}

Result<Id> write_lock(Repository& repo, const LockInfo& info) {
  std::string json = encode_lock(info);
  return repo.save_object(ObjectType::lock, as_bytes(json));
}

bool conflicts(const LockInfo& other, bool exclusive) { return exclusive || other.exclusive; }

}  // namespace

bool LockInfo::stale(TimeNs now) const {
  if (static_cast<double>(now - time) / 1e9 > k_lock_stale_s) return true;
  return host == platform::host_name() && !process_alive(pid);
}

std::string LockInfo::describe() const {
  return fmt::format("{} lock held by pid {} on {} ({}) since {}{}", exclusive ? "an exclusive" : "a shared", pid, host,
                     username, format_local(created), command.empty() ? "" : " for '" + command + "'");
}

Result<std::vector<LockInfo>> list_locks(const Repository& repo, std::vector<Id>* bad) {
  KHO_TRY_ASSIGN(auto infos, repo.backend().list(ObjectType::lock));
  std::vector<LockInfo> out;
  for (const auto& info : infos) {
    auto id = Id::parse(info.name);
    if (!id) continue;
    auto content = repo.load_object(ObjectType::lock, *id);
    if (!content) {
      // Gone between list and load: released meanwhile.
      if (content.error().code() != Errc::not_found && bad) bad->push_back(*id);
      continue;
    }
    auto lock = decode_lock(*id, *content);
    if (!lock) {
      if (bad) bad->push_back(*id);
      continue;
    }
    out.push_back(std::move(*lock));
  }
  return out;
}

Result<std::unique_ptr<Lock>> Lock::acquire(Repository& repo, bool exclusive, const std::string& command,
                                            double retry_s) {
  LockInfo mine;
  mine.host = platform::host_name();
  mine.pid = ::getpid();
  mine.username = platform::current_user();
  mine.exclusive = exclusive;
  mine.command = command;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long long>(retry_s * 1000));
  std::mt19937 rng(std::random_device{}());
  for (;;) {
    // A live conflicting lock: who holds it.
    auto find_conflict = [&](const std::optional<Id>& own) -> Result<std::optional<LockInfo>> {
      KHO_TRY_ASSIGN(auto locks, list_locks(repo));
      TimeNs now = now_ns();
      std::optional<LockInfo> holder;
      for (const auto& l : locks) {
        if (own && l.id == *own) continue;
        if (l.stale(now)) {
          (void)repo.backend().remove(Handle{ObjectType::lock, l.id.hex()});  // cleaned without a human
          continue;
        }
        if (conflicts(l, exclusive) && (!holder || l.created < holder->created)) holder = l;
      }
      return holder;
    };
    KHO_TRY_ASSIGN(auto holder, find_conflict(std::nullopt));
    if (!holder) {
      mine.time = mine.created = now_ns();
      KHO_TRY_ASSIGN(mine.id, write_lock(repo, mine));
      // Someone may have taken a conflicting lock at the same moment.
      auto again = find_conflict(mine.id);
      if (!again) {
        (void)repo.backend().remove(Handle{ObjectType::lock, mine.id.hex()});
        return tl::unexpected(again.error());
      }
      if (!*again) {
        std::unique_ptr<Lock> lock(new Lock(repo, mine));
        lock->m_refresher = std::thread([l = lock.get()] { l->refresh_loop(); });
        return lock;
      }
      (void)repo.backend().remove(Handle{ObjectType::lock, mine.id.hex()});
      // Two racing lockers both withdraw; the older lock wins on the next round.
      holder = *again;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(Errc::locked, "the repository at " + repo.location() + " is locked: " + holder->describe() +
                                    ". Wait for it (--retry-lock 10m), or if that process is gone, run 'kho unlock'");
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
  }
}

void Lock::refresh_loop() {
  std::unique_lock lk(m_mutex);
  for (;;) {
    if (m_cv.wait_for(lk, std::chrono::seconds(static_cast<long long>(k_lock_refresh_s)), [this] { return m_stop; }))
      return;
    LockInfo next = m_info;
    next.time = now_ns();
    lk.unlock();
    auto id = write_lock(m_repo, next);
    lk.lock();
    if (!id) continue;  // try again at the next refresh; the old lock still stands
    Id old = m_info.id;
    next.id = *id;
    m_info = next;
    lk.unlock();
    (void)m_repo.backend().remove(Handle{ObjectType::lock, old.hex()});
    lk.lock();
  }
}

Status Lock::release() {
  {
    std::lock_guard lk(m_mutex);
    if (m_released) return {};
    m_released = true;
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_refresher.joinable()) m_refresher.join();
  auto st = m_repo.backend().remove(Handle{ObjectType::lock, m_info.id.hex()});
  if (!st && st.error().code() == Errc::not_found) return {};
  return st;
}

Lock::~Lock() { (void)release(); }

Result<std::size_t> remove_locks(Repository& repo, bool all) {
  std::vector<Id> bad;
  KHO_TRY_ASSIGN(auto locks, list_locks(repo, &bad));
  TimeNs now = now_ns();
  std::size_t removed = 0;
  for (const auto& l : locks) {
    if (!all && !l.stale(now)) continue;
    auto st = repo.backend().remove(Handle{ObjectType::lock, l.id.hex()});
    if (!st && st.error().code() != Errc::not_found) return tl::unexpected(st.error());
    removed++;
  }
  // Unreadable lock objects hold nobody's lock.
  for (const auto& id : bad) {
    auto st = repo.backend().remove(Handle{ObjectType::lock, id.hex()});
    if (st) removed++;
  }
  return removed;
}

}  // namespace kho::repo
