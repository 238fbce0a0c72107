#!/usr/bin/env bash
# Runs kho's main job on the bundled example system (examples/portal):
# creates a repository in the working tree (.kho-example/repo), backs the
# example up, lists the snapshots, restores the latest one elsewhere
# (.kho-example/restore), checks every byte of the repository, and compares the
# restored files with the originals; then runs the same protection as a policy
# (.kho-example/policies) with a copy to a second repository.
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

# The same protection as a policy, run the way the scheduler runs it: the
# files plus the database dump (here the bundled SQL file stands in for
# pg_dump's output), retention, a copy to a second repository, state recorded.
POLICIES=$WORK/policies
STATE=$WORK/state
mkdir -p "$POLICIES"
run "$KHO" -r "$WORK/offline" --password-file "$PASSWORD_FILE" init
cat >"$POLICIES/example-portal.yaml" <<YAML
name: example-portal
description: The bundled example portal (files + database dump)
repository: $ROOT/$REPO
password_file: $ROOT/$PASSWORD_FILE
sources:
  - path: $ROOT/$SOURCE/srv
  - path: $ROOT/$SOURCE/etc
  - command: cat $ROOT/$SOURCE/db/portal.sql
    filename: db/portal.sql
schedule: "30 1 * * *"
timezone: Asia/Ho_Chi_Minh
retention: {keep_daily: 14, keep_weekly: 8}
copy_to: [$ROOT/$WORK/offline]
objectives: {rpo: 24h, rto: 30m}
YAML
run "$KHO" policy validate --policies "$POLICIES"
run "$KHO" policy run example-portal --policies "$POLICIES" --state "$STATE"
run "$KHO" status --policies "$POLICIES" --state "$STATE"
run "$KHO" scheduler next --policies "$POLICIES" --count 2

echo "run-example: OK: $SOURCE was backed up to $REPO, restored to $RESTORE$ROOT/$SOURCE and verified identical;"
echo "run-example: policy example-portal ran (backup, retention, copy to $WORK/offline), state in $STATE"
