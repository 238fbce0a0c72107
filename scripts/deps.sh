#!/usr/bin/env bash
# Installs the Debian 12 packages kho needs to build and test, skipping what is present.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --example  also what the live example system needs (scripts/run-example.sh)
#   scripts/deps.sh --test   also the tools and servers the tests drive (the example's included)
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config
  libarchive-dev libzstd-dev libsodium-dev libssh-dev libcli11-dev catch2
  libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libsqlite3-dev
  libcurl4-openssl-dev libssl-dev libexpected-dev tzdata
)
test_pkgs=(rsync attr acl restic openssh-server rclone python3 procps psmisc coreutils findutils
  tar libarchive-tools zip unzip cpio gzip zstd xz-utils time sqlite3 openssl chromium util-linux
  clang-14 libclang-rt-14-dev)
# examples/system: PostgreSQL 15 (Debian 12's), the web service, the HTTP checks.
example_pkgs=(postgresql-15 postgresql-client-15 python3 curl util-linux)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --test) want+=("${test_pkgs[@]}" "${example_pkgs[@]}") ;;
  --example) want+=("${example_pkgs[@]}") ;;
  "") ;;
  *)
    echo "usage: scripts/deps.sh [--example | --test]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "Installing: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
