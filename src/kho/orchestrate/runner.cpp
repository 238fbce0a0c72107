#include "kho/orchestrate/runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "kho/backend/backend.hpp"
#include "kho/orchestrate/cron.hpp"
#include "kho/orchestrate/notify.hpp"
#include "kho/orchestrate/tz.hpp"
#include "kho/platform/child.hpp"
#include "kho/util/fd.hpp"

namespace kho::orchestrate {

namespace {
using platform::ChildOptions;
using platform::ChildResult;


// The last JSON value (object or array) a kho child printed: its --json summary.
nlohmann::ordered_json last_json(const std::string& out) {
  std::size_t end = out.size();
  while (end > 0) {
    std::size_t start = out.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string_view line(out.data() + start, end - start);
    if (!line.empty() && (line.front() == '{' || line.front() == '[')) {
      auto j = nlohmann::ordered_json::parse(line, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    if (start == 0) break;
    end = start - 1;
  }
  return nlohmann::ordered_json::object();
}

// The --json summary object (empty when the child printed none).
nlohmann::ordered_json last_object(const std::string& out) {
  auto j = last_json(out);
  return j.is_object() ? j : nlohmann::ordered_json::object();
}

// The numbers of a kho --json summary, as a run's figures.
void copy_numbers(const nlohmann::ordered_json& summary, nlohmann::ordered_json& figures) {
  for (auto it = summary.begin(); it != summary.end(); ++it)
    if (it.value().is_number()) figures[it.key()] = it.value();
}

std::string host_name(const Policy& p) {
  if (!p.host.empty()) return p.host;
  char host[256] = {};
  return gethostname(host, sizeof host - 1) == 0 ? std::string(host) : std::string();
}

class Run {
public:
  Run(const Policy& p, StateDb* state, const RunOptions& o, RunKind kind) : m_p(p), m_state(state), m_opt(o) {
    m_report.kind = kind;
    if (m_opt.kho_program.empty()) {
      auto self = platform::self_executable();
      m_kho = self ? *self : "kho";
    } else {
      m_kho = m_opt.kho_program;
    }
  }

  Status begin() {
    m_start = now_ns();
    if (!m_state || m_opt.dry_run) return {};
    if (!m_opt.lock_held) KHO_TRY_STATUS(lock_policy());
    KHO_TRY_ASSIGN(m_report.run_id, m_state->begin_run(RunStart{m_p.name, m_report.kind, m_opt.trigger,
                                                                 m_opt.attempt, m_start}));
    return {};
  }

  // The time left of the policy's timeout (0: none).
  double time_left() const {
    if (!m_p.timeout_s) return 0;
    double left = *m_p.timeout_s - static_cast<double>(now_ns() - m_start) / 1e9;
    return left > 0.001 ? left : 0.001;
  }

  bool stopped() const { return m_report.interrupted || (m_opt.interrupt && m_opt.interrupt->load()); }

  // Runs one step's process; false when it failed (the run stops there).
  bool step(const std::string& name, ChildOptions child, const std::function<std::string(const ChildResult&)>& done,
            const std::function<bool(const ChildResult&)>& accept = {}) {
    child.timeout_s = time_left();
    child.interrupt = m_opt.interrupt;
    if (m_opt.dry_run) {
      std::string line = name + ": " + Command{false, {}, child.argv}.shell_text();
      for (const auto& [var, value] : child.set_env)
        if (var == "KHO_REPOSITORY" || var == "KHO_FROM_REPOSITORY")
          line += fmt::format(" ({}={})", var, backend::redact_location(value));
      m_report.plan.push_back(std::move(line));
      return true;
    }
    if (stopped()) return fail_step(name, "interrupted before it started", 0, true);
    log("{} {}: started", m_p.name, name);
    const TimeNs t0 = now_ns();
    auto result = platform::run_child(child);
    if (!result) return fail_step(name, result.error().message(), t0);
    const ChildResult& r = *result;
    const bool ok = accept ? accept(r) : r.ok();
    if (!ok) {
      std::string why = r.status_text(child.timeout_s);
      if (auto line = r.last_error_line(); !line.empty()) why += ": " + line;
      return fail_step(name, why, t0, r.interrupted);
    }
    std::string detail = done ? done(r) : std::string();
    add_step(name, true, t0, detail);
    log("{} {}: done in {:.1f}s{}", m_p.name, name, r.seconds, detail.empty() ? "" : " (" + detail + ")");
    return true;
  }

  // A step that runs kho itself on `repository`.
  // The repository goes in the environment: a location may carry credentials
  // (rest:https://user:pass@...), which must not show in argv.
  ChildOptions kho(const std::string& repository, const PasswordSource& password, std::vector<std::string> args) {
    ChildOptions c;
    c.argv = {m_kho};
    c.unset_env = platform::k_kho_repository_env;
    c.set_env.emplace_back("KHO_REPOSITORY", repository);
    add_password(c, password, "KHO_PASSWORD_FILE", "--password-command");
    c.argv.insert(c.argv.end(), {"--json", "--no-progress"});
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    return c;
  }

  static void add_password(ChildOptions& c, const PasswordSource& pw, const char* env, const char* option) {
    if (!pw.file.empty()) c.set_env.emplace_back(env, pw.file);
    if (pw.command) c.argv.insert(c.argv.end(), {option, pw.command->shell_text()});
  }

  bool hooks(const std::string& which, const std::vector<Command>& commands) {
    for (std::size_t i = 0; i < commands.size(); ++i) {
      ChildOptions c;
      c.argv = commands[i].exec_argv();
      c.unset_env = {"KHO_*"};  // KHO_PASSWORD may hold a repository password
      c.set_env = hook_env();
      if (!step(fmt::format("hooks.{}[{}]", which, i), c, {})) return false;
    }
    return true;
  }

  // What a hook is told: never the password nor the repository's credentials
  // (a rest: location may carry user:password), which a hook has no use for.
  std::vector<std::pair<std::string, std::string>> hook_env() const {
    return {{"KHO_POLICY", m_p.name},
            {"KHO_REPOSITORY", backend::redact_location(m_p.repository)},
            {"KHO_SNAPSHOT", m_report.snapshot_id}};
  }

  // After a failure: the on_failure hooks, told what failed; their own failures
  // are noted but do not replace the first error.
  void on_failure() {
    if (m_opt.dry_run) return;
    for (std::size_t i = 0; i < m_p.hooks.on_failure.size(); ++i) {
      ChildOptions c;
      c.argv = m_p.hooks.on_failure[i].exec_argv();
      c.unset_env = {"KHO_*"};
      c.set_env = hook_env();
      c.set_env.emplace_back("KHO_STAGE", m_report.stage);
      c.set_env.emplace_back("KHO_ERROR", m_report.error);
      c.timeout_s = 300;
      const TimeNs t0 = now_ns();
      auto r = platform::run_child(c);
      const std::string name = fmt::format("hooks.on_failure[{}]", i);
      const bool ok = r && r->ok();
      std::string detail = !r ? r.error().message() : ok ? "" : r->status_text(c.timeout_s);
      add_step(name, ok, t0, detail);
      log("{} {}: {}", m_p.name, name, ok ? "done" : "failed: " + detail);
    }
  }

  // The policy's notify: failure or success of this run, when it asks for it.
  void send_notification() {
    if (m_opt.dry_run || !m_p.notify) return;
    NotifyMessage m;
    m.event = m_report.success ? NotifyEvent::success : NotifyEvent::failure;
    m.policy = m_p.name;
    m.host = host_name(m_p);
    m.time = now_ns();
    m.kind = std::string(to_string(m_report.kind));
    m.stage = m_report.stage;
    m.error = m_report.error;
    m.snapshot_id = m_report.snapshot_id;
    m.figures = m_report.figures;
    m.summary = m_report.success
                    ? fmt::format("kho: {} of policy {} succeeded in {:.0f}s", m.kind, m_p.name, m_report.seconds)
                    : fmt::format("kho: {} of policy {} FAILED at {}: {}", m.kind, m_p.name, m_report.stage,
                                  m_report.error);
    if (auto st = notify(*m_p.notify, m); !st) log("{}: {}", m_p.name, st.error().message());
  }

  Result<RunReport> finish() {
    m_report.success = m_report.stage.empty();
    m_report.seconds = static_cast<double>(now_ns() - m_start) / 1e9;
    m_report.figures["duration_s"] = m_report.seconds;
    if (!m_report.success) on_failure();
    send_notification();
    if (m_state && !m_opt.dry_run) {
      RunOutcome out;
      out.status = m_report.success ? RunStatus::success : m_report.interrupted ? RunStatus::interrupted
                                                                                : RunStatus::failed;
      out.finished_at = now_ns();
      if (!m_report.stage.empty()) out.stage = m_report.stage;
      if (!m_report.error.empty()) out.error = m_report.error;
      if (!m_report.snapshot_id.empty()) out.snapshot_id = m_report.snapshot_id;
      out.figures = nlohmann::json(m_report.figures);
      KHO_TRY_STATUS(m_state->finish_run(m_report.run_id, out));
    }
    return std::move(m_report);
  }

  template <typename... Args>
  void log(fmt::format_string<Args...> format, Args&&... args) const {
    if (m_opt.log) m_opt.log(fmt::format(format, std::forward<Args>(args)...));
  }

  // One run of a policy at a time on this host, whoever starts it (the
  // scheduler, a person, cron): an flock on <state dir>/locks/<policy>.lock,
  // held until the run ends and released by the kernel if the process dies.
  Status lock_policy() {
    const auto dir = m_state->file().parent_path() / "locks";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno(dir.string(), errno);
    const std::string path = (dir / (m_p.name + ".lock")).string();
    KHO_TRY_ASSIGN(m_lock, open_fd(path, O_RDWR | O_CREAT, 0600));
    if (flock(m_lock.get(), LOCK_EX | LOCK_NB) == 0) return {};
    if (errno != EWOULDBLOCK) return fail_errno(path, errno);
    return failf(Errc::locked, "policy {} is already running on this host (lock {}); wait for it or stop it first",
                 m_p.name, path);
  }

  const Policy& m_p;
  StateDb* m_state;
  Fd m_lock;
  const RunOptions& m_opt;
  RunReport m_report;
  std::string m_kho;
  TimeNs m_start = 0;

private:
  bool fail_step(const std::string& name, const std::string& why, TimeNs t0, bool interrupted = false) {
    m_report.stage = name;
    m_report.error = why;
    m_report.interrupted = interrupted || (m_opt.interrupt && m_opt.interrupt->load());
    add_step(name, false, t0 ? t0 : now_ns(), why);
    log("{} {}: failed: {}", m_p.name, name, why);
    return false;
  }

  void add_step(const std::string& name, bool ok, TimeNs t0, const std::string& detail) {
    m_report.steps.push_back({name, ok, static_cast<double>(now_ns() - t0) / 1e9, detail});
    if (!m_state || m_report.run_id == 0) return;
    RunStep s;
    s.name = name;
    s.started_at = t0;
    s.finished_at = now_ns();
    s.status = ok ? StepStatus::success : StepStatus::failed;
    s.detail = detail;
    if (auto st = m_state->add_step(m_report.run_id, s); !st) log("{}: cannot record step {}: {}", m_p.name, name,
                                                                  st.error().message());
  }
};

std::vector<std::string> retention_args(const engine::RetentionPolicy& r) {
  std::vector<std::string> a;
  auto count = [&](const char* opt, int n) {
    if (n != 0) a.insert(a.end(), {opt, std::to_string(n)});
  };
  count("--keep-last", r.keep_last);
  count("--keep-hourly", r.keep_hourly);
  count("--keep-daily", r.keep_daily);
  count("--keep-weekly", r.keep_weekly);
  count("--keep-monthly", r.keep_monthly);
  count("--keep-yearly", r.keep_yearly);
  if (r.keep_within_s && *r.keep_within_s > 0)
    a.insert(a.end(), {"--keep-within", fmt::format("{}s", static_cast<long long>(*r.keep_within_s))});
  for (const auto& t : r.keep_tags) a.insert(a.end(), {"--keep-tag", t});
  return a;
}

// prune.schedule has come round since the last successful prune.
bool prune_due(const Policy& p, StateDb* state) {
  if (!p.prune || !state) return false;
  auto cron = CronSchedule::parse(p.prune->schedule);
  auto zone = policy_time_zone(p.timezone);
  if (!cron || !zone) return false;
  auto last = state->last_success(p.name, RunKind::prune);
  if (!last) return false;
  const TimeNs now = now_ns();
  // Never pruned: due once the first scheduled time after a day ago has passed.
  const std::int64_t since_s = *last ? (*last)->started_at / 1'000'000'000 : now / 1'000'000'000 - 86400;
  auto next = cron->next_after(since_s, *zone);
  return next && *next <= now / 1'000'000'000;
}
}  // namespace

Result<RunReport> run_backup(const Policy& p, StateDb* state, const RunOptions& o) {
  Run run(p, state, o, RunKind::backup);
  KHO_TRY_STATUS(run.begin());
  std::string incomplete;
  std::string anomaly;  // the flagged snapshot's reasons
  bool ok = run.hooks("before", p.hooks.before);

  if (ok) {
    std::vector<std::string> args = {"backup", "--policy", p.name};
    for (const auto& t : p.snapshot_tags()) args.insert(args.end(), {"--tag", t});
    if (!p.host.empty()) args.insert(args.end(), {"--host", p.host});
    for (const auto& e : p.exclude) args.insert(args.end(), {"--exclude", e});
    if (p.one_file_system) args.push_back("--one-file-system");
    if (!p.anomaly.enabled) args.push_back("--no-anomaly");
    auto number = [](double v) { return fmt::format("{}", v); };
    if (p.anomaly.threshold) args.insert(args.end(), {"--anomaly-threshold", number(*p.anomaly.threshold)});
    if (p.anomaly.changed_share) args.insert(args.end(), {"--anomaly-changed-share", number(*p.anomaly.changed_share)});
    if (p.anomaly.encrypted_share)
      args.insert(args.end(), {"--anomaly-encrypted-share", number(*p.anomaly.encrypted_share)});
    if (p.anomaly.min_files) args.insert(args.end(), {"--anomaly-min-files", std::to_string(*p.anomaly.min_files)});
    for (const auto& s : p.sources)
      if (s.is_command()) args.insert(args.end(), {"--stdin-from", s.command->shell_text(), "--stdin-filename", s.filename});
    bool first_path = true;
    for (const auto& s : p.sources) {
      if (s.is_command()) continue;
      if (first_path) args.push_back("--");  // a path may start with '-'
      first_path = false;
      args.push_back(s.path);
    }
    // Exit 3: the snapshot was saved without some files (named in its errors).
    // The run goes on to the after hooks and copies, skips forget (an
    // incomplete snapshot must not push out a complete one) and fails at the end.
    auto accept = [](const ChildResult& r) { return r.ok() || (r.exit_code == 3 && !r.interrupted && !r.timed_out); };
    ok = run.step("backup", run.kho(p.repository, p.password, args), [&](const ChildResult& r) {
      auto j = last_object(r.out);
      if (r.exit_code == 3) {
        std::size_t unread = j.contains("errors") ? j["errors"].size() : 0;
        incomplete = fmt::format("the snapshot is incomplete: {} path(s) could not be read ({})", unread,
                                 r.last_error_line());
      }
      run.m_report.snapshot_id = j.value("snapshot_id", "");
      for (const char* k : {"files_new", "files_changed", "files_unmodified", "total_files", "total_bytes",
                            "data_added", "data_added_raw"})
        if (j.contains(k)) run.m_report.figures[k] = j[k];
      if (j.contains("anomaly") && j["anomaly"].is_object()) {
        const auto& a = j["anomaly"];
        if (a.contains("score") && a["score"].is_number()) run.m_report.figures["anomaly_score"] = a["score"];
        const bool flagged = a.value("flagged", false);
        run.m_report.figures["anomaly_flagged"] = flagged ? 1 : 0;
        if (flagged) {
          std::vector<std::string> reasons;
          if (a.contains("reasons") && a["reasons"].is_array())
            for (const auto& r : a["reasons"])
              if (r.is_string()) reasons.push_back(r.get<std::string>());
          anomaly = fmt::format("snapshot {} of policy {} looks like ransomware's work (score {:.2f}): {}",
                                j.value("short_id", "?"), p.name, a.value("score", 0.0), fmt::join(reasons, "; "));
        }
      }
      return fmt::format("snapshot {}, {} files, {} bytes added{}", j.value("short_id", "?"), j.value("total_files", 0),
                         j.value("data_added", 0), anomaly.empty() ? "" : ", FLAGGED");
    }, accept);
  }
  ok = ok && run.hooks("after", p.hooks.after);

  // A flagged snapshot must not push clean ones out: retention waits until a
  // person has looked (kho snapshot mark-clean) or the next clean backup.
  if (ok && p.retention && !anomaly.empty()) {
    run.log("{}: retention skipped: {}", p.name, anomaly);
    run.m_report.figures["retention_skipped"] = 1;
  }
  if (ok && p.retention && incomplete.empty() && anomaly.empty()) {
    std::vector<std::string> args = {"forget", "--tag", p.name, "--group-by", "host"};
    auto keep = retention_args(*p.retention);
    args.insert(args.end(), keep.begin(), keep.end());
    ok = run.step("forget", run.kho(p.repository, p.password, args), [&](const ChildResult& r) {
      // One entry per group, each with the snapshots it keeps and removes.
      std::size_t removed = 0;
      for (const auto& group : last_json(r.out))
        if (group.is_object() && group.contains("remove")) removed += group["remove"].size();
      run.m_report.figures["snapshots_forgotten"] = removed;
      return fmt::format("{} snapshot(s) forgotten", removed);
    });
  }
  if (ok && incomplete.empty() && (o.prune || prune_due(p, state))) {
    RunOptions inner = o;
    inner.attempt = 1;
    inner.prune = false;
    inner.lock_held = true;
    auto prune = run_prune(p, state, inner);
    if (!prune) return tl::unexpected(prune.error());
    if (o.dry_run) run.m_report.plan.insert(run.m_report.plan.end(), prune->plan.begin(), prune->plan.end());
    else run.m_report.steps.push_back({"prune", prune->success, prune->seconds, prune->success ? "" : prune->error});
    // A failed prune loses nothing: it is reported, and the copies still run.
  }

  for (std::size_t i = 0; ok && i < p.copy_to.size(); ++i) {
    const CopyTarget& dest = p.copy_to[i];
    const PasswordSource& dest_pw = dest.password ? *dest.password : p.password;
    auto c = run.kho(dest.repository, dest_pw, {"copy", "--tag", p.name});
    c.set_env.emplace_back("KHO_FROM_REPOSITORY", p.repository);
    if (!p.password.file.empty()) c.set_env.emplace_back("KHO_FROM_PASSWORD_FILE", p.password.file);
    if (p.password.command) c.argv.insert(c.argv.end(), {"--from-password-command", p.password.command->shell_text()});
    const std::string name = "copy:" + backend::redact_location(dest.repository);
    ok = run.step(name, c, [&](const ChildResult& r) {
      auto j = last_object(r.out);
      if (state && !o.dry_run) {
        CopyRecord rec{dest.repository, now_ns(), run.m_report.snapshot_id};
        if (auto st = state->record_copy(p.name, rec); !st) run.log("{}: {}", p.name, st.error().message());
      }
      return fmt::format("{} snapshot(s) copied, {} bytes added", j.value("copied", 0), j.value("data_added", 0));
    });
  }
  if (ok && !incomplete.empty()) {
    run.m_report.stage = "backup";
    run.m_report.error = incomplete;
  }
  if (!anomaly.empty() && !o.dry_run) {
    run.log("{}: WARNING: {}", p.name, anomaly);
    if (auto st = notify_policy(p, NotifyEvent::anomaly, "kho: " + anomaly); !st)
      run.log("{}: {}", p.name, st.error().message());
  }
  return run.finish();
}

Result<RunReport> run_check(const Policy& p, StateDb* state, const RunOptions& o) {
  Run run(p, state, o, RunKind::check);
  KHO_TRY_STATUS(run.begin());
  std::vector<std::string> args = {"check"};
  if (p.check && !p.check->read_data_subset.empty()) args.insert(args.end(), {"--read-data-subset", p.check->read_data_subset});
  run.step("check", run.kho(p.repository, p.password, args), [&](const ChildResult& r) {
    copy_numbers(last_object(r.out), run.m_report.figures);
    return std::string("no errors");
  });
  return run.finish();
}

Result<RunReport> run_prune(const Policy& p, StateDb* state, const RunOptions& o) {
  Run run(p, state, o, RunKind::prune);
  KHO_TRY_STATUS(run.begin());
  run.step("prune", run.kho(p.repository, p.password, {"prune"}), [&](const ChildResult& r) {
    copy_numbers(last_object(r.out), run.m_report.figures);
    return std::string();
  });
  return run.finish();
}

Result<std::string> rpo_lateness(const Policy& p, StateDb& state, TimeNs now) {
  if (!p.objectives.rpo_s) return std::string();
  KHO_TRY_ASSIGN(auto ok, state.last_success(p.name, RunKind::backup));
  if (!ok) return fmt::format("policy {} has no successful backup (RPO {})", p.name, format_duration(*p.objectives.rpo_s));
  const double age = static_cast<double>(now - ok->finished_at.value_or(ok->started_at)) / 1e9;
  if (age <= *p.objectives.rpo_s) return std::string();
  return fmt::format("policy {}: the newest successful backup is {} old, over its RPO of {}", p.name,
                     format_duration(age), format_duration(*p.objectives.rpo_s));
}

Status notify_policy(const Policy& p, NotifyEvent event, const std::string& summary) {
  if (!p.notify) return {};
  NotifyMessage m;
  m.event = event;
  m.policy = p.name;
  m.host = host_name(p);
  m.time = now_ns();
  m.summary = summary;
  return notify(*p.notify, m);
}

}  // namespace kho::orchestrate
