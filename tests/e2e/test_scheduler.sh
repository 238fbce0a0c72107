#!/usr/bin/env bash
# kho scheduler for real: with a policy due every minute, the daemon runs it,
# records it, writes metrics, reloads on SIGHUP and stops cleanly on SIGTERM.
# Also: scheduler next, scheduler install, status, and --once for cron.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

POL=$TEST_DIR/policies
STATE=$TEST_DIR/state
SRC=$TEST_DIR/data
mkdir -p "$POL" "$SRC"
printf 'scheduler test pass\n' >"$TEST_DIR/pass"
random_file "$SRC/a.bin" 100000
expect_exit 0 kho -r "$REPO" --password-file "$TEST_DIR/pass" init
policy() {  # NAME SCHEDULE
  cat >"$POL/$1.yaml" <<YAML
name: $1
repository: $REPO
password_file: $TEST_DIR/pass
sources:
  - path: $SRC
schedule: "$2"
timezone: UTC
objectives: {rpo: 1h, rto: 30m}
check: {schedule: "0 3 * * SUN"}
retry: {attempts: 1}
YAML
}
policy every-minute "* * * * *"
policy every-minute-b "* * * * *"  # due with the first: two jobs at once (--max-concurrent 2)
policy nightly "30 1 * * *"

step "scheduler next: the next runs in each policy's time zone"
expect_exit 0 kho --json scheduler next --policies "$POL" --from "2026-12-01T00:00:00Z" --count 2
python3 - "$OUT_FILE" <<'PY' || fail "scheduler next: $(cat "$OUT_FILE")"
import json, sys, datetime
runs = json.load(open(sys.argv[1]))
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)
got = sorted((r["policy"], r["job"], t(r["time"]).strftime("%Y-%m-%d %H:%M")) for r in runs)
want = sorted([(p, "backup", d) for p in ("every-minute", "every-minute-b") for d in ("2026-12-01 00:01", "2026-12-01 00:02")] +
              [("nightly", "backup", "2026-12-01 01:30"), ("nightly", "backup", "2026-12-02 01:30")] +
              [(p, "check", d) for p in ("every-minute", "every-minute-b", "nightly")
               for d in ("2026-12-06 03:00", "2026-12-13 03:00")])
assert got == want, got
assert all(r["timezone"] == "UTC" for r in runs), runs
assert [r["time"] for r in runs] == sorted(r["time"] for r in runs), "not in time order"
PY

step "scheduler install writes a systemd unit and a cron entry"
expect_exit 0 kho scheduler install --systemd --policies "$POL" --state "$STATE" -o "$TEST_DIR/kho.service"
grep -q "^ExecStart=.* scheduler run --policies $POL --state $STATE" "$TEST_DIR/kho.service" ||
  fail "unit: $(cat "$TEST_DIR/kho.service")"
grep -q "^ExecReload=/bin/kill -HUP" "$TEST_DIR/kho.service" || fail "unit has no reload"
assert_output_contains "systemctl"
expect_exit 0 kho scheduler install --cron --policies "$POL" -o "$TEST_DIR/kho.cron"
grep -q "^\* \* \* \* \* .* scheduler run --once --policies $POL" "$TEST_DIR/kho.cron" || fail "cron: $(cat "$TEST_DIR/kho.cron")"

step "the daemon runs the every-minute policy when due, then stops on SIGTERM"
LOG=$TEST_DIR/scheduler.log
"$KHO" scheduler run --policies "$POL" --state "$STATE" --metrics-file "$TEST_DIR/kho.prom" >"$LOG" 2>&1 &
PID=$!
trap 'rc=$?; kill -9 $PID 2>/dev/null || true; _e2e_on_exit $rc' EXIT
ok=0
for _ in $(seq 150); do
  if grep -q "every-minute backup: done" "$LOG" && grep -q "every-minute-b backup: done" "$LOG"; then ok=1; break; fi
  sleep 1
done
((ok)) || fail "no scheduled run within 150 s: $(cat "$LOG")"
grep -q "scheduler started: 3 policies" "$LOG" || fail "no start line: $(cat "$LOG")"
step "SIGHUP reloads the policies"
policy hourly "0 * * * *"
kill -HUP $PID
for _ in $(seq 50); do grep -q "reloading the policies" "$LOG" && break; sleep 0.2; done
grep -q "reloading the policies" "$LOG" || fail "no reload: $(cat "$LOG")"
kill -TERM $PID
rc=0
for _ in $(seq 100); do kill -0 $PID 2>/dev/null || break; sleep 0.2; done
kill -0 $PID 2>/dev/null && fail "the scheduler did not stop within 20 s of SIGTERM"
wait $PID || rc=$?
[[ $rc == 0 ]] || fail "the scheduler exited $rc after SIGTERM: $(cat "$LOG")"
grep -q "scheduler stopped" "$LOG" || fail "no stop line: $(cat "$LOG")"
python3 - "$STATE/state.db" <<'PY' || fail "state after the scheduler"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT policy, status, trigger FROM runs WHERE kind='backup'").fetchall()
assert {r[0] for r in rows} == {"every-minute", "every-minute-b"}, rows
assert all(r[1:] == ("success", "schedule") for r in rows), rows
assert db.execute("SELECT count(*) FROM runs WHERE status='running'").fetchone()[0] == 0
PY
grep -q '^kho_last_success_timestamp_seconds{policy="every-minute"} [0-9]' "$TEST_DIR/kho.prom" ||
  fail "metrics: $(cat "$TEST_DIR/kho.prom")"
KHO_PASSWORD_FILE=$TEST_DIR/pass expect_exit 0 kho -r "$REPO" --json snapshots --tag every-minute
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE") -ge 1 ]] ||
  fail "no snapshot of the scheduled policy"

step "kho status: the last run, RPO OK, the next run"
expect_exit 0 kho --json status --policies "$POL" --state "$STATE"
python3 - "$OUT_FILE" <<'PY' || fail "status: $(cat "$OUT_FILE")"
import json, sys
st = {p["policy"]: p for p in json.load(open(sys.argv[1]))}
m = st["every-minute"]
assert m["last_run"]["status"] == "success" and m["rpo_status"] == "OK" and m["next_run"], m
n = st["nightly"]
assert n["last_run"] is None and n["rpo_status"] == "LATE", n
PY
expect_exit 0 kho status --policies "$POL" --state "$STATE"
assert_output_contains "every-minute"
assert_output_contains "LATE"

step "--once (for cron): runs what is due or missed, then exits"
sleep 1
expect_exit 0 kho scheduler run --once --policies "$POL" --state "$STATE"
assert_output_contains "scheduler started"
assert_output_contains "scheduler stopped"
