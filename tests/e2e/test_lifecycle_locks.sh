#!/usr/bin/env bash
# Locks. Two backups from two processes into one repository at the same time
# both succeed and both restore. A prune started while a backup holds its
# (shared) lock exits 11 and names the holder (pid, host); with --retry-lock it
# waits and succeeds once the backup is done. A lock left by a process killed
# with SIGKILL on this host does not block the next prune (and is cleaned), and
# `kho unlock` removes such a lock; `unlock` leaves a live lock alone and
# `unlock --remove-all` removes it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MB=1000000
HOST=$(uname -n)
BG_PIDS=()

# Background kho processes must not outlive a failing test.
kill_background() {
  local p
  for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do kill -9 "$p" 2>/dev/null || true; done
}
lifecycle_exit() {
  local rc=$?
  kill_background
  _e2e_on_exit "$rc"
}
trap lifecycle_exit EXIT

# wait_for_lock: waits (up to 20 s) until the repository holds a lock file.
wait_for_lock() {
  local i
  for ((i = 0; i < 200; i++)); do
    (($(lock_files) > 0)) && return 0
    sleep 0.1
  done
  fail "no lock file appeared in $REPO/locks within 20 s"
}

# start_bg ARGS...: starts kho ARGS in the background (the binary itself, so
# that $BG is the pid kho writes into its lock); its output goes to
# $TEST_DIR/bg.N.out and .err, N = the number of the process in BG_PIDS.
start_bg() {
  local n=${#BG_PIDS[@]}
  "$KHO" "$@" >"$TEST_DIR/bg.$n.out" 2>"$TEST_DIR/bg.$n.err" &
  BG=$!
  BG_PIDS+=("$BG")
}

# wait_bg PID WHAT: waits for a background kho and asserts exit 0.
wait_bg() {
  local rc=0 n
  wait "$1" || rc=$?
  if ((rc != 0)); then
    for n in "${!BG_PIDS[@]}"; do
      [[ ${BG_PIDS[n]} == "$1" ]] && cat "$TEST_DIR/bg.$n.out" "$TEST_DIR/bg.$n.err" >&2
    done
    fail "$2 (pid $1) exited $rc, expected 0"
  fi
}

expect_exit 0 kho init

step "two backups of different directories at the same time both succeed"
D1=$TEST_DIR/d1
D2=$TEST_DIR/d2
mkdir -p "$D1" "$D2"
for i in 1 2 3; do
  random_file "$D1/f$i.bin" $((8 * MB))
  random_file "$D2/g$i.bin" $((8 * MB))
done
echo "common" >"$D1/common.txt"
echo "common" >"$D2/common.txt"
start_bg backup "$D1"
P1=$BG
start_bg backup "$D2"
P2=$BG
wait_bg "$P1" "backup of $D1"
wait_bg "$P2" "backup of $D2"
[[ $(snapshot_count) == 2 ]] || fail "two concurrent backups should make 2 snapshots, not $(snapshot_count)"
assert_no_locks "after two concurrent backups"
expect_exit 0 kho check --read-data
restore_and_compare "$(kho snapshots --json --path "$D1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" "$D1"
restore_and_compare "$(kho snapshots --json --path "$D2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" "$D2"

step "a prune started while a backup holds its lock exits 11 and names the holder"
# The backup's input waits for a gate file, so it holds its lock for as long
# as the test needs, however slow the build (sanitizers) is.
GATE1=$TEST_DIR/gate1
start_bg backup --stdin-from "while [ ! -e '$GATE1' ]; do sleep 0.1; done; head -c 1000 /dev/zero" --stdin-filename slow.bin
HOLDER=$BG
wait_for_lock
started=$SECONDS
expect_exit 11 kho prune
(($(lock_files) == 1)) || fail "the refused prune should leave only the backup's lock, found $(lock_files)"
assert_output_contains "pid $HOLDER"
assert_output_contains "$HOST"
assert_output_contains_i "lock"
expect_exit 11 kho forget --keep-last 1
assert_output_contains "pid $HOLDER"
[[ $(snapshot_count) == 2 ]] || fail "a refused forget must not remove snapshots"

step "prune --retry-lock 60s waits for the backup and then succeeds"
(sleep 3 && touch "$GATE1") &
expect_exit 0 kho --retry-lock 60s prune
waited=$((SECONDS - started))
kill -0 "$HOLDER" 2>/dev/null && fail "prune --retry-lock finished while the backup (pid $HOLDER) still runs"
wait_bg "$HOLDER" "backup --stdin-from (the lock holder)"
echo "prune waited about ${waited}s for the backup's lock"
((waited >= 2)) || fail "prune --retry-lock returned after ${waited}s: it did not wait for the backup's lock"
[[ $(snapshot_count) == 3 ]] || fail "the slow backup should have made a third snapshot"
assert_no_locks "after the backup and the waiting prune"
expect_exit 0 kho check

step "a lock left by a backup killed with SIGKILL does not block the next prune"
expect_exit 137 env KHO_CRASH_AT=before-snapshot "$KHO" backup "$D1"
(($(lock_files) == 1)) || fail "test set-up: the killed backup should have left its lock, found $(lock_files) lock file(s)"
expect_exit 0 kho prune
assert_no_locks "after prune (a dead process's lock is stale: cleaned without a human)"
expect_exit 0 kho check

step "kho unlock removes the lock of a killed process"
expect_exit 137 env KHO_CRASH_AT=before-snapshot "$KHO" backup "$D2"
(($(lock_files) == 1)) || fail "test set-up: the killed backup should have left its lock, found $(lock_files) lock file(s)"
expect_exit 0 kho unlock
assert_output_contains "removed 1"
assert_no_locks "after kho unlock"
expect_exit 0 kho unlock --json
[[ $(json_get "$(json_last_line "$OUT_FILE")" removed) == 0 ]] || fail "a second unlock should find nothing to remove"

step "unlock leaves a live lock alone; unlock --remove-all removes it"
GATE2=$TEST_DIR/gate2
start_bg backup --stdin-from "while [ ! -e '$GATE2' ]; do sleep 0.1; done; head -c 1000 /dev/zero" --stdin-filename slow2.bin
LIVE=$BG
wait_for_lock
expect_exit 0 kho unlock
assert_output_contains "removed 0"
(($(lock_files) == 1)) || fail "kho unlock removed the lock of a running backup (pid $LIVE)"
expect_exit 11 kho prune
expect_exit 0 kho unlock --remove-all
assert_output_contains "removed 1"
if kill -0 "$LIVE" 2>/dev/null; then
  assert_no_locks "right after unlock --remove-all (pid $LIVE still runs)"
else
  fail "the backup (pid $LIVE) ended before its gate was opened"
fi
touch "$GATE2"
# The backup may finish or notice its lock is gone; either way, no damage.
rc=0
wait "$LIVE" || rc=$?
echo "backup whose lock was removed exited $rc"
((rc == 0 || rc == 1 || rc == 11)) || fail "backup whose lock was removed exited $rc (crash?)"
assert_no_locks "after the backup whose lock was removed ended"
expect_exit 0 kho check --read-data
