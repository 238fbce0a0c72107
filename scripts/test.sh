#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what is missing (build and
# test dependencies), builds kho with warnings as errors, runs every test (unit
# and end-to-end) with CTest, then runs the unit tests again in an ASan+UBSan build.
#   KHO_SKIP_SANITIZE=1   skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
scripts/build.sh -DKHO_WERROR=ON -DKHO_BUILD_TESTS=ON
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 1200)
if [[ "${KHO_SKIP_SANITIZE:-0}" != 1 ]]; then
  KHO_BUILD_DIR=build-asan KHO_BUILD_TYPE=Debug scripts/build.sh -DKHO_WERROR=ON -DKHO_BUILD_TESTS=ON \
    -DKHO_SANITIZE="address;undefined"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$(nproc)" --timeout 1800)
fi
