#!/usr/bin/env bash
# Installs everything AttnScope needs on a Debian/Ubuntu machine: the system packages
# the tests and the renderer need (Chromium for browser tests, fonts for labels), and
# the npm dependencies. Safe to run again.
#   ATTNSCOPE_SKIP_APT=1      skip the system packages
#   ELECTRON_SKIP_BINARY_DOWNLOAD=1   never fetch the Electron binary (CI, offline)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chromium fonts-dejavu-core)

if [[ "${ATTNSCOPE_SKIP_APT:-0}" != "1" ]] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    [[ "$(id -u)" != "0" ]] && SUDO="sudo"
    echo "attnscope install: apt packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# The native TensorFlow packages are optional dependencies: their install downloads
# libtensorflow, and where that fails npm leaves them out and the engine uses wasm.
npm ci --no-audit --no-fund

# Electron 45 fetches its binary on demand (`install-electron`), not at npm install.
if [[ "${ELECTRON_SKIP_BINARY_DOWNLOAD:-0}" != "1" ]]; then
  node tools/electron.mjs --install-only || echo "attnscope install: no Electron binary (offline?): the CLI and web mode (npm run serve) work without it."
fi
