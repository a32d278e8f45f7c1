#!/usr/bin/env bash
# Installs what torii needs to build, test and bench, and only what is missing.
# Debian packages through apt-get; test clients through `npm ci` from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev ca-certificates libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  nginx-light wrk python3 openssl
  libhiredis-dev redis-server libpcre2-dev
  libsqlite3-dev sqlite3 libre2-dev prometheus-cpp-dev python3-prometheus-client
  libsodium-dev jq libvalijson-dev libhnswlib-dev
)
# Node may come from elsewhere than Debian (nodesource's nodejs ships its own npm, and Debian's
# npm package conflicts with it): install Debian's only when the commands are missing.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The official SDKs the client tests use, pinned by package-lock.json.
stamp=node_modules/.torii-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The tokenizer's BPE tables (data/tokenizer), extracted from the pinned js-tiktoken package:
# again only when missing or older than the lockfile.
tok=data/tokenizer
if [ ! -s "$tok/o200k_base.tiktoken" ] || [ ! -s "$tok/cl100k_base.tiktoken" ] ||
  [ "$tok/o200k_base.tiktoken" -ot package-lock.json ] || [ "$tok/cl100k_base.tiktoken" -ot package-lock.json ]; then
  node scripts/extract_ranks.mjs "$tok"
fi
