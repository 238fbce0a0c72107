#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what is missing (build and
# test dependencies), builds kho with warnings as errors and runs every test (unit
# and end-to-end) with CTest. Then, in two more builds:
#   - clang with ASan + UBSan: every test again, and a regression pass of each
#     libFuzzer target over its corpus (fuzz/, label fuzz);
#   - ThreadSanitizer: the threaded unit tests and the end-to-end tests of the
#     parallel pipeline and the scheduler (label tsan).
#   KHO_SKIP_SANITIZE=1   skip both sanitizer builds
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
scripts/build.sh -DKHO_WERROR=ON -DKHO_BUILD_TESTS=ON
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 1200)
if [[ "${KHO_SKIP_SANITIZE:-0}" != 1 ]]; then
  KHO_BUILD_DIR=build-asan KHO_BUILD_TYPE=Debug scripts/build.sh -DCMAKE_CXX_COMPILER=clang++-14 -DKHO_WERROR=ON \
    -DKHO_BUILD_TESTS=ON -DKHO_BUILD_BENCH=OFF -DKHO_SANITIZE="address;undefined" -DKHO_FUZZ=ON
  # Unoptimised sanitizer frames are several times larger: the walks of the
  # 2048-level tree test need more than the usual 8 MiB of stack (threads too).
  (cd build-asan && ulimit -s 65536 && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$(nproc)" --timeout 1800)
  KHO_BUILD_DIR=build-tsan KHO_BUILD_TYPE=Debug scripts/build.sh -DKHO_WERROR=ON -DKHO_BUILD_TESTS=ON \
    -DKHO_BUILD_BENCH=OFF -DKHO_SANITIZE=thread
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest -L tsan --output-on-failure -j"$(nproc)" --timeout 1800)
fi
