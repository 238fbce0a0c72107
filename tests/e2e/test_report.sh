#!/usr/bin/env bash
# kho report: after two real policy runs (with an offline copy) and a passing
# drill of a small runbook, the readiness report in every format and both
# languages: the JSON has the documented fields and the expected verdict and
# reasons (no check yet, no append-only copy: AT RISK), --fail-on sets the exit
# status, -o writes a 0644 file, the Vietnamese report has its headings, and
# the HTML page renders in headless Chromium with its four charts and no
# console error.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

POL=$TEST_DIR/policies
RB=$TEST_DIR/restore-scripts
STATE=$TEST_DIR/state
LIVE=$TEST_DIR/live/srv/portal
COPY=$TEST_DIR/offline
mkdir -p "$POL" "$RB" "$LIVE/docs"
printf 'report test pass phrase\n' >"$TEST_DIR/portal.pass"
chmod 600 "$TEST_DIR/portal.pass"
echo "<html>portal</html>" >"$LIVE/docs/index.html"
random_file "$LIVE/docs/data.bin" 200000

expect_exit 0 kho -r "$REPO" --password-file "$TEST_DIR/portal.pass" init
expect_exit 0 kho -r "$COPY" --password-file "$TEST_DIR/portal.pass" init

cat >"$POL/portal.yaml" <<YAML
name: portal
description: Cổng thông tin điện tử
repository: $REPO
password_file: $TEST_DIR/portal.pass
sources:
  - path: $LIVE
copy_to:
  - repository: $COPY
    kind: offline
objectives: {rpo: 24h, rto: 30m}
YAML

cat >"$RB/portal-recovery.yaml" <<YAML
name: portal-recovery
policy: portal
description: Bring the portal back
steps:
  - name: Restore the files
    restore: {paths: [$LIVE], target: /}
verify:
  - files_match_snapshot: $LIVE
YAML

O=(--policies "$POL" --runbooks "$RB" --state "$STATE")

step "two policy runs and a drill"
expect_exit 0 kho policy run portal --policies "$POL" --state "$STATE"
random_file "$LIVE/docs/more.bin" 100000
expect_exit 0 kho policy run portal --policies "$POL" --state "$STATE"
expect_exit 0 kho drill portal-recovery "${O[@]}" --sandbox-dir "$TEST_DIR"

step "JSON report: documented fields, verdict and reasons"
expect_exit 0 kho report "${O[@]}" --format json
cp "$OUT_FILE" "$TEST_DIR/report.json"
python3 - "$TEST_DIR/report.json" <<'PY' || fail "JSON report: $(head -c 3000 "$TEST_DIR/report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ["generated_at", "lang", "verdict", "reasons", "actions", "policies", "history"]:
    assert k in r, k
assert r["lang"] == "en"
assert r["verdict"] == "at_risk", r["verdict"]
assert len(r["policies"]) == 1
p = r["policies"][0]
for k in ["name", "description", "verdict", "reasons", "actions", "newest_snapshot", "last_check", "drills",
          "copies", "anomaly", "failures_7d"]:
    assert k in p, k
assert p["name"] == "portal" and p["verdict"] == "at_risk"
s = p["newest_snapshot"]
assert set(["id", "age_s", "rpo_s", "rpo_status"]) <= set(s), s
assert len(s["id"]) == 64 and s["rpo_s"] == 86400 and s["rpo_status"] == "OK" and 0 <= s["age_s"] < 600, s
assert set(["at", "status", "bytes_read"]) <= set(p["last_check"]), p["last_check"]
assert p["last_check"]["at"] is None
(d,) = p["drills"]
assert set(["runbook", "readiness", "last_at", "result", "rto_s", "rto_target_s", "rto_met"]) <= set(d), d
assert d["runbook"] == "portal-recovery" and d["readiness"] == "VERIFIED" and d["result"] == "passed", d
assert d["rto_s"] > 0 and d["rto_target_s"] == 1800 and d["rto_met"] is True, d
(c,) = p["copies"]
assert set(["destination", "kind", "append_only", "age_s"]) <= set(c), c
assert c["kind"] == "offline" and c["append_only"] is False and c["age_s"] is not None and c["age_s"] < 600, c
assert set(["score", "flagged"]) <= set(p["anomaly"]) and p["anomaly"]["flagged"] is False, p["anomaly"]
assert p["failures_7d"] == [], p["failures_7d"]
codes = sorted(x["code"] for x in p["reasons"])
assert codes == ["no_append_only", "no_check"], codes
assert all(x["severity"] == "at_risk" and x["text"] for x in r["reasons"]), r["reasons"]
cmds = [a["command"] for a in r["actions"] if a["command"]]
assert any(c.startswith("kho policy check ") for c in cmds), cmds
assert any(a["code"] == "add_append_only_copy" for a in r["actions"]), r["actions"]
(h,) = r["history"]
assert h["policy"] == "portal" and len(h["backups"]) == 2, h
assert h["backups"][1]["repository_bytes"] >= h["backups"][0]["repository_bytes"] > 0, h["backups"]
assert len(h["drills"]) == 1 and h["drills"][0]["result"] == "passed", h["drills"]
PY

step "exit status: 0 by default, --fail-on"
expect_exit 0 kho report "${O[@]}"
assert_output_contains "AT RISK"
assert_output_contains "portal-recovery: VERIFIED"
assert_output_contains "Next actions"
expect_exit 1 kho report "${O[@]}" --fail-on at-risk
expect_exit 0 kho report "${O[@]}" --fail-on not-ready
expect_exit 2 kho report "${O[@]}" --format pdf

step "every format in both languages, written with -o (mode 0644)"
for lang in en vi; do
  for fmt in text md json html; do
    f=$TEST_DIR/report-$lang.$fmt
    expect_exit 0 kho report "${O[@]}" --format "$fmt" --lang "$lang" -o "$f"
    [[ -s $f ]] || fail "$f is empty"
    [[ $(stat -c %a "$f") == 644 ]] || fail "$f has mode $(stat -c %a "$f")"
  done
done
[[ -z $(find "$TEST_DIR" -maxdepth 1 -name '.report-*.tmp-*') ]] || fail "a temporary report file was left behind"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["lang"]=="vi" and r["verdict"]=="at_risk"' \
  "$TEST_DIR/report-vi.json" || fail "Vietnamese JSON report"
for f in "$TEST_DIR"/report-vi.{text,md,html}; do
  for heading in "Báo cáo mức độ sẵn sàng ứng phó sự cố" "Có rủi ro" "Việc cần làm tiếp theo"; do
    grep -qF "$heading" "$f" || fail "$f lacks '$heading'"
  done
done
grep -qF "Mục tiêu điểm khôi phục (RPO)" "$TEST_DIR/report-vi.html" || fail "vi html lacks the RPO term"
grep -qF "Diễn tập khôi phục" "$TEST_DIR/report-vi.html" || fail "vi html lacks the drill term"
grep -qF "Lỗi trong 7 ngày qua" "$TEST_DIR/report-vi.md" || fail "vi md lacks the failures heading"
grep -qF "Incident-readiness report" "$TEST_DIR/report-en.md" || fail "en md lacks its title"

step "the HTML page is self-contained"
HTML=$TEST_DIR/report-en.html
head -c 15 "$HTML" | grep -qF '<!DOCTYPE html>' || fail "the HTML report does not start with <!DOCTYPE html>"
(($(grep -o '<svg' "$HTML" | wc -l) >= 4)) || fail "the HTML report has fewer than 4 charts"
if grep -Eo '(src|href)="[^"]*"|url\([^)]*\)|@import' "$HTML" | grep -q .; then
  fail "the HTML report references an external resource: $(grep -Eo '(src|href)="[^"]*"|url\([^)]*\)|@import' "$HTML")"
fi
grep -q '<script' "$HTML" && fail "the HTML report has a script"
grep -q '@page { size: A4' "$HTML" || fail "the HTML report has no A4 page rule"

step "the HTML page renders in headless Chromium"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROMIUM ]] || fail "chromium is not installed (scripts/deps.sh installs it with the test packages)"
cp "$HTML" "$TEST_DIR/report.html"
chrome() {
  timeout -k 10 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --user-data-dir="$(mktemp -d "$TEST_DIR/chrome.XXXXXX")" \
    --enable-logging=stderr --v=0 "$@"
}
chrome --screenshot="$TEST_DIR/report.png" --window-size=1240,1754 "file://$TEST_DIR/report.html" \
  >"$TEST_DIR/chrome-shot.out" 2>"$TEST_DIR/chrome-shot.err" || fail "chromium --screenshot failed: $(tail -5 "$TEST_DIR/chrome-shot.err")"
chrome --dump-dom "file://$TEST_DIR/report.html" >"$TEST_DIR/dom.html" 2>"$TEST_DIR/chrome-dom.err" ||
  fail "chromium --dump-dom failed: $(tail -5 "$TEST_DIR/chrome-dom.err")"
for err in "$TEST_DIR/chrome-shot.err" "$TEST_DIR/chrome-dom.err"; do
  if grep -E 'CONSOLE|Uncaught' "$err"; then fail "chromium reported an error on the page ($err)"; fi
done
[[ -s $TEST_DIR/report.png ]] || fail "chromium made no screenshot"
(($(stat -c %s "$TEST_DIR/report.png") > 20000)) || fail "the screenshot is suspiciously small"
python3 - "$TEST_DIR/report.png" <<'PY' || fail "the screenshot is not a 1240x1754 PNG"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1240, 1754), (w, h)
PY
(($(grep -o '<svg' "$TEST_DIR/dom.html" | wc -l) >= 4)) || fail "the rendered DOM has fewer than 4 charts"
grep -q 'role="img"' "$TEST_DIR/dom.html" || fail "the charts have no role=img in the rendered DOM"
grep -qF "Incident-readiness report" "$TEST_DIR/dom.html" || fail "the rendered DOM lacks the title"

step "kho policy check records a check, which clears the 'no check' reason"
expect_exit 0 kho policy check portal --policies "$POL" --state "$STATE"
expect_exit 0 kho report --format json "${O[@]}"
python3 - "$OUT_FILE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
(p,) = r["policies"]
codes = sorted(x["code"] for x in p["reasons"])
assert codes == ["no_append_only"], codes
assert p["last_check"]["status"] == "success", p["last_check"]
PY
