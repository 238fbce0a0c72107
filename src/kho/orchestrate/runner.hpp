// Running a policy's jobs: the backup run (hooks, backup, retention, prune when
// due, copies), the check and the prune, each recorded in the state database.
//
// Every repository operation is kho's own command run as a child process
// (`kho ... backup|forget|prune|copy|check --json`): a job that
// crashes or is killed never takes the scheduler with it, an interrupt reaches
// it as SIGTERM (which kho turns into a clean stop that leaves the repository
// consistent), and its --json summary gives the figures. Repository
// locations (which may hold credentials) and password files go to the children
// in the environment (KHO_REPOSITORY, KHO_FROM_REPOSITORY, KHO_PASSWORD_FILE,
// KHO_FROM_PASSWORD_FILE), a password command as an option; a password never.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kho/orchestrate/notify.hpp"
#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

struct RunOptions {
  bool dry_run = false;  // only describe the steps (see RunReport::plan)
  RunTrigger trigger = RunTrigger::manual;
  int attempt = 1;
  const std::atomic<bool>* interrupt = nullptr;  // set: the running step is stopped
  std::string kho_program;                       // default: this program
  std::function<void(std::string_view line)> log;  // one line per step started/ended
  // Forces prune after forget in a backup run (otherwise when prune.schedule is due).
  bool prune = false;
  // The caller already holds the policy's run lock (a prune within a backup run).
  bool lock_held = false;
};

struct StepReport {
  std::string name;  // hooks.before[0], backup, hooks.after[0], forget, prune, copy:<dest>, check
  bool ok = false;
  double seconds = 0;
  std::string detail;  // what it did, or why it failed
};

struct RunReport {
  RunKind kind = RunKind::backup;
  bool success = false;
  bool interrupted = false;
  std::string stage;  // the step that failed
  std::string error;
  std::string snapshot_id;
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();
  std::vector<StepReport> steps;
  std::vector<std::string> plan;  // dry run: each step as a line (commands shown as run)
  std::int64_t run_id = 0;        // in the state database (0: not recorded)
  double seconds = 0;
};

// Before hooks → backup of every source into one snapshot tagged with the
// policy → after hooks → forget by retention → prune when due → each copy.
// A failing step stops the run; the on_failure hooks then run with KHO_POLICY,
// KHO_STAGE and KHO_ERROR in their environment. `state` may be null (nothing
// recorded). Fails only when the run could not be recorded or started at all;
// a failed run is a RunReport with success = false.
Result<RunReport> run_backup(const Policy& policy, StateDb* state, const RunOptions& options);

// `kho check` with the policy's read_data_subset.
Result<RunReport> run_check(const Policy& policy, StateDb* state, const RunOptions& options);

// `kho prune`.
Result<RunReport> run_prune(const Policy& policy, StateDb* state, const RunOptions& options);

// When the policy has an RPO and its newest successful backup (by the state
// database) is older, or there is none: a line saying so; else "".
Result<std::string> rpo_lateness(const Policy& policy, StateDb& state, TimeNs now);

// Sends `event` with `summary` through the policy's notify, when it asks for
// that event (nothing when the policy has no notify).
Status notify_policy(const Policy& policy, NotifyEvent event, const std::string& summary);

}  // namespace kho::orchestrate
