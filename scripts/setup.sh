#!/usr/bin/env bash
# Installs what poort needs to build and test on a fresh Debian machine: only what is missing.
# Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(pkg-config libssl-dev libclang-dev libxml2-dev libxmlsec1-dev libxslt1-dev xmlsec1)
if [ "${1:-}" = "--test" ]; then
  # Test peers: Python for pysaml2 (venv made by the interop test itself); redis-server, which
  # the cache tests start and kill themselves; PostgreSQL for the register suite (a throwaway
  # cluster is started by scripts/test-postgres.sh when no server answers); Chromium and
  # chromedriver for the browser tests (tests/browser.rs); the Prometheus project's own client,
  # whose OpenMetrics parser reads poort's /metrics in tests/metrics.rs.
  packages+=(python3-venv redis-server postgresql postgresql-client chromium chromium-driver
    python3-prometheus-client)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust 1.94 or newer (rustup) first" >&2
  exit 1
fi
