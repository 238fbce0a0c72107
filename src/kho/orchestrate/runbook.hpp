// Restore runbooks: one YAML file per system (restore-scripts/*.yaml) saying
// how to bring it back after an incident, in order, and how to prove it works;
// with drill overrides so the same runbook can be rehearsed in a sandbox without
// touching the live system. This file owns the model, the loader and the
// validator; docs/RUNBOOKS.md is the field reference (keep the two in step).
//
// Loading reports every issue with file, line, column and field path, as
// policies do (PolicyIssue, format_issue); a runbook with any issue is left out
// of RunbookLoadResult::runbooks. Loading reads the files and nothing else.
//
// Templates: command texts, restore targets, verify paths, URLs and wait_for
// values may use {{root}} (empty in a real run, the sandbox folder in a
// drill), {{sandbox}} (the sandbox folder; empty in a real run), {{snapshot}}
// (the chosen snapshot's full ID), {{policy}} (the policy's name) and the
// runbook's own `vars`. Any other {{name}} is a validation issue.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

// `restore: {paths: [...], target: DIR}`: restores those snapshot paths below
// {{root}}/target, keeping their full paths (a path /srv/a lands at
// {{root}}/target/srv/a). A path that is not absolute names a file a `command`
// source stored (db/portal.dump is /db/portal.dump in the snapshot).
struct RestoreAction {
  std::vector<std::string> paths;  // as written; at least one
  std::string target = "/";        // absolute; may use templates
};

// `wait_for: {tcp: "host:port" | http: URL | file: PATH, timeout: 2m, interval: 1s}`:
// polls until the port accepts a connection, the URL answers with a status
// below 500, or the file exists; fails after `timeout`. Exactly one of
// tcp/http/file.
struct WaitFor {
  std::string tcp;
  std::string http;
  std::string file;
  double timeout_s = 60;
  double interval_s = 1;
};

// What a drill does with a step.
enum class DrillMode {
  same,     // no `drill:` key: the step runs as in a real run (restores go under the sandbox)
  skip,     // drill: skip
  replace,  // drill: {run: ..., background: ...}
};

enum class StepAction { run, restore, wait_for };

struct RunbookStep {
  std::string name;  // not empty; unique within the runbook
  StepAction action = StepAction::run;
  std::optional<Command> run;  // action == run
  RestoreAction restore;       // action == restore
  WaitFor wait_for;            // action == wait_for
  bool background = false;     // run: keep it running until the run/drill ends, then stop it
  std::optional<double> timeout_s;  // run: a try taking longer is stopped and fails
  int retries = 0;                  // extra tries after a failure
  double retry_delay_s = 5;         // `retry_delay`, wait between tries
  bool critical = true;             // false: a failure is reported and the run goes on
  DrillMode drill = DrillMode::same;
  std::optional<Command> drill_run;  // drill == replace
  bool drill_background = false;     // drill == replace
  int line = 0;                      // 1-based line of the step in its file
};

enum class VerifyKind { files_match_snapshot, http, tcp, command };

struct VerifyCheck {
  VerifyKind kind = VerifyKind::command;
  std::string path;  // files_match_snapshot: absolute snapshot path, compared under {{root}}
  // http
  std::string url;
  int status = 200;
  std::string contains;  // the body must contain this text ("" = anything)
  // tcp: "host:port"
  std::string tcp;
  // command
  std::optional<Command> command;
  int expect_exit = 0;          // expect.exit
  std::string expect_contains;  // expect.stdout_contains: stdout must contain it ("" = anything)
  double timeout_s = 30;        // http, tcp and command: give up after this long
  int line = 0;
};

struct Runbook {
  std::string name;    // as a policy name: [a-z0-9][a-z0-9_-]*, unique among runbooks
  std::string policy;  // the policy whose snapshots (and repository) it restores
  int policy_line = 0;
  int policy_column = 0;
  std::string description;
  std::string snapshot = "latest";  // latest | latest-clean | <id or prefix> | before:<time>
  std::optional<double> rto_s;      // unset: the policy's objectives.rto
  std::vector<RunbookStep> steps;   // at least one
  std::vector<VerifyCheck> verify;
  // `vars: {web_port: "58080"}`: the runbook's own templates ({{web_port}});
  // `drill: {vars: {web_port: "58081"}}` gives drills other values (ports that
  // do not collide with the live system). Every drill var is declared in vars.
  std::map<std::string, std::string> vars;
  std::map<std::string, std::string> drill_vars;
  std::string file;
};

struct RunbookLoadResult {
  std::vector<Runbook> runbooks;    // only those without issues
  std::vector<PolicyIssue> issues;  // in file order, then line order
  // The `policy` of files left out for other issues, so an unknown policy is
  // reported for them too.
  struct PolicyRef {
    std::string file;
    std::string policy;
    int line = 0;
    int column = 0;
  };
  std::vector<PolicyRef> other_policy_refs;

  bool ok() const { return issues.empty(); }
};

// As the policy loaders: one file, text (for tests), every *.yaml/*.yml in a
// directory in name order with duplicate names reported, or given files.
RunbookLoadResult load_runbook_file(const std::filesystem::path& path);
RunbookLoadResult load_runbook_text(std::string_view text, const std::string& file);
RunbookLoadResult load_runbook_dir(const std::filesystem::path& dir);
RunbookLoadResult load_runbook_files(const std::vector<std::filesystem::path>& files);

// Reports, at each runbook's `policy` field, a policy that is not among
// `policies`, and moves such runbooks out of result.runbooks.
void check_runbook_policies(RunbookLoadResult& result, const std::vector<Policy>& policies);

// A snapshot selector: latest, latest-clean, before:<time> (time as kho parses
// --time: RFC 3339 or "YYYY-MM-DD[ HH:MM[:SS]]", local time unless a zone is
// given), or a snapshot ID or prefix (4 to 64 hex digits).
struct SnapshotSelector {
  enum Kind { latest, latest_clean, before, by_id } kind = latest;
  TimeNs before_ns = 0;  // kind == before
  std::string id;        // kind == by_id
};
Result<SnapshotSelector> parse_snapshot_selector(std::string_view text);

struct TemplateVars {
  std::string root;
  std::string sandbox;
  std::string snapshot;
  std::string policy;
  std::map<std::string, std::string> extra;  // the runbook's vars (drill values in drills)
};

// Replaces {{root}}, {{sandbox}}, {{snapshot}}, {{policy}} and the names in
// vars.extra (spaces inside the braces allowed: {{ root }}). Unknown names are
// left as written (the loader has already refused them).
std::string expand_template(std::string_view text, const TemplateVars& vars);
Command expand_template(const Command& command, const TemplateVars& vars);

// The runbook for `kho runbook list/plan --json` (durations as *_s).
nlohmann::ordered_json to_json(const Runbook& runbook);

}  // namespace kho::orchestrate
