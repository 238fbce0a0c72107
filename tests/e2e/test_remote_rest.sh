#!/usr/bin/env bash
# Repositories behind a REST server (`rclone serve restic` on 127.0.0.1):
# - init, backup, restore (identical), check --read-data, forget --prune;
# - an append-only view of the same files: backup and restore work; forget,
#   prune and unlock --remove-all are refused with a message naming append-only
#   mode, exit non-zero, and lose nothing (check passes, every snapshot listed);
# - basic authentication: the right credentials work, wrong ones are refused
#   clearly, and the password never appears in kho's output;
# - the server killed in the middle of a backup: a clear error; after a restart
#   check passes and the next backup works.
# Passwords are given in KHO_REPOSITORY (exported by lib.sh), never on kho's command line.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_rclone.sh
source "$(dirname "$0")/lib_rclone.sh"

MB=1000000
SRC=$TEST_DIR/src

# assert_no_text TEXT WHAT: neither output of the last command holds TEXT.
assert_no_text() {
  if grep -qF -- "$1" "$OUT_FILE" "$ERR_FILE"; then
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    fail "$2"
  fi
}

# served_files NAME: every file the server NAME serves, with its size.
served_files() {
  (cd "$(rclone_data "$1")/" && find -L . -type f -printf '%P %s\n') | LC_ALL=C sort
}

step "building the source tree"
mkdir -p "$SRC/docs/hồ sơ" "$SRC/bin"
random_file "$SRC/bin/big.bin" $((24 * MB))
random_file "$SRC/bin/odd.bin" $((3 * MB + 7))
head -c $((9 * MB)) /dev/zero >"$SRC/bin/zeros.bin"
for i in $(seq 1 50); do printf 'note %d\n' "$i" >"$SRC/docs/note_$i.txt"; done
printf 'báo cáo\n' >"$SRC/docs/hồ sơ/báo cáo.txt"
ln -s ../bin/big.bin "$SRC/docs/link"
: >"$SRC/empty"

# ---------------------------------------------------------------- plain server
rclone_start plain
KHO_REPOSITORY="rest:$(rclone_url plain)main/"

step "init, backup, restore, check over REST"
expect_exit 0 kho init
assert_output_contains "rest:$(rclone_url plain)main/"
expect_exit 1 kho init
assert_output_contains "already exists"
expect_exit 0 kho backup "$SRC"
restore_and_compare latest "$SRC"
expect_exit 0 kho check --read-data
assert_output_contains "no errors found"
[[ -s $(rclone_data plain)/main/config ]] || fail "no config at the server"

step "forget --prune over REST"
printf 'changed\n' >>"$SRC/docs/note_1.txt"
random_file "$SRC/bin/new.bin" $((2 * MB))
expect_exit 0 kho backup "$SRC"
[[ $(snapshot_count) == 2 ]] || fail "expected 2 snapshots"
expect_exit 0 kho forget --keep-last 1 --prune --max-unused 0%
[[ $(snapshot_count) == 1 ]] || fail "forget --prune should leave 1 snapshot"
expect_exit 0 kho check --read-data
restore_and_compare latest "$SRC"

step "backend options: unknown rest.* keys are refused"
expect_exit 2 kho -o rest.bogus=1 snapshots
assert_output_contains "rest.bogus"
expect_exit 0 kho -o rest.connections=2 -o rest.timeout=30s snapshots

# ----------------------------------------------------------- append-only view
step "append-only server: backup and restore work"
rclone_start_on append plain --append-only
KHO_REPOSITORY="rest:$(rclone_url append)main/"
printf 'append-only day\n' >"$SRC/docs/append.txt"
expect_exit 0 kho backup "$SRC"
restore_and_compare latest "$SRC"
# The same content again: every pack already exists, nothing is re-uploaded.
expect_exit 0 kho backup "$SRC"
expect_exit 0 kho backup --tag again "$SRC"
[[ $(snapshot_count) == 4 ]] || fail "expected 4 snapshots after the append-only backups"
ids_before=$(snapshot_ids | LC_ALL=C sort)

step "append-only server: forget is refused and loses nothing"
expect_failure kho forget --keep-last 1
assert_output_contains "append-only"
assert_output_contains "forget refused"
assert_lines_equal "snapshots after a refused forget" "$ids_before" "$(snapshot_ids | LC_ALL=C sort)"
expect_failure kho forget --keep-last 1 --prune
assert_output_contains "append-only"
assert_lines_equal "snapshots after a refused forget --prune" "$ids_before" "$(snapshot_ids | LC_ALL=C sort)"

step "append-only server: prune with work to do is refused and changes nothing"
# Forget through the plain server, so prune has unused data to delete.
KHO_REPOSITORY="rest:$(rclone_url plain)main/" expect_exit 0 kho forget --keep-last 2
files_before=$(served_files plain)
expect_failure kho prune --max-unused 0%
assert_output_contains "append-only"
assert_output_contains "nothing was changed"
assert_lines_equal "files after a refused prune" "$files_before" "$(served_files plain)"
expect_exit 0 kho check --read-data
assert_output_contains "no errors found"
[[ $(snapshot_count) == 2 ]] || fail "the two kept snapshots should still be listed"
expect_exit 0 kho prune --dry-run

step "append-only server: unlock --remove-all is refused, stale locks go"
expect_failure kho unlock --remove-all
assert_output_contains "append-only"
expect_exit 0 kho unlock
[[ -z $(find -L "$(rclone_data plain)/main/locks" -type f) ]] || fail "locks left behind on the append-only server"

step "the plain server can still prune"
KHO_REPOSITORY="rest:$(rclone_url plain)main/"
expect_exit 0 kho prune --max-unused 0%
expect_exit 0 kho check --read-data
restore_and_compare latest "$SRC"
rclone_stop append

# ------------------------------------------------------------------ basic auth
step "basic authentication"
PASS_FILE=$TEST_DIR/server.pass
SECRET='Kh0 s3cret:p@ss/w%rd'
printf '%s' "$SECRET" >"$PASS_FILE"
rclone_start auth --user backup --pass-file "$PASS_FILE"
ENCODED='Kh0%20s3cret%3Ap%40ss%2Fw%25rd'
KHO_REPOSITORY="rest:http://backup:$ENCODED@127.0.0.1:$(rclone_port auth)/secure/"
for args in "init" "-v backup $SRC" "snapshots" "-v check --read-data"; do
  # shellcheck disable=SC2086
  expect_exit 0 kho $args
  assert_no_text "$SECRET" "kho $args showed the password"
  assert_no_text "$ENCODED" "kho $args showed the encoded password"
done
assert_output_contains "no errors found"
[[ $(snapshot_count) == 1 ]] || fail "expected 1 snapshot behind basic auth"

KHO_REPOSITORY="rest:http://backup:WrongHorse99@127.0.0.1:$(rclone_port auth)/secure/"
expect_failure kho snapshots
assert_output_contains "refused the credentials (HTTP 401)"
assert_no_text "WrongHorse99" "a wrong password was shown"
expect_failure kho backup "$SRC"
assert_output_contains "HTTP 401"
assert_no_text "WrongHorse99" "a wrong password was shown"
KHO_REPOSITORY="rest:http://127.0.0.1:$(rclone_port auth)/secure/"
expect_failure kho snapshots
assert_output_contains "HTTP 401"
rclone_stop auth

# ------------------------------------------------------ server killed mid-backup
step "the server killed during a backup"
# A bandwidth limit makes the upload last long enough to be interrupted.
rclone_start crash -- --bwlimit 8M
KHO_REPOSITORY="rest:$(rclone_url crash)repo/"
expect_exit 0 kho init
random_file "$SRC/bin/crash.bin" $((40 * MB))
data_dir=$(rclone_data crash)/repo/data
(
  for _ in $(seq 1 1200); do
    if [[ -n $(find "$data_dir" -type f -print -quit 2>/dev/null) ]]; then
      rclone_kill crash
      exit 0
    fi
    sleep 0.05
  done
) &
watcher=$!
expect_failure kho backup "$SRC"
wait "$watcher"
assert_output_contains "127.0.0.1:$(rclone_port crash)"
grep -qi "connect" "$ERR_FILE" || fail "the error does not say the server could not be reached: $(cat "$ERR_FILE")"
[[ $(grep -c . "$ERR_FILE") -lt 40 ]] || fail "too much output for a failed backup"

step "restart: check passes, the next backup works"
rclone_restart crash
expect_exit 0 kho check
[[ $(snapshot_count) == 0 ]] || fail "a failed backup left a snapshot"
expect_exit 0 kho backup "$SRC"
expect_exit 0 kho check --read-data
assert_output_contains "no errors found"
restore_and_compare latest "$SRC"
