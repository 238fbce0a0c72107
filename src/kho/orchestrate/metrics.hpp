// Metrics for Prometheus' node_exporter textfile collector: one gauge family
// per figure, one sample per policy labelled policy="<name>".
//
// Text exposition format 0.0.4. Families appear in name order, each with one
// "# HELP" and one "# TYPE ... gauge" line, followed by its samples in policy
// name order; a family with no sample is left out. Label values escape '\\',
// '"' and newline. Timestamps are Unix seconds (fraction kept, trailing zeros
// dropped). Families (a sample only when its input is known):
//   kho_last_check_success_timestamp_seconds  last_check_success
//   kho_last_run_bytes_added                  last_run
//   kho_last_run_duration_seconds             last_run
//   kho_last_run_success                      last_run (1 ok, 0 failed)
//   kho_last_run_timestamp_seconds            last_run
//   kho_last_success_timestamp_seconds        last_success
//   kho_metrics_generated_timestamp_seconds   always, no labels (`now`)
//   kho_newest_snapshot_timestamp_seconds     newest_snapshot
//   kho_rpo_met                               rpo_s (1 when the newest snapshot is
//                                             at most rpo_s old at `now`, else 0)
//   kho_rpo_seconds                           rpo_s
//   kho_snapshot_age_seconds                  newest_snapshot (now - newest, >= 0)
// Alerting on the timestamps (time() - kho_last_success_timestamp_seconds) keeps
// working when the file stops being refreshed; the ages are as of `now`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

struct PolicyMetrics {
  std::string policy;
  std::optional<TimeNs> last_success;     // end of the last successful backup
  std::optional<TimeNs> last_run;         // end of the last backup, successful or not
  bool last_run_ok = false;               // with last_run
  double last_duration_s = 0;             // with last_run
  std::uint64_t last_bytes_added = 0;     // with last_run: stored bytes the run added
  std::optional<TimeNs> newest_snapshot;  // time of the newest snapshot of the policy
  std::optional<double> rpo_s;            // the policy's recovery point objective
  std::optional<TimeNs> last_check_success;
};

// The exposition text for `policies` as of `now`; deterministic for equal inputs.
std::string render_metrics(const std::vector<PolicyMetrics>& policies, TimeNs now);

// Replaces `path` with `text` atomically: written to a hidden temporary file in
// the same directory (not ending in .prom, so the collector never reads it
// half-written), fsynced, given mode 0644, renamed over `path`, and the
// directory fsynced. On failure `path` is unchanged, the temporary file is
// removed, and the error (Errc from errno) names the file.
[[nodiscard]] Status write_metrics_file(const std::filesystem::path& path, const std::string& text);

// A policy's figures from the state database (its last backup runs and check).
Result<PolicyMetrics> policy_metrics(const Policy& policy, StateDb& state);

// render_metrics of every policy, written to `path` (write_metrics_file).
Status write_policy_metrics(const std::filesystem::path& path, const std::vector<Policy>& policies, StateDb& state);

}  // namespace kho::orchestrate
