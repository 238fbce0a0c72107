// kho scheduler run | next | install
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "kho/cli/context.hpp"
#include "kho/cli/orchestrate_args.hpp"
#include "kho/engine/progress.hpp"
#include "kho/orchestrate/metrics.hpp"
#include "kho/orchestrate/runner.hpp"
#include "kho/orchestrate/scheduler.hpp"
#include "kho/platform/child.hpp"

namespace kho::cli {

namespace {
namespace fs = std::filesystem;
using orchestrate::Policy;

struct SchedulerArgs : OrchestrateArgs {
  int max_concurrent = 2;
  std::string stop_grace = "5m";
  std::string metrics_file;
  std::string from;  // next --from
  int count = 5;     // next --count
  bool systemd = false, cron = false;
  std::string output;  // install -o
  bool once = false;   // run --once
};

std::atomic<bool> g_reload{false};
extern "C" void on_sighup(int) { g_reload.store(true); }

void log_line(std::string_view line) {
  fmt::print("{} {}\n", format_rfc3339(now_ns()), line);
  std::fflush(stdout);
}

// The valid policies; problems are logged. Fails (exit 2) when a file has one
// and `strict`: the scheduler does not start on a broken configuration.
Result<std::vector<Policy>> load(const SchedulerArgs& args, bool strict) {
  auto r = orchestrate::load_policy_dir(args.policies_dir());
  for (const auto& i : r.issues) log_line("policy problem: " + orchestrate::format_issue(i));
  if (strict && !r.ok())
    return failf(Errc::invalid_argument, "{} problem(s) in the policies in {}: fix them ('kho policy validate')",
                 r.issues.size(), args.policies_dir());
  return std::move(r.policies);
}

Status run_scheduler(Context& ctx, const SchedulerArgs& args) {
  KHO_TRY_ASSIGN(auto policies, load(args, true));
  KHO_TRY_ASSIGN(double grace, parse_duration(args.stop_grace));
  KHO_TRY_ASSIGN(auto state, args.open_state());
  KHO_TRY_ASSIGN(std::string self, platform::self_executable());

  std::mutex metrics_mutex;
  auto write_metrics = [&](const std::vector<Policy>& ps, orchestrate::StateDb& db) {
    if (args.metrics_file.empty()) return;
    std::lock_guard lock(metrics_mutex);
    if (auto st = orchestrate::write_policy_metrics(args.metrics_file, ps, db); !st)
      log_line("metrics: " + st.error().message());
  };
  std::mutex policies_mutex;
  std::vector<Policy> current = policies;

  // A StateDb is used by one thread at a time: the scheduler's loop has
  // `state`, each job and the RPO watch open their own connection (WAL and the
  // busy timeout let them write side by side).
  auto runner = [&](const orchestrate::JobRequest& job, const orchestrate::JobContext& jc) {
    auto db = args.open_state();
    if (!db) return orchestrate::JobResult{false, db.error().message()};
    orchestrate::RunOptions o;
    o.trigger = job.trigger;
    o.attempt = job.attempt;
    o.interrupt = &jc.interrupt;
    o.kho_program = self;
    o.log = [](std::string_view line) { log_line(line); };
    Result<orchestrate::RunReport> r = fail(Errc::invalid_argument, "unknown job");
    switch (job.job) {
      case orchestrate::ScheduledJob::backup: r = orchestrate::run_backup(job.policy, &*db, o); break;
      case orchestrate::ScheduledJob::check: r = orchestrate::run_check(job.policy, &*db, o); break;
      case orchestrate::ScheduledJob::prune: r = orchestrate::run_prune(job.policy, &*db, o); break;
    }
    {
      std::lock_guard lock(policies_mutex);
      write_metrics(current, *db);
    }
    if (!r) return orchestrate::JobResult{false, r.error().message()};
    return orchestrate::JobResult{r->success, r->success ? "" : r->stage + ": " + r->error};
  };

  orchestrate::SystemClock clock;
  orchestrate::SchedulerOptions so;
  so.max_concurrent = args.max_concurrent;
  so.stop_grace = static_cast<TimeNs>(grace * 1e9);
  orchestrate::Scheduler scheduler(policies, state, clock, runner, so, [](std::string_view l) { log_line(l); });
  write_metrics(policies, state);  // before the scheduler's loop uses `state`

  struct sigaction sa {};
  sa.sa_handler = on_sighup;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);
  // SIGINT/SIGTERM set kho's cancel flag; this thread turns it into a clean
  // stop (running jobs get the grace period) and SIGHUP into a reload.
  std::atomic<bool> done{false};
  // RPO watch, once a minute: a policy whose newest successful backup is older
  // than its RPO is logged and notified ("late") once, until it has a new one.
  std::set<std::string> late;
  TimeNs next_rpo_check = 0;
  std::optional<orchestrate::StateDb> watch_db;
  auto check_rpo = [&] {
    if (!watch_db) {
      auto db = args.open_state();
      if (!db) {
        log_line("RPO watch: " + db.error().message());
        return;
      }
      watch_db.emplace(std::move(*db));
    }
    std::vector<Policy> ps;
    {
      std::lock_guard lock(policies_mutex);
      ps = current;
    }
    for (const auto& p : ps) {
      auto why = orchestrate::rpo_lateness(p, *watch_db, now_ns());
      if (!why || why->empty()) {
        if (why) late.erase(p.name);
        continue;
      }
      if (!late.insert(p.name).second) continue;
      log_line("LATE: " + *why);
      if (auto st = orchestrate::notify_policy(p, orchestrate::NotifyEvent::late, "kho: " + *why); !st)
        log_line(p.name + ": " + st.error().message());
    }
  };
  std::thread watcher([&] {
    while (!done.load()) {
      if (now_ns() >= next_rpo_check && !args.once) {
        check_rpo();
        next_rpo_check = now_ns() + 60 * orchestrate::k_ns_per_s;
      }
      if (args.once) {
        // --once: stop as soon as what was due at start-up has run.
        auto p = scheduler.probe();
        if (p.idle && p.running == 0) {
          scheduler.stop();
          return;
        }
      }
      if (engine::cancelled()) {
        log_line("stop requested: no new jobs; running jobs have " + args.stop_grace + " to finish");
        scheduler.stop();
        return;
      }
      if (g_reload.exchange(false)) {
        log_line("reloading the policies");
        if (auto ps = load(args, false)) {
          {
            std::lock_guard lock(policies_mutex);
            current = *ps;
          }
          scheduler.reload(std::move(*ps));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  log_line(fmt::format("scheduler started: {} policies from {}, state in {}, at most {} job(s) at once", policies.size(),
                       args.policies_dir(), state.file().parent_path().string(), args.max_concurrent));
  Status st = scheduler.run();
  done = true;
  watcher.join();
  log_line("scheduler stopped");
  (void)ctx;
  return st;
}

Status run_next(Context& ctx, const SchedulerArgs& args) {
  auto loaded = orchestrate::load_policy_dir(args.policies_dir());
  for (const auto& i : loaded.issues) ctx.warn("{}", orchestrate::format_issue(i));
  TimeNs from = now_ns();
  if (!args.from.empty()) {
    KHO_TRY_ASSIGN(from, parse_time(args.from));
  }
  // --count runs of each job (a policy's backup, check and prune).
  std::vector<orchestrate::PlannedRun> runs;
  for (const auto& p : loaded.policies) {
    // One job at a time, so a frequent backup does not hide a weekly check.
    Policy backup = p, check = p, prune = p;
    backup.check.reset();
    backup.prune.reset();
    check.schedule.clear();
    check.prune.reset();
    prune.schedule.clear();
    prune.check.reset();
    for (const Policy* one : {&backup, &check, &prune}) {
      KHO_TRY_ASSIGN(auto mine, orchestrate::Scheduler::next_runs({*one}, from, args.count));
      runs.insert(runs.end(), mine.begin(), mine.end());
    }
  }
  std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  if (ctx.global.json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& r : runs)
      out.push_back({{"policy", r.policy},
                     {"job", std::string(orchestrate::to_string(r.job))},
                     {"time", format_rfc3339(r.time)},
                     {"timezone", r.timezone}});
    ctx.print_json(out);
    return {};
  }
  Table t({"TIME (LOCAL)", "POLICY", "JOB", "TIME ZONE"});
  for (const auto& r : runs) t.add({format_local(r.time), r.policy, std::string(orchestrate::to_string(r.job)), r.timezone});
  fmt::print("{}", t.render());
  return {};
}

std::string quote_arg(const std::string& s) {
  if (s.find_first_of(" \t\"'\\$`") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

Status run_install(Context& ctx, const SchedulerArgs& args) {
  if (args.systemd && args.cron) return fail(Errc::invalid_argument, "give --systemd or --cron, not both");
  KHO_TRY_ASSIGN(std::string self, platform::self_executable());
  const std::string policies = fs::absolute(args.policies_dir()).string();
  std::string state_opt;
  if (!args.state.empty()) state_opt = " --state " + quote_arg(fs::absolute(args.state).string());
  std::string metrics_opt;
  if (!args.metrics_file.empty()) metrics_opt = " --metrics-file " + quote_arg(fs::absolute(args.metrics_file).string());
  const bool root = geteuid() == 0;
  std::string path = args.output, text, how;
  if (args.cron) {
    // cron has no notion of a policy's time zone or of missed runs: it starts
    // the scheduler every minute with --once, which runs what became due.
    if (path.empty()) path = root ? "/etc/cron.d/kho" : "kho.crontab";
    text = fmt::format(
        "# kho: runs the jobs of the policies in {} when they are due (written by 'kho scheduler install --cron')\n"
        "SHELL=/bin/sh\n"
        "* * * * * root {} scheduler run --once --policies {}{}{} >>/var/log/kho-scheduler.log 2>&1\n",
        policies, quote_arg(self), quote_arg(policies), state_opt, metrics_opt);
    how = root ? "cron reads /etc/cron.d by itself: nothing to enable." : "install it with: crontab " + path;
    if (!root) {
      // A user crontab has no user field.
      text = fmt::format("* * * * * {} scheduler run --once --policies {}{}{} >>$HOME/kho-scheduler.log 2>&1\n",
                         quote_arg(self), quote_arg(policies), state_opt, metrics_opt);
    }
  } else {
    if (path.empty()) {
      const char* home = std::getenv("HOME");
      path = root ? "/etc/systemd/system/kho-scheduler.service"
                  : std::string(home ? home : ".") + "/.config/systemd/user/kho-scheduler.service";
    }
    text = fmt::format(
        "[Unit]\n"
        "Description=kho backup scheduler (policies in {})\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        "ExecStart={} scheduler run --policies {}{}{}\n"
        "ExecReload=/bin/kill -HUP $MAINPID\n"
        "KillMode=mixed\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=10min\n"
        "Restart=on-failure\n"
        "RestartSec=30s\n"
        "UMask=0077\n"
        "Nice=10\n"
        "IOSchedulingClass=best-effort\n"
        "IOSchedulingPriority=7\n\n"
        "[Install]\n"
        "WantedBy={}\n",
        policies, quote_arg(self), quote_arg(policies), state_opt, metrics_opt,
        root ? "multi-user.target" : "default.target");
    how = root ? "enable it with: systemctl daemon-reload && systemctl enable --now kho-scheduler"
               : "enable it with: systemctl --user daemon-reload && systemctl --user enable --now kho-scheduler";
  }
  if (path == "-") {
    fmt::print("{}", text);
    return {};
  }
  std::error_code ec;
  if (auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) return fail(Errc::io, "cannot write " + path);
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                  ec);
  ctx.print("wrote {}\n{}\n", path, how);
  return {};
}
}  // namespace

void register_scheduler(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<SchedulerArgs>();
  auto* cmd = app.add_subcommand("scheduler", "Run the policies' backups, checks and prunes when due (a daemon)");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  args->add_to(cmd);

  auto* run = cmd->add_subcommand("run", "Run in the foreground (for systemd): jobs when due, in each policy's time zone");
  run->add_option("--max-concurrent", args->max_concurrent, "Jobs at once, all policies together (default 2)");
  run->add_option("--stop-grace", args->stop_grace,
                  "On SIGTERM, how long running jobs may take to finish before they are interrupted (default 5m)");
  run->add_option("--metrics-file", args->metrics_file,
                  "Write Prometheus metrics here after each job (node_exporter textfile collector, *.prom)");
  run->add_flag("--once", args->once,
                "Run what is due (and what was missed) now, then exit: for cron ('kho scheduler install --cron')");
  run->footer(
      "A run missed while the host was down runs once at start-up; one policy never runs twice at once;\n"
      "a failed job is retried as the policy's retry says. SIGTERM/SIGINT: stop cleanly; SIGHUP: reload the policies.\n"
      "One log line per event on stdout.");
  run->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_scheduler(ctx, *args); }; });

  auto* next = cmd->add_subcommand("next", "Show the next run times of every job");
  next->add_option("--from", args->from, "Start from this time (\"YYYY-MM-DD HH:MM:SS\" local, or RFC 3339)");
  next->add_option("--count", args->count, "Runs to show per job (default 5)");
  next->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_next(ctx, *args); }; });

  auto* install = cmd->add_subcommand("install", "Write a systemd unit (default) or a cron entry that runs the scheduler");
  install->add_flag("--systemd", args->systemd, "A systemd service running 'kho scheduler run' (default)");
  install->add_flag("--cron", args->cron, "A cron entry running 'kho scheduler run --once' every minute");
  install->add_option("-o,--output", args->output, "Write here instead of the default place ('-': standard output)");
  install->add_option("--metrics-file", args->metrics_file, "Have the scheduler write Prometheus metrics here");
  install->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_install(ctx, *args); }; });
}

}  // namespace kho::cli
