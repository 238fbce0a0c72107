#include "kho/engine/retention.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kho::engine {

namespace {

constexpr std::int64_t k_ns_per_s = 1'000'000'000;

std::vector<std::string> split_tags(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view word = text.substr(pos, comma - pos);
    if (!word.empty()) out.emplace_back(word);
    pos = comma + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "7d", "1d12h", "1h30m", "90.5s": the shape parse_duration reads back.
std::string format_within(double seconds) {
  if (seconds != std::floor(seconds)) return fmt::format("{}s", seconds);
  auto total = static_cast<long long>(seconds);
  std::string out;
  const std::array<std::pair<long long, char>, 4> units{{{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  for (auto [size, unit] : units) {
    if (total >= size) {
      out += fmt::format("{}{}", total / size, unit);
      total %= size;
    }
  }
  return out.empty() ? "0s" : out;
}

// ISO 8601 weeks in a year: 53 when it starts on a Thursday, or on a Wednesday
// in a leap year.
int iso_weeks_in_year(int year) {
  auto p = [](int y) { return (y + y / 4 - y / 100 + y / 400) % 7; };
  return (p(year) == 4 || p(year - 1) == 3) ? 53 : 52;
}

// Bucket numbers of one time, in local time, shaped like restic's:
// YYYYMMDDHH, YYYYMMDD, ISO YYYYWW, YYYYMM, YYYY.
struct Buckets {
  std::int64_t hour;
  std::int64_t day;
  std::int64_t week;
  std::int64_t month;
  std::int64_t year;
};

Buckets local_buckets(TimeNs t) {
  std::int64_t secs = t / k_ns_per_s;
  if (t % k_ns_per_s < 0) --secs;  // floor, for times before 1970
  time_t tt = static_cast<time_t>(secs);
  std::tm tm{};
  localtime_r(&tt, &tm);
  const std::int64_t year = tm.tm_year + 1900;
  const std::int64_t month = tm.tm_mon + 1;

  const int weekday = (tm.tm_wday + 6) % 7 + 1;  // Monday = 1 .. Sunday = 7
  int iso_year = tm.tm_year + 1900;
  int week = (tm.tm_yday + 1 - weekday + 10) / 7;
  if (week < 1) {
    --iso_year;
    week = iso_weeks_in_year(iso_year);
  } else if (week > iso_weeks_in_year(iso_year)) {
    ++iso_year;
    week = 1;
  }

  Buckets b{};
  b.year = year;
  b.month = year * 100 + month;
  b.day = b.month * 100 + tm.tm_mday;
  b.hour = b.day * 100 + tm.tm_hour;
  b.week = std::int64_t{iso_year} * 100 + week;
  return b;
}

bool has_all_tags(const repo::Snapshot& s, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& t) { return s.has_tag(t); });
}

struct GroupKey {
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;

  auto operator<=>(const GroupKey&) const = default;
};

GroupKey group_key(const repo::Snapshot& s, const GroupBy& by) {
  GroupKey key;
  if (by.host) key.host = s.host;
  if (by.paths) {
    key.paths = s.paths;
    std::sort(key.paths.begin(), key.paths.end());
  }
  if (by.tags) {
    key.tags = s.tags;
    std::sort(key.tags.begin(), key.tags.end());
  }
  return key;
}

// Decides one group; `decisions` holds its snapshots in any order on entry.
void decide_group(std::vector<RetentionDecision>& decisions, const RetentionPolicy& policy) {
  std::sort(decisions.begin(), decisions.end(), [](const RetentionDecision& a, const RetentionDecision& b) {
    const TimeNs ta = a.snapshot.snapshot.time, tb = b.snapshot.snapshot.time;
    if (ta != tb) return ta > tb;
    return a.snapshot.id < b.snapshot.id;
  });
  if (decisions.empty()) return;

  struct Tag {
    std::vector<std::string> tags;
    std::string reason;
  };
  std::vector<Tag> tag_rules;
  for (const auto& entry : policy.keep_tags) {
    Tag rule{split_tags(entry), ""};
    rule.reason = rule.tags.size() == 1 ? fmt::format("tag '{}'", rule.tags[0])
                                        : fmt::format("tags '{}'", fmt::join(rule.tags, ","));
    tag_rules.push_back(std::move(rule));
  }

  const TimeNs newest = decisions.front().snapshot.snapshot.time;
  const bool within_on = policy.keep_within_s && *policy.keep_within_s > 0;
  bool within_all = false;  // the window reaches past every representable time
  TimeNs within_cutoff = 0;
  std::string within_reason;
  if (within_on) {
    const double span_ns = *policy.keep_within_s * 1e9;
    if (span_ns >= 4e18) {
      within_all = true;
    } else {
      within_cutoff = newest - static_cast<TimeNs>(std::llround(span_ns));
    }
    within_reason = "within " + format_within(*policy.keep_within_s);
  }

  enum Kind { last, hourly, daily, weekly, monthly, yearly };
  struct Rule {
    Kind kind;
    int count;
    std::optional<std::int64_t> last_bucket;
    const char* reason;
  };
  std::array<Rule, 6> rules{{
      {last, policy.keep_last, std::nullopt, "last snapshot"},
      {hourly, policy.keep_hourly, std::nullopt, "hourly snapshot"},
      {daily, policy.keep_daily, std::nullopt, "daily snapshot"},
      {weekly, policy.keep_weekly, std::nullopt, "weekly snapshot"},
      {monthly, policy.keep_monthly, std::nullopt, "monthly snapshot"},
      {yearly, policy.keep_yearly, std::nullopt, "yearly snapshot"},
  }};

  for (std::size_t nr = 0; nr < decisions.size(); ++nr) {
    RetentionDecision& d = decisions[nr];
    const repo::Snapshot& s = d.snapshot.snapshot;
    d.reasons.clear();

    for (const auto& rule : tag_rules)
      if (has_all_tags(s, rule.tags)) d.reasons.push_back(rule.reason);

    if (within_on && (within_all || s.time > within_cutoff)) d.reasons.push_back(within_reason);

    const Buckets b = local_buckets(s.time);
    const bool oldest = nr + 1 == decisions.size();
    for (Rule& rule : rules) {
      if (rule.count == 0) continue;  // off, or used up
      std::int64_t bucket = 0;
      switch (rule.kind) {
        case last: bucket = static_cast<std::int64_t>(nr); break;
        case hourly: bucket = b.hour; break;
        case daily: bucket = b.day; break;
        case weekly: bucket = b.week; break;
        case monthly: bucket = b.month; break;
        case yearly: bucket = b.year; break;
      }
      // restic also keeps the group's oldest snapshot while a rule has counts
      // left: that keeps the longest history the policy allows.
      if (rule.last_bucket != bucket || oldest) {
        rule.last_bucket = bucket;
        if (rule.count > 0) --rule.count;
        d.reasons.emplace_back(rule.reason);
      }
    }
    d.keep = !d.reasons.empty();
  }
}

}  // namespace

bool RetentionPolicy::empty() const {
  return keep_last == 0 && keep_hourly == 0 && keep_daily == 0 && keep_weekly == 0 && keep_monthly == 0 &&
         keep_yearly == 0 && !(keep_within_s && *keep_within_s != 0) && keep_tags.empty();
}

Status RetentionPolicy::validate() const {
  const std::array<std::pair<int, const char*>, 6> counts{{{keep_last, "--keep-last"},
                                                           {keep_hourly, "--keep-hourly"},
                                                           {keep_daily, "--keep-daily"},
                                                           {keep_weekly, "--keep-weekly"},
                                                           {keep_monthly, "--keep-monthly"},
                                                           {keep_yearly, "--keep-yearly"}}};
  for (auto [count, option] : counts) {
    if (count < -1)
      return failf(Errc::invalid_argument, "{} {}: a count must be a number of snapshots, or -1 for all", option,
                   count);
  }
  if (keep_within_s && (!std::isfinite(*keep_within_s) || *keep_within_s < 0))
    return fail(Errc::invalid_argument, "--keep-within: the duration must be positive (examples: 7d, 2w, 1y)");
  for (const auto& entry : keep_tags) {
    if (split_tags(entry).empty())
      return failf(Errc::invalid_argument, "--keep-tag '{}': name at least one tag", entry);
  }
  return {};
}

Result<GroupBy> GroupBy::parse(std::string_view text) {
  GroupBy by = none();
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view word = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (word.empty()) continue;
    if (word == "host" || word == "hosts") {
      by.host = true;
    } else if (word == "path" || word == "paths") {
      by.paths = true;
    } else if (word == "tag" || word == "tags") {
      by.tags = true;
    } else {
      return failf(Errc::invalid_argument,
                   "--group-by '{}': unknown field '{}' (use host, paths and tags separated by commas, or '' for "
                   "no grouping)",
                   text, word);
    }
  }
  return by;
}

std::string GroupBy::to_string() const {
  std::vector<std::string_view> words;
  if (host) words.push_back("host");
  if (paths) words.push_back("paths");
  if (tags) words.push_back("tags");
  return fmt::format("{}", fmt::join(words, ","));
}

std::size_t RetentionGroup::kept() const {
  return static_cast<std::size_t>(
      std::count_if(decisions.begin(), decisions.end(), [](const RetentionDecision& d) { return d.keep; }));
}

std::size_t RetentionGroup::removed() const { return decisions.size() - kept(); }

std::string RetentionGroup::label() const {
  std::vector<std::string> parts;
  if (group_by.host) parts.push_back(fmt::format("host [{}]", host));
  if (group_by.paths) parts.push_back(fmt::format("paths [{}]", fmt::join(paths, ", ")));
  if (group_by.tags) parts.push_back(fmt::format("tags [{}]", fmt::join(tags, ", ")));
  return fmt::format("{}", fmt::join(parts, ", "));
}

Result<std::vector<RetentionGroup>> apply_retention(const std::vector<repo::SnapshotRef>& snapshots,
                                                    const RetentionPolicy& policy, const GroupBy& group_by) {
  if (policy.empty())
    return fail(Errc::invalid_argument,
                "no retention policy given: name at least one of --keep-last, --keep-hourly, --keep-daily, "
                "--keep-weekly, --keep-monthly, --keep-yearly, --keep-within or --keep-tag");
  KHO_TRY_STATUS(policy.validate());

  std::map<GroupKey, std::vector<RetentionDecision>> by_key;
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    RetentionDecision d;
    d.index = i;
    d.snapshot = snapshots[i];
    by_key[group_key(snapshots[i].snapshot, group_by)].push_back(std::move(d));
  }

  std::vector<RetentionGroup> groups;
  groups.reserve(by_key.size());
  for (auto& [key, decisions] : by_key) {
    decide_group(decisions, policy);
    RetentionGroup g;
    g.group_by = group_by;
    g.host = key.host;
    g.paths = key.paths;
    g.tags = key.tags;
    g.decisions = std::move(decisions);
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace kho::engine
