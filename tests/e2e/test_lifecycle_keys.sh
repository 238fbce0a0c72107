#!/usr/bin/env bash
# Keys: `key add --new-password-file` adds a key the new password opens (the
# data too, not only the listing); `key list` shows both, the one in use marked;
# `key passwd` changes the password of the key in use (the old one then fails
# with exit 12, the other key still works); removing the key in use is refused,
# removing the other key works, removing the last key is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

P1=$KHO_PASSWORD
P2="second password, for the laptop"
P3="third password: 'quoted' & spaced"
printf '%s\n' "$P2" >"$TEST_DIR/p2.txt"
printf '%s\n' "$P3" >"$TEST_DIR/p3.txt"

# keys_json [PASSWORD]: `kho key list --json` opened with PASSWORD (default P1).
keys_json() {
  KHO_PASSWORD=${1:-$P1} kho key list --json
}

# key_field JSON WHAT: "count", "current" (the ID of the key in use) or "ids".
key_field() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
keys = json.loads(sys.argv[1])
what = sys.argv[2]
if what == "count":
    print(len(keys))
elif what == "current":
    cur = [k["id"] for k in keys if k["current"]]
    if len(cur) != 1:
        sys.exit("key list --json should mark exactly one key as current: %s" % sys.argv[1])
    print(cur[0])
else:
    print("\n".join(sorted(k["id"] for k in keys)))
EOF
}

expect_exit 0 kho init
SRC=$TEST_DIR/src
mkdir -p "$SRC"
random_file "$SRC/data.bin" 200000
echo "hello" >"$SRC/hello.txt"
expect_exit 0 kho backup "$SRC"

J=$(keys_json)
[[ $(key_field "$J" count) == 1 ]] || fail "a new repository should have one key: $J"
K1=$(key_field "$J" current)

step "key add --new-password-file adds a second key"
expect_exit 0 kho key add --new-password-file "$TEST_DIR/p2.txt"
J=$(keys_json)
[[ $(key_field "$J" count) == 2 ]] || fail "after key add there should be 2 keys: $J"
[[ $(key_field "$J" current) == "$K1" ]] || fail "opened with the first password, the first key ($K1) is current: $J"
K2=$(key_field "$J" ids | grep -vxF "$K1")
[[ -n $K2 ]] || fail "no second key ID in: $J"

step "the new password opens the repository and its data"
KHO_PASSWORD=$P2 expect_exit 0 kho snapshots
assert_output_contains "1 snapshot"
R=$TEST_DIR/restore-p2
KHO_PASSWORD=$P2 expect_exit 0 kho restore latest --target "$R"
assert_trees_equal "$SRC" "$R$SRC"
J=$(keys_json "$P2")
[[ $(key_field "$J" current) == "$K2" ]] || fail "opened with the second password, key $K2 is current: $J"

step "key list shows both keys, one marked"
expect_exit 0 kho key list
assert_output_contains "${K1:0:8}"
assert_output_contains "${K2:0:8}"
[[ $(grep -c '^\*' "$OUT_FILE") == 1 ]] || fail "key list should mark exactly one key with '*': $(cat "$OUT_FILE")"
grep -q "^\*.*${K1:0:8}" "$OUT_FILE" || fail "key list opened with the first password should mark ${K1:0:8}: $(cat "$OUT_FILE")"

step "a wrong password is refused with exit 12"
KHO_PASSWORD="not a password of this repository" expect_exit 12 kho snapshots

step "key passwd changes the password of the key in use"
expect_exit 0 kho key passwd --new-password-file "$TEST_DIR/p3.txt"
KHO_PASSWORD=$P1 expect_exit 12 kho snapshots
KHO_PASSWORD=$P3 expect_exit 0 kho snapshots
assert_output_contains "1 snapshot"
KHO_PASSWORD=$P2 expect_exit 0 kho snapshots
J=$(keys_json "$P3")
[[ $(key_field "$J" count) == 2 ]] || fail "key passwd should leave 2 keys (one changed), found: $J"
K3=$(key_field "$J" current)
[[ $K3 != "$K2" ]] || fail "the third password opens the second password's key: $J"
key_field "$J" ids | grep -xF "$K2" >/dev/null || fail "key passwd removed the other key $K2: $J"
R=$TEST_DIR/restore-p3
KHO_PASSWORD=$P3 expect_exit 0 kho restore latest --target "$R"
assert_trees_equal "$SRC" "$R$SRC"

step "removing the key in use is refused"
KHO_PASSWORD=$P3 expect_failure kho key remove "$K3"
assert_output_contains_i "use"
[[ $(key_field "$(keys_json "$P3")" count) == 2 ]] || fail "the refused key remove removed a key"
KHO_PASSWORD=$P3 expect_exit 0 kho snapshots

step "removing an unknown key fails"
KHO_PASSWORD=$P3 expect_failure kho key remove 0123456789abcdef
[[ $(key_field "$(keys_json "$P3")" count) == 2 ]] || fail "removing an unknown key removed a key"

step "removing the other key works (by ID prefix); its password no longer opens"
KHO_PASSWORD=$P3 expect_exit 0 kho key remove "${K2:0:8}"
J=$(keys_json "$P3")
[[ $(key_field "$J" count) == 1 ]] || fail "after removing $K2 one key should be left: $J"
[[ $(key_field "$J" current) == "$K3" ]] || fail "the key left should be the one in use ($K3): $J"
KHO_PASSWORD=$P2 expect_exit 12 kho snapshots

step "removing the last key is refused"
KHO_PASSWORD=$P3 expect_failure kho key remove "$K3"
[[ $(key_field "$(keys_json "$P3")" count) == 1 ]] || fail "the last key was removed"

step "KHO_NEW_PASSWORD works for key add; everything still checks out"
KHO_PASSWORD=$P3 KHO_NEW_PASSWORD="from the environment" expect_exit 0 kho key add
KHO_PASSWORD="from the environment" expect_exit 0 kho check --read-data
[[ $(key_field "$(keys_json "$P3")" count) == 2 ]] || fail "key add with KHO_NEW_PASSWORD should make 2 keys"
