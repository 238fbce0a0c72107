#!/usr/bin/env bash
# Round trip, exactly: a tree with every kind of entry kho must keep is backed
# up and restored, and the copy is compared with the original by rsync and find
# (not by kho). Also: restore --verify, restore of a subtree, --include/--exclude.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$TEST_DIR/src
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
MiB=$((1024 * 1024))

step "building the source tree in $SRC"
mkdir -p "$SRC"
cd "$SRC"

# Small files.
: >empty.txt
printf 'x' >one_byte.txt
printf 'plain text\n' >plain.txt

# Sizes around the chunker's limits (min 512 KiB, avg 1 MiB, max 8 MiB).
mkdir sizes
for n in $((512 * 1024 - 1)) $((512 * 1024)) $((512 * 1024 + 1)) \
  $((MiB - 1)) $((MiB)) $((MiB + 1)) $((2 * MiB + 3)) \
  $((8 * MiB - 1)) $((8 * MiB)) $((8 * MiB + 1)) $((16 * MiB + 1)); do
  random_file "sizes/random_$n.bin" "$n"
done
# Zeros never match a content-defined cut: chunks end at the 8 MiB maximum,
# leaving a 1-byte tail.
head -c $((8 * MiB + 1)) /dev/zero >sizes/zeros_8MiB_plus_1.bin

# One 100 MB file.
random_file big.bin 100000000

# A 50 MB sparse file with a few bytes in the middle.
truncate -s 50M sparse.img
printf 'kho was here' | dd of=sparse.img bs=1 seek=$((25 * MiB)) conv=notrunc status=none
# A 40 MB disk image: data at the start, across a 4 MiB boundary and as its last
# bytes, holes between (the backup does not read holes: they come back as zeros).
truncate -s 40M disk.img
head -c $((3 * MiB)) /dev/urandom | dd of=disk.img conv=notrunc status=none
head -c 70000 /dev/urandom | dd of=disk.img bs=1 seek=$((16 * MiB - 30000)) conv=notrunc status=none
printf 'the end' | dd of=disk.img bs=1 seek=$((40 * MiB - 7)) conv=notrunc status=none

# 300 levels of directories, past the 256 the backup holds open (below that
# depth it looks entries up and opens files by path), with files on the way down.
d=deep
for i in $(seq -w 1 300); do
  d=$d/level$i
  if ((10#$i % 50 == 0)); then mkdir -p "$d" && printf 'level %s\n' "$i" >"$d/at_$i.txt"; fi
done
mkdir -p "$d"
printf 'at the bottom\n' >"$d/leaf.txt"

# Names: spaces, a newline, Vietnamese diacritics, odd characters, a 255-byte
# name, and a name that is not valid UTF-8 (Latin-1 bytes).
mkdir names
printf 'space\n' >"names/with space.txt"
printf 'newline\n' >"names/new"$'\n'"line.txt"
printf 'Chúc mừng năm mới\n' >"names/Tết Nguyên Đán.txt"
mkdir "names/hồ sơ"
printf 'báo cáo\n' >"names/hồ sơ/báo cáo năm 2025.txt"
printf 'dash\n' >"names/-leading dash.txt"
printf 'quotes\n' >"names/quote\"s 'and' \\back\\slash * ? [x].txt"
printf 'long\n' >"names/$(printf 'n%.0s' $(seq 1 251)).txt"
printf 'latin1\n' >"names/latin1-"$'\xe9t\xe9'".txt"

# Symlinks: dangling, to a directory, absolute (must never be followed).
mkdir links
ln -s does/not/exist links/dangling
ln -s "../names/hồ sơ" links/to_dir
ln -s /etc/hostname links/absolute

# Three names for one inode.
mkdir -p hard/inner
printf 'shared content\n' >hard/a.txt
ln hard/a.txt hard/b.txt
ln hard/a.txt hard/inner/c.txt

# A fifo.
mkdir special
mkfifo special/fifo

# Modes and owners (owners need root; chown first: it clears setuid).
mkdir modes
printf '#!/bin/sh\n' >modes/setuid
printf '#!/bin/sh\n' >modes/exec
printf 'read only\n' >modes/readonly.txt
: >modes/empty_setuid  # an empty file's metadata is set as it is created, not after writes
mkdir modes/private_dir modes/sticky_dir modes/setgid_dir
printf 'private\n' >modes/private_dir/inside.txt
if ((IS_ROOT)); then
  printf 'nobody can read me but root\n' >modes/none
  printf 'owned\n' >modes/owned_by_uid_1234
  chown 1234:5678 modes/owned_by_uid_1234 modes/setgid_dir
  chown -h 4321:4321 links/dangling
  chown 1234:5678 modes/setuid modes/empty_setuid
  chmod 0000 modes/none
fi
chmod 4755 modes/setuid
chmod 4710 modes/empty_setuid
chmod 0755 modes/exec
chmod 0444 modes/readonly.txt
chmod 0700 modes/private_dir
chmod 1777 modes/sticky_dir
chmod 2755 modes/setgid_dir

# Empty directories.
mkdir -p empty_dir empty_parent/empty_child

# An extended attribute, where the filesystem has them.
HAVE_XATTR=0
printf 'xattr\n' >xattr.txt
: >xattr_empty.txt
if setfattr -n user.kho -v 'giá trị' xattr.txt 2>/dev/null; then
  HAVE_XATTR=1
  setfattr -n user.kho -v 'rỗng' xattr_empty.txt
  setfattr -n user.kho.dir -v dir-value names
else
  echo "note: no user xattrs on this filesystem; xattr checks skipped"
fi
# An access ACL (an xattr that sets the mode's group bits to its mask).
printf 'acl\n' >acl.txt
chmod 0640 acl.txt
setfacl -m u:1234:rw,m::rw acl.txt || fail "cannot set an ACL on $SRC/acl.txt"

# Nanosecond mtimes on everything (directories last, deepest first), then a few
# distinct ones.
find "$SRC" -depth -exec touch -h -d '2024-01-02 03:04:05.123456789' {} +
touch -h -d '1999-12-31 23:59:59.999999999' one_byte.txt
touch -h -d '2010-05-05 05:05:05.5' links/dangling
touch -h -d '2030-06-01 12:00:00.000000001' deep/level001
cd "$TEST_DIR"

SRC_SPARSE_ALLOC=$(allocated_bytes "$SRC/sparse.img")
SPARSE_OK=1
if ((SRC_SPARSE_ALLOC > 4 * MiB)); then
  SPARSE_OK=0
  echo "note: this filesystem does not keep holes ($SRC_SPARSE_ALLOC bytes allocated); sparse check skipped"
fi

step "init and backup"
expect_exit 0 kho init
expect_exit 0 kho backup "$SRC" --json
SUMMARY=$(json_last_line "$OUT_FILE")
for key in snapshot_id files_new files_changed files_unmodified dirs total_bytes data_added duration_s; do
  json_get "$SUMMARY" "$key" >/dev/null || fail "backup --json has no '$key': $SUMMARY"
done
SNAP=$(json_get "$SUMMARY" snapshot_id)
[[ $SNAP =~ ^[0-9a-f]{64}$ ]] || fail "snapshot_id is not 64 hex characters: $SNAP"
SRC_BYTES=$(find "$SRC" -type f -links 1 -printf '%s\n' | awk '{s += $1} END {print s}')
TOTAL=$(json_get "$SUMMARY" total_bytes)
# Hardlinked files may or may not be counted once per name; everything else must be.
((TOTAL >= SRC_BYTES)) || fail "backup total_bytes $TOTAL < $SRC_BYTES bytes in the source"

step "restore everything and compare with rsync/find"
R1=$TEST_DIR/restore-all
expect_exit 0 kho restore latest --target "$R1"
[[ -d $R1$SRC ]] || fail "restore did not recreate the absolute path $SRC under $R1"
assert_trees_equal "$SRC" "$R1$SRC"
# kho's own comparison agrees, on every kind of entry, and so does the source.
expect_exit 0 kho compare latest "$R1"
assert_output_contains ", 0 differ, 0 missing, 0 extra"
expect_exit 0 kho compare "latest:$SRC" "$SRC"

step "sparse file keeps its holes"
cmp "$SRC/sparse.img" "$R1$SRC/sparse.img"
cmp "$SRC/disk.img" "$R1$SRC/disk.img"
if ((SPARSE_OK)); then
  # The few written bytes may sit in one chunk of up to 8 MiB that is written
  # whole; the rest of the 50 MB must stay holes.
  assert_sparse "$R1$SRC/sparse.img" $((9 * MiB))
fi

step "with few descriptors to spare, files are reopened for their writes, to the same tree"
# The restorer keeps created files open for their writes, up to half of a limit
# this small; past it, files are closed and reopened (and sized) when written.
FILES=$(find "$SRC" -type f -links 1 | wc -l)
((FILES > 20)) || fail "the source has only $FILES files: too few to pass the limit below"
R3=$TEST_DIR/restore-few-fds
(ulimit -n 32 && expect_exit 0 kho restore latest --target "$R3")
assert_trees_equal "$SRC" "$R3$SRC"
cmp "$SRC/sparse.img" "$R3$SRC/sparse.img"
if ((SPARSE_OK)); then assert_sparse "$R3$SRC/sparse.img" $((9 * MiB)); fi
rm -rf "$R3"

step "into a set-group-ID target, under a default ACL and under umask 077, to the same tree"
# A file that gets its owner and mode from the restore anyway is created with
# them, with nothing set after; in these targets a new file gets another group
# (a set-group-ID directory's, passed down to the directories made below it) or
# another mode (from a default ACL, or through the umask).
R4=$TEST_DIR/restore-setgid
mkdir "$R4"
if ((IS_ROOT)); then chgrp 4242 "$R4"; fi
chmod 2775 "$R4"
expect_exit 0 kho restore latest --target "$R4"
assert_trees_equal "$SRC" "$R4$SRC"
rm -rf "$R4"
R4=$TEST_DIR/restore-default-acl
mkdir "$R4"
setfacl -d -m u::rwx,g::---,o::--- "$R4" || fail "cannot set a default ACL on $R4"
expect_exit 0 kho restore latest --target "$R4"
assert_trees_equal "$SRC" "$R4$SRC"
rm -rf "$R4"
R4=$TEST_DIR/restore-umask
(umask 077 && expect_exit 0 kho restore latest --target "$R4")
assert_trees_equal "$SRC" "$R4$SRC"
rm -rf "$R4"

step "hardlinks restored as one inode with three names"
read -r ino_a nl_a < <(stat -c '%i %h' "$R1$SRC/hard/a.txt")
read -r ino_b nl_b < <(stat -c '%i %h' "$R1$SRC/hard/b.txt")
read -r ino_c nl_c < <(stat -c '%i %h' "$R1$SRC/hard/inner/c.txt")
[[ $ino_a == "$ino_b" && $ino_a == "$ino_c" ]] || fail "hardlinks restored as separate files ($ino_a $ino_b $ino_c)"
[[ $nl_a == 3 && $nl_b == 3 && $nl_c == 3 ]] || fail "link counts are $nl_a $nl_b $nl_c, want 3"
[[ $(stat -c %h "$SRC/hard/a.txt") == "$nl_a" ]] || fail "link count differs from the source"

step "symlinks, fifo, modes"
[[ -L $R1$SRC/links/dangling && ! -e $R1$SRC/links/dangling ]] || fail "dangling symlink not restored as such"
[[ $(readlink "$R1$SRC/links/absolute") == /etc/hostname ]] || fail "absolute symlink target changed"
[[ -p $R1$SRC/special/fifo ]] || fail "fifo not restored as a fifo"
[[ $(stat -c %a "$R1$SRC/modes/setuid") == 4755 ]] || fail "setuid bit lost"
[[ $(stat -c %a "$R1$SRC/modes/empty_setuid") == 4710 ]] || fail "an empty file's setuid bit lost"
if ((IS_ROOT)); then
  [[ $(stat -c %u:%g "$R1$SRC/modes/empty_setuid") == 1234:5678 ]] || fail "an empty file's owner not restored"
  [[ $(stat -c %a "$R1$SRC/modes/none") == 0 ]] || fail "mode 0000 not restored"
  [[ $(stat -c %u:%g "$R1$SRC/modes/owned_by_uid_1234") == 1234:5678 ]] || fail "owner not restored"
fi
[[ $(getfacl -n "$R1$SRC/acl.txt" | tail -n +2) == "$(getfacl -n "$SRC/acl.txt" | tail -n +2)" ]] ||
  fail "an ACL not restored as it was"
[[ $(stat -c %a "$R1$SRC/acl.txt") == 660 ]] || fail "the mode of a file with an ACL not restored"
if ((HAVE_XATTR)); then
  [[ $(getfattr --absolute-names --only-values -n user.kho "$R1$SRC/xattr.txt") == 'giá trị' ]] || fail "xattr not restored"
  [[ $(getfattr --absolute-names --only-values -n user.kho "$R1$SRC/xattr_empty.txt") == 'rỗng' ]] ||
    fail "an empty file's xattr not restored"
fi

step "restore --verify (by full ID) succeeds"
R2=$TEST_DIR/restore-verify
expect_exit 0 kho restore "$SNAP" --target "$R2" --verify
cmp "$SRC/big.bin" "$R2$SRC/big.bin"
rm -rf "$R2"

step "restore of a subtree only (SNAPSHOT:SUBPATH, by ID prefix)"
# As in restic, the subtree's contents land directly in the target.
R3=$TEST_DIR/restore-sub
expect_exit 0 kho restore "${SNAP:0:12}:$SRC/names" --target "$R3"
assert_trees_equal "$SRC/names" "$R3" --no-root
[[ ! -e $R3$SRC && ! -e $R3/big.bin ]] || fail "restore of a subtree restored more than the subtree"

step "restore --include '*.txt'"
R4=$TEST_DIR/restore-include
expect_exit 0 kho restore latest --target "$R4" --include '*.txt'
expect_exit 0 kho compare latest "$R4" --include '*.txt'
python3 - "$SRC" "$R4$SRC" <<'EOF'
import filecmp, fnmatch, os, sys
src, dst = sys.argv[1], sys.argv[2]
def entries(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.add(os.path.relpath(os.path.join(d, name), root))
    return out
want = {p for p in entries(src) if fnmatch.fnmatchcase(os.path.basename(p), "*.txt")}
got = entries(dst) if os.path.isdir(dst) else set()
if got != want:
    sys.exit("include '*.txt': missing %r, unexpected %r" % (sorted(want - got)[:10], sorted(got - want)[:10]))
for p in want:
    if not filecmp.cmp(os.path.join(src, p), os.path.join(dst, p), shallow=False):
        sys.exit("include '*.txt': content differs: %r" % p)
EOF

step "restore --exclude '*.bin'"
R5=$TEST_DIR/restore-exclude
expect_exit 0 kho restore latest --target "$R5" --exclude '*.bin'
expect_exit 0 kho compare latest "$R5" --exclude '*.bin'
assert_output_contains ", 0 differ, 0 missing, 0 extra"
[[ -z $(find "$R5" -name '*.bin') ]] || fail "excluded *.bin files were restored"
diffs=$(rsync -rlptgoDHXn -c --delete --exclude='*.bin' --itemize-changes "$SRC/" "$R5$SRC/")
[[ -z $diffs ]] || fail "restore with --exclude differs from the source:"$'\n'"$diffs"

step "a second backup takes what did not change from its parent and sees what did"
# Unchanged entries (same inode and change time) keep the parent's xattrs and
# symlink targets without asking the filesystem again; an xattr set or removed
# changes the change time (not the mtime), and a replaced symlink is a new inode.
old_mtime=$(stat -c %y "$SRC/xattr.txt")
if ((HAVE_XATTR)); then
  setfattr -n user.kho -v 'đã đổi' "$SRC/xattr.txt"
  setfattr -n user.kho.added -v 'mới' "$SRC/one_byte.txt"
fi
ln -sfn /etc/os-release "$SRC/links/absolute"
[[ $(stat -c %y "$SRC/xattr.txt") == "$old_mtime" ]] || fail "setting an xattr changed the mtime"
expect_exit 0 kho backup "$SRC" --json
SUMMARY=$(json_last_line "$OUT_FILE")
[[ $(json_get "$SUMMARY" files_new) == 0 ]] || fail "second backup saw new files: $SUMMARY"
R6=$TEST_DIR/restore-second
expect_exit 0 kho restore latest --target "$R6"
assert_trees_equal "$SRC" "$R6$SRC"
[[ $(readlink "$R6$SRC/links/absolute") == /etc/os-release ]] || fail "the replaced symlink's new target was not backed up"
if ((HAVE_XATTR)); then
  [[ $(getfattr --absolute-names --only-values -n user.kho "$R6$SRC/xattr.txt") == 'đã đổi' ]] ||
    fail "an xattr changed between backups was not picked up"
  [[ $(getfattr --absolute-names --only-values -n user.kho.added "$R6$SRC/one_byte.txt") == 'mới' ]] ||
    fail "an xattr added between backups was not picked up"
  [[ $(getfattr --absolute-names --only-values -n user.kho.dir "$R6$SRC/names") == dir-value ]] ||
    fail "an unchanged directory's xattr was not carried over from the parent"
fi

step "small files are read in batches: a batch fills, and is sent before the walk waits"
# Files up to 64 KiB are read several to a task; here 300 of random sizes
# around that limit, then a directory holding one small file followed by 4200
# empty ones: the walk queues at most 4096 directories for the tree writer,
# which waits for that first file, so the walk must send its unfilled batch
# before it waits for room (else both wait for ever: the timeout fails it).
W=$TEST_DIR/batches
mkdir -p "$W/many" "$W/wide/a"
for i in $(seq -w 1 300); do random_file "$W/many/f$i" $(((10#$i * 241) % (70 * 1024))); done
printf 'first\n' >"$W/wide/a/file.txt"
(cd "$W/wide" && mkdir b{0000..4199})
KHO_E2E_TIMEOUT=120 expect_exit 0 kho backup "$W" --json
SUMMARY=$(json_last_line "$OUT_FILE")
[[ $(json_get "$SUMMARY" files_new) == 301 ]] || fail "expected 301 new files: $SUMMARY"
R7=$TEST_DIR/restore-batches
expect_exit 0 kho restore latest --target "$R7"
assert_trees_equal "$W" "$R7$W"

step "a file whose size reads 0 and whose content comes in short reads (/proc/kallsyms) is stored whole"
# A read that comes short ends the file only where fstat put its end.
expect_exit 0 kho backup /proc/kallsyms
R8=$TEST_DIR/restore-proc
expect_exit 0 kho restore latest --target "$R8"
cat /proc/kallsyms >"$TEST_DIR/kallsyms"
(($(stat -c %s "$TEST_DIR/kallsyms") > 65536)) || fail "/proc/kallsyms is too small to test with"
cmp "$TEST_DIR/kallsyms" "$R8/proc/kallsyms" || fail "/proc/kallsyms was not stored whole"
