#!/usr/bin/env bash
# Retention (`kho forget`) against tables of expected outcomes: 42 daily
# snapshots with --keep-daily 3 --keep-weekly 2 --keep-monthly 2 keep exactly
# Dec 31, Jan 25, 28, 29, 30, with the rules named as reasons; plus keep-last
# per group (several hosts) and with equal times, keep-tag, keep-within,
# hourly buckets, year and ISO-week boundaries (local time, not UTC),
# forget by ID, and "no rule" refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# Buckets are in local time; +07:00 moves midnight away from UTC's.
export TZ=Asia/Ho_Chi_Minh

SRC=$TEST_DIR/src
mkdir -p "$SRC"
echo "a tiny file" >"$SRC/file.txt"

# fresh_repo: an empty repository (the old one is removed).
fresh_repo() {
  rm -rf "$REPO"
  expect_exit 0 kho init
}

# snap TIME [BACKUP ARGS...]: one backup of $SRC made at local TIME.
snap() {
  local t=$1
  shift
  expect_exit 0 kho backup "$SRC" --time "$t" "$@"
}

# forget_dry WHAT EXPECTED_KEPT FORGET_ARGS...: `forget --dry-run --json` keeps
# exactly EXPECTED_KEPT (local times, one a line, sorted), removes the rest, and
# changes nothing. The JSON stays in $TEST_DIR/forget.json.
forget_dry() {
  local what=$1 want=$2 before
  shift 2
  before=$(snapshot_times)
  find "$REPO/snapshots" -type f | LC_ALL=C sort >"$TEST_DIR/snapfiles.before"
  expect_exit 0 kho forget --dry-run --json "$@"
  cp "$OUT_FILE" "$TEST_DIR/forget.json"
  find "$REPO/snapshots" -type f | LC_ALL=C sort >"$TEST_DIR/snapfiles.after"
  cmp -s "$TEST_DIR/snapfiles.before" "$TEST_DIR/snapfiles.after" ||
    fail "$what: forget --dry-run $* changed the repository's snapshots"
  python3 - "$TEST_DIR/forget.json" "$want" "$before" "$what: forget $*" <<'EOF' || exit 1
import difflib, json, sys
groups = json.load(open(sys.argv[1], encoding="utf-8"))
want, before, what = sys.argv[2].splitlines(), sys.argv[3].splitlines(), sys.argv[4]
t = lambda s: s["time"][:19].replace("T", " ")
kept = sorted(t(s) for g in groups for s in g["keep"])
removed = sorted(t(s) for g in groups for s in g["remove"])
def bad(msg, a, b):
    print("FAIL: %s: %s" % (what, msg), file=sys.stderr)
    for line in difflib.unified_diff(a, b, "expected", "actual", lineterm=""):
        print("    " + line, file=sys.stderr)
    sys.exit(1)
if kept != want:
    bad("unexpected kept snapshots", want, kept)
if sorted(kept + removed) != before:
    bad("keep + remove must list every snapshot once", before, sorted(kept + removed))
for g in groups:
    for s in g["keep"]:
        if not s.get("reasons"):
            bad("kept snapshot %s has no reasons" % t(s), [], [])
EOF
}

# assert_reason TIME WORD: the reasons for keeping the snapshot of TIME mention WORD.
assert_reason() {
  local reasons
  reasons=$(forget_json_reasons "$TEST_DIR/forget.json" "$1")
  grep -qiF -- "$2" <<<"$reasons" || fail "snapshot of $1 kept for '$reasons'; the reasons should mention '$2'"
}

# assert_no_reason TIME WORD: the reasons for keeping the snapshot of TIME do not mention WORD.
assert_no_reason() {
  local reasons
  reasons=$(forget_json_reasons "$TEST_DIR/forget.json" "$1")
  if grep -qiF -- "$2" <<<"$reasons"; then
    fail "snapshot of $1 kept for '$reasons'; no '$2' rule keeps it"
  fi
}

step "42 daily snapshots, 2025-12-20 .. 2026-01-30 at 10:00"
fresh_repo
for i in $(seq 0 41); do
  snap "$(date -d "2025-12-20 + $i days" '+%Y-%m-%d') 10:00:00"
done
[[ $(snapshot_count) == 42 ]] || fail "expected 42 snapshots, have $(snapshot_count)"

step "--keep-daily 3 --keep-weekly 2 --keep-monthly 2 keeps Dec 31, Jan 25, 28, 29, 30"
WANT="2025-12-31 10:00:00
2026-01-25 10:00:00
2026-01-28 10:00:00
2026-01-29 10:00:00
2026-01-30 10:00:00"
forget_dry "daily/weekly/monthly" "$WANT" --keep-daily 3 --keep-weekly 2 --keep-monthly 2
# Jan 30 is the newest of its day, ISO week (W05) and month.
assert_reason "2026-01-30 10:00:00" daily
assert_reason "2026-01-30 10:00:00" weekly
assert_reason "2026-01-30 10:00:00" monthly
assert_reason "2026-01-29 10:00:00" daily
assert_no_reason "2026-01-29 10:00:00" weekly
assert_reason "2026-01-28 10:00:00" daily
# Jan 25 is a Sunday: the last day of ISO week W04.
assert_reason "2026-01-25 10:00:00" weekly
assert_no_reason "2026-01-25 10:00:00" daily
assert_no_reason "2026-01-25 10:00:00" monthly
assert_reason "2025-12-31 10:00:00" monthly
assert_no_reason "2025-12-31 10:00:00" weekly
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/forget.json") == 1 ]] ||
  fail "one host and one path make one group: $(head -c 300 "$TEST_DIR/forget.json")"

step "the human-readable dry run names the rules too"
expect_exit 0 kho forget --dry-run --keep-daily 3 --keep-weekly 2 --keep-monthly 2
assert_output_contains_i "daily"
assert_output_contains_i "weekly"
assert_output_contains_i "monthly"
[[ $(snapshot_count) == 42 ]] || fail "forget --dry-run removed snapshots"

step "the real run removes the other 37"
expect_exit 0 kho forget --keep-daily 3 --keep-weekly 2 --keep-monthly 2
assert_lines_equal "snapshots left after forget" "$WANT" "$(snapshot_times)"
[[ $(snapshot_count) == 5 ]] || fail "expected 5 snapshots after forget, have $(snapshot_count)"
expect_exit 0 kho check

step "the same rules again change nothing"
expect_exit 0 kho forget --keep-daily 3 --keep-weekly 2 --keep-monthly 2
assert_lines_equal "snapshots left after a second forget" "$WANT" "$(snapshot_times)"

step "several groups: keep-last applies to each host separately"
fresh_repo
for d in 01 02 03 04 05; do
  snap "2026-02-$d 08:00:00" --host alpha
  snap "2026-02-$d 09:00:00" --host beta
done
snap "2026-02-06 09:00:00" --host beta
forget_dry "keep-last 2 per host" "2026-02-04 08:00:00
2026-02-05 08:00:00
2026-02-05 09:00:00
2026-02-06 09:00:00" --keep-last 2
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/forget.json") == 2 ]] ||
  fail "two hosts should make two groups in forget --json: $(head -c 600 "$TEST_DIR/forget.json")"
assert_reason "2026-02-05 08:00:00" last
step "--group-by '' makes one group"
forget_dry "keep-last 2, one group" "2026-02-05 09:00:00
2026-02-06 09:00:00" --keep-last 2 --group-by ''
step "--host restricts forget to one host"
expect_exit 0 kho forget --dry-run --json --keep-last 1 --host alpha
assert_lines_equal "keep-last 1 --host alpha: kept" "2026-02-05 08:00:00" "$(forget_json_times "$OUT_FILE" keep)"
assert_lines_equal "keep-last 1 --host alpha: removed" "2026-02-01 08:00:00
2026-02-02 08:00:00
2026-02-03 08:00:00
2026-02-04 08:00:00" "$(forget_json_times "$OUT_FILE" remove)"
expect_exit 0 kho forget --keep-last 2
assert_lines_equal "snapshots left after keep-last 2 per host" "2026-02-04 08:00:00
2026-02-05 08:00:00
2026-02-05 09:00:00
2026-02-06 09:00:00" "$(snapshot_times)"
for h in alpha beta; do
  n=$(kho snapshots --json --host "$h" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [[ $n == 2 ]] || fail "host $h should keep 2 snapshots, has $n"
done

step "keep-last with equal times keeps exactly N"
fresh_repo
snap "2026-03-01 12:00:00"
snap "2026-03-02 12:00:00"
snap "2026-03-02 12:00:00"
snap "2026-03-02 12:00:00"
expect_exit 0 kho forget --dry-run --json --keep-last 2
kept=$(forget_json_times "$OUT_FILE" keep)
assert_lines_equal "keep-last 2 over three snapshots of the same time" "2026-03-02 12:00:00
2026-03-02 12:00:00" "$kept"
expect_exit 0 kho forget --keep-last 1
[[ $(snapshot_count) == 1 ]] || fail "keep-last 1 over snapshots with equal times should leave 1, left $(snapshot_count)"
assert_lines_equal "keep-last 1" "2026-03-02 12:00:00" "$(snapshot_times)"

step "keep-tag keeps every tagged snapshot (a,b = both tags), whatever its age"
fresh_repo
snap "2026-04-01 10:00:00" --tag keep
snap "2026-04-02 10:00:00"
snap "2026-04-03 10:00:00" --tag keep --tag monthly
snap "2026-04-04 10:00:00" --tag other
snap "2026-04-05 10:00:00"
snap "2026-04-06 10:00:00" --tag monthly
# Grouped by host and paths only (not tags), the six form one group.
forget_dry "keep-tag keep" "2026-04-01 10:00:00
2026-04-03 10:00:00" --keep-tag keep --group-by host,paths
assert_reason "2026-04-01 10:00:00" "keep"
forget_dry "keep-tag keep + keep-tag monthly" "2026-04-01 10:00:00
2026-04-03 10:00:00
2026-04-06 10:00:00" --keep-tag keep --keep-tag monthly --group-by host,paths
forget_dry "keep-tag keep,monthly (both)" "2026-04-03 10:00:00" --keep-tag keep,monthly --group-by host,paths
forget_dry "keep-tag + keep-last 1" "2026-04-01 10:00:00
2026-04-03 10:00:00
2026-04-06 10:00:00" --keep-tag keep --keep-last 1 --group-by host,paths
step "--group-by host,paths,tags: keep-last 1 applies to each tag set"
forget_dry "keep-last 1 per tag set" "2026-04-01 10:00:00
2026-04-03 10:00:00
2026-04-04 10:00:00
2026-04-05 10:00:00
2026-04-06 10:00:00" --keep-last 1 --group-by host,paths,tags
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/forget.json") == 5 ]] ||
  fail "five tag sets should make five groups: $(head -c 600 "$TEST_DIR/forget.json")"
expect_exit 0 kho forget --keep-tag keep --group-by host,paths
assert_lines_equal "snapshots left after keep-tag keep" "2026-04-01 10:00:00
2026-04-03 10:00:00" "$(snapshot_times)"

step "keep-within keeps what is younger than DURATION before the group's newest"
fresh_repo
for d in 01 02 03 04 05 06 07 08 09; do
  snap "2026-05-$d 10:00:00"
done
snap "2026-05-10 11:00:00"
# 2026-05-07 10:00 is 73 h older than the newest: outside 3d; 2026-05-08 is 49 h.
forget_dry "keep-within 3d" "2026-05-08 10:00:00
2026-05-09 10:00:00
2026-05-10 11:00:00" --keep-within 3d
assert_reason "2026-05-08 10:00:00" "within"
forget_dry "keep-within 60h" "2026-05-08 10:00:00
2026-05-09 10:00:00
2026-05-10 11:00:00" --keep-within 60h
forget_dry "keep-within 1w" "2026-05-04 10:00:00
2026-05-05 10:00:00
2026-05-06 10:00:00
2026-05-07 10:00:00
2026-05-08 10:00:00
2026-05-09 10:00:00
2026-05-10 11:00:00" --keep-within 1w
forget_dry "keep-within 90m" "2026-05-10 11:00:00" --keep-within 90m
expect_exit 0 kho forget --keep-within 3d
assert_lines_equal "snapshots left after keep-within 3d" "2026-05-08 10:00:00
2026-05-09 10:00:00
2026-05-10 11:00:00" "$(snapshot_times)"

step "hourly buckets: several snapshots within one hour, newest of each hour kept"
fresh_repo
for t in 09:10:00 09:59:59 10:00:00 10:20:00 10:50:00 11:05:00 11:40:00 12:30:00; do
  snap "2026-06-15 $t"
done
forget_dry "keep-hourly 2" "2026-06-15 11:40:00
2026-06-15 12:30:00" --keep-hourly 2
assert_reason "2026-06-15 11:40:00" hourly
forget_dry "keep-hourly 3" "2026-06-15 10:50:00
2026-06-15 11:40:00
2026-06-15 12:30:00" --keep-hourly 3
# Only 4 hours for 10 buckets: like restic (0.17), the group's oldest snapshot
# is kept as well, for the longest history the policy allows.
forget_dry "keep-hourly 10" "2026-06-15 09:10:00
2026-06-15 09:59:59
2026-06-15 10:50:00
2026-06-15 11:40:00
2026-06-15 12:30:00" --keep-hourly 10
forget_dry "keep-last 3 + keep-hourly 3" "2026-06-15 10:50:00
2026-06-15 11:05:00
2026-06-15 11:40:00
2026-06-15 12:30:00" --keep-last 3 --keep-hourly 3
expect_exit 0 kho forget --keep-hourly 10
[[ $(snapshot_count) == 5 ]] || fail "keep-hourly 10 over 4 hours should leave 5 snapshots (4 hours + the oldest), left $(snapshot_count)"

step "year boundaries in local time: yearly, monthly and ISO weeks"
fresh_repo
# 2025-01-01 00:30 +07 is still 2024 in UTC: a UTC bucket would keep it for 2024.
for t in "2024-06-01 10:00:00" "2024-12-31 23:30:00" "2025-01-01 00:30:00" "2025-07-01 10:00:00" \
  "2025-12-27 10:00:00" "2025-12-28 10:00:00" "2025-12-29 10:00:00" "2025-12-31 23:59:59" \
  "2026-01-01 00:00:00" "2026-01-04 10:00:00"; do
  snap "$t"
done
forget_dry "keep-yearly 3" "2024-12-31 23:30:00
2025-12-31 23:59:59
2026-01-04 10:00:00" --keep-yearly 3
assert_reason "2024-12-31 23:30:00" yearly
forget_dry "keep-yearly 2" "2025-12-31 23:59:59
2026-01-04 10:00:00" --keep-yearly 2
forget_dry "keep-monthly 3" "2025-07-01 10:00:00
2025-12-31 23:59:59
2026-01-04 10:00:00" --keep-monthly 3
# In UTC, 2025-01-01 00:30 +07 would be December 2024's newest.
forget_dry "keep-monthly 5" "2024-12-31 23:30:00
2025-01-01 00:30:00
2025-07-01 10:00:00
2025-12-31 23:59:59
2026-01-04 10:00:00" --keep-monthly 5
# ISO weeks: 2025-12-29 .. 2026-01-04 is 2026-W01; 2025-12-28 (a Sunday) ends 2025-W52.
forget_dry "keep-weekly 2 across the new year" "2025-12-28 10:00:00
2026-01-04 10:00:00" --keep-weekly 2
forget_dry "keep-daily 4 across the new year" "2025-12-29 10:00:00
2025-12-31 23:59:59
2026-01-01 00:00:00
2026-01-04 10:00:00" --keep-daily 4
expect_exit 0 kho forget --keep-yearly 3
assert_lines_equal "snapshots left after keep-yearly 3" "2024-12-31 23:30:00
2025-12-31 23:59:59
2026-01-04 10:00:00" "$(snapshot_times)"

step "forget ID removes exactly that snapshot"
fresh_repo
snap "2026-07-01 10:00:00"
snap "2026-07-02 10:00:00"
snap "2026-07-03 10:00:00"
mid=$(kho snapshots --json | python3 -c '
import json, sys
print([s["id"] for s in json.load(sys.stdin) if s["time"].startswith("2026-07-02")][0])')
expect_exit 0 kho forget "${mid:0:8}"
assert_lines_equal "snapshots left after forget ${mid:0:8}" "2026-07-01 10:00:00
2026-07-03 10:00:00" "$(snapshot_times)"
if snapshot_ids | grep -xF "$mid" >/dev/null; then fail "snapshot $mid is still listed after forget"; fi
expect_exit 0 kho check

step "forget of an unknown ID fails and removes nothing"
expect_failure kho forget deadbeef
[[ $(snapshot_count) == 2 ]] || fail "forget of an unknown ID removed snapshots"

step "forget without a rule or an ID is refused (exit 2) and removes nothing"
expect_exit 2 kho forget
assert_output_contains_i "rule"
expect_exit 2 kho forget --dry-run
[[ $(snapshot_count) == 2 ]] || fail "forget without a rule removed snapshots"
