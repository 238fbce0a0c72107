#!/usr/bin/env bash
# The live example system end to end (the flow of scripts/run-example.sh, part
# 2), with a root and ports of its own: examples/system/portal.sh sets up the
# portal (PostgreSQL 15 + web service + uploaded documents); the committed
# policy backs it up (files + pg_dump); `kho drill` passes and leaves the live
# system byte for byte as it was; a simulated ransomware attack breaks /health;
# `kho runbook run --yes` brings back exactly the documents and table rows of
# before the attack; and nothing of the example runs once the test ends.
# Needs PostgreSQL 15 and curl (scripts/deps.sh --test).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

PORTAL_SRC=$E2E_SRC_DIR/../../examples/system/portal.sh
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || fail "needs PostgreSQL 15 (scripts/deps.sh --test installs it)"
command -v curl >/dev/null || fail "needs curl (scripts/deps.sh --test installs it)"

# Ports of its own, so it neither meets a running example nor other tests.
export KHO_EXAMPLE_DB_PORT=25533 KHO_EXAMPLE_WEB_PORT=28180
export KHO_EXAMPLE_DRILL_DB_PORT=25534 KHO_EXAMPLE_DRILL_WEB_PORT=28181
export KHO_EXAMPLE_ROOT=$TEST_DIR/example
EX=$KHO_EXAMPLE_ROOT
CONFIG=$TEST_DIR/config
STATE=$TEST_DIR/state
EX_REPO=$EX/repo
PASS=$EX/password
DIRS=(--policies "$CONFIG/policies" --runbooks "$CONFIG/restore-scripts" --state "$STATE")

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $KHO_EXAMPLE_DB_PORT $KHO_EXAMPLE_WEB_PORT $KHO_EXAMPLE_DRILL_DB_PORT $KHO_EXAMPLE_DRILL_WEB_PORT; do
  port_open "$p" && fail "127.0.0.1:$p is already in use; this test needs it"
done

# The processes whose command line names this test's example root.
example_pids() {
  EX_DIR=$EX/ python3 -c '
import os
me, needle = os.getpid(), os.environ["EX_DIR"].encode()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open("/proc/%s/cmdline" % pid, "rb").read()
    except OSError:
        continue
    if int(pid) != me and needle in cmd:
        print(pid)'
}

# Stops everything of this example: its services, a drill's leftovers, and,
# should any survive, the processes example_pids finds.
stop_example() {
  local pid
  if [[ -x $EX/bin/portal.sh ]]; then "$EX/bin/portal.sh" stop >/dev/null 2>&1 || true; fi
  for pid in $(example_pids); do
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap 'rc=$?; stop_example; _e2e_on_exit $rc' EXIT

# PostgreSQL runs as the postgres user when the test runs as root: it must be
# able to reach the example's root.
chmod 755 "$TEST_DIR"

# http GET PATH: prints "STATUS" and leaves the body in $TEST_DIR/http.body.
http() {
  curl -s -o "$TEST_DIR/http.body" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$2$1" || true
}

step "setup: the live portal runs on 127.0.0.1:$KHO_EXAMPLE_DB_PORT (database) and :$KHO_EXAMPLE_WEB_PORT (web)"
expect_exit 0 "$PORTAL_SRC" setup
expect_exit 0 "$EX/bin/portal.sh" status
[[ $(http /health "$KHO_EXAMPLE_WEB_PORT") == 200 ]] || fail "/health of the new portal: $(cat "$TEST_DIR/http.body")"
[[ $(http / "$KHO_EXAMPLE_WEB_PORT") == 200 ]] || fail "GET / of the new portal: $(cat "$TEST_DIR/http.body")"
grep -q portal "$TEST_DIR/http.body" || fail "GET / of the new portal: $(cat "$TEST_DIR/http.body")"
ss -Hltn 2>/dev/null | grep -E ":($KHO_EXAMPLE_DB_PORT|$KHO_EXAMPLE_WEB_PORT)\b" | grep -v '127.0.0.1:' &&
  fail "the example listens beyond 127.0.0.1"
expect_exit 0 "$PORTAL_SRC" install-config "$CONFIG"
grep -q "$EX/srv/portal/uploads" "$CONFIG/policies/example-portal.yaml" || fail "install-config did not rewrite the root"
grep -q -- "-p $KHO_EXAMPLE_DB_PORT " "$CONFIG/policies/example-portal.yaml" || fail "install-config did not rewrite the port"
! grep -rq /var/tmp/kho-example "$CONFIG" || fail "install-config left the committed root in: $(grep -rl /var/tmp/kho-example "$CONFIG")"
(
  umask 077
  head -c 32 /dev/urandom | base64 >"$PASS"
)

step "the policy backs the portal up: documents + pg_dump"
expect_exit 0 kho -r "$EX_REPO" --password-file "$PASS" init
expect_exit 0 kho policy validate --policies "$CONFIG/policies"
expect_exit 0 kho policy run example-portal --policies "$CONFIG/policies" --state "$STATE"
assert_output_contains "policy example-portal: success"
expect_exit 0 kho -r "$EX_REPO" --password-file "$PASS" ls latest
assert_output_contains "db/portal.dump"
assert_output_contains "Biên nhận hồ sơ HS-2026-000007.txt"
CLEAN_ID=$(kho -r "$EX_REPO" --password-file "$PASS" snapshots --json --latest |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
"$EX/bin/portal.sh" fingerprint >"$TEST_DIR/fp.before"
grep -q '^table ho_so 140 ' "$TEST_DIR/fp.before" || fail "fingerprint: $(cat "$TEST_DIR/fp.before")"
[[ $(grep -c '^[0-9a-f]\{64\}  ' "$TEST_DIR/fp.before") == 5 ]] || fail "fingerprint: $(cat "$TEST_DIR/fp.before")"

step "kho drill passes and leaves the live system as it was"
expect_exit 0 kho drill example-portal-recovery "${DIRS[@]}"
"$EX/bin/portal.sh" fingerprint >"$TEST_DIR/fp.after-drill"
cmp "$TEST_DIR/fp.before" "$TEST_DIR/fp.after-drill" ||
  fail "the drill changed the live system: $(diff "$TEST_DIR/fp.before" "$TEST_DIR/fp.after-drill")"
[[ $(http /health "$KHO_EXAMPLE_WEB_PORT") == 200 ]] || fail "the live portal after the drill: $(cat "$TEST_DIR/http.body")"
for _ in $(seq 50); do
  port_open "$KHO_EXAMPLE_DRILL_DB_PORT" || port_open "$KHO_EXAMPLE_DRILL_WEB_PORT" || break
  sleep 0.2
done
port_open "$KHO_EXAMPLE_DRILL_DB_PORT" && fail "the drill's database still runs after the drill"
port_open "$KHO_EXAMPLE_DRILL_WEB_PORT" && fail "the drill's web service still runs after the drill"
for _ in $(seq 50); do
  compgen -G "$EX/drill-db.*" >/dev/null || break
  sleep 0.2
done
compgen -G "$EX/drill-db.*" >/dev/null && fail "the drill's database folder was left: $(echo "$EX"/drill-db.*)"

step "a simulated ransomware attack breaks the portal"
expect_exit 0 "$EX/bin/portal.sh" attack
[[ $(http /health "$KHO_EXAMPLE_WEB_PORT") == 503 ]] || fail "/health after the attack: $(cat "$TEST_DIR/http.body")"
[[ -n $(find "$EX/srv/portal/uploads" -name '*.locked') ]] || fail "the attack encrypted nothing"
"$EX/bin/portal.sh" fingerprint >"$TEST_DIR/fp.attacked"
cmp -s "$TEST_DIR/fp.before" "$TEST_DIR/fp.attacked" && fail "the attack changed nothing"

step "the nightly backup of the attacked portal is flagged; latest-clean skips it"
expect_exit 0 kho policy run example-portal --policies "$CONFIG/policies" --state "$STATE"
assert_output_contains "ransomware"
expect_exit 0 kho -r "$EX_REPO" --password-file "$PASS" snapshots
assert_output_contains "FLAGGED"
expect_exit 0 kho runbook plan example-portal-recovery --json "${DIRS[@]}"
python3 - "$OUT_FILE" "$CLEAN_ID" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["snapshot"]["id"] == sys.argv[2], p["snapshot"]
assert "skipped 1 newer flagged" in p["snapshot"]["why"], p["snapshot"]
PY

step "kho runbook run --yes brings back the documents and records of before the attack"
expect_exit 0 kho runbook plan example-portal-recovery "${DIRS[@]}"
expect_exit 0 kho runbook run example-portal-recovery --yes --snapshot latest-clean "${DIRS[@]}"
"$EX/bin/portal.sh" fingerprint >"$TEST_DIR/fp.after-recovery"
cmp "$TEST_DIR/fp.before" "$TEST_DIR/fp.after-recovery" ||
  fail "the recovered system differs: $(diff "$TEST_DIR/fp.before" "$TEST_DIR/fp.after-recovery")"
[[ $(http /health "$KHO_EXAMPLE_WEB_PORT") == 200 ]] || fail "/health after the recovery: $(cat "$TEST_DIR/http.body")"
[[ $(http / "$KHO_EXAMPLE_WEB_PORT") == 200 ]] || fail "GET / after the recovery: $(cat "$TEST_DIR/http.body")"
grep -q portal "$TEST_DIR/http.body" || fail "GET / after the recovery: $(cat "$TEST_DIR/http.body")"
grep -q '<b id="records">140</b>' "$TEST_DIR/http.body" || fail "GET / after the recovery: $(cat "$TEST_DIR/http.body")"
[[ -n $(find "$EX/quarantine" -name '*.locked') ]] || fail "the encrypted documents were not kept for the investigation"

step "stop: nothing of the example keeps running"
expect_exit 0 "$EX/bin/portal.sh" stop
for p in $KHO_EXAMPLE_DB_PORT $KHO_EXAMPLE_WEB_PORT $KHO_EXAMPLE_DRILL_DB_PORT $KHO_EXAMPLE_DRILL_WEB_PORT; do
  port_open "$p" && fail "127.0.0.1:$p still answers after portal.sh stop"
done
leftover=$(example_pids)
[[ -z $leftover ]] || fail "processes of the example still run: $(for p in $leftover; do tr '\0' ' ' </proc/"$p"/cmdline; echo; done)"
