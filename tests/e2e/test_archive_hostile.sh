#!/usr/bin/env bash
# kho import of crafted archives (made by archive/make_hostile.py): absolute
# paths, '..', a file through a symlink, invalid UTF-8 and NUL in names,
# duplicates, hard links out of the archive, an absurd declared size, a
# truncated and a corrupted stream, a zip bomb. Each is refused or sanitised
# with a message and counted; --strict fails; a damaged stream saves nothing;
# and nothing ever appears outside the restore target.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

A=$TEST_DIR/archives
OUTSIDE=$TEST_DIR/outside
mkdir -p "$A" "$OUTSIDE"
python3 "$(dirname "$0")/archive/make_hostile.py" "$A" "$OUTSIDE"
expect_exit 0 kho init

# import_json EXIT ARCHIVE ARGS...: imports, checks the exit code, leaves the
# summary in $J.
import_json() {
  local want=$1
  shift
  expect_exit "$want" kho --json import "$@"
  J=$(json_last_line "$OUT_FILE")
}
field() { json_get "$J" "$1"; }
# restore_check NAME: restores the latest snapshot to a fresh target and
# leaves its root (the import prefix) in $R.
restore_check() {
  local t=$TEST_DIR/restore.$1
  expect_exit 0 kho restore latest --target "$t"
  R=$t/imported/$1
  [[ -d $R ]] || fail "restore did not create $R"
}
nothing_outside() {
  local found
  found=$(find "$OUTSIDE" "$TEST_DIR" "$TEST_DIR/.." -maxdepth 1 \( -name '*-evil*.txt' -o -name 'zip-abs.txt' \) 2>/dev/null || true)
  [[ -z $found ]] || fail "files appeared outside the restore target: $found"
  [[ -z $(ls -A "$OUTSIDE") ]] || fail "$OUTSIDE is no longer empty: $(ls -A "$OUTSIDE")"
  [[ ! -e /dotdot-evil.txt && ! -e /zip-evil.txt ]] || fail "a file was written at /"
}

step "absolute paths are stored below the prefix (sanitised); --strict refuses"
import_json 0 "$A/absolute.tar" --path-prefix /imported/absolute
[[ $(field sanitised) == 1 && $(field refused) == 0 ]] || fail "absolute.tar: $J"
assert_output_contains "absolute path"
restore_check absolute
[[ $(cat "$R$OUTSIDE/abs-evil.txt") == absolute ]] || fail "the absolute entry is not below the prefix"
n=$(snapshot_count)
expect_exit 1 kho import "$A/absolute.tar" --strict --path-prefix /imported/strict
assert_output_contains "--strict"
[[ $(snapshot_count) == "$n" ]] || fail "--strict saved a snapshot"
nothing_outside

step "a path nested deeper than trees may be is refused (exit 3); the rest is imported"
import_json 3 "$A/deep.tar" --path-prefix /imported/deep
[[ $(field refused) == 1 && $(field files) == 1 ]] || fail "deep.tar: $J"
assert_output_contains "levels deep"
restore_check deep
[[ $(ls -A "$R") == ok.txt ]] || fail "deep: unexpected entries $(ls -A "$R")"

step "'..' entries are refused: snapshot saved incomplete (exit 3)"
import_json 3 "$A/dotdot.tar" --path-prefix /imported/dotdot
[[ $(field refused) == 2 && $(field files) == 1 ]] || fail "dotdot.tar: $J"
assert_output_contains "'..'"
restore_check dotdot
[[ $(ls -A "$R") == ok.txt ]] || fail "dotdot: unexpected entries $(ls -A "$R")"
expect_exit 1 kho import "$A/dotdot.tar" --strict
nothing_outside

step "a file through a symlink is refused; the symlink stays a symlink"
import_json 3 "$A/through.tar" --path-prefix /imported/through
[[ $(field refused) == 1 ]] || fail "through.tar: $J"
assert_output_contains "goes through 'link'"
restore_check through
[[ -L $R/link && $(readlink "$R/link") == "$OUTSIDE" ]] || fail "the symlink was not restored as a symlink"
[[ $(cat "$R/dir/ok.txt") == ok ]] || fail "dir/ok.txt missing"
nothing_outside

step "invalid UTF-8 is replaced; a NUL ends the name"
import_json 0 "$A/names.tar" --path-prefix /imported/names
[[ $(field sanitised) == 1 ]] || fail "names.tar: $J"
assert_output_contains "UTF-8"
restore_check names
[[ $(cat "$R/bad-"$'\xef\xbf\xbd\xef\xbf\xbd'".txt") == latin ]] || fail "the invalid UTF-8 name was not sanitised"
import_json 0 "$A/nul.tar" --path-prefix /imported/nul
restore_check nul
[[ $(ls -A "$R") == nul-safe.txt ]] || fail "nul.tar: unexpected entries $(ls -A "$R")"
nothing_outside

step "duplicates: the later file wins; a file over a directory is refused"
import_json 3 "$A/duplicates.tar" --path-prefix /imported/duplicates
[[ $(field sanitised) == 1 && $(field refused) == 1 ]] || fail "duplicates.tar: $J"
restore_check duplicates
[[ $(cat "$R/dup.txt") == second ]] || fail "dup.txt: the later entry did not win"
[[ -d $R/d && $(cat "$R/d/in.txt") == in ]] || fail "the directory d was replaced"

step "hard links to entries not in the archive are refused"
import_json 3 "$A/hardlinks.tar" --path-prefix /imported/hardlinks
[[ $(field refused) == 2 && $(field hardlinks) == 2 ]] || fail "hardlinks.tar: $J"
restore_check hardlinks
[[ $(stat -c %h "$R/ok.txt") == 2 && $(stat -c %i "$R/ok.txt") == $(stat -c %i "$R/l3") ]] || fail "l3 is not a hard link of ok.txt"
nothing_outside

step "zip: '..' refused, absolute sanitised"
import_json 3 "$A/evil.zip" --path-prefix /imported/evilzip
[[ $(field refused) == 1 && $(field sanitised) == 1 ]] || fail "evil.zip: $J"
restore_check evilzip
nothing_outside

step "damaged streams fail the import and save nothing"
n=$(snapshot_count)
expect_exit 1 kho import "$A/absurd.tar"
assert_output_contains "huge.bin"
assert_output_contains "no snapshot saved"
gzip -c "$A/good.tar" >"$A/good.tar.gz"
head -c $(($(stat -c %s "$A/good.tar.gz") / 2)) "$A/good.tar.gz" >"$A/truncated.tar.gz"
expect_exit 1 kho import "$A/truncated.tar.gz"
assert_output_contains "truncated or damaged"
head -c $(($(stat -c %s "$A/good.tar") / 2 + 100)) "$A/good.tar" >"$A/truncated.tar"
expect_exit 1 kho import "$A/truncated.tar"
assert_output_contains "truncated or damaged"
# A damaged tar header (checksum) and a damaged zstd frame (content checksum).
# (libarchive does not check gzip's CRC: see docs/ARCHIVES.md.)
cp "$A/good.tar" "$A/corrupt.tar"
flip_byte "$A/corrupt.tar" 600
expect_exit 1 kho import "$A/corrupt.tar"
assert_output_contains "no snapshot saved"
zstd -q -c "$A/good.tar" >"$A/corrupt.tar.zst"
flip_byte "$A/corrupt.tar.zst"
expect_exit 1 kho import "$A/corrupt.tar.zst"
assert_output_contains "no snapshot saved"
[[ $(snapshot_count) == "$n" ]] || fail "a damaged archive left a snapshot"

step "a zip bomb is stopped early with a clear message"
expect_exit 1 kho import "$A/bomb.zip"
assert_output_contains "decompression bomb"
# Early means after a fraction of the 1 GiB it expands to, whatever the machine's speed.
expanded=$(grep -o '[0-9]* MiB expanded' "$ERR_FILE" | cut -d' ' -f1)
[[ -n $expanded ]] && ((expanded < 512)) || fail "the zip bomb was not stopped early (expanded: ${expanded:-?} MiB)"
expect_exit 1 kho import "$A/bomb.zip" --max-ratio 0 --max-size 300M
assert_output_contains "--max-size"
[[ $(snapshot_count) == "$n" ]] || fail "a refused bomb left a snapshot"

step "the repository is sound after all of this"
expect_exit 0 kho check --read-data
nothing_outside
