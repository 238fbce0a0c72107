#include "kho/orchestrate/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <tuple>
#include <utility>

#include <fmt/format.h>

namespace kho::orchestrate {

namespace {

constexpr std::int64_t seconds_floor(TimeNs t) { return t >= 0 ? t / k_ns_per_s : -((-t + k_ns_per_s - 1) / k_ns_per_s); }

// "2026-12-01T01:30:00+07:00": whole seconds, in the zone, with its offset.
std::string format_in_zone(TimeNs t, const TimeZone& tz) {
  const std::int64_t s = seconds_floor(t);
  const int offset = tz.offset_at(s);
  const int a = offset < 0 ? -offset : offset;
  return fmt::format("{}{}{:02}:{:02}", format_civil(tz.to_local(s)), offset < 0 ? '-' : '+', a / 3600,
                     a / 60 % 60);
}

// The next instant of `cron` strictly after `t`, in nanoseconds.
TimeNs next_instant(const CronSchedule& cron, TimeNs t, const TimeZone& tz) {
  const auto next = cron.next_after(seconds_floor(t), tz);
  return next ? *next * k_ns_per_s : k_time_never;
}

// The latest instant <= now, starting from `first` (<= now); how many there were.
std::pair<TimeNs, std::int64_t> latest_instant(const CronSchedule& cron, TimeNs first, TimeNs now,
                                               const TimeZone& tz) {
  TimeNs latest = first;
  std::int64_t count = 1;
  for (TimeNs n = next_instant(cron, latest, tz); n <= now; n = next_instant(cron, latest, tz)) {
    latest = n;
    ++count;
  }
  return {latest, count};
}

Result<TimeZone> zone_of(const Policy& policy) {
  auto tz = policy.timezone.empty() ? local_time_zone() : TimeZone::load(policy.timezone);
  if (!tz) return tl::unexpected(tz.error().with_context("policy " + policy.name));
  return tz;
}

// The policy's scheduled jobs with their cron text, in job order.
std::vector<std::pair<ScheduledJob, std::string>> schedules_of(const Policy& policy) {
  std::vector<std::pair<ScheduledJob, std::string>> out;
  if (!policy.schedule.empty()) out.emplace_back(ScheduledJob::backup, policy.schedule);
  if (policy.check && !policy.check->schedule.empty()) out.emplace_back(ScheduledJob::check, policy.check->schedule);
  if (policy.prune && !policy.prune->schedule.empty()) out.emplace_back(ScheduledJob::prune, policy.prune->schedule);
  return out;
}

bool same_plan(const Policy& a, const Policy& b) {
  return a.timezone == b.timezone && schedules_of(a) == schedules_of(b);
}

std::string seconds_text(TimeNs ns) { return format_duration(static_cast<double>(ns) / 1e9); }

}  // namespace

// ---- clocks -------------------------------------------------------------------

TimeNs SystemClock::now() { return now_ns(); }

void SystemClock::wait_until(TimeNs deadline, std::unique_lock<std::mutex>& lock, std::condition_variable& cv) {
  const TimeNs now = now_ns();
  if (deadline <= now) return;
  const TimeNs until = deadline - now < k_max_wait ? deadline : now + k_max_wait;
  cv.wait_until(lock, std::chrono::system_clock::time_point(
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(until))));
}

TimeNs ManualClock::now() {
  std::lock_guard lock(m_mutex);
  return m_now;
}

void ManualClock::wait_until(TimeNs deadline, std::unique_lock<std::mutex>& lock, std::condition_variable& cv) {
  std::uint64_t wakes = 0;
  {
    std::lock_guard guard(m_mutex);
    if (deadline <= m_now) return;
    m_waiters.push_back(Waiter{deadline, lock.mutex(), &cv, false});
    wakes = m_wakes;
  }
  // The caller's mutex is held from registration until cv.wait releases it,
  // and notify_waiters() takes that mutex before notifying: no lost wake-up.
  // A wake-up between registration and here shows in m_wakes.
  bool woken = false;
  {
    std::lock_guard guard(m_mutex);
    woken = m_wakes != wakes;
  }
  if (!woken) cv.wait(lock);
  std::lock_guard guard(m_mutex);
  auto it = std::find_if(m_waiters.begin(), m_waiters.end(), [&](const Waiter& w) { return w.cv == &cv; });
  if (it != m_waiters.end()) m_waiters.erase(it);
}

void ManualClock::notify_waiters() {
  std::vector<Waiter> waiters;
  {
    std::lock_guard guard(m_mutex);
    ++m_wakes;
    for (Waiter& w : m_waiters) w.notified = true;
    waiters = m_waiters;
    m_sleep_cv.notify_all();
  }
  for (const Waiter& w : waiters) {
    std::lock_guard guard(*w.mutex);
    w.cv->notify_all();
  }
}

void ManualClock::advance(TimeNs t) {
  {
    std::lock_guard guard(m_mutex);
    m_now = std::max(m_now, t);
  }
  notify_waiters();
}

void ManualClock::wake_all() { notify_waiters(); }

void ManualClock::sleep_until(TimeNs deadline, const std::atomic<bool>* cancel) {
  std::unique_lock lock(m_mutex);
  const auto it = m_sleeper_deadlines.insert(deadline);
  m_sleep_cv.wait(lock, [&] { return m_now >= deadline || (cancel && cancel->load()); });
  m_sleeper_deadlines.erase(it);
}

int ManualClock::sleepers() {
  std::lock_guard guard(m_mutex);
  return static_cast<int>(std::distance(m_sleeper_deadlines.upper_bound(m_now), m_sleeper_deadlines.end()));
}

int ManualClock::blocked_waiters() {
  std::lock_guard guard(m_mutex);
  return static_cast<int>(
      std::count_if(m_waiters.begin(), m_waiters.end(), [&](const Waiter& w) { return !w.notified && w.deadline > m_now; }));
}

TimeNs ManualClock::next_deadline() {
  std::lock_guard guard(m_mutex);
  TimeNs next = k_time_never;
  for (const Waiter& w : m_waiters) {
    if (w.deadline > m_now) next = std::min(next, w.deadline);
  }
  if (auto it = m_sleeper_deadlines.upper_bound(m_now); it != m_sleeper_deadlines.end()) next = std::min(next, *it);
  return next;
}

// ---- scheduler ------------------------------------------------------------------

Scheduler::Scheduler(std::vector<Policy> policies, StateDb& db, Clock& clock, JobRunner runner,
                     SchedulerOptions options, SchedulerLogger logger)
    : m_db(db),
      m_clock(clock),
      m_runner(std::move(runner)),
      m_options(options),
      m_logger(std::move(logger)),
      m_initial(std::move(policies)) {
  if (m_options.max_concurrent < 1) m_options.max_concurrent = 1;
  if (auto tz = local_time_zone()) m_local_tz = std::move(*tz);
}

Scheduler::~Scheduler() { reap_workers(true); }

void Scheduler::request_stop() noexcept { m_stop_requested.store(true); }

void Scheduler::stop() {
  request_stop();
  std::lock_guard lock(m_mutex);
  changed();
}

void Scheduler::changed() {
  ++m_generation;
  m_dirty = true;
  m_cv.notify_all();
}

SchedulerProbe Scheduler::probe() {
  std::lock_guard lock(m_mutex);
  return SchedulerProbe{m_parked && !m_dirty, m_finished, m_running, m_generation};
}

void Scheduler::log(const Entry& entry, TimeNs at, const std::string& text) {
  if (m_logger) m_logger(format_in_zone(at, entry.tz) + " " + entry.policy.name + " " + text);
}

void Scheduler::log_plain(TimeNs at, const std::string& text) {
  if (m_logger) m_logger(format_in_zone(at, m_local_tz) + " " + text);
}

std::optional<Scheduler::Entry> Scheduler::make_entry(const Policy& policy, TimeNs now) {
  auto tz = zone_of(policy);
  if (!tz) {
    log_plain(now, "policy " + policy.name + " not scheduled: " + tz.error().message());
    return std::nullopt;
  }
  Entry entry{policy, std::move(*tz), {}, false, false};
  for (const auto& [job, text] : schedules_of(policy)) {
    auto cron = CronSchedule::parse(text);
    if (!cron) {
      log_plain(now, "policy " + policy.name + " not scheduled: " + std::string(to_string(job)) + ": " +
                         cron.error().message());
      return std::nullopt;
    }
    Slot slot;
    slot.job = job;
    slot.cron = std::move(*cron);
    slot.next_due = next_instant(slot.cron, now, entry.tz);
    entry.slots.push_back(std::move(slot));
  }
  return entry;
}

Status Scheduler::plan_from_state(Entry& entry, TimeNs now) {
  for (Slot& slot : entry.slots) {
    KHO_TRY_ASSIGN(const std::optional<TimeNs> last, m_db.last_due(entry.policy.name, slot.job));
    if (!last) {
      // First start: from now on, nothing before counts as missed.
      KHO_TRY_STATUS(m_db.advance_last_due(entry.policy.name, slot.job, now));
      continue;
    }
    const TimeNs first = next_instant(slot.cron, *last, entry.tz);
    if (first > now) continue;
    const auto [latest, count] = latest_instant(slot.cron, first, now, entry.tz);
    slot.pending = Pending{latest, RunTrigger::catch_up, 1, now};
    log(entry, now,
        fmt::format("{} catch-up: missed run of {}{}", to_string(slot.job), format_in_zone(latest, entry.tz),
                    count > 1 ? fmt::format(" ({} missed since {})", count, format_in_zone(first, entry.tz)) : ""));
  }
  return {};
}

void Scheduler::collect_due(TimeNs now) {
  for (auto& [name, entry] : m_entries) {
    if (entry.removed) continue;
    for (Slot& slot : entry.slots) {
      if (slot.next_due > now) continue;
      const TimeNs due = latest_instant(slot.cron, slot.next_due, now, entry.tz).first;
      slot.next_due = next_instant(slot.cron, now, entry.tz);
      if (!slot.pending) {
        slot.pending = Pending{due, RunTrigger::schedule, 1, due};
        if (entry.busy) log(entry, now, fmt::format("{} due, waiting: the policy is busy", to_string(slot.job)));
      } else if (slot.pending->trigger == RunTrigger::retry) {
        log(entry, now, fmt::format("{} due: replaces the waiting retry", to_string(slot.job)));
        slot.pending = Pending{due, RunTrigger::schedule, 1, due};
      } else {
        // Still waiting for the policy: one run covers both instants.
        slot.pending->due = due;
        log(entry, now, fmt::format("{} due again while a run waits: one run for both", to_string(slot.job)));
      }
      changed();
    }
  }
}

void Scheduler::dispatch(TimeNs now) {
  if (m_stopping) return;
  // Ready runs in order of due time, then policy, then job.
  std::vector<std::tuple<TimeNs, std::string, ScheduledJob>> ready;
  for (auto& [name, entry] : m_entries) {
    if (entry.removed) continue;
    for (Slot& slot : entry.slots) {
      if (slot.pending && slot.pending->not_before <= now) ready.emplace_back(slot.pending->due, name, slot.job);
    }
  }
  std::sort(ready.begin(), ready.end());
  for (const auto& item : ready) {
    const auto& name = std::get<1>(item);
    const auto& job = std::get<2>(item);  // named, not bound: the lambda below captures it
    if (m_running >= m_options.max_concurrent) break;
    Entry& entry = m_entries.at(name);
    if (entry.busy) continue;
    const ScheduledJob& wanted = job;  // clang 14 cannot capture a structured binding
    auto slot = std::find_if(entry.slots.begin(), entry.slots.end(), [&](const Slot& s) { return s.job == wanted; });
    start_job(entry, *slot, now);
  }
}

void Scheduler::start_job(Entry& entry, Slot& slot, TimeNs now) {
  const Pending pending = *slot.pending;
  slot.pending.reset();
  if (pending.trigger != RunTrigger::retry) {
    if (auto r = m_db.advance_last_due(entry.policy.name, slot.job, pending.due); !r) {
      log(entry, now, fmt::format("{}: cannot record the scheduled time: {}", to_string(slot.job), r.error().message()));
    }
  }
  JobRequest request{entry.policy, slot.job, pending.due, pending.trigger, pending.attempt,
                     std::max(1, entry.policy.retry.attempts)};
  entry.busy = true;
  ++m_running;
  changed();
  log(entry, now,
      fmt::format("{} started ({}{})", to_string(slot.job), to_string(pending.trigger),
                  pending.attempt > 1 ? fmt::format(", attempt {}/{}", pending.attempt, request.attempts) : ""));

  const std::uint64_t id = m_next_worker++;
  Worker& worker = m_workers[id];
  worker.thread = std::thread([this, id, request = std::move(request), started = now] {
    JobResult result;
    try {
      result = m_runner(request, JobContext{m_interrupt});
    } catch (const std::exception& e) {
      result = JobResult{false, std::string("unexpected error: ") + e.what()};
    } catch (...) {
      result = JobResult{false, "unexpected error"};
    }
    finish_job(id, request, started, result);
  });
}

void Scheduler::finish_job(std::uint64_t worker, const JobRequest& request, TimeNs started, const JobResult& result) {
  std::lock_guard lock(m_mutex);
  const std::string& policy = request.policy.name;
  const ScheduledJob job = request.job;
  const TimeNs now = m_clock.now();
  m_workers.at(worker).done = true;  // its thread only returns after this
  --m_running;
  changed();
  const auto it = m_entries.find(policy);
  if (it == m_entries.end()) return;  // cannot happen: a busy entry is kept until here
  Entry& entry = it->second;
  entry.busy = false;
  const std::string took = seconds_text(now - started);
  if (result.success) {
    log(entry, now, fmt::format("{} finished: success in {}", to_string(job), took));
  } else if (m_interrupt.load()) {
    log(entry, now, fmt::format("{} interrupted after {}: {}", to_string(job), took, result.error));
  } else {
    std::string text = fmt::format("{} failed (attempt {}/{}) after {}: {}", to_string(job), request.attempt,
                                   request.attempts, took, result.error);
    const ScheduledJob& wanted = job;  // clang 14 cannot capture a structured binding
    auto slot = std::find_if(entry.slots.begin(), entry.slots.end(), [&](const Slot& s) { return s.job == wanted; });
    if (request.attempt >= request.attempts) {
      text += "; giving up";
    } else if (m_stopping || entry.removed || slot == entry.slots.end()) {
      text += "; no retry (scheduler stopping or policy changed)";
    } else if (slot->pending) {
      text += "; a scheduled run is already waiting";
    } else {
      const double delay_s = entry.policy.retry.delay_s * std::ldexp(1.0, request.attempt - 1);
      const TimeNs at = now + static_cast<TimeNs>(std::llround(delay_s * 1e9));
      slot->pending = Pending{request.due, RunTrigger::retry, request.attempt + 1, at};
      text += "; retry at " + format_in_zone(at, entry.tz);
    }
    log(entry, now, text);
  }
  if (entry.removed) {
    m_entries.erase(it);
  }
  dispatch(now);
}

TimeNs Scheduler::next_wakeup(TimeNs now) const {
  TimeNs next = k_time_never;
  for (const auto& [name, entry] : m_entries) {
    if (entry.removed) continue;
    for (const Slot& slot : entry.slots) {
      next = std::min(next, slot.next_due);
      if (slot.pending && slot.pending->not_before > now) next = std::min(next, slot.pending->not_before);
    }
  }
  return next;
}

void Scheduler::reap_workers(bool all) {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(m_mutex);
    for (auto it = m_workers.begin(); it != m_workers.end();) {
      if (all || it->second.done) {
        threads.push_back(std::move(it->second.thread));
        it = m_workers.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

Status Scheduler::run() {
  std::unique_lock lock(m_mutex);
  m_started = true;
  const TimeNs start = m_clock.now();
  if (auto marked = m_db.mark_interrupted_runs(); !marked) {
    m_finished = true;
    return tl::unexpected(marked.error());
  } else if (*marked > 0) {
    log_plain(start, fmt::format("marked {} run(s) of a stopped kho as interrupted", *marked));
  }
  for (const Policy& policy : m_initial) {
    if (m_entries.count(policy.name)) continue;
    auto entry = make_entry(policy, start);
    if (!entry) continue;
    if (auto s = plan_from_state(*entry, start); !s) {
      m_finished = true;
      return tl::unexpected(s.error());
    }
    m_entries.emplace(policy.name, std::move(*entry));
  }
  log_plain(start, fmt::format("scheduler started: {} policies", m_entries.size()));

  for (;;) {
    const TimeNs now = m_clock.now();
    m_dirty = false;
    if (m_stop_requested.load() && !m_stopping) {
      m_stopping = true;
      m_stop_deadline = now + m_options.stop_grace;
      for (auto& [name, entry] : m_entries) {
        for (Slot& slot : entry.slots) slot.pending.reset();
      }
      log_plain(now, m_running > 0 ? fmt::format("stopping: waiting up to {} for {} running job(s)",
                                                 seconds_text(m_options.stop_grace), m_running)
                                   : std::string("stopping"));
      changed();
      m_dirty = false;
    }
    TimeNs deadline = k_time_never;
    if (m_stopping) {
      if (m_running == 0) break;
      if (!m_interrupt.load()) {
        if (now >= m_stop_deadline) {
          m_interrupt.store(true);
          log_plain(now, fmt::format("grace period over: interrupting {} job(s)", m_running));
          changed();
          m_dirty = false;
        } else {
          deadline = m_stop_deadline;
        }
      }
    } else {
      collect_due(now);
      dispatch(now);
      m_dirty = false;
      deadline = next_wakeup(now);
    }
    lock.unlock();
    reap_workers(false);
    lock.lock();
    if (m_dirty || m_stop_requested.load() != m_stopping) continue;
    if (deadline <= m_clock.now()) continue;
    m_parked = true;
    ++m_generation;
    m_clock.wait_until(deadline, lock, m_cv);
    m_parked = false;
    ++m_generation;
  }
  m_finished = true;
  ++m_generation;
  log_plain(m_clock.now(), "scheduler stopped");
  lock.unlock();
  reap_workers(true);
  return {};
}

void Scheduler::reload(std::vector<Policy> policies) {
  std::lock_guard lock(m_mutex);
  const TimeNs now = m_clock.now();
  if (!m_started || m_finished) {
    m_initial = std::move(policies);
    return;
  }
  int added = 0, removed = 0, changed_count = 0;
  std::set<std::string> names;
  for (const Policy& policy : policies) {
    if (!names.insert(policy.name).second) continue;
    auto it = m_entries.find(policy.name);
    if (it != m_entries.end() && !it->second.removed && same_plan(it->second.policy, policy)) {
      it->second.policy = policy;  // settings other than the plan apply from the next run
      continue;
    }
    auto entry = make_entry(policy, now);
    if (!entry) continue;
    if (it == m_entries.end()) {
      if (auto s = plan_from_state(*entry, now); !s) {
        log_plain(now, "policy " + policy.name + " not scheduled: " + s.error().message());
        continue;
      }
      m_entries.emplace(policy.name, std::move(*entry));
      ++added;
      continue;
    }
    // Changed (or removed and back while its job runs): keep what runs and waits.
    Entry& old = it->second;
    for (Slot& slot : entry->slots) {
      for (Slot& before : old.slots) {
        if (before.job == slot.job) slot.pending = before.pending;
      }
    }
    entry->busy = old.busy;
    old = std::move(*entry);
    ++changed_count;
  }
  for (auto it = m_entries.begin(); it != m_entries.end();) {
    if (names.count(it->first) || it->second.removed) {
      ++it;
      continue;
    }
    ++removed;
    if (it->second.busy) {
      it->second.removed = true;
      for (Slot& slot : it->second.slots) slot.pending.reset();
      ++it;
    } else {
      it = m_entries.erase(it);
    }
  }
  log_plain(now, fmt::format("reloaded: {} policies ({} added, {} removed, {} changed)", names.size(), added,
                             removed, changed_count));
  changed();
}

Result<std::vector<PlannedRun>> Scheduler::next_runs(const std::vector<Policy>& policies, TimeNs from, int count) {
  std::vector<PlannedRun> runs;
  if (count <= 0) return runs;
  for (const Policy& policy : policies) {
    KHO_TRY_ASSIGN(const TimeZone tz, zone_of(policy));
    for (const auto& [job, text] : schedules_of(policy)) {
      auto cron = CronSchedule::parse(text);
      if (!cron) {
        return tl::unexpected(cron.error().with_context("policy " + policy.name + ": " + std::string(to_string(job))));
      }
      for (std::int64_t t : cron->next_n(seconds_floor(from), count, tz)) {
        runs.push_back(PlannedRun{policy.name, job, t * k_ns_per_s, tz.name()});
      }
    }
  }
  std::sort(runs.begin(), runs.end(), [](const PlannedRun& a, const PlannedRun& b) {
    return std::tie(a.time, a.policy, a.job) < std::tie(b.time, b.policy, b.job);
  });
  if (runs.size() > static_cast<std::size_t>(count)) runs.resize(static_cast<std::size_t>(count));
  return runs;
}

}  // namespace kho::orchestrate
