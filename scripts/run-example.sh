#!/usr/bin/env bash
# Runs kho's main job on the bundled example system (examples/portal):
# creates a repository in the working tree (.kho-example/repo), backs the
# example up, lists the snapshots, restores the latest one elsewhere
# (.kho-example/restore), checks every byte of the repository, and compares the
# restored files with the originals.
#
#   scripts/run-example.sh          uses $KHO, or build/kho
#
# .kho-example/ is wiped and made again on every run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

KHO=${KHO:-$ROOT/build/kho}
if [[ ! -x $KHO ]]; then
  echo "run-example: no kho binary at $KHO; build it first (or set KHO)" >&2
  exit 1
fi

WORK=.kho-example
REPO=$WORK/repo
PASSWORD_FILE=$WORK/password
RESTORE=$WORK/restore
SOURCE=examples/portal

# Only the password file chosen here is used.
unset KHO_REPOSITORY KHO_PASSWORD KHO_PASSWORD_FILE

# Prints a command, then runs it.
run() {
  printf '$'
  printf ' %q' "$@"
  printf '\n'
  "$@"
}

run rm -rf "$WORK"
run mkdir -p "$WORK"
(
  umask 077
  head -c 32 /dev/urandom | base64 >"$PASSWORD_FILE"
)
echo "# a random password was written to $PASSWORD_FILE (mode $(stat -c %a "$PASSWORD_FILE"))"

run "$KHO" version
run "$KHO" -r "$REPO" --password-file "$PASSWORD_FILE" init
run "$KHO" -r "$REPO" --password-file "$PASSWORD_FILE" backup "$SOURCE" --tag example --tag portal
run "$KHO" -r "$REPO" --password-file "$PASSWORD_FILE" snapshots
run "$KHO" -r "$REPO" --password-file "$PASSWORD_FILE" restore latest --target "$RESTORE" --verify
run "$KHO" -r "$REPO" --password-file "$PASSWORD_FILE" check --read-data

# Snapshots keep absolute paths: the restored copy sits under the target at the
# source's full path.
run diff -r --no-dereference "$SOURCE" "$RESTORE$ROOT/$SOURCE"

echo "run-example: OK: $SOURCE was backed up to $REPO, restored to $RESTORE$ROOT/$SOURCE and verified identical"
