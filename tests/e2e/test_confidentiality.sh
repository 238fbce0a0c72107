#!/usr/bin/env bash
# Confidentiality: no file name, directory name, content, tag or password
# appears in any repository file or file name; the wrong password exits 12 with
# a clear message; no password and no terminal fails at once instead of waiting.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$TEST_DIR/SECRETROOT_kho_40
mkdir -p "$SRC/SECRETDIR_kho_41" "$SRC/Thư_mục_bí_mật_kho_48"
# Compressible content (zstd shrinks it), small content (stored as is), content
# spread over several chunks, and Vietnamese names and content.
for _ in $(seq 1 2000); do printf 'SECRETCONTENT_kho_43 '; done >"$SRC/SECRETDIR_kho_41/SECRETNAME_kho_42.txt"
printf 'SECRETSMALL_kho_46' >"$SRC/small.txt"
for i in $(seq 1 60000); do printf 'SECRETLINE_kho_49 dòng số %d của hồ sơ mật\n' "$i"; done >"$SRC/Thư_mục_bí_mật_kho_48/big.txt"
for _ in $(seq 1 500); do printf 'Nội dung mật kho 45. '; done >"$SRC/Bí_mật_quốc_gia_kho_44.txt"

step "init and backup"
expect_exit 0 kho init
expect_exit 0 kho backup "$SRC" --tag SECRETTAG_kho_47
SNAP_COUNT=$(snapshot_count)
[[ $SNAP_COUNT == 1 ]] || fail "expected 1 snapshot, got $SNAP_COUNT"

step "nothing readable in the repository"
secrets=(
  SECRETROOT_kho_40 SECRETDIR_kho_41 SECRETNAME_kho_42 SECRETCONTENT_kho_43
  SECRETSMALL_kho_46 SECRETLINE_kho_49 SECRETTAG_kho_47
  "Bí_mật_quốc_gia_kho_44" "Thư_mục_bí_mật_kho_48" "Nội dung mật kho 45" "hồ sơ mật"
  "$KHO_PASSWORD"
)
for s in "${secrets[@]}"; do
  if hits=$(grep -r -a -F -l -e "$s" "$REPO"); then
    fail "'$s' appears in the repository: $hits"
  fi
  if find "$REPO" -name "*$s*" | grep -q .; then
    fail "'$s' appears in a repository file name"
  fi
done
# Nothing the backup read is stored uncompressed-and-unencrypted in any form the
# eye could catch: no long runs of the repeated content either.
if grep -r -a -q -e 'SECRET' -e 'kho_4' "$REPO"; then
  fail "a fragment of a secret name or content appears in the repository"
fi

step "the right password still works (sanity)"
R=$TEST_DIR/restore
expect_exit 0 kho restore latest --target "$R"
cmp "$SRC/SECRETDIR_kho_41/SECRETNAME_kho_42.txt" "$R$SRC/SECRETDIR_kho_41/SECRETNAME_kho_42.txt"

step "the wrong password exits 12 and says so"
expect_exit 12 env KHO_PASSWORD="not the password" "$KHO" snapshots
assert_output_contains_i password
expect_exit 12 env KHO_PASSWORD="not the password" "$KHO" backup "$SRC"
assert_output_contains_i password
[[ $(snapshot_count) == 1 ]] || fail "a backup with the wrong password recorded a snapshot"
printf 'also wrong\n' >"$TEST_DIR/wrong-password"
expect_exit 12 env -u KHO_PASSWORD "$KHO" --password-file "$TEST_DIR/wrong-password" snapshots
assert_output_contains_i password
if grep -qF -e "not the password" -e "also wrong" "$OUT_FILE" "$ERR_FILE"; then
  fail "kho printed the password it was given"
fi

step "no password and no terminal: a clean, quick failure"
# setsid: no controlling terminal, so no prompt can be shown or answered.
expect_failure env -u KHO_PASSWORD setsid -w timeout 60 "$KHO" snapshots </dev/null
assert_output_contains_i password
echo "exit $LAST_RC without a password"
