#include "kho/orchestrate/report.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "kho/backend/backend.hpp"
#include "kho/orchestrate/recovery.hpp"
#include "kho/util/atomic_file.hpp"
#include "kho/util/fd.hpp"

namespace kho::orchestrate {

namespace {

constexpr double k_ns = 1e9;

double seconds_between(TimeNs from, TimeNs to) { return static_cast<double>(to - from) / k_ns; }

std::optional<double> number(const nlohmann::json& figures, const char* key) {
  if (!figures.is_object() || !figures.contains(key)) return std::nullopt;
  const auto& v = figures[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

std::optional<std::uint64_t> count(const nlohmann::json& figures, const char* key) {
  auto v = number(figures, key);
  if (!v || *v < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}

std::string run_result(const RunRecord& r) {
  switch (r.status) {
    case RunStatus::success:
      return "passed";
    case RunStatus::failed:
      return "failed";
    case RunStatus::interrupted:
      return "interrupted";
    case RunStatus::running:
      return "running";
  }
  return "failed";
}

TimeNs finished(const RunRecord& r) { return r.finished_at.value_or(r.started_at); }

// `kho -r REPO [--password-file F] ARGS`: a repository command as the operator types it.
std::string repo_command(const Policy& p, const std::string& args) {
  std::string cmd = "kho -r " + backend::redact_location(p.repository);
  if (!p.password.file.empty()) cmd += " --password-file " + p.password.file;
  return cmd + " " + args;
}

class Judge {
 public:
  explicit Judge(PolicyReadiness& out) : m_out(out) {}

  void reason(const char* code, Verdict severity, ReportParams params = {}) {
    m_out.reasons.push_back({code, severity, m_out.name, std::move(params)});
    m_out.verdict = std::max(m_out.verdict, severity);
  }
  void action(const char* code, std::string command, ReportParams params = {}) {
    for (const auto& a : m_out.actions)
      if (a.code == code && a.command == command && a.params == params) return;
    m_out.actions.push_back({code, m_out.name, std::move(command), std::move(params)});
  }

 private:
  PolicyReadiness& m_out;
};

Result<PolicyReadiness> judge_policy(const Policy& p, const std::vector<const Runbook*>& runbooks, StateDb& state,
                                     const ReportOptions& o, TimeNs now) {
  PolicyReadiness out;
  out.name = p.name;
  out.description = p.description;
  Judge judge(out);
  const std::string policy_run = "kho policy run " + p.name;

  // --- backups: newest snapshot, RPO, anomaly, history ---
  RunFilter bf;
  bf.policy = p.name;
  bf.kind = RunKind::backup;
  bf.limit = 0;
  KHO_TRY_ASSIGN(auto backups, state.runs(bf));  // newest first
  std::optional<RunRecord> newest;
  for (const auto& r : backups)
    if (r.status == RunStatus::success) {
      newest = r;
      break;
    }
  out.snapshot.rpo_s = p.objectives.rpo_s;
  if (newest) {
    out.snapshot.id = newest->snapshot_id;
    out.snapshot.at = finished(*newest);
    out.snapshot.age_s = std::max(0.0, seconds_between(*out.snapshot.at, now));
  }
  if (p.objectives.rpo_s) {
    out.snapshot.rpo_status = !newest ? "NONE" : *out.snapshot.age_s <= *p.objectives.rpo_s ? "OK" : "LATE";
  }

  out.anomaly.enabled = p.anomaly.enabled;
  out.anomaly.threshold = p.anomaly.threshold.value_or(0.6);
  if (newest) {
    out.anomaly.snapshot_id = newest->snapshot_id;
    out.anomaly.score = number(newest->figures, "anomaly_score");
    if (auto t = number(newest->figures, "anomaly_threshold")) out.anomaly.threshold = *t;
    out.anomaly.flagged = number(newest->figures, "anomaly_flagged").value_or(0) != 0;
  }

  std::uint64_t cumulative = 0;
  for (auto it = backups.rbegin(); it != backups.rend(); ++it) {
    if (it->status != RunStatus::success) continue;
    BackupPoint b;
    b.at = finished(*it);
    b.data_added = count(it->figures, "data_added");
    b.total_bytes = count(it->figures, "total_bytes");
    cumulative += b.data_added.value_or(0);
    b.repository_bytes = cumulative;
    b.anomaly_score = number(it->figures, "anomaly_score");
    b.anomaly_flagged = number(it->figures, "anomaly_flagged").value_or(0) != 0;
    if (seconds_between(b.at, now) <= o.history_s) out.backups.push_back(b);
  }

  if (!newest) {
    judge.reason("no_backup", Verdict::not_ready);
    judge.action("run_backup", policy_run);
  } else {
    const std::string short_id = newest->snapshot_id ? newest->snapshot_id->substr(0, 8) : "?";
    if (out.anomaly.flagged) {
      judge.reason("snapshot_flagged", Verdict::not_ready,
                   {{"snapshot", short_id}, {"score", fmt::format("{:.2f}", out.anomaly.score.value_or(0))}});
      judge.action("investigate_flagged", repo_command(p, "snapshots --tag " + p.name), {{"snapshot", short_id}});
    }
    if (p.objectives.rpo_s && *out.snapshot.age_s > *p.objectives.rpo_s) {
      ReportParams params = {{"age", format_duration(*out.snapshot.age_s)},
                             {"rpo", format_duration(*p.objectives.rpo_s)},
                             {"factor", fmt::format("{:g}", o.rpo_not_ready_factor)}};
      if (*out.snapshot.age_s > o.rpo_not_ready_factor * *p.objectives.rpo_s)
        judge.reason("rpo_missed", Verdict::not_ready, params);
      else
        judge.reason("rpo_late", Verdict::at_risk, params);
      judge.action("run_backup", policy_run);
      if (!p.schedule.empty()) judge.action("check_scheduler", "kho status");
    }
  }

  // --- integrity check ---
  KHO_TRY_ASSIGN(auto last_check, state.last_run(p.name, RunKind::check));
  KHO_TRY_ASSIGN(auto check_ok, state.last_success(p.name, RunKind::check));
  if (last_check) out.check.status = std::string(to_string(last_check->status));
  if (check_ok) {
    out.check.at = check_ok->started_at;
    out.check.age_s = std::max(0.0, seconds_between(check_ok->started_at, now));
    out.check.bytes_read = count(check_ok->figures, "bytes_read");
    out.check.packs_read = count(check_ok->figures, "packs_read");
  }
  if (!check_ok || *out.check.age_s > o.check_max_age_s) {
    judge.reason(
        check_ok ? "check_old" : "no_check", Verdict::at_risk,
        {{"age", check_ok ? format_duration(*out.check.age_s) : "-"}, {"limit", format_duration(o.check_max_age_s)}});
    judge.action("run_check", "kho policy check " + p.name);
    if (!p.check) judge.action("schedule_check", "");
  }

  // --- drills ---
  if (runbooks.empty()) {
    judge.reason("no_runbook", Verdict::at_risk);
    judge.action("write_runbook", "");
  }
  for (const Runbook* rb : runbooks) {
    KHO_TRY_ASSIGN(auto ds, drill_status(state, *rb, now, o.drill_max_age_s));
    DrillState d;
    d.runbook = rb->name;
    d.verified = ds.verified;
    d.result = "never";
    d.rto_target_s = rb->rto_s ? rb->rto_s : p.objectives.rto_s;
    if (ds.last_drill) {
      const RunRecord& r = *ds.last_drill;
      d.last_at = r.started_at;
      d.result = run_result(r);
      d.rto_s = number(r.figures, "rto_s");
      if (auto t = number(r.figures, "rto_target_s")) d.rto_target_s = t;
      if (r.figures.contains("rto_met") && r.figures["rto_met"].is_boolean())
        d.rto_met = r.figures["rto_met"].get<bool>();
      else if (d.rto_s && d.rto_target_s)
        d.rto_met = *d.rto_s <= *d.rto_target_s;
    }
    const std::string drill_cmd = "kho drill " + rb->name;
    if (!d.verified) {
      const char* code = !ds.last_drill                                ? "drill_never"
                         : ds.last_drill->status != RunStatus::success ? "drill_failed"
                                                                       : "drill_old";
      judge.reason(code, Verdict::at_risk,
                   {{"runbook", rb->name},
                    {"age", d.last_at ? format_duration(seconds_between(*d.last_at, now)) : "-"},
                    {"limit", format_duration(o.drill_max_age_s)}});
      judge.action("run_drill", drill_cmd, {{"runbook", rb->name}});
    } else if (d.rto_met && !*d.rto_met) {
      judge.reason("rto_missed", Verdict::at_risk,
                   {{"runbook", rb->name},
                    {"rto", format_duration(d.rto_s.value_or(0))},
                    {"target", format_duration(d.rto_target_s.value_or(0))}});
      judge.action("speed_up_recovery", "", {{"runbook", rb->name}});
      judge.action("run_drill", drill_cmd, {{"runbook", rb->name}});
    }
    out.drills.push_back(std::move(d));

    RunFilter df;
    df.policy = p.name;
    df.kind = RunKind::drill;
    df.since = now - static_cast<TimeNs>(o.history_s * k_ns);
    df.limit = 0;
    KHO_TRY_ASSIGN(auto drills, state.runs(df));
    for (auto it = drills.rbegin(); it != drills.rend(); ++it) {
      if (it->status == RunStatus::running || it->figures.value("runbook", "") != rb->name) continue;
      out.drill_history.push_back({it->started_at, rb->name, run_result(*it), number(it->figures, "rto_s"),
                                   number(it->figures, "rto_target_s")});
    }
  }
  std::stable_sort(out.drill_history.begin(), out.drill_history.end(),
                   [](const DrillPoint& a, const DrillPoint& b) { return a.at < b.at; });

  // --- copies ---
  KHO_TRY_ASSIGN(auto copies, state.copies(p.name));
  bool separated = false, append_only = false;
  for (const auto& target : p.copy_to) {
    CopyState c;
    c.destination = backend::redact_location(target.repository);
    c.kind = target.kind;
    c.append_only = target.append_only;
    for (const auto& rec : copies)
      if (rec.destination == target.repository) {
        c.at = rec.last_success_at;
        c.age_s = std::max(0.0, seconds_between(rec.last_success_at, now));
      }
    separated = separated || target.kind == "offline" || target.kind == "offsite";
    append_only = append_only || target.append_only;
    if (!c.age_s || *c.age_s > o.copy_max_age_s) {
      judge.reason(c.age_s ? "copy_old" : "copy_never", Verdict::at_risk,
                   {{"destination", c.destination},
                    {"age", c.age_s ? format_duration(*c.age_s) : "-"},
                    {"limit", format_duration(o.copy_max_age_s)}});
      judge.action(target.kind == "offline" ? "connect_offline_copy" : "run_backup", policy_run,
                   {{"destination", c.destination}});
    }
    out.copies.push_back(std::move(c));
  }
  if (!separated) {
    judge.reason("no_separate_copy", Verdict::at_risk);
    judge.action("add_offline_copy", "");
  }
  if (!append_only) {
    judge.reason("no_append_only", Verdict::at_risk);
    judge.action("add_append_only_copy", "");
  }

  // --- failures ---
  RunFilter ff;
  ff.policy = p.name;
  ff.since = now - static_cast<TimeNs>(o.failure_window_s * k_ns);
  ff.limit = 0;
  KHO_TRY_ASSIGN(auto recent, state.runs(ff));
  for (const auto& r : recent)
    if (r.status == RunStatus::failed)
      out.failures.push_back(
          {std::string(to_string(r.kind)), r.started_at, r.stage.value_or(""), r.error.value_or("")});
  if (!out.failures.empty()) {
    judge.reason("failures", Verdict::at_risk,
                 {{"count", std::to_string(out.failures.size())}, {"window", format_duration(o.failure_window_s)}});
    judge.action("review_failures", "kho status");
  }

  std::stable_sort(out.reasons.begin(), out.reasons.end(),
                   [](const Reason& a, const Reason& b) { return a.severity > b.severity; });
  return out;
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::ready:
      return "ready";
    case Verdict::at_risk:
      return "at_risk";
    case Verdict::not_ready:
      return "not_ready";
  }
  return "not_ready";
}

Result<Verdict> parse_verdict(std::string_view text) {
  if (text == "ready") return Verdict::ready;
  if (text == "at_risk" || text == "at-risk") return Verdict::at_risk;
  if (text == "not_ready" || text == "not-ready") return Verdict::not_ready;
  return failf(Errc::invalid_argument, "'{}' is not a verdict (ready, at-risk, not-ready)", text);
}

Result<ReportFormat> parse_report_format(std::string_view text) {
  if (text == "text") return ReportFormat::text;
  if (text == "md" || text == "markdown") return ReportFormat::md;
  if (text == "json") return ReportFormat::json;
  if (text == "html") return ReportFormat::html;
  return failf(Errc::invalid_argument, "'{}' is not a report format (text, md, json, html)", text);
}

Result<ReportLang> parse_report_lang(std::string_view text) {
  if (text == "en") return ReportLang::en;
  if (text == "vi") return ReportLang::vi;
  return failf(Errc::invalid_argument, "'{}' is not a report language (en, vi)", text);
}

Result<ReadinessReport> build_report(const std::vector<Policy>& policies, const std::vector<Runbook>& runbooks,
                                     StateDb& state, const ReportOptions& options) {
  ReadinessReport report;
  const TimeNs now = options.now ? options.now : now_ns();
  report.generated_at = now;
  for (const auto& p : policies) {
    std::vector<const Runbook*> own;
    for (const auto& rb : runbooks)
      if (rb.policy == p.name) own.push_back(&rb);
    KHO_TRY_ASSIGN(auto pr, judge_policy(p, own, state, options, now));
    report.verdict = std::max(report.verdict, pr.verdict);
    report.reasons.insert(report.reasons.end(), pr.reasons.begin(), pr.reasons.end());
    report.policies.push_back(std::move(pr));
  }
  std::stable_sort(report.reasons.begin(), report.reasons.end(),
                   [](const Reason& a, const Reason& b) { return a.severity > b.severity; });
  // Actions in the order of the reasons they answer: a NOT READY policy's first.
  std::vector<const PolicyReadiness*> order;
  for (const auto& p : report.policies) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(),
                   [](const PolicyReadiness* a, const PolicyReadiness* b) { return a->verdict > b->verdict; });
  for (const auto* p : order)
    for (const auto& a : p->actions) {
      bool seen = false;
      for (const auto& b : report.actions)
        seen = seen || (!a.command.empty() && a.command == b.command) ||
               (a.command.empty() && a.code == b.code && a.policy == b.policy && a.params == b.params);
      if (!seen) report.actions.push_back(a);
    }
  return report;
}

Status write_report_file(const std::filesystem::path& path, std::string_view text) {
  return replace_file(path, text, 0644, "report");
}

}  // namespace kho::orchestrate
