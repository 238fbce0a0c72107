#!/usr/bin/env bash
# kho import: archives made by GNU tar (pax and GNU formats), bsdtar, zip and
# GNU cpio are imported, the snapshot is restored, and the restored tree is
# compared (by a script, not kho) with what the tool itself extracts from the
# same archive. Also: compressed archives and standard input, dedup against
# the repository, --path-prefix/--host/--tag/--time, --json.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=archive/lib_archive.sh
source "$(dirname "$0")/archive/lib_archive.sh"

SRC=$TEST_DIR/src
step "building the source tree"
make_archive_tree "$SRC"
expect_exit 0 kho init
OWN=()
[[ $(id -u) -eq 0 ]] && OWN=(--owners)

# import_and_compare NAME ARCHIVE EXTRACTED [compare options]: imports ARCHIVE
# under /imported/NAME, restores it and compares with EXTRACTED.
import_and_compare() {
  local name=$1 archive=$2 extracted=$3
  shift 3
  expect_exit 0 kho --json import "$archive" --path-prefix "/imported/$name" --tag "$name"
  local j
  j=$(json_last_line "$OUT_FILE")
  [[ $(json_get "$j" refused) == 0 && $(json_get "$j" sanitised) == 0 ]] || fail "import of $name reported problems: $j"
  local target=$TEST_DIR/restore.$name
  expect_exit 0 kho restore latest --tag "$name" --target "$target"
  compare_trees "$extracted" "$target/imported/$name" "$@"
}

step "GNU tar, pax format (ns times, xattrs, hardlinks)"
tar --format=posix --xattrs -cpf "$TEST_DIR/gnu.pax" -C "$SRC" .
x=$TEST_DIR/x.gnu-pax && mkdir "$x"
tar --xattrs --xattrs-include='*' -xpf "$TEST_DIR/gnu.pax" -C "$x"
compare_trees "$SRC" "$x" --modes "${OWN[@]}" --hardlinks --xattrs --mtime ns  # the tool itself is exact
import_and_compare gnu-pax "$TEST_DIR/gnu.pax" "$x" --modes "${OWN[@]}" --hardlinks --xattrs --mtime ns

step "GNU tar, GNU format, gzip, with a sparse file stored sparse"
tar --format=gnu -S -czpf "$TEST_DIR/gnu.tar.gz" -C "$SRC" .
x=$TEST_DIR/x.gnu-tgz && mkdir "$x"
tar -xzpf "$TEST_DIR/gnu.tar.gz" -C "$x"
import_and_compare gnu-tgz "$TEST_DIR/gnu.tar.gz" "$x" --modes "${OWN[@]}" --hardlinks --mtime s

step "bsdtar (default pax-restricted format), xz, from standard input"
bsdtar -cJf "$TEST_DIR/bsd.tar.xz" -C "$SRC" .
x=$TEST_DIR/x.bsd && mkdir "$x"
bsdtar -xpf "$TEST_DIR/bsd.tar.xz" -C "$x"
expect_exit 0 kho --json import - --path-prefix /imported/bsd --tag bsd <"$TEST_DIR/bsd.tar.xz"
target=$TEST_DIR/restore.bsd
expect_exit 0 kho restore latest --tag bsd --target "$target"
compare_trees "$x" "$target/imported/bsd" --modes "${OWN[@]}" --hardlinks --mtime ns --no-root  # bsdtar leaves "." alone

step "zip (Info-ZIP), symlinks kept"
(cd "$SRC" && zip -qry "$TEST_DIR/info.zip" .)
x=$TEST_DIR/x.zip && mkdir "$x"
(cd "$x" && unzip -qK "$TEST_DIR/info.zip")  # -K: keep setgid bits, as kho does
import_and_compare zip "$TEST_DIR/info.zip" "$x" --modes --mtime s --dir-mtime none --no-root

step "GNU cpio (newc), zstd-compressed: hardlinks come back"
(cd "$SRC" && find . -mindepth 1 | cpio -o -H newc --quiet) | zstd -q >"$TEST_DIR/gnu.cpio.zst"
x=$TEST_DIR/x.cpio && mkdir "$x"
(cd "$x" && zstd -dqc "$TEST_DIR/gnu.cpio.zst" | cpio -idm --quiet)
import_and_compare cpio "$TEST_DIR/gnu.cpio.zst" "$x" --modes "${OWN[@]}" --hardlinks --mtime s --dir-mtime none --no-root

step "the imported data dedups against the repository"
expect_exit 0 kho --json import "$TEST_DIR/gnu.pax" --path-prefix /imported/again --host vendor-host --time "2025-01-28 08:00:00"
j=$(json_last_line "$OUT_FILE")
[[ $(json_get "$j" data_blobs) == 0 ]] || fail "re-importing the same archive added data blobs: $j"
kho snapshots --json --host vendor-host >"$TEST_DIR/snaps.json"
python3 - "$TEST_DIR/snaps.json" <<'PY' || fail "the imported snapshot's host, time or path is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s) == 1, s
assert s[0]["paths"] == ["/imported/again"], s[0]["paths"]
assert s[0]["time"].startswith("2025-01-28T08:00:00"), s[0]["time"]
PY
# A backup of the same files after importing adds no file data either.
expect_exit 0 kho --json backup "$SRC"
j=$(json_last_line "$OUT_FILE")
[[ $(json_get "$j" data_blobs) == 0 ]] || fail "a backup of the imported files stored new data blobs: $j"

step "the default prefix is the archive's name; check passes"
expect_exit 0 kho import "$TEST_DIR/gnu.tar.gz"
assert_output_contains "/imported/gnu"
expect_exit 0 kho ls latest /imported/gnu/plain.txt
expect_exit 0 kho check --read-data

step "not an archive, a missing file"
head -c 5000 /dev/urandom >"$TEST_DIR/noise.bin"
expect_exit 1 kho import "$TEST_DIR/noise.bin"
assert_output_contains "noise.bin"
expect_exit 1 kho import "$TEST_DIR/missing.tar"
assert_output_contains "missing.tar"
