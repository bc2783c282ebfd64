#!/usr/bin/env bash
# Runs poort on its embedded defaults with a demo DV and a development AD; open the printed URL.
# The peers speak the scheme's HTTP-Artifact binding (DV-HM and HM-AD Artifact-Artifact): poort
# resolves their artifacts on http://localhost, which config/poort.toml allows ([backchannel]
# allow_plain_http, development only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release -- demo "$@"
