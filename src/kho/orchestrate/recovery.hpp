// Running a runbook: the plan (which snapshot, each step resolved, the bytes to
// restore, an estimate), the run itself for real or as a drill in a sandbox,
// the verification, the measured RTO, and the records: every run in the state
// database (kind restore or drill) and, for real runs, an incident record
// (Markdown and JSON) in <state dir>/incidents.
//
// Repository work is kho's own commands run as children (`kho snapshots`,
// `kho restore`, `kho compare`, `kho ls`), as for policies (runner.hpp): the
// repository location and password file go in their environment, never in argv.
// Runbook commands run with sh -c (strings) or directly (lists), in their own
// process group, with KHO_RUNBOOK, KHO_POLICY, KHO_SNAPSHOT, KHO_ROOT,
// KHO_SANDBOX and KHO_MODE (real|drill) set and every other KHO_* variable
// removed (a password must not reach them).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

enum class RecoveryMode { real, drill };

struct RecoveryOptions {
  RecoveryMode mode = RecoveryMode::real;
  std::string snapshot;  // --snapshot: replaces the runbook's selector ("" = the runbook's)
  bool resume = false;   // continue the last failed real run of this runbook from its failed step
  bool keep_sandbox = false;
  std::string sandbox_parent;  // drills: where the sandbox folder is made ("" = $TMPDIR or /var/tmp)
  std::string kho_program;     // default: this program
  const std::atomic<bool>* interrupt = nullptr;
  std::function<void(std::string_view line)> log;  // progress, one line per event
  std::string operator_name;                       // who runs it (for the incident record)
};

// The snapshot a run restores, and why it was chosen.
struct SnapshotChoice {
  std::string selector;  // as given
  std::string id;
  TimeNs time = 0;
  std::string host;
  std::vector<std::string> paths;
  bool flagged = false;
  double score = 0;
  std::vector<std::string> reasons;  // the anomaly reasons of the chosen snapshot
  std::string why;                   // one sentence: how the selector chose it, what it skipped
};

struct PlannedStep {
  std::string name;
  std::string action;    // the resolved command, restore or wait, as shown to people
  bool skipped = false;  // drill: skip
  bool background = false;
  std::optional<double> timeout_s;
  int retries = 0;
  bool critical = true;
  std::uint64_t restore_bytes = 0;  // restore steps
  std::optional<double> estimate_s;
};

struct RecoveryPlan {
  Runbook runbook;
  Policy policy;
  RecoveryMode mode = RecoveryMode::real;
  SnapshotChoice snapshot;
  std::vector<PlannedStep> steps;
  std::vector<std::string> verify;  // each check resolved, as shown to people
  std::uint64_t restore_bytes = 0;
  std::optional<double> estimate_s;  // unset: no recorded speed to estimate from
  std::string estimate_basis;        // what the estimate rests on
  std::optional<double> rto_s;       // the runbook's rto, else the policy's
  TemplateVars vars;                 // root/sandbox are filled when the run starts
  int first_step = 0;                // --resume: the step the run continues from
  std::int64_t resumed_run = 0;      // --resume: the failed run continued
  TimeNs resumed_started_at = 0;
};

enum class StepOutcome { success, failed, skipped, not_run };

struct StepResult {
  std::string name;
  StepOutcome outcome = StepOutcome::not_run;
  bool critical = true;
  int attempts = 0;
  double seconds = 0;
  std::string detail;       // what it did, or why it failed
  std::string output_tail;  // the last lines of its output (on failure)
};

struct VerifyResult {
  std::string name;  // "files_match_snapshot /srv/portal/uploads", "http http://...", ...
  bool ok = false;
  double seconds = 0;
  std::string detail;
};

struct RecoveryReport {
  RecoveryPlan plan;
  bool success = false;   // every critical step ran and every verification passed
  bool verified = false;  // the verifications ran and all passed
  bool interrupted = false;
  int failed_step = -1;  // index of the critical step that stopped the run
  std::string error;     // why the run stopped (a step, or a verification)
  std::vector<StepResult> steps;
  std::vector<VerifyResult> verify;
  std::optional<double> rto_measured_s;  // start to the last verification passing
  std::string sandbox;                   // drills
  bool sandbox_kept = false;
  std::int64_t run_id = 0;
  std::string incident_markdown;  // real runs: the record's files
  std::string incident_json;
  TimeNs started_at = 0;
  TimeNs finished_at = 0;
};

// Chooses the snapshot, resolves every step and estimates the duration from
// restore speeds and step times recorded in `state` (may be null).
Result<RecoveryPlan> plan_recovery(const Runbook& runbook, const Policy& policy, StateDb* state,
                                   const RecoveryOptions& options);

// Runs a plan (after the caller's confirmation). Fails only when the run could
// not start or be recorded; a failed run is a report with success = false.
Result<RecoveryReport> run_recovery(RecoveryPlan plan, StateDb* state, const RecoveryOptions& options);

// Whether the last drill of each runbook passed within `max_age`.
struct DrillStatus {
  std::optional<RunRecord> last_drill;
  bool verified = false;  // VERIFIED: the last drill passed within max_age; else NEEDS DRILL
  std::string text;       // "VERIFIED (drill 3d ago, RTO 2m10s of 30m)" / "NEEDS DRILL (...)"
};
Result<DrillStatus> drill_status(StateDb& state, const Runbook& runbook, TimeNs now, double max_age_s = 30 * 86400.0);

// The last run (restore or drill) of a runbook, newest first.
Result<std::optional<RunRecord>> last_runbook_run(StateDb& state, const Runbook& runbook, RunKind kind);

std::string render_plan(const RecoveryPlan& plan);
nlohmann::ordered_json to_json(const RecoveryPlan& plan);
nlohmann::ordered_json to_json(const RecoveryReport& report);
std::string_view to_string(StepOutcome outcome);

}  // namespace kho::orchestrate
