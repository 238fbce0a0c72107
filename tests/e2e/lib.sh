# shellcheck shell=bash
# Shared set-up and assertions for the end-to-end tests in tests/e2e/test_*.sh.
#
# Each test sources this file first. It expects (CTest sets them):
#   KHO           the kho binary (default: build/kho in the source tree)
#   KHO_KDF_FAST  1 for fast key derivation (default 1)
#   KHO_TEST_TMP  where per-test directories go (default: $TMPDIR/kho-e2e)
#
# It gives the test:
#   TEST_DIR      a fresh directory of its own, removed when the test passes and
#                 kept for inspection when it fails (or when KHO_E2E_KEEP=1)
#   REPO          $TEST_DIR/repo, exported as KHO_REPOSITORY
#   KHO_PASSWORD  exported; every `kho` call uses it unless the test says otherwise
#   kho ARGS...                 runs the binary (with a time limit)
#   expect_exit CODE CMD...     runs CMD, asserts its exit code exactly; the output
#                               is kept in $OUT_FILE / $ERR_FILE for later checks
#   assert_output_contains S    stdout or stderr of the last expect_exit holds S
#   assert_trees_equal A B [--no-root]
#                               compares two trees with rsync and find, not kho
#   assert_sparse FILE MAX      FILE has at most MAX bytes allocated on disk
#   flip_byte FILE [OFFSET]     inverts one byte (the middle one by default)
#   json_last_line FILE         the last line of FILE, checked to be a JSON object
#   cleanup_on_success DIR      also remove DIR (made elsewhere) when the test passes
#   step MSG, fail MSG
set -euo pipefail
set -o errtrace
shopt -s inherit_errexit 2>/dev/null || true

E2E_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

: "${KHO:=$E2E_SRC_DIR/../../build/kho}"
if [[ ! -x $KHO ]]; then
  echo "e2e: $TEST_NAME: no kho binary at '$KHO' (build it, or set KHO)" >&2
  exit 1
fi
KHO=$(realpath "$KHO")
export KHO
export KHO_KDF_FAST="${KHO_KDF_FAST:-1}"
# The tests choose their password source themselves.
unset KHO_PASSWORD_FILE KHO_PASSWORD_COMMAND KHO_REPOSITORY KHO_PASSWORD
# Reproducible text handling (sort order, messages) whatever the caller's locale.
export LC_ALL=C.UTF-8

: "${KHO_TEST_TMP:=${TMPDIR:-/tmp}/kho-e2e}"
mkdir -p "$KHO_TEST_TMP"
TEST_DIR=$(mktemp -d "$KHO_TEST_TMP/$TEST_NAME.XXXXXX")
TEST_DIR=$(cd "$TEST_DIR" && pwd -P)  # kho stores absolute paths: use the real one
OUT_FILE=$TEST_DIR/last.stdout
ERR_FILE=$TEST_DIR/last.stderr
REPO=$TEST_DIR/repo
export KHO_REPOSITORY=$REPO
export KHO_PASSWORD="e2e correct horse battery staple"
# Keep any per-user cache kho may keep inside the test directory.
export XDG_CACHE_HOME=$TEST_DIR/cache

E2E_EXTRA_DIRS=()
# cleanup_on_success DIR: DIR, made outside TEST_DIR, goes when TEST_DIR goes.
cleanup_on_success() {
  E2E_EXTRA_DIRS+=("$1")
}

_e2e_on_exit() {
  local status=$1 d
  if [[ $status -eq 0 && ${KHO_E2E_KEEP:-0} != 1 ]]; then
    for d in "$TEST_DIR" ${E2E_EXTRA_DIRS[@]+"${E2E_EXTRA_DIRS[@]}"}; do
      chmod -R u+rwX "$d" 2>/dev/null || true
      rm -rf "$d"
    done
    echo "e2e: $TEST_NAME passed"
  elif [[ $status -eq 0 ]]; then
    echo "e2e: $TEST_NAME passed; files kept in $TEST_DIR"
  else
    echo "e2e: $TEST_NAME FAILED (exit $status); files kept in $TEST_DIR ${E2E_EXTRA_DIRS[*]+"${E2E_EXTRA_DIRS[*]}"}" >&2
  fi
}
trap '_e2e_on_exit $?' EXIT
trap 'echo "e2e: $TEST_NAME: command failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

fail() {
  echo "FAIL: $TEST_NAME: $*" >&2
  exit 1
}

step() {
  echo "== $*"
}

# Runs kho with the test's repository and password (from the environment).
# A hang is a failure too: the time limit turns it into exit 124.
kho() {
  timeout -k 10 "${KHO_E2E_TIMEOUT:-600}" "$KHO" "$@"
}

# Prints the start (8000 bytes) of a captured output file, for failure messages.
_show() {
  local label=$1 file=$2
  echo "--- $label ($(wc -c <"$file") bytes) ---" >&2
  head -c 8000 "$file" >&2 || true
  echo >&2
}

# expect_exit CODE CMD...: runs CMD, capturing stdout to $OUT_FILE and stderr to
# $ERR_FILE; fails the test, showing both, unless it exits with exactly CODE.
expect_exit() {
  local want=$1
  shift
  local rc=0
  "$@" >"$OUT_FILE" 2>"$ERR_FILE" || rc=$?
  if [[ $rc != "$want" ]]; then
    echo "FAIL: $TEST_NAME: expected exit $want, got $rc from: $*" >&2
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    exit 1
  fi
}

# expect_failure CMD...: like expect_exit, for "any non-zero exit that is not a
# time-out or a crash"; the code is left in $LAST_RC.
expect_failure() {
  LAST_RC=0
  "$@" >"$OUT_FILE" 2>"$ERR_FILE" || LAST_RC=$?
  if [[ $LAST_RC -eq 0 || $LAST_RC -eq 124 || ($LAST_RC -ge 128 && $LAST_RC -ne 130) ]]; then
    echo "FAIL: $TEST_NAME: expected a clean failure, got exit $LAST_RC from: $*" >&2
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    exit 1
  fi
}

# assert_output_contains STRING: the last expect_exit's stdout or stderr holds
# STRING (fixed string, case-sensitive).
assert_output_contains() {
  if ! grep -qF -- "$1" "$OUT_FILE" "$ERR_FILE"; then
    echo "FAIL: $TEST_NAME: output does not mention '$1'" >&2
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    exit 1
  fi
}

# Same, ignoring case.
assert_output_contains_i() {
  if ! grep -qiF -- "$1" "$OUT_FILE" "$ERR_FILE"; then
    echo "FAIL: $TEST_NAME: output does not mention '$1' (any case)" >&2
    _show stdout "$OUT_FILE"
    _show stderr "$ERR_FILE"
    exit 1
  fi
}

# json_last_line FILE: prints FILE's last non-empty line after checking that it
# is one JSON object.
json_last_line() {
  python3 - "$1" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if l.strip()]
if not lines:
    sys.exit("json_last_line: no output")
obj = json.loads(lines[-1])
if not isinstance(obj, dict):
    sys.exit("json_last_line: last line is not a JSON object: " + lines[-1])
print(json.dumps(obj))
EOF
}

# json_get JSON KEY: prints one field of a JSON object (numbers and strings as is).
json_get() {
  python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if not isinstance(v,(list,dict)) else json.dumps(v))' "$1" "$2"
}

# The listing assert_trees_equal compares: one line per entry with path, type,
# mode, owner, size (not for directories: their size depends on the history of
# the directory, not on its content), mtime in ns, symlink target, link count.
_tree_listing() {
  local dir=$1 min_depth=$2
  (cd "$dir" && find . -mindepth "$min_depth" \
    \( -type d -printf '%P|%y|%m|%U:%G|-|%T@|%l|%n\n' \) -o \
    \( ! -type d -printf '%P|%y|%m|%U:%G|%s|%T@|%l|%n\n' \)) | LC_ALL=C sort
}

# assert_trees_equal A B [--no-root]: A and B hold the same entries with the
# same content, types, modes, owners, ns mtimes (directories included), symlink
# targets, hardlinks and xattrs. --no-root leaves out the top directories' own
# metadata (for a restore of a subtree into a fresh target).
assert_trees_equal() {
  local a=$1 b=$2 no_root=${3:-}
  [[ -d $a ]] || fail "assert_trees_equal: '$a' is not a directory"
  [[ -d $b ]] || fail "assert_trees_equal: '$b' is not a directory"
  local rs
  rs=$(rsync -rlptgoDHXn -c --delete --itemize-changes "$a/" "$b/")
  if [[ $no_root == --no-root ]]; then
    rs=$(grep -v ' \./$' <<<"$rs" || true)
  fi
  if [[ -n $rs ]]; then
    echo "FAIL: $TEST_NAME: trees differ (rsync -n -c: what would change in '$b'):" >&2
    head -n 100 <<<"$rs" >&2
    exit 1
  fi
  local min_depth=0 la lb
  [[ $no_root == --no-root ]] && min_depth=1
  la=$TEST_DIR/listing.$$.a
  lb=$TEST_DIR/listing.$$.b
  _tree_listing "$a" "$min_depth" >"$la"
  _tree_listing "$b" "$min_depth" >"$lb"
  if ! diff -u "$la" "$lb" >"$TEST_DIR/listing.diff"; then
    echo "FAIL: $TEST_NAME: trees differ (find listing: path|type|mode|owner|size|mtime|link|nlink):" >&2
    head -n 100 "$TEST_DIR/listing.diff" >&2
    exit 1
  fi
  rm -f "$la" "$lb" "$TEST_DIR/listing.diff"
}

# Bytes allocated on disk for FILE.
allocated_bytes() {
  echo $(($(stat -c '%b' "$1") * $(stat -c '%B' "$1")))
}

# assert_sparse FILE MAX_BYTES: FILE has no more than MAX_BYTES allocated.
assert_sparse() {
  local alloc
  alloc=$(allocated_bytes "$1")
  if ((alloc > $2)); then
    fail "'$1' has $alloc bytes allocated for $(stat -c %s "$1") bytes of content (want <= $2): holes were filled"
  fi
}

# object_ids REPO KIND: the IDs of a local repository's objects of one kind
# (data, index, snapshots, keys), sorted.
object_ids() {
  find "$1/$2" -type f -printf '%f\n' | grep -E '^[0-9a-f]{64}$' | LC_ALL=C sort
}

# pack_path REPO ID: the file of pack ID in local repository REPO.
pack_path() {
  echo "$1/data/${2:0:2}/$2"
}

# flip_byte FILE [OFFSET]: inverts the byte at OFFSET (default: the middle).
flip_byte() {
  chmod u+w "$1" 2>/dev/null || true
  python3 - "$1" "${2:-}" <<'EOF'
import os, sys
path, off = sys.argv[1], sys.argv[2]
size = os.path.getsize(path)
off = int(off) if off else size // 2
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

# Size of a tree in bytes (apparent sizes of every file).
tree_bytes() {
  du -sb "$1" | cut -f1
}

# Number of snapshots in the repository, from `kho snapshots --json`.
snapshot_count() {
  kho snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# Writes N random bytes to FILE.
random_file() {
  head -c "$2" /dev/urandom >"$1"
}

# --- helpers for the repository-lifecycle tests (test_lifecycle_*.sh) ---

# forget_json_times FILE keep|remove: the local times ("YYYY-MM-DD HH:MM:SS",
# sorted) of the snapshots that `kho forget --json` (output in FILE) keeps or
# removes, over all groups.
forget_json_times() {
  python3 - "$1" "$2" <<'PYEOF'
import json, sys
groups = json.load(open(sys.argv[1], encoding="utf-8"))
times = sorted(s["time"][:19].replace("T", " ") for g in groups for s in g[sys.argv[2]])
print("\n".join(times))
PYEOF
}

# forget_json_reasons FILE "YYYY-MM-DD HH:MM:SS": the reasons (one line, joined
# by '; ') given for keeping the snapshot with that local time.
forget_json_reasons() {
  python3 - "$1" "$2" <<'PYEOF'
import json, sys
groups = json.load(open(sys.argv[1], encoding="utf-8"))
found = [s for g in groups for s in g["keep"] if s["time"][:19].replace("T", " ") == sys.argv[2]]
if len(found) != 1:
    sys.exit("forget_json_reasons: %d kept snapshots have time %s" % (len(found), sys.argv[2]))
print("; ".join(found[0].get("reasons", [])))
PYEOF
}

# snapshot_times: the local times of the repository's snapshots, sorted, one a
# line (from `kho snapshots --json`).
snapshot_times() {
  kho snapshots --json | python3 -c '
import json, sys
print("\n".join(sorted(s["time"][:19].replace("T", " ") for s in json.load(sys.stdin))))'
}

# snapshot_ids: the full IDs of the repository's snapshots.
snapshot_ids() {
  kho snapshots --json | python3 -c '
import json, sys
print("\n".join(s["id"] for s in json.load(sys.stdin)))'
}

# assert_lines_equal WHAT EXPECTED ACTUAL: two newline-separated lists are equal.
assert_lines_equal() {
  if [[ $2 != "$3" ]]; then
    echo "FAIL: $TEST_NAME: $1: unexpected result" >&2
    diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /' >&2 || true
    exit 1
  fi
}

# repo_listing: every file of the repository with its size and mtime, sorted.
repo_listing() {
  (cd "$REPO" && find . -type f -printf '%P %s %T@\n') | LC_ALL=C sort
}

# lock_files: the number of lock files in the repository.
lock_files() {
  find "$REPO/locks" -type f | wc -l
}

# assert_no_locks WHEN: the repository holds no lock file.
assert_no_locks() {
  local n
  n=$(lock_files)
  if ((n != 0)); then
    ls -la "$REPO/locks" >&2 || true
    fail "$n lock file(s) left in $REPO/locks $1"
  fi
}

# restore_and_compare SNAPSHOT SRC: restores SNAPSHOT into a fresh directory and
# compares the restored copy of the absolute path SRC with SRC.
restore_and_compare() {
  local snap=$1 src=$2 target
  target=$(mktemp -d "$TEST_DIR/restore.XXXXXX")
  expect_exit 0 kho restore "$snap" --target "$target"
  [[ -d $target$src ]] || fail "restore of $snap did not recreate $src under $target"
  assert_trees_equal "$src" "$target$src"
  rm -rf "$target"
}
