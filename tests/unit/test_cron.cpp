// Cron schedules and time zones (orchestrate/cron.hpp, orchestrate/tz.hpp).
//
// Every expected instant below was derived by hand and checked on Debian 12
// with `TZ=<zone> date -d <instant>` (local time, offset and abbreviation).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kho/orchestrate/cron.hpp"
#include "kho/orchestrate/tz.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho::orchestrate;
using kho::Errc;
namespace fs = std::filesystem;

namespace {


// The error message of a Result that must fail with `code`.
template <typename T>
std::string error_of(const kho::Result<T>& r, Errc code) {
  REQUIRE_FALSE(r.has_value());
  CHECK(kho::errc_name(r.error().code()) == std::string(kho::errc_name(code)));
  return r.error().message();
}

TimeZone zone(std::string_view name) { return value_of(TimeZone::load(name)); }
CronSchedule cron(std::string_view expr) { return value_of(CronSchedule::parse(expr)); }

// "2026-03-29T01:00:00Z" -> seconds, through libc so the code under test is not its own oracle.
std::int64_t at(const std::string& iso) {
  std::tm tm{};
  REQUIRE(strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr);
  return timegm(&tm);
}

std::string iso(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> isos(const std::vector<std::int64_t>& ts) {
  std::vector<std::string> out;
  for (auto t : ts) out.push_back(iso(t));
  return out;
}

struct NextCase {
  std::string expr;
  std::string zone;
  std::string from;
  std::vector<std::string> expected;
};

}  // namespace

TEST_CASE("cron runs fall where the table says", "[cron]") {
  const std::vector<NextCase> cases = {
      // Asia/Ho_Chi_Minh: +07 all year.
      {"30 2 * * *", "Asia/Ho_Chi_Minh", "2026-01-30T10:00:00Z", {"2026-01-30T19:30:00Z", "2026-01-31T19:30:00Z"}},
      {"*/15 9-10 * * MON-FRI",
       "Asia/Ho_Chi_Minh",
       "2026-01-30T03:50:00Z",  // Fri 10:50 -> Mon 09:00
       {"2026-02-02T02:00:00Z", "2026-02-02T02:15:00Z", "2026-02-02T02:30:00Z"}},
      {"0 0 31 * *",
       "Asia/Ho_Chi_Minh",
       "2026-03-31T00:00:00Z",  // skips April, June, September
       {"2026-05-30T17:00:00Z", "2026-07-30T17:00:00Z", "2026-08-30T17:00:00Z", "2026-10-30T17:00:00Z"}},
      {"0 0 29 2 *", "Asia/Ho_Chi_Minh", "2026-01-01T00:00:00Z", {"2028-02-28T17:00:00Z", "2032-02-28T17:00:00Z"}},
      {"0 8-18/5 * * *",
       "Asia/Ho_Chi_Minh",
       "2026-06-01T00:00:00Z",
       {"2026-06-01T01:00:00Z", "2026-06-01T06:00:00Z", "2026-06-01T11:00:00Z", "2026-06-02T01:00:00Z"}},
      {"@monthly", "Asia/Ho_Chi_Minh", "2026-12-15T00:00:00Z", {"2026-12-31T17:00:00Z", "2027-01-31T17:00:00Z"}},
      // UTC.
      {"0 0 13 * FRI",
       "UTC",
       "2026-01-10T00:00:00Z",  // either rule: Tue 13th, then Fridays
       {"2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z"}},
      {"30 4 1,15 * 5",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T04:30:00Z", "2026-01-02T04:30:00Z", "2026-01-09T04:30:00Z", "2026-01-15T04:30:00Z",
        "2026-01-16T04:30:00Z"}},
      {"0 0 */2 * MON",
       "UTC",
       "2026-01-01T00:00:00Z",  // "*/2" counts as "*": Mondays on odd days
       {"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z"}},
      {"0 9 * jan,Jul sun",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-04T09:00:00Z", "2026-01-11T09:00:00Z", "2026-01-18T09:00:00Z", "2026-01-25T09:00:00Z",
        "2026-07-05T09:00:00Z"}},
      {"5/20 * * * *",
       "UTC",
       "2026-01-01T00:50:00Z",
       {"2026-01-01T01:05:00Z", "2026-01-01T01:25:00Z", "2026-01-01T01:45:00Z", "2026-01-01T02:05:00Z"}},
      {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
      {"0 12 * * 5-7",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z", "2026-01-09T12:00:00Z"}},
      {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", {"2027-12-31T23:59:00Z"}},  // strictly after
      {"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
      {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}},  // 2100 is not a leap year
      {"0 0 */28 2 1", "UTC", "2026-03-01T00:00:00Z", {"2027-02-01T00:00:00Z", "2038-02-01T00:00:00Z"}},
      {"@weekly", "UTC", "2026-01-01T12:00:00Z", {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
      {"@hourly", "UTC", "2026-01-01T12:00:00Z", {"2026-01-01T13:00:00Z", "2026-01-01T14:00:00Z"}},
      {"@yearly", "UTC", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
      {"@Daily", "UTC", "2026-06-01T00:00:00Z", {"2026-06-02T00:00:00Z"}},
      // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
      {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
      {"*/20 2 * * *",
       "Europe/Berlin",
       "2026-03-28T12:00:00Z",  // three skipped times, one run
       {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:20:00Z"}},
      {"30 2,3 * * *",
       "Europe/Berlin",
       "2026-03-28T12:00:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
      {"*/30 * * * *",
       "Europe/Berlin",
       "2026-03-29T00:45:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z"}},
      {"0 0 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", {"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}},
      {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
      {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:45:00Z", {"2026-10-26T01:30:00Z"}},  // no second 02:30
      {"0 * * * *",
       "Europe/Berlin",
       "2026-10-24T23:30:00Z",
       {"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}},
      {"30 2 * * *", "Europe/Berlin", "2090-03-25T12:00:00Z", {"2090-03-26T01:00:00Z"}},  // footer rule
      // America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
      {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
      {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
      {"0 9 * * MON-FRI", "America/New_York", "2026-03-06T15:00:00Z", {"2026-03-09T13:00:00Z"}},
      // America/Santiago moves its clocks at midnight: 2026-09-06 00:00 -04 does not exist.
      {"0 0 * * *", "America/Santiago", "2026-09-05T12:00:00Z", {"2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"}},
      {"30 23 * * *", "America/Santiago", "2026-04-04T12:00:00Z", {"2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"}},
  };
  for (const auto& c : cases) {
    INFO(c.expr << " in " << c.zone << " after " << c.from);
    const auto tz = zone(c.zone);
    const auto schedule = cron(c.expr);
    CHECK(isos(schedule.next_n(at(c.from), static_cast<int>(c.expected.size()), tz)) == c.expected);
    const auto first = schedule.next_after(at(c.from), tz);
    REQUIRE(first.has_value());
    CHECK(iso(*first) == c.expected.front());
    // One second before a run finds that run; the run itself finds the next.
    CHECK(schedule.next_after(*first - 1, tz) == first);
  }
}

TEST_CASE("cron next_n stops at zero and runs are strictly increasing", "[cron]") {
  const auto tz = zone("Europe/Berlin");
  const auto schedule = cron("*/7 1-3 * * *");
  CHECK(schedule.next_n(at("2026-10-24T00:00:00Z"), 0, tz).empty());
  const auto runs = schedule.next_n(at("2026-10-20T00:00:00Z"), 500, tz);
  REQUIRE(runs.size() == 500);
  for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i] > runs[i - 1]);
}

TEST_CASE("cron search gives up at the end of the supported range", "[cron]") {
  const auto schedule = cron("0 0 * * *");
  CHECK_FALSE(schedule.next_after(std::int64_t{1} << 55, TimeZone()).has_value());
}

TEST_CASE("cron refuses bad expressions with a message naming field and token", "[cron]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"0 0 * * * 2026", "got 6 (seconds and year fields are not supported)"},
      {"", "got 0"},
      {"61 * * * *", "invalid cron expression \"61 * * * *\": minute field: 61 is out of range 0-59"},
      {"* 24 * * *", "hour field: 24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month field: 32 is out of range 1-31"},
      {"* * * 13 *", "month field: 13 is out of range 1-12"},
      {"* * * * 8", "day-of-week field: 8 is out of range 0-7"},
      {"*/0 * * * *", "minute field: step 0 in \"*/0\" must be at least 1"},
      {"* 1-5/0 * * *", "hour field: step 0 in \"1-5/0\" must be at least 1"},
      {"*/60 * * * *", "minute field: step 60 in \"*/60\" is larger than the range 0-59"},
      {"*/x * * * *", "minute field: step \"x\" in \"*/x\" is not a number"},
      {"* * * FOO *", "month field: \"FOO\" is not a number or a month name (JAN-DEC)"},
      {"* * * * MON-FUN", "day-of-week field: \"FUN\" is not a number or a weekday name (SUN-SAT)"},
      {"MON * * * *", "minute field: \"MON\" is not a number"},
      {"1x * * * *", "minute field: \"1x\" is not a number"},
      {"30-10 * * * *", "minute field: range 30-10 is reversed (30 > 10)"},
      {"* * * * FRI-SUN", "day-of-week field: range FRI-SUN is reversed (5 > 0)"},
      {"1,,2 * * * *", "minute field: empty item in list \"1,,2\""},
      {"* * * * 1-", "day-of-week field: missing value"},
      {"@reboot", "@reboot is not supported"},
      {"@fortnightly", "unknown macro \"@fortnightly\""},
      {"@daily 0", "a macro like @daily stands alone"},
      {"0 0 30 2 *", "day-of-month field: 30 never occurs in February; the job would never run"},
      {"0 0 31 apr,jun,sep,nov *", "day-of-month field: 31 never occurs in April, June, September, November"},
  };
  for (const auto& [expr, message] : cases) {
    INFO("expression: " << expr);
    CHECK_THAT(error_of(CronSchedule::parse(expr), Errc::invalid_argument), Catch::Contains(message));
  }
}

TEST_CASE("cron accepts what Vixie cron accepts", "[cron]") {
  for (const char* expr : {"0 0 29 2 *", "0 0 30 2 MON", "0 0 31 2,3 *", "  5  4 * * sun ", "0\t0\t*\t*\t*",
                           "0-59/59 0-23 1-31 1-12 0-7", "@annually", "@midnight", "*/59 */23 */30 */11 */7"}) {
    INFO(expr);
    const auto parsed = CronSchedule::parse(expr);
    CHECK(parsed.has_value());
  }
  CHECK(cron("  5  4 * * sun ").expression() == "5  4 * * sun");
}

TEST_CASE("cron matches dates by the day-of-month OR day-of-week rule", "[cron]") {
  const auto either = cron("0 0 13 * FRI");
  CHECK(either.matches_date(2026, 1, 13));  // Tuesday the 13th
  CHECK(either.matches_date(2026, 1, 16));  // a Friday
  CHECK_FALSE(either.matches_date(2026, 1, 14));
  const auto both = cron("0 0 * * FRI");
  CHECK_FALSE(both.matches_date(2026, 1, 13));
  CHECK(both.matches_date(2026, 2, 13));  // Friday the 13th
}

TEST_CASE("time zone offsets and abbreviations agree with date(1)", "[tz]") {
  struct Case {
    std::string zone;
    std::string instant;
    int offset;
    std::string abbreviation;
    std::string local;
  };
  const std::vector<Case> cases = {
      {"Europe/Berlin", "2026-07-01T12:00:00Z", 7200, "CEST", "2026-07-01T14:00:00"},
      {"Europe/Berlin", "2026-01-15T12:00:00Z", 3600, "CET", "2026-01-15T13:00:00"},
      {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600, "CET", "2026-03-29T01:59:59"},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200, "CEST", "2026-03-29T03:00:00"},
      {"Europe/Berlin", "2090-03-26T00:59:59Z", 3600, "CET", "2090-03-26T01:59:59"},
      {"Europe/Berlin", "2090-03-26T01:00:00Z", 7200, "CEST", "2090-03-26T03:00:00"},
      {"America/New_York", "2026-11-01T05:59:59Z", -14400, "EDT", "2026-11-01T01:59:59"},
      {"America/New_York", "2026-11-01T06:00:00Z", -18000, "EST", "2026-11-01T01:00:00"},
      {"Asia/Ho_Chi_Minh", "2026-01-30T10:00:00Z", 25200, "+07", "2026-01-30T17:00:00"},
      {"Asia/Ho_Chi_Minh", "1970-01-01T00:00:00Z", 28800, "+08", "1970-01-01T08:00:00"},
      {"Australia/Lord_Howe", "2026-07-15T00:00:00Z", 37800, "+1030", "2026-07-15T10:30:00"},
      {"Australia/Lord_Howe", "2026-01-15T00:00:00Z", 39600, "+11", "2026-01-15T11:00:00"},
      {"Europe/Dublin", "2026-01-15T00:00:00Z", 0, "GMT", "2026-01-15T00:00:00"},  // negative DST in the footer
      {"Europe/Dublin", "2026-07-15T00:00:00Z", 3600, "IST", "2026-07-15T01:00:00"},
      {"America/Nuuk", "2090-03-26T00:59:59Z", -7200, "-02", "2090-03-25T22:59:59"},  // M3.5.0/-1
      {"America/Nuuk", "2090-03-26T01:00:00Z", -3600, "-01", "2090-03-26T00:00:00"},
      {"Asia/Kolkata", "2026-01-15T00:00:00Z", 19800, "IST", "2026-01-15T05:30:00"},
      {"UTC", "2026-01-15T00:00:00Z", 0, "UTC", "2026-01-15T00:00:00"},
      {"+07:00", "2026-01-15T00:00:00Z", 25200, "+07:00", "2026-01-15T07:00:00"},
      {"-0530", "2026-01-15T00:00:00Z", -19800, "-05:30", "2026-01-14T18:30:00"},
  };
  for (const auto& c : cases) {
    INFO(c.zone << " at " << c.instant);
    const auto tz = zone(c.zone);
    CHECK(tz.offset_at(at(c.instant)) == c.offset);
    CHECK(tz.abbreviation_at(at(c.instant)) == c.abbreviation);
    CHECK(format_civil(tz.to_local(at(c.instant))) == c.local);
  }
}

TEST_CASE("POSIX TZ rules agree with date(1)", "[tz]") {
  struct Case {
    std::string rule;
    std::string instant;
    int offset;
  };
  const std::vector<Case> cases = {
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T00:59:59Z", 3600},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T01:00:00Z", 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2026-10-25T00:59:59Z", 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2026-10-25T01:00:00Z", 3600},
      {"EST5EDT,J60/2,J300/2", "2026-03-01T06:59:59Z", -18000},  // J60 is March 1 every year
      {"EST5EDT,J60/2,J300/2", "2026-03-01T07:00:00Z", -14400},
      {"EST5EDT,J60/2,J300/2", "2028-03-01T06:59:59Z", -18000},
      {"EST5EDT,J60/2,J300/2", "2028-03-01T07:00:00Z", -14400},
      {"EST5EDT,59/2,299/2", "2028-02-29T06:59:59Z", -18000},  // zero-based 59 is Feb 29 in 2028
      {"EST5EDT,59/2,299/2", "2028-02-29T07:00:00Z", -14400},
      {"EST5EDT", "2026-03-08T06:59:59Z", -18000},  // no dates: US rules
      {"EST5EDT", "2026-03-08T07:00:00Z", -14400},
      {"IST-2IDT,M3.4.4/26,M10.5.0", "2026-03-26T23:59:59Z", 7200},  // Jerusalem: 26 h after Thursday
      {"IST-2IDT,M3.4.4/26,M10.5.0", "2026-03-27T00:00:00Z", 10800},
      {"<+07>-7", "2026-03-27T00:00:00Z", 25200},
      // All-year DST (RFC 8536 3.3.1). glibc's date says EST for the last hour of 2026 here; tzcode does not.
      {"EST5EDT,0/0,J365/25", "2026-06-01T00:00:00Z", -14400},
      {"EST5EDT,0/0,J365/25", "2027-01-01T04:30:00Z", -14400},
      {"EST5EDT,0/0,J365/25", "2027-01-01T05:00:00Z", -14400},
      {"<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2026-09-06T03:59:59Z", -14400},
      {"<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2026-09-06T04:00:00Z", -10800},
  };
  for (const auto& c : cases) {
    INFO(c.rule << " at " << c.instant);
    CHECK(value_of(TimeZone::from_posix(c.rule)).offset_at(at(c.instant)) == c.offset);
  }
  for (const char* bad : {"", "C1", "CET", "CET-1CEST,M3.5", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0",
                          "CET-1CEST,M3.5.0,M10.5.0/200", "<+7>-7", "CET-25", "CET-1CEST,J0,J365"}) {
    INFO(bad);
    CHECK_THAT(error_of(TimeZone::from_posix(bad), Errc::invalid_argument), Catch::Contains("invalid POSIX TZ string"));
  }
}

TEST_CASE("local times map to none, one or two instants across DST", "[tz]") {
  const auto berlin = zone("Europe/Berlin");
  const auto new_york = zone("America/New_York");
  CHECK(isos(berlin.from_local({2026, 3, 29, 1, 59, 59})) == std::vector<std::string>{"2026-03-29T00:59:59Z"});
  CHECK(berlin.from_local({2026, 3, 29, 2, 0, 0}).empty());
  CHECK(berlin.from_local({2026, 3, 29, 2, 59, 59}).empty());
  CHECK(isos(berlin.from_local({2026, 3, 29, 3, 0, 0})) == std::vector<std::string>{"2026-03-29T01:00:00Z"});
  const auto gap = berlin.resolve_local({2026, 3, 29, 2, 30, 0});
  CHECK(gap.kind == LocalMapping::Kind::gap);
  CHECK(iso(gap.first) == "2026-03-29T01:00:00Z");
  CHECK(isos(berlin.from_local({2026, 10, 25, 2, 30, 0})) ==
        std::vector<std::string>{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"});
  CHECK(berlin.resolve_local({2026, 10, 25, 2, 30, 0}).kind == LocalMapping::Kind::fold);
  CHECK(berlin.resolve_local({2026, 10, 25, 3, 0, 0}).kind == LocalMapping::Kind::unique);
  CHECK(isos(new_york.from_local({2026, 11, 1, 1, 30, 0})) ==
        std::vector<std::string>{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"});
  CHECK(new_york.from_local({2026, 3, 8, 2, 30, 0}).empty());
  CHECK(isos(zone("Asia/Ho_Chi_Minh").from_local({2026, 1, 31, 2, 30, 0})) ==
        std::vector<std::string>{"2026-01-30T19:30:00Z"});
}

TEST_CASE("calendar arithmetic matches libc", "[tz]") {
  for (std::int64_t t = at("1899-12-31T23:59:59Z"); t < at("2200-01-01T00:00:00Z"); t += 86400 * 37 + 3607) {
    INFO(t);
    REQUIRE(format_civil(civil_from_seconds(t)) + "Z" == iso(t));
    REQUIRE(seconds_from_civil(civil_from_seconds(t)) == t);
  }
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(weekday_from_days(days_from_civil(2026, 1, 30)) == 5);  // a Friday
  CHECK(days_in_month(2028, 2) == 29);
  CHECK(days_in_month(2100, 2) == 28);
  CHECK(days_in_month(2000, 2) == 29);
}

TEST_CASE("time zone names are validated and errors name the zone", "[tz]") {
  using Catch::Contains;
  CHECK_THAT(error_of(TimeZone::load("Asia/Hanoii"), Errc::not_found), Contains("unknown time zone \"Asia/Hanoii\""));
  CHECK_THAT(error_of(TimeZone::load("Europe"), Errc::not_found), Contains("unknown time zone \"Europe\""));  // a dir
  CHECK_THAT(error_of(TimeZone::load("../../etc/passwd"), Errc::invalid_argument), Contains("must not contain \"..\""));
  CHECK_THAT(error_of(TimeZone::load("/etc/localtime"), Errc::invalid_argument), Contains("not a path"));
  CHECK_THAT(error_of(TimeZone::load("Europe/Ber lin"), Errc::invalid_argument),
             Contains("character ' ' is not allowed"));
  CHECK_THAT(error_of(TimeZone::load("Europe/Berlin;rm"), Errc::invalid_argument), Contains("invalid time zone name"));
  CHECK_THAT(error_of(TimeZone::load("right/UTC"), Errc::unsupported), Contains("leap seconds"));
  CHECK(zone("").offset_at(0) == 0);
  CHECK(zone("UTC").name() == "UTC");
  CHECK(zone("Etc/GMT+7").offset_at(0) == -25200);  // POSIX sign: west of UTC
}

namespace {

void put32(std::string& out, std::int64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xff);
}
void put64(std::string& out, std::int64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xff);
}

// One header and data block: a transition at `when` from AAA (offset_a) to BBB (+2 h).
std::string tzif_block(char version, bool wide, std::int64_t when, int offset_a) {
  std::string out = "TZif";
  out += version;
  out += std::string(15, '\0');
  for (std::int64_t count : {0, 0, 0, 1, 2, 8}) put32(out, count);  // isut isstd leap time type char
  wide ? put64(out, when) : put32(out, when);
  out += '\1';
  put32(out, offset_a);
  out += std::string("\0\0", 2);
  put32(out, 7200);
  out += std::string("\1\4", 2);
  out += std::string("AAA\0BBB\0", 8);
  return out;
}

}  // namespace

TEST_CASE("TZif versions 1 and 2 are read, damage is reported", "[tz]") {
  const auto v1 = value_of(TimeZone::from_tzif(tzif_block('\0', false, 1000000000, 3600), "Test/V1"));
  CHECK(v1.offset_at(999999999) == 3600);
  CHECK(v1.abbreviation_at(999999999) == "AAA");
  CHECK(v1.offset_at(1000000000) == 7200);
  CHECK(v1.abbreviation_at(1000000000) == "BBB");
  CHECK(v1.is_dst_at(1000000000));

  // Version 2: the 64-bit block wins over the 32-bit one, the footer rules after the last transition.
  const std::string v2 =
      tzif_block('2', false, 1000000000, 1111) + tzif_block('2', true, 5000000000, 3600) + "\n<+03>-3\n";
  const auto v2_zone = value_of(TimeZone::from_tzif(v2, "Test/V2"));
  CHECK(v2_zone.offset_at(1000000000) == 3600);
  CHECK(v2_zone.offset_at(5000000000) == 7200);
  CHECK(v2_zone.offset_at(5000000001) == 10800);
  CHECK(v2_zone.abbreviation_at(5000000001) == "+03");

  CHECK_THAT(error_of(TimeZone::from_tzif(v2.substr(0, v2.size() - 1), "Test/Cut"), Errc::corruption),
             Catch::Contains("time zone \"Test/Cut\": invalid TZif data: truncated"));
  CHECK_THAT(error_of(TimeZone::from_tzif(v2.substr(0, 60), "Test/Cut"), Errc::corruption),
             Catch::Contains("truncated"));
  CHECK_THAT(error_of(TimeZone::from_tzif("TZjf" + v2.substr(4), "Test/Magic"), Errc::corruption),
             Catch::Contains("bad magic"));
  std::string bad_index = tzif_block('\0', false, 0, 0);
  bad_index[44 + 4] = '\7';
  CHECK_THAT(error_of(TimeZone::from_tzif(bad_index, "Test/Index"), Errc::corruption),
             Catch::Contains("missing local time type"));
  CHECK_THAT(error_of(TimeZone::from_tzif(tzif_block('2', false, 0, 0) + tzif_block('2', true, 0, 0) + "\nCET\n",
                                          "Test/Footer"),
                      Errc::invalid_argument),
             Catch::Contains("invalid POSIX TZ string \"CET\""));
}

TEST_CASE("the zoneinfo directory can be given or taken from TZDIR", "[tz]") {
  kho::test::ScopedTempDir dir("kho-tz");
  fs::create_directories(dir.path() / "My");
  fs::copy_file("/usr/share/zoneinfo/Europe/Berlin", dir.path() / "My" / "Zone");
  const auto summer = at("2026-07-01T00:00:00Z");
  CHECK(value_of(TimeZone::load("My/Zone", dir.path())).offset_at(summer) == 7200);
  CHECK_THAT(error_of(TimeZone::load("My/Zone"), Errc::not_found), Catch::Contains("unknown time zone \"My/Zone\""));

  const char* old = std::getenv("TZDIR");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("TZDIR", dir.path().c_str(), 1);
  const auto loaded = TimeZone::load("My/Zone");
  saved ? ::setenv("TZDIR", saved->c_str(), 1) : ::unsetenv("TZDIR");
  REQUIRE(loaded.has_value());
  CHECK(loaded->offset_at(summer) == 7200);
  CHECK(loaded->name() == "My/Zone");
}
