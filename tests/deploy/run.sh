#!/usr/bin/env bash
# The deployment kit's test: parses every manifest under deploy/ (compose, the collector's
# config, Kubernetes) and checks what each must hold. Ends with pytest's summary line; exits
# non-zero on any failure.
#
#   tests/deploy/run.sh              # every check
#   tests/deploy/run.sh -k compose   # only checks whose name contains "compose"
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "installing python3-venv" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y python3-venv >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# (Re)install when the pinned versions changed since the venv was filled.
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2
  cp "$HERE/requirements.txt" "$VENV/.requirements"
fi

cd "$HERE"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" test_deploy.py
