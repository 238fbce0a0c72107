#!/usr/bin/env bash
# Hostile storage: someone who holds the repository's files but not its key
# swaps, truncates, deletes, replays or plants objects, using only file
# operations. Each tampering (on its own copy of the repository) must be found
# by `kho check` (exit 4) and by the commands that read the object (exit 1, or
# 12 for key files), with a message naming the object, and never a crash or a
# hang (expect_exit fails on a signal or a time-out). test_corruption.sh covers
# single flipped bytes; this test covers whole-object tampering.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A hang is a failure: nothing here should take more than a few seconds.
KHO_E2E_TIMEOUT=120

# fresh_copy NAME: a copy of the pristine repository at $TEST_DIR/NAME, made the
# current repository; its path is in $R.
fresh_copy() {
  R=$TEST_DIR/$1
  rm -rf "$R"
  cp -a "$PRISTINE" "$R"
  chmod -R u+w "$R"
  export KHO_REPOSITORY=$R
}
# new_objects BEFORE AFTER: the IDs listed in AFTER only.
new_objects() {
  LC_ALL=C comm -13 <(echo "$1") <(echo "$2")
}
# A backup writes data and tree blobs to separate packs: its tree pack is the
# small one, its data pack holds the file contents (hundreds of KiB).
smallest_pack() {
  for p in $2; do echo "$(stat -c %s "$(pack_path "$1" "$p")") $p"; done | sort -n | head -n1 | cut -d' ' -f2
}
largest_pack() {
  for p in $2; do echo "$(stat -c %s "$(pack_path "$1" "$p")") $p"; done | sort -rn | head -n1 | cut -d' ' -f2
}
truncate_half() {
  chmod u+w "$1"
  truncate -s $(($(stat -c %s "$1") / 2)) "$1"
}

SRC=$TEST_DIR/src
mkdir -p "$SRC/sub"
printf 'alpha\n' >"$SRC/a.txt"
random_file "$SRC/sub/b.bin" 300000
random_file "$SRC/c.bin" 200000
printf 'second password\n' >"$TEST_DIR/p2.txt"

step "a repository with two keys and two snapshots"
expect_exit 0 kho init
expect_exit 0 kho key add --new-password-file "$TEST_DIR/p2.txt"
expect_exit 0 kho backup "$SRC"
S1=$(snapshot_ids)
PACKS1=$(object_ids "$REPO" data)
INDEX1=$(object_ids "$REPO" index)
random_file "$SRC/d.bin" 250000
expect_exit 0 kho backup "$SRC"
S2=$(new_objects "$S1" "$(object_ids "$REPO" snapshots)")
PACKS2=$(new_objects "$PACKS1" "$(object_ids "$REPO" data)")
INDEX2=$(new_objects "$INDEX1" "$(object_ids "$REPO" index)")
DATA1=$(largest_pack "$REPO" "$PACKS1")
DATA2=$(largest_pack "$REPO" "$PACKS2")
TREE2=$(smallest_pack "$REPO" "$PACKS2")
# KEY1 opens with the test's password, KEY2 with the second one.
KEY1=$(kho key list --json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["current"]][0])')
KEY2=$(object_ids "$REPO" keys | grep -v "$KEY1")
for v in S1 S2 DATA1 DATA2 TREE2 INDEX1 INDEX2 KEY1 KEY2; do
  [[ -n ${!v} && $(wc -l <<<"${!v}") == 1 ]] || fail "expected one object for $v, got '${!v}'"
done
[[ $DATA2 != "$TREE2" ]] || fail "the second backup should write a data pack and a tree pack"
expect_exit 0 kho check --read-data
PRISTINE=$TEST_DIR/pristine
cp -a "$REPO" "$PRISTINE"

# --- swapped objects ---

step "swapped packs: pack $DATA1's bytes under the name of pack $DATA2"
fresh_copy swap-pack
cp "$(pack_path "$R" "$DATA1")" "$(pack_path "$R" "$DATA2")"
expect_exit 4 kho check --read-data
assert_output_contains "$DATA2"
assert_output_contains "does not match its name"
expect_failure kho restore latest --target "$TEST_DIR/t-swap-pack"
assert_output_contains "$DATA2"
assert_output_contains "d.bin"
cmp "$SRC/a.txt" "$TEST_DIR/t-swap-pack$SRC/a.txt"
[[ ! -e $TEST_DIR/t-swap-pack$SRC/d.bin ]] || fail "d.bin, whose pack was swapped, was left in the target"

step "swapped index files: index $INDEX1's bytes under the name of index $INDEX2"
fresh_copy swap-index
cp "$R/index/$INDEX1" "$R/index/$INDEX2"
expect_exit 4 kho check
assert_output_contains "index/$INDEX2"
expect_exit 1 kho restore latest --target "$TEST_DIR/t-swap-index"
assert_output_contains "index/$INDEX2"
expect_exit 1 kho ls latest
assert_output_contains "index/$INDEX2"

step "swapped snapshots: snapshot $S1's bytes under the name of snapshot $S2"
fresh_copy swap-snapshot
cp "$R/snapshots/$S1" "$R/snapshots/$S2"
expect_exit 4 kho check
assert_output_contains "snapshots/$S2"
expect_exit 1 kho ls "$S2"
assert_output_contains "snapshots/$S2"
expect_exit 1 kho restore "$S2" --target "$TEST_DIR/t-swap-snap"
assert_output_contains "snapshots/$S2"
expect_exit 1 kho diff "$S1" "$S2"
assert_output_contains "snapshots/$S2"
expect_exit 0 kho snapshots
assert_output_contains "snapshots/$S2"

step "swapped key files: each still opens with its password, check names both"
fresh_copy swap-keys
cp "$R/keys/$KEY1" "$TEST_DIR/key1"
cp "$R/keys/$KEY2" "$R/keys/$KEY1"
cp "$TEST_DIR/key1" "$R/keys/$KEY2"
expect_exit 4 kho check
assert_output_contains "keys/$KEY1"
assert_output_contains "keys/$KEY2"

# --- truncated objects ---

step "a truncated data pack"
fresh_copy trunc-pack
truncate_half "$(pack_path "$R" "$DATA2")"
expect_exit 4 kho check
assert_output_contains "$DATA2"
assert_output_contains "index/$INDEX2"
expect_exit 4 kho check --read-data
assert_output_contains "$DATA2"
expect_failure kho restore latest --target "$TEST_DIR/t-trunc-pack"
assert_output_contains "$DATA2"
assert_output_contains "d.bin"
printf '%s\n' "$KHO_PASSWORD" >"$TEST_DIR/p1.txt"
expect_exit 0 kho -r "$TEST_DIR/copy-dest" init
expect_failure kho -r "$TEST_DIR/copy-dest" copy --from-repo "$R" --from-password-file "$TEST_DIR/p1.txt" latest
assert_output_contains "$DATA2"

step "a truncated tree pack"
fresh_copy trunc-tree
truncate_half "$(pack_path "$R" "$TREE2")"
expect_exit 4 kho check
assert_output_contains "$TREE2"
expect_exit 1 kho ls latest
assert_output_contains "$TREE2"
expect_exit 1 kho diff "$S1" "$S2"
assert_output_contains "$TREE2"
expect_exit 1 kho prune
assert_output_contains "$TREE2"

step "a truncated index file"
fresh_copy trunc-index
truncate_half "$R/index/$INDEX2"
expect_exit 4 kho check
assert_output_contains "index/$INDEX2"
expect_exit 1 kho restore latest --target "$TEST_DIR/t-trunc-index"
assert_output_contains "index/$INDEX2"

step "a truncated snapshot"
fresh_copy trunc-snapshot
truncate_half "$R/snapshots/$S2"
expect_exit 4 kho check
assert_output_contains "snapshots/$S2"
expect_exit 1 kho restore "$S2" --target "$TEST_DIR/t-trunc-snap"
assert_output_contains "snapshots/$S2"
expect_exit 1 kho prune
assert_output_contains "snapshots/$S2"

step "a truncated config"
fresh_copy trunc-config
truncate_half "$R/config"
for cmd in check snapshots "ls latest"; do
  # shellcheck disable=SC2086
  expect_exit 1 kho $cmd
  assert_output_contains "config"
done
truncate -s 10 "$R/config"
expect_exit 1 kho snapshots
assert_output_contains "config"

step "a truncated key file: the other key still opens, check names the damaged one"
fresh_copy trunc-key
truncate_half "$R/keys/$KEY2"
expect_exit 4 kho check
assert_output_contains "keys/$KEY2"
# The second password's key is damaged: the password may be right, so say so.
expect_exit 12 env -u KHO_PASSWORD KHO_PASSWORD_FILE="$TEST_DIR/p2.txt" "$KHO" snapshots
assert_output_contains "keys/$KEY2"
assert_output_contains "damaged"
truncate_half "$R/keys/$KEY1"
expect_exit 12 kho snapshots
assert_output_contains "damaged"

# --- deleted objects ---

step "a deleted data pack"
fresh_copy del-pack
rm "$(pack_path "$R" "$DATA2")"
expect_exit 4 kho check
assert_output_contains "pack $DATA2"
assert_output_contains "is missing"
assert_output_contains "d.bin"
expect_failure kho restore latest --target "$TEST_DIR/t-del-pack"
assert_output_contains "d.bin"
expect_exit 1 kho prune
assert_output_contains "$DATA2"

step "a deleted index file"
fresh_copy del-index
rm "$R/index/$INDEX2"
expect_exit 4 kho check
assert_output_contains "missing from the index"
assert_output_contains "not in any index"
expect_exit 1 kho restore latest --target "$TEST_DIR/t-del-index"
assert_output_contains "is not in the index"

step "a deleted tree pack (the newest snapshot's trees)"
fresh_copy del-tree
rm "$(pack_path "$R" "$TREE2")"
expect_exit 4 kho check
assert_output_contains "$TREE2"
expect_exit 1 kho ls latest
assert_output_contains "$TREE2"
expect_exit 1 kho restore latest --target "$TEST_DIR/t-del-tree"
assert_output_contains "$TREE2"
expect_exit 1 kho diff "$S1" "$S2"
assert_output_contains "$TREE2"
expect_exit 0 kho ls "$S1"

# --- planted objects ---

step "a huge file planted under a valid snapshot name is refused without being read"
fresh_copy huge-snapshot
HUGE=$TEST_DIR/huge
truncate -s $((1100 * 1024 * 1024)) "$HUGE"
HUGE_ID=$(python3 - "$HUGE" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
block = bytes(8 << 20)
size = __import__("os").path.getsize(sys.argv[1])
for _ in range(size // len(block)):
    h.update(block)
print(h.hexdigest())
EOF
)
mv "$HUGE" "$R/snapshots/$HUGE_ID"
# The message shows it was refused by its listed size, before any read. The
# address-space limit (not under the sanitizers, which reserve much of it) keeps
# a regression from taking the machine's memory.
if [[ ${KHO_SANITIZED:-0} == 1 ]]; then
  expect_exit 4 kho check
else
  # shellcheck disable=SC2016 # $KHO expands in the inner shell
  expect_exit 4 bash -c 'ulimit -v 1500000; exec timeout 120 "$KHO" check'
fi
assert_output_contains "snapshots/$HUGE_ID"
assert_output_contains "larger than any valid"
rm "$R/snapshots/$HUGE_ID"

# --- replayed objects ---

step "replays: an old index and a forgotten snapshot put back after prune"
fresh_copy replay
cp -a "$R" "$TEST_DIR/replay-before"
OLD=$TEST_DIR/replay-before
rm "$SRC/c.bin"
random_file "$SRC/e.bin" 150000
expect_exit 0 kho backup "$SRC"
expect_exit 0 kho forget "$S1" --prune --max-unused 0%
expect_exit 0 kho forget "$S2" --prune --max-unused 0%
expect_exit 0 kho check --read-data
REPLAYED=$TEST_DIR/replayed
cp -a "$R" "$REPLAYED"
export KHO_REPOSITORY=$REPLAYED
cp "$OLD/index/$INDEX1" "$OLD/index/$INDEX2" "$REPLAYED/index/"
# The old index files name packs that prune deleted: check says so, and names
# the stale index files so they can be removed; the live data stays usable.
expect_exit 4 kho check
assert_output_contains "is missing"
assert_output_contains "index/$INDEX1"
restore_and_compare latest "$SRC"
# prune drops the stale entries (no snapshot needs them).
expect_exit 0 kho prune
expect_exit 0 kho check --read-data
restore_and_compare latest "$SRC"

# A forgotten snapshot put back is validly sealed: without state outside the
# repository it cannot be told from a real one. Its data is gone, though, and
# check and restore say exactly what is missing; prune refuses to run.
cp "$OLD/snapshots/$S1" "$REPLAYED/snapshots/"
expect_exit 4 kho check
assert_output_contains "snapshot ${S1:0:8}"
expect_failure kho restore "$S1" --target "$TEST_DIR/t-replay"
expect_exit 1 kho prune
assert_output_contains "not in the index"
export KHO_REPOSITORY=$REPO

step "the pristine copy is still sound"
expect_exit 0 kho -r "$PRISTINE" check --read-data
