#!/usr/bin/env bash
# kho copy across backends, against a real sshd and a real `rclone serve restic`
# on 127.0.0.1: local -> SFTP -> REST and back into a new local repository.
# Restores from every copy are identical to the source tree; a second run of
# each copy transfers nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_rclone.sh
source "$E2E_SRC_DIR/lib_rclone.sh"
# shellcheck source=lib_sshd.sh
source "$E2E_SRC_DIR/lib_sshd.sh"

sshd_start
rclone_start rest
# Both servers stop when the test ends, whatever the outcome.
trap 'rc=$?; bash "$SSHD_SCRIPT" stop "$SSHD_DIR" >/dev/null 2>&1 || true; _rclone_on_exit $rc' EXIT

export KHO_PASSWORD="local password"
printf 'local password\n' >"$TEST_DIR/local.pass"
printf 'sftp password\n' >"$TEST_DIR/sftp.pass"
printf 'rest password\n' >"$TEST_DIR/rest.pass"
chmod 600 "$TEST_DIR"/*.pass
LOCAL=$REPO
SFTP=$(sftp_url "$TEST_DIR/sftp-repo")
REST=rest:$(rclone_url rest)offsite
BACK=$TEST_DIR/back-repo

# on REPO PASSFILE ARGS...: kho on another repository with its password file.
on() {
  local repo=$1 pass=$2
  shift 2
  env -u KHO_PASSWORD "$KHO" -r "$repo" --password-file "$pass" "${SFTP_OPTS[@]}" "$@"
}

SRC=$TEST_DIR/src
mkdir -p "$SRC/a/b"
random_file "$SRC/a/big.bin" 12000000
for i in $(seq 1 30); do head -c $((i * 500)) /dev/urandom >"$SRC/a/b/f$i"; done
ln -s b/f1 "$SRC/a/link"
touch -d '2024-02-10 08:00:00.5' "$SRC/a/b/f3"

step "two snapshots in the local repository"
expect_exit 0 kho init
expect_exit 0 kho backup "$SRC" --host web01 --tag nightly
echo more >>"$SRC/a/b/f2"
expect_exit 0 kho backup "$SRC" --host web01 --tag nightly

# copy_to REPO PASSFILE FROM FROMPASS: runs copy with --json and prints the result.
copy_to() {
  expect_exit 0 on "$1" "$2" copy --from-repo "$3" --from-password-file "$4" --json
  json_last_line "$OUT_FILE"
}

# restore_check REPO PASSFILE: the latest snapshot of REPO restores identical to SRC.
restore_check() {
  local target
  target=$(mktemp -d "$TEST_DIR/restore.XXXXXX")
  expect_exit 0 on "$1" "$2" restore latest --target "$target" --verify
  assert_trees_equal "$SRC" "$target$SRC"
  rm -rf "$target"
}

step "local -> SFTP (shared chunker parameters)"
expect_exit 0 on "$SFTP" "$TEST_DIR/sftp.pass" init --copy-chunker-params --from-repo "$LOCAL" --from-password-file "$TEST_DIR/local.pass"
R=$(copy_to "$SFTP" "$TEST_DIR/sftp.pass" "$LOCAL" "$TEST_DIR/local.pass")
[[ $(json_get "$R" copied) == 2 && $(json_get "$R" rechunked) == False ]] || fail "local -> SFTP: $R"
restore_check "$SFTP" "$TEST_DIR/sftp.pass"

step "SFTP -> REST"
expect_exit 0 on "$REST" "$TEST_DIR/rest.pass" init --copy-chunker-params --from-repo "$SFTP" --from-password-file "$TEST_DIR/sftp.pass"
R=$(copy_to "$REST" "$TEST_DIR/rest.pass" "$SFTP" "$TEST_DIR/sftp.pass")
[[ $(json_get "$R" copied) == 2 ]] || fail "SFTP -> REST: $R"
restore_check "$REST" "$TEST_DIR/rest.pass"
expect_exit 0 on "$REST" "$TEST_DIR/rest.pass" check --read-data

step "REST -> a new local repository with its own chunker (re-chunked)"
expect_exit 0 on "$BACK" "$TEST_DIR/local.pass" init
R=$(copy_to "$BACK" "$TEST_DIR/local.pass" "$REST" "$TEST_DIR/rest.pass")
[[ $(json_get "$R" copied) == 2 && $(json_get "$R" rechunked) == True ]] || fail "REST -> local: $R"
restore_check "$BACK" "$TEST_DIR/local.pass"

step "a second run of every copy transfers nothing"
for pair in "$SFTP|sftp|$LOCAL|local" "$REST|rest|$SFTP|sftp" "$BACK|local|$REST|rest" "$LOCAL|local|$REST|rest"; do
  IFS='|' read -r dst dpass src spass <<<"$pair"
  R=$(copy_to "$dst" "$TEST_DIR/$dpass.pass" "$src" "$TEST_DIR/$spass.pass")
  [[ $(json_get "$R" copied) == 0 && $(json_get "$R" blobs_added) == 0 ]] || fail "second copy into $dst added something: $R"
done
n=$(on "$LOCAL" "$TEST_DIR/local.pass" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $n == 2 ]] || fail "copying back into the local repository changed its snapshot count to $n"
