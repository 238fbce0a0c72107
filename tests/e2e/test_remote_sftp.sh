#!/usr/bin/env bash
# A repository on a real OpenSSH server on 127.0.0.1: init, backup, restore
# (identical), check --read-data, forget/prune over SFTP; host keys (unknown
# refused with the fingerprint, accepted on request, changed refused); the
# server killed in the middle of a large backup gives a clear error, and once
# it is back the repository passes check and takes the next backup.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_sshd.sh
source "$(dirname "$0")/lib_sshd.sh"

MiB=$((1024 * 1024))
sshd_start
URL=$(sftp_url "$REPO")
export KHO_REPOSITORY=$URL
# Every kho call reads the server's key and the client key from the test's files.
ksftp() {
  kho "${SFTP_OPTS[@]}" "$@"
}

step "source tree"
SRC=$TEST_DIR/src
mkdir -p "$SRC/docs/hồ sơ" "$SRC/bin" "$SRC/empty"
for i in $(seq 1 50); do printf 'document %d\n' "$i" >"$SRC/docs/file$i.txt"; done
printf 'báo cáo\n' >"$SRC/docs/hồ sơ/báo cáo.txt"
random_file "$SRC/bin/random_20M.bin" $((20 * MiB))
random_file "$SRC/bin/random_3M.bin" $((3 * MiB + 7))
: >"$SRC/bin/empty.bin"
ln -s ../docs/file1.txt "$SRC/bin/link"
chmod 0640 "$SRC/docs/file2.txt"

step "init over SFTP"
expect_exit 0 ksftp init
[[ -f $REPO/config ]] || fail "no config in $REPO after init"
[[ $(stat -c %a "$REPO") == 700 && $(stat -c %a "$REPO/data/ab") == 700 ]] || fail "repository directories are not 0700"
[[ $(stat -c %a "$REPO/config") == 600 ]] || fail "config is not 0600"
expect_failure ksftp init
assert_output_contains "already"

step "backup and restore are identical"
expect_exit 0 ksftp backup "$SRC"
R1=$TEST_DIR/restore1
expect_exit 0 ksftp restore latest --target "$R1"
assert_trees_equal "$SRC" "$R1$SRC"
[[ -z $(find "$REPO" -name '*.tmp-*') ]] || fail "temporary files left in the repository"

step "check --read-data"
expect_exit 0 ksftp check --read-data

step "forget and prune"
rm "$SRC/bin/random_20M.bin"
random_file "$SRC/bin/random_5M.bin" $((5 * MiB))
expect_exit 0 ksftp backup "$SRC"
expect_exit 0 ksftp snapshots --json
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE")
[[ $count == 2 ]] || fail "expected 2 snapshots, found $count"
before=$(du -sb "$REPO/data" | cut -f1)
expect_exit 0 ksftp forget --keep-last 1 --prune
after=$(du -sb "$REPO/data" | cut -f1)
((after < before - 15 * MiB)) || fail "prune over SFTP freed too little: data/ went from $before to $after bytes"
expect_exit 0 ksftp check --read-data
R2=$TEST_DIR/restore2
expect_exit 0 ksftp restore latest --target "$R2"
assert_trees_equal "$SRC" "$R2$SRC"
rm -rf "$R1" "$R2"

step "an unknown host key is refused with its fingerprint"
FP=$(host_key_fingerprint)
[[ $FP == SHA256:* ]] || fail "cannot read the server's fingerprint: $FP"
NEW_KH=$TEST_DIR/new_known_hosts
ID_OPT=(-o "sftp.identity=$SSHD_DIR/id_ed25519")
expect_exit 1 kho "${ID_OPT[@]}" -o "sftp.known_hosts=$NEW_KH" snapshots
assert_output_contains "$FP"
assert_output_contains "sftp.accept_new_host_key=yes"
[[ ! -s $NEW_KH ]] || fail "an unknown host key was written to $NEW_KH without being accepted"

step "accept_new_host_key adds it; then it is known"
expect_exit 0 kho "${ID_OPT[@]}" -o "sftp.known_hosts=$NEW_KH" -o sftp.accept_new_host_key=yes snapshots
grep -qF "[127.0.0.1]:$SSHD_PORT ssh-ed25519 " "$NEW_KH" || fail "the accepted key is not in $NEW_KH: $(cat "$NEW_KH")"
expect_exit 0 kho "${ID_OPT[@]}" -o "sftp.known_hosts=$NEW_KH" snapshots

step "a changed host key is refused, even with accept_new_host_key"
CHANGED_KH=$TEST_DIR/changed_known_hosts
ssh-keygen -q -t ed25519 -N '' -f "$TEST_DIR/impostor_key"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TEST_DIR/impostor_key.pub")" >"$CHANGED_KH"
cp "$CHANGED_KH" "$CHANGED_KH.orig"
for accept in no yes; do
  expect_exit 1 kho "${ID_OPT[@]}" -o "sftp.known_hosts=$CHANGED_KH" -o "sftp.accept_new_host_key=$accept" snapshots
  assert_output_contains "CHANGED"
  assert_output_contains "$FP"
  assert_output_contains "ssh-keygen -R"
done
cmp -s "$CHANGED_KH" "$CHANGED_KH.orig" || fail "a changed host key was written to known_hosts"

step "bad options are usage errors"
expect_exit 2 ksftp -o sftp.conections=2 snapshots
assert_output_contains "sftp.conections"

step "the server dies in the middle of a large backup"
BIG=$TEST_DIR/big
mkdir -p "$BIG"
for i in 1 2 3 4 5 6; do random_file "$BIG/part$i.bin" $((40 * MiB)); done
packs_before=$(find "$REPO/data" -type f | wc -l)
started=$(date +%s)
{
  status=0
  ksftp backup "$BIG" >"$TEST_DIR/killed.stdout" 2>"$TEST_DIR/killed.stderr" || status=$?
  echo "$status" >"$TEST_DIR/killed.rc"
} &
backup_pid=$!
# Wait until some packs of this backup have arrived, then kill the server.
for _ in $(seq 1 600); do
  (($(find "$REPO/data" -type f -name '*[0-9a-f]' | wc -l) >= packs_before + 2)) && break
  kill -0 "$backup_pid" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$backup_pid" 2>/dev/null || fail "the backup ended before the server could be killed"
sshd_stop
wait "$backup_pid" || true
rc=$(cat "$TEST_DIR/killed.rc")
elapsed=$(($(date +%s) - started))
echo "backup exited $rc after ${elapsed}s; stderr:"
sed 's/^/    /' "$TEST_DIR/killed.stderr"
((rc != 0 && rc != 124 && rc < 128)) || fail "a backup that lost its server should fail cleanly, got exit $rc"
grep -qF "127.0.0.1:$SSHD_PORT" "$TEST_DIR/killed.stderr" || fail "the error does not name the server"
grep -qiE "connect|connection" "$TEST_DIR/killed.stderr" || fail "the error does not say the connection failed"
((elapsed < 120)) || fail "the failed backup took ${elapsed}s to give up"

step "after a restart the repository passes check and takes the next backup"
sshd_restart
expect_exit 0 ksftp check
expect_exit 0 ksftp backup "$BIG"
expect_exit 0 ksftp check --read-data
R3=$TEST_DIR/restore3
expect_exit 0 ksftp restore latest --target "$R3"
assert_trees_equal "$BIG" "$R3$BIG"
[[ -z $(find "$REPO/locks" -type f) ]] || fail "locks left after the last backup: $(ls "$REPO/locks")"
