#!/usr/bin/env bash
# Register benchmarks of issue 3 (see BENCHMARKS.md, "Register (issue 3)"): generates the
# 1,000,000-grant register into a throwaway SQLite file and a throwaway PostgreSQL database,
# then measures resolution latency (cold from each database, warm from Redis, with and without
# the decision), Redis memory per cached person, and the time from a revocation's commit until
# every one of several processes refuses the login.
#
#   scripts/bench-register.sh                       the full run (about 5 minutes once built)
#   GRANTS=20000 ORGANISATIONS=2000 PERSONS=6000 ROUNDS=20 scripts/bench-register.sh   a quick one
#
# Needs redis-server (Debian's redis-server) and PostgreSQL: $POORT_TEST_POSTGRES, or the local
# server on 127.0.0.1:5432 with trust auth, or a throwaway cluster (scripts/test-postgres.sh).
# Its own Redis on a free port (the memory figures read the whole server), its own databases,
# all removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
ORGANISATIONS="${ORGANISATIONS:-100000}"
PERSONS="${PERSONS:-300000}"
GRANTS="${GRANTS:-1000000}"
SEED="${SEED:-1}"
SAMPLES="${SAMPLES:-20000}"
WARM="${WARM:-20000}"
ROUNDS="${ROUNDS:-200}"
WATCHERS="${WATCHERS:-4}"
# A fixed reference time makes the registers identical from run to run.
NOW="${NOW:-2026-11-22T12:00:00Z}"

command -v redis-server >/dev/null || { echo "bench-register: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
# shellcheck source=scripts/test-postgres.sh
source scripts/test-postgres.sh
# test-postgres.sh may have set an EXIT trap that stops its throwaway cluster: keep it for ours.
pg_stop=""
if existing=$(trap -p EXIT) && [ -n "$existing" ]; then
  existing=${existing#trap -- }
  eval "pg_stop=${existing% EXIT}"
fi

cargo build --release --example register_bench

work=$(mktemp -d /tmp/poort-bench-register.XXXXXX)
db="poort_bench_$$"
pg_admin="$POORT_TEST_POSTGRES"
pg_url="${pg_admin%/*}/$db"
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis_url="redis://127.0.0.1:$redis_port/0"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
  eval "$pg_stop"
}
trap cleanup EXIT
psql "$pg_admin" -qc "CREATE DATABASE $db"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
  "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); cores: $(nproc);" \
  "load: $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | cut -d' ' -f1-3);" \
  "$(psql "$pg_admin" -tAc 'SHOW server_version' | sed 's/^/PostgreSQL /')"
sizes=(--organisations "$ORGANISATIONS" --persons "$PERSONS" --grants "$GRANTS" --seed "$SEED" --now "$NOW")
bin="$target/release/examples"
export RUST_LOG="${RUST_LOG:-info,sqlx=warn}"

echo "== generate: SQLite"
"$bin/register_bench" generate --database "sqlite://$work/register.db" "${sizes[@]}"
ls -l "$work/register.db"
echo "== generate: PostgreSQL"
"$bin/register_bench" generate --database "$pg_url" "${sizes[@]}"
psql "$pg_admin" -tAc "SELECT 'database size: ' || pg_size_pretty(pg_database_size('$db'))"

# Let the writes of the bulk load reach the disk first (PostgreSQL's checkpoint, the kernel's
# writeback of half a gigabyte per database), so they do not land in the middle of the timings.
psql "$pg_url" -qc CHECKPOINT
sync
sleep 5

echo "== resolution latency"
"$bin/register_bench" latency --sqlite "sqlite://$work/register.db" --postgres "$pg_url" \
  --redis "$redis_url" --samples "$SAMPLES" --warm-persons "$WARM" --seed "$SEED"

# Revocations change the registers, so they come last.
echo "== revocation to refusal: SQLite + Redis"
"$bin/register_bench" revoke --database "sqlite://$work/register.db" --redis "$redis_url" \
  --watchers "$WATCHERS" --rounds "$ROUNDS" --seed "$SEED"
echo "== revocation to refusal: PostgreSQL + Redis"
"$bin/register_bench" revoke --database "$pg_url" --redis "$redis_url" \
  --watchers "$WATCHERS" --rounds "$ROUNDS" --seed "$SEED"
echo "== revocation to refusal: PostgreSQL, no Redis (in-process caches fed by the outbox)"
"$bin/register_bench" revoke --database "$pg_url" \
  --watchers "$WATCHERS" --rounds "$ROUNDS" --seed "$((SEED + 1))"
