#!/usr/bin/env bash
# Makes the OTLP receiver's Python environment (tests/otel/.venv) from requirements.txt, when it
# is missing or the pinned versions changed. Safe to run again; tests/traces.rs runs it first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "otel: installing python3-venv" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq python3-venv >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# (Re)install when the pinned versions changed since the venv was filled.
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2
  cp "$HERE/requirements.txt" "$VENV/.requirements"
fi
