// kho policy list | validate [FILE...] | show NAME | run NAME | check NAME
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "kho/cli/context.hpp"
#include "kho/cli/orchestrate_args.hpp"
#include "kho/engine/progress.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/runner.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/util/json.hpp"

namespace kho::cli {

namespace {
namespace fs = std::filesystem;
using orchestrate::LoadResult;
using orchestrate::Policy;
using orchestrate::PolicyIssue;

struct PolicyArgs : OrchestrateArgs {
  std::vector<std::string> files;  // validate FILE...
  std::string name;              // show NAME, run NAME
  bool dry_run = false;
};

Status run_validate(Context& ctx, const PolicyArgs& args) {
  LoadResult r = args.files.empty()
                     ? orchestrate::load_policy_dir(args.policies_dir())
                     : orchestrate::load_policy_files({args.files.begin(), args.files.end()});
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["valid"] = r.ok();
    j["policies"] = nlohmann::ordered_json::array();
    for (const auto& p : r.policies) j["policies"].push_back({{"name", p.name}, {"file", p.file}});
    j["issues"] = nlohmann::ordered_json::array();
    for (const auto& i : r.issues) j["issues"].push_back(issue_json(i));
    ctx.print_json(j);
  }
  print_issues(ctx, r.issues);
  if (!r.ok()) return issues_error(r.issues, "policy");
  if (!ctx.global.json) {
    for (const auto& p : r.policies) ctx.print("ok  {}  ({})\n", p.name, p.file);
    ctx.print("{} polic{} valid\n", r.policies.size(), r.policies.size() == 1 ? "y" : "ies");
  }
  return {};
}

std::string describe_sources(const Policy& p) {
  std::string out;
  for (const auto& s : p.sources) {
    if (!out.empty()) out += ", ";
    out += s.is_command() ? s.filename + " (command)" : s.path;
  }
  return out;
}

Status run_list(Context& ctx, const PolicyArgs& args) {
  LoadResult r = orchestrate::load_policy_dir(args.policies_dir());
  if (ctx.global.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& p : r.policies) j.push_back(orchestrate::to_json(p));
    ctx.print_json(j);
  } else {
    Table t({"NAME", "SCHEDULE", "TIMEZONE", "REPOSITORY", "SOURCES"});
    for (const auto& p : r.policies)
      t.add({p.name, p.schedule.empty() ? "(by hand)" : p.schedule, p.timezone.empty() ? "(system)" : p.timezone,
             p.repository, describe_sources(p)});
    fmt::print("{}", t.render());
  }
  if (!r.ok()) {
    print_issues(ctx, r.issues);
    return issues_error(r.issues, "policy");
  }
  return {};
}

// The policy NAME from the policies directory; a policy with problems is
// refused with them.
Result<Policy> find_policy(const Context& ctx, const PolicyArgs& args) {
  const std::string dir = args.policies_dir();
  LoadResult r = orchestrate::load_policy_dir(dir);
  for (auto& p : r.policies)
    if (p.name == args.name) return std::move(p);
  // A policy with problems is not loaded: show why, when its file names it.
  std::vector<PolicyIssue> own;
  for (const auto& i : r.issues)
    if (fs::path(i.file).stem() == args.name) own.push_back(i);
  if (!own.empty()) {
    print_issues(ctx, own);
    return tl::unexpected(issues_error(own, "policy").error());
  }
  return failf(Errc::not_found, "no policy named '{}' in {} (see 'kho policy list')", args.name, dir);
}

nlohmann::ordered_json report_json(const Policy& p, const orchestrate::RunReport& r) {
  nlohmann::ordered_json j;
  j["policy"] = p.name;
  j["kind"] = std::string(orchestrate::to_string(r.kind));
  j["success"] = r.success;
  j["interrupted"] = r.interrupted;
  if (!r.stage.empty()) j["stage"] = r.stage;
  if (!r.error.empty()) j["error"] = r.error;
  if (!r.snapshot_id.empty()) j["snapshot_id"] = r.snapshot_id;
  j["run_id"] = r.run_id;
  j["duration_s"] = r.seconds;
  j["figures"] = r.figures;
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"name", s.name}, {"ok", s.ok}, {"duration_s", s.seconds}, {"detail", s.detail}});
  j["steps"] = steps;
  if (!r.plan.empty()) j["plan"] = r.plan;
  return j;
}

Status run_run(Context& ctx, const PolicyArgs& args) {
  KHO_TRY_ASSIGN(Policy p, find_policy(ctx, args));
  std::optional<orchestrate::StateDb> state;
  if (!args.dry_run) {
    KHO_TRY_ASSIGN(auto db, args.open_state());
    state.emplace(std::move(db));
  }
  orchestrate::RunOptions o;
  o.dry_run = args.dry_run;
  o.trigger = orchestrate::RunTrigger::manual;
  o.interrupt = &engine::cancel_flag();
  if (!ctx.global.quiet && !ctx.global.json) o.log = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  KHO_TRY_ASSIGN(auto report, orchestrate::run_backup(p, state ? &*state : nullptr, o));
  if (ctx.global.json) {
    ctx.print_json(report_json(p, report));
  } else if (args.dry_run) {
    ctx.print("policy {}: the run would do, in order:\n", p.name);
    for (const auto& line : report.plan) ctx.print("  {}\n", line);
  } else if (report.success) {
    ctx.print("policy {}: success in {:.1f}s, snapshot {}\n", p.name, report.seconds,
              report.snapshot_id.substr(0, 8));
  }
  if (report.interrupted) return failf(Errc::interrupted, "policy {}: interrupted at {}", p.name, report.stage);
  if (!report.success)
    return failf(Errc::failed, "policy {}: failed at {}: {}", p.name, report.stage, report.error);
  return {};
}

// kho policy check NAME: the policy's integrity check now, recorded in state
// as the scheduler records it (the readiness report counts it).
Status run_check_now(Context& ctx, const PolicyArgs& args) {
  KHO_TRY_ASSIGN(Policy p, find_policy(ctx, args));
  KHO_TRY_ASSIGN(auto state, args.open_state());
  orchestrate::RunOptions o;
  o.trigger = orchestrate::RunTrigger::manual;
  o.interrupt = &engine::cancel_flag();
  if (!ctx.global.quiet && !ctx.global.json) o.log = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  KHO_TRY_ASSIGN(auto report, orchestrate::run_check(p, &state, o));
  if (ctx.global.json)
    ctx.print_json(report_json(p, report));
  else if (report.success)
    ctx.print("policy {}: check passed in {:.1f}s\n", p.name, report.seconds);
  if (report.interrupted) return failf(Errc::interrupted, "policy {}: check interrupted", p.name);
  if (!report.success) return failf(Errc::verification_failed, "policy {}: check failed: {}", p.name, report.error);
  return {};
}

Status run_show(Context& ctx, const PolicyArgs& args) {
  KHO_TRY_ASSIGN(Policy p, find_policy(ctx, args));
  if (ctx.global.json) ctx.print_json(orchestrate::to_json(p));
  else fmt::print("{}\n", json_dump(orchestrate::to_json(p), 2));
  return {};
}
}  // namespace

void register_policy(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<PolicyArgs>();
  auto* cmd = app.add_subcommand("policy", "List, validate, show and run the protection policies (policies/*.yaml)");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  args->add_to(cmd);
  cmd->footer("Policy files are described field by field in docs/POLICIES.md.");

  auto* list = cmd->add_subcommand("list", "List the policies: name, schedule, time zone, repository, sources");
  list->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_list(ctx, *args); }; });

  auto* validate = cmd->add_subcommand(
      "validate", "Check policy files; every problem is printed as FILE:LINE:COLUMN: FIELD: MESSAGE (exit 2)");
  validate->add_option("file", args->files, "Policy files to check (default: every *.yaml in the policies directory)");
  validate->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_validate(ctx, *args); }; });

  auto* show = cmd->add_subcommand("show", "Show one policy with every default filled in");
  show->add_option("name", args->name, "The policy's name")->required();
  show->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_show(ctx, *args); }; });

  auto* run = cmd->add_subcommand(
      "run", "Run a policy now: before hooks, backup, after hooks, retention, prune when due, copies; recorded in state");
  run->add_option("name", args->name, "The policy's name")->required();
  run->add_flag("-n,--dry-run", args->dry_run, "Only show the steps and the commands they would run");
  run->footer("A failing step stops the run, runs the on_failure hooks and exits 1 (130 when interrupted).");
  run->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_run(ctx, *args); }; });

  auto* check = cmd->add_subcommand(
      "check", "Run the policy's integrity check now (its read_data_subset), recorded in state like a scheduled one");
  check->add_option("name", args->name, "The policy's name")->required();
  check->footer("Exit 0 when the repository is sound, 4 when the check found damage, 1 when it could not run.");
  check->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_check_now(ctx, *args); }; });
}

}  // namespace kho::cli
