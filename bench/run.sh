#!/usr/bin/env bash
# kho vs restic, side by side on the same data in one run (issue 4).
# See docs/PERFORMANCE.md for what each step measures and how to read the table.
#
#   bench/run.sh                       full size (~1 GB tree, ~150 MB dumps)
#   BENCH_SIZE_MB=100 bench/run.sh     a quick small-scale run
#   BENCH_SCALING=1 bench/run.sh       also 100k / 300k / 1M small files (slow)
#   BENCH_REMOTE=0 bench/run.sh        skip the SFTP and REST runs
#
# Knobs (environment):
#   KHO                 kho binary (default: build-lead/kho, else build/kho)
#   BENCH_DIR           work directory (default /var/tmp/kho-bench)
#   BENCH_SIZE_MB       size of the tree (default 1000)
#   BENCH_ADD_MB        new files in the modified tree (default 5% of the tree)
#   BENCH_CHANGE_PCT    files changed in the modified tree (default 5)
#   BENCH_DELETE_PCT    files deleted in the modified tree (default 1)
#   BENCH_PG_SCALE      pgbench scale (default 15 per 1000 MB of tree, >= 1; ~10 MB of dump each)
#   BENCH_PG_TX         pgbench transactions between the two dumps (default 2000 x scale)
#   BENCH_PG_PORT       first port tried for the private PostgreSQL (default 54329, 127.0.0.1 only)
#   BENCH_TOOLS         tools to run (default "kho restic")
#   BENCH_RUNS          repeat the whole sequence N times, tools taking turns; the
#                       table shows the median per step (default 1)
#   BENCH_RESTORE_FS    loop (default): each restore goes to a fresh ext4 file system
#                       on a loop device in BENCH_DIR; dir: to a directory in BENCH_DIR
#   BENCH_LIMIT_SECONDS seconds per primitive for the per-core limits (default 2)
#   BENCH_SAMPLE_MB     size of the tree sample used for the limits (default 256)
#   BENCH_SCALING=1     run the small-files scaling test
#   BENCH_SCALING_COUNTS  file counts (default "100000 300000 1000000")
#   BENCH_SCALING_TOOLS   tools for the scaling test (default: BENCH_TOOLS)
#   BENCH_REMOTE        1 (default): also back up and restore the tree over SFTP
#                       (a private sshd) and REST (rclone serve restic) on 127.0.0.1
#   BENCH_KEEP=1        keep datasets and repositories (a later run with the same
#                       dataset parameters reuses the datasets)
#   BENCH_NO_INSTALL=1  do not install missing packages
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

if [[ -z ${KHO:-} ]]; then
  for c in "$ROOT/build-lead/kho" "$ROOT/build/kho"; do
    if [[ -x $c ]]; then KHO=$c; break; fi
  done
fi
KHO=${KHO:-}
BENCH_DIR=${BENCH_DIR:-/var/tmp/kho-bench}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1000}
BENCH_ADD_MB=${BENCH_ADD_MB:-$((BENCH_SIZE_MB * 5 / 100))}
BENCH_CHANGE_PCT=${BENCH_CHANGE_PCT:-5}
BENCH_DELETE_PCT=${BENCH_DELETE_PCT:-1}
BENCH_PG_SCALE=${BENCH_PG_SCALE:-$(((BENCH_SIZE_MB * 15 + 999) / 1000))}
BENCH_PG_TX=${BENCH_PG_TX:-$((BENCH_PG_SCALE * 2000))}
BENCH_PG_PORT=${BENCH_PG_PORT:-54329}
BENCH_TOOLS=${BENCH_TOOLS:-"kho restic"}
BENCH_LIMIT_SECONDS=${BENCH_LIMIT_SECONDS:-2}
BENCH_SAMPLE_MB=${BENCH_SAMPLE_MB:-256}
BENCH_SCALING=${BENCH_SCALING:-0}
BENCH_SCALING_COUNTS=${BENCH_SCALING_COUNTS:-"100000 300000 1000000"}
BENCH_SCALING_TOOLS=${BENCH_SCALING_TOOLS:-$BENCH_TOOLS}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_REMOTE=${BENCH_REMOTE:-1}
BENCH_RUNS=${BENCH_RUNS:-1}
BENCH_RESTORE_FS=${BENCH_RESTORE_FS:-loop}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[[ -n $KHO && -x $KHO ]] || die "no kho binary: build it (scripts/build.sh) or set KHO"
KHO=$(realpath "$KHO")
case "$BENCH_DIR" in /|/var|/var/tmp|/tmp|/root|/home|"") die "refusing BENCH_DIR=$BENCH_DIR" ;; esac
(( BENCH_PG_SCALE >= 1 )) || BENCH_PG_SCALE=1
(( BENCH_PG_TX >= 2 )) || BENCH_PG_TX=2

# ---------------------------------------------------------------- packages
install_missing() {
  local pkgs=(restic postgresql time zstd openssl rsync python3 findutils diffutils coreutils e2fsprogs util-linux
    g++ libsodium-dev libzstd-dev libssl-dev libfmt-dev libexpected-dev)
  local missing=() p
  for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
}
[[ ${BENCH_NO_INSTALL:-0} == 1 ]] || install_missing
[[ $(id -u) -eq 0 ]] || die "run as root (the PostgreSQL cluster runs as user postgres via runuser; restores keep owners)"
command -v restic >/dev/null || die "restic is missing"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing"
PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
[[ -n $PGBIN && -x $PGBIN/initdb && -x $PGBIN/pgbench ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
PY=/usr/bin/python3
NCPU=$(nproc)

# ---------------------------------------------------------------- layout
SRC=$BENCH_DIR/src         # pristine datasets
DATA=$BENCH_DIR/data       # the paths that get backed up (contents swapped in place)
REPOS=$BENCH_DIR/repos
RESTORE=$BENCH_DIR/restore
RAW=$BENCH_DIR/raw         # logs and raw measurements (kept)
TREE=$DATA/tree
DUMP=$DATA/dump/db.sql
PGDATA=$BENCH_DIR/pg/data
PGSOCK=$BENCH_DIR/pg/sock
PG_STARTED=0
RESTORE_MOUNT=""
mkdir -p "$BENCH_DIR"
chmod 755 "$BENCH_DIR"

cleanup() {
  local rc=$?
  if [[ $PG_STARTED == 1 ]]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n $RESTORE_MOUNT ]]; then umount "$RESTORE_MOUNT" 2>/dev/null || true; fi
  if [[ $BENCH_KEEP != 1 ]]; then
    rm -f "$BENCH_DIR"/restore-*.img
    rm -rf "$SRC" "$DATA" "$REPOS" "$RESTORE" "${BENCH_DIR:?}/pg" "${BENCH_DIR:?}/restic-cache" "${BENCH_DIR:?}/bin"
  fi
  if ((rc != 0)); then printf 'bench: failed (exit %d); logs in %s\n' "$rc" "$RAW" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for m in "$RESTORE"/*; do if mountpoint -q "$m" 2>/dev/null; then umount "$m"; fi; done
rm -rf "$RAW" "$REPOS" "$RESTORE" "$DATA" "$BENCH_DIR/restic-cache" "$BENCH_DIR"/restore-*.img
mkdir -p "$RAW" "$REPOS" "$RESTORE" "$DATA/dump" "$BENCH_DIR/bin"
# Run a copy of the binary, so a rebuild during the run changes nothing.
cp "$KHO" "$BENCH_DIR/bin/kho.new"
mv -f "$BENCH_DIR/bin/kho.new" "$BENCH_DIR/bin/kho"
KHO_ORIG=$KHO
KHO=$BENCH_DIR/bin/kho
: >"$RAW/steps.tsv"
: >"$RAW/meta.tsv"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$RAW/meta.tsv"; }

meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta host_cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta cores "$NCPU"
meta mem_gib "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -r)"
meta fs "$(findmnt -n -o FSTYPE -T "$BENCH_DIR" 2>/dev/null || echo '?')"
meta kho_version "$("$KHO" version 2>&1 | head -n 1)"
meta kho_binary "$KHO_ORIG ($(stat -c %y "$KHO_ORIG" | cut -d. -f1))"
meta restic_version "$(restic version | head -n 1)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta size_mb "$BENCH_SIZE_MB"
meta pg_scale "$BENCH_PG_SCALE"
meta pg_tx "$BENCH_PG_TX"
meta runs "$BENCH_RUNS"

# ---------------------------------------------------------------- datasets
STAMP="size=$BENCH_SIZE_MB add=$BENCH_ADD_MB change=$BENCH_CHANGE_PCT delete=$BENCH_DELETE_PCT pg=$BENCH_PG_SCALE tx=$BENCH_PG_TX v=1"

free_port() {
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

build_dumps() {
  local port
  port=$(free_port "$BENCH_PG_PORT")
  rm -rf "$BENCH_DIR/pg"
  mkdir -p "$PGDATA" "$PGSOCK"
  chown -R postgres: "$BENCH_DIR/pg"
  chmod 700 "$PGDATA"
  say "PostgreSQL: private cluster on 127.0.0.1:$port (pgbench scale $BENCH_PG_SCALE)"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --no-sync >"$RAW/pg-initdb.log" 2>&1
  PG_STARTED=1
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$BENCH_DIR/pg/server.log" -w -t 120 \
    -o "-p $port -k $PGSOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >"$RAW/pg-start.log" 2>&1
  local conn=(-h 127.0.0.1 -p "$port" -U postgres)
  "$PGBIN/createdb" "${conn[@]}" bench
  "$PGBIN/pgbench" "${conn[@]}" -i -q -s "$BENCH_PG_SCALE" bench >"$RAW/pgbench-init.log" 2>&1
  "$PGBIN/pg_dump" "${conn[@]}" -f "$SRC/dump-day1.sql" bench
  say "PostgreSQL: a day of work: $BENCH_PG_TX pgbench transactions"
  "$PGBIN/pgbench" "${conn[@]}" -c 2 -j 2 -t $((BENCH_PG_TX / 2)) bench >"$RAW/pgbench-run.log" 2>&1
  "$PGBIN/pg_dump" "${conn[@]}" -f "$SRC/dump-day2.sql" bench
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  PG_STARTED=0
  rm -rf "$BENCH_DIR/pg"
  # The nightly dump lands at the same path each night, written at a fixed hour.
  touch -d "2024-05-01 02:00:00" "$SRC/dump-day1.sql"
  touch -d "2024-05-02 02:00:00" "$SRC/dump-day2.sql"
}

build_datasets() {
  rm -rf "$SRC"
  mkdir -p "$SRC"
  say "tree: selecting ~$BENCH_SIZE_MB MB from /usr (+ $BENCH_ADD_MB MB for the modified copy)"
  "$PY" "$HERE/mkdata.py" select "$BENCH_SIZE_MB" "$BENCH_ADD_MB" "$SRC/tree.list" "$SRC/extra.list" >&2
  # rsync -a: symlinks stay symlinks, modes and ns mtimes kept; no hard links (-H not given).
  rsync -a --files-from="$SRC/tree.list" / "$SRC/tree-v1/"
  say "tree: modified copy ($BENCH_CHANGE_PCT% changed, $BENCH_DELETE_PCT% deleted, $BENCH_ADD_MB MB added)"
  cp -a "$SRC/tree-v1" "$SRC/tree-v2"
  "$PY" "$HERE/mkdata.py" mutate "$SRC/tree-v2" "$BENCH_CHANGE_PCT" "$BENCH_DELETE_PCT" >"$SRC/mutate.log"
  cat "$SRC/mutate.log" >&2
  rsync -a --files-from="$SRC/extra.list" / "$SRC/tree-v2/"
  build_dumps
  echo "$STAMP" >"$SRC/.stamp"
}

if [[ -f $SRC/.stamp && $(cat "$SRC/.stamp") == "$STAMP" ]]; then
  say "reusing the datasets in $SRC"
else
  build_datasets
fi

tree_stats() {  # DIR -> "files dirs symlinks bytes"
  find "$1" -printf '%y %s\n' | awk '$1=="f"{f++; b+=$2} $1=="d"{d++} $1=="l"{l++} END{printf "%d %d %d %d\n", f, d, l, b}'
}
read -r v1_files v1_dirs v1_links v1_bytes < <(tree_stats "$SRC/tree-v1")
read -r v2_files v2_dirs v2_links v2_bytes < <(tree_stats "$SRC/tree-v2")
meta tree_files "$v1_files"; meta tree_dirs "$v1_dirs"; meta tree_symlinks "$v1_links"; meta tree_bytes "$v1_bytes"
meta tree2_files "$v2_files"; meta tree2_dirs "$v2_dirs"; meta tree2_symlinks "$v2_links"; meta tree2_bytes "$v2_bytes"
meta mutate "$(cat "$SRC/mutate.log" 2>/dev/null || echo '?')"
meta dump1_bytes "$(stat -c %s "$SRC/dump-day1.sql")"
meta dump2_bytes "$(stat -c %s "$SRC/dump-day2.sql")"
say "tree: $v1_files files, $v1_dirs dirs, $v1_links symlinks, $((v1_bytes / 1000000)) MB; modified: $v2_files files, $((v2_bytes / 1000000)) MB"
say "dumps: day 1 $(($(stat -c %s "$SRC/dump-day1.sql") / 1000000)) MB, day 2 $(($(stat -c %s "$SRC/dump-day2.sql") / 1000000)) MB"

# Warm cache: everything is read once before it is measured (nothing is dropped).
warm() { find "$@" -type f -print0 | xargs -0 -r cat >/dev/null; }

# ---------------------------------------------------------------- per-core limits
say "per-core limits (one thread each)"
LIMITS_BIN=$BENCH_DIR/bin/limits
SAMPLE=$BENCH_DIR/bin/sample.bin
if g++ -std=c++20 -O2 -I"$ROOT/src" "$HERE/limits.cpp" "$ROOT/src/kho/chunker/fastcdc.cpp" "$ROOT/src/kho/util/error.cpp" \
  "$ROOT/src/kho/crypto/crypto.cpp" "$ROOT/src/kho/util/secret.cpp" \
  -o "$LIMITS_BIN" -lsodium -lzstd -lcrypto -lfmt 2>"$RAW/limits-build.log"; then
  :
else
  say "could not build bench/limits.cpp (see $RAW/limits-build.log); only the CLI figures are reported"
  LIMITS_BIN=""
fi
# The sample: every k-th file of the tree (in path order) until BENCH_SAMPLE_MB.
k=$(((v1_bytes / 1000000 + BENCH_SAMPLE_MB - 1) / BENCH_SAMPLE_MB))
((k >= 1)) || k=1
(
  set +o pipefail  # head closes the pipe early
  cd "$SRC/tree-v1" && find . -type f -print0 | sort -z | awk -v RS='\0' -v ORS='\0' -v k="$k" 'NR % k == 0' |
    xargs -0 -r cat 2>/dev/null | head -c $((BENCH_SAMPLE_MB * 1000000)) >"$SAMPLE"
)
meta sample_bytes "$(stat -c %s "$SAMPLE")"
if [[ -n $LIMITS_BIN ]]; then
  "$LIMITS_BIN" "$SAMPLE" "$BENCH_LIMIT_SECONDS" "$SRC/tree-v1" >"$RAW/limits.json" 2>"$RAW/limits.err"
else
  echo '{}' >"$RAW/limits.json"
fi
# Cross-checks with the stock command-line tools.
zstd -b3 -T1 -B1048576 -i"$BENCH_LIMIT_SECONDS" "$SAMPLE" >"$RAW/zstd-b3.log" 2>&1 || true
meta cli_zstd3 "$(tr '\r' '\n' <"$RAW/zstd-b3.log" | grep -o '[0-9.]* MB/s, *[0-9.]* MB/s' | tail -n 1)"
for alg in blake2b512 chacha20-poly1305; do
  meta "cli_openssl_$alg" "$(openssl speed -evp "$alg" -bytes 1048576 -seconds "$BENCH_LIMIT_SECONDS" 2>/dev/null |
    tail -n 1 | awk '{v=$NF; sub(/k$/, "", v); printf "%.1f", v/1000}')"
done
# Read from page cache: the whole tree with cat, after a warming pass (a cross-check
# of limits' read_tree: cat maps and unmaps a buffer per file, dear in a VM).
warm "$SRC/tree-v1"
# shellcheck disable=SC2016
/usr/bin/time -f "%e" -o "$RAW/read.time" sh -c 'find "$1" -type f -print0 | xargs -0 -r cat >/dev/null' sh "$SRC/tree-v1"
meta read_page_cache_s "$(tail -n 1 "$RAW/read.time")"
rm -f "$SAMPLE"

# ---------------------------------------------------------------- tools
export KHO_PASSWORD=kho-bench-password
export RESTIC_PASSWORD=kho-bench-password
export RESTIC_CACHE_DIR=$BENCH_DIR/restic-cache
unset KHO_PASSWORD_FILE KHO_REPOSITORY RESTIC_REPOSITORY RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND

# step TOOL STEP REPO COMMAND...: runs COMMAND under GNU time, records wall, user,
# sys, peak RSS and the repository's size afterwards.
RUN=1
step() {
  local tool=$1 name=$2 repo=$3
  shift 3
  local log=$RAW/$tool-$name-r$RUN
  sync
  if ! /usr/bin/time -f "%e %U %S %M" -o "$log.time" "$@" >"$log.out" 2>"$log.err"; then
    tail -n 20 "$log.err" >&2
    die "$tool $name failed: $*"
  fi
  local wall user sys rss size
  read -r wall user sys rss < <(tail -n 1 "$log.time")
  size=$(du -sb "$repo" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$RUN" "$wall" "$user" "$sys" "$rss" "$size" >>"$RAW/steps.tsv"
  printf '    %-7s %-18s wall %8.2f s   cpu %8.2f s   rss %7.1f MiB   repo %9.1f MiB\n' "$tool" "$name" "$wall" \
    "$(echo "$user $sys" | awk '{print $1+$2}')" "$(echo "$rss" | awk '{print $1/1024}')" \
    "$(echo "$size" | awk '{print $1/1048576}')" >&2
}

tool_cmd() {  # TOOL REPO ACTION [ARGS...] -> the command line, in array CMD
  local tool=$1 repo=$2 action=$3
  shift 3
  case "$tool:$action" in
    kho:init) CMD=("$KHO" -r "$repo" --no-progress init) ;;
    kho:backup) CMD=("$KHO" -r "$repo" --no-progress --json backup "$@") ;;
    kho:restore) CMD=("$KHO" -r "$repo" --no-progress restore latest --target "$@") ;;
    kho:check) CMD=("$KHO" -r "$repo" --no-progress check --read-data) ;;
    restic:init) CMD=(restic -r "$repo" init --repository-version 2) ;;
    restic:backup) CMD=(restic -r "$repo" --json -q backup "$@") ;;
    restic:restore) CMD=(restic -r "$repo" restore latest --target "$@") ;;
    restic:check) CMD=(restic -r "$repo" check --read-data) ;;
    *) die "unknown tool action $tool:$action" ;;
  esac
}

listing() {  # DIR: type, mode, owner, ns mtime, size (not of dirs), name, symlink target; sorted
  (cd "$1" && {
    find . -type d -printf '%y %m %U:%G %T@ - %P\n'
    find . ! -type d -printf '%y %m %U:%G %T@ %s %P -> %l\n'
  } | sort)
}

verify() {  # TOOL SOURCE RESTORED
  local tool=$1 src=$2 dst=$3 out result
  out=$RAW/verify-$tool-r$RUN.diff
  if [[ ! -d $dst ]]; then
    result="FAILED: $dst does not exist"
  else
    : >"$out"
    listing "$src" >"$RAW/listing-source.txt"
    listing "$dst" >"$RAW/listing-$tool.txt"
    diff "$RAW/listing-source.txt" "$RAW/listing-$tool.txt" >>"$out" || true
    diff -r --no-dereference -q "$src" "$dst" >>"$out" 2>&1 || true
    if [[ -s $out ]]; then
      result="DIFFERENT: $(grep -c '^[<>]' "$out" || true) metadata lines, $(grep -c '^Files .* differ$\|^Only in' "$out" || true) content differences (see $out)"
    else
      result="identical: $(wc -l <"$RAW/listing-source.txt") entries, content + type, mode, owner, size, ns mtime, symlink target"
    fi
  fi
  meta "verify_${tool}_r$RUN" "$result"
  say "verify $tool restore: $result"
}

# A fresh, empty file system for each restore: file creation on a long-used ext4
# (many recently deleted inodes) costs several times more kernel time than on a
# new one, which would measure the disk's history rather than the tool.
restore_target() {  # TOOL -> RESTORE_TARGET (an empty directory)
  local tool=$1 mnt=$RESTORE/$1 img=$BENCH_DIR/restore-$1.img
  mkdir -p "$mnt"
  if [[ $BENCH_RESTORE_FS == loop ]]; then
    rm -f "$img"
    truncate -s $((v2_bytes * 3 + 2000000000)) "$img"
    if mkfs.ext4 -q -F -i 8192 -E lazy_itable_init=0,lazy_journal_init=0 "$img" >"$RAW/mkfs.log" 2>&1 &&
      mount -o loop "$img" "$mnt" 2>>"$RAW/mkfs.log"; then
      RESTORE_MOUNT=$mnt
      meta restore_fs "fresh ext4 on a loop device (file in $BENCH_DIR)"
    else
      say "cannot mount a loop file system (see $RAW/mkfs.log): restoring to a directory"
      rm -f "$img"
      BENCH_RESTORE_FS=dir
    fi
  fi
  [[ $BENCH_RESTORE_FS == loop ]] || meta restore_fs "directory in $BENCH_DIR ($(findmnt -n -o FSTYPE -T "$BENCH_DIR"))"
  RESTORE_TARGET=$mnt/target
  mkdir -p "$RESTORE_TARGET"
}

restore_target_done() {  # TOOL
  if [[ -n $RESTORE_MOUNT ]]; then
    umount "$RESTORE_MOUNT"
    RESTORE_MOUNT=""
    rm -f "$BENCH_DIR/restore-$1.img"
  fi
  rm -rf "${RESTORE:?}/$1"
}

run_tool() {  # TOOL: every step, in order, on fresh repositories
  local tool=$1 tree_repo dump_repo
  say "$tool (run $RUN of $BENCH_RUNS)"
  tree_repo=$REPOS/$tool-tree
  dump_repo=$REPOS/$tool-dump
  rm -rf "$tree_repo" "$dump_repo"
  # Both tools back up the same path; its content is swapped in place between
  # steps, so each sees the previous snapshot of that path as the parent.
  rsync -a --delete "$SRC/tree-v1/" "$TREE/"
  warm "$TREE"
  tool_cmd "$tool" "$tree_repo" init; step "$tool" init "$tree_repo" "${CMD[@]}"
  tool_cmd "$tool" "$tree_repo" backup "$TREE"; step "$tool" backup-first "$tree_repo" "${CMD[@]}"
  tool_cmd "$tool" "$tree_repo" backup "$TREE"; step "$tool" backup-unchanged "$tree_repo" "${CMD[@]}"
  rsync -a --delete "$SRC/tree-v2/" "$TREE/"
  warm "$TREE"
  tool_cmd "$tool" "$tree_repo" backup "$TREE"; step "$tool" backup-changed "$tree_repo" "${CMD[@]}"

  tool_cmd "$tool" "$dump_repo" init; "${CMD[@]}" >"$RAW/$tool-dump-init-r$RUN.log" 2>&1
  cp -p "$SRC/dump-day1.sql" "$DUMP"
  warm "$DUMP"
  tool_cmd "$tool" "$dump_repo" backup "$DUMP"; step "$tool" dump-day1 "$dump_repo" "${CMD[@]}"
  cp -p "$SRC/dump-day2.sql" "$DUMP"
  warm "$DUMP"
  tool_cmd "$tool" "$dump_repo" backup "$DUMP"; step "$tool" dump-day2 "$dump_repo" "${CMD[@]}"

  restore_target "$tool"
  tool_cmd "$tool" "$tree_repo" restore "$RESTORE_TARGET"; step "$tool" restore "$tree_repo" "${CMD[@]}"
  tool_cmd "$tool" "$tree_repo" check; step "$tool" check-read-data "$tree_repo" "${CMD[@]}"
  verify "$tool" "$TREE" "$RESTORE_TARGET$TREE"
  restore_target_done "$tool"
  if [[ $BENCH_KEEP != 1 || $RUN -lt $BENCH_RUNS ]]; then rm -rf "$tree_repo" "$dump_repo"; fi
}

# With BENCH_RUNS > 1 the tools take turns so that background load hits both
# alike, and which goes first alternates (kho, restic, restic, kho, kho, restic,
# ...): the first of a pair meets the machine as the last step left it (memory
# freed long ago, a cold file system), the second as the first left it. The
# report shows the median of the runs.
read -r -a order <<<"$BENCH_TOOLS"
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
  if ((RUN % 2 == 0)); then
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do run_tool "${order[i]}"; done
  else
    for tool in "${order[@]}"; do run_tool "$tool"; done
  fi
done
RUN=1

# ---------------------------------------------------------------- remote
# The tree backed up and restored over SFTP (a private sshd) and REST (rclone
# serve restic), both on 127.0.0.1, with the servers from tests/servers/.
if [[ $BENCH_REMOTE == 1 ]]; then
  SERVERS=$BENCH_DIR/servers
  rm -rf "$SERVERS"
  mkdir -p "$SERVERS"
  stop_servers() {
    bash "$ROOT/tests/servers/sshd.sh" stop "$SERVERS/sshd" >/dev/null 2>&1 || true
    bash "$ROOT/tests/servers/rclone.sh" stop "$SERVERS/rclone" >/dev/null 2>&1 || true
  }
  trap 'stop_servers; cleanup' EXIT
  bash "$ROOT/tests/servers/sshd.sh" start "$SERVERS/sshd" >"$RAW/sshd-start.log" 2>&1 ||
    die "cannot start sshd (see $RAW/sshd-start.log)"
  bash "$ROOT/tests/servers/rclone.sh" start "$SERVERS/rclone" >"$RAW/rclone-start.log" 2>&1 ||
    die "cannot start rclone serve restic (see $RAW/rclone-start.log)"
  SSH_PORT=$(cat "$SERVERS/sshd/port")
  REST_PORT=$(cat "$SERVERS/rclone/port")
  KHO_SFTP=(-o "sftp.identity=$SERVERS/sshd/id_ed25519" -o "sftp.known_hosts=$SERVERS/sshd/known_hosts")
  RESTIC_SFTP=(-o "sftp.command=ssh -F $SERVERS/sshd/ssh_config kho-test-sshd -s sftp")
  rsync -a --delete "$SRC/tree-v1/" "$TREE/"
  warm "$TREE"
  for backend in sftp rest; do
    for tool in $BENCH_TOOLS; do
      say "$tool over $backend"
      case "$backend:$tool" in
        sftp:kho) loc="sftp://127.0.0.1:$SSH_PORT$REPOS/sftp-kho"; dir=$REPOS/sftp-kho; opts=("${KHO_SFTP[@]}") ;;
        sftp:restic) loc="sftp:127.0.0.1:$REPOS/sftp-restic"; dir=$REPOS/sftp-restic; opts=("${RESTIC_SFTP[@]}") ;;
        rest:*) loc="rest:http://127.0.0.1:$REST_PORT/$tool"; dir=$SERVERS/rclone/data/$tool; opts=() ;;
      esac
      rm -rf "$dir"
      [[ $backend == rest ]] || mkdir -p "$(dirname "$dir")"
      tool_cmd "$tool" "$loc" init; "${CMD[0]}" "${opts[@]}" "${CMD[@]:1}" >"$RAW/$tool-$backend-init.log" 2>&1 ||
        die "$tool init over $backend failed (see $RAW/$tool-$backend-init.log)"
      tool_cmd "$tool" "$loc" backup "$TREE"; step "$tool" "$backend-backup" "$dir" "${CMD[0]}" "${opts[@]}" "${CMD[@]:1}"
      restore_target "$tool"
      tool_cmd "$tool" "$loc" restore "$RESTORE_TARGET"; step "$tool" "$backend-restore" "$dir" "${CMD[0]}" "${opts[@]}" "${CMD[@]:1}"
      restore_target_done "$tool"
      rm -rf "$dir"
    done
  done
  stop_servers
fi

# ---------------------------------------------------------------- scaling
if [[ $BENCH_SCALING == 1 ]]; then
  SMALL=$DATA/small
  for n in $BENCH_SCALING_COUNTS; do
    say "scaling: $n small files"
    rm -rf "$SMALL"
    "$PY" "$HERE/mkdata.py" smallfiles "$SMALL" "$n"
    warm "$SMALL"
    for tool in $BENCH_SCALING_TOOLS; do
      repo=$REPOS/$tool-scale
      rm -rf "$repo"
      tool_cmd "$tool" "$repo" init; "${CMD[@]}" >"$RAW/$tool-scale-$n-init.log" 2>&1
      tool_cmd "$tool" "$repo" backup "$SMALL"; step "$tool" "scale-$n" "$repo" "${CMD[@]}"
      rm -rf "$repo"
    done
  done
  rm -rf "$SMALL"
fi

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report
"$PY" "$HERE/report.py" "$BENCH_DIR"
