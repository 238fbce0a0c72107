#!/usr/bin/env bash
# kho's main job, on the bundled example system.
#
# Part 1, files only (fast): creates a repository in the working tree
# (.kho-example/repo), backs examples/portal up, lists the snapshots, restores
# the latest one elsewhere (.kho-example/restore), checks every byte of the
# repository and compares the restored files with the originals.
#
# Part 2, a live system: examples/system/portal.sh setup runs the example portal
# for real (PostgreSQL 15 on 127.0.0.1:25433, a web service on 127.0.0.1:28080,
# uploaded documents, all under /var/tmp/kho-example), then:
#   kho policy run example-portal          backup of the documents + pg_dump of the database
#   kho drill example-portal-recovery      rehearsal in a sandbox; the live system is untouched
#   portal.sh attack                       simulated ransomware: documents encrypted, a table dropped
#   kho runbook run example-portal-recovery --yes --snapshot latest-clean
# and checks that the portal serves the original documents and records again.
# The example's services are stopped at the end (examples/system/portal.sh start
# brings them back).
#
#   scripts/run-example.sh          uses $KHO, or build/kho
#
# Needs PostgreSQL 15, python3 and curl (scripts/deps.sh --example). Environment:
# KHO_EXAMPLE_ROOT, KHO_EXAMPLE_DB_PORT, KHO_EXAMPLE_WEB_PORT,
# KHO_EXAMPLE_DRILL_DB_PORT, KHO_EXAMPLE_DRILL_WEB_PORT (see examples/README.md).
# .kho-example/ and the example's root are wiped and made again on every run.
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

echo "run-example: part 1 OK: $SOURCE was backed up to $REPO, restored to $RESTORE$ROOT/$SOURCE and verified identical"

# --- Part 2: the live example system ---------------------------------------

PORTAL=examples/system/portal.sh
EXAMPLE_ROOT=${KHO_EXAMPLE_ROOT:-/var/tmp/kho-example}
WEB_PORT=${KHO_EXAMPLE_WEB_PORT:-28080}
CONFIG=$WORK/config  # the committed policy and runbook, for this root and these ports
STATE=$WORK/state
DIRS=(--policies "$CONFIG/policies" --runbooks "$CONFIG/restore-scripts" --state "$STATE")

# Whatever happens, nothing of the example keeps running afterwards.
trap '"$PORTAL" stop >/dev/null 2>&1 || true' EXIT

# http_status PATH: the web service's HTTP status for PATH.
http_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$WEB_PORT$1" || true
}

run "$PORTAL" setup
EXAMPLE_ROOT=$(realpath "$EXAMPLE_ROOT")
run "$PORTAL" install-config "$CONFIG"
(
  umask 077
  head -c 32 /dev/urandom | base64 >"$EXAMPLE_ROOT/password"
)
echo "# a random password was written to $EXAMPLE_ROOT/password (mode $(stat -c %a "$EXAMPLE_ROOT/password"))"
run "$KHO" -r "$EXAMPLE_ROOT/repo" --password-file "$EXAMPLE_ROOT/password" init
run "$KHO" policy validate --policies "$CONFIG/policies"
run "$KHO" policy run example-portal --policies "$CONFIG/policies" --state "$STATE"
run "$KHO" -r "$EXAMPLE_ROOT/repo" --password-file "$EXAMPLE_ROOT/password" snapshots
run "$KHO" -r "$EXAMPLE_ROOT/repo" --password-file "$EXAMPLE_ROOT/password" ls latest

"$PORTAL" fingerprint >"$WORK/fingerprint.before"
echo "# live system fingerprint (sha256 of every document, rows and digest of every table):"
cat "$WORK/fingerprint.before"

# A rehearsal: restores into a sandbox, runs a scratch database and a second web
# service on the drill ports, verifies, and stops them; the live system is not touched.
run "$KHO" drill example-portal-recovery "${DIRS[@]}"
"$PORTAL" fingerprint >"$WORK/fingerprint.after-drill"
if ! diff -u "$WORK/fingerprint.before" "$WORK/fingerprint.after-drill"; then
  echo "run-example: the drill changed the live system" >&2
  exit 1
fi
echo "# the drill left the live system unchanged"

run "$PORTAL" attack
status=$(http_status /health)
echo "# after the attack: GET /health -> $status"
curl -s --max-time 20 "http://127.0.0.1:$WEB_PORT/health" || true
if [[ $status != 503 ]]; then
  echo "run-example: /health should fail after the attack, got $status" >&2
  exit 1
fi

# The nightly backup runs on the attacked portal: kho scores it and flags it,
# so latest-clean (the runbook's snapshot) passes over it.
run "$KHO" policy run example-portal --policies "$CONFIG/policies" --state "$STATE"
run "$KHO" -r "$EXAMPLE_ROOT/repo" --password-file "$EXAMPLE_ROOT/password" snapshots

run "$KHO" runbook plan example-portal-recovery "${DIRS[@]}"
run "$KHO" runbook run example-portal-recovery --yes --snapshot latest-clean "${DIRS[@]}"

# The recovery set the encrypted documents aside (quarantine/, for the
# investigation) and restored the snapshot's: the documents and every table's
# rows are exactly those before the attack.
"$PORTAL" fingerprint >"$WORK/fingerprint.after-recovery"
if ! diff -u "$WORK/fingerprint.before" "$WORK/fingerprint.after-recovery"; then
  echo "run-example: the recovered system differs from the one before the attack" >&2
  exit 1
fi
status=$(http_status /health)
[[ $status == 200 ]] || {
  echo "run-example: /health after the recovery: $status" >&2
  exit 1
}
echo "# after the recovery: GET /health -> $status; documents and records are those before the attack"
echo "# set aside for the investigation: $(find "$EXAMPLE_ROOT/quarantine" -type f | wc -l) files in $EXAMPLE_ROOT/quarantine"

# Back to normal: a fresh backup of the recovered portal (the newest snapshot
# is clean again) and an integrity check, both recorded for the report.
run "$KHO" policy run example-portal --policies "$CONFIG/policies" --state "$STATE"
run "$KHO" policy check example-portal --policies "$CONFIG/policies" --state "$STATE"
run "$KHO" status "${DIRS[@]}"
run "$KHO" scheduler next --policies "$CONFIG/policies" --count 2
# The incident-readiness report, also as one HTML page (open it in a browser).
run "$KHO" report "${DIRS[@]}"
run "$KHO" report "${DIRS[@]}" --format html --lang vi -o "$WORK/readiness-vi.html"
run "$PORTAL" stop

echo "run-example: OK: part 1 (backup, restore, check, compare) and part 2 (live portal: policy run,"
echo "run-example: drill, simulated ransomware, recovery with the runbook, data verified identical)"
echo "run-example: the example stays in $EXAMPLE_ROOT (examples/system/portal.sh start runs it again);"
echo "run-example: readiness report (Vietnamese, HTML): $WORK/readiness-vi.html"
