#!/usr/bin/env bash
# kho policy run: a policy with a directory and a database dump (sqlite3 .dump)
# as sources runs for real: hooks in order, one snapshot tagged with the policy,
# the dump restored byte for byte, retention applied, a copy made, and every
# run recorded in the state database; a failing hook fails the run at that
# stage, runs on_failure with what failed, and exits 1.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

POL=$TEST_DIR/policies
STATE=$TEST_DIR/state
SRC=$TEST_DIR/srv/app
COPY=$TEST_DIR/offline
DB=$TEST_DIR/app.db
mkdir -p "$POL" "$SRC/uploads" "$SRC/cache"
printf 'secret pass phrase for app\n' >"$TEST_DIR/app.pass"
chmod 600 "$TEST_DIR/app.pass"
random_file "$SRC/uploads/report.pdf" 300000
echo "tmp" >"$SRC/uploads/x.tmp"
echo "cached" >"$SRC/cache/c.bin"
sqlite3 "$DB" "CREATE TABLE citizens(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO citizens(name) VALUES ('Nguyễn Văn A'), ('Trần Thị B');"

# A webhook receiver on 127.0.0.1, stopped when the test ends.
HOOKS=$TEST_DIR/webhook
mkdir "$HOOKS"
python3 "$E2E_SRC_DIR/../servers/webhook.py" "$HOOKS" &
WEBHOOK_PID=$!
trap 'rc=$?; kill $WEBHOOK_PID 2>/dev/null || true; _e2e_on_exit $rc' EXIT
for _ in $(seq 100); do [[ -e $HOOKS/port ]] && break; sleep 0.1; done
[[ -e $HOOKS/port ]] || fail "the webhook receiver did not start"
PORT=$(cat "$HOOKS/port")

expect_exit 0 kho -r "$REPO" --password-file "$TEST_DIR/app.pass" init
expect_exit 0 kho -r "$COPY" --password-file "$TEST_DIR/app.pass" init

cat >"$POL/app.yaml" <<YAML
name: app
description: Test application (files + SQLite dump)
repository: $REPO
password_file: $TEST_DIR/app.pass
sources:
  - path: $SRC
  - command: sqlite3 $DB .dump
    filename: db/app.sql
exclude: ["*.tmp", "**/cache/**"]
schedule: "30 1 * * *"
timezone: Asia/Ho_Chi_Minh
retention: {keep_last: 2}
copy_to: [$COPY]
hooks:
  before: ["echo before >>$TEST_DIR/hooks.log"]
  after: [["sh", "-c", "echo after \$KHO_POLICY >>$TEST_DIR/hooks.log"]]
  on_failure: ["echo failed \$KHO_STAGE >>$TEST_DIR/hooks.log"]
notify: {webhook: "http://127.0.0.1:$PORT/kho", on: [failure]}
YAML

step "a dry run shows the steps and changes nothing"
expect_exit 0 kho policy run app --dry-run --policies "$POL" --state "$STATE"
assert_output_contains "hooks.before[0]: sh -c"
assert_output_contains "backup: "
assert_output_contains "--stdin-filename db/app.sql"
assert_output_contains "forget: "
assert_output_contains "copy:$COPY"
[[ ! -e $TEST_DIR/hooks.log ]] || fail "a dry run ran a hook"
[[ ! -e $STATE ]] || fail "a dry run created the state directory"

step "a real run: hooks, backup, forget, copy, state"
expect_exit 0 kho policy run app --policies "$POL" --state "$STATE"
assert_output_contains "policy app: success"
assert_lines_equal "hooks" "before
after app" "$(cat "$TEST_DIR/hooks.log")"
[[ $(stat -c %a "$STATE") == 700 ]] || fail "state directory mode is $(stat -c %a "$STATE")"
export KHO_PASSWORD_FILE=$TEST_DIR/app.pass
expect_exit 0 kho -r "$REPO" --json snapshots --tag app
python3 - "$OUT_FILE" "$SRC" <<'PY' || fail "snapshot of the policy: $(cat "$OUT_FILE")"
import json, sys
snaps = json.load(open(sys.argv[1]))
assert len(snaps) == 1, snaps
s = snaps[0]
assert "app" in s["tags"], s
assert sys.argv[2] in s["paths"], s
PY
expect_exit 0 kho -r "$REPO" restore latest --target "$TEST_DIR/r1"
sqlite3 "$DB" .dump >"$TEST_DIR/want.sql"
cmp "$TEST_DIR/want.sql" "$TEST_DIR/r1/db/app.sql" || fail "the restored dump differs from sqlite3 .dump"
cmp "$SRC/uploads/report.pdf" "$TEST_DIR/r1$SRC/uploads/report.pdf" || fail "restored upload differs"
[[ ! -e $TEST_DIR/r1$SRC/uploads/x.tmp && ! -e $TEST_DIR/r1$SRC/cache/c.bin ]] || fail "excludes were not applied"
expect_exit 0 kho -r "$COPY" --json snapshots --tag app
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE") == 1 ]] ||
  fail "the copy repository does not hold the snapshot"

step "three more runs: retention keeps the newest 2, the state records 4 runs"
for i in 1 2 3; do
  echo "change $i" >>"$SRC/uploads/notes.txt"
  expect_exit 0 kho policy run app --policies "$POL" --state "$STATE"
done
expect_exit 0 kho -r "$REPO" --json snapshots --tag app
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE") == 2 ]] ||
  fail "retention keep_last 2 left: $(cat "$OUT_FILE")"
expect_exit 0 kho -r "$REPO" check
python3 - "$STATE/state.db" <<'PY' || fail "state database"
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT status, stage, snapshot_id, figures, trigger FROM runs WHERE policy='app' AND kind='backup' ORDER BY id").fetchall()
assert len(rows) == 4, rows
for status, stage, snap, figures, trigger in rows:
    assert status == "success" and stage is None and len(snap) == 64 and trigger == "manual", rows
    f = json.loads(figures)
    assert f["total_files"] >= 2 and "duration_s" in f, f
steps = [r[0] for r in db.execute("SELECT name FROM run_steps WHERE run_id=(SELECT max(id) FROM runs) ORDER BY seq")]
assert steps == ["hooks.before[0]", "backup", "hooks.after[0]", "forget", "copy:" + sys.argv[1].rsplit("/state/", 1)[0] + "/offline"], steps
copies = db.execute("SELECT destination FROM copies WHERE policy='app'").fetchall()
assert len(copies) == 1, copies
PY

step "one run of a policy at a time: a second one is refused (exit 11) while the first runs"
sed -i 's/  before: \["echo before >>\(.*\)"\]/  before: ["echo before >>\1", "sleep 4"]/' "$POL/app.yaml"
grep -q '"sleep 4"' "$POL/app.yaml" || fail "test setup: the sleep hook was not added"
kho policy run app --policies "$POL" --state "$STATE" >"$TEST_DIR/first.out" 2>&1 &
FIRST=$!
sleep 1.5
expect_exit 11 kho policy run app --policies "$POL" --state "$STATE"
assert_output_contains "policy app is already running"
wait $FIRST || fail "the first run failed: $(cat "$TEST_DIR/first.out")"
sed -i 's/, "sleep 4"\]/]/' "$POL/app.yaml"

step "a failing before hook: no backup, on_failure runs, exit 1, recorded"
sed -i 's/  before: \["echo before >>.*"\]/  before: ["echo before >>'"${TEST_DIR//\//\\/}"'\/hooks.log", "exit 7"]/' "$POL/app.yaml"
: >"$TEST_DIR/hooks.log"
expect_exit 1 kho policy run app --policies "$POL" --state "$STATE"
assert_output_contains "failed at hooks.before[1]: exit status 7"
assert_lines_equal "hooks after a failure" "before
failed hooks.before[1]" "$(cat "$TEST_DIR/hooks.log")"
[[ -e $HOOKS/001.json && ! -e $HOOKS/002.json ]] || fail "expected one webhook call (on: [failure]): $(ls "$HOOKS")"
python3 - "$HOOKS/001.json" <<'PY' || fail "webhook body: $(cat "$HOOKS/001.json")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["event"] == "failure" and m["policy"] == "app" and m["stage"] == "hooks.before[1]", m
assert "exit status 7" in m["error"] and "FAILED" in m["summary"], m
PY
grep -qi "content-type: application/json" "$HOOKS/001.headers" || fail "webhook: not sent as JSON"
python3 - "$STATE/state.db" <<'PY' || fail "state database after a failure"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
status, stage, error = db.execute("SELECT status, stage, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
assert (status, stage) == ("failed", "hooks.before[1]") and "exit status 7" in error, (status, stage, error)
PY
expect_exit 0 kho -r "$REPO" --json snapshots --tag app
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE") == 2 ]] ||
  fail "a failed run changed the snapshots"

step "a failing dump command fails the backup stage and leaves no snapshot"
sed -i 's/, "exit 7"\]/]/; s/  - command: sqlite3 .*/  - command: sqlite3 \/nonexistent\/dir\/x.db .dump/' "$POL/app.yaml"
expect_exit 1 kho policy run app --policies "$POL" --state "$STATE"
assert_output_contains "failed at backup"
expect_exit 0 kho -r "$REPO" check
