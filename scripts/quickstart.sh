#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what is missing, builds kho,
# and runs it on the bundled example: init, backup, snapshots, restore, check,
# then the live example portal (PostgreSQL + web service) backed up by its
# policy, its recovery rehearsed (kho drill), attacked and recovered with its
# runbook (scripts/run-example.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --example
scripts/build.sh -DKHO_BUILD_TESTS=OFF
KHO=./build/kho scripts/run-example.sh
