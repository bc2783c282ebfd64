#!/usr/bin/env bash
# Sourced by scripts/test.sh: makes sure POORT_TEST_POSTGRES names a PostgreSQL maintenance
# database the tests may create databases in (trust auth). Uses $POORT_TEST_POSTGRES when set,
# else the local server on 127.0.0.1:5432 when it lets user postgres in without a password, else
# starts a throwaway cluster (trust auth, free port, data in a temporary folder) and stops it
# when the calling shell exits.

poort_pg_answers() {
  psql "$1" -tAqc 'SELECT 1' >/dev/null 2>&1
}

if [ -z "${POORT_TEST_POSTGRES:-}" ]; then
  if poort_pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    export POORT_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/postgres"
  else
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bindir" ]; then
      echo "test-postgres: no PostgreSQL server found (run scripts/setup.sh --test)" >&2
      return 1 2>/dev/null || exit 1
    fi
    pgdir=$(mktemp -d /tmp/poort-pg.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg=()
    if [ "$(id -u)" -eq 0 ]; then
      # PostgreSQL refuses to run as root.
      chown postgres "$pgdir"
      as_pg=(runuser -u postgres --)
    fi
    "${as_pg[@]}" "$bindir/initdb" -D "$pgdir/data" -U postgres --auth=trust >/dev/null
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
      -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
    trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
    export POORT_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
    echo "test-postgres: started a throwaway cluster on port $port"
  fi
fi
if ! poort_pg_answers "$POORT_TEST_POSTGRES"; then
  echo "test-postgres: PostgreSQL does not answer at $POORT_TEST_POSTGRES" >&2
  return 1 2>/dev/null || exit 1
fi
