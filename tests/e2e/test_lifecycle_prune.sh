#!/usr/bin/env bash
# Prune frees the space of forgotten data: two snapshots of 30 MB of different
# random data, forget the first, prune frees about 30 MB (measured on disk and
# in the --json summary); afterwards `check --read-data` passes and the
# remaining snapshot restores byte for byte. `prune --dry-run` changes nothing;
# `forget --keep-last 1 --prune` does both in one go; a pack that is only
# partly used is repacked.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MB=1000000

# prune_json ARGS...: runs `kho prune --json ARGS`, prints its summary object.
prune_json() {
  expect_exit 0 kho prune --json "$@"
  json_last_line "$OUT_FILE"
}

# check_clean: `check --read-data` passes with no hint of leftover packs.
check_clean() {
  expect_exit 0 kho check --read-data --json
  local j
  j=$(json_last_line "$OUT_FILE")
  [[ $(json_get "$j" ok) == True ]] || fail "check --read-data is not ok: $j"
  [[ $(json_get "$j" errors) == "[]" ]] || fail "check --read-data reports errors: $j"
  [[ $(json_get "$j" hints) == "[]" ]] || fail "after prune, check should have nothing left to hint at: $j"
}

expect_exit 0 kho init

SRC=$TEST_DIR/src
mkdir -p "$SRC/sub"
echo "shared small file" >"$SRC/sub/shared.txt"

step "snapshot 1 holds A (30 MB random), snapshot 2 holds B (30 MB other random)"
random_file "$SRC/a.bin" $((30 * MB))
expect_exit 0 kho backup "$SRC"
random_file "$TEST_DIR/b.bin" $((30 * MB))
rm "$SRC/a.bin"
mv "$TEST_DIR/b.bin" "$SRC/b.bin"
expect_exit 0 kho backup "$SRC"
mapfile -t IDS < <(kho snapshots --json | python3 -c '
import json, sys
for s in sorted(json.load(sys.stdin), key=lambda s: s["time"]): print(s["id"])')
((${#IDS[@]} == 2)) || fail "expected 2 snapshots, have ${#IDS[@]}"
FIRST=${IDS[0]}
SECOND=${IDS[1]}

step "forget the first snapshot: no data is freed yet"
size0=$(tree_bytes "$REPO")
expect_exit 0 kho forget "$FIRST"
[[ $(snapshot_ids) == "$SECOND" ]] || fail "after forget $FIRST only $SECOND should be left: $(snapshot_ids)"
size1=$(tree_bytes "$REPO")
((size0 - size1 < MB)) || fail "forget alone freed $((size0 - size1)) bytes: only prune should delete data"

step "prune --dry-run says what it would free and changes nothing"
before=$(repo_listing)
J=$(prune_json --dry-run)
after=$(repo_listing)
assert_lines_equal "prune --dry-run must leave the repository's files alone" "$before" "$after"
echo "dry run: $J"
[[ $(json_get "$J" dry_run) == True ]] || fail "prune --dry-run --json should say dry_run: $J"
would_free=$(json_get "$J" bytes_freed)
((would_free > 25 * MB)) || fail "prune --dry-run would free only $would_free bytes of the 30 MB forgotten: $J"
expect_exit 0 kho prune --dry-run
assert_output_contains_i "free"
assert_lines_equal "human prune --dry-run must leave the repository's files alone" "$before" "$(repo_listing)"
assert_no_locks "after prune --dry-run"

step "prune frees about A's 30 MB"
J=$(prune_json)
echo "prune: $J"
size2=$(tree_bytes "$REPO")
echo "repository: $size1 -> $size2 bytes"
((size1 - size2 > 25 * MB)) || fail "prune shrank the repository by $((size1 - size2)) bytes; forgetting 30 MB of random data should free > 25 MB"
((size2 > 29 * MB)) || fail "the repository is $size2 bytes: prune deleted data the kept snapshot needs (B is 30 MB)"
freed=$(json_get "$J" bytes_freed)
((freed > 25 * MB && freed < 35 * MB)) || fail "prune --json reports bytes_freed=$freed; about 30 MB were freed: $J"
[[ $(json_get "$J" dry_run) == False ]] || fail "prune --json should say dry_run false: $J"
assert_no_locks "after prune"

step "check --read-data passes and the kept snapshot restores byte for byte"
check_clean
restore_and_compare "$SECOND" "$SRC"

step "a second prune has nothing to do"
J=$(prune_json)
[[ $(json_get "$J" bytes_freed) == 0 ]] || fail "a second prune freed more: $J"

step "forget --keep-last 1 --prune forgets and frees in one go"
random_file "$TEST_DIR/c.bin" $((20 * MB))
rm "$SRC/b.bin"
mv "$TEST_DIR/c.bin" "$SRC/c.bin"
expect_exit 0 kho backup "$SRC"
THIRD=$(kho snapshots --json | python3 -c '
import json, sys
print(max(json.load(sys.stdin), key=lambda s: s["time"])["id"])')
[[ $THIRD != "$SECOND" ]] || fail "the new backup made no new snapshot"
size3=$(tree_bytes "$REPO")
expect_exit 0 kho forget --keep-last 1 --prune
size4=$(tree_bytes "$REPO")
echo "repository: $size3 -> $size4 bytes"
[[ $(snapshot_ids) == "$THIRD" ]] || fail "forget --keep-last 1 --prune should leave only $THIRD: $(snapshot_ids)"
((size3 - size4 > 25 * MB)) || fail "forget --prune shrank the repository by $((size3 - size4)) bytes; B's 30 MB should be freed"
((size4 > 19 * MB)) || fail "the repository is $size4 bytes: C (20 MB) is needed"
assert_no_locks "after forget --prune"
check_clean
restore_and_compare "$THIRD" "$SRC"

step "a partly used pack is repacked: only the forgotten part is freed"
# Two 6 MB files land in one pack; the next snapshot keeps only one of them.
P=$TEST_DIR/partly
mkdir -p "$P"
random_file "$P/keep.bin" $((6 * MB))
random_file "$P/drop.bin" $((6 * MB))
expect_exit 0 kho backup "$P"
rm "$P/drop.bin"
expect_exit 0 kho backup "$P"
mapfile -t PIDS < <(kho snapshots --json --path "$P" | python3 -c '
import json, sys
for s in sorted(json.load(sys.stdin), key=lambda s: s["time"]): print(s["id"])')
((${#PIDS[@]} == 2)) || fail "expected 2 snapshots of $P, have ${#PIDS[@]}"
expect_exit 0 kho forget "${PIDS[0]}"
size5=$(tree_bytes "$REPO")
J=$(prune_json)
echo "prune: $J"
size6=$(tree_bytes "$REPO")
echo "repository: $size5 -> $size6 bytes"
(($(json_get "$J" packs_repacked) >= 1)) || fail "a pack half used by the kept snapshot should be repacked: $J"
((size5 - size6 > 5 * MB)) || fail "prune freed $((size5 - size6)) bytes; the forgotten 6 MB file should be freed"
((size6 > 25 * MB)) || fail "the repository is $size6 bytes: kept data (C 20 MB + keep.bin 6 MB) was deleted"
check_clean
restore_and_compare "${PIDS[1]}" "$P"
restore_and_compare "$THIRD" "$SRC"
