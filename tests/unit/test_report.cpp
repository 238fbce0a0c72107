// The incident-readiness report (orchestrate/report.hpp): the verdict rules on a
// real state database, the JSON fields, the Vietnamese texts and the HTML page.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kho/orchestrate/policy.hpp"
#include "kho/orchestrate/report.hpp"
#include "kho/orchestrate/runbook.hpp"
#include "kho/orchestrate/state.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho::orchestrate;
using Catch::Contains;
using kho::TimeNs;

namespace {

constexpr TimeNs k_now = 1'800'000'000LL * 1'000'000'000;  // a fixed "now"
constexpr TimeNs k_hour = 3600LL * 1'000'000'000;
constexpr TimeNs k_day = 24 * k_hour;

// What the state and files of one policy look like; the defaults make it READY.
struct Scenario {
  std::optional<TimeNs> backup_age = k_hour;  // unset: no successful backup
  double anomaly_score = 0.1;
  bool anomaly_flagged = false;
  std::optional<TimeNs> check_age = k_day;  // unset: never checked
  std::uint64_t check_bytes = 5000000;
  bool runbook = true;
  std::optional<TimeNs> drill_age = 2 * k_day;  // unset: never drilled
  bool drill_passed = true;
  double drill_rto_s = 600;  // target 30m
  std::string copy_kind = "offsite";
  bool append_only = true;
  std::optional<TimeNs> copy_age = k_hour;  // unset: never copied
  std::optional<TimeNs> failure_age;        // a failed backup run this long ago
};

const std::string k_repo = "rest:https://kho:s3cret@dr.example.vn:8000/portal";

Policy make_policy(const Scenario& s) {
  std::string yaml =
      "name: portal\n"
      "description: Cổng thông tin\n"
      "repository: /srv/kho/portal\n"
      "password_file: /etc/kho/portal.pass\n"
      "sources: [{path: /srv/portal}]\n"
      "objectives: {rpo: 24h, rto: 30m}\n"
      "copy_to:\n"
      "  - repository: \"" +
      k_repo + "\"\n" + (s.copy_kind.empty() ? "" : "    kind: " + s.copy_kind + "\n") +
      "    append_only: " + (s.append_only ? "true" : "false") + "\n";
  auto loaded = load_policy_text(yaml, "portal.yaml");
  INFO((loaded.issues.empty() ? std::string() : format_issue(loaded.issues[0])));
  REQUIRE(loaded.policies.size() == 1);
  return loaded.policies[0];
}

std::vector<Runbook> make_runbooks(const Scenario& s) {
  if (!s.runbook) return {};
  auto loaded = load_runbook_text(
      "name: portal-recovery\npolicy: portal\nsteps:\n  - name: Restore\n    restore: {paths: [/srv/portal], target: "
      "/}\n",
      "portal-recovery.yaml");
  INFO((loaded.issues.empty() ? std::string() : format_issue(loaded.issues[0])));
  REQUIRE(loaded.runbooks.size() == 1);
  return loaded.runbooks;
}

void add_run(StateDb& db, RunKind kind, TimeNs started, RunStatus status,
             nlohmann::json figures = nlohmann::json::object(), std::optional<std::string> snapshot = std::nullopt,
             std::optional<std::string> stage = std::nullopt) {
  RunStart start;
  start.policy = "portal";
  start.kind = kind;
  start.started_at = started;
  auto id = value_of(db.begin_run(start));
  RunOutcome out;
  out.status = status;
  out.finished_at = started + 60LL * 1'000'000'000;
  out.figures = std::move(figures);
  out.snapshot_id = std::move(snapshot);
  out.stage = std::move(stage);
  if (status == RunStatus::failed) out.error = "exit 1: something broke";
  ok(db.finish_run(id, out));
}

ReadinessReport build(const Scenario& s, const kho::test::ScopedTempDir& dir) {
  auto db = value_of(StateDb::open(dir / "state"));
  const std::string snap(64, 'a');
  // An older backup first, so the history has two points.
  add_run(db, RunKind::backup, k_now - 10 * k_day, RunStatus::success,
          {{"data_added", 1000}, {"total_bytes", 5000}, {"anomaly_score", 0.05}, {"anomaly_flagged", 0}},
          std::string(64, 'b'));
  if (!s.backup_age) {
    // Only failed backups then: replace the history with a failed run.
    db = value_of(StateDb::open(dir / "state2"));
    add_run(db, RunKind::backup, k_now - 3 * k_hour, RunStatus::failed, nlohmann::json::object(), std::nullopt,
            "backup");
  } else {
    add_run(db, RunKind::backup, k_now - *s.backup_age - 60LL * 1'000'000'000, RunStatus::success,
            {{"data_added", 2000},
             {"total_bytes", 7000},
             {"anomaly_score", s.anomaly_score},
             {"anomaly_flagged", s.anomaly_flagged ? 1 : 0}},
            snap);
  }
  if (s.check_age)
    add_run(db, RunKind::check, k_now - *s.check_age, RunStatus::success,
            {{"packs_read", 3}, {"bytes_read", s.check_bytes}});
  if (s.drill_age)
    add_run(db, RunKind::drill, k_now - *s.drill_age, s.drill_passed ? RunStatus::success : RunStatus::failed,
            {{"runbook", "portal-recovery"},
             {"verified", s.drill_passed},
             {"rto_s", s.drill_rto_s},
             {"rto_target_s", 1800},
             {"rto_met", s.drill_rto_s <= 1800}});
  if (s.copy_age) ok(db.record_copy("portal", {k_repo, k_now - *s.copy_age, snap}));
  if (s.failure_age)
    add_run(db, RunKind::copy, k_now - *s.failure_age, RunStatus::failed, nlohmann::json::object(), std::nullopt,
            "copy");
  ReportOptions o;
  o.now = k_now;
  return value_of(build_report({make_policy(s)}, make_runbooks(s), db, o));
}

std::vector<std::string> codes(const ReadinessReport& r) {
  std::vector<std::string> out;
  for (const auto& x : r.reasons) out.push_back(x.code);
  std::sort(out.begin(), out.end());
  return out;
}

bool has_action(const ReadinessReport& r, const std::string& code, const std::string& command = "") {
  return std::any_of(r.actions.begin(), r.actions.end(), [&](const Action& a) {
    return a.code == code && (command.empty() || a.command.find(command) != std::string::npos);
  });
}

}  // namespace

TEST_CASE("report: a well-kept policy is READY") {
  kho::test::ScopedTempDir dir("kho-report");
  auto r = build({}, dir);
  INFO(render_report(r, ReportFormat::text, ReportLang::en));
  CHECK(r.verdict == Verdict::ready);
  CHECK(r.reasons.empty());
  CHECK(r.actions.empty());
  REQUIRE(r.policies.size() == 1);
  const auto& p = r.policies[0];
  CHECK(p.snapshot.rpo_status == "OK");
  CHECK(p.check.bytes_read == 5000000u);
  REQUIRE(p.drills.size() == 1);
  CHECK(p.drills[0].verified);
  CHECK(p.drills[0].rto_met == true);
  REQUIRE(p.copies.size() == 1);
  CHECK(p.copies[0].destination.find("s3cret") == std::string::npos);
  CHECK(p.backups.size() == 2);
  CHECK(p.backups[1].repository_bytes == 3000);
  CHECK_THAT(render_report(r, ReportFormat::text, ReportLang::en), Contains("READY"));
}

TEST_CASE("report: each AT RISK reason") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  std::string code, action;
  std::vector<std::string> also;  // reasons that come with it
  SECTION("RPO late") {
    s.backup_age = 30 * k_hour;
    code = "rpo_late";
    action = "run_backup";
  }
  SECTION("no check") {
    s.check_age.reset();
    code = "no_check";
    action = "run_check";
  }
  SECTION("old check") {
    s.check_age = 8 * k_day;
    code = "check_old";
    action = "run_check";
  }
  SECTION("no runbook") {
    s.runbook = false;
    code = "no_runbook";
    action = "write_runbook";
  }
  SECTION("never drilled") {
    s.drill_age.reset();
    code = "drill_never";
    action = "run_drill";
  }
  SECTION("old drill") {
    s.drill_age = 31 * k_day;
    code = "drill_old";
    action = "run_drill";
  }
  SECTION("failed drill") {
    s.drill_passed = false;
    code = "drill_failed";
    action = "run_drill";
    also = {"failures"};  // the failed drill is a failure of the last 7 days too
  }
  SECTION("RTO missed") {
    s.drill_rto_s = 2400;
    code = "rto_missed";
    action = "speed_up_recovery";
  }
  SECTION("copy never made") {
    s.copy_age.reset();
    code = "copy_never";
    action = "run_backup";
  }
  SECTION("old copy") {
    s.copy_age = 8 * k_day;
    code = "copy_old";
    action = "run_backup";
  }
  SECTION("no offline or offsite copy") {
    s.copy_kind = "";
    code = "no_separate_copy";
    action = "add_offline_copy";
  }
  SECTION("no append-only copy") {
    s.append_only = false;
    code = "no_append_only";
    action = "add_append_only_copy";
  }
  SECTION("a failure in the last 7 days") {
    s.failure_age = 2 * k_day;
    code = "failures";
    action = "review_failures";
  }
  auto r = build(s, dir);
  INFO(render_report(r, ReportFormat::text, ReportLang::en));
  CHECK(r.verdict == Verdict::at_risk);
  also.push_back(code);
  std::sort(also.begin(), also.end());
  CHECK(codes(r) == also);
  CHECK(has_action(r, action));
  CHECK(r.reasons[0].severity == Verdict::at_risk);
}

TEST_CASE("report: concrete commands in the actions") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  s.drill_age.reset();
  s.check_age.reset();
  s.backup_age = 30 * k_hour;
  auto r = build(s, dir);
  CHECK(has_action(r, "run_drill", "kho drill portal-recovery"));
  CHECK(has_action(r, "run_backup", "kho policy run portal"));
  CHECK(has_action(r, "run_check", "kho policy check portal"));
}

TEST_CASE("report: each NOT READY reason") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  std::string code;
  SECTION("no successful backup") {
    s.backup_age.reset();
    code = "no_backup";
  }
  SECTION("the newest snapshot is flagged") {
    s.anomaly_flagged = true;
    s.anomaly_score = 0.9;
    code = "snapshot_flagged";
  }
  SECTION("RPO missed by more than 2x") {
    s.backup_age = 50 * k_hour;
    code = "rpo_missed";
  }
  auto r = build(s, dir);
  INFO(render_report(r, ReportFormat::text, ReportLang::en));
  CHECK(r.verdict == Verdict::not_ready);
  REQUIRE_FALSE(r.reasons.empty());
  CHECK(r.reasons[0].code == code);
  CHECK(r.reasons[0].severity == Verdict::not_ready);
  CHECK(r.policies[0].verdict == Verdict::not_ready);
}

TEST_CASE("report: the worst reason decides") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  s.anomaly_flagged = true;
  s.append_only = false;
  s.failure_age = k_day;
  auto r = build(s, dir);
  CHECK(r.verdict == Verdict::not_ready);
  CHECK(r.reasons.front().severity == Verdict::not_ready);
  CHECK(r.reasons.back().severity == Verdict::at_risk);
  CHECK(r.policies[0].failures.size() == 1);
}

TEST_CASE("report: verdict, format and language names") {
  CHECK(value_of(parse_verdict("at-risk")) == Verdict::at_risk);
  CHECK(value_of(parse_verdict("not_ready")) == Verdict::not_ready);
  CHECK_FALSE(parse_verdict("fine").has_value());
  CHECK(value_of(parse_report_format("html")) == ReportFormat::html);
  CHECK_FALSE(parse_report_format("pdf").has_value());
  CHECK(value_of(parse_report_lang("vi")) == ReportLang::vi);
  CHECK_FALSE(parse_report_lang("fr").has_value());
  CHECK(Verdict::ready < Verdict::at_risk);
  CHECK(Verdict::at_risk < Verdict::not_ready);
}

TEST_CASE("report: JSON fields") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  s.append_only = false;
  s.failure_age = k_day;
  auto r = build(s, dir);
  auto j = nlohmann::json::parse(render_report(r, ReportFormat::json, ReportLang::en));
  for (const char* k : {"generated_at", "lang", "verdict", "reasons", "actions", "policies", "history"})
    CHECK(j.contains(k));
  CHECK(j["verdict"] == "at_risk");
  CHECK(j["lang"] == "en");
  const auto& p = j["policies"][0];
  for (const char* k : {"name", "description", "verdict", "reasons", "actions", "newest_snapshot", "last_check",
                        "drills", "copies", "anomaly", "failures_7d"})
    CHECK(p.contains(k));
  CHECK(p["newest_snapshot"]["id"] == std::string(64, 'a'));
  CHECK(p["newest_snapshot"]["rpo_s"] == 86400);
  CHECK(p["newest_snapshot"]["rpo_status"] == "OK");
  CHECK(p["newest_snapshot"]["age_s"].get<double>() == Approx(3600));
  CHECK(p["last_check"]["bytes_read"] == 5000000);
  CHECK(p["last_check"]["status"] == "success");
  const auto& d = p["drills"][0];
  CHECK(d["runbook"] == "portal-recovery");
  CHECK(d["readiness"] == "VERIFIED");
  CHECK(d["result"] == "passed");
  CHECK(d["rto_s"] == 600);
  CHECK(d["rto_target_s"] == 1800);
  CHECK(d["rto_met"] == true);
  const auto& c = p["copies"][0];
  CHECK(c["kind"] == "offsite");
  CHECK(c["append_only"] == false);
  CHECK(c["age_s"].get<double>() == Approx(3600));
  CHECK(c["destination"].get<std::string>().find("s3cret") == std::string::npos);
  CHECK(p["anomaly"]["score"].get<double>() == Approx(0.1));
  CHECK(p["anomaly"]["flagged"] == false);
  REQUIRE(p["failures_7d"].size() == 1);
  CHECK(p["failures_7d"][0]["kind"] == "copy");
  CHECK(p["failures_7d"][0]["stage"] == "copy");
  CHECK(p["failures_7d"][0]["error"] == "exit 1: something broke");
  const auto& reason = j["reasons"][0];
  for (const char* k : {"policy", "code", "severity", "text"}) CHECK(reason.contains(k));
  const auto& h = j["history"][0];
  CHECK(h["backups"].size() == 2);
  CHECK(h["backups"][1]["repository_bytes"] == 3000);
  CHECK(h["drills"].size() == 1);
  CHECK(j.dump().find("s3cret") == std::string::npos);
}

TEST_CASE("report: Vietnamese texts") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  s.copy_kind = "offline";
  s.failure_age = k_day;
  auto r = build(s, dir);
  for (auto format : {ReportFormat::text, ReportFormat::md, ReportFormat::html}) {
    const std::string out = render_report(r, format, ReportLang::vi);
    CHECK_THAT(out, Contains("Báo cáo mức độ sẵn sàng ứng phó sự cố"));
    CHECK_THAT(out, Contains("Có rủi ro"));
    CHECK_THAT(out, Contains("Việc cần làm tiếp theo"));
    CHECK_THAT(out, Contains(format == ReportFormat::text ? "chỉ ghi thêm" : "Chỉ ghi thêm (append-only)"));
  }
  const std::string md = render_report(r, ReportFormat::md, ReportLang::vi);
  for (const char* term :
       {"Bản sao lưu mới nhất", "Mục tiêu điểm khôi phục (RPO)", "Diễn tập khôi phục", "Bản sao ngoại tuyến",
        "Dấu hiệu mã độc tống tiền", "Kiểm tra toàn vẹn", "Lỗi trong 7 ngày qua"})
    CHECK_THAT(md, Contains(term));
  CHECK(report_text(ReportLang::vi, "verdict.ready") == "Sẵn sàng");
  CHECK(report_text(ReportLang::vi, "verdict.not_ready") == "Chưa sẵn sàng");
  CHECK(report_text(ReportLang::vi, "kind.offsite") == "Bản sao ở địa điểm khác");
  CHECK(report_text(ReportLang::vi, "rto") == "Mục tiêu thời gian khôi phục (RTO)");
  // Every reason and action has a text in both languages (no key shown raw).
  for (const auto& x : r.reasons) {
    CHECK(reason_text(x, ReportLang::vi).find("reason.") == std::string::npos);
    CHECK(reason_text(x, ReportLang::vi) != reason_text(x, ReportLang::en));
  }
  for (const auto& a : r.actions) CHECK(action_text(a, ReportLang::vi).find("action.") == std::string::npos);
}

TEST_CASE("report: every reason and action code has texts") {
  kho::test::ScopedTempDir dir("kho-report");
  for (const char* code : {"no_backup", "snapshot_flagged", "rpo_missed", "rpo_late", "no_check", "check_old",
                           "no_runbook", "drill_never", "drill_failed", "drill_old", "rto_missed", "copy_never",
                           "copy_old", "no_separate_copy", "no_append_only", "failures"}) {
    Reason x{code, Verdict::at_risk, "portal", {}};
    CHECK(reason_text(x, ReportLang::en).rfind("reason.", 0) == std::string::npos);
    CHECK(reason_text(x, ReportLang::vi).rfind("reason.", 0) == std::string::npos);
  }
  for (const char* code : {"run_backup", "check_scheduler", "investigate_flagged", "run_check", "schedule_check",
                           "write_runbook", "run_drill", "speed_up_recovery", "connect_offline_copy",
                           "add_offline_copy", "add_append_only_copy", "review_failures"}) {
    Action a{code, "portal", "kho status", {}};
    CHECK(action_text(a, ReportLang::en).rfind("action.", 0) == std::string::npos);
    CHECK(action_text(a, ReportLang::vi).rfind("action.", 0) == std::string::npos);
  }
}

TEST_CASE("report: the HTML page is self-contained") {
  kho::test::ScopedTempDir dir("kho-report");
  Scenario s;
  s.drill_rto_s = 2400;
  auto r = build(s, dir);
  for (auto lang : {ReportLang::en, ReportLang::vi}) {
    const std::string html = render_report(r, ReportFormat::html, lang);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK_THAT(html, Contains("</html>"));
    std::size_t svgs = 0, roles = 0;
    for (std::size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
    for (std::size_t at = html.find("role=\"img\""); at != std::string::npos; at = html.find("role=\"img\"", at + 1))
      ++roles;
    CHECK(svgs == 4);
    CHECK(roles == 4);
    CHECK_THAT(html, Contains("<title>Anomaly") || Contains("<title>Điểm bất thường"));
    CHECK_THAT(html, Contains("aria-label="));
    CHECK_THAT(html, Contains("@page { size: A4"));
    CHECK_THAT(html, Contains("@media print"));
    CHECK(html.find("<script") == std::string::npos);
    // No resource is fetched: no src/href/url()/@import naming http(s).
    for (const char* ref : {"src=\"http", "href=\"http", "url(http", "@import"})
      CHECK(html.find(ref) == std::string::npos);
    CHECK(html.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("report: no policy at all is READY with nothing to do") {
  kho::test::ScopedTempDir dir("kho-report");
  auto db = value_of(StateDb::open(dir / "state"));
  auto r = value_of(build_report({}, {}, db, {}));
  CHECK(r.verdict == Verdict::ready);
  CHECK_THAT(render_report(r, ReportFormat::html, ReportLang::en), Contains("<svg"));
}

TEST_CASE("report: the file is written atomically with mode 0644") {
  kho::test::ScopedTempDir dir("kho-report");
  const auto path = dir / "report.html";
  ok(write_report_file(path, "<!DOCTYPE html>\n"));
  ok(write_report_file(path, "<!DOCTYPE html>\n<p>2</p>\n"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(std::filesystem::file_size(path) == 25);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
  CHECK_FALSE(write_report_file(dir / "missing" / "r.html", "x").has_value());
}
