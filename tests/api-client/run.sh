#!/usr/bin/env bash
# The generated-client test: openapi-python-client (pinned in requirements.txt, installed here
# into a venv of this folder) generates a Python client from poort's OpenAPI document, and that
# client lists members and adds a grant, and asks for and approves a request in a person's
# own API (/api/v1/me), against a running poort. The Rust test
# tests/api_client.rs starts poort, logs in and runs test_client.py and test_me.py (both
# generate the client through generate.py); it is ignored by a plain
# `cargo test` (it needs this venv) and run here. Ends with cargo's summary; exits non-zero on
# any failure.
#
#   tests/api-client/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
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

export API_CLIENT_PYTHON="$VENV/bin/python"
cd "$ROOT"
exec cargo test --test api_client -- --ignored
