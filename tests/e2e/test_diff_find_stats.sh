#!/usr/bin/env bash
# Inspecting snapshots: `diff` reports added, removed, content-modified and
# metadata-only changes (and a removed directory with everything below it);
# `find` lists matching paths in every snapshot that holds them; `stats` gives
# restore size, unique raw data and the dedup ratio of snapshots that share data.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$TEST_DIR/src

# sum_sizes: total size of the regular files under $SRC.
sum_sizes() {
  find "$SRC" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
count_files() {
  find "$SRC" -type f | wc -l
}
backup_id() {
  expect_exit 0 kho backup "$SRC" --json
  json_get "$(json_last_line "$OUT_FILE")" snapshot_id
}

expect_exit 0 kho init

step "snapshot A: a small tree of random (incompressible) files"
mkdir -p "$SRC/sub"
random_file "$SRC/keep.txt" 200000
random_file "$SRC/change.txt" 100000
random_file "$SRC/perm.txt" 50000
random_file "$SRC/gone.txt" 30000
random_file "$SRC/data.bin" 60000
random_file "$SRC/sub/a.txt" 20000
random_file "$SRC/sub/b.dat" 10000
chmod 644 "$SRC"/*.txt
SIZE_A=$(sum_sizes)
FILES_A=$(count_files)
ID_A=$(backup_id)

step "snapshot B: one file rewritten, one chmod-ed, one added, one deleted"
random_file "$SRC/change.txt" 120000
chmod 600 "$SRC/perm.txt"
random_file "$SRC/new.txt" 40000
rm "$SRC/gone.txt"
SIZE_B=$(sum_sizes)
FILES_B=$(count_files)
ID_B=$(backup_id)
echo "A=$ID_A ($FILES_A files, $SIZE_A bytes) B=$ID_B ($FILES_B files, $SIZE_B bytes)"

step "diff A B --json: exactly the four changes, with kinds, types, sizes and totals"
expect_exit 0 kho diff "$ID_A" "$ID_B" --json
python3 - "$OUT_FILE" "$SRC" "$ID_A" "$ID_B" <<'EOF'
import json, sys
path, src, id_a, id_b = sys.argv[1:]
d = json.load(open(path, encoding="utf-8"))
assert d["snapshot_a"] == id_a and d["snapshot_b"] == id_b, f"snapshot IDs: {d['snapshot_a']} {d['snapshot_b']}"
got = {c["path"]: c for c in d["changes"]}
want = {
    f"{src}/change.txt": ("modified", 100000, 120000),
    f"{src}/perm.txt": ("metadata", 50000, 50000),
    f"{src}/new.txt": ("added", 0, 40000),
    f"{src}/gone.txt": ("removed", 30000, 0),
}
assert len(d["changes"]) == len(got), f"a path is listed twice: {d['changes']}"
assert set(got) == set(want), f"changed paths {sorted(got)}, want {sorted(want)}"
for p, (kind, before, after) in want.items():
    c = got[p]
    assert c["change"] == kind, f"{p}: change {c['change']!r}, want {kind!r}"
    assert c["type"] == "file", f"{p}: type {c['type']!r}"
    assert (c["size_before"], c["size_after"]) == (before, after), f"{p}: sizes {c}, want {before} -> {after}"
t = d["totals"]
assert (t["added"], t["removed"], t["modified"], t["metadata"]) == (1, 1, 1, 1), f"totals {t}"
assert t["bytes_added"] == 40000 + 20000, f"bytes_added {t['bytes_added']}, want the new file plus the growth"
assert t["bytes_removed"] == 30000, f"bytes_removed {t['bytes_removed']}, want the removed file"
print("diff --json ok")
EOF

step "diff human output: one marked line per change, then totals"
expect_exit 0 kho diff "${ID_A:0:12}" "${ID_B:0:12}"
# The test's .txt files hold random bytes: diff rightly marks them as not text.
grep -qE "^M +$SRC/change.txt +!! \.txt that is not text\$" "$OUT_FILE" || fail "no 'M' line for change.txt: $(cat "$OUT_FILE")"
grep -qE "^U +$SRC/perm.txt\$" "$OUT_FILE" || fail "no 'U' line for perm.txt: $(cat "$OUT_FILE")"
grep -qE "^\+ +$SRC/new.txt +!! \.txt that is not text\$" "$OUT_FILE" || fail "no '+' line for new.txt: $(cat "$OUT_FILE")"
grep -qE "^- +$SRC/gone.txt\$" "$OUT_FILE" || fail "no '-' line for gone.txt: $(cat "$OUT_FILE")"
assert_output_contains "1 added, 1 removed, 1 modified, 1 metadata only"

step "diff of a snapshot with itself is empty; bad arguments fail cleanly"
expect_exit 0 kho diff "$ID_B" "$ID_B" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changes"] == [] and d["totals"]["added"] == 0, d' "$OUT_FILE"
expect_exit 2 kho diff "$ID_A"
expect_failure kho diff "$ID_A" 0000dead
assert_output_contains "0000dead"

step "find '*.txt' --json: the matches of each snapshot"
expect_exit 0 kho find '*.txt' --json
python3 - "$OUT_FILE" "$SRC" "$ID_A" "$ID_B" <<'EOF'
import json, os, re, sys
path, src, id_a, id_b = sys.argv[1:]
matches = json.load(open(path, encoding="utf-8"))
assert isinstance(matches, list), "find --json is not an array"
by_snap = {}
for m in matches:
    for key in ("snapshot_id", "short_id", "time", "path", "type", "size", "mtime"):
        assert key in m, f"match has no {key!r}: {m}"
    assert m["snapshot_id"].startswith(m["short_id"]), m
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", m["time"]), m["time"]
    assert m["type"] == "file" and isinstance(m["mtime"], int) and m["mtime"] > 0, m
    by_snap.setdefault(m["snapshot_id"], {})[m["path"]] = m["size"]
assert set(by_snap) == {id_a, id_b}, f"snapshots with matches: {sorted(by_snap)}"
want_a = {"keep.txt": 200000, "change.txt": 100000, "perm.txt": 50000, "gone.txt": 30000, "sub/a.txt": 20000}
want_b = {"keep.txt": 200000, "change.txt": 120000, "perm.txt": 50000, "new.txt": 40000, "sub/a.txt": 20000}
for sid, want in ((id_a, want_a), (id_b, want_b)):
    want = {f"{src}/{k}": v for k, v in want.items()}
    assert by_snap[sid] == want, f"snapshot {sid[:8]}: {by_snap[sid]}, want {want}"
print("find --json ok")
EOF

step "find: anchored, trailing-component and case-insensitive patterns; no match"
# find_paths ARGS...: "short_id path" lines of `kho find ARGS --json`, sorted.
find_paths() {
  expect_exit 0 kho find "$@" --json
  python3 -c 'import json,sys; [print(m["short_id"], m["path"]) for m in json.load(open(sys.argv[1]))]' "$OUT_FILE" | sort
}
[[ $(find_paths "$SRC/n*.txt") == "${ID_B:0:8} $SRC/new.txt" ]] || fail "anchored pattern: $(find_paths "$SRC/n*.txt")"
[[ $(find_paths "src/gone.*") == "${ID_A:0:8} $SRC/gone.txt" ]] || fail "trailing-component pattern: $(find_paths "src/gone.*")"
[[ $(find_paths "sub") == "$(printf '%s\n' "${ID_A:0:8} $SRC/sub" "${ID_B:0:8} $SRC/sub" | sort)" ]] ||
  fail "a directory name should match in both snapshots: $(find_paths sub)"
[[ $(find_paths -i 'NEW.TXT') == "${ID_B:0:8} $SRC/new.txt" ]] || fail "--ignore-case: $(find_paths -i NEW.TXT)"
[[ $(find_paths --snapshot "$ID_A" 'keep.txt') == "${ID_A:0:8} $SRC/keep.txt" ]] || fail "--snapshot limits the search"
[[ -z $(find_paths 'no-such-*') ]] || fail "a pattern matching nothing should give []"
expect_exit 0 kho find 'gone.txt'
assert_output_contains "$SRC/gone.txt"
assert_output_contains "${ID_A:0:8}"
assert_output_contains "1 match(es) in 1 of 2 snapshot(s)"

step "stats --json (restore-size): sizes of both snapshots, dedup ratio above 1"
expect_exit 0 kho stats --json
python3 - "$OUT_FILE" "$SIZE_A" "$SIZE_B" "$FILES_A" "$FILES_B" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
size_a, size_b, files_a, files_b = map(int, sys.argv[2:])
for key in ("snapshots", "total_files", "restore_size", "raw_data_size", "stored_size", "blob_count",
            "pack_count", "dedup_ratio", "compression_ratio", "mode"):
    assert key in s, f"stats --json has no {key!r}: {s}"
assert s["mode"] == "restore-size", s
assert s["snapshots"] == 2, s
assert s["restore_size"] == size_a + size_b, f"restore_size {s['restore_size']}, want {size_a + size_b}"
assert s["total_size"] == s["restore_size"], s
assert s["total_files"] == files_a + files_b, f"total_files {s['total_files']}, want {files_a + files_b}"
# Unique data: everything in A plus the new file and the rewritten one (random: no shared chunks).
unique = size_a + 40000 + 120000
assert unique <= s["raw_data_size"] < unique + 65536, f"raw_data_size {s['raw_data_size']}, want about {unique}"
assert abs(s["dedup_ratio"] - (size_a + size_b) / unique) < 1e-6, f"dedup_ratio {s['dedup_ratio']}"
assert s["dedup_ratio"] > 1, s
# Random data does not compress; encryption and padding add a little.
assert 0.8 < s["compression_ratio"] <= 1.01, s
assert s["stored_size"] >= unique and s["blob_count"] >= 9 and s["pack_count"] >= 1, s
print("stats --json ok")
EOF

step "stats --mode raw-data --json, and of one snapshot"
expect_exit 0 kho stats --mode raw-data --json
python3 - "$OUT_FILE" "$SIZE_A" "$SIZE_B" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
size_a, size_b = map(int, sys.argv[2:])
assert s["mode"] == "raw-data", s
assert s["total_size"] == s["raw_data_size"], s
assert s["raw_data_size"] < s["restore_size"] == size_a + size_b, s
assert s["referenced_blobs"] >= 9 and s["referenced_stored_size"] > 0, s
print("stats --mode raw-data ok")
EOF
expect_exit 0 kho stats "${ID_A:0:10}" --json
[[ $(json_get "$(cat "$OUT_FILE")" restore_size) == "$SIZE_A" ]] || fail "stats of snapshot A: $(cat "$OUT_FILE")"
[[ $(json_get "$(cat "$OUT_FILE")" snapshots) == 1 ]] || fail "stats of snapshot A counts one snapshot"
expect_exit 0 kho stats
assert_output_contains "Dedup ratio"
expect_exit 2 kho stats --mode bogus

step "diff B C: a removed directory is listed with everything below it"
rm -r "$SRC/sub"
ID_C=$(backup_id)
expect_exit 0 kho diff "$ID_B" "$ID_C" --json
python3 - "$OUT_FILE" "$SRC" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
src = sys.argv[2]
got = [(c["path"], c["change"], c["type"]) for c in d["changes"]]
want = [(f"{src}/sub", "removed", "dir"), (f"{src}/sub/a.txt", "removed", "file"), (f"{src}/sub/b.dat", "removed", "file")]
assert got == want, f"changes {got}, want {want}"
assert d["totals"]["removed"] == 3 and d["totals"]["bytes_removed"] == 30000, d["totals"]
print("diff of a removed directory ok")
EOF
expect_exit 0 kho diff "$ID_C" "$ID_B"
grep -qE "^\+ +$SRC/sub/\$" "$OUT_FILE" || fail "the re-added directory should show as '+ $SRC/sub/': $(cat "$OUT_FILE")"
