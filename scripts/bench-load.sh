#!/usr/bin/env bash
# Load run of complete brokered SAML logins against the release build of poort on its embedded
# defaults, poort's own CPU per login (from /proc/PID/stat), its resident memory idle and with
# 10,000 pending flows, and the RSA-2048 floor measured in the same run. See BENCHMARKS.md.
#
#   scripts/bench-load.sh [loadgen options]      e.g. --concurrency 8 --seconds 30
#   scripts/bench-load.sh --protocol saml|oidc|artifact    (saml by default; artifact: the
#     scheme's Artifact-Artifact login, peers' ArtifactResolutionServices served by loadgen,
#     `--backchannel http|tls|tls-close|tls-full` for poort's side of the back channel)
#   scripts/bench-load.sh --replicas 2 --seconds 60     (issue 11: two replicas sharing a fresh
#     PostgreSQL database on 127.0.0.1:5432 (`--postgres URL` for another server) and a throwaway
#     redis-server (`--redis URL` for another); every step of a login on the other replica)
#   scripts/bench-load.sh --tracing-pairs 2 --seconds 40   (issue 11: phases with tracing off
#     and on in turn, OTLP/HTTP to a receiver in loadgen, sampling 1.0; poort CPU per login)
#   scripts/bench-load.sh --protocol artifact --session-pairs 2   (issue 15: first logins through
#     the AD and second logins answered from poort's login session, in turn, on one poort whose
#     service 2 has sso_support = true; a new connection for every request)
#
# Bounded: up to 45 s waiting for a quiet machine, about 30 s of load, 10,000 pending flows,
# 2 x 3 s of RSA: under 3 minutes once built (a timeout enforces it). Loopback only. On a shared 2-core machine, look at the "machine busy" and "other" lines:
# figures taken while something else ran are not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin poort --examples
clk_tck="$(getconf CLK_TCK)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
  "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); cores: $(nproc); CLK_TCK: ${clk_tck}"
# An Artifact-Artifact login costs several SAML logins (its 10,000 pending flows are each
# resolved at the DV, and its crypto floor has two more phases): give it more time.
limit=170
case " $* " in *" artifact "*) limit=420 ;; esac
# Operations runs are series of phases (each up to --seconds, 600 at most): bound them at an hour.
case " $* " in *" --replicas "* | *" --tracing-pairs "*) limit=3600 ;; esac
# Session runs: 2K phases of --seconds, each after up to 45 s waiting for quiet.
case " $* " in *" --session-pairs "*) limit=1800 ;; esac
exec timeout "$limit" "$target/release/examples/loadgen" \
  --poort "$target/release/poort" --repo "$PWD" --clk-tck "$clk_tck" \
  --concurrency 8 --seconds 30 --warmup 200 --flows 10000 --crypto-seconds 3 --wait-quiet 45 "$@"
