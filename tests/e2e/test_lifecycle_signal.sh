#!/usr/bin/env bash
# SIGINT/SIGTERM: kho stops within a few seconds, releases its lock, leaves a
# repository that passes `check`, and exits 130. Shown for SIGINT during a
# backup (no snapshot is saved; the next backup works and restores byte for
# byte), SIGTERM during a restore, and SIGINT during `check --read-data`.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MB=1000000
BG=

lifecycle_exit() {
  local rc=$?
  if [[ -n $BG ]]; then
    kill -9 "$BG" 2>/dev/null
    kill -CONT "$BG" 2>/dev/null
  fi
  _e2e_on_exit "$rc"
}
trap lifecycle_exit EXIT

# start_bg ARGS...: starts the kho binary in the background; $BG is its pid.
start_bg() {
  "$KHO" "$@" >"$TEST_DIR/bg.out" 2>"$TEST_DIR/bg.err" &
  BG=$!
}

# proc_state PID: the state letter of process PID (R, S, D, T, Z...), or "gone".
proc_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
    echo gone
    return
  }
  stat=${stat##*) }
  echo "${stat%% *}"
}

# alive PID: the process exists and has not exited (a zombie has).
alive() {
  local st
  st=$(proc_state "$1")
  [[ $st != gone && $st != Z && $st != X ]]
}

# Triggers for interrupt: each tells that the background kho is mid-work.
has_lock() { (($(lock_files) > 0)); }
new_pack() { (($(find "$REPO/data" -type f | wc -l) > PACKS_BEFORE)); }
target_started() { [[ -d $TEST_DIR/restore-interrupted$BIG/sub ]]; }

# interrupt SIGNAL WHAT TRIGGER: once TRIGGER holds (the background kho is
# mid-work), freezes kho with SIGSTOP (so that it cannot finish meanwhile),
# checks that it holds its lock, sends SIGNAL and SIGCONT, and expects kho to
# exit 130 within 10 s.
interrupt() {
  local sig=$1 what=$2 trigger=$3 i rc=0
  for ((i = 0; i < 1500; i++)); do
    alive "$BG" || break
    "$trigger" && break
    sleep 0.02
  done
  alive "$BG" || fail "test set-up: $what ended before '$trigger' held: it could not be interrupted mid-work"
  "$trigger" || fail "test set-up: '$trigger' did not hold within 30 s of starting $what"
  kill -STOP "$BG"
  for ((i = 0; i < 100; i++)); do
    [[ $(proc_state "$BG") == T ]] && break
    sleep 0.01
  done
  [[ $(proc_state "$BG") == T ]] || fail "test set-up: $what could not be frozen with SIGSTOP (state $(proc_state "$BG"))"
  (($(lock_files) > 0)) || fail "$what holds no lock in $REPO/locks while it runs"
  kill "-$sig" "$BG"
  kill -CONT "$BG"
  local sent=$SECONDS
  for ((i = 0; i < 100; i++)); do
    alive "$BG" || break
    sleep 0.1
  done
  alive "$BG" && fail "$what was still running 10 s after SIG$sig"
  wait "$BG" || rc=$?
  BG=
  echo "$what stopped within $((SECONDS - sent + 1))s of SIG$sig, exit $rc"
  if ((rc != 130)); then
    cat "$TEST_DIR/bg.out" "$TEST_DIR/bg.err" >&2
    fail "$what interrupted by SIG$sig exited $rc, expected 130"
  fi
}

expect_exit 0 kho init

SMALL=$TEST_DIR/small
mkdir -p "$SMALL"
echo "before the interrupted backup" >"$SMALL/note.txt"
expect_exit 0 kho backup "$SMALL"

# 300 MB of random data (does not compress or deduplicate) and 20000 small
# files: work of a few seconds for backup, restore and check --read-data.
BIG=$TEST_DIR/big
mkdir -p "$BIG/sub"
for i in 1 2 3 4 5; do random_file "$BIG/sub/f$i.bin" $((60 * MB)); done
echo "small file" >"$BIG/small.txt"
python3 - "$BIG/many" <<'PYEOF'
import os, sys
for d in range(100):
    os.makedirs(f"{sys.argv[1]}/d{d}")
    for f in range(200):
        with open(f"{sys.argv[1]}/d{d}/f{f}.txt", "wb") as fh:
            fh.write(os.urandom(1000 + (d * 7 + f * 13) % 4000))
PYEOF

step "SIGINT during a backup: exit 130, lock released, no snapshot saved"
PACKS_BEFORE=$(find "$REPO/data" -type f | wc -l)
start_bg backup "$BIG"
interrupt INT "backup of 300 MB" new_pack
assert_no_locks "after the interrupted backup"
[[ $(snapshot_count) == 1 ]] || fail "an interrupted backup must not save a snapshot: $(snapshot_count) snapshots"
expect_exit 0 kho check

step "the next backup completes and restores byte for byte"
expect_exit 0 kho backup "$BIG"
[[ $(snapshot_count) == 2 ]] || fail "the backup after the interrupted one should make snapshot 2"
assert_no_locks "after the backup"
SNAP=$(kho snapshots --json --path "$BIG" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
restore_and_compare "$SNAP" "$BIG"

step "SIGTERM during a restore: exit 130, lock released"
start_bg restore "$SNAP" --target "$TEST_DIR/restore-interrupted"
interrupt TERM "restore of 300 MB" target_started
assert_no_locks "after the interrupted restore"
rm -rf "$TEST_DIR/restore-interrupted"
expect_exit 0 kho check

step "SIGINT during check --read-data: exit 130, lock released"
start_bg check --read-data
interrupt INT "check --read-data" has_lock
assert_no_locks "after the interrupted check"

step "afterwards: prune cleans the interrupted backup's leftovers, everything checks out"
expect_exit 0 kho prune
expect_exit 0 kho check --read-data --json
J=$(json_last_line "$OUT_FILE")
[[ $(json_get "$J" hints) == "[]" ]] || fail "after prune, check still has hints: $J"
restore_and_compare "$(kho snapshots --json --path "$SMALL" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" "$SMALL"
