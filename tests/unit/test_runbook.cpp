// Runbooks: the example loads with every field in place, broken files report
// each issue at its file, line, column and field, names are unique across
// files, runbooks name existing policies, snapshot selectors and templates.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "kho/orchestrate/runbook.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

#ifndef KHO_SOURCE_DIR
#define KHO_SOURCE_DIR "."
#endif

using namespace kho;
using namespace kho::orchestrate;

using kho::test::write_file;

namespace {

std::vector<std::string> formatted(const RunbookLoadResult& r, const std::string& strip = "") {
  std::vector<std::string> out;
  for (const auto& i : r.issues) {
    std::string text = format_issue(i);
    if (!strip.empty() && text.rfind(strip, 0) == 0) text = text.substr(strip.size());
    out.push_back(text);
  }
  return out;
}

// A valid runbook; the broken ones below add lines from line 6 on.
const std::string k_base_runbook =
    "name: r\n"
    "policy: portal\n"
    "steps:\n"
    "  - name: a\n"
    "    run: echo a\n";

const std::string k_templates = "(templates: {{root}}, {{sandbox}}, {{snapshot}}, {{policy}})";

struct BrokenRunbook {
  const char* what;
  std::string yaml;
  // Formatted issues in order; an entry ending in "..." matches as a prefix.
  std::vector<std::string> expected;
};

Policy policy_named(const std::string& name) {
  Policy p;
  p.name = name;
  return p;
}

}  // namespace

TEST_CASE("Every example runbook validates against the example policies", "[runbook]") {
  RunbookLoadResult r = load_runbook_dir(std::filesystem::path(KHO_SOURCE_DIR) / "restore-scripts");
  LoadResult policies = load_policy_dir(std::filesystem::path(KHO_SOURCE_DIR) / "policies");
  REQUIRE(policies.ok());
  check_runbook_policies(r, policies.policies);
  for (const auto& i : r.issues) FAIL_CHECK(format_issue(i));
  std::vector<std::string> names;
  for (const auto& b : r.runbooks) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"example-portal-recovery", "portal-recovery"});
}

TEST_CASE("The portal runbook parses to the expected values", "[runbook]") {
  std::string file = (std::filesystem::path(KHO_SOURCE_DIR) / "restore-scripts" / "portal-recovery.yaml").string();
  RunbookLoadResult r = load_runbook_file(file);
  for (const auto& i : r.issues) FAIL_CHECK(format_issue(i));
  REQUIRE(r.runbooks.size() == 1);
  const Runbook& b = r.runbooks[0];
  CHECK(b.name == "portal-recovery");
  CHECK(b.policy == "portal");
  CHECK(b.policy_line == 2);
  CHECK(b.policy_column == 9);
  CHECK(b.description == "Bring the public-service portal back after an attack");
  CHECK(b.snapshot == "latest-clean");
  CHECK(b.rto_s == 1800.0);
  CHECK(b.file == file);
  REQUIRE(b.steps.size() == 6);

  const RunbookStep& stop = b.steps[0];
  CHECK(stop.name == "Stop the web server");
  CHECK(stop.action == StepAction::run);
  REQUIRE(stop.run);
  CHECK(stop.run->shell);
  CHECK(stop.run->script == "systemctl stop nginx");
  CHECK(stop.drill == DrillMode::skip);
  CHECK_FALSE(stop.drill_run);
  CHECK(stop.line == 7);
  CHECK(stop.critical);
  CHECK(stop.retries == 0);
  CHECK(stop.retry_delay_s == 5.0);
  CHECK_FALSE(stop.timeout_s);
  CHECK_FALSE(stop.background);

  const RunbookStep& uploads = b.steps[1];
  CHECK(uploads.action == StepAction::restore);
  CHECK_FALSE(uploads.run);
  CHECK(uploads.restore.paths == std::vector<std::string>{"/srv/portal/uploads"});
  CHECK(uploads.restore.target == "/");
  CHECK(uploads.drill == DrillMode::same);
  CHECK(uploads.line == 10);

  const RunbookStep& dump = b.steps[2];
  CHECK(dump.action == StepAction::restore);
  CHECK(dump.restore.paths == std::vector<std::string>{"db/portal.dump"});
  CHECK(dump.restore.target == "/var/tmp/kho-restore");
  CHECK(dump.line == 12);

  const RunbookStep& load = b.steps[3];
  CHECK(load.name == "Load the database");
  REQUIRE(load.run);
  CHECK(load.run->script == "pg_restore --clean --dbname=portal {{root}}/var/tmp/kho-restore/db/portal.dump");
  CHECK(load.timeout_s == 1200.0);
  CHECK(load.retries == 1);
  CHECK(load.drill == DrillMode::replace);
  REQUIRE(load.drill_run);
  CHECK(load.drill_run->script ==
        "pg_restore --dbname=postgresql://127.0.0.1:55432/portal {{root}}/var/tmp/kho-restore/db/portal.dump");
  CHECK_FALSE(load.drill_background);
  CHECK(load.line == 14);

  const RunbookStep& start = b.steps[4];
  CHECK(start.run->script == "systemctl start nginx");
  CHECK(start.drill == DrillMode::replace);
  CHECK(start.drill_run->script == "python3 -m http.server 58080 --directory {{root}}/srv/portal/uploads");
  CHECK(start.drill_background);
  CHECK_FALSE(start.background);
  CHECK(start.line == 20);

  const RunbookStep& wait = b.steps[5];
  CHECK(wait.action == StepAction::wait_for);
  CHECK(wait.wait_for.tcp == "127.0.0.1:58080");
  CHECK(wait.wait_for.http.empty());
  CHECK(wait.wait_for.file.empty());
  CHECK(wait.wait_for.timeout_s == 120.0);
  CHECK(wait.wait_for.interval_s == 1.0);
  CHECK_FALSE(wait.critical);
  CHECK(wait.line == 25);

  REQUIRE(b.verify.size() == 3);
  CHECK(b.verify[0].kind == VerifyKind::files_match_snapshot);
  CHECK(b.verify[0].path == "/srv/portal/uploads");
  CHECK(b.verify[0].line == 29);
  CHECK(b.verify[1].kind == VerifyKind::http);
  CHECK(b.verify[1].url == "http://127.0.0.1:58080/");
  CHECK(b.verify[1].status == 200);
  CHECK(b.verify[1].contains == "portal");
  CHECK(b.verify[1].timeout_s == 30.0);
  CHECK(b.verify[1].line == 30);
  CHECK(b.verify[2].kind == VerifyKind::command);
  REQUIRE(b.verify[2].command);
  CHECK(b.verify[2].command->script == "test -s {{root}}/var/tmp/kho-restore/db/portal.dump");
  CHECK(b.verify[2].expect_exit == 0);
  CHECK(b.verify[2].expect_contains.empty());
  CHECK(b.verify[2].line == 31);

  auto j = to_json(b);
  CHECK(j["name"] == "portal-recovery");
  CHECK(j["rto_s"] == 1800.0);
  CHECK(j["steps"][0]["drill"]["mode"] == "skip");
  CHECK(j["steps"][1]["action"] == "restore");
  CHECK(j["steps"][1]["run"].is_null());
  CHECK(j["steps"][1]["restore"]["target"] == "/");
  CHECK(j["steps"][3]["timeout_s"] == 1200.0);
  CHECK(j["steps"][3]["retry_delay_s"] == 5.0);
  CHECK(j["steps"][4]["drill"]["run"]["shell"] ==
        "python3 -m http.server 58080 --directory {{root}}/srv/portal/uploads");
  CHECK(j["steps"][5]["wait_for"]["tcp"] == "127.0.0.1:58080");
  CHECK(j["steps"][5]["wait_for"]["timeout_s"] == 120.0);
  CHECK(j["steps"][5]["critical"] == false);
  CHECK(j["verify"][0]["kind"] == "files_match_snapshot");
  CHECK(j["verify"][1]["status"] == 200);
  CHECK(j["verify"][2]["command"]["shell"] == "test -s {{root}}/var/tmp/kho-restore/db/portal.dump");
  CHECK(j["verify"][2]["expect"]["exit"] == 0);
}

TEST_CASE("Optional runbook fields, list commands and other checks land in the model", "[runbook]") {
  RunbookLoadResult r = load_runbook_text(
      "name: t\n"
      "policy: mysql-app\n"
      "steps:\n"
      "  - name: load\n"
      "    run: [mysql, --database, '{{ policy }}']\n"
      "    background: true\n"
      "    retries: 2\n"
      "    retry_delay: 1m\n"
      "    drill: {run: [true]}\n"
      "  - name: wait\n"
      "    wait_for: {http: 'http://127.0.0.1:8080/health', timeout: 10s, interval: 2s}\n"
      "  - name: pid\n"
      "    wait_for: {file: '{{root}}/run/app.pid'}\n"
      "  - name: ids\n"
      "    run: docker inspect -f '{{.State.Running}}' app\n"
      "verify:\n"
      "  - tcp: {address: '[::1]:3306', timeout: 5s}\n"
      "  - tcp: db:3306\n"
      "  - http: https://example.org/\n"
      "  - command: mysql -e 'select 1'\n"
      "    expect: {exit: 1, stdout_contains: '{{snapshot}}'}\n"
      "    timeout: 1m\n",
      "t.yaml");
  for (const auto& i : r.issues) FAIL_CHECK(format_issue(i));
  REQUIRE(r.runbooks.size() == 1);
  const Runbook& b = r.runbooks[0];
  CHECK(b.snapshot == "latest");
  CHECK_FALSE(b.rto_s);
  REQUIRE(b.steps.size() == 4);
  REQUIRE(b.steps[0].run);
  CHECK(b.steps[0].run->argv == std::vector<std::string>{"mysql", "--database", "{{ policy }}"});
  CHECK(b.steps[0].background);
  CHECK(b.steps[0].retries == 2);
  CHECK(b.steps[0].retry_delay_s == 60.0);
  CHECK(b.steps[0].drill_run->argv == std::vector<std::string>{"true"});
  CHECK(b.steps[1].wait_for.http == "http://127.0.0.1:8080/health");
  CHECK(b.steps[1].wait_for.timeout_s == 10.0);
  CHECK(b.steps[1].wait_for.interval_s == 2.0);
  CHECK(b.steps[2].wait_for.file == "{{root}}/run/app.pid");
  CHECK(b.steps[2].wait_for.timeout_s == 60.0);
  CHECK(b.steps[3].run->script == "docker inspect -f '{{.State.Running}}' app");
  REQUIRE(b.verify.size() == 4);
  CHECK(b.verify[0].tcp == "[::1]:3306");
  CHECK(b.verify[0].timeout_s == 5.0);
  CHECK(b.verify[1].tcp == "db:3306");
  CHECK(b.verify[1].timeout_s == 30.0);
  CHECK(b.verify[2].url == "https://example.org/");
  CHECK(b.verify[2].status == 200);
  CHECK(b.verify[3].expect_exit == 1);
  CHECK(b.verify[3].expect_contains == "{{snapshot}}");
  CHECK(b.verify[3].timeout_s == 60.0);
  auto j = to_json(b);
  CHECK(j["steps"][0]["run"]["argv"] == nlohmann::ordered_json::array({"mysql", "--database", "{{ policy }}"}));
  CHECK(j["verify"][0]["address"] == "[::1]:3306");
  CHECK(j["verify"][3]["expect"]["stdout_contains"] == "{{snapshot}}");
}

TEST_CASE("Broken runbooks report every issue with file, line, column and field", "[runbook]") {
  const std::vector<BrokenRunbook> cases = {
      {"unknown keys at the top, in a step and in a verify entry",
       k_base_runbook + "sanpshot: latest\n"
                "verify:\n"
                "  - command: true\n"
                "    expekt: {exit: 0}\n"
                "frobnicate: 1\n",
       {"r.yaml:6:1: sanpshot: unknown key 'sanpshot'; did you mean 'snapshot'?",
        "r.yaml:9:5: verify[0].expekt: unknown key 'expekt'; did you mean 'expect'?",
        "r.yaml:10:1: frobnicate: unknown key 'frobnicate' (known keys: name, policy, description, snapshot, rto, "
        "vars, drill, steps, verify)"}},
      {"a step with a misspelt action has no action",
       "name: r\n"
       "policy: portal\n"
       "steps:\n"
       "  - name: a\n"
       "    rn: echo a\n",
       {"r.yaml:4:5: steps[0]: a step needs one of run, restore, wait_for",
        "r.yaml:5:5: steps[0].rn: unknown key 'rn'; did you mean 'run'?"}},
      {"a step with no action, one with two",
       k_base_runbook + "  - name: b\n"
                "    critical: false\n"
                "  - name: c\n"
                "    run: echo c\n"
                "    wait_for: {tcp: 'db:5432'}\n",
       {"r.yaml:6:5: steps[1]: a step needs one of run, restore, wait_for",
        "r.yaml:10:15: steps[2].wait_for: a step has one action and this one already has 'run'; make two steps"}},
      {"drill.run on a restore step, background and timeout without run",
       k_base_runbook + "  - name: b\n"
                "    restore: {paths: [/srv], target: /}\n"
                "    drill: {run: echo}\n"
                "    background: true\n"
                "  - name: c\n"
                "    wait_for: {file: /run/x.pid}\n"
                "    timeout: 1m\n",
       {"r.yaml:8:18: steps[1].drill.run: a `drill.run` on a step without `run`: restore and wait_for steps run as "
        "written in a drill (restores go under the sandbox)...",
        "r.yaml:9:17: steps[1].background: background goes with run, not with restore",
        "r.yaml:12:14: steps[2].timeout: timeout goes with run, not with wait_for"}},
      {"unknown templates name their field",
       k_base_runbook + "  - name: b\n"
                "    run: cat {{rot}}/x\n"
                "    drill: {run: [cat, '{{ snapshot_id }}']}\n"
                "  - name: c\n"
                "    restore: {paths: [/srv], target: '{{home}}/x'}\n"
                "verify:\n"
                "  - files_match_snapshot: '{{sandbox}}/srv'\n"
                "  - http: {url: 'http://{{host}}/', contains: '{{policy}}'}\n",
       {"r.yaml:7:10: steps[1].run: unknown template '{{rot}}'; did you mean '{{root}}'? " + k_templates,
        "r.yaml:8:24: steps[1].drill.run[1]: unknown template '{{ snapshot_id }}'; did you mean '{{snapshot}}'? " +
            k_templates,
        "r.yaml:10:38: steps[2].restore.target: unknown template '{{home}}' " + k_templates,
        "r.yaml:13:17: verify[1].http.url: unknown template '{{host}}'; did you mean '{{root}}'? " + k_templates}},
      {"a bad snapshot selector and bad durations",
       "name: r\n"
       "policy: portal\n"
       "snapshot: yesterday\n"
       "rto: 30 min\n"
       "steps:\n"
       "  - name: a\n"
       "    run: echo a\n"
       "    timeout: 0s\n"
       "    retry_delay: soon\n"
       "  - name: b\n"
       "    wait_for: {tcp: 'db:5432', timeout: 2 minutes}\n",
       {"r.yaml:3:11: snapshot: 'yesterday' is not a snapshot selector: use latest, latest-clean, before:<time> "
        "(e.g. before:2026-02-10T00:00) or a snapshot ID or prefix (4 to 64 hex digits)",
        "r.yaml:4:6: rto: '30 min' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)",
        "r.yaml:8:14: steps[0].timeout: '0s' is not longer than zero",
        "r.yaml:9:18: steps[0].retry_delay: 'soon' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)",
        "r.yaml:11:41: steps[1].wait_for.timeout: '2 minutes' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, "
        "1y)"}},
      {"a duplicate step name",
       k_base_runbook + "  - name: a\n"
                "    run: echo b\n",
       {"r.yaml:6:11: steps[1].name: step name 'a' is already used by steps[0]; names must be unique within a "
        "runbook"}},
      {"no name, no policy, no steps",
       "description: nothing else\n",
       {"r.yaml:1:1: name: missing: the runbook's name, e.g. name: portal-recovery",
        "r.yaml:1:1: policy: missing: the policy whose snapshots the runbook restores, e.g. policy: portal",
        "r.yaml:1:1: steps: missing: the steps that bring the system back, e.g. - name: ... run: ..."}},
      {"a bad name, empty steps, verify not a list",
       "name: Portal Recovery\n"
       "policy: portal\n"
       "steps: []\n"
       "verify: {http: 'http://x/'}\n",
       {"r.yaml:1:7: name: 'Portal Recovery' is not a valid runbook name: use at most 64 lower-case letters, "
        "digits, '-' and '_', starting with a letter or digit",
        "r.yaml:3:8: steps: no steps: give at least one step",
        "r.yaml:4:9: verify: expected a list of checks (- http: ..., - command: ...), got a map"}},
      {"restore and wait_for values",
       k_base_runbook + "  - name: b\n"
                "    restore: {paths: [../etc, /srv/../etc], target: var/tmp}\n"
                "  - name: c\n"
                "    restore: {target: /}\n"
                "  - name: d\n"
                "    wait_for: {tcp: 'db', http: 'ftp://x'}\n"
                "  - name: e\n"
                "    wait_for: {timeout: 1m}\n"
                "  - name: f\n"
                "    drill: later\n"
                "    run: x\n"
                "    retries: -1\n",
       {"r.yaml:7:23: steps[1].restore.paths[0]: '../etc' is not an absolute path or a relative file path without "
        "'..' (a relative path names a file a command source stored, e.g. db/portal.dump)",
        "r.yaml:7:31: steps[1].restore.paths[1]: '/srv/../etc' may not contain '..'",
        "r.yaml:7:53: steps[1].restore.target: 'var/tmp' is not an absolute path (the restore target, placed "
        "under {{root}})",
        "r.yaml:9:14: steps[2].restore.paths: missing: the snapshot paths to restore, e.g. paths: "
        "[/srv/portal/uploads]",
        "r.yaml:11:21: steps[3].wait_for.tcp: 'db' is not host:port (e.g. 127.0.0.1:5432)",
        "r.yaml:11:33: steps[3].wait_for.http: wait_for waits for one thing: give one of tcp, http, file",
        "r.yaml:13:15: steps[4].wait_for: wait_for needs one of tcp: HOST:PORT, http: URL, file: PATH",
        "r.yaml:15:12: steps[5].drill: expected skip or a map {run: ..., background: ...}, got 'later'",
        "r.yaml:17:14: steps[5].retries: expected a whole number of extra tries, 0 or more, got '-1'"}},
      {"verify entries",
       k_base_runbook + "verify:\n"
                "  - files_match_snapshot: srv/portal\n"
                "  - http: {url: 'http://x/', status: 999}\n"
                "    timeout: 5s\n"
                "  - tcp: 'db:99999'\n"
                "  - command: 'true'\n"
                "    http: 'http://x/'\n"
                "  - expect: {exit: 0}\n"
                "  - ping: db\n"
                "  - command: 'true'\n"
                "    expect: {exit: 256, stdout_contain: ok}\n",
       {"r.yaml:7:27: verify[0].files_match_snapshot: 'srv/portal' is not an absolute path (a path in the "
        "snapshot, compared under {{root}})",
        "r.yaml:8:38: verify[1].http.status: expected an HTTP status from 100 to 599, got '999'",
        "r.yaml:9:14: verify[1].timeout: timeout goes with command; http takes its options inside: http: {..., "
        "timeout: 10s}",
        "r.yaml:10:10: verify[2].tcp: 'db:99999': the port must be a number from 1 to 65535",
        "r.yaml:12:11: verify[3].http: a check tests one thing and this one already has 'http'...",
        "r.yaml:13:5: verify[4]: a check needs one of files_match_snapshot, http, tcp, command",
        "r.yaml:14:5: verify[5].ping: unknown key 'ping' (known keys: files_match_snapshot, http, tcp, command, "
        "expect, timeout)",
        "r.yaml:14:5: verify[5]: a check needs one of files_match_snapshot, http, tcp, command",
        "r.yaml:16:20: verify[6].expect.exit: expected an exit status from 0 to 255, got '256'",
        "r.yaml:16:25: verify[6].expect.stdout_contain: unknown key 'stdout_contain'; did you mean "
        "'stdout_contains'?"}},
      {"a YAML syntax error", k_base_runbook + "verify: [{http: x}\nrto: 1m\n", {"r.yaml:7:1: YAML syntax error: ..."}},
      {"a list instead of a map",
       "- name: r\n",
       {"r.yaml:1:1: expected a map with name, policy, steps, ... (one runbook per file), got a list"}},
      {"an empty file", "", {"r.yaml:1:1: the file holds no runbook: expected a map with name, policy and steps"}},
      {"two documents",
       k_base_runbook + "---\n" + k_base_runbook,
       {"r.yaml:7:1: one runbook per file: this file holds more than one YAML document"}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    RunbookLoadResult r = load_runbook_text(c.yaml, "r.yaml");
    CHECK(r.runbooks.empty());
    std::vector<std::string> got = formatted(r);
    for (std::size_t i = 0; i < std::max(got.size(), c.expected.size()); ++i) {
      std::string g = i < got.size() ? got[i] : "(none)";
      std::string e = i < c.expected.size() ? c.expected[i] : "(none)";
      INFO("issue " << i);
      if (e.size() > 3 && e.compare(e.size() - 3, 3, "...") == 0)
        CHECK(g.substr(0, e.size() - 3) == e.substr(0, e.size() - 3));
      else
        CHECK(g == e);
    }
  }
}

TEST_CASE("A runbook naming an unknown policy is reported at its policy field and left out", "[runbook]") {
  test::ScopedTempDir dir("kho-runbook");
  write_file(dir / "a.yaml", k_base_runbook);
  write_file(dir / "b.yaml", "name: b\n# the database\npolicy:   mysql-app\nsteps: [{name: x, run: 'true'}]\n");
  RunbookLoadResult r = load_runbook_dir(dir.path());
  REQUIRE(r.ok());
  REQUIRE(r.runbooks.size() == 2);
  check_runbook_policies(r, {policy_named("mail-gateway"), policy_named("fileshare")});
  CHECK(r.runbooks.empty());
  CHECK(formatted(r, dir.str() + "/") ==
        std::vector<std::string>{
            "a.yaml:2:9: policy: policy 'portal' does not exist (known: fileshare, mail-gateway)",
            "b.yaml:3:11: policy: policy 'mysql-app' does not exist (known: fileshare, mail-gateway)"});

  RunbookLoadResult again = load_runbook_dir(dir.path());
  check_runbook_policies(again, {policy_named("portal")});
  REQUIRE(again.runbooks.size() == 1);
  CHECK(again.runbooks[0].name == "r");
  REQUIRE(again.issues.size() == 1);
  CHECK(again.issues[0].message == "policy 'mysql-app' does not exist (known: portal)");

  RunbookLoadResult none = load_runbook_dir(dir.path());
  check_runbook_policies(none, {});
  CHECK(none.runbooks.empty());
  REQUIRE(none.issues.size() == 2);
  CHECK(none.issues[0].message == "policy 'portal' does not exist (known: none)");
}

TEST_CASE("A runbook name used by two files is reported at the later file, naming both", "[runbook]") {
  test::ScopedTempDir dir("kho-runbook");
  write_file(dir / "a.yaml", k_base_runbook);
  write_file(dir / "b.yml", "# copied\n" + k_base_runbook);
  write_file(dir / "c.yaml", "name: r\n");  // invalid otherwise, but the name still clashes
  write_file(dir / "README.md", "not a runbook\n");
  write_file(dir / ".hidden.yaml", "not: a runbook\n");
  RunbookLoadResult r = load_runbook_dir(dir.path());
  REQUIRE(r.runbooks.size() == 1);
  CHECK(r.runbooks[0].file == (dir / "a.yaml").string());
  std::string a = (dir / "a.yaml").string();
  std::string b = (dir / "b.yml").string();
  std::string c = (dir / "c.yaml").string();
  CHECK(formatted(r) ==
        std::vector<std::string>{
            b + ":2:7: name: runbook name 'r' is already used by " + a + " (line 1); names must be unique",
            c + ":1:1: policy: missing: the policy whose snapshots the runbook restores, e.g. policy: portal",
            c + ":1:1: steps: missing: the steps that bring the system back, e.g. - name: ... run: ...",
            c + ":1:7: name: runbook name 'r' is already used by " + a + " (line 1); names must be unique"});

  RunbookLoadResult files = load_runbook_files({dir / "b.yml", dir / "a.yaml"});
  REQUIRE(files.runbooks.size() == 1);
  CHECK(files.runbooks[0].file == b);
  REQUIRE(files.issues.size() == 1);
  CHECK(format_issue(files.issues[0]) ==
        a + ":1:7: name: runbook name 'r' is already used by " + b + " (line 2); names must be unique");

  RunbookLoadResult missing = load_runbook_file(dir / "none.yaml");
  REQUIRE(missing.issues.size() == 1);
  CHECK(format_issue(missing.issues[0]) == (dir / "none.yaml").string() + ": no such file");
  RunbookLoadResult no_dir = load_runbook_dir(dir / "none");
  REQUIRE(no_dir.issues.size() == 1);
  CHECK(format_issue(no_dir.issues[0]).rfind((dir / "none").string() + ": cannot read the runbook directory: ", 0) ==
        0);
}

TEST_CASE("Snapshot selectors", "[runbook]") {
  using Kind = SnapshotSelector::Kind;
  struct Row {
    const char* text;
    Kind kind;
    const char* id;
  };
  const std::vector<Row> good = {
      {"latest", Kind::latest, ""},
      {"latest-clean", Kind::latest_clean, ""},
      {"abcd", Kind::by_id, "abcd"},
      {"0123456789ABCDEF", Kind::by_id, "0123456789abcdef"},
      {"4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a", Kind::by_id,
       "4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a"},
  };
  for (const auto& row : good) {
    INFO(row.text);
    SnapshotSelector s = value_of(parse_snapshot_selector(row.text));
    CHECK(s.kind == row.kind);
    CHECK(s.id == row.id);
  }

  SnapshotSelector utc = value_of(parse_snapshot_selector("before:2026-02-10T00:00:00Z"));
  CHECK(utc.kind == Kind::before);
  CHECK(utc.before_ns == 1770681600LL * 1'000'000'000);
  SnapshotSelector local = value_of(parse_snapshot_selector("before:2026-02-10T00:00"));
  CHECK(local.kind == Kind::before);
  CHECK(local.before_ns == value_of(parse_time("2026-02-10 00:00")));

  for (const char* bad : {"", "Latest", "latest-dirty", "abc", "xyz123", "before:", "before:yesterday", "abcd ",
                          "4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a0"}) {
    INFO(bad);
    auto s = parse_snapshot_selector(bad);
    REQUIRE_FALSE(s);
    CHECK(s.error().code() == Errc::invalid_argument);
    std::string message = s.error().message();
    if (std::string(bad).rfind("before:", 0) == 0)
      CHECK(message.rfind("'" + std::string(bad) + "': ", 0) == 0);
    else
      CHECK(message == "'" + std::string(bad) +
                           "' is not a snapshot selector: use latest, latest-clean, before:<time> (e.g. "
                           "before:2026-02-10T00:00) or a snapshot ID or prefix (4 to 64 hex digits)");
  }
}

TEST_CASE("Runbook vars are templates, with drill values", "[runbook]") {
  auto r = load_runbook_text(k_base_runbook.substr(0, k_base_runbook.find("steps:")) +
                                 "vars: {web_port: 58080, db_port: \"55433\"}\n"
                                 "drill: {vars: {web_port: 58081}}\n"
                                 "steps:\n"
                                 "  - name: a\n"
                                 "    wait_for: {tcp: '127.0.0.1:{{web_port}}'}\n"
                                 "verify:\n"
                                 "  - http: {url: 'http://127.0.0.1:{{ web_port }}/'}\n",
                             "r.yaml");
  INFO(formatted(r).size());
  REQUIRE(r.ok());
  const Runbook& rb = r.runbooks.at(0);
  CHECK(rb.vars == std::map<std::string, std::string>{{"db_port", "55433"}, {"web_port", "58080"}});
  CHECK(rb.drill_vars == std::map<std::string, std::string>{{"web_port", "58081"}});

  auto bad = load_runbook_text(k_base_runbook.substr(0, k_base_runbook.find("steps:")) +
                                   "vars: {web_port: 58080, root: x}\n"
                                   "drill: {vars: {db_port: 1}}\n"
                                   "steps:\n"
                                   "  - name: a\n"
                                   "    run: echo {{web_prot}}\n",
                               "r.yaml");
  auto lines = formatted(bad);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("vars.root: 'root' is set by kho") != std::string::npos);
  CHECK(lines[1].find("drill.vars.db_port: 'db_port' is not declared in vars") != std::string::npos);
  CHECK(lines[2].find("did you mean '{{web_port}}'?") != std::string::npos);
}

TEST_CASE("Templates expand in texts and commands", "[runbook]") {
  TemplateVars drill{"/var/tmp/kho-drill-1", "/var/tmp/kho-drill-1", "4f3c2b1a", "portal", {{"web_port", "58081"}}};
  TemplateVars real{"", "", "4f3c2b1a", "portal", {}};
  CHECK(expand_template("{{root}}/var/tmp/x", drill) == "/var/tmp/kho-drill-1/var/tmp/x");
  CHECK(expand_template("{{root}}/var/tmp/x", real) == "/var/tmp/x");
  CHECK(expand_template("{{ sandbox }}|{{snapshot}}|{{  policy}}", drill) == "/var/tmp/kho-drill-1|4f3c2b1a|portal");
  CHECK(expand_template("{{sandbox}}", real).empty());
  CHECK(expand_template("http://127.0.0.1:{{ web_port }}/", drill) == "http://127.0.0.1:58081/");
  CHECK(expand_template("{{web_port}}", real) == "{{web_port}}");
  CHECK(expand_template("{{other}} {{.State.Running}} {{root", drill) == "{{other}} {{.State.Running}} {{root");
  CHECK(expand_template("{{{root}}}", real) == "{{{root}}}");
  CHECK(expand_template("no templates", drill) == "no templates");

  Command shell{true, "pg_restore {{root}}/db.dump", {}};
  CHECK(expand_template(shell, drill).script == "pg_restore /var/tmp/kho-drill-1/db.dump");
  CHECK(expand_template(shell, drill).shell);
  Command argv{false, "", {"cat", "{{root}}/x", "{{policy}}"}};
  CHECK(expand_template(argv, real).argv == std::vector<std::string>{"cat", "/x", "portal"});
}
