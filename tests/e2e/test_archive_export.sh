#!/usr/bin/env bash
# kho export: a snapshot written as pax/tar/zip/cpio/7zip (plain and gzip/zstd/xz)
# is extracted by GNU tar, bsdtar, unzip and cpio, and the result is compared
# with the original tree by a script that reads the files (not by kho): content,
# modes, owners, mtimes to the precision the format holds, symlinks, hardlinks,
# xattrs, sparse files. Then: subtrees and filters, errors, and the memory of
# exporting a 2 GB snapshot.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=archive/lib_archive.sh
source "$(dirname "$0")/archive/lib_archive.sh"

SRC=$TEST_DIR/src
step "building the source tree"
make_archive_tree "$SRC"
mkdir "$SRC/special"
mkfifo "$SRC/special/fifo"
touch -d "@1700000000.5" "$SRC/special/fifo" "$SRC/special"
touch -d "@1699999999.987654321" "$SRC"

expect_exit 0 kho init
expect_exit 0 kho backup "$SRC"
OWN=()
[[ $(id -u) -eq 0 ]] && OWN=(--owners)

fresh() {
  local d=$TEST_DIR/x.$1
  rm -rf "$d"
  mkdir -p "$d"
  echo "$d"
}

step "pax (default) to a file: GNU tar and bsdtar extract the same tree, to the nanosecond"
expect_exit 0 kho export latest -o "$TEST_DIR/a.pax"
assert_output_contains "exported snapshot"
x=$(fresh gnu-pax)
tar --xattrs --xattrs-include='*' -xpf "$TEST_DIR/a.pax" -C "$x"
compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --hardlinks --xattrs --mtime ns
# The 64 MiB sparse file is stored sparse: its all-zero blobs are not in the
# archive (one 8 MiB blob holds its data).
size=$(stat -c %s "$TEST_DIR/a.pax")
((size < 20 * 1024 * 1024)) || fail "the pax archive is $size bytes: the 64 MiB sparse file was not stored sparse"
x=$(fresh bsd-pax)
bsdtar -xpf "$TEST_DIR/a.pax" -C "$x"
compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --hardlinks --xattrs --mtime ns
# The archive is really a pax archive with hardlink entries.
tar -tvf "$TEST_DIR/a.pax" >"$TEST_DIR/a.pax.list" 2>/dev/null
grep -q "hard/b.txt link to" "$TEST_DIR/a.pax.list" || fail "b.txt is not a hardlink entry in the pax archive"

step "pax to stdout with each compression filter"
for c in gzip zstd xz; do
  kho export latest --compress "$c" >"$TEST_DIR/a.pax.$c" 2>"$TEST_DIR/err.$c" || fail "export --compress $c failed: $(cat "$TEST_DIR/err.$c")"
  case $c in gzip) flag=-z ;; zstd) flag=--zstd ;; xz) flag=-J ;; esac
  x=$(fresh "pax-$c")
  tar "$flag" --xattrs --xattrs-include='*' -xpf "$TEST_DIR/a.pax.$c" -C "$x"
  compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --hardlinks --mtime ns
  x=$(fresh "bsd-pax-$c")
  bsdtar -xpf "$TEST_DIR/a.pax.$c" -C "$x"
  compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --hardlinks --mtime ns
done
file_type=$(head -c 4 "$TEST_DIR/a.pax.zstd" | od -An -tx1 | tr -d ' ')
[[ $file_type == 28b52ffd ]] || fail "--compress zstd did not write a zstd stream (magic $file_type)"

step "GNU tar format: seconds, hardlinks"
expect_exit 0 kho export latest --format tar -o "$TEST_DIR/a.tar"
x=$(fresh gnu-tar)
tar -xpf "$TEST_DIR/a.tar" -C "$x"
compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --hardlinks --mtime s

step "cpio (newc): GNU cpio and bsdtar"
expect_exit 0 kho export latest --format cpio -o "$TEST_DIR/a.cpio"
x=$(fresh gnu-cpio)
(cd "$x" && cpio -idm --quiet <"$TEST_DIR/a.cpio")
compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --mtime s --dir-mtime none
x=$(fresh bsd-cpio)
bsdtar -xpf "$TEST_DIR/a.cpio" -C "$x"
compare_trees "$SRC" "$x$SRC" --modes "${OWN[@]}" --mtime s

step "zip: unzip and bsdtar (no fifo: zip cannot hold one)"
expect_exit 0 kho export "latest:$SRC" --format zip --exclude special -o "$TEST_DIR/a.zip"
x=$(fresh unzip)
(cd "$x" && unzip -qK "$TEST_DIR/a.zip")
compare_trees "$SRC" "$x" --modes --mtime s --dir-mtime none --no-root --ignore special
[[ ! -e $x/special ]] || fail "--exclude special did not leave out the special directory"
x=$(fresh bsd-zip)
bsdtar -xpf "$TEST_DIR/a.zip" -C "$x"
compare_trees "$SRC" "$x" --modes --mtime s --no-root --ignore special

step "7zip: bsdtar reads back the content and the non-ASCII names (UTF-16 in 7zip)"
expect_exit 0 kho export "latest:$SRC" --format 7zip --exclude special -o "$TEST_DIR/a.7z"
x=$(fresh bsd-7z)
LC_ALL=C.UTF-8 bsdtar -xf "$TEST_DIR/a.7z" -C "$x"
[[ -d "$x/hồ sơ" ]] || fail "7zip: the directory 'hồ sơ' did not come back under its name"
compare_trees "$SRC" "$x" --mtime none --no-root --ignore special

step "a subtree, include patterns, a single file"
kho export "latest:$SRC/hard" --format pax | tar -tf - | sed "s|/$||" | LC_ALL=C sort >"$TEST_DIR/list"
assert_lines_equal "entries of latest:$SRC/hard" "a.txt
b.txt
inner
inner/c.txt" "$(cat "$TEST_DIR/list")"
kho export latest --include '*.sh' | tar -tf - >"$TEST_DIR/list"
assert_lines_equal "entries with --include '*.sh'" "${SRC#/}/modes/exec.sh" "$(cat "$TEST_DIR/list")"
kho export "latest:$SRC/hồ sơ/báo cáo/Tết Nguyên Đán.txt" | tar -xOf - >"$TEST_DIR/one"
cmp "$TEST_DIR/one" "$SRC/hồ sơ/báo cáo/Tết Nguyên Đán.txt" || fail "single-file export differs"
# No snapshot is flagged by the anomaly score: latest-clean is the latest.
kho export "latest-clean:$SRC/hồ sơ/báo cáo/Tết Nguyên Đán.txt" | tar -xOf - >"$TEST_DIR/one-clean"
cmp "$TEST_DIR/one-clean" "$SRC/hồ sơ/báo cáo/Tết Nguyên Đán.txt" || fail "latest-clean export differs"

step "errors: unknown path, compression with zip, unknown format, a terminal"
expect_exit 1 kho export "latest:$SRC/nope" -o "$TEST_DIR/nope.tar"
assert_output_contains "not in the snapshot"
[[ ! -e $TEST_DIR/nope.tar ]] || fail "a failed export left $TEST_DIR/nope.tar behind"
expect_exit 2 kho export latest --format zip --compress gzip -o "$TEST_DIR/z.zip"
assert_output_contains "compresses its entries itself"
expect_exit 2 kho export latest --format rar -o "$TEST_DIR/z.rar"
assert_output_contains "unknown archive format"
expect_exit 0 kho --json export latest -o "$TEST_DIR/j.pax"
j=$(json_last_line "$OUT_FILE")
[[ $(json_get "$j" hardlinks) == 2 ]] || fail "--json: expected 2 hardlinks, got $j"
[[ $(json_get "$j" sparse_files) -ge 1 ]] || fail "--json: expected a sparse file, got $j"

step "exporting a 2 GB snapshot streams with flat memory"
# 2 GiB made of one random MiB repeated: the repository stays small (dedup), but
# every byte goes through the export, which is read back and hashed in one pass.
head -c $((1024 * 1024)) /dev/urandom >"$TEST_DIR/block"
gen="python3 -c 'import sys; b=open(\"$TEST_DIR/block\",\"rb\").read(); [sys.stdout.buffer.write(b) for _ in range(2048)]'"
KHO_REPOSITORY=$TEST_DIR/bigrepo kho init >/dev/null
KHO_REPOSITORY=$TEST_DIR/bigrepo kho backup --stdin-from "$gen" --stdin-filename big.bin >/dev/null
want=$(python3 -c 'import hashlib,sys; b=open(sys.argv[1],"rb").read(); h=hashlib.sha256(); [h.update(b) for _ in range(2048)]; print(h.hexdigest())' "$TEST_DIR/block")
KHO_REPOSITORY=$TEST_DIR/bigrepo /usr/bin/time -v -o "$TEST_DIR/time.txt" "$KHO" export latest --format tar |
  python3 "$ARCHIVE_HELPERS/tar_member_sha256.py" big.bin >"$TEST_DIR/got"
got=$(cat "$TEST_DIR/got")
[[ $got == "$want" ]] || fail "the 2 GiB file exported differs from what was backed up ($got, want $want)"
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TEST_DIR/time.txt")
echo "peak RSS of exporting 2 GiB: $((rss_kb / 1024)) MiB"
# Under ASan the allocator keeps a quarantine of freed memory (256 MiB) and
# shadow pages: the bound is looser there but still far below the 2 GiB streamed.
limit_mib=200
[[ ${KHO_SANITIZED:-0} == 1 ]] && limit_mib=900
((rss_kb < limit_mib * 1024)) || fail "exporting 2 GiB took $((rss_kb / 1024)) MiB of memory (limit $limit_mib MiB)"
