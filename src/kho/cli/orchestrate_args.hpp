// Options every orchestration command takes: --policies DIR and --state DIR
// (and --runbooks DIR where runbooks are read).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kho/cli/context.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/state.hpp"

namespace kho::cli {

struct OrchestrateArgs {
  std::string policies;  // --policies DIR
  std::string state;     // --state DIR
  std::string runbooks;  // --runbooks DIR (runbook, drill and status only)

  void add_to(CLI::App* cmd);
  void add_runbooks_to(CLI::App* cmd);
  // --runbooks, else ./restore-scripts when it exists, else /etc/kho/restore-scripts.
  std::string runbooks_dir() const;
  // --policies, else ./policies when it exists, else /etc/kho/policies.
  std::string policies_dir() const;
  // --state, else /var/lib/kho as root, else $XDG_STATE_HOME/kho or ~/.local/state/kho.
  Result<orchestrate::StateDb> open_state() const;
};

// Problems found in policy or runbook files: as JSON objects, printed one per line
// on stderr (not with --json), and the error that ends the command ("3 problem(s)
// in 2 policy file(s)"; `what` is "policy" or "runbook").
nlohmann::ordered_json issue_json(const orchestrate::PolicyIssue& issue);
void print_issues(const Context& ctx, const std::vector<orchestrate::PolicyIssue>& issues);
Status issues_error(const std::vector<orchestrate::PolicyIssue>& issues, std::string_view what);

}  // namespace kho::cli
