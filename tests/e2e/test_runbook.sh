#!/usr/bin/env bash
# Runbooks and drills: plans for each snapshot selector; a run that fails at a
# step and is resumed from it with the same snapshot; timeouts and retries
# honoured; a drill that passes (live files untouched, restores under the
# sandbox, background service stopped afterwards) and one whose verification
# fails (exit 4, the failing check named); VERIFIED / NEEDS DRILL; an incident
# record for a real run; validation errors with file and line (exit 2).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

POL=$TEST_DIR/policies
RB=$TEST_DIR/restore-scripts
STATE=$TEST_DIR/state
LIVE=$TEST_DIR/live/srv/app
MARK=$TEST_DIR/marks
HTTP_PORT=${KHO_TEST_RUNBOOK_PORT:-28291}
mkdir -p "$POL" "$RB" "$LIVE/docs" "$MARK"
printf 'runbook test pass phrase\n' >"$TEST_DIR/app.pass"
chmod 600 "$TEST_DIR/app.pass"
echo "<html>app portal v1</html>" >"$LIVE/docs/index.html"
random_file "$LIVE/docs/big.bin" 3000000
echo "config=1" >"$LIVE/app.conf"

expect_exit 0 kho -r "$REPO" --password-file "$TEST_DIR/app.pass" init

cat >"$POL/app.yaml" <<YAML
name: app
repository: $REPO
password_file: $TEST_DIR/app.pass
sources:
  - path: $LIVE
  - command: printf 'dump of the app database\n'
    filename: db/app.sql
objectives: {rpo: 24h, rto: 10m}
YAML

O=(--policies "$POL" --runbooks "$RB" --state "$STATE")

step "three snapshots of the policy"
for i in 1 2 3; do
  echo "version $i" >"$LIVE/version.txt"
  expect_exit 0 kho policy run app --policies "$POL" --state "$STATE"
  sleep 1.1
done
mapfile -t IDS < <(kho -r "$REPO" --password-file "$TEST_DIR/app.pass" snapshots --json |
  python3 -c 'import json,sys; [print(s["id"]) for s in sorted(json.load(sys.stdin), key=lambda s: s["time"])]')
((${#IDS[@]} == 3)) || fail "expected 3 snapshots, found ${#IDS[@]}"
T2=$(kho -r "$REPO" --password-file "$TEST_DIR/app.pass" snapshots --json |
  python3 -c 'import json,sys; print(sorted(json.load(sys.stdin), key=lambda s: s["time"])[1]["time"])')

cat >"$RB/app-recovery.yaml" <<YAML
name: app-recovery
policy: app
description: Bring the test application back
snapshot: latest-clean
rto: 5m
steps:
  - name: Stop the service
    run: echo stopped >> $MARK/stop
    drill: skip
  - name: Restore the files
    restore: {paths: [$LIVE], target: /}
  - name: Restore the dump
    restore: {paths: [db/app.sql], target: $TEST_DIR/restore}
  - name: Count runs
    run: echo ran >> $MARK/count
  - name: Needs a fix
    run: test -e $MARK/fixed
    drill:
      run: "true"
  - name: Serve the documents
    run: echo started >> $MARK/service; exec python3 -m http.server $HTTP_PORT --bind 127.0.0.1 --directory $LIVE/docs
    background: true
    drill:
      run: exec python3 -m http.server $HTTP_PORT --bind 127.0.0.1 --directory {{root}}$LIVE/docs
      background: true
  - name: Wait for the service
    wait_for: {tcp: "127.0.0.1:$HTTP_PORT", timeout: 20s}
verify:
  - files_match_snapshot: $LIVE
  - http: {url: "http://127.0.0.1:$HTTP_PORT/index.html", status: 200, contains: "portal v1"}
  - command: grep -q 'dump of the app database' {{root}}$TEST_DIR/restore/db/app.sql
    expect: {exit: 0}
YAML

step "runbook validate and list"
expect_exit 0 kho runbook validate "${O[@]}"
assert_output_contains "app-recovery"
expect_exit 0 kho runbook list "${O[@]}"
assert_output_contains "NEEDS DRILL"

step "plans for each snapshot selector"
plan_id() { kho runbook plan app-recovery "${O[@]}" --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["id"])'; }
[[ $(plan_id) == "${IDS[2]}" ]] || fail "latest-clean (runbook default) should choose the newest unflagged snapshot"
[[ $(plan_id --snapshot latest) == "${IDS[2]}" ]] || fail "latest should choose the newest snapshot"
[[ $(plan_id --snapshot "${IDS[0]:0:10}") == "${IDS[0]}" ]] || fail "an ID prefix should choose that snapshot"
[[ $(plan_id --snapshot "before:$T2") == "${IDS[0]}" ]] || fail "before:<time of the 2nd> should choose the 1st"
expect_exit 0 kho runbook plan app-recovery "${O[@]}" --snapshot "${IDS[1]}"
assert_output_contains "${IDS[1]:0:8}"
assert_output_contains "Restore the files"
assert_output_contains "To restore:"
assert_output_contains "Estimate:"
expect_exit 1 kho runbook plan app-recovery "${O[@]}" --snapshot "before:2001-01-01T00:00:00Z"
assert_output_contains "before"
expect_exit 2 kho runbook plan app-recovery "${O[@]}" --snapshot "yesterday"
plan_bytes=$(kho runbook plan app-recovery "${O[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["restore_bytes"])')
((plan_bytes >= 3000000)) || fail "the plan should count the bytes to restore (got $plan_bytes)"

step "a wrong repository password: plan exits 12 and names the policy"
printf 'not the password\n' >"$TEST_DIR/wrong.pass"
chmod 600 "$TEST_DIR/wrong.pass"
sed -e 's/^name: app$/name: wrongpw/' -e "s|password_file: .*|password_file: $TEST_DIR/wrong.pass|" "$POL/app.yaml" >"$POL/wrongpw.yaml"
printf 'name: wrongpw-recovery\npolicy: wrongpw\nsteps:\n  - name: Restore\n    restore: {paths: [%s], target: /}\n' "$LIVE" >"$RB/wrongpw.yaml"
expect_exit 12 kho runbook plan wrongpw-recovery "${O[@]}"
assert_output_contains "policy wrongpw"
rm "$POL/wrongpw.yaml" "$RB/wrongpw.yaml"

step "a drill passes, leaves the live files alone and stops its background service"
before=$(cd "$LIVE" && find . -type f -exec sha256sum {} + | sort)
touch -d '2020-01-01' "$LIVE/app.conf"
stat_before=$(stat -c '%n %Y %s' "$LIVE/app.conf")
expect_exit 0 kho drill app-recovery "${O[@]}" --sandbox-dir "$TEST_DIR" --json
python3 - "$OUT_FILE" "$HTTP_PORT" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
assert len(runs) == 1, runs
r = runs[0]
assert r["success"] is True and r["mode"] == "drill", r
names = [s["name"] for s in r["steps"]]
res = {s["name"]: s["result"] for s in r["steps"]}
assert res["Stop the service"] == "skipped", res
assert res["Serve the documents"] == "success", res
assert all(v["ok"] for v in r["verify"]), r["verify"]
assert r["rto_s"] is not None and r["rto_s"] > 0 and r["rto_met"] is True, r
PY
[[ ! -e $MARK/stop && ! -e $MARK/service ]] || fail "a drill ran a step it must skip or replace"
after=$(cd "$LIVE" && find . -type f -exec sha256sum {} + | sort)
[[ $before == "$after" ]] || fail "the drill changed the live files"
[[ $(stat -c '%n %Y %s' "$LIVE/app.conf") == "$stat_before" ]] || fail "the drill touched a live file's metadata"
[[ -z $(find "$TEST_DIR" -maxdepth 1 -name 'kho-drill-*') ]] || fail "the drill left its sandbox behind"
if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(('127.0.0.1', $HTTP_PORT)) == 0 else 1)"; then
  fail "the drill's background web server still answers on port $HTTP_PORT"
fi
pgrep -f "http.server $HTTP_PORT" >/dev/null && fail "the drill's background process still runs"
expect_exit 0 kho runbook list "${O[@]}"
assert_output_contains "VERIFIED"
sqlite3 "$STATE/state.db" "SELECT kind, status FROM runs WHERE kind = 'drill'" | grep -q "drill|success" ||
  fail "the drill is not recorded in the state database"

step "--keep-sandbox leaves the sandbox with the restored files under it"
expect_exit 0 kho drill app-recovery "${O[@]}" --sandbox-dir "$TEST_DIR" --keep-sandbox
SANDBOX=$(find "$TEST_DIR" -maxdepth 1 -name 'kho-drill-app-recovery-*' | head -1)
[[ -n $SANDBOX ]] || fail "--keep-sandbox: no sandbox left"
cmp "$LIVE/docs/big.bin" "$SANDBOX$LIVE/docs/big.bin" || fail "the sandbox does not hold the restored file"
grep -q 'dump of the app database' "$SANDBOX$TEST_DIR/restore/db/app.sql" || fail "the dump was not restored under the sandbox"
rm -rf "$SANDBOX"

step "a drill whose verification fails exits 4 and names the check"
sed -e "s|grep -q 'dump of the app database'|grep -q 'no such text'|" "$RB/app-recovery.yaml" >"$RB/app-bad.yaml"
sed -i -e 's/^name: app-recovery/name: app-bad/' "$RB/app-bad.yaml"
expect_exit 4 kho drill app-bad "${O[@]}" --sandbox-dir "$TEST_DIR"
assert_output_contains "verification failed"
assert_output_contains "no such text"
pgrep -f "http.server $HTTP_PORT" >/dev/null && fail "the failed drill's background process still runs"
expect_exit 0 kho runbook list "${O[@]}" --json
python3 - "$OUT_FILE" <<'PY'
import json, sys
rbs = {r["name"]: r for r in json.load(open(sys.argv[1]))}
assert rbs["app-recovery"]["readiness"] == "VERIFIED", rbs["app-recovery"]
assert rbs["app-bad"]["readiness"] == "NEEDS DRILL", rbs["app-bad"]
PY
rm "$RB/app-bad.yaml"

step "a real run without --yes and no terminal is refused, nothing done"
expect_exit 2 kho runbook run app-recovery "${O[@]}" </dev/null
[[ ! -e $MARK/stop ]] || fail "a refused run ran a step"

step "a real run fails at a step, then --resume continues from it with the same snapshot"
echo "damaged" >"$LIVE/app.conf"
echo "ransom" >"$LIVE/docs/READ_ME.txt"
rm -f "$MARK/count"  # the drills ran that step too
expect_exit 1 kho runbook run app-recovery "${O[@]}" --yes --snapshot "${IDS[1]}"
assert_output_contains "Needs a fix"
assert_output_contains "--resume"
[[ $(wc -l <"$MARK/count") == 1 ]] || fail "the step before the failure should have run once"
[[ $(cat "$LIVE/app.conf") == "config=1" ]] || fail "the restore step did not bring app.conf back"
[[ $(cat "$LIVE/version.txt") == "version 2" ]] || fail "the run restored the wrong snapshot"
inode=$(stat -c %i "$LIVE/app.conf")
touch "$MARK/fixed"
expect_exit 0 kho runbook run app-recovery "${O[@]}" --yes --resume --json
python3 - "$OUT_FILE" "${IDS[1]}" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert r["success"] is True, r
assert r["snapshot"]["id"] == sys.argv[2], r["snapshot"]
res = [s["result"] for s in r["steps"]]
assert res[:4] == ["skipped"] * 4 and res[4] == "success", res
assert r["resumed_from"] > 0, r
assert r["rto_s"] > 0
md = r["incident_record"]["markdown"]
js = r["incident_record"]["json"]
import os, stat
for f in (md, js):
    assert os.path.exists(f), f
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
text = open(md).read()
assert "Incident recovery: app-recovery" in text and sys.argv[2] in text, text
rec = json.load(open(js))
assert rec["who"] and rec["steps"] and rec["verify"], rec
PY
[[ $(wc -l <"$MARK/count") == 1 ]] || fail "--resume re-ran a step that had already succeeded"
[[ $(stat -c %i "$LIVE/app.conf") == "$inode" ]] || fail "--resume re-ran the restore steps"
[[ -s $TEST_DIR/restore/db/app.sql ]] || fail "the real run did not restore the dump to its target"
[[ -e $LIVE/docs/READ_ME.txt ]] || fail "files the snapshot does not have are left for investigators"
expect_exit 1 kho runbook run app-recovery "${O[@]}" --yes --resume
assert_output_contains "no failed run to resume"

step "timeouts and retries are honoured"
cat >"$RB/slow.yaml" <<YAML
name: slow
policy: app
steps:
  - name: Flaky twice
    run: n=\$(cat $MARK/flaky 2>/dev/null || echo 0); echo \$((n+1)) >$MARK/flaky; test \$n -ge 2
    retries: 2
    retry_delay: 1s
  - name: Hangs
    run: sleep 60
    timeout: 2s
    critical: false
  - name: After the hang
    run: echo after >> $MARK/after
YAML
started=$SECONDS
expect_exit 0 kho runbook run slow "${O[@]}" --yes --json
elapsed=$((SECONDS - started))
((elapsed < 40)) || fail "the 2s timeout was not honoured (the run took ${elapsed}s)"
python3 - "$OUT_FILE" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s = {x["name"]: x for x in r["steps"]}
assert s["Flaky twice"]["result"] == "success" and s["Flaky twice"]["attempts"] == 3, s["Flaky twice"]
assert s["Hangs"]["result"] == "failed" and "timed out" in s["Hangs"]["detail"], s["Hangs"]
assert s["After the hang"]["result"] == "success", s
PY
[[ $(cat "$MARK/flaky") == 3 ]] || fail "the flaky step should have run 3 times"
[[ -e $MARK/after ]] || fail "a non-critical failure must not stop the run"
rm "$RB/slow.yaml"

step "runbook validate names file, line and field (exit 2)"
cat >"$RB/broken.yaml" <<'YAML'
name: broken
policy: nosuchpolicy
snapshot: latest
steps:
  - name: No action here
    critical: false
  - name: Drill on a restore
    restore: {paths: [/srv], target: /}
    drill:
      run: echo no
  - name: Typo
    runn: echo x
YAML
expect_exit 2 kho runbook validate "${O[@]}" "$RB/broken.yaml"
assert_output_contains "broken.yaml:2:"
assert_output_contains "nosuchpolicy"
assert_output_contains "broken.yaml:5:"
assert_output_contains "broken.yaml:10:"
assert_output_contains "runn"
expect_exit 2 kho runbook validate "${O[@]}"
rm "$RB/broken.yaml"
expect_exit 0 kho runbook validate "${O[@]}"
