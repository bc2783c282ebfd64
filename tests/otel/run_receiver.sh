#!/usr/bin/env bash
# Runs the OTLP receiver (receiver.py) in its venv, made first if need be:
#   tests/otel/run_receiver.sh --out spans.jsonl [--grpc-port N] [--http-port N]
# prints "grpc=PORT http=PORT" once it listens (127.0.0.1 only), then appends every span it
# receives to the --out file as a JSON line, until SIGTERM or SIGINT.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/setup.sh"
exec "$HERE/.venv/bin/python" "$HERE/receiver.py" "$@"
