// The scheduler: decides when each policy's backup, check and prune is due and
// hands due jobs to a JobRunner on worker threads. It runs nothing itself and
// records no runs: the runner records each run in the StateDb (it knows the
// figures); the scheduler records only, per (policy, job), the last scheduled
// instant it handled (StateDb::last_due), which is how it catches up after
// downtime.
//
// Rules:
//   - Cron is evaluated in the policy's time zone (empty: the system's local
//     zone, local_time_zone()).
//   - Start-up: a job with no last_due record gets "now" as its baseline and is
//     not caught up. A job whose schedule had instants in (last_due, now] runs
//     ONCE at start-up (trigger catch_up, due = the latest missed instant).
//     last_due is advanced when a run starts, so a run queued but not started
//     before a stop is caught up at the next start.
//   - A policy never runs two jobs at once (backup, check and prune included).
//     A job due while its policy is busy, or while max_concurrent jobs run,
//     waits; each job has at most one waiting run, which absorbs later instants
//     (its `due` becomes the latest). When a scheduled instant passes while the
//     loop was late (clock jump, suspend), it runs once for all of them.
//   - A failed run is retried (trigger retry) until policy.retry.attempts runs
//     in all, waiting delay_s, then twice as long before each next retry. A
//     scheduled instant arriving while a retry waits replaces the retry.
//   - Stop: no new job starts; running jobs get options.stop_grace to finish,
//     then their JobContext::interrupt flag is set and run() waits for them.
//   - reload(): new policies are started as at start-up (with catch-up); a
//     changed policy keeps its running and waiting runs and is re-planned from
//     now (no catch-up); a removed one loses its waiting runs, but its running
//     job finishes.
//
// Thread-safety: reload(), stop(), request_stop() and probe() may be called from
// any thread while run() runs on another. The runner is called concurrently on
// worker threads (at most max_concurrent, never twice for one policy). The
// logger is called with the scheduler's lock held, from the loop and worker
// threads, one call at a time; it must not call back into the scheduler.
// The StateDb is used only with that lock held (one thread at a time).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kho/orchestrate/cron.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/orchestrate/tz.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

constexpr TimeNs k_ns_per_s = 1'000'000'000;
constexpr TimeNs k_time_never = std::numeric_limits<TimeNs>::max();

// The scheduler's source of time and of waiting (LevelDB's Env idea), so that a
// test can run a simulated week in milliseconds.
class Clock {
public:
  virtual ~Clock() = default;
  virtual TimeNs now() = 0;
  // Blocks on `cv` (whose mutex `lock` holds) until `deadline` has passed, cv
  // is notified, or spuriously; callers re-check their state and loop. Returns
  // at once when the deadline has passed.
  virtual void wait_until(TimeNs deadline, std::unique_lock<std::mutex>& lock, std::condition_variable& cv) = 0;
};

// Real wall-clock time. A wait lasts at most k_max_wait of real time, so the
// scheduler polls request_stop()'s flag and notices clock jumps (NTP, resume
// after suspend) within a second.
class SystemClock final : public Clock {
public:
  static constexpr TimeNs k_max_wait = k_ns_per_s;
  TimeNs now() override;
  void wait_until(TimeNs deadline, std::unique_lock<std::mutex>& lock, std::condition_variable& cv) override;
};

// Simulated time for tests: it moves only when advance() moves it. Waiters in
// wait_until() and sleep_until() wake when it reaches their deadline.
// REQUIRES: a waiter's mutex and condition variable outlive any advance() or
// wake_all() that runs while it waits.
class ManualClock final : public Clock {
public:
  explicit ManualClock(TimeNs start) : m_now(start) {}
  TimeNs now() override;
  void wait_until(TimeNs deadline, std::unique_lock<std::mutex>& lock, std::condition_variable& cv) override;

  // Moves the time to `t` (never backwards) and wakes every waiter.
  void advance(TimeNs t);
  // Wakes every waiter without moving time (sleepers re-check their cancel flag).
  void wake_all();
  // For simulated work (a test's runner): blocks until the time reaches
  // `deadline` or *cancel is true (checked when woken).
  void sleep_until(TimeNs deadline, const std::atomic<bool>* cancel = nullptr);
  // How many threads are blocked in sleep_until() with a deadline still ahead.
  int sleepers();
  // How many wait_until() callers are blocked and not woken since they began.
  int blocked_waiters();
  // The earliest deadline after now of any waiter or sleeper; k_time_never when none.
  TimeNs next_deadline();

private:
  struct Waiter {
    TimeNs deadline;
    std::mutex* mutex;
    std::condition_variable* cv;
    bool notified = false;
  };
  void notify_waiters();

  std::mutex m_mutex;
  std::condition_variable m_sleep_cv;
  TimeNs m_now;
  std::uint64_t m_wakes = 0;
  std::vector<Waiter> m_waiters;
  std::multiset<TimeNs> m_sleeper_deadlines;
};

struct JobRequest {
  Policy policy;  // the policy as it was when the run started
  ScheduledJob job = ScheduledJob::backup;
  TimeNs due = 0;  // the scheduled instant this run is for
  RunTrigger trigger = RunTrigger::schedule;
  int attempt = 1;   // 1 for the first try
  int attempts = 1;  // policy.retry.attempts (at least 1)
};

struct JobContext {
  // Set when the run must stop now (after the stop grace period). The runner
  // should return soon after, with success = false.
  const std::atomic<bool>& interrupt;
};

struct JobResult {
  bool success = false;
  std::string error;  // when !success: what failed
};

// Runs one job to completion. Exceptions are caught and count as failure.
using JobRunner = std::function<JobResult(const JobRequest&, const JobContext&)>;
// One line per event, starting with the time in the policy's zone:
//   "2026-12-01T01:30:00+07:00 portal backup started (schedule)"
using SchedulerLogger = std::function<void(std::string_view line)>;

struct SchedulerOptions {
  int max_concurrent = 2;              // jobs running at once, all policies together (< 1 means 1)
  TimeNs stop_grace = 60 * k_ns_per_s;  // after a stop request, before interrupting running jobs
};

// One upcoming scheduled run, for `kho scheduler next`.
struct PlannedRun {
  std::string policy;
  ScheduledJob job = ScheduledJob::backup;
  TimeNs time = 0;
  std::string timezone;  // the zone's name (the local zone's when the policy names none)
};

// A snapshot of the scheduler for tests (see test_scheduler.cpp's settle()).
struct SchedulerProbe {
  bool idle = false;         // the loop waits on the clock with nothing it could start now
  bool stopped = false;      // run() has returned or is about to
  int running = 0;           // jobs started and not yet finished
  std::uint64_t generation = 0;  // changes whenever the scheduler's state changes
};

class Scheduler {
public:
  // Policies whose schedule or time zone cannot be used are logged and left
  // out (load_policy_* has validated them already). `db`, `clock` must outlive
  // the scheduler.
  Scheduler(std::vector<Policy> policies, StateDb& db, Clock& clock, JobRunner runner, SchedulerOptions options,
            SchedulerLogger logger);
  ~Scheduler();  // REQUIRES: run() is not running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Marks runs of dead processes interrupted, catches up, then runs jobs as
  // they come due until a stop, and returns once every job has finished.
  // Fails only when the StateDb cannot be read at start-up; later StateDb
  // errors are logged and the scheduler carries on. REQUIRES: called once.
  [[nodiscard]] Status run();

  // Asks run() to stop. Async-signal-safe (it only sets a lock-free atomic
  // flag): run() polls the flag whenever its clock wait returns, i.e. within
  // SystemClock::k_max_wait (1 s) with the real clock. Callable before run().
  void request_stop() noexcept;
  // request_stop() and wakes run() at once. Not async-signal-safe.
  void stop();

  // Replaces the policies (SIGHUP: the CLI reloads the policy files from a
  // signal-handling thread and calls this). Errors are logged per policy.
  void reload(std::vector<Policy> policies);

  SchedulerProbe probe();

  // The next `count` scheduled runs after `from` of all the policies' jobs,
  // ascending by time (then policy name, then job). Fails on an unusable
  // schedule or time zone, naming the policy.
  [[nodiscard]] static Result<std::vector<PlannedRun>> next_runs(const std::vector<Policy>& policies, TimeNs from,
                                                                 int count);

private:
  struct Pending {
    TimeNs due = 0;
    RunTrigger trigger = RunTrigger::schedule;
    int attempt = 1;
    TimeNs not_before = 0;
  };
  struct Slot {
    ScheduledJob job = ScheduledJob::backup;
    CronSchedule cron;
    TimeNs next_due = k_time_never;
    std::optional<Pending> pending;
  };
  struct Entry {
    Policy policy;
    TimeZone tz;
    std::vector<Slot> slots;
    bool busy = false;
    bool removed = false;  // by reload() while busy; erased when its job ends
  };
  struct Worker {
    std::thread thread;
    bool done = false;
  };

  // Builds an entry without touching the StateDb; nullopt (logged) when unusable.
  std::optional<Entry> make_entry(const Policy& policy, TimeNs now);
  // Start-up of one entry's slots from last_due (baseline or catch-up).
  Status plan_from_state(Entry& entry, TimeNs now);
  void collect_due(TimeNs now);
  void dispatch(TimeNs now);
  void start_job(Entry& entry, Slot& slot, TimeNs now);
  void finish_job(std::uint64_t worker, const JobRequest& request, TimeNs started, const JobResult& result);
  TimeNs next_wakeup(TimeNs now) const;
  void log(const Entry& entry, TimeNs at, const std::string& text);
  void log_plain(TimeNs at, const std::string& text);
  void changed();  // REQUIRES: m_mutex held
  void reap_workers(bool all);

  StateDb& m_db;
  Clock& m_clock;
  JobRunner m_runner;
  SchedulerOptions m_options;
  SchedulerLogger m_logger;
  std::vector<Policy> m_initial;
  TimeZone m_local_tz;  // for lines not about one policy

  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::atomic<bool> m_stop_requested{false};
  std::atomic<bool> m_interrupt{false};
  std::map<std::string, Entry> m_entries;  // by policy name
  std::map<std::uint64_t, Worker> m_workers;
  std::uint64_t m_next_worker = 0;
  int m_running = 0;
  bool m_started = false;
  bool m_stopping = false;
  bool m_finished = false;
  TimeNs m_stop_deadline = k_time_never;
  bool m_parked = false;
  bool m_dirty = false;
  std::uint64_t m_generation = 0;
};

}  // namespace kho::orchestrate
