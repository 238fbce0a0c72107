#!/usr/bin/env bash
# kho copy between local repositories: snapshots keep their time, host, paths
# and tags; restores from the copy are identical; a second copy adds nothing;
# repositories sharing chunker parameters (init --copy-chunker-params) move only
# missing blobs, others are re-chunked; copying back is a no-op; filters and
# snapshot IDs select what is copied; a wrong source password is refused.
# (Copies over SFTP and REST are in test_remote_copy.sh.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

A=$REPO
B=$TEST_DIR/repo-b
C=$TEST_DIR/repo-c
printf 'source password\n' >"$TEST_DIR/a.pass"
chmod 600 "$TEST_DIR/a.pass"
FROM=(--from-repo "$A" --from-password-file "$TEST_DIR/a.pass")
export KHO_PASSWORD="source password"

# copy_json REPO ARGS...: runs `kho -r REPO copy ARGS --json`, prints its result.
copy_json() {
  local repo=$1
  shift
  expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$repo" copy "${FROM[@]}" "$@" --json
  json_last_line "$OUT_FILE"
}

# meta REPO: one line per snapshot: time|host|paths|tags|original, sorted.
meta() {
  env KHO_PASSWORD="$2" "$KHO" -r "$1" snapshots --json | python3 -c '
import json, sys
rows = []
for s in json.load(sys.stdin):
    rows.append("|".join([s["time"], s["hostname"] if "hostname" in s else s["host"], ",".join(s["paths"]),
                          ",".join(s.get("tags") or []), s.get("original") or s["id"]]))
print("\n".join(sorted(rows)))'
}

# repo_files DIR: the repository's objects (not locks) with their sizes.
repo_files() {
  (cd "$1" && find . -type f ! -path './locks/*' -printf '%P %s\n') | LC_ALL=C sort
}

SRC=$TEST_DIR/src
mkdir -p "$SRC/docs" "$SRC/bin"
random_file "$SRC/bin/large.bin" 30000000
for i in $(seq 1 40); do printf 'document %d\n%s\n' "$i" "$(head -c 3000 /dev/urandom | base64)" >"$SRC/docs/doc$i.txt"; done
ln -s docs/doc1.txt "$SRC/link"
chmod 640 "$SRC/docs/doc2.txt"
touch -d '2025-01-02 03:04:05.123456789' "$SRC/docs/doc3.txt"

step "source repository with two snapshots"
expect_exit 0 kho init
expect_exit 0 kho backup "$SRC" --host web01 --tag daily --tag portal --time "2026-01-10 01:30:00"
echo "extra" >>"$SRC/docs/doc5.txt"
expect_exit 0 kho backup "$SRC" --host web01 --tag daily --time "2026-01-11 01:30:00"
mapfile -t A_IDS < <(snapshot_ids)
((${#A_IDS[@]} == 2)) || fail "expected 2 source snapshots"

step "copy into an independent repository re-chunks and keeps the metadata"
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$B" init
R=$(copy_json "$B")
echo "$R"
[[ $(json_get "$R" copied) == 2 && $(json_get "$R" skipped) == 0 ]] || fail "first copy should copy 2: $R"
[[ $(json_get "$R" rechunked) == True ]] || fail "independent repositories must be re-chunked: $R"
src_meta=$(meta "$A" "source password" | cut -d'|' -f1-4)
dst_meta=$(meta "$B" "destination password" | cut -d'|' -f1-4)
assert_lines_equal "time, host, paths and tags of the copies" "$src_meta" "$dst_meta"
originals=$(meta "$B" "destination password" | cut -d'|' -f5 | sort)
assert_lines_equal "originals of the copies" "$(printf '%s\n' "${A_IDS[@]}" | sort)" "$originals"
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$B" check --read-data
target=$TEST_DIR/restore-b
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$B" restore latest --target "$target"
assert_trees_equal "$SRC" "$target$SRC"

step "a second copy adds nothing"
before=$(repo_files "$B")
R=$(copy_json "$B")
[[ $(json_get "$R" copied) == 0 && $(json_get "$R" skipped) == 2 ]] || fail "second copy should skip both: $R"
[[ $(json_get "$R" blobs_added) == 0 ]] || fail "second copy added blobs: $R"
assert_lines_equal "repository B after a second copy" "$before" "$(repo_files "$B")"

step "a repository sharing chunker parameters gets only missing blobs, without re-chunking"
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$C" init --copy-chunker-params "${FROM[@]}"
R=$(copy_json "$C" "${A_IDS[0]}")
[[ $(json_get "$R" rechunked) == False ]] || fail "shared chunker parameters must not re-chunk: $R"
[[ $(json_get "$R" copied) == 1 ]] || fail "copying one named snapshot should copy 1: $R"
first_added=$(json_get "$R" data_added_raw)
R=$(copy_json "$C")
[[ $(json_get "$R" copied) == 1 && $(json_get "$R" skipped) == 1 ]] || fail "copying all should copy the other one: $R"
second_added=$(json_get "$R" data_added_raw)
echo "raw bytes added: first snapshot $first_added, second $second_added"
((first_added > 30000000)) || fail "the first copy should add the 30 MB file"
((second_added < 2000000)) || fail "the second snapshot differs by a line, yet the copy added $second_added raw bytes"
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$C" check --read-data
for id in "${A_IDS[@]}"; do
  rm -rf "$target"
  copy_id=$(env KHO_PASSWORD="destination password" "$KHO" -r "$C" snapshots --json |
    python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s.get("original")==sys.argv[1]][0])' "$id")
  expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$C" restore "$copy_id" --target "$target"
  [[ -d $target$SRC ]] || fail "restore of the copy of $id is empty"
done
assert_trees_equal "$SRC" "$target$SRC"

step "copying back into the source adds nothing"
before=$(repo_files "$A")
printf 'destination password\n' >"$TEST_DIR/c.pass"
expect_exit 0 kho copy --from-repo "$C" --from-password-file "$TEST_DIR/c.pass" --json
R=$(json_last_line "$OUT_FILE")
[[ $(json_get "$R" copied) == 0 ]] || fail "copying back copied something: $R"
assert_lines_equal "repository A after copying back" "$before" "$(repo_files "$A")"

step "filters select what is copied"
D=$TEST_DIR/repo-d
expect_exit 0 env KHO_PASSWORD="destination password" "$KHO" -r "$D" init
R=$(copy_json "$D" --tag portal)
[[ $(json_get "$R" copied) == 1 ]] || fail "--tag portal matches one snapshot: $R"
R=$(copy_json "$D" --host other-host)
[[ $(json_get "$R" copied) == 0 && $(json_get "$R" skipped) == 0 ]] || fail "--host other-host matches none: $R"

step "a wrong source password is refused"
printf 'not it\n' >"$TEST_DIR/bad.pass"
expect_exit 12 env KHO_PASSWORD="destination password" "$KHO" -r "$D" copy --from-repo "$A" --from-password-file "$TEST_DIR/bad.pass"
step "copying a repository into itself is refused"
expect_exit 2 kho copy --from-repo "$A" --from-password-file "$TEST_DIR/a.pass"
step "no source given is a usage error"
expect_exit 2 kho copy
