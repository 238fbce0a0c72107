// kho status: per policy, the last run and its result, the age of the newest
// snapshot against the RPO, the next run, the last check and the age of each
// copy, the readiness of its runbooks (VERIFIED / NEEDS DRILL), from the state
// database (no repository is opened).
#include <filesystem>

#include "kho/backend/backend.hpp"
#include "kho/cli/context.hpp"
#include "kho/cli/orchestrate_args.hpp"
#include "kho/orchestrate/cron.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/recovery.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/orchestrate/tz.hpp"

namespace kho::cli {

namespace {
using orchestrate::Policy;
using orchestrate::RunKind;
using orchestrate::RunRecord;

std::string age_text(std::optional<double> s) { return s ? format_duration(*s) : "-"; }

nlohmann::ordered_json run_json(const std::optional<RunRecord>& r) {
  if (!r) return nullptr;
  nlohmann::ordered_json j;
  j["status"] = std::string(orchestrate::to_string(r->status));
  j["trigger"] = std::string(orchestrate::to_string(r->trigger));
  j["started_at"] = format_rfc3339(r->started_at);
  j["finished_at"] = r->finished_at ? nlohmann::ordered_json(format_rfc3339(*r->finished_at)) : nullptr;
  j["stage"] = r->stage ? nlohmann::ordered_json(*r->stage) : nullptr;
  j["error"] = r->error ? nlohmann::ordered_json(*r->error) : nullptr;
  j["snapshot_id"] = r->snapshot_id ? nlohmann::ordered_json(*r->snapshot_id) : nullptr;
  return j;
}

// The next scheduled backup of the policy, if it has a schedule.
std::optional<TimeNs> next_run(const Policy& p, TimeNs now) {
  if (p.schedule.empty()) return std::nullopt;
  auto cron = orchestrate::CronSchedule::parse(p.schedule);
  auto zone = orchestrate::policy_time_zone(p.timezone);
  if (!cron || !zone) return std::nullopt;
  auto next = cron->next_after(now / 1'000'000'000, *zone);
  if (!next) return std::nullopt;
  return *next * 1'000'000'000;
}

Status run_status(Context& ctx, const OrchestrateArgs& args) {
  auto loaded = orchestrate::load_policy_dir(args.policies_dir());
  for (const auto& i : loaded.issues) ctx.warn("{}", orchestrate::format_issue(i));
  // Runbooks are optional: without a directory there is just no recovery column to fill.
  orchestrate::RunbookLoadResult runbooks;
  std::error_code ec;
  if (std::filesystem::is_directory(args.runbooks_dir(), ec)) {
    runbooks = orchestrate::load_runbook_dir(args.runbooks_dir());
    for (const auto& i : runbooks.issues) ctx.warn("{}", orchestrate::format_issue(i));
  }
  KHO_TRY_ASSIGN(auto state, args.open_state());
  const TimeNs now = now_ns();
  auto out = nlohmann::ordered_json::array();
  Table table({"POLICY", "LAST RUN", "RESULT", "NEWEST", "RPO", "NEXT RUN", "LAST CHECK", "COPIES", "RECOVERY"});
  for (const auto& p : loaded.policies) {
    KHO_TRY_ASSIGN(auto last, state.last_run(p.name, RunKind::backup));
    KHO_TRY_ASSIGN(auto last_ok, state.last_success(p.name, RunKind::backup));
    KHO_TRY_ASSIGN(auto check, state.last_run(p.name, RunKind::check));
    KHO_TRY_ASSIGN(auto copies, state.copies(p.name));
    std::optional<double> age;
    if (last_ok) age = static_cast<double>(now - last_ok->finished_at.value_or(last_ok->started_at)) / 1e9;
    std::string rpo = "-";
    if (p.objectives.rpo_s) rpo = !age ? "LATE" : *age <= *p.objectives.rpo_s ? "OK" : "LATE";
    auto next = next_run(p, now);

    nlohmann::ordered_json j;
    j["policy"] = p.name;
    j["last_run"] = run_json(last);
    j["newest_snapshot"] = last_ok && last_ok->snapshot_id ? nlohmann::ordered_json(*last_ok->snapshot_id) : nullptr;
    j["newest_snapshot_age_s"] = age ? nlohmann::ordered_json(*age) : nullptr;
    j["rpo_s"] = p.objectives.rpo_s ? nlohmann::ordered_json(*p.objectives.rpo_s) : nullptr;
    j["rpo_status"] = p.objectives.rpo_s ? nlohmann::ordered_json(rpo) : nullptr;
    j["next_run"] = next ? nlohmann::ordered_json(format_rfc3339(*next)) : nullptr;
    j["last_check"] = run_json(check);
    std::string copies_text;
    auto cj = nlohmann::ordered_json::array();
    for (const auto& dest : p.copy_to) {
      std::optional<double> copy_age;
      for (const auto& c : copies)
        if (c.destination == dest.repository) copy_age = static_cast<double>(now - c.last_success_at) / 1e9;
      cj.push_back({{"destination", backend::redact_location(dest.repository)},
                    {"age_s", copy_age ? nlohmann::ordered_json(*copy_age) : nullptr}});
      copies_text += (copies_text.empty() ? "" : " ") + age_text(copy_age);
    }
    j["copies"] = cj;
    auto rj = nlohmann::ordered_json::array();
    std::string recovery;
    for (const auto& rb : runbooks.runbooks) {
      if (rb.policy != p.name) continue;
      KHO_TRY_ASSIGN(auto drill, orchestrate::drill_status(state, rb, now));
      rj.push_back(
          {{"runbook", rb.name}, {"readiness", drill.verified ? "VERIFIED" : "NEEDS DRILL"}, {"detail", drill.text}});
      recovery += (recovery.empty() ? "" : " ") + rb.name + ":" + (drill.verified ? "VERIFIED" : "NEEDS-DRILL");
    }
    j["runbooks"] = rj;
    out.push_back(j);
    table.add({p.name, last ? format_local(last->started_at) : "never",
               last ? std::string(orchestrate::to_string(last->status)) +
                          (last->stage ? " at " + *last->stage : std::string())
                    : "-",
               age_text(age), rpo, next ? format_local(*next) : "(by hand)",
               check ? std::string(orchestrate::to_string(check->status)) + " " + format_local(check->started_at) : "-",
               copies_text.empty() ? "-" : copies_text, recovery.empty() ? "(no runbook)" : recovery});
  }
  if (ctx.global.json) ctx.print_json(out);
  else fmt::print("{}", table.render());
  return {};
}
}  // namespace

void register_status(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<OrchestrateArgs>();
  auto* cmd = app.add_subcommand(
      "status", "Per policy: last run and result, newest snapshot's age against the RPO, next run, last check, copies");
  args->add_to(cmd);
  args->add_runbooks_to(cmd);
  cmd->footer(
      "RPO is OK while the newest successful backup is younger than the policy's objectives.rpo, else LATE.\n"
      "RECOVERY: each runbook of the policy, VERIFIED when its last drill passed within 30 days, else NEEDS DRILL.\n"
      "Ages are from the state database: no repository is opened.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_status(ctx, *args); }; });
}

}  // namespace kho::cli
