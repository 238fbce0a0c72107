// Policy files: the examples validate, broken files report every issue at its
// line and column, names are unique across files, values land in the model.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

#ifndef KHO_SOURCE_DIR
#define KHO_SOURCE_DIR "."
#endif

using namespace kho;
using namespace kho::orchestrate;

using kho::test::write_file;

namespace {

// The issues of `yaml` loaded from dir/p.yaml, formatted, without the directory.
std::vector<std::string> issues_of(const test::ScopedTempDir& dir, const std::string& yaml) {
  write_file(dir / "p.yaml", yaml);
  LoadResult r = load_policy_file(dir / "p.yaml");
  std::vector<std::string> out;
  for (const auto& i : r.issues) {
    std::string text = format_issue(i);
    out.push_back(text.substr(dir.str().size() + 1));
  }
  CHECK(r.policies.empty() == !r.issues.empty());
  return out;
}

// A valid policy; the broken ones below add lines from line 5 on.
const std::string k_base =
    "name: t\n"
    "repository: /var/backups/kho/t\n"
    "password_file: /etc/kho/t.pass\n"
    "sources: [{path: /srv/t}]\n";

struct BrokenCase {
  const char* what;
  std::string yaml;
  // Formatted issues in order; an entry ending in "..." matches as a prefix
  // (for messages that end in text from the cron and time zone libraries).
  std::vector<std::string> expected;
};

}  // namespace

TEST_CASE("Every example policy validates", "[policy]") {
  LoadResult r = load_policy_dir(std::filesystem::path(KHO_SOURCE_DIR) / "policies");
  for (const auto& i : r.issues) FAIL_CHECK(format_issue(i));
  std::vector<std::string> names;
  for (const auto& p : r.policies) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"example-portal", "fileshare", "mail-gateway", "mysql-app", "portal"});
}

TEST_CASE("The portal example parses to the expected values", "[policy]") {
  LoadResult r = load_policy_file(std::filesystem::path(KHO_SOURCE_DIR) / "policies" / "portal.yaml");
  REQUIRE(r.ok());
  REQUIRE(r.policies.size() == 1);
  const Policy& p = r.policies[0];
  CHECK(p.name == "portal");
  CHECK(p.description == "Provincial public-service portal (PostgreSQL + uploaded documents)");
  CHECK(p.repository == "/var/backups/kho/portal");
  CHECK(p.password.file == "/etc/kho/portal.pass");
  CHECK_FALSE(p.password.command);
  REQUIRE(p.sources.size() == 3);
  CHECK(p.sources[0].path == "/srv/portal/uploads");
  CHECK(p.sources[1].path == "/etc/nginx");
  REQUIRE(p.sources[2].is_command());
  CHECK(p.sources[2].command->shell);
  CHECK(p.sources[2].command->script == "pg_dump --format=custom portal");
  CHECK(p.sources[2].filename == "db/portal.dump");
  CHECK(p.exclude == std::vector<std::string>{"*.tmp", "**/cache/**"});
  CHECK(p.schedule == "30 1 * * *");
  CHECK(p.timezone == "Asia/Ho_Chi_Minh");
  REQUIRE(p.retention);
  CHECK(p.retention->keep_daily == 14);
  CHECK(p.retention->keep_weekly == 8);
  CHECK(p.retention->keep_monthly == 12);
  CHECK(p.retention->keep_last == 0);
  CHECK_FALSE(p.retention->keep_within_s);
  CHECK_FALSE(p.prune);
  REQUIRE(p.check);
  CHECK(p.check->schedule == "0 3 * * 0");
  CHECK(p.check->read_data_subset == "10%");
  REQUIRE(p.copy_to.size() == 1);
  CHECK(p.copy_to[0].repository == "/mnt/offline-disk/kho/portal");
  CHECK_FALSE(p.copy_to[0].password);
  CHECK(p.objectives.rpo_s == 86400.0);
  CHECK(p.objectives.rto_s == 1800.0);
  REQUIRE(p.hooks.before.size() == 1);
  CHECK(p.hooks.before[0].exec_argv() == std::vector<std::string>{"sh", "-c", "systemctl is-active postgresql"});
  CHECK(p.hooks.after.empty());
  REQUIRE(p.hooks.on_failure.size() == 1);
  CHECK(p.hooks.on_failure[0].script == "logger -t kho 'portal backup failed'");
  REQUIRE(p.notify);
  CHECK(p.notify->webhook == "http://127.0.0.1:9000/kho");
  CHECK_FALSE(p.notify->command);
  CHECK(p.notify->on == std::vector<NotifyEvent>{NotifyEvent::failure, NotifyEvent::anomaly});
  CHECK(p.snapshot_tags() == std::vector<std::string>{"portal"});
  CHECK(p.host.empty());
  CHECK_FALSE(p.one_file_system);
  CHECK_FALSE(p.timeout_s);
  CHECK(p.retry.attempts == 3);
  CHECK(p.retry.delay_s == 600.0);

  auto j = to_json(p);
  CHECK(j["name"] == "portal");
  CHECK(j["sources"][2]["command"]["shell"] == "pg_dump --format=custom portal");
  CHECK(j["objectives"]["rpo_s"] == 86400.0);
  CHECK(j["notify"]["on"] == nlohmann::ordered_json::array({"failure", "anomaly"}));
  CHECK(j["prune"].is_null());
  CHECK(j["tags"] == nlohmann::ordered_json::array({"portal"}));
}

TEST_CASE("Optional fields and list commands land in the model", "[policy]") {
  test::ScopedTempDir dir("kho-policy");
  write_file(dir / "p.yaml",
             "name: t\n"
             "repository: /var/backups/kho/t\n"
             "password_file:\n"  // null: as if absent
             "password_command: [pass, show, 'kho/t']\n"
             "sources:\n"
             "  - command: [mysqldump, --single-transaction, \"it's\"]\n"
             "    filename: db/t.sql\n"
             "tags: [t, mariadb]\n"
             "host: db-vip\n"
             "one_file_system: true\n"
             "retention: {keep_last: -1, keep_within: 1h30m, keep_tags: [keep]}\n"
             "prune: {schedule: '0 4 * * 6'}\n"
             "copy_to:\n"
             "  - repository: rest:https://u:secret@backup.example:8000/t/\n"
             "    password_command: pass show kho/t-dr\n"
             "notify: {command: [/usr/local/bin/alert], on: [late, success, late]}\n"
             "objectives: {rpo: 1d}\n"
             "timeout: 90s\n"
             "retry: {attempts: 5, delay: 2m}\n");
  LoadResult r = load_policy_file(dir / "p.yaml");
  for (const auto& i : r.issues) FAIL_CHECK(format_issue(i));
  REQUIRE(r.policies.size() == 1);
  const Policy& p = r.policies[0];
  REQUIRE(p.password.command);
  CHECK(p.password.command->argv == std::vector<std::string>{"pass", "show", "kho/t"});
  CHECK(p.password.file.empty());
  REQUIRE(p.sources.size() == 1);
  CHECK_FALSE(p.sources[0].command->shell);
  CHECK(p.sources[0].command->shell_text() == "mysqldump --single-transaction 'it'\\''s'");
  CHECK(p.snapshot_tags() == std::vector<std::string>{"t", "mariadb"});
  CHECK(p.host == "db-vip");
  CHECK(p.one_file_system);
  REQUIRE(p.retention);
  CHECK(p.retention->keep_last == -1);
  CHECK(p.retention->keep_within_s == 5400.0);
  CHECK(p.retention->keep_tags == std::vector<std::string>{"keep"});
  REQUIRE(p.prune);
  CHECK(p.prune->schedule == "0 4 * * 6");
  CHECK(p.schedule.empty());
  CHECK(p.timezone.empty());
  REQUIRE(p.copy_to.size() == 1);
  REQUIRE(p.copy_to[0].password);
  CHECK(p.copy_to[0].password->command->script == "pass show kho/t-dr");
  REQUIRE(p.notify);
  CHECK(p.notify->on == std::vector<NotifyEvent>{NotifyEvent::late, NotifyEvent::success});
  CHECK(p.timeout_s == 90.0);
  CHECK(p.retry.attempts == 5);
  CHECK(p.retry.delay_s == 120.0);
  auto j = to_json(p);
  CHECK(j["copy_to"][0]["repository"] == "rest:https://u:***@backup.example:8000/t/");
  CHECK(j["password"]["command"]["argv"] == nlohmann::ordered_json::array({"pass", "show", "kho/t"}));
}

TEST_CASE("Broken policies report every issue with file, line, column and field", "[policy]") {
  const std::vector<BrokenCase> cases = {
      {"typos in keys get a suggestion; other unknown keys list the known ones",
       k_base + "retension: {keep_daily: 7}\n"
                "retention: {keep_dayly: 7, keep_weekly: 4}\n"
                "objectives: {rpo: 24h, rto_time: 1h}\n"
                "frobnicate: 1\n"
                "compression: 19\n",
       {"p.yaml:5:1: retension: unknown key 'retension'; did you mean 'retention'?",
        "p.yaml:6:13: retention.keep_dayly: unknown key 'keep_dayly'; did you mean 'keep_daily'?",
        "p.yaml:7:24: objectives.rto_time: unknown key 'rto_time' (known keys: rpo, rto)",
        "p.yaml:8:1: frobnicate: unknown key 'frobnicate' (known keys: name, description, repository, ...",
        "p.yaml:9:1: compression: unknown key 'compression': compression is a property of the repository, set "
        "by `kho init --compression`"}},
      {"wrong types",
       "name: t\n"
       "repository: /r\n"
       "password_file: /p\n"
       "sources: /srv/t\n"
       "exclude: '*.tmp'\n"
       "one_file_system: 'yes'\n"
       "retention: {keep_daily: '14', keep_weekly: 2.5}\n"
       "hooks: {before: systemctl is-active postgresql, after: [{run: x}]}\n"
       "retry: {attempts: 0}\n"
       "check: [weekly]\n",
       {"p.yaml:4:10: sources: expected a list of sources (- path: ... or - command: ...), got '/srv/t'",
        "p.yaml:5:10: exclude: expected a list of glob patterns, got '*.tmp'",
        "p.yaml:6:18: one_file_system: expected true or false, got 'yes'",
        "p.yaml:7:25: retention.keep_daily: expected a whole number of snapshots (or -1 for no limit), got '14'",
        "p.yaml:7:44: retention.keep_weekly: expected a whole number of snapshots (or -1 for no limit), got '2.5'",
        "p.yaml:8:17: hooks.before: expected a list of commands (e.g. [\"systemctl is-active postgresql\"]), got "
        "'systemctl is-active postgresql'",
        "p.yaml:8:57: hooks.after[0]: expected a command: a string (run with sh -c) or a list of strings (program "
        "and arguments, run without a shell), got a map",
        "p.yaml:9:19: retry.attempts: expected a whole number of attempts, 1 or more, got '0'",
        "p.yaml:10:8: check: expected a map with schedule, read_data_subset, got a list"}},
      {"bad cron schedules and time zone",
       k_base + "schedule: \"61 1 * * *\"\n"
                "timezone: Mars/Olympus_Mons\n"
                "check: {schedule: every sunday}\n"
                "prune: {}\n",
       {"p.yaml:5:11: schedule: bad cron schedule '61 1 * * *': ...",
        "p.yaml:6:11: timezone: cannot load time zone 'Mars/Olympus_Mons' (...",
        "p.yaml:7:19: check.schedule: bad cron schedule 'every sunday': ...",
        "p.yaml:8:8: prune.schedule: missing: when to prune, in cron syntax, e.g. \"0 4 * * 6\""}},
      {"bad durations",
       k_base + "objectives: {rpo: 24, rto: 30 min}\n"
                "timeout: 0s\n"
                "retention: {keep_within: 2 weeks}\n",
       {"p.yaml:5:19: objectives.rpo: '24' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)",
        "p.yaml:5:28: objectives.rto: '30 min' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)",
        "p.yaml:6:10: timeout: '0s' is not longer than zero",
        "p.yaml:7:26: retention.keep_within: '2 weeks' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)"}},
      {"no name, no repository, no password source, no sources",
       "description: nothing else\n",
       {"p.yaml:1:1: name: missing: the policy's name, e.g. name: portal",
        "p.yaml:1:1: repository: missing: where snapshots are stored: an absolute path, sftp://host/path or "
        "rest:https://...",
        "p.yaml:1:1: password_file: no password source: set password_file (a file whose first line is the "
        "password) or password_command (a command that prints it); policies run unattended, so KHO_PASSWORD and "
        "the prompt are not used",
        "p.yaml:1:1: sources: missing: at least one source: - path: /srv/data, or - command: ... with filename: "
        "..."}},
      {"bad name, relative locations, both password sources",
       "name: Portal Web\n"
       "repository: backups/portal\n"
       "password_file: /etc/kho/p.pass\n"
       "password_command: pass show kho\n"
       "sources: [{path: /srv}]\n"
       "copy_to: [s3:bucket/portal, {password_file: /p}, /var/backups/kho/other, /var/backups/kho/other]\n",
       {"p.yaml:1:7: name: 'Portal Web' is not a valid policy name: use at most 64 lower-case letters, digits, '-' "
        "and '_', starting with a letter or digit (the name becomes a snapshot tag and part of file names)",
        "p.yaml:2:13: repository: 'backups/portal': a local repository path must be absolute (the scheduler does "
        "not run in your working directory)",
        "p.yaml:4:19: password_command: give password_file or password_command, not both",
        "p.yaml:6:11: copy_to[0]: repository location scheme 's3:' is not supported; use an absolute path, "
        "local:PATH, sftp://[user@]host[:port]/path or rest:http(s)://host:port/path",
        "p.yaml:6:29: copy_to[1].repository: missing: the location of the copy",
        "p.yaml:6:74: copy_to[3]: '/var/backups/kho/other' is already in copy_to"}},
      {"sources",
       "name: t\n"
       "repository: /r\n"
       "password_file: /p\n"
       "sources:\n"
       "  - path: srv/portal\n"
       "  - command: pg_dump portal\n"
       "  - path: /etc\n"
       "    command: tar c /etc\n"
       "  - /etc/nginx\n"
       "  - command: [pg_dump, portal]\n"
       "    filename: /db/portal.dump\n"
       "  - {filename: x}\n"
       "  - path: /etc/\n"
       "  - path: /etc\n"
       "  - command: ''\n"
       "    filename: ../x\n",
       {"p.yaml:5:11: sources[0].path: 'srv/portal' is not an absolute path",
        "p.yaml:6:5: sources[1].filename: missing: the name of the command's output inside the snapshot, e.g. "
        "db/portal.dump",
        "p.yaml:8:14: sources[2].command: a source has a path or a command, not both",
        "p.yaml:9:5: sources[3]: a source is a map, {path: /absolute/path} or {command: ..., filename: ...}; got "
        "'/etc/nginx'",
        "p.yaml:11:15: sources[4].filename: '/db/portal.dump' is not a relative file path inside the snapshot "
        "(e.g. db/portal.dump)",
        "p.yaml:12:5: sources[5]: a source needs path (a directory or file) or command (with filename)",
        "p.yaml:14:11: sources[7].path: '/etc' is already a source (sources[6])",
        "p.yaml:15:14: sources[8].command: the command is empty",
        "p.yaml:16:15: sources[8].filename: '../x' is not a relative file path inside the snapshot (e.g. "
        "db/portal.dump)"}},
      {"empty sources, a bad subset, empty retention, a duplicate key",
       "name: t\n"
       "repository: /r\n"
       "password_file: /p\n"
       "sources: []\n"
       "check: {schedule: '0 3 * * 0', read_data_subset: 110%}\n"
       "retention: {}\n"
       "name: u\n",
       {"p.yaml:4:10: sources: no sources: give at least one path or command",
        "p.yaml:5:50: check.read_data_subset: '110%' is not a subset: use N% (e.g. 10%) or n/m (e.g. 1/7)",
        "p.yaml:6:12: retention: retention keeps nothing: set at least one of keep_last, keep_hourly, "
        "keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within, keep_tags",
        "p.yaml:7:1: name: duplicate key 'name' (first at line 1)"}},
      {"notify",
       k_base + "notify: {on: [falure, late, reboot]}\n",
       {"p.yaml:5:15: notify.on[0]: unknown event 'falure'; did you mean 'failure'? (events: failure, success, "
        "anomaly, late)",
        "p.yaml:5:23: notify.on[1]: 'late' needs objectives.rpo or a schedule to know when a backup is late",
        "p.yaml:5:29: notify.on[2]: unknown event 'reboot' (events: failure, success, anomaly, late)"}},
      {"notify without a way to send",
       k_base + "notify: {on: [failure]}\n"
                "hooks: {on_failure: [[]]}\n",
       {"p.yaml:5:9: notify: notify needs a webhook, a command, or both",
        "p.yaml:6:22: hooks.on_failure[0]: the command is empty: a list command starts with the program to run"}},
      {"a YAML syntax error", k_base + "retention: {keep_daily: 7\ncheck: x\n",
       {"p.yaml:6:6: YAML syntax error: ..."}},
      {"an empty file", "",
       {"p.yaml:1:1: the file holds no policy: expected a map with name, repository, a password source and "
        "sources"}},
      {"a list instead of a map", "- name: t\n",
       {"p.yaml:1:1: expected a map with name, repository, sources, ... (one policy per file), got a list"}},
      {"two documents", k_base + "---\n" + k_base,
       {"p.yaml:6:1: one policy per file: this file holds more than one YAML document"}},
      // yaml-cpp 0.7 returns empty documents forever here: YAML::LoadAll never ends.
      {"a stray comma", ",cz", {"p.yaml:1:1: YAML syntax error: the parser cannot read past this point"}},
  };
  test::ScopedTempDir dir("kho-policy");
  for (const auto& c : cases) {
    INFO(c.what);
    std::vector<std::string> got = issues_of(dir, c.yaml);
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

TEST_CASE("A policy name used by two files is reported at the later file, naming both", "[policy]") {
  test::ScopedTempDir dir("kho-policy");
  write_file(dir / "a.yaml", k_base);
  write_file(dir / "b.yml", "# same system, copied\n" + k_base);
  write_file(dir / "c.yaml", "name: t\n");  // invalid otherwise, but the name still clashes
  write_file(dir / "README.md", "not a policy\n");
  write_file(dir / ".hidden.yaml", "not: a policy\n");
  LoadResult r = load_policy_dir(dir.path());
  REQUIRE(r.policies.size() == 1);
  CHECK(r.policies[0].file == (dir / "a.yaml").string());
  std::vector<std::string> messages;
  for (const auto& i : r.issues) messages.push_back(format_issue(i));
  std::string a = (dir / "a.yaml").string();
  std::string b = (dir / "b.yml").string();
  std::string c = (dir / "c.yaml").string();
  CHECK(messages ==
        std::vector<std::string>{
            b + ":2:7: name: policy name 't' is already used by " + a + " (line 1); names must be unique",
            c + ":1:1: repository: missing: where snapshots are stored: an absolute path, sftp://host/path or "
                "rest:https://...",
            c + ":1:1: password_file: no password source: set password_file (a file whose first line is the "
                "password) or password_command (a command that prints it); policies run unattended, so "
                "KHO_PASSWORD and the prompt are not used",
            c + ":1:1: sources: missing: at least one source: - path: /srv/data, or - command: ... with "
                "filename: ...",
            c + ":1:7: name: policy name 't' is already used by " + a + " (line 1); names must be unique"});
}

TEST_CASE("Missing files and directories are issues for the whole file", "[policy]") {
  test::ScopedTempDir dir("kho-policy");
  LoadResult f = load_policy_file(dir / "none.yaml");
  REQUIRE(f.issues.size() == 1);
  CHECK(format_issue(f.issues[0]) == (dir / "none.yaml").string() + ": no such file");
  LoadResult d = load_policy_dir(dir / "none");
  REQUIRE(d.issues.size() == 1);
  CHECK(format_issue(d.issues[0]).rfind((dir / "none").string() + ": cannot read the policy directory: ", 0) == 0);
  CHECK(load_policy_dir(dir.path()).ok());
}
