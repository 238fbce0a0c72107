// The scheduler (orchestrate/scheduler.hpp) on simulated time: a ManualClock,
// a real StateDb in a temp dir, and a recording runner whose work takes
// simulated time (ManualClock::sleep_until). After each step of the clock the
// test waits until the scheduler and every job are blocked on the clock, so
// every run is deterministic.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kho/orchestrate/scheduler.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho::orchestrate;
using kho::TimeNs;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

constexpr TimeNs k_min = 60 * k_ns_per_s;
constexpr TimeNs k_hour_ns = 60 * k_min;
constexpr TimeNs k_day_ns = 24 * k_hour_ns;

TimeNs utc(int y, int mo, int d, int h, int mi = 0) {
  return seconds_from_civil(CivilTime{y, mo, d, h, mi, 0}) * k_ns_per_s;
}

Policy make_policy(std::string name, std::string schedule, std::string zone = "UTC") {
  Policy p;
  p.name = std::move(name);
  p.schedule = std::move(schedule);
  p.timezone = std::move(zone);
  p.retry = Retry{1, 600};
  return p;
}

struct Call {
  std::string policy;
  ScheduledJob job;
  TimeNs at;
  TimeNs due;
  RunTrigger trigger;
  int attempt;
  bool interrupted = false;
};

// One scheduler on a shared clock and StateDb; a new one can be started on
// the same state (restart after downtime).
struct Harness {
  kho::test::ScopedTempDir dir{"kho-scheduler"};
  StateDb db;
  ManualClock clock;
  std::mutex mutex;
  std::vector<Call> calls;
  std::vector<std::string> lines;
  std::map<std::string, int> active;
  int active_total = 0;
  int max_active_total = 0;
  bool overlap = false;
  std::function<TimeNs(const JobRequest&)> duration = [](const JobRequest&) { return TimeNs(0); };
  std::function<bool(const JobRequest&)> fails = [](const JobRequest&) { return false; };
  std::unique_ptr<Scheduler> scheduler;
  std::thread thread;
  kho::Status result;

  explicit Harness(TimeNs start) : db(open_db()), clock(start) {}

  StateDb open_db() {
    auto db = StateDb::open(dir.path() / "state");
    REQUIRE(db.has_value());
    return std::move(*db);
  }

  JobResult run_job(const JobRequest& req, const JobContext& ctx) {
    const TimeNs start = clock.now();
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex);
      calls.push_back(Call{req.policy.name, req.job, start, req.due, req.trigger, req.attempt});
      index = calls.size() - 1;
      if (++active[req.policy.name] > 1) overlap = true;
      max_active_total = std::max(max_active_total, ++active_total);
    }
    if (const TimeNs d = duration(req); d > 0) clock.sleep_until(start + d, &ctx.interrupt);
    std::lock_guard lock(mutex);
    --active[req.policy.name];
    --active_total;
    if (ctx.interrupt.load()) {
      calls[index].interrupted = true;
      return JobResult{false, "interrupted"};
    }
    if (fails(req)) return JobResult{false, "repository unreachable"};
    return JobResult{true, ""};
  }

  void start(std::vector<Policy> policies, SchedulerOptions options = {}) {
    scheduler = std::make_unique<Scheduler>(
        std::move(policies), db, clock, [this](const JobRequest& r, const JobContext& c) { return run_job(r, c); },
        options, [this](std::string_view line) {
          std::lock_guard lock(mutex);
          lines.emplace_back(line);
        });
    thread = std::thread([this] { result = scheduler->run(); });
    settle();
  }

  // Waits until the loop and every running job are blocked on the clock (or
  // run() has returned): nothing can happen until the clock moves.
  void settle() {
    for (int i = 0;; ++i) {
      const SchedulerProbe a = scheduler->probe();
      if (a.stopped) return;
      if (a.idle && clock.blocked_waiters() == 1 && clock.sleepers() == a.running &&
          scheduler->probe().generation == a.generation) {
        return;
      }
      REQUIRE(i < 200000);  // 10 s
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // Moves the clock to `t`, stopping at every deadline on the way.
  void run_until(TimeNs t) {
    settle();
    for (TimeNs next = clock.next_deadline(); next <= t; next = clock.next_deadline()) {
      clock.advance(next);
      settle();
    }
    clock.advance(t);
    settle();
  }

  // Stops, moving the clock through the grace period while jobs still run.
  void stop_and_join() {
    scheduler->stop();
    for (settle(); !scheduler->probe().stopped; settle()) {
      clock.wake_all();  // interrupted jobs see their flag
      settle();
      if (scheduler->probe().stopped) break;
      clock.advance(clock.next_deadline());
    }
    thread.join();
    REQUIRE(result.has_value());
    scheduler.reset();
  }

  std::vector<Call> calls_of(const std::string& policy, ScheduledJob job) {
    std::lock_guard lock(mutex);
    std::vector<Call> out;
    for (const Call& c : calls) {
      if (c.policy == policy && c.job == job) out.push_back(c);
    }
    return out;
  }

  bool logged(const std::string& text) {
    std::lock_guard lock(mutex);
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }

  ~Harness() {
    if (thread.joinable()) {
      scheduler->stop();
      clock.wake_all();
      thread.join();
    }
  }
};

std::vector<Policy> week_policies() {
  Policy portal = make_policy("portal", "30 1 * * *", "Asia/Ho_Chi_Minh");
  portal.check = CheckPolicy{"0 3 * * 0", ""};
  return {portal, make_policy("mail", "0 */6 * * *", "UTC")};
}

std::vector<TimeNs> times_of(const std::vector<Call>& calls, bool due) {
  std::vector<TimeNs> out;
  for (const Call& c : calls) out.push_back(due ? c.due : c.at);
  return out;
}

}  // namespace

TEST_CASE("A simulated week runs each job at its due times, and a restart catches up each missed job once",
          "[scheduler]") {
  // Sunday 2026-11-29 19:00 in Ho Chi Minh City.
  Harness h(utc(2026, 11, 29, 12));
  h.start(week_policies());
  h.run_until(utc(2026, 12, 6, 12));

  std::vector<TimeNs> backups, mail;
  for (int d = 0; d < 7; ++d) backups.push_back(utc(2026, 11, 29, 18, 30) + d * k_day_ns);
  for (TimeNs t = utc(2026, 11, 29, 18); t <= utc(2026, 12, 6, 12); t += 6 * k_hour_ns) mail.push_back(t);
  CHECK(times_of(h.calls_of("portal", ScheduledJob::backup), false) == backups);
  CHECK(times_of(h.calls_of("portal", ScheduledJob::backup), true) == backups);
  // Sunday 03:00 +07:00 is Saturday 20:00Z.
  CHECK(times_of(h.calls_of("portal", ScheduledJob::check), false) == std::vector<TimeNs>{utc(2026, 12, 5, 20)});
  CHECK(times_of(h.calls_of("mail", ScheduledJob::backup), false) == mail);
  for (const Call& c : h.calls) CHECK((c.trigger == RunTrigger::schedule && c.attempt == 1));
  CHECK(h.logged("2026-11-30T01:30:00+07:00 portal backup started (schedule)"));
  CHECK(h.logged("2026-11-30T01:30:00+07:00 portal backup finished: success in "));
  CHECK_FALSE(h.logged("catch-up"));  // first start: a baseline, nothing missed

  // Down for two days.
  h.clock.advance(utc(2026, 12, 6, 12, 1));
  h.stop_and_join();
  const std::size_t before = h.calls.size();
  h.clock.advance(utc(2026, 12, 8, 12, 1));
  h.start(week_policies());

  std::vector<Call> caught(h.calls.begin() + static_cast<std::ptrdiff_t>(before), h.calls.end());
  REQUIRE(caught.size() == 2);
  for (const Call& c : caught) {
    CHECK(c.trigger == RunTrigger::catch_up);
    CHECK(c.at == utc(2026, 12, 8, 12, 1));
  }
  CHECK(h.calls_of("portal", ScheduledJob::backup).back().due == utc(2026, 12, 7, 18, 30));
  CHECK(h.calls_of("mail", ScheduledJob::backup).back().due == utc(2026, 12, 8, 12));
  CHECK(h.calls_of("portal", ScheduledJob::check).size() == 1);  // Saturday 20:00Z was not missed
  CHECK(h.logged("portal backup catch-up: missed run of 2026-12-08T01:30:00+07:00"));

  h.run_until(utc(2026, 12, 9, 12));
  CHECK(h.calls.size() == before + 2 + 1 + 4);
  CHECK(h.calls_of("portal", ScheduledJob::backup).back().at == utc(2026, 12, 8, 18, 30));
  CHECK(times_of(h.calls_of("mail", ScheduledJob::backup), false).back() == utc(2026, 12, 9, 12));
  for (std::size_t i = before + 2; i < h.calls.size(); ++i) CHECK(h.calls[i].trigger == RunTrigger::schedule);

  // A second restart without downtime catches up nothing.
  h.stop_and_join();
  const std::size_t again = h.calls.size();
  h.start(week_policies());
  CHECK(h.calls.size() == again);
  h.stop_and_join();
}

TEST_CASE("A job that outlasts its next due time runs again once, after it ends", "[scheduler]") {
  Harness h(utc(2026, 11, 29, 23));
  h.duration = [&](const JobRequest& r) { return r.due == utc(2026, 11, 30, 0) ? 13 * k_hour_ns : 0; };
  h.start({make_policy("mail", "0 */6 * * *")});
  h.run_until(utc(2026, 12, 1, 0));
  const auto calls = h.calls_of("mail", ScheduledJob::backup);
  CHECK(times_of(calls, false) ==
        std::vector<TimeNs>{utc(2026, 11, 30, 0), utc(2026, 11, 30, 13), utc(2026, 11, 30, 18), utc(2026, 12, 1, 0)});
  CHECK(calls[1].due == utc(2026, 11, 30, 12));
  CHECK(calls[1].trigger == RunTrigger::schedule);
  CHECK_FALSE(h.overlap);
  CHECK(h.logged("one run for both"));
  h.stop_and_join();
}

TEST_CASE("max_concurrent = 1 serialises two policies due at the same minute", "[scheduler]") {
  Harness h(utc(2026, 11, 30, 0, 50));
  h.duration = [](const JobRequest&) { return 30 * k_min; };
  h.start({make_policy("b", "0 * * * *"), make_policy("a", "0 * * * *")}, SchedulerOptions{1, k_min});
  h.run_until(utc(2026, 11, 30, 2, 10));
  REQUIRE(h.calls.size() == 3);
  CHECK((h.calls[0].policy == "a" && h.calls[0].at == utc(2026, 11, 30, 1)));
  CHECK((h.calls[1].policy == "b" && h.calls[1].at == utc(2026, 11, 30, 1, 30)));
  CHECK(h.calls[1].due == utc(2026, 11, 30, 1));
  CHECK((h.calls[2].policy == "a" && h.calls[2].at == utc(2026, 11, 30, 2)));
  CHECK(h.max_active_total == 1);
  h.stop_and_join();
}

TEST_CASE("A failing job is retried with a doubling delay, then given up, and the next run still happens",
          "[scheduler]") {
  Harness h(utc(2026, 11, 29, 23));
  Policy p = make_policy("r", "0 */6 * * *");
  p.retry = Retry{3, 600};
  h.fails = [](const JobRequest& r) { return r.due == utc(2026, 11, 30, 0); };
  h.start({p});
  h.run_until(utc(2026, 11, 30, 6, 30));
  const auto calls = h.calls_of("r", ScheduledJob::backup);
  CHECK(times_of(calls, false) == std::vector<TimeNs>{utc(2026, 11, 30, 0), utc(2026, 11, 30, 0, 10),
                                                      utc(2026, 11, 30, 0, 30), utc(2026, 11, 30, 6)});
  REQUIRE(calls.size() == 4);
  CHECK((calls[1].trigger == RunTrigger::retry && calls[1].attempt == 2 && calls[1].due == utc(2026, 11, 30, 0)));
  CHECK((calls[2].trigger == RunTrigger::retry && calls[2].attempt == 3));
  CHECK((calls[3].trigger == RunTrigger::schedule && calls[3].attempt == 1));
  CHECK(h.logged("r backup failed (attempt 1/3) after 0.0s: repository unreachable; retry at 2026-11-30T00:10:00+00:00"));
  CHECK(h.logged("failed (attempt 3/3) after 0.0s: repository unreachable; giving up"));
  h.stop_and_join();
}

TEST_CASE("A stop lets a running job finish within the grace period and starts nothing new", "[scheduler]") {
  Harness h(utc(2026, 11, 30, 0, 59));
  h.duration = [](const JobRequest&) { return 5 * k_min; };
  h.start({make_policy("s", "* * * * *")}, SchedulerOptions{2, 10 * k_min});
  h.run_until(utc(2026, 11, 30, 1, 0));
  REQUIRE(h.calls.size() == 1);
  h.scheduler->stop();
  h.run_until(utc(2026, 11, 30, 2));  // 01:01..01:05 come due while it runs
  h.thread.join();
  CHECK(h.result.has_value());
  CHECK(h.calls.size() == 1);
  CHECK_FALSE(h.calls.back().interrupted);
  CHECK(h.logged("s backup finished: success in 5m"));
  CHECK(h.logged("scheduler stopped"));
}

TEST_CASE("A stop interrupts a job still running after the grace period and waits for it", "[scheduler]") {
  Harness h(utc(2026, 11, 30, 0, 59));
  h.duration = [](const JobRequest&) { return k_hour_ns; };
  h.start({make_policy("s", "0 * * * *")}, SchedulerOptions{2, 10 * k_min});
  h.run_until(utc(2026, 11, 30, 1, 1));
  // The signal-handler path: only a flag, noticed when the clock next wakes
  // the loop (01:11 here; within a second with the SystemClock).
  h.scheduler->request_stop();
  h.run_until(utc(2026, 11, 30, 1, 11));
  REQUIRE(h.calls.size() == 1);
  h.run_until(utc(2026, 11, 30, 1, 21));  // the grace period ends
  h.clock.wake_all();  // the sleeping job sees its interrupt flag
  h.thread.join();
  CHECK(h.result.has_value());
  REQUIRE(h.calls.size() == 1);
  CHECK(h.calls[0].interrupted);
  CHECK(h.logged("grace period over: interrupting 1 job(s)"));
  CHECK(h.logged("2026-11-30T01:21:00+00:00 s backup interrupted after 21m"));
}

TEST_CASE("reload adds and removes policies, and a removed policy's running job finishes", "[scheduler]") {
  Harness h(utc(2026, 11, 30, 0, 30));
  h.duration = [](const JobRequest& r) { return r.policy.name == "a" ? 20 * k_min : 0; };
  const Policy a = make_policy("a", "0 * * * *");
  const Policy b = make_policy("b", "30 * * * *");
  h.start({a});
  h.run_until(utc(2026, 11, 30, 1, 5));
  h.scheduler->reload({a, b});
  h.run_until(utc(2026, 11, 30, 2, 5));  // a is running
  h.scheduler->reload({b});
  h.run_until(utc(2026, 11, 30, 4));
  CHECK(times_of(h.calls_of("a", ScheduledJob::backup), false) ==
        std::vector<TimeNs>{utc(2026, 11, 30, 1), utc(2026, 11, 30, 2)});
  CHECK(times_of(h.calls_of("b", ScheduledJob::backup), false) ==
        std::vector<TimeNs>{utc(2026, 11, 30, 1, 30), utc(2026, 11, 30, 2, 30), utc(2026, 11, 30, 3, 30)});
  CHECK(h.logged("2026-11-30T02:20:00+00:00 a backup finished: success in 20m"));
  CHECK(h.logged("reloaded: 1 policies (0 added, 1 removed, 0 changed)"));
  h.stop_and_join();
}

TEST_CASE("next_runs lists the coming runs of all policies in time order", "[scheduler]") {
  const auto runs = Scheduler::next_runs(week_policies(), utc(2026, 11, 29, 12), 5);
  REQUIRE(runs.has_value());
  REQUIRE(runs->size() == 5);
  const std::vector<TimeNs> expected{utc(2026, 11, 29, 18), utc(2026, 11, 29, 18, 30), utc(2026, 11, 30, 0),
                                     utc(2026, 11, 30, 6), utc(2026, 11, 30, 12)};
  for (std::size_t i = 0; i < 5; ++i) CHECK((*runs)[i].time == expected[i]);
  CHECK((*runs)[1].policy == "portal");
  CHECK((*runs)[1].timezone == "Asia/Ho_Chi_Minh");
  CHECK((*runs)[0].timezone == "UTC");

  Policy bad = make_policy("bad", "61 * * * *");
  const auto failed = Scheduler::next_runs({bad}, 0, 3);
  REQUIRE_FALSE(failed.has_value());
  CHECK_THAT(failed.error().message(), Contains("policy bad"));
}

TEST_CASE("The local time zone comes from TZ, else /etc/localtime, else UTC", "[scheduler][tz]") {
  kho::test::ScopedTempDir dir("kho-localtime");
  auto none = local_time_zone(nullptr, dir / "missing");
  REQUIRE(none.has_value());
  CHECK(none->name() == "UTC");

  fs::create_symlink("/usr/share/zoneinfo/Asia/Ho_Chi_Minh", dir / "localtime");
  auto linked = local_time_zone("", dir / "localtime");
  REQUIRE(linked.has_value());
  CHECK(linked->name() == "Asia/Ho_Chi_Minh");
  CHECK(linked->offset_at(0) == 8 * 3600);  // +08:00 in 1970

  auto named = local_time_zone(":Europe/Berlin", dir / "missing");
  REQUIRE(named.has_value());
  CHECK(named->offset_at(1'780'000'000) == 2 * 3600);  // summer 2026

  auto path = local_time_zone("/usr/share/zoneinfo/Europe/Berlin", dir / "missing");
  REQUIRE(path.has_value());
  CHECK(path->offset_at(1'780'000'000) == 2 * 3600);

  auto rule = local_time_zone("<+07>-7", dir / "missing");
  REQUIRE(rule.has_value());
  CHECK(rule->offset_at(0) == 7 * 3600);

  CHECK_FALSE(local_time_zone("Nowhere/Atlantis", dir / "missing").has_value());
}
