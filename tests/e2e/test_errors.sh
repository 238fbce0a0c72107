#!/usr/bin/env bash
# Errors and edge cases of the CLI: empty source, missing source, unreadable
# file (exit 3, snapshot saved and listing the file), no repository (exit 10),
# init over a repository (refused), --stdin-from, password sources, bad usage
# (exit 2), version and help.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

step "init"
expect_exit 0 kho init
assert_output_contains "$REPO"
[[ -f $REPO/config && -d $REPO/keys && -d $REPO/data && -d $REPO/index && -d $REPO/snapshots ]] ||
  fail "init did not lay out config, keys/, data/, index/, snapshots/"

step "an empty source directory backs up fine"
mkdir -p "$TEST_DIR/empty"
expect_exit 0 kho backup "$TEST_DIR/empty"
[[ $(snapshot_count) == 1 ]] || fail "backup of an empty directory recorded no snapshot"
expect_exit 0 kho ls latest

step "a missing source path fails (exit 1) and names the path"
expect_exit 1 kho backup "$TEST_DIR/no such dir"
assert_output_contains "$TEST_DIR/no such dir"
[[ $(snapshot_count) == 1 ]] || fail "a backup of a missing path recorded a snapshot"

step "no repository at the path: exit 10"
expect_exit 10 kho -r "$TEST_DIR/nothing-here" snapshots
assert_output_contains "$TEST_DIR/nothing-here"
expect_exit 10 kho -r "$TEST_DIR/nothing-here" backup "$TEST_DIR/empty"
[[ ! -e $TEST_DIR/nothing-here ]] || fail "backup created something at a path with no repository"
mkdir "$TEST_DIR/empty-dir-repo"
expect_exit 10 kho -r "$TEST_DIR/empty-dir-repo" snapshots
expect_exit 10 env KHO_REPOSITORY="$TEST_DIR/nothing-here" "$KHO" ls latest

step "init over an existing repository is refused and changes nothing"
cp "$REPO/config" "$TEST_DIR/config.before"
keys_before=$(ls "$REPO/keys")
expect_exit 1 kho init
assert_output_contains "$REPO"
cmp "$REPO/config" "$TEST_DIR/config.before" || fail "init over a repository changed its config"
[[ $(ls "$REPO/keys") == "$keys_before" ]] || fail "init over a repository changed its keys"
[[ $(snapshot_count) == 1 ]] || fail "the repository lost its snapshot"
expect_exit 0 kho check

step "an unreadable file: exit 3, the snapshot is saved and lists the file"
if [[ $(id -u) -eq 0 ]]; then
  # Root reads anything: back up as `nobody`, from a tree nobody can read
  # except one root-owned 0000 file, into a repository nobody owns.
  NB_UID=$(id -u nobody)
  NB_GID=$(id -g nobody)
  as_nobody() {
    setpriv --reuid="$NB_UID" --regid="$NB_GID" --clear-groups -- \
      env HOME="$NB" XDG_CACHE_HOME="$NB/cache" "$@"
  }
  chmod 0755 "$TEST_DIR"
  NB=$TEST_DIR/as-nobody
  mkdir -p "$NB"
  if ! setpriv --reuid="$NB_UID" --regid="$NB_GID" --clear-groups -- test -x "$NB"; then
    # The test directory's parents are closed to nobody (e.g. under /root).
    NB=$(mktemp -d /tmp/kho-e2e-nobody.XXXXXX)
    cleanup_on_success "$NB"
  fi
  chmod 0755 "$NB"
  NB_KHO=$KHO
  if ! setpriv --reuid="$NB_UID" --regid="$NB_GID" --clear-groups -- test -x "$KHO"; then
    cp "$KHO" "$NB/kho"
    NB_KHO=$NB/kho
  fi
  U_SRC=$NB/src
  mkdir -p "$U_SRC/sub"
  printf 'readable\n' >"$U_SRC/readable.txt"
  printf 'also readable\n' >"$U_SRC/sub/ok.txt"
  printf 'locked away\n' >"$U_SRC/sub/unreadable.txt"
  printf 'read after it\n' >"$U_SRC/sub/zz-after.txt"
  chown -R "$NB_UID:$NB_GID" "$U_SRC"
  chown 0:0 "$U_SRC/sub/unreadable.txt"
  chmod 0000 "$U_SRC/sub/unreadable.txt"
  U_REPO=$NB/repo
  mkdir -p "$NB/cache"
  chown "$NB_UID:$NB_GID" "$NB/cache"
  chown "$NB_UID:$NB_GID" "$NB"
  expect_exit 0 as_nobody "$NB_KHO" -r "$U_REPO" init
  expect_exit 3 as_nobody "$NB_KHO" -r "$U_REPO" backup "$U_SRC"
else
  NB=$TEST_DIR/unreadable
  U_SRC=$NB/src
  mkdir -p "$U_SRC/sub"
  printf 'readable\n' >"$U_SRC/readable.txt"
  printf 'also readable\n' >"$U_SRC/sub/ok.txt"
  printf 'locked away\n' >"$U_SRC/sub/unreadable.txt"
  printf 'read after it\n' >"$U_SRC/sub/zz-after.txt"
  chmod 0000 "$U_SRC/sub/unreadable.txt"
  U_REPO=$NB/repo
  expect_exit 0 kho -r "$U_REPO" init
  expect_exit 3 kho -r "$U_REPO" backup "$U_SRC"
fi
assert_output_contains "unreadable.txt"
[[ $(KHO_REPOSITORY=$U_REPO snapshot_count) == 1 ]] || fail "the incomplete backup's snapshot was not saved"
# The unreadable file is left out of the tree (a restore must not produce an
# empty file that looks complete) and named in the snapshot's errors.
kho -r "$U_REPO" snapshots --json >"$TEST_DIR/incomplete.json"
python3 - "$TEST_DIR/incomplete.json" "$U_SRC/sub/unreadable.txt" <<'PY' || fail "the snapshot does not list the unreadable file"
import json, sys
snap = json.load(open(sys.argv[1]))[-1]
assert snap["incomplete"] is True, snap
assert any(e["path"] == sys.argv[2] for e in snap["errors"]), snap["errors"]
PY
expect_exit 0 kho -r "$U_REPO" ls latest
if grep -qF "sub/unreadable.txt" "$OUT_FILE"; then fail "the unreadable file appears in the snapshot's tree"; fi
assert_output_contains "sub/ok.txt"
assert_output_contains "readable.txt"
R=$TEST_DIR/restore-incomplete
expect_exit 0 kho -r "$U_REPO" restore latest --target "$R" --include 'ok.txt'
[[ $(cat "$R$U_SRC/sub/ok.txt") == "also readable" ]] || fail "files read before the unreadable one were not saved"
# Small files are read several to a task: one failing leaves the rest of its batch.
expect_exit 0 kho -r "$U_REPO" restore latest --target "$R-after" --include 'zz-after.txt'
[[ $(cat "$R-after$U_SRC/sub/zz-after.txt") == "read after it" ]] || fail "the file after the unreadable one was not saved"

step "--stdin-from streams a command's output into the snapshot"
expect_exit 0 kho backup --stdin-from "printf hello" --stdin-filename db/dump.sql
[[ $(snapshot_count) == 2 ]] || fail "the --stdin-from backup recorded no snapshot"
R=$TEST_DIR/restore-stdin
expect_exit 0 kho restore latest --target "$R"
mapfile -t dumps < <(find "$R" -path '*/db/dump.sql' -type f)
((${#dumps[@]} == 1)) || fail "expected one db/dump.sql in the restore, found: ${dumps[*]:-none} ($(find "$R" | head -n 20))"
[[ $(cat "${dumps[0]}") == hello ]] || fail "db/dump.sql holds '$(cat "${dumps[0]}")', want 'hello'"

step "--stdin-from with a failing command fails the backup and records nothing"
expect_failure kho backup --stdin-from "printf partial; exit 3" --stdin-filename db/dump.sql
echo "exit $LAST_RC for a failing --stdin-from command"
[[ $(snapshot_count) == 2 ]] || fail "a backup whose --stdin-from command failed recorded a snapshot"

step "password sources: --password-file, KHO_PASSWORD_FILE, --password-command"
PWFILE=$TEST_DIR/password
printf '%s\n' "$KHO_PASSWORD" >"$PWFILE"
chmod 0600 "$PWFILE"
expect_exit 0 env -u KHO_PASSWORD "$KHO" --password-file "$PWFILE" snapshots
expect_exit 0 env -u KHO_PASSWORD KHO_PASSWORD_FILE="$PWFILE" "$KHO" snapshots
expect_exit 0 env -u KHO_PASSWORD "$KHO" --password-command "cat '$PWFILE'" snapshots
expect_exit 12 env -u KHO_PASSWORD "$KHO" --password-command "echo wrong" snapshots
expect_exit 0 env -u KHO_PASSWORD "$KHO" -r "$REPO" --password-file "$PWFILE" backup "$TEST_DIR/empty"
[[ $(snapshot_count) == 3 ]] || fail "backup with --password-file recorded no snapshot"

step "bad usage: exit 2"
expect_exit 2 kho backup --no-such-option "$TEST_DIR/empty"
expect_exit 2 kho no-such-command
expect_exit 2 kho restore latest
[[ $(snapshot_count) == 3 ]] || fail "bad usage changed the repository"

step "version and help"
expect_exit 0 kho version
grep -qE '[0-9]+\.[0-9]+' "$OUT_FILE" || fail "kho version prints no version number: $(cat "$OUT_FILE")"
expect_exit 0 kho help backup
assert_output_contains "--stdin-from"
expect_exit 0 kho backup --help
assert_output_contains "--stdin-from"
assert_output_contains "--exclude"
expect_exit 0 kho restore --help
assert_output_contains "--target"
assert_output_contains "--verify"
expect_exit 0 kho --help
for cmd in init backup snapshots ls restore check; do
  assert_output_contains "$cmd"
done
# 'kho help' lists every command (not the help command's own options).
expect_exit 0 kho help
for cmd in init backup restore check forget prune copy export import policy scheduler status; do
  grep -qE "^  $cmd " "$OUT_FILE" || fail "kho help does not list '$cmd': $(cat "$OUT_FILE")"
done
expect_exit 0 kho help scheduler run
assert_output_contains "--max-concurrent"

step "an unusable libcurl fails http and https only, and says so"
# libcurl is loaded when a rest: repository or a webhook first needs it: a
# damaged one (here an empty file found first) stops neither start-up nor
# commands on local repositories.
mkdir -p "$TEST_DIR/badlib"
: >"$TEST_DIR/badlib/libcurl.so.4"
expect_exit 0 env LD_LIBRARY_PATH="$TEST_DIR/badlib" "$KHO" snapshots
expect_exit 0 env LD_LIBRARY_PATH="$TEST_DIR/badlib" "$KHO" backup "$TEST_DIR/empty"
expect_exit 1 env LD_LIBRARY_PATH="$TEST_DIR/badlib" "$KHO" -r rest:http://127.0.0.1:9/ snapshots
assert_output_contains "cannot load libcurl"
assert_output_contains "badlib/libcurl.so.4"
