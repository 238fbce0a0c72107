#!/usr/bin/env bash
# Full file systems. (a) A repository on a small tmpfs: a backup bigger than
# the space left fails (exit 1) saying there is no space and naming the
# repository; the repository still passes check, earlier snapshots restore,
# and once there is space again a backup works. (b) A restore into a small
# tmpfs fails (exit 1) naming the files, and leaves no file that looks complete
# but is not: every file left is identical to its source.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v mount >/dev/null || fail "mount is needed"
MOUNTS=()
unmount_all() {
  local m
  for m in ${MOUNTS[@]+"${MOUNTS[@]}"}; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
trap 'rc=$?; unmount_all; _e2e_on_exit $rc' EXIT

# small_fs DIR SIZE: mounts a tmpfs of SIZE on DIR (made if needed).
small_fs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0700" kho-e2e-full "$1" || fail "cannot mount a tmpfs on $1 (the test runs as root)"
  MOUNTS+=("$1")
}

SMALL=$TEST_DIR/small
REPO=$SMALL/repo
export KHO_REPOSITORY=$REPO
SRC=$TEST_DIR/src
mkdir -p "$SRC/a" "$SRC/b"
random_file "$SRC/a/one.bin" 1000000
for i in $(seq 1 10); do printf 'note %d\n' "$i" >"$SRC/a/n$i.txt"; done

step "(a) a repository on an 8 MiB tmpfs"
small_fs "$SMALL" 8m
expect_exit 0 kho init --chunk-min 65536 --chunk-avg 262144 --chunk-max 1048576
expect_exit 0 kho backup "$SRC" --time "2026-03-01 10:00:00"
first=$(snapshot_ids)

step "a backup bigger than the free space fails, saying so"
random_file "$SRC/b/big1.bin" 6000000
random_file "$SRC/b/big2.bin" 6000000
expect_exit 1 kho backup "$SRC" --time "2026-03-02 10:00:00"
assert_output_contains "No space left on device"
assert_output_contains "$REPO"
assert_output_contains_i "free"
[[ $(snapshot_count) == 1 ]] || fail "the failed backup left a snapshot"
if find "$REPO" -name '*.tmp-*' | grep -q .; then fail "temporary files left in the repository"; fi
assert_no_locks "after the failed backup"

step "the repository passes check and the earlier snapshot restores"
expect_exit 0 kho check --read-data
target=$TEST_DIR/restore-a
expect_exit 0 kho restore "$first" --target "$target"
assert_trees_equal "$SRC/a" "$target$SRC/a"
[[ ! -e $target$SRC/b/big1.bin && ! -e $target$SRC/b/big2.bin ]] || fail "the first snapshot restored files it does not hold"
rm -rf "$target"

step "with more space, the backup works"
mount -o remount,size=40m "$SMALL"
expect_exit 0 kho prune
expect_exit 0 kho backup "$SRC" --time "2026-03-03 10:00:00"
restore_and_compare latest "$SRC"
expect_exit 0 kho check --read-data

step "(b) a restore into a 4 MiB tmpfs"
SMALL_TARGET=$TEST_DIR/small-target
small_fs "$SMALL_TARGET" 4m
expect_exit 1 kho restore latest --target "$SMALL_TARGET"
assert_output_contains "No space left on device"
assert_output_contains "not restored"
missing=0
while IFS= read -r -d '' f; do
  rel=${f#"$SRC"/}
  restored=$SMALL_TARGET$SRC/$rel
  if [[ ! -e $restored ]]; then
    missing=$((missing + 1))
    grep -qF "$rel" "$ERR_FILE" "$OUT_FILE" || fail "$rel was not restored and the output does not name it"
    continue
  fi
  cmp -s "$f" "$restored" || fail "$rel was left in the target but differs from the snapshot"
done < <(find "$SRC" -type f -print0)
((missing > 0)) || fail "every file was restored into a 4 MiB file system: the test data is too small"

step "after making room, the same restore completes"
mount -o remount,size=40m "$SMALL_TARGET"
expect_exit 0 kho restore latest --target "$SMALL_TARGET"
assert_trees_equal "$SRC" "$SMALL_TARGET$SRC"
