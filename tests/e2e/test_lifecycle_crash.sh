#!/usr/bin/env bash
# Crash safety. A backup killed with SIGKILL (KHO_CRASH_AT) during the upload,
# after the packs before the index, and after the index before the snapshot
# leaves a repository that `check` passes; the next backup of the same data
# completes; prune removes the leftovers; every snapshot restores byte for
# byte. A prune killed after repacking, after writing the new index, after
# deleting the old indexes and halfway through deleting packs loses nothing a
# kept snapshot needs (check --read-data, restore them all), and a plain prune
# afterwards finishes the job.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MB=1000000

# fresh_repo: an empty repository (the old one is removed).
fresh_repo() {
  rm -rf "$REPO"
  expect_exit 0 kho init
}

# crash POINT CMD...: runs kho CMD with KHO_CRASH_AT=POINT and expects it to be
# killed there (exit 137 = 128 + SIGKILL).
crash() {
  local point=$1
  shift
  local rc=0
  KHO_CRASH_AT=$point kho "$@" >"$OUT_FILE" 2>"$ERR_FILE" || rc=$?
  if ((rc != 137)); then
    echo "FAIL: $TEST_NAME: KHO_CRASH_AT=$point kho $* should be killed at '$point' (exit 137), got exit $rc" >&2
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    exit 1
  fi
}

# data_bytes: bytes in the repository's packs (files only: du would add the
# 256 fan-out directories).
data_bytes() {
  find "$REPO/data" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'
}

# unindexed_hint: prints the check hints about packs no index lists (empty if none).
unindexed_hint() {
  expect_exit 0 kho check --json
  python3 -c '
import json, sys
j = json.loads(sys.argv[1])
print("\n".join(h for h in j.get("hints", []) if "not in any index" in h))' "$(json_last_line "$OUT_FILE")"
}

# snapshot_of DIR: the ID of the only snapshot of DIR.
snapshot_of() {
  kho snapshots --json --path "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
if len(s) != 1:
    sys.exit("expected one snapshot of %s, found %d" % (sys.argv[1], len(s)))
print(s[0]["id"])' "$1"
}

GOOD=$TEST_DIR/good
mkdir -p "$GOOD/d"
random_file "$GOOD/d/one.bin" $((1 * MB))
echo "a small text file" >"$GOOD/small.txt"

# 40 MB of new random data: 2 full packs (16 MiB) and a partial one.
NEW=$TEST_DIR/new
mkdir -p "$NEW"
for i in 1 2 3 4; do random_file "$NEW/part$i.bin" $((10 * MB)); done

for point in after-pack-upload before-index before-snapshot; do
  step "backup killed at $point"
  fresh_repo
  expect_exit 0 kho backup "$GOOD"
  before=$(data_bytes)
  crash "$point" backup "$NEW"
  grown=$(($(data_bytes) - before))
  echo "the killed backup left $grown bytes of packs"
  case $point in
    after-pack-upload) ((grown > 10 * MB)) || fail "KHO_CRASH_AT=$point: no full pack was uploaded before the kill ($grown bytes)" ;;
    *) ((grown > 39 * MB)) || fail "KHO_CRASH_AT=$point: all packs should be uploaded before the kill ($grown bytes)" ;;
  esac
  [[ $(snapshot_count) == 1 ]] || fail "after a backup killed at $point there should still be 1 snapshot, not $(snapshot_count)"

  step "$point: check passes (hints allowed), also --read-data"
  expect_exit 0 kho check
  expect_exit 0 kho check --read-data

  step "$point: the next backup of the same data completes"
  expect_exit 0 kho backup "$NEW"
  [[ $(snapshot_count) == 2 ]] || fail "after the repeated backup there should be 2 snapshots, not $(snapshot_count)"
  expect_exit 0 kho check --read-data

  step "$point: prune removes the leftovers"
  # A save killed mid-write leaves its temporary file (a backup's other threads
  # may be writing packs when it dies): prune removes it too.
  # Packs are written in pieces into data/data.tmp-*, whole objects beside their
  # final name.
  partial=$REPO/data/ab/ab$(printf '0%.0s' {1..62}).tmp-0123456789abcdef
  head -c 100000 /dev/urandom >"$partial"
  head -c 100000 /dev/urandom >"$REPO/data/data.tmp-0123456789abcdef"
  expect_exit 0 kho prune
  [[ ! -e $partial ]] || fail "prune left the temporary file of an interrupted save: $partial"
  leftovers=$(find "$REPO" -name '*.tmp-*' | head -3)
  [[ -z $leftovers ]] || fail "prune left temporary files of interrupted saves: $leftovers"
  hint=$(unindexed_hint)
  [[ -z $hint ]] || fail "after prune, check still finds leftovers of the killed backup: $hint"
  expect_exit 0 kho check --read-data
  total=$(data_bytes)
  echo "packs after prune: $total bytes for 41 MB of data"
  ((total < 42 * MB)) || fail "after prune the packs hold $total bytes for 41 MB of data: the killed backup's packs were not removed"
  assert_no_locks "after prune (the killed backup's lock is stale)"

  step "$point: every snapshot restores byte for byte"
  restore_and_compare "$(snapshot_of "$GOOD")" "$GOOD"
  restore_and_compare "$(snapshot_of "$NEW")" "$NEW"
done

# Three snapshots of different data; the middle one shares C with the last, so
# after forgetting it its pack is half used and must be repacked, not deleted.
D1=$TEST_DIR/d1
D2=$TEST_DIR/d2
D3=$TEST_DIR/d3
mkdir -p "$D1" "$D2" "$D3"
random_file "$D1/a.bin" $((3 * MB))
random_file "$D2/b.bin" $((3 * MB))
random_file "$D2/c.bin" $((3 * MB))
cp -p "$D2/c.bin" "$D3/c.bin"
random_file "$D3/e.bin" $((3 * MB))

for point in prune-after-repack prune-after-index prune-after-index-delete prune-mid-delete; do
  step "prune killed at $point"
  fresh_repo
  for d in "$D1" "$D2" "$D3"; do expect_exit 0 kho backup "$d"; done
  S1=$(snapshot_of "$D1")
  S2=$(snapshot_of "$D2")
  S3=$(snapshot_of "$D3")
  expect_exit 0 kho forget "$S2"
  expect_exit 0 kho prune --dry-run --json
  J=$(json_last_line "$OUT_FILE")
  (($(json_get "$J" packs_repacked) >= 1)) || fail "test set-up: the middle snapshot's pack should need repacking: $J"
  crash "$point" prune

  step "$point: check --read-data passes and the kept snapshots restore"
  expect_exit 0 kho check --read-data
  [[ $(snapshot_count) == 2 ]] || fail "after a prune killed at $point there should be 2 snapshots, not $(snapshot_count)"
  restore_and_compare "$S1" "$D1"
  restore_and_compare "$S3" "$D3"

  step "$point: a plain prune finishes the job"
  expect_exit 0 kho prune
  expect_exit 0 kho check --read-data
  hint=$(unindexed_hint)
  [[ -z $hint ]] || fail "after the second prune, check still finds leftovers: $hint"
  total=$(data_bytes)
  echo "packs after prune: $total bytes for 9 MB of kept data"
  ((total < 9500000)) || fail "after the second prune the packs hold $total bytes; the forgotten 3 MB (b.bin) should be gone"
  expect_exit 0 kho prune --dry-run --json
  J=$(json_last_line "$OUT_FILE")
  [[ $(json_get "$J" bytes_freed) == 0 ]] || fail "after the second prune there should be nothing left to free: $J"
  restore_and_compare "$S1" "$D1"
  restore_and_compare "$S3" "$D3"
  assert_no_locks "after prune"
done
