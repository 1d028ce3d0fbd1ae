#!/usr/bin/env bash
# Installs the Debian packages Shoal builds and tests with, if missing.
# Needs root (or sudo) only when something is actually missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libzmq3-dev libczmq-dev
      libmsgpack-dev liblmdb-dev lmdb-utils libjansson-dev clang
      libclang-rt-dev clang-format valgrind procps jq
      iproute2 nftables   # the network namespace test
      python3-zmq python3-msgpack)  # the Python worker example and its test
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "shoal: installing missing packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
