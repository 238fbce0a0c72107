#!/usr/bin/env bash
# Deduplication: two copies of a file in one backup are stored once; backing up
# unchanged data again adds under 1 % of its size (with and without a parent
# snapshot); a 1-byte insertion near the start of a 20 MB file stores about one
# chunk more, not the whole file.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MiB=$((1024 * 1024))
SIZE=20000000  # 20 MB of random data: does not compress

# backup_json ARGS...: runs `kho backup ARGS --json`, prints its summary object.
backup_json() {
  expect_exit 0 kho backup "$@" --json
  json_last_line "$OUT_FILE"
}

expect_exit 0 kho init

step "two identical 20 MB files in one backup are stored once"
SRC=$TEST_DIR/src
mkdir -p "$SRC"
random_file "$SRC/original.bin" $SIZE
cp "$SRC/original.bin" "$SRC/copy.bin"
before=$(tree_bytes "$REPO")
S1=$(backup_json "$SRC")
after=$(tree_bytes "$REPO")
grown=$((after - before))
added=$(json_get "$S1" data_added)
echo "repository grew by $grown bytes; data_added=$added; files: $SIZE bytes x 2"
((grown >= SIZE)) || fail "the repository grew by $grown bytes, less than the $SIZE bytes of random data"
((grown < SIZE * 5 / 4)) || fail "the repository grew by $grown bytes for two copies of $SIZE bytes: the copy was stored again"
((added < SIZE * 5 / 4)) || fail "data_added is $added for two copies of $SIZE bytes: the copy was stored again"
[[ $(json_get "$S1" files_new) == 2 ]] || fail "files_new should be 2: $S1"
[[ $(json_get "$S1" total_bytes) == $((2 * SIZE)) ]] || fail "total_bytes should be $((2 * SIZE)): $S1"

step "backing up unchanged data again (parent snapshot) adds under 1 %"
before=$(tree_bytes "$REPO")
S2=$(backup_json "$SRC")
after=$(tree_bytes "$REPO")
added=$(json_get "$S2" data_added)
echo "data_added=$added; repository grew by $((after - before)) bytes"
((added * 100 < 2 * SIZE)) || fail "re-backup of unchanged data added $added bytes (>= 1 % of $((2 * SIZE)))"
(((after - before) * 100 < 2 * SIZE)) || fail "re-backup of unchanged data grew the repository by $((after - before)) bytes"
[[ $(json_get "$S2" files_unmodified) == 2 ]] || fail "files_unmodified should be 2: $S2"
[[ $(json_get "$S2" files_new) == 0 && $(json_get "$S2" files_changed) == 0 ]] || fail "no file is new or changed: $S2"
[[ $(json_get "$S2" total_bytes) == $((2 * SIZE)) ]] || fail "total_bytes counts reused bytes too, want $((2 * SIZE)): $S2"

step "backing up unchanged data again with no parent (other host) adds under 1 %"
S3=$(backup_json "$SRC" --host another-host)
added=$(json_get "$S3" data_added)
echo "data_added=$added"
((added * 100 < 2 * SIZE)) || fail "re-reading unchanged data added $added bytes (>= 1 % of $((2 * SIZE)))"

step "a 1-byte insertion near the start of a 20 MB file stores about one chunk"
SRC2=$TEST_DIR/src2
mkdir -p "$SRC2"
random_file "$TEST_DIR/orig.bin" $SIZE
cp "$TEST_DIR/orig.bin" "$SRC2/file.bin"
S4=$(backup_json "$SRC2")
added=$(json_get "$S4" data_added)
((added >= SIZE)) || fail "first backup of $SIZE random bytes added only $added bytes"
{
  head -c 1000 "$TEST_DIR/orig.bin"
  printf 'X'
  tail -c +1001 "$TEST_DIR/orig.bin"
} >"$SRC2/file.bin"
[[ $(stat -c %s "$SRC2/file.bin") == $((SIZE + 1)) ]] || fail "test bug: insertion did not add one byte"
S5=$(backup_json "$SRC2")
added=$(json_get "$S5" data_added)
echo "data_added after a 1-byte insertion: $added bytes"
[[ $(json_get "$S5" files_changed) == 1 ]] || fail "files_changed should be 1: $S5"
((added < 4 * MiB)) || fail "a 1-byte insertion added $added bytes (want < 4 MiB, about one 1 MiB chunk)"

step "the repository still checks out and the changed file restores"
expect_exit 0 kho check
R=$TEST_DIR/restore
expect_exit 0 kho restore latest --target "$R"
cmp "$SRC2/file.bin" "$R$SRC2/file.bin"
