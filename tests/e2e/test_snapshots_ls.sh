#!/usr/bin/env bash
# Listing and selecting snapshots: `snapshots --json` fields and filters,
# `latest` (with filters), ID prefixes, `backup --time`, `ls [--json]` and
# `cat config|snapshot`.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A fixed zone without tzdata: UTC+7 (Asia/Ho_Chi_Minh has no DST).
export TZ='<+07>-7'

SRC=$TEST_DIR/src
mkdir -p "$SRC/sub"
printf 'first\n' >"$SRC/a.txt"
printf 'in sub\n' >"$SRC/sub/x.txt"

expect_exit 0 kho init

step "three backups: tags, hosts and a backdated one"
expect_exit 0 kho backup "$SRC" --host web-01 --tag daily --json
ID1=$(json_get "$(json_last_line "$OUT_FILE")" snapshot_id)
printf 'second\n' >"$SRC/b.txt"
expect_exit 0 kho backup "$SRC" --host db-01 --tag weekly --tag offsite --time "2025-12-20 10:00:00" --json
ID2=$(json_get "$(json_last_line "$OUT_FILE")" snapshot_id)
printf 'third\n' >"$SRC/c.txt"
expect_exit 0 kho backup "$SRC" --host web-01 --json
ID3=$(json_get "$(json_last_line "$OUT_FILE")" snapshot_id)
echo "snapshots: $ID1 $ID2 $ID3"

step "snapshots --json: fields and values"
expect_exit 0 kho snapshots --json
python3 - "$OUT_FILE" "$SRC" "$ID1" "$ID2" "$ID3" <<'EOF'
import json, re, sys
from datetime import datetime
path, src, id1, id2, id3 = sys.argv[1:]
snaps = json.load(open(path, encoding="utf-8"))
assert isinstance(snaps, list), "snapshots --json is not an array"
assert len(snaps) == 3, f"want 3 snapshots, got {len(snaps)}"
rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
by_id = {}
for s in snaps:
    for key in ("id", "short_id", "time", "host", "paths", "tags", "summary"):
        assert key in s, f"snapshot has no '{key}': {s}"
    assert re.fullmatch(r"[0-9a-f]{64}", s["id"]), f"bad id {s['id']!r}"
    assert 4 <= len(s["short_id"]) < 64 and s["id"].startswith(s["short_id"]), f"bad short_id {s['short_id']!r}"
    assert rfc3339.match(s["time"]), f"time is not RFC 3339 with an offset: {s['time']!r}"
    # A real date and time (fraction cut to the microseconds Python keeps).
    datetime.fromisoformat(re.sub(r"(\.\d{1,6})\d*", r"\1", s["time"]).replace("Z", "+00:00"))
    assert s["paths"] == [src], f"paths {s['paths']!r}, want [{src!r}]"
    assert isinstance(s["tags"], list), f"tags is not a list: {s['tags']!r}"
    assert isinstance(s["summary"], dict), f"summary is not an object: {s['summary']!r}"
    for key in ("files_new", "total_bytes", "data_added"):
        assert key in s["summary"], f"summary has no '{key}': {s['summary']}"
    by_id[s["id"]] = s
assert set(by_id) == {id1, id2, id3}, f"IDs {sorted(by_id)} are not the ones backup printed"
assert by_id[id1]["host"] == "web-01" and by_id[id1]["tags"] == ["daily"], by_id[id1]
assert by_id[id2]["host"] == "db-01" and sorted(by_id[id2]["tags"]) == ["offsite", "weekly"], by_id[id2]
assert by_id[id3]["host"] == "web-01" and by_id[id3]["tags"] == [], by_id[id3]
# --time is local time; the zone is UTC+7 here.
assert by_id[id2]["time"] == "2025-12-20T10:00:00+07:00", f"--time gave {by_id[id2]['time']!r}"
assert by_id[id3]["time"].endswith("+07:00"), f"time not in the local zone: {by_id[id3]['time']!r}"
print("snapshots --json ok")
EOF

# count_snapshots ARGS...: number of snapshots `snapshots --json ARGS` lists.
count_snapshots() {
  expect_exit 0 kho snapshots --json "$@"
  python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT_FILE"
}

step "snapshots filters"
[[ $(count_snapshots --host web-01) == 2 ]] || fail "--host web-01 should select 2 snapshots"
[[ $(count_snapshots --host db-01) == 1 ]] || fail "--host db-01 should select 1 snapshot"
[[ $(count_snapshots --tag daily) == 1 ]] || fail "--tag daily should select 1 snapshot"
[[ $(count_snapshots --tag weekly) == 1 ]] || fail "--tag weekly should select 1 snapshot"
[[ $(count_snapshots --tag no-such-tag) == 0 ]] || fail "--tag no-such-tag should select nothing"
[[ $(count_snapshots --path "$SRC") == 3 ]] || fail "--path $SRC should select 3 snapshots"
[[ $(count_snapshots --path /no/such/path) == 0 ]] || fail "--path /no/such/path should select nothing"
expect_exit 0 kho snapshots
for id in "$ID1" "$ID2" "$ID3"; do
  assert_output_contains "${id:0:8}"
done
assert_output_contains web-01
assert_output_contains db-01

# lists SNAPSHOT [ARGS...]: runs `ls SNAPSHOT ARGS`, which must succeed.
lists() {
  expect_exit 0 kho ls "$@"
}
# Which of a.txt, b.txt, c.txt the last listing shows: "a", "ab" or "abc".
files_seen() {
  local seen="" f
  for f in a b c; do
    if grep -qF "$SRC/$f.txt" "$OUT_FILE"; then seen+=$f; fi
  done
  echo "$seen"
}

step "latest is the newest by time, filters apply to it"
lists latest
[[ $(files_seen) == abc ]] || fail "latest should be the third backup (a, b, c), shows '$(files_seen)'"
lists latest --host db-01
[[ $(files_seen) == ab ]] || fail "latest --host db-01 should be the backdated backup (a, b), shows '$(files_seen)'"
lists latest --tag daily
[[ $(files_seen) == a ]] || fail "latest --tag daily should be the first backup (a), shows '$(files_seen)'"
lists latest --host web-01
[[ $(files_seen) == abc ]] || fail "latest --host web-01 should be the third backup, shows '$(files_seen)'"
expect_failure kho ls latest --host no-such-host

step "snapshot IDs: full, unique prefix, unknown"
lists "$ID1"
[[ $(files_seen) == a ]] || fail "ls by full ID shows the wrong snapshot"
lists "${ID2:0:8}"
[[ $(files_seen) == ab ]] || fail "ls by ID prefix shows the wrong snapshot"
UNKNOWN=$(python3 -c '
import sys
ids = sys.argv[1:]
for c in "0123456789abcdef":
    p = c * 8
    if not any(i.startswith(p) for i in ids):
        print(p); break' "$ID1" "$ID2" "$ID3")
expect_failure kho ls "$UNKNOWN"
assert_output_contains "$UNKNOWN"

step "ls with a path and ls --json"
lists latest "$SRC/sub"
assert_output_contains "$SRC/sub/x.txt"
if grep -qF "$SRC/a.txt" "$OUT_FILE"; then fail "ls latest $SRC/sub lists files outside $SRC/sub"; fi
lists latest --json
python3 - "$OUT_FILE" "$SRC" <<'EOF'
import json, sys
path, src = sys.argv[1:]
text = open(path, encoding="utf-8").read()
try:
    doc = json.loads(text)
    items = doc if isinstance(doc, list) else [doc]
except json.JSONDecodeError:
    items = [json.loads(line) for line in text.splitlines() if line.strip()]  # one object a line
def walk(x):
    if isinstance(x, dict):
        yield x
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from walk(v)
paths = {o["path"] for o in walk(items) if isinstance(o.get("path"), str)}
want = {f"{src}/a.txt", f"{src}/b.txt", f"{src}/c.txt", f"{src}/sub", f"{src}/sub/x.txt"}
missing = want - paths
assert not missing, f"ls --json lacks {sorted(missing)}; has {sorted(paths)[:20]}"
print("ls --json ok")
EOF

step "cat config and cat snapshot print JSON"
expect_exit 0 kho cat config
python3 -m json.tool "$OUT_FILE" >/dev/null || fail "cat config is not JSON: $(head -c 500 "$OUT_FILE")"
expect_exit 0 kho cat snapshot "$ID2"
python3 - "$OUT_FILE" "$SRC" <<'EOF'
import json, sys
snap = json.load(open(sys.argv[1], encoding="utf-8"))
assert snap.get("paths") == [sys.argv[2]], f"cat snapshot: paths {snap.get('paths')!r}"
assert snap.get("host") == "db-01", f"cat snapshot: host {snap.get('host')!r}"
assert "tree" in snap, "cat snapshot: no tree"
EOF

step "a source path that is not UTF-8 backs up, is listed, finds its parent and restores byte for byte"
# Linux names are bytes: a folder named in a legacy Vietnamese encoding is not
# UTF-8. The snapshot's JSON shows U+FFFD for such bytes; its trees keep them.
export KHO_REPOSITORY=$TEST_DIR/repo-bytes
expect_exit 0 kho init
LEGACY=$TEST_DIR/$'ph\xf2ng'
mkdir -p "$LEGACY"
printf 'bao cao\n' >"$LEGACY/"$'b\xe1o.txt'
expect_exit 0 kho backup "$LEGACY" --json
expect_exit 0 kho backup "$LEGACY" --json
second=$(json_last_line "$OUT_FILE")
[[ $(json_get "$second" files_unmodified) == 1 && -n $(json_get "$second" parent) ]] ||
  fail "the second backup of a non-UTF-8 path did not use the first as its parent: $second"
expect_exit 0 kho snapshots --json
python3 - "$OUT_FILE" "$TEST_DIR" <<'PY'
import json, sys
snaps = json.load(open(sys.argv[1], encoding="utf-8"))
want = sys.argv[2] + "/ph\ufffdng"
assert len(snaps) == 2 and all(s["paths"] == [want] for s in snaps), f"paths: {[s['paths'] for s in snaps]}"
PY
expect_exit 0 kho cat snapshot latest
expect_exit 0 kho restore latest --target "$TEST_DIR/bytes-out"
cmp "$LEGACY/"$'b\xe1o.txt' "$TEST_DIR/bytes-out$LEGACY/"$'b\xe1o.txt' ||
  fail "the file under a non-UTF-8 path was not restored under its own bytes"
