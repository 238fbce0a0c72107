#!/usr/bin/env bash
# Builds and runs kho's libFuzzer targets (fuzz/fuzz_*.cpp) with clang-14,
# ASan and UBSan. See docs/TESTING.md, "Fuzzing".
#
#   scripts/fuzz.sh build                     configure and build every target
#   scripts/fuzz.sh run [SECONDS] [TARGET...] fuzz each target for SECONDS (default 600),
#                                             one after the other; new inputs go to a work
#                                             corpus in the build tree, crashes to its artifacts
#   scripts/fuzz.sh regress [SECONDS]         replay every checked-in corpus, then fuzz each
#                                             target SECONDS (default 20); non-zero on any failure
#   scripts/fuzz.sh merge TARGET              merge the work corpus of TARGET into
#                                             fuzz/corpus/TARGET (adds only inputs reaching new edges)
#   scripts/fuzz.sh regress-one BINARY CORPUS SECONDS
#                                             the regression pass of one target (what CTest runs)
#
# TARGET is the name without "fuzz_" (pack_header, tree, policy, ...).
# Environment: KHO_FUZZ_BUILD_DIR (default build-fuzz), KHO_FUZZ_JOBS (build jobs, default 2),
# KHO_FUZZ_FLAGS (extra libFuzzer flags).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${KHO_FUZZ_BUILD_DIR:-$root/build-fuzz}
[[ $build_dir = /* ]] || build_dir=$root/$build_dir

# Inputs that make kho allocate more than 1 GiB at once or grow past 2 GiB count as
# failures: a declared length in hostile bytes must not decide an allocation.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=25)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

targets() {
  local f
  for f in "$root"/fuzz/fuzz_*.cpp; do
    f=${f##*/fuzz_}
    echo "${f%.cpp}"
  done
}

build() {
  CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKHO_FUZZ=ON -DKHO_SANITIZE="address;undefined" -DKHO_BUILD_TESTS=OFF -DKHO_BUILD_BENCH=OFF >/dev/null
  local t names=()
  for t in $(targets); do names+=("fuzz_$t"); done
  cmake --build "$build_dir" -j"${KHO_FUZZ_JOBS:-2}" --target "${names[@]}"
}

# regress_one BINARY CORPUS SECONDS: replays CORPUS, then fuzzes from a copy of it
# (the checked-in corpus is never written to).
regress_one() (
  bin=$1 corpus=$2 seconds=$3
  [[ -d $corpus ]] || { echo "no corpus $corpus" >&2; exit 1; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/kho-fuzz-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/corpus" "$work/artifacts"
  echo "== $(basename "$bin"): replaying $(find "$corpus" -type f | wc -l) inputs"
  "$bin" "${limits[@]}" -runs=0 -artifact_prefix="$work/artifacts/" "$corpus" || exit 1
  if ((seconds > 0)); then
    echo "== $(basename "$bin"): fuzzing ${seconds}s"
    cp -r "$corpus"/. "$work/corpus/"
    # shellcheck disable=SC2086
    "$bin" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
      ${KHO_FUZZ_FLAGS:-} "$work/corpus" || {
      cp -r "$work/artifacts" "$bin.artifacts" && echo "failing input kept in $bin.artifacts/" >&2
      exit 1
    }
  fi
)

cmd=${1:-regress}
shift || true
case $cmd in
  build) build ;;
  run)
    seconds=600
    if [[ ${1:-} =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
    build
    list=("$@")
    ((${#list[@]})) || mapfile -t list < <(targets)
    status=0
    for t in "${list[@]}"; do
      work=$build_dir/fuzz-work/$t
      mkdir -p "$work/corpus" "$work/artifacts"
      echo "== fuzz_$t: ${seconds}s (corpus $work/corpus, crashes in $work/artifacts)"
      # shellcheck disable=SC2086
      "$build_dir/fuzz/fuzz_$t" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" ${KHO_FUZZ_FLAGS:-} "$work/corpus" "$root/fuzz/corpus/$t" || status=1
    done
    exit $status
    ;;
  regress)
    seconds=${1:-20}
    build
    failed=()
    for t in $(targets); do
      regress_one "$build_dir/fuzz/fuzz_$t" "$root/fuzz/corpus/$t" "$seconds" || failed+=("$t")
    done
    if ((${#failed[@]})); then
      echo "fuzz regression FAILED: ${failed[*]}" >&2
      exit 1
    fi
    echo "fuzz regression passed: $(targets | wc -l) targets"
    ;;
  regress-one) regress_one "$@" ;;
  merge)
    t=${1:?target name}
    # Only inputs that reach new edges are added (hit counts and value profiles
    # are left out), which keeps the checked-in corpora at a few hundred files.
    "$build_dir/fuzz/fuzz_$t" "${limits[@]}" -merge=1 -use_counters=0 -use_value_profile=0 "$root/fuzz/corpus/$t" \
      "$build_dir/fuzz-work/$t/corpus"
    ;;
  *)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
