#!/usr/bin/env bash
# Integrity: one flipped byte in a pack, an index file or a snapshot file (each
# on its own copy of the repository) is found by `check --read-data` (exit 4,
# naming the object by its ID, which is its file name). Restoring a snapshot
# with a damaged pack fails loudly and names the damaged file, while files
# whose data lives in other packs still restore byte for byte.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SIZE=20000000

SRC=$TEST_DIR/src
mkdir -p "$SRC/docs"
random_file "$SRC/a.bin" $SIZE
printf 'small one\n' >"$SRC/docs/one.txt"
printf 'small two\n' >"$SRC/docs/two.txt"

step "two backups: a.bin first, then b.bin and c.bin in packs of their own"
expect_exit 0 kho init
expect_exit 0 kho backup "$SRC"
PACKS1=$(object_ids "$REPO" data)
random_file "$SRC/b.bin" $SIZE
random_file "$SRC/c.bin" $SIZE
expect_exit 0 kho backup "$SRC"
PACKS2=$(object_ids "$REPO" data)
NEW_PACKS=$(LC_ALL=C comm -13 <(echo "$PACKS1") <(echo "$PACKS2"))
(($(wc -l <<<"$PACKS2") >= 2)) || fail "expected at least 2 packs, got: $PACKS2"
[[ -n $NEW_PACKS ]] || fail "the second backup wrote no pack"
# The largest new pack holds data of b.bin and/or c.bin only.
VICTIM=$(for p in $NEW_PACKS; do echo "$(stat -c %s "$(pack_path "$REPO" "$p")") $p"; done | sort -rn | head -n1 | cut -d' ' -f2)
echo "packs: $(wc -l <<<"$PACKS2"), damaging pack $VICTIM ($(stat -c %s "$(pack_path "$REPO" "$VICTIM")") bytes)"

step "the undamaged repository passes check --read-data"
expect_exit 0 kho check --read-data

PRISTINE=$TEST_DIR/pristine
cp -a "$REPO" "$PRISTINE"

step "a flipped byte in a pack"
REPO_PACK=$TEST_DIR/repo-pack
cp -a "$PRISTINE" "$REPO_PACK"
flip_byte "$(pack_path "$REPO_PACK" "$VICTIM")"
expect_exit 4 kho -r "$REPO_PACK" check --read-data
assert_output_contains "$VICTIM"

step "restore with a damaged pack: fails loudly, unaffected files intact"
R=$TEST_DIR/restore-pack
expect_failure kho -r "$REPO_PACK" restore latest --target "$R"
echo "restore exit code: $LAST_RC"
for f in a.bin docs/one.txt docs/two.txt; do
  cmp "$SRC/$f" "$R$SRC/$f" || fail "$f, whose data is in undamaged packs, was not restored intact"
done
named=0
for f in b.bin c.bin; do
  if grep -qF "$f" "$OUT_FILE" "$ERR_FILE"; then
    named=$((named + 1))
    echo "restore names damaged file $f"
  elif ! cmp -s "$SRC/$f" "$R$SRC/$f"; then
    fail "$f was not restored intact, yet the restore output does not name it"
  fi
done
((named >= 1)) || fail "restore failed but named neither b.bin nor c.bin"

step "restoring only undamaged files succeeds"
R2=$TEST_DIR/restore-pack-partial
expect_exit 0 kho -r "$REPO_PACK" restore latest --target "$R2" --include '*.txt'
cmp "$SRC/docs/one.txt" "$R2$SRC/docs/one.txt"
rm -rf "$REPO_PACK" "$R" "$R2"

step "a flipped byte in an index file"
REPO_INDEX=$TEST_DIR/repo-index
cp -a "$PRISTINE" "$REPO_INDEX"
INDEX_ID=$(object_ids "$REPO_INDEX" index | head -n1)
[[ -n $INDEX_ID ]] || fail "no index file in the repository"
flip_byte "$REPO_INDEX/index/$INDEX_ID"
expect_exit 4 kho -r "$REPO_INDEX" check --read-data
assert_output_contains "$INDEX_ID"
rm -rf "$REPO_INDEX"

step "a flipped byte in a snapshot file"
REPO_SNAP=$TEST_DIR/repo-snapshot
cp -a "$PRISTINE" "$REPO_SNAP"
SNAP_ID=$(object_ids "$REPO_SNAP" snapshots | head -n1)
[[ -n $SNAP_ID ]] || fail "no snapshot file in the repository"
flip_byte "$REPO_SNAP/snapshots/$SNAP_ID"
expect_exit 4 kho -r "$REPO_SNAP" check --read-data
assert_output_contains "$SNAP_ID"
rm -rf "$REPO_SNAP"

step "the pristine copy is still sound"
expect_exit 0 kho -r "$PRISTINE" check --read-data
