// The incident-readiness report (`kho report`): per policy, whether the system
// can be brought back after an incident, judged only from the policy files, the
// runbook files and the state database (no repository is opened, no password
// is read): the newest backup against the RPO, the last integrity check, the
// last drill of each runbook against its RTO, the copies (offline, offsite,
// append-only), the anomaly (ransomware) state of the newest snapshot, and the
// failures of the last days. Each finding is a Reason with a severity; a
// policy's verdict is the worst of its reasons, the overall verdict the worst
// of the policies. docs/REPORT.md documents the rules (keep the two in step).
//
// build_report() is the model and the rules (pure: it reads the state and
// the clock it is given); render_report() turns the model into text, Markdown,
// JSON or one self-contained HTML page, in English or Vietnamese, every
// user-facing word coming from one translation table (report_render.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

// Ordered from best to worst.
enum class Verdict { ready = 0, at_risk = 1, not_ready = 2 };
// "ready", "at_risk", "not_ready" (the JSON values and --fail-on spellings,
// which also accept "at-risk" and "not-ready").
std::string_view to_string(Verdict verdict);
Result<Verdict> parse_verdict(std::string_view text);

// Named values a reason or action text is filled with ({policy}, {age}, ...).
// Values are language-neutral: names, commands, durations ("2h05m"), local times.
using ReportParams = std::vector<std::pair<std::string, std::string>>;

// One finding. `code` is stable (documented in docs/REPORT.md) and names the
// text in the translation table.
struct Reason {
  std::string code;
  Verdict severity = Verdict::at_risk;
  std::string policy;
  ReportParams params;
};

// One thing to do next: `command` is a command line to run, or empty when the
// action is a change to make (the text says which).
struct Action {
  std::string code;
  std::string policy;
  std::string command;
  ReportParams params;
};

struct SnapshotState {
  std::optional<std::string> id;
  std::optional<TimeNs> at;     // when the newest successful backup finished
  std::optional<double> age_s;  // now - at
  std::optional<double> rpo_s;
  std::string rpo_status;  // "OK", "LATE", "NONE" (no successful backup), "" (no RPO set)
};

struct CheckState {
  std::optional<TimeNs> at;  // start of the last successful check
  std::optional<double> age_s;
  std::string status;  // of the last check run of any status: "success", "failed", ...; "" never checked
  std::optional<std::uint64_t> bytes_read;  // of the last successful check; 0: structure only
  std::optional<std::uint64_t> packs_read;
};

struct DrillState {
  std::string runbook;
  bool verified = false;  // the last drill passed within the drill age limit
  std::optional<TimeNs> last_at;
  std::string result;  // "passed", "failed", "interrupted", "running", "never"
  std::optional<double> rto_s;
  std::optional<double> rto_target_s;
  std::optional<bool> rto_met;
};

struct CopyState {
  std::string destination;  // redacted (no credentials)
  std::string kind;         // "offline", "offsite" or ""
  bool append_only = false;
  std::optional<TimeNs> at;  // last successful copy
  std::optional<double> age_s;
};

struct AnomalyState {
  bool enabled = true;
  std::optional<double> score;  // from the newest successful backup run; unset when not recorded
  bool flagged = false;
  double threshold = 0.6;
  std::optional<std::string> snapshot_id;
};

struct FailureState {
  std::string kind;
  TimeNs at = 0;
  std::string stage;
  std::string error;
};

// One successful backup (for the charts).
struct BackupPoint {
  TimeNs at = 0;
  std::optional<std::uint64_t> data_added;
  std::optional<std::uint64_t> total_bytes;
  std::uint64_t repository_bytes = 0;  // data_added summed over every successful backup so far
  std::optional<double> anomaly_score;
  bool anomaly_flagged = false;
};

// One finished drill (for the charts).
struct DrillPoint {
  TimeNs at = 0;
  std::string runbook;
  std::string result;  // as DrillState::result
  std::optional<double> rto_s;
  std::optional<double> rto_target_s;
};

struct PolicyReadiness {
  std::string name;
  std::string description;
  Verdict verdict = Verdict::ready;
  std::vector<Reason> reasons;  // worst first
  std::vector<Action> actions;
  SnapshotState snapshot;
  CheckState check;
  std::vector<DrillState> drills;  // one per runbook of the policy, in runbook order
  std::vector<CopyState> copies;   // one per copy_to target, in policy order
  AnomalyState anomaly;
  std::vector<FailureState> failures;  // failed runs of the failure window, newest first
  std::vector<BackupPoint> backups;    // history window, oldest first
  std::vector<DrillPoint> drill_history;
};

struct ReadinessReport {
  TimeNs generated_at = 0;
  Verdict verdict = Verdict::ready;
  std::vector<Reason> reasons;  // every policy's, worst first
  std::vector<Action> actions;  // every policy's, for the worst reasons first, without repeats
  std::vector<PolicyReadiness> policies;
};

struct ReportOptions {
  TimeNs now = 0;                         // 0: now_ns()
  double drill_max_age_s = 30 * 86400.0;  // a drill older than this no longer counts
  double check_max_age_s = 7 * 86400.0;   // a successful check must be this recent
  double copy_max_age_s = 7 * 86400.0;    // each copy must be this recent
  double failure_window_s = 7 * 86400.0;  // failed runs this recent are listed (and a reason)
  double rpo_not_ready_factor = 2.0;      // newest backup older than this many RPOs: NOT READY
  double history_s = 90 * 86400.0;        // how far back the charts go
};

// Builds the report for `policies` and the runbooks among `runbooks` whose
// policy is one of them. Fails only when the state database cannot be read.
Result<ReadinessReport> build_report(const std::vector<Policy>& policies, const std::vector<Runbook>& runbooks,
                                     StateDb& state, const ReportOptions& options = {});

enum class ReportFormat { text, md, json, html };
enum class ReportLang { en, vi };
Result<ReportFormat> parse_report_format(std::string_view text);  // text | md | json | html
Result<ReportLang> parse_report_lang(std::string_view text);      // en | vi

// The JSON form (docs/REPORT.md lists the fields). Texts are in `lang`; codes
// and numbers are not translated.
nlohmann::ordered_json report_to_json(const ReadinessReport& report, ReportLang lang);

// The report in a format and language (UTF-8; HTML is one self-contained page).
std::string render_report(const ReadinessReport& report, ReportFormat format, ReportLang lang);

// A word or phrase of the translation table ("title", "verdict.at_risk", ...);
// the key itself when the table has no such entry.
std::string report_text(ReportLang lang, std::string_view key);

// A reason's or action's sentence in `lang`.
std::string reason_text(const Reason& reason, ReportLang lang);
std::string action_text(const Action& action, ReportLang lang);

// Writes `text` to `path` atomically (a temporary file in the same directory,
// then rename) with mode 0644: a report holds no secret.
Status write_report_file(const std::filesystem::path& path, std::string_view text);

}  // namespace kho::orchestrate
