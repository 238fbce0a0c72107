// Options every orchestration command takes: --policies DIR and --state DIR
// (and --runbooks DIR where runbooks are read).
#pragma once

#include <string>

#include "kho/cli/context.hpp"
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

}  // namespace kho::cli
