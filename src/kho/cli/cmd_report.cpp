// kho report: the incident-readiness report (READY / AT RISK / NOT READY, the
// reasons and the next actions) from the policy files, the runbook files and
// the state database; no repository is opened and no password is read.
#include <filesystem>

#include "kho/cli/context.hpp"
#include "kho/cli/orchestrate_args.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/report.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"

namespace kho::cli {

namespace {

struct ReportArgs {
  OrchestrateArgs dirs;
  std::string format;  // empty: json with --json, else text
  std::string lang = "en";
  std::string output;   // -o FILE
  std::string fail_on;  // --fail-on at-risk|not-ready
};

Status run_report(Context& ctx, const ReportArgs& args) {
  KHO_TRY_ASSIGN(auto format, orchestrate::parse_report_format(!args.format.empty() ? args.format
                                                               : ctx.global.json    ? "json"
                                                                                    : "text"));
  KHO_TRY_ASSIGN(auto lang, orchestrate::parse_report_lang(args.lang));
  std::optional<orchestrate::Verdict> fail_on;
  if (!args.fail_on.empty()) {
    KHO_TRY_ASSIGN(auto v, orchestrate::parse_verdict(args.fail_on));
    fail_on = v;
  }

  auto loaded = orchestrate::load_policy_dir(args.dirs.policies_dir());
  for (const auto& i : loaded.issues) ctx.warn("{}", orchestrate::format_issue(i));
  // Without a runbook directory every policy simply has no runbook (a reason of its own).
  orchestrate::RunbookLoadResult runbooks;
  std::error_code ec;
  if (std::filesystem::is_directory(args.dirs.runbooks_dir(), ec)) {
    runbooks = orchestrate::load_runbook_dir(args.dirs.runbooks_dir());
    for (const auto& i : runbooks.issues) ctx.warn("{}", orchestrate::format_issue(i));
  }
  KHO_TRY_ASSIGN(auto state, args.dirs.open_state());
  KHO_TRY_ASSIGN(auto report, orchestrate::build_report(loaded.policies, runbooks.runbooks, state));
  const std::string text = orchestrate::render_report(report, format, lang);
  if (args.output.empty() || args.output == "-") {
    fmt::print("{}", text);
    std::fflush(stdout);
  } else {
    KHO_TRY_STATUS(orchestrate::write_report_file(args.output, text));
    if (!ctx.global.quiet)
      fmt::print(stderr, "{}: {} ({})\n", args.output, orchestrate::report_text(lang, "title"),
                 orchestrate::report_text(lang, "verdict." + std::string(orchestrate::to_string(report.verdict))));
  }
  if (fail_on && report.verdict >= *fail_on) ctx.result_code = 1;
  return {};
}

}  // namespace

void register_report(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "Incident-readiness report: READY / AT RISK / NOT READY per system, the reasons and the next actions");
  args->dirs.add_to(cmd);
  args->dirs.add_runbooks_to(cmd);
  cmd->add_option("--format", args->format, "text (default), md, json or html (one self-contained page)")
      ->check(CLI::IsMember({"text", "md", "markdown", "json", "html"}));
  cmd->add_option("--lang", args->lang, "Language of the report: en (default) or vi")
      ->check(CLI::IsMember({"en", "vi"}));
  cmd->add_option("-o,--output", args->output, "Write the report to FILE (mode 0644, atomically) instead of stdout");
  cmd->add_option("--fail-on", args->fail_on,
                  "Exit 1 when the overall verdict is this or worse: at-risk or not-ready (for monitoring)")
      ->check(CLI::IsMember({"at-risk", "not-ready", "at_risk", "not_ready"}));
  cmd->footer(
      "Built from the policies, the runbooks and the state database only: no repository is opened, no password\n"
      "is needed. The verdict rules are in docs/REPORT.md. Exit 0 when the report was made (the verdict is in\n"
      "its content), unless --fail-on says otherwise.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_report(ctx, *args); }; });
}

}  // namespace kho::cli
