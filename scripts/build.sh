#!/usr/bin/env bash
# Configures and builds kho in ./build (or $KHO_BUILD_DIR). Extra arguments go to cmake.
#   KHO_UNITY=0   compile each source file on its own. By default the files are
#                 compiled eight to a unit (CMake's unity build), which halves a full
#                 build on two cores; an edit then recompiles its whole unit.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${KHO_BUILD_DIR:-build}
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8)
[[ "${KHO_UNITY:-1}" == 0 ]] && unity=(-DCMAKE_UNITY_BUILD=OFF)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${KHO_BUILD_TYPE:-RelWithDebInfo}" "${unity[@]}" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
