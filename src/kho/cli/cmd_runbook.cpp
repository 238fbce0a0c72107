// kho runbook list | validate [FILE...] | plan NAME | run NAME, and kho drill NAME... | --all
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <vector>

#include "kho/cli/context.hpp"
#include "kho/cli/orchestrate_args.hpp"
#include "kho/engine/progress.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/recovery.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"

namespace kho::cli {

namespace {
namespace fs = std::filesystem;
using orchestrate::PolicyIssue;
using orchestrate::RecoveryMode;
using orchestrate::Runbook;
using orchestrate::RunbookLoadResult;

struct RunbookArgs : OrchestrateArgs {
  std::vector<std::string> files;  // validate FILE...
  std::vector<std::string> names;  // drill NAME...
  std::string name;                // plan/run NAME
  std::string snapshot;            // --snapshot
  bool yes = false;
  bool resume = false;
  bool all = false;
  bool keep_sandbox = false;
  std::string sandbox_dir;

  void add_runbook_options(CLI::App* cmd) {
    add_to(cmd);
    add_runbooks_to(cmd);
  }
};

// The runbooks (from the directory, or the given files) checked against the
// policies they name.
struct Loaded {
  RunbookLoadResult runbooks;
  orchestrate::LoadResult policies;
};

Loaded load(const RunbookArgs& args, const std::vector<std::string>& files = {}) {
  Loaded l;
  l.runbooks = files.empty() ? orchestrate::load_runbook_dir(args.runbooks_dir())
                             : orchestrate::load_runbook_files({files.begin(), files.end()});
  l.policies = orchestrate::load_policy_dir(args.policies_dir());
  orchestrate::check_runbook_policies(l.runbooks, l.policies.policies);
  return l;
}

const orchestrate::Policy* policy_of(const Loaded& l, const Runbook& rb) {
  for (const auto& p : l.policies.policies)
    if (p.name == rb.policy) return &p;
  return nullptr;
}

Result<Runbook> find_runbook(const Context& ctx, const Loaded& l, const RunbookArgs& args, const std::string& name) {
  for (const auto& rb : l.runbooks.runbooks)
    if (rb.name == name) return rb;
  std::vector<PolicyIssue> own;
  for (const auto& i : l.runbooks.issues)
    if (fs::path(i.file).stem() == name) own.push_back(i);
  if (!own.empty()) {
    print_issues(ctx, own);
    return tl::unexpected(issues_error(own, "runbook").error());
  }
  return failf(Errc::not_found, "no runbook named '{}' in {} (see 'kho runbook list')", name, args.runbooks_dir());
}

Status run_validate(Context& ctx, const RunbookArgs& args) {
  Loaded l = load(args, args.files);
  std::vector<PolicyIssue> issues = l.runbooks.issues;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["valid"] = issues.empty();
    j["runbooks"] = nlohmann::ordered_json::array();
    for (const auto& rb : l.runbooks.runbooks)
      j["runbooks"].push_back({{"name", rb.name}, {"policy", rb.policy}, {"file", rb.file}});
    j["issues"] = nlohmann::ordered_json::array();
    for (const auto& i : issues) j["issues"].push_back(issue_json(i));
    ctx.print_json(j);
  }
  print_issues(ctx, issues);
  if (!issues.empty()) return issues_error(issues, "runbook");
  if (!ctx.global.json) {
    for (const auto& rb : l.runbooks.runbooks) ctx.print("ok  {}  (policy {}, {})\n", rb.name, rb.policy, rb.file);
    ctx.print("{} runbook{} valid\n", l.runbooks.runbooks.size(), l.runbooks.runbooks.size() == 1 ? "" : "s");
  }
  return {};
}

Status run_list(Context& ctx, const RunbookArgs& args) {
  Loaded l = load(args);
  std::optional<orchestrate::StateDb> state;
  if (auto db = args.open_state()) state.emplace(std::move(*db));
  const TimeNs now = now_ns();
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  Table t({"NAME", "POLICY", "SNAPSHOT", "STEPS", "RTO", "READINESS"});
  for (const auto& rb : l.runbooks.runbooks) {
    const orchestrate::Policy* p = policy_of(l, rb);
    std::optional<double> rto = rb.rto_s;
    if (!rto && p) rto = p->objectives.rto_s;
    std::string readiness = "NEEDS DRILL (no state)";
    nlohmann::ordered_json j = orchestrate::to_json(rb);
    if (state) {
      if (auto s = orchestrate::drill_status(*state, rb, now)) {
        readiness = s->text;
        j["verified"] = s->verified;
        j["readiness"] = s->verified ? "VERIFIED" : "NEEDS DRILL";
        j["readiness_text"] = s->text;
        if (s->last_drill) {
          j["last_drill"] = {{"run_id", s->last_drill->id},
                             {"started_at", format_rfc3339(s->last_drill->started_at)},
                             {"status", orchestrate::to_string(s->last_drill->status)},
                             {"figures", s->last_drill->figures}};
        }
      }
    }
    out.push_back(std::move(j));
    t.add({rb.name, rb.policy, rb.snapshot, std::to_string(rb.steps.size()), rto ? format_duration(*rto) : "-",
           readiness});
  }
  if (ctx.global.json)
    ctx.print_json(out);
  else
    fmt::print("{}", t.render());
  if (!l.runbooks.ok()) {
    print_issues(ctx, l.runbooks.issues);
    return issues_error(l.runbooks.issues, "runbook");
  }
  return {};
}

orchestrate::RecoveryOptions recovery_options(const Context& ctx, const RunbookArgs& args, RecoveryMode mode) {
  orchestrate::RecoveryOptions o;
  o.mode = mode;
  o.snapshot = args.snapshot;
  o.resume = args.resume;
  o.keep_sandbox = args.keep_sandbox;
  o.sandbox_parent = args.sandbox_dir;
  o.interrupt = &engine::cancel_flag();
  if (!ctx.global.quiet && !ctx.global.json) o.log = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  return o;
}

Status run_plan(Context& ctx, const RunbookArgs& args) {
  Loaded l = load(args);
  KHO_TRY_ASSIGN(Runbook rb, find_runbook(ctx, l, args, args.name));
  const orchestrate::Policy* p = policy_of(l, rb);
  if (!p) return failf(Errc::not_found, "runbook {}: policy {} is not loaded", rb.name, rb.policy);
  std::optional<orchestrate::StateDb> state;
  if (auto db = args.open_state()) state.emplace(std::move(*db));
  auto o = recovery_options(ctx, args, RecoveryMode::real);
  KHO_TRY_ASSIGN(auto plan, orchestrate::plan_recovery(rb, *p, state ? &*state : nullptr, o));
  if (ctx.global.json)
    ctx.print_json(orchestrate::to_json(plan));
  else
    fmt::print("{}", orchestrate::render_plan(plan));
  return {};
}

// Asks on the terminal; false when the answer is not yes or there is no terminal.
bool confirm(const std::string& question) {
  if (!::isatty(STDIN_FILENO)) return false;
  fmt::print(stderr, "{} [type yes to go on]: ", question);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes" || answer == "y" || answer == "YES";
}

void print_report(const orchestrate::RecoveryReport& r) {
  const bool drill = r.plan.mode == RecoveryMode::drill;
  fmt::print("\n{} of runbook {}: {}\n", drill ? "Drill" : "Recovery", r.plan.runbook.name,
             r.success            ? (drill ? "PASSED" : "RECOVERED AND VERIFIED")
             : r.interrupted      ? "INTERRUPTED"
             : r.failed_step >= 0 ? "FAILED"
                                  : "VERIFICATION FAILED");
  Table t({"#", "STEP", "RESULT", "TRIES", "TIME"});
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    std::string result(orchestrate::to_string(s.outcome));
    if (s.outcome == orchestrate::StepOutcome::failed && !s.critical) result += " (not critical)";
    t.add({std::to_string(i + 1), s.name, result, std::to_string(s.attempts), format_duration(s.seconds)});
  }
  fmt::print("{}", t.render());
  for (const auto& v : r.verify) fmt::print("verify {} {}: {}\n", v.ok ? "PASSED" : "FAILED", v.name, v.detail);
  if (r.rto_measured_s)
    fmt::print("RTO: {}{}\n", format_duration(*r.rto_measured_s),
               r.plan.rto_s ? fmt::format(" (target {}: {})", format_duration(*r.plan.rto_s),
                                          *r.rto_measured_s <= *r.plan.rto_s ? "met" : "MISSED")
                            : "");
  if (r.sandbox_kept) fmt::print("Sandbox kept: {}\n", r.sandbox);
  if (!r.incident_markdown.empty()) fmt::print("Incident record: {} (and {})\n", r.incident_markdown, r.incident_json);
}

Status run_run(Context& ctx, const RunbookArgs& args) {
  Loaded l = load(args);
  KHO_TRY_ASSIGN(Runbook rb, find_runbook(ctx, l, args, args.name));
  const orchestrate::Policy* p = policy_of(l, rb);
  if (!p) return failf(Errc::not_found, "runbook {}: policy {} is not loaded", rb.name, rb.policy);
  if (args.resume && !args.snapshot.empty())
    return fail(Errc::invalid_argument, "--resume continues with the snapshot of the failed run; leave out --snapshot");
  KHO_TRY_ASSIGN(auto state, args.open_state());
  auto o = recovery_options(ctx, args, RecoveryMode::real);
  KHO_TRY_ASSIGN(auto plan, orchestrate::plan_recovery(rb, *p, &state, o));
  if (!ctx.global.json) fmt::print("{}", orchestrate::render_plan(plan));
  std::fflush(stdout);  // the plan before the steps' progress on stderr
  if (!args.yes) {
    if (!::isatty(STDIN_FILENO))
      return fail(Errc::invalid_argument,
                  "this changes the live system: confirm on a terminal, or pass --yes to run without asking");
    if (!confirm(fmt::format("Run runbook {} for real on this machine?", rb.name)))
      return fail(Errc::failed, "not confirmed; nothing was done");
  }
  KHO_TRY_ASSIGN(auto report, orchestrate::run_recovery(std::move(plan), &state, o));
  if (ctx.global.json)
    ctx.print_json(orchestrate::to_json(report));
  else
    print_report(report);
  if (report.success) return {};
  if (report.interrupted) return fail(Errc::interrupted, "runbook " + rb.name + ": interrupted");
  if (report.failed_step >= 0) {
    const auto& s = report.steps[static_cast<std::size_t>(report.failed_step)];
    if (!ctx.global.json && !s.output_tail.empty())
      fmt::print(stderr, "--- last output of step {} ---\n{}", report.failed_step + 1, s.output_tail);
    return failf(Errc::failed,
                 "runbook {}: {}\nFix the cause, then continue from this step with the same snapshot:\n"
                 "  kho runbook run {} --resume{}",
                 rb.name, report.error, rb.name, args.yes ? " --yes" : "");
  }
  return failf(Errc::verification_failed, "runbook {}: {}", rb.name, report.error);
}

Status run_drill(Context& ctx, const RunbookArgs& args) {
  Loaded l = load(args);
  std::vector<Runbook> chosen;
  if (args.all) {
    if (!args.names.empty()) return fail(Errc::invalid_argument, "give runbook names or --all, not both");
    chosen = l.runbooks.runbooks;
    if (!l.runbooks.ok()) print_issues(ctx, l.runbooks.issues);
    if (chosen.empty()) return failf(Errc::not_found, "no valid runbook in {}", args.runbooks_dir());
  } else {
    if (args.names.empty()) return fail(Errc::invalid_argument, "name the runbooks to drill, or give --all");
    for (const auto& n : args.names) {
      KHO_TRY_ASSIGN(auto rb, find_runbook(ctx, l, args, n));
      chosen.push_back(std::move(rb));
    }
  }
  KHO_TRY_ASSIGN(auto state, args.open_state());
  auto o = recovery_options(ctx, args, RecoveryMode::drill);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  int failed = 0, verify_failed = 0;
  for (const auto& rb : chosen) {
    if (engine::cancel_flag().load()) break;
    const orchestrate::Policy* p = policy_of(l, rb);
    auto plan = p ? orchestrate::plan_recovery(rb, *p, &state, o)
                  : Result<orchestrate::RecoveryPlan>(failf(Errc::not_found, "policy {} is not loaded", rb.policy));
    if (!plan) {
      ++failed;
      fmt::print(stderr, "kho: drill {}: {}\n", rb.name, plan.error().message());
      out.push_back(
          {{"runbook", rb.name}, {"result", "failed"}, {"success", false}, {"error", plan.error().message()}});
      continue;
    }
    if (!ctx.global.json && !ctx.global.quiet) fmt::print("{}", orchestrate::render_plan(*plan));
    std::fflush(stdout);
    auto report = orchestrate::run_recovery(std::move(*plan), &state, o);
    if (!report) {
      ++failed;
      fmt::print(stderr, "kho: drill {}: {}\n", rb.name, report.error().message());
      continue;
    }
    if (ctx.global.json)
      out.push_back(orchestrate::to_json(*report));
    else
      print_report(*report);
    if (report->success) continue;
    if (report->failed_step < 0 && !report->interrupted)
      ++verify_failed;
    else
      ++failed;
    if (!ctx.global.json) fmt::print(stderr, "kho: drill {}: {}\n", rb.name, report->error);
  }
  if (ctx.global.json) ctx.print_json(out);
  if (engine::cancel_flag().load()) return fail(Errc::interrupted, "drill interrupted");
  if (failed > 0) return failf(Errc::failed, "{} of {} drill(s) failed", failed + verify_failed, chosen.size());
  if (verify_failed > 0)
    return failf(Errc::verification_failed, "{} of {} drill(s) failed verification", verify_failed, chosen.size());
  return {};
}
}  // namespace

void register_runbook(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RunbookArgs>();
  auto* cmd =
      app.add_subcommand("runbook", "List, validate, plan and run the restore runbooks (restore-scripts/*.yaml)");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  args->add_runbook_options(cmd);
  cmd->footer("Runbook files are described field by field in docs/RUNBOOKS.md.");

  auto* list =
      cmd->add_subcommand("list", "List the runbooks with their policy, RTO and readiness (VERIFIED / NEEDS DRILL)");
  list->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_list(ctx, *args); }; });

  auto* validate = cmd->add_subcommand(
      "validate", "Check runbook files; every problem is printed as FILE:LINE:COLUMN: FIELD: MESSAGE (exit 2)");
  validate->add_option("file", args->files, "Runbook files to check (default: every *.yaml in the runbooks directory)");
  validate->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_validate(ctx, *args); }; });

  auto* plan = cmd->add_subcommand(
      "plan", "Show what a run would do: the snapshot chosen and why, each step resolved, bytes to restore, estimate");
  plan->add_option("name", args->name, "The runbook's name")->required();
  plan->add_option("--snapshot", args->snapshot,
                   "Snapshot instead of the runbook's: latest, latest-clean, an ID, before:TIME");
  plan->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_plan(ctx, *args); }; });

  auto* run = cmd->add_subcommand("run", "Recover for real: show the plan, confirm, run each step, verify, record");
  run->add_option("name", args->name, "The runbook's name")->required();
  run->add_option("--snapshot", args->snapshot,
                  "Snapshot instead of the runbook's: latest, latest-clean, an ID, before:TIME");
  run->add_flag("-y,--yes", args->yes, "Do not ask for confirmation");
  run->add_flag("--resume", args->resume,
                "Continue the last failed run of this runbook from the step that failed, with the same snapshot");
  run->footer(
      "Exit 0 when every critical step ran and every verification passed; 1 when a step failed (the output tells how "
      "to --resume); 4 when verification failed; 130 when interrupted. An incident record (Markdown and JSON) is "
      "written to <state dir>/incidents.");
  run->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_run(ctx, *args); }; });
}

void register_drill(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RunbookArgs>();
  auto* cmd = app.add_subcommand(
      "drill", "Rehearse runbooks in a sandbox with their drill overrides: restore, run, verify, measure RTO, record");
  args->add_runbook_options(cmd);
  cmd->add_option("name", args->names, "Runbooks to drill");
  cmd->add_flag("--all", args->all, "Drill every runbook");
  cmd->add_flag("--keep-sandbox", args->keep_sandbox, "Leave the sandbox folder for inspection");
  cmd->add_option("--sandbox-dir", args->sandbox_dir,
                  "Where the sandbox folder is made (default: $TMPDIR, else /var/tmp)");
  cmd->add_option("--snapshot", args->snapshot,
                  "Snapshot instead of the runbook's: latest, latest-clean, an ID, before:TIME");
  cmd->footer(
      "Restore targets and files_match_snapshot paths are placed under the sandbox ({{root}}); steps with drill: skip "
      "are left out, drill: {run: ...} replaces a command, background processes are stopped at the end. Exit 0 when "
      "every drill passed, 4 when a verification failed, 1 when a step failed. A runbook is VERIFIED when its last "
      "drill passed within 30 days.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_drill(ctx, *args); }; });
}

}  // namespace kho::cli
