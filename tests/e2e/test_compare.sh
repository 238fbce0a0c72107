#!/usr/bin/env bash
# kho compare: a directory on disk against a snapshot (or a subtree of it), with
# the layout restore writes. A faithful restore compares equal; a changed byte,
# a missing file, a changed mode or symlink target are differences (exit 4); a
# file the snapshot does not have is listed as extra but does not fail. Also:
# SNAPSHOT:PATH against the live directory, --include/--exclude as restore has
# them, --json, symlinks on disk never followed, nothing written.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$TEST_DIR/src
MiB=$((1024 * 1024))

step "building the source tree in $SRC"
mkdir -p "$SRC/sub/deeper" "$SRC/uploads/2025" "$SRC/empty_dir"
# Several chunks (min 512 KiB, avg 1 MiB): a byte in the middle is not in the first.
random_file "$SRC/big.bin" $((6 * MiB + 123))
printf 'small\n' >"$SRC/small.txt"
: >"$SRC/empty.txt"
ln -s small.txt "$SRC/link"
ln -s /nonexistent/target "$SRC/dangling"
printf 'inner\n' >"$SRC/sub/inner.txt"
printf 'deeper\n' >"$SRC/sub/deeper/x.txt"
random_file "$SRC/uploads/2025/photo.jpg" 70000
printf 'readme\n' >"$SRC/uploads/README"
chmod 0640 "$SRC/sub/inner.txt"
chmod 0750 "$SRC/sub"

expect_exit 0 kho init
expect_exit 0 kho backup "$SRC" --json
SNAP=$(json_get "$(json_last_line "$OUT_FILE")" snapshot_id)
SRC_BYTES=$(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
SRC_FILES=$(find "$SRC" ! -type d | wc -l)

step "a fresh restore compares equal"
R=$TEST_DIR/restored
expect_exit 0 kho restore "$SNAP" --target "$R"
sleep 0.05
touch "$TEST_DIR/marker"
expect_exit 0 kho compare "$SNAP" "$R"
assert_output_contains "$SRC_FILES files compared, 0 differ, 0 missing, 0 extra"
expect_exit 0 kho compare latest "$R"
expect_exit 0 kho compare "${SNAP:0:8}" "$R" --json
J=$(json_last_line "$OUT_FILE")
[[ $(json_get "$J" snapshot) == "$SNAP" ]] || fail "--json snapshot is not the full ID: $J"
[[ $(json_get "$J" path) == / ]] || fail "--json path: $J"
[[ $(json_get "$J" target) == "$R" ]] || fail "--json target: $J"
[[ $(json_get "$J" ok) == True ]] || fail "--json ok is not true: $J"
[[ $(json_get "$J" files) == "$SRC_FILES" ]] || fail "--json files is not $SRC_FILES: $J"
[[ $(json_get "$J" bytes) == "$SRC_BYTES" ]] || fail "--json bytes is not $SRC_BYTES: $J"
# Directories: /, the parents of $SRC and the five below it; all of them match.
SRC_DIRS=$(($(tr -cd / <<<"$SRC" | wc -c) + $(find "$SRC" -mindepth 1 -type d | wc -l)))
[[ $(json_get "$J" dirs) == "$SRC_DIRS" ]] || fail "--json dirs is not $SRC_DIRS: $J"
[[ $(json_get "$J" matched) == $((SRC_FILES + SRC_DIRS)) ]] || fail "--json matched: $J"
for key in differ missing extra; do
  [[ $(json_get "$J" $key) == "[]" ]] || fail "--json $key is not empty: $J"
done

step "compare writes nothing"
changed=$(find "$R" -newer "$TEST_DIR/marker" -o -cnewer "$TEST_DIR/marker" | head)
[[ -z $changed ]] || fail "compare changed the compared tree: $changed"

step "one byte changed in the middle of a large file: differs, exit 4"
flip_byte "$R$SRC/big.bin" $((3 * MiB + 7))
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/big.bin: content differs at offset"
assert_output_contains "$SRC_FILES files compared, 1 differ, 0 missing, 0 extra"
offset=$(grep -o 'content differs at offset [0-9]*' "$OUT_FILE" | awk '{print $NF}')
((offset <= 3 * MiB + 7)) || fail "difference reported at offset $offset, not in the chunk of byte $((3 * MiB + 7))"
expect_exit 4 kho compare "$SNAP" "$R" --json
J=$(json_last_line "$OUT_FILE")
[[ $(json_get "$J" ok) == False ]] || fail "--json ok is not false: $J"
python3 - "$J" "$SRC/big.bin" <<'EOF'
import json, sys
j = json.loads(sys.argv[1])
d = j["differ"]
assert len(d) == 1 and d[0]["path"] == sys.argv[2] and "content differs at offset" in d[0]["reason"], j
EOF
expect_exit 0 kho compare "$SNAP" "$R" --exclude '*.bin'
flip_byte "$R$SRC/big.bin" $((3 * MiB + 7))
expect_exit 0 kho compare "$SNAP" "$R"

step "a file of another size"
cp -p "$R$SRC/small.txt" "$TEST_DIR/small.save"
printf 'more' >>"$R$SRC/small.txt"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/small.txt: size differs"
cp -p "$TEST_DIR/small.save" "$R$SRC/small.txt"

step "a deleted file: missing, exit 4"
mv "$R$SRC/sub/inner.txt" "$TEST_DIR/inner.save"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "missing: $SRC/sub/inner.txt"
assert_output_contains "0 differ, 1 missing, 0 extra"
mv "$TEST_DIR/inner.save" "$R$SRC/sub/inner.txt"
mv "$R$SRC/empty_dir" "$TEST_DIR/empty_dir.save"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "missing: $SRC/empty_dir/"
mv "$TEST_DIR/empty_dir.save" "$R$SRC/empty_dir"
expect_exit 0 kho compare "$SNAP" "$R"

step "an added file: listed as extra, exit 0"
printf 'new\n' >"$R$SRC/sub/new.txt"
mkdir "$R$SRC/newdir"
printf 'x\n' >"$R$SRC/newdir/a"
expect_exit 0 kho compare "$SNAP" "$R"
assert_output_contains "extra: $SRC/sub/new.txt"
assert_output_contains "extra: $SRC/newdir/"
assert_output_contains "0 differ, 0 missing, 2 extra"
expect_exit 0 kho compare "$SNAP" "$R" --json
J=$(json_last_line "$OUT_FILE")
python3 - "$J" "$SRC" <<'EOF'
import json, sys
j, src = json.loads(sys.argv[1]), sys.argv[2]
assert j["ok"] is True, j
assert j["extra"] == [{"path": src + "/newdir", "type": "dir"}, {"path": src + "/sub/new.txt", "type": "file"}], j
EOF
rm -rf "$R$SRC/sub/new.txt" "$R$SRC/newdir"

step "at most 50 problems of a kind are listed in human output, all of them in --json"
mkdir "$R$SRC/many"
for i in $(seq 1 50); do : >"$R$SRC/sub/extra_$i"; done
expect_exit 0 kho compare "$SNAP" "$R"
assert_output_contains "... and 1 more extra"
assert_output_contains "0 differ, 0 missing, 51 extra"
[[ $(grep -c '^extra: ' "$OUT_FILE") == 50 ]] || fail "not 50 extra lines listed"
expect_exit 0 kho compare "$SNAP" "$R" --json
[[ $(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["extra"]))' "$(json_last_line "$OUT_FILE")") == 51 ]] ||
  fail "--json does not list all 51 extras"
rm -rf "$R$SRC/many" "$R$SRC"/sub/extra_*

step "a changed mode: differs (mode)"
chmod 0600 "$R$SRC/sub/inner.txt"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/sub/inner.txt: mode differs: 0640 in the snapshot, 0600 on disk"
chmod 0640 "$R$SRC/sub/inner.txt"
chmod 0755 "$R$SRC/sub"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/sub/: mode differs: 0750 in the snapshot, 0755 on disk"
chmod 0750 "$R$SRC/sub"

step "symlinks: another target differs; a file in place of a link differs by type"
ln -sfn other.txt "$R$SRC/link"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/link: symlink target differs: 'small.txt' in the snapshot, 'other.txt' on disk"
rm "$R$SRC/link"
printf 'small\n' >"$R$SRC/link"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/link: type differs: symlink in the snapshot, file on disk"
rm "$R$SRC/link"
ln -s small.txt "$R$SRC/link"
expect_exit 0 kho compare "$SNAP" "$R"

step "a symlink on disk in place of a directory is not followed"
mv "$R$SRC/sub" "$TEST_DIR/sub.moved"
ln -s "$TEST_DIR/sub.moved" "$R$SRC/sub"
expect_exit 4 kho compare "$SNAP" "$R"
assert_output_contains "differs: $SRC/sub/: type differs: dir in the snapshot, symlink on disk"
if grep -q "$SRC/sub/inner.txt" "$OUT_FILE"; then fail "compare walked through a symlink"; fi
rm "$R$SRC/sub"
mv "$TEST_DIR/sub.moved" "$R$SRC/sub"
expect_exit 0 kho compare "$SNAP" "$R"

step "SNAPSHOT:PATH against a restore of that path and against the live directory"
R2=$TEST_DIR/restored-sub
expect_exit 0 kho restore "$SNAP:$SRC/sub" --target "$R2"
expect_exit 0 kho compare "$SNAP:$SRC/sub" "$R2"
assert_output_contains "2 files compared, 0 differ, 0 missing, 0 extra"
expect_exit 0 kho compare "$SNAP:$SRC/sub" "$R2" --json
[[ $(json_get "$(json_last_line "$OUT_FILE")" path) == "$SRC/sub" ]] || fail "--json path is not the subpath"
expect_exit 0 kho compare "$SNAP:$SRC" "$SRC"
assert_output_contains "$SRC_FILES files compared, 0 differ, 0 missing, 0 extra"
printf 'changed\n' >"$SRC/sub/deeper/x.txt"
printf 'added\n' >"$SRC/added.txt"
expect_exit 4 kho compare "latest:$SRC/" "$SRC"
assert_output_contains "differs: $SRC/sub/deeper/x.txt: size differs: 7 bytes in the snapshot, 8 on disk"
assert_output_contains "extra: $SRC/added.txt"
# The whole snapshot against a subtree's restore: everything is missing.
expect_exit 4 kho compare "$SNAP" "$R2"
top=${SRC#/}
assert_output_contains "missing: /${top%%/*}/"
assert_output_contains "extra: /inner.txt"

step "one file as SNAPSHOT:PATH: compared as DIR/<name>, as restore writes it"
R3=$TEST_DIR/restored-file
expect_exit 0 kho restore "$SNAP:$SRC/sub/inner.txt" --target "$R3"
expect_exit 0 kho compare "$SNAP:$SRC/sub/inner.txt" "$R3"
assert_output_contains "1 files compared, 0 differ, 0 missing, 0 extra"
expect_exit 1 kho compare "$SNAP:$SRC/no/such/path" "$R3"
assert_output_contains "is not in the snapshot"

step "--include limits the comparison to a path and everything below it, as restore's does"
R4=$TEST_DIR/restored-include
expect_exit 0 kho restore "$SNAP" --include "$SRC/uploads" --target "$R4"
expect_exit 0 kho compare "$SNAP" --include "$SRC/uploads" "$R4"
assert_output_contains "2 files compared, 0 differ, 0 missing, 0 extra"
# Without the include, all the rest is missing.
expect_exit 4 kho compare "$SNAP" "$R4"
assert_output_contains "missing: $SRC/big.bin"
assert_output_contains "missing: $SRC/sub/"
# In the full restore, a difference outside the include does not count; one inside does.
chmod 0600 "$R$SRC/small.txt"
expect_exit 0 kho compare "$SNAP" -i "$SRC/uploads" "$R"
flip_byte "$R$SRC/uploads/2025/photo.jpg"
expect_exit 4 kho compare "$SNAP" -i "$SRC/uploads" "$R"
assert_output_contains "differs: $SRC/uploads/2025/photo.jpg: content differs at offset 0"
if grep -q "small.txt" "$OUT_FILE"; then fail "a path outside --include was compared"; fi
expect_exit 0 kho compare "$SNAP" -i "$SRC/uploads" -e '*.jpg' "$R"
expect_exit 0 kho compare "$SNAP" -i '*.txt' -e small.txt "$R"
expect_exit 4 kho compare "$SNAP" -i '*.txt' "$R"
assert_output_contains "differs: $SRC/small.txt: mode differs"
# Extras are filtered too: one outside the include is not listed.
printf 'x\n' >"$R4/outside.txt"
printf 'x\n' >"$R4$SRC/uploads/inside.txt"
expect_exit 0 kho compare "$SNAP" --include "$SRC/uploads" "$R4"
assert_output_contains "extra: $SRC/uploads/inside.txt"
if grep -q "outside.txt" "$OUT_FILE"; then fail "an extra outside --include was listed"; fi

step "errors: no such directory (1), wrong password (12), no repository (10), unknown snapshot (1)"
expect_exit 1 kho compare "$SNAP" "$TEST_DIR/does-not-exist"
expect_exit 1 kho compare deadbeefdeadbeef "$R"
KHO_PASSWORD=wrong expect_exit 12 kho compare "$SNAP" "$R"
expect_exit 10 kho -r "$TEST_DIR/no-repo" compare "$SNAP" "$R"
expect_exit 2 kho compare "$SNAP"
