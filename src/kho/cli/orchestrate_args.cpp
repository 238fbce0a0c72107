#include "kho/cli/orchestrate_args.hpp"

#include <filesystem>
#include <set>

namespace kho::cli {

void OrchestrateArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--policies", policies,
                  "Directory of policy files (default: ./policies when it exists, else /etc/kho/policies)");
  cmd->add_option("--state", state,
                  "State directory (default: /var/lib/kho as root, else ~/.local/state/kho)");
}

void OrchestrateArgs::add_runbooks_to(CLI::App* cmd) {
  cmd->add_option("--runbooks", runbooks,
                  "Directory of runbooks (default: ./restore-scripts when it exists, else /etc/kho/restore-scripts)");
}

std::string OrchestrateArgs::runbooks_dir() const {
  if (!runbooks.empty()) return runbooks;
  std::error_code ec;
  if (std::filesystem::is_directory("restore-scripts", ec)) return "restore-scripts";
  return "/etc/kho/restore-scripts";
}

std::string OrchestrateArgs::policies_dir() const {
  if (!policies.empty()) return policies;
  std::error_code ec;
  if (std::filesystem::is_directory("policies", ec)) return "policies";
  return "/etc/kho/policies";
}

Result<orchestrate::StateDb> OrchestrateArgs::open_state() const {
  if (!state.empty()) return orchestrate::StateDb::open(state);
  KHO_TRY_ASSIGN(auto dir, orchestrate::default_state_dir());
  return orchestrate::StateDb::open(dir);
}

nlohmann::ordered_json issue_json(const orchestrate::PolicyIssue& issue) {
  return {{"file", issue.file},
          {"line", issue.line},
          {"column", issue.column},
          {"field", issue.field},
          {"message", issue.message}};
}

void print_issues(const Context& ctx, const std::vector<orchestrate::PolicyIssue>& issues) {
  if (ctx.global.json) return;
  for (const auto& i : issues) fmt::print(stderr, "{}\n", orchestrate::format_issue(i));
}

Status issues_error(const std::vector<orchestrate::PolicyIssue>& issues, std::string_view what) {
  std::set<std::string> files;
  for (const auto& i : issues) files.insert(i.file);
  return failf(Errc::invalid_argument, "{} problem(s) in {} {} file(s)", issues.size(), files.size(), what);
}

}  // namespace kho::cli
