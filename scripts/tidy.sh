#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) on every source file under src/.
# Exits non-zero on any finding. Needs the build dependencies and clang-tidy-14.
#   scripts/tidy.sh              all of src/
#   scripts/tidy.sh FILE...      only these files
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${KHO_TIDY_DIR:-build-tidy}
# Precompiled headers are off: clang-tidy reads each file as written.
cmake -S . -B "$build_dir" -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DKHO_BUILD_TESTS=OFF -DKHO_BUILD_BENCH=OFF \
  >/dev/null
if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(find src -name '*.cpp' | sort)
fi
run-clang-tidy-14 -quiet -p "$build_dir" -j "$(nproc)" "${files[@]/#/$PWD/}"
