// Retention (forget's keep rules) against tables of expected outcomes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kho/engine/retention.hpp"

using namespace kho;
using engine::apply_retention;
using engine::GroupBy;
using engine::RetentionGroup;
using engine::RetentionPolicy;

namespace {

// Sets TZ for one test and restores the previous value afterwards.
class ScopedTz {
public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) m_old = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (m_old) setenv("TZ", m_old->c_str(), 1);
    else unsetenv("TZ");
    tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

private:
  std::optional<std::string> m_old;
};

int g_next_id = 1;

Id make_id(int n) {
  Id id;
  id.bytes[0] = static_cast<std::uint8_t>(n >> 8);
  id.bytes[1] = static_cast<std::uint8_t>(n);
  return id;
}

// A snapshot at local time `when` ("YYYY-MM-DD HH:MM:SS").
repo::SnapshotRef snap(const std::string& when, const std::string& host = "web1",
                       std::vector<std::string> tags = {}, std::vector<std::string> paths = {"/srv"},
                       int id = 0) {
  auto t = parse_time(when);
  REQUIRE(t);
  repo::SnapshotRef ref;
  ref.id = make_id(id ? id : g_next_id++);
  ref.snapshot.time = *t;
  ref.snapshot.host = host;
  ref.snapshot.tags = std::move(tags);
  ref.snapshot.paths = std::move(paths);
  return ref;
}

std::string day_of(TimeNs t) { return format_local(t).substr(0, 10); }
std::string minute_of(TimeNs t) { return format_local(t).substr(0, 16); }

std::vector<RetentionGroup> run(const std::vector<repo::SnapshotRef>& snaps, const RetentionPolicy& p,
                                  const GroupBy& by = GroupBy{}) {
  auto groups = apply_retention(snaps, p, by);
  REQUIRE(groups);
  return *groups;
}

// Kept snapshots of a single group, oldest first, formatted with `fmt`.
std::vector<std::string> kept(const std::vector<RetentionGroup>& groups, std::string (*fmt)(TimeNs) = day_of) {
  REQUIRE(groups.size() == 1);
  std::vector<std::string> out;
  for (const auto& d : groups[0].decisions)
    if (d.keep) out.insert(out.begin(), fmt(d.snapshot.snapshot.time));
  return out;
}

// One snapshot a day at 10:00 local from `first` to `last` (both "YYYY-MM-DD").
std::vector<repo::SnapshotRef> daily(const std::string& first, const std::string& last) {
  std::vector<repo::SnapshotRef> out;
  TimeNs t = *parse_time(first + " 10:00:00");
  const TimeNs end = *parse_time(last + " 10:00:00");
  for (; t <= end; t += 86400LL * 1'000'000'000) out.push_back(snap(format_local(t)));
  return out;
}

RetentionPolicy policy(int last, int hourly, int daily, int weekly, int monthly, int yearly,
                       std::optional<double> within = std::nullopt, std::vector<std::string> tags = {}) {
  RetentionPolicy p;
  p.keep_last = last;
  p.keep_hourly = hourly;
  p.keep_daily = daily;
  p.keep_weekly = weekly;
  p.keep_monthly = monthly;
  p.keep_yearly = yearly;
  p.keep_within_s = within;
  p.keep_tags = std::move(tags);
  return p;
}

constexpr double k_day = 86400;

}  // namespace

TEST_CASE("42 daily snapshots with keep-daily 3, keep-weekly 2, keep-monthly 2 keep exactly five") {
  ScopedTz tz("Asia/Ho_Chi_Minh");
  auto snaps = daily("2025-12-20", "2026-01-30");
  REQUIRE(snaps.size() == 42);
  std::swap(snaps[3], snaps[40]);  // input order does not matter
  std::swap(snaps[0], snaps[41]);

  auto groups = run(snaps, policy(0, 0, 3, 2, 2, 0));
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].kept() == 5);
  REQUIRE(groups[0].removed() == 37);
  REQUIRE(groups[0].host == "web1");
  REQUIRE(groups[0].paths == std::vector<std::string>{"/srv"});

  const std::map<std::string, std::vector<std::string>> expected{
      {"2026-01-30", {"daily snapshot", "weekly snapshot", "monthly snapshot"}},
      {"2026-01-29", {"daily snapshot"}},
      {"2026-01-28", {"daily snapshot"}},
      {"2026-01-25", {"weekly snapshot"}},
      {"2025-12-31", {"monthly snapshot"}},
  };
  TimeNs previous = INT64_MAX;
  for (const auto& d : groups[0].decisions) {
    INFO(format_local(d.snapshot.snapshot.time));
    REQUIRE(d.snapshot.snapshot.time < previous);  // newest first
    previous = d.snapshot.snapshot.time;
    REQUIRE(snaps[d.index].id == d.snapshot.id);
    auto it = expected.find(day_of(d.snapshot.snapshot.time));
    REQUIRE(d.keep == (it != expected.end()));
    if (it != expected.end()) REQUIRE(d.reasons == it->second);
    else REQUIRE(d.reasons.empty());
  }
}

TEST_CASE("Keep rules on 42 daily snapshots match a table") {
  ScopedTz tz("Asia/Ho_Chi_Minh");
  const auto snaps = daily("2025-12-20", "2026-01-30");
  struct Case {
    const char* name;
    RetentionPolicy policy;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases{
      {"last 3", policy(3, 0, 0, 0, 0, 0), {"2026-01-28", "2026-01-29", "2026-01-30"}},
      {"weekly 3", policy(0, 0, 0, 3, 0, 0), {"2026-01-18", "2026-01-25", "2026-01-30"}},
      // Seven ISO weeks (2025-W51 .. 2026-W05; W01 starts Mon 2025-12-29), counts
      // left over, so the oldest snapshot is kept too.
      {"weekly 10",
       policy(0, 0, 0, 10, 0, 0),
       {"2025-12-20", "2025-12-21", "2025-12-28", "2026-01-04", "2026-01-11", "2026-01-18", "2026-01-25",
        "2026-01-30"}},
      {"monthly 1", policy(0, 0, 0, 0, 1, 0), {"2026-01-30"}},
      {"monthly unlimited", policy(0, 0, 0, 0, -1, 0), {"2025-12-20", "2025-12-31", "2026-01-30"}},
      {"yearly 2", policy(0, 0, 0, 0, 0, 2), {"2025-12-31", "2026-01-30"}},
      // Strictly newer than newest - 7d: 2026-01-23 10:00 is exactly on the edge.
      {"within 7d",
       policy(0, 0, 0, 0, 0, 0, 7 * k_day),
       {"2026-01-24", "2026-01-25", "2026-01-26", "2026-01-27", "2026-01-28", "2026-01-29", "2026-01-30"}},
      {"within 2d1h", policy(0, 0, 0, 0, 0, 0, 2 * k_day + 3600), {"2026-01-28", "2026-01-29", "2026-01-30"}},
      {"last 1 and within 1d", policy(1, 0, 0, 0, 0, 0, k_day), {"2026-01-30"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    REQUIRE(kept(run(snaps, c.policy)) == c.kept);
  }
  // Unlimited counts keep everything.
  for (const auto& p : {policy(-1, 0, 0, 0, 0, 0), policy(0, 0, -1, 0, 0, 0), policy(0, 0, 50, 0, 0, 0)})
    REQUIRE(kept(run(snaps, p)).size() == 42);
}

TEST_CASE("keep-within counts back from the group's newest snapshot and names the duration") {
  ScopedTz tz("UTC");
  const std::vector<repo::SnapshotRef> snaps{snap("2020-01-01 00:00:00"), snap("2020-01-05 12:00:00"),
                                             snap("2020-01-06 00:00:00"), snap("2020-01-07 00:00:00")};
  auto groups = run(snaps, policy(0, 0, 0, 0, 0, 0, 1.5 * k_day));
  REQUIRE(kept(groups) == std::vector<std::string>{"2020-01-06", "2020-01-07"});
  REQUIRE(groups[0].decisions[0].reasons == std::vector<std::string>{"within 1d12h"});
  // A window wider than the whole history keeps everything.
  REQUIRE(kept(run(snaps, policy(0, 0, 0, 0, 0, 0, 1e12))).size() == 4);
}

TEST_CASE("keep-tag keeps every snapshot with the tag, or with all tags of a list") {
  ScopedTz tz("UTC");
  const std::vector<repo::SnapshotRef> snaps{
      snap("2026-01-01 00:00:00", "web1", {"monthly", "db"}), snap("2026-01-02 00:00:00", "web1", {"db"}),
      snap("2026-01-03 00:00:00", "web1", {}),                snap("2026-01-04 00:00:00", "web1", {"monthly"}),
      snap("2026-01-05 00:00:00", "web1", {})};
  struct Case {
    std::vector<std::string> tags;
    int last;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases{
      {{"monthly"}, 0, {"2026-01-01", "2026-01-04"}},
      {{"db"}, 0, {"2026-01-01", "2026-01-02"}},
      {{"monthly,db"}, 0, {"2026-01-01"}},
      {{"monthly", "db"}, 0, {"2026-01-01", "2026-01-02", "2026-01-04"}},
      {{"nope"}, 0, {}},
      {{"db"}, 1, {"2026-01-01", "2026-01-02", "2026-01-05"}},
  };
  for (const auto& c : cases) {
    INFO(c.tags.front() << " last " << c.last);
    REQUIRE(kept(run(snaps, policy(c.last, 0, 0, 0, 0, 0, std::nullopt, c.tags))) == c.kept);
  }
  auto groups = run(snaps, policy(0, 0, 0, 0, 0, 0, std::nullopt, {"monthly", "monthly,db"}));
  REQUIRE(groups[0].decisions.back().reasons == std::vector<std::string>{"tag 'monthly'", "tags 'monthly,db'"});
}

TEST_CASE("keep-last with equal times is decided by snapshot ID, whatever the input order") {
  ScopedTz tz("UTC");
  std::vector<repo::SnapshotRef> snaps;
  for (int id : {7, 3, 9, 5}) snaps.push_back(snap("2026-01-01 00:00:00", "web1", {}, {"/srv"}, id));
  snaps.push_back(snap("2025-12-31 00:00:00", "web1", {}, {"/srv"}, 1));
  for (int round = 0; round < 2; ++round) {
    auto groups = run(snaps, policy(2, 0, 0, 0, 0, 0));
    std::vector<int> order, kept_ids;
    for (const auto& d : groups[0].decisions) {
      order.push_back(d.snapshot.id.bytes[1]);
      if (d.keep) kept_ids.push_back(d.snapshot.id.bytes[1]);
    }
    REQUIRE(order == std::vector<int>{3, 5, 7, 9, 1});
    REQUIRE(kept_ids == std::vector<int>{3, 5});
    std::reverse(snaps.begin(), snaps.end());
  }
}

TEST_CASE("Hourly buckets keep the newest snapshot of each local hour") {
  ScopedTz tz("Asia/Ho_Chi_Minh");
  const std::vector<repo::SnapshotRef> snaps{
      snap("2026-01-30 10:05:00"), snap("2026-01-30 10:20:00"), snap("2026-01-30 10:55:00"),
      snap("2026-01-30 11:10:00"), snap("2026-01-30 12:00:00"), snap("2026-01-30 12:30:00")};
  struct Case {
    int hourly;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases{
      {1, {"2026-01-30 12:30"}},
      {2, {"2026-01-30 11:10", "2026-01-30 12:30"}},
      {3, {"2026-01-30 10:55", "2026-01-30 11:10", "2026-01-30 12:30"}},
      // Counts left when the rule reaches the oldest snapshot: restic keeps it too.
      {10, {"2026-01-30 10:05", "2026-01-30 10:55", "2026-01-30 11:10", "2026-01-30 12:30"}},
      {-1, {"2026-01-30 10:05", "2026-01-30 10:55", "2026-01-30 11:10", "2026-01-30 12:30"}},
  };
  for (const auto& c : cases) {
    INFO("hourly " << c.hourly);
    REQUIRE(kept(run(snaps, policy(0, c.hourly, 0, 0, 0, 0)), minute_of) == c.kept);
  }
}

TEST_CASE("Weekly and yearly buckets cross year boundaries in local time") {
  ScopedTz tz("Asia/Ho_Chi_Minh");
  // 2025-12-29 01:00 +07 is still 2025-12-28 in UTC, but local ISO week 2026-W01.
  const std::vector<repo::SnapshotRef> weeks{snap("2025-12-27 12:00:00"), snap("2025-12-28 12:00:00"),
                                             snap("2025-12-29 01:00:00"), snap("2026-01-01 12:00:00"),
                                             snap("2026-01-04 12:00:00"), snap("2026-01-05 12:00:00")};
  REQUIRE(kept(run(weeks, policy(0, 0, 0, 2, 0, 0))) == std::vector<std::string>{"2026-01-04", "2026-01-05"});
  REQUIRE(kept(run(weeks, policy(0, 0, 0, 3, 0, 0))) ==
          std::vector<std::string>{"2025-12-28", "2026-01-04", "2026-01-05"});

  const std::vector<repo::SnapshotRef> years{snap("2024-03-01 12:00:00"), snap("2024-12-31 23:00:00"),
                                             snap("2025-06-01 12:00:00"), snap("2025-12-31 22:00:00"),
                                             snap("2026-01-01 01:00:00"), snap("2026-01-15 12:00:00")};
  struct Case {
    int yearly;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases{
      {1, {"2026-01-15 12:00"}},
      {2, {"2025-12-31 22:00", "2026-01-15 12:00"}},
      {3, {"2024-12-31 23:00", "2025-12-31 22:00", "2026-01-15 12:00"}},
      {5, {"2024-03-01 12:00", "2024-12-31 23:00", "2025-12-31 22:00", "2026-01-15 12:00"}},
  };
  for (const auto& c : cases) {
    INFO("yearly " << c.yearly);
    REQUIRE(kept(run(years, policy(0, 0, 0, 0, 0, c.yearly)), minute_of) == c.kept);
  }
}

TEST_CASE("Weekly buckets agree with strftime's ISO weeks over seven years") {
  ScopedTz tz("Europe/Berlin");  // with daylight saving time
  const auto snaps = daily("2019-12-01", "2027-01-31");
  std::vector<std::string> expected;  // newest of each %G-%V week, plus the oldest snapshot
  std::string last_week;
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    time_t secs = static_cast<time_t>(it->snapshot.time / 1'000'000'000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%G-%V", &tm);
    if (buf != last_week || std::next(it) == snaps.rend()) expected.insert(expected.begin(), day_of(it->snapshot.time));
    last_week = buf;
  }
  REQUIRE(expected.size() > 370);
  REQUIRE(kept(run(snaps, policy(0, 0, 0, -1, 0, 0))) == expected);
}

TEST_CASE("Groups are judged independently and ordered by host, paths and tags") {
  ScopedTz tz("UTC");
  std::vector<repo::SnapshotRef> snaps;
  for (int day = 1; day <= 5; ++day) {
    snaps.push_back(snap("2026-01-0" + std::to_string(day) + " 00:00:00", "db1", {"b"}, {"/var", "/etc"}));
    snaps.push_back(snap("2026-01-0" + std::to_string(day) + " 06:00:00", "app1", {"a"}, {"/etc", "/var"}));
  }
  snaps.push_back(snap("2026-02-01 00:00:00", "db1", {"c"}, {"/srv"}));

  auto groups = run(snaps, policy(2, 0, 0, 0, 0, 0));
  REQUIRE(groups.size() == 3);
  REQUIRE(groups[0].host == "app1");
  REQUIRE(groups[0].paths == std::vector<std::string>{"/etc", "/var"});  // sorted
  REQUIRE(groups[0].tags.empty());                                       // not grouped by tags
  REQUIRE(groups[0].label() == "host [app1], paths [/etc, /var]");
  REQUIRE(groups[1].host == "db1");
  REQUIRE(groups[1].paths == std::vector<std::string>{"/etc", "/var"});
  REQUIRE(groups[2].paths == std::vector<std::string>{"/srv"});
  for (auto i : {0, 1}) {
    REQUIRE(groups[i].kept() == 2);
    REQUIRE(groups[i].removed() == 3);
    REQUIRE(day_of(groups[i].decisions[1].snapshot.snapshot.time) == "2026-01-04");
  }
  REQUIRE(groups[2].kept() == 1);

  auto by_host_tags = run(snaps, policy(1, 0, 0, 0, 0, 0), *GroupBy::parse("host,tags"));
  REQUIRE(by_host_tags.size() == 3);
  REQUIRE(by_host_tags[1].tags == std::vector<std::string>{"b"});
  REQUIRE(by_host_tags[1].label() == "host [db1], tags [b]");

  auto one = run(snaps, policy(3, 0, 0, 0, 0, 0), GroupBy::none());
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].label().empty());
  REQUIRE(one[0].decisions.size() == 11);
  REQUIRE(one[0].kept() == 3);
  REQUIRE(one[0].decisions[0].snapshot.snapshot.host == "db1");

  auto none = apply_retention({}, policy(1, 0, 0, 0, 0, 0), GroupBy{});
  REQUIRE(none);
  REQUIRE(none->empty());
}

TEST_CASE("Group-by parses like restic's and rejects unknown fields") {
  struct Case {
    const char* text;
    bool host, paths, tags;
    const char* canonical;
  };
  const Case cases[] = {
      {"", false, false, false, ""},
      {"host", true, false, false, "host"},
      {"host,paths", true, true, false, "host,paths"},
      {"paths,host", true, true, false, "host,paths"},
      {" host , path ", true, true, false, "host,paths"},
      {"tags", false, false, true, "tags"},
      {"hosts,paths,tags", true, true, true, "host,paths,tags"},
  };
  for (const auto& c : cases) {
    INFO("'" << c.text << "'");
    auto by = GroupBy::parse(c.text);
    REQUIRE(by);
    REQUIRE(*by == GroupBy{c.host, c.paths, c.tags});
    REQUIRE(by->to_string() == c.canonical);
  }
  REQUIRE(GroupBy{}.to_string() == "host,paths");
  for (const char* bad : {"hostname", "host,foo", "host;paths", "user"}) {
    INFO(bad);
    auto by = GroupBy::parse(bad);
    REQUIRE_FALSE(by);
    REQUIRE(by.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("Empty or invalid policies are refused") {
  const std::vector<repo::SnapshotRef> snaps{snap("2026-01-01 00:00:00")};
  struct Case {
    const char* name;
    RetentionPolicy policy;
  };
  const Case cases[] = {
      {"empty", RetentionPolicy{}},
      {"within 0", policy(0, 0, 0, 0, 0, 0, 0.0)},
      {"count -2", policy(0, 0, -2, 0, 0, 0)},
      {"negative within", policy(1, 0, 0, 0, 0, 0, -5.0)},
      {"empty tag", policy(0, 0, 0, 0, 0, 0, std::nullopt, {","})},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = apply_retention(snaps, c.policy, GroupBy{});
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code() == Errc::invalid_argument);
  }
  REQUIRE(RetentionPolicy{}.empty());
  REQUIRE_FALSE(policy(0, 0, 0, 0, 0, 0, std::nullopt, {"x"}).empty());
}
