// Policies: one YAML file per protected system (policies/*.yaml) saying what to
// back up, when, how long to keep it, where to copy it, and the system's
// recovery objectives. This file owns the model, the loader and the validator;
// docs/POLICIES.md is the field reference (keep the two in step).
//
// Loading never stops at the first problem: every issue in a file is reported,
// each with its file, line and column (1-based) and the field's path
// ("retention.keep_daily", "sources[2].command", "hooks.before[0]"). A policy
// with any issue is left out of LoadResult::policies, so a caller acts only on
// policies that are wholly valid and prints every issue (the cli exits 2 when
// there is one). Loading reads the files and nothing else: no command runs,
// no repository is opened, no password file is read.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kho/engine/retention.hpp"
#include "kho/orchestrate/tz.hpp"

namespace kho::orchestrate {

// A command from a policy (source, hook, password or notify command). A YAML
// string runs with `sh -c`; a YAML list of strings is executed directly as
// program and arguments, without a shell.
struct Command {
  bool shell = false;
  std::string script;             // shell: the text given to sh -c (not empty)
  std::vector<std::string> argv;  // !shell: program and arguments (argv[0] not empty)

  // What to exec: {"sh", "-c", script} or argv.
  std::vector<std::string> exec_argv() const;
  // The command as one text for sh -c: the script, or argv quoted for sh
  // (for interfaces that take a shell string, and for messages).
  std::string shell_text() const;

  bool operator==(const Command&) const = default;
};

// Where a repository's password comes from: exactly one of the two is set.
struct PasswordSource {
  std::string file;                // first line of the file is the password
  std::optional<Command> command;  // first line of the command's output
};

// One thing to back up: a directory or file (`path`, absolute), or the
// standard output of `command` stored in the snapshot as `filename`.
struct Source {
  std::string path;
  std::optional<Command> command;
  std::string filename;  // with command: relative path inside the snapshot, e.g. "db/portal.dump"

  bool is_command() const { return command.has_value(); }
};

struct CheckPolicy {
  std::string schedule;          // cron
  std::string read_data_subset;  // "" (structure only), "N%" or "n/m", as `kho check`
};

struct PrunePolicy {
  std::string schedule;  // cron
};

struct CopyTarget {
  std::string repository;
  // Unset: the copy is opened with the policy's own password source.
  std::optional<PasswordSource> password;
  // What the copy is for the readiness report: "offline" (a disk kept
  // disconnected), "offsite" (another site), or "" (not said).
  std::string kind;
  // The copy's server refuses deletion (rest-server --append-only): ransomware
  // holding the password cannot destroy it.
  bool append_only = false;
};

// `anomaly:` thresholds for the ransomware score of the policy's snapshots
// (see engine/anomaly.hpp; unset fields keep kho's defaults).
struct AnomalyPolicy {
  std::optional<double> threshold;        // flag at or above this score (default 0.6)
  std::optional<double> changed_share;    // share of files changed that counts as mass change
  std::optional<double> encrypted_share;  // share of read files that look encrypted
  std::optional<int> min_files;           // fewer changed files: never flagged on shares alone
  bool enabled = true;                    // enabled: false turns scoring off
};

struct Objectives {
  std::optional<double> rpo_s;  // recovery point objective, seconds
  std::optional<double> rto_s;  // recovery time objective, seconds
};

struct Hooks {
  std::vector<Command> before;      // in order before the backup; a failure aborts the run
  std::vector<Command> after;       // after a backup that saved a snapshot
  std::vector<Command> on_failure;  // after a failed run
};

enum class NotifyEvent { failure, success, anomaly, late };
const char* notify_event_name(NotifyEvent event);

struct Notify {
  std::string webhook;             // http(s) URL that receives a JSON POST; may be empty
  std::optional<Command> command;  // run per event; may be unset (not both)
  std::vector<NotifyEvent> on = {NotifyEvent::failure, NotifyEvent::anomaly, NotifyEvent::late};
};

// For the scheduler: a failed run is tried `attempts` times in all, waiting
// `delay_s` before the first retry and twice as long before each next one.
struct Retry {
  int attempts = 3;
  double delay_s = 600;
};

struct Policy {
  std::string name;  // [a-z0-9][a-z0-9_-]*, unique among the loaded policies
  std::string description;
  std::string repository;  // location as for -r: absolute path, local:, sftp://, rest:
  PasswordSource password;
  std::vector<Source> sources;  // at least one
  std::vector<std::string> exclude;
  std::vector<std::string> tags;  // extra snapshot tags (see snapshot_tags)
  std::string host;               // empty: this machine's name
  bool one_file_system = false;
  std::string schedule;  // cron; empty: the policy runs only by hand (`kho policy run`)
  std::string timezone;  // IANA name; empty: the system's local zone
  std::optional<engine::RetentionPolicy> retention;  // unset: snapshots are never forgotten
  std::optional<PrunePolicy> prune;                  // unset: never pruned by the scheduler
  std::optional<CheckPolicy> check;                  // unset: never checked by the scheduler
  std::vector<CopyTarget> copy_to;
  Objectives objectives;
  AnomalyPolicy anomaly;
  Hooks hooks;
  std::optional<Notify> notify;
  std::optional<double> timeout_s;  // a run taking longer is stopped and counts as failed
  Retry retry;
  std::string file;  // the file the policy was loaded from

  // The tags every snapshot of the policy carries: the name, then `tags`
  // without repeats.
  std::vector<std::string> snapshot_tags() const;
};

struct PolicyIssue {
  std::string file;
  int line = 0;    // 1-based; 0 when the issue concerns the whole file (unreadable)
  int column = 0;  // 1-based; 0 with line 0
  std::string field;  // path of the field ("sources[0].path"); empty for syntax and file errors
  std::string message;
};

struct LoadResult {
  std::vector<Policy> policies;     // only those without issues
  std::vector<PolicyIssue> issues;  // in file order, then line order within a file

  bool ok() const { return issues.empty(); }
};

// Loads one policy file; a missing or unreadable file, a YAML syntax error or
// any invalid field becomes an issue.
LoadResult load_policy_file(const std::filesystem::path& path);

// Loads YAML text as if read from `file` (for tests and standard input).
LoadResult load_policy_text(std::string_view text, const std::string& file);

// Loads every *.yaml and *.yml file directly in `dir` (not below it; hidden
// files skipped), in file-name order, and reports a policy name used by more
// than one file at the later file's `name`, naming the earlier file; only the
// first such policy is kept. A missing directory is an issue; an empty one is not.
LoadResult load_policy_dir(const std::filesystem::path& dir);

// The given files, in the given order, with the same check of repeated names.
LoadResult load_policy_files(const std::vector<std::filesystem::path>& files);

// The zone a policy's schedules are read in: `timezone`, or the system's
// local zone when it is empty.
Result<TimeZone> policy_time_zone(const std::string& timezone);

// "file:line:col: field: message", or "file: message" for whole-file issues,
// leaving out "field: " when the field is empty.
std::string format_issue(const PolicyIssue& issue);

// The policy for `kho policy show --json` (stable snake_case names; durations
// in seconds as *_s; credentials in repository and webhook URLs masked).
nlohmann::ordered_json to_json(const Policy& policy);

}  // namespace kho::orchestrate
