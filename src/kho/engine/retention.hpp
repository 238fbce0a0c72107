// Retention: which snapshots `forget` keeps, by restic's rules. Pure logic, no I/O.
//
// Snapshots are split into groups (by host, paths and/or tags); each group is
// judged on its own. Within a group the snapshots are walked newest first and
// every rule decides independently:
//   keep-last N      the N newest snapshots;
//   keep-hourly N .. keep-yearly N
//                    the newest snapshot of each of the N most recent hours, days,
//                    ISO weeks, months, years (local time, as the TZ environment
//                    variable says) that hold a snapshot. A rule whose count is
//                    not used up when it reaches the oldest snapshot of the group
//                    keeps that one too (restic does the same: it keeps the
//                    longest history the counts allow). -1 means no limit;
//   keep-within D    every snapshot strictly newer than (newest in group - D);
//   keep-tag T       every snapshot that has tag T ("a,b": has both a and b).
// A snapshot is kept when any rule keeps it; the reasons list every rule that did.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/repo/snapshot.hpp"
#include "kho/util/error.hpp"

namespace kho::engine {

struct RetentionPolicy {
  // Counts: 0 = rule off, N > 0 = N buckets, -1 = every bucket.
  int keep_last = 0;
  int keep_hourly = 0;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  int keep_yearly = 0;
  // Seconds before the group's newest snapshot; unset or 0 = rule off.
  std::optional<double> keep_within_s;
  // Each entry is one tag or a comma-separated list that must all be present.
  std::vector<std::string> keep_tags;

  // True when no rule is on: such a policy would decide nothing.
  bool empty() const;
  // Fails with Errc::invalid_argument for counts below -1, a negative or
  // non-finite keep_within_s, or an empty keep-tag.
  [[nodiscard]] Status validate() const;
};

// Which snapshot fields form a group. Default: host and paths (as restic).
struct GroupBy {
  bool host = true;
  bool paths = true;
  bool tags = false;

  static GroupBy none() { return GroupBy{false, false, false}; }
  // Parses "host,paths,tags" in any order and subset ("host"/"hosts",
  // "path"/"paths", "tag"/"tags"); "" means no grouping. An unknown word fails
  // with Errc::invalid_argument.
  [[nodiscard]] static Result<GroupBy> parse(std::string_view text);
  // Canonical text: "host,paths", "" for none.
  std::string to_string() const;

  bool operator==(const GroupBy&) const = default;
};

struct RetentionDecision {
  std::size_t index = 0;  // position of the snapshot in apply_retention's input
  repo::SnapshotRef snapshot;
  bool keep = false;
  // One entry per rule that kept it, in this order: "tag 'x'" / "tags 'a,b'",
  // "within 7d", "last snapshot", "hourly snapshot", "daily snapshot",
  // "weekly snapshot", "monthly snapshot", "yearly snapshot". Empty when removed.
  std::vector<std::string> reasons;
};

struct RetentionGroup {
  GroupBy group_by;
  // The group's key; a field the grouping does not use is left empty.
  std::string host;
  std::vector<std::string> paths;  // sorted
  std::vector<std::string> tags;   // sorted
  // Newest first; equal times are ordered by ascending snapshot ID.
  std::vector<RetentionDecision> decisions;

  std::size_t kept() const;
  std::size_t removed() const;
  // "host [web1], paths [/etc, /srv]", "" when snapshots are not grouped.
  std::string label() const;
};

// Applies `policy` to each group of `snapshots`. Groups are ordered by host,
// then paths, then tags; no input means no groups. Fails with
// Errc::invalid_argument when the policy is empty (forget refuses to guess, and
// says which --keep-* options exist) or invalid (see validate()).
// Reads the local time zone (localtime_r); otherwise pure and thread-safe.
[[nodiscard]] Result<std::vector<RetentionGroup>> apply_retention(const std::vector<repo::SnapshotRef>& snapshots,
                                                                  const RetentionPolicy& policy,
                                                                  const GroupBy& group_by = GroupBy{});

}  // namespace kho::engine
