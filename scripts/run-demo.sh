#!/usr/bin/env bash
# Runs poort on its embedded defaults with a demo DV and a development AD; open the printed URL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release -- demo "$@"
