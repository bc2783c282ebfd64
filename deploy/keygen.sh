#!/bin/sh
# poort-keygen: the compose trial's one-shot key maker (image target `keygen`, openssl only).
#
# Makes, once, the keys a production-mode poort needs and would refuse from `poort dev-certs`
# (those carry the DEVELOPMENT ONLY marker): poort's SAML signing and encryption keys with
# self-signed certificates, the pseudonym secret, the OpenID Provider's ID-token keys (RS256 and
# ES256, current and next), the proxy's TLS certificate for localhost, and the PostgreSQL
# password (for the database and, as a pgpass file, for poort). Files that exist are kept, so a
# second `docker compose up` keeps the same keys and pseudonyms. Every file is readable only by
# the user of the container that needs it.
#
# Folders (each a volume of its own, so each container mounts only its own secrets):
#   $OUT/poort   signing.key signing.crt encryption.key encryption.crt pseudonym.secret pgpass
#   $OUT/oidc    current.pem next.pem es256/current.pem es256/next.pem
#   $OUT/proxy   proxy.pem (certificate and key, as HAProxy reads them)
#   $OUT/db      password
#   $OUT/metadata  (when mounted) sp/ and idp/, made writable for `poort demo-peers`
#
# These are trial keys. In production the signing and encryption certificates come from a CA
# the federation accepts (PKIoverheid), and the secrets from the platform's secret store.
set -eu

OUT="${KEYGEN_OUT:-/out}"
POORT_UID="${POORT_UID:-10001}"
PROXY_UID="${PROXY_UID:-10002}"
DB_UID="${DB_UID:-70}"
DB_HOST="${DB_HOST:-postgres}"
DB_PORT="${DB_PORT:-5432}"
DB_NAME="${DB_NAME:-poort}"
DB_USER="${DB_USER:-poort}"
TLS_NAMES="${TLS_NAMES:-DNS:localhost,IP:127.0.0.1}"
DAYS="${KEYGEN_DAYS:-825}"

umask 077
mkdir -p "$OUT/poort" "$OUT/oidc/es256" "$OUT/proxy" "$OUT/db"
# Folders stay root's and searchable; the files in them belong to their reader, mode 0400.
chmod 0755 "$OUT/poort" "$OUT/oidc" "$OUT/oidc/es256" "$OUT/proxy" "$OUT/db"

# own FILE UID: hand a finished file to its reader (only as root; a test run keeps its own).
own() {
  chmod 0400 "$1"
  if [ "$(id -u)" = 0 ]; then chown "$2:$2" "$1"; fi
}

# cert STEM CN KEYUSAGE: an RSA-3072 key and a self-signed certificate for it.
cert() {
  if [ -s "$OUT/poort/$1.key" ] && [ -s "$OUT/poort/$1.crt" ]; then return 0; fi
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$DAYS" \
    -subj "/O=poort trial/CN=$2" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,$3" \
    -keyout "$OUT/poort/$1.key" -out "$OUT/poort/$1.crt" 2>/dev/null
  own "$OUT/poort/$1.key" "$POORT_UID"
  own "$OUT/poort/$1.crt" "$POORT_UID"
  echo "made $1.key and $1.crt"
}

cert signing "poort signing (compose trial)" digitalSignature
cert encryption "poort encryption (compose trial)" "keyEncipherment,dataEncipherment"

if [ ! -s "$OUT/poort/pseudonym.secret" ]; then
  openssl rand -hex 32 >"$OUT/poort/pseudonym.secret"
  own "$OUT/poort/pseudonym.secret" "$POORT_UID"
  echo "made pseudonym.secret"
fi

# The ID-token keys as `poort oidc rotate-keys` keeps them: current and next of each algorithm
# (PKCS#8 PEM). Rotation later: `poort oidc rotate-keys` on this folder.
oidc_key() { # FILE ALGORITHM-OPTIONS...
  file="$1"
  shift
  if [ -s "$file" ]; then return 0; fi
  openssl genpkey "$@" -out "$file" 2>/dev/null
  own "$file" "$POORT_UID"
  echo "made ${file#"$OUT"/}"
}
for name in current next; do
  oidc_key "$OUT/oidc/$name.pem" -algorithm RSA -pkeyopt rsa_keygen_bits:2048
  oidc_key "$OUT/oidc/es256/$name.pem" -algorithm EC -pkeyopt ec_paramgen_curve:P-256
done

if [ ! -s "$OUT/proxy/proxy.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$DAYS" \
    -subj "/O=poort trial/CN=localhost" -addext "subjectAltName=$TLS_NAMES" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$OUT/proxy/proxy.key" -out "$OUT/proxy/proxy.crt" 2>/dev/null
  cat "$OUT/proxy/proxy.crt" "$OUT/proxy/proxy.key" >"$OUT/proxy/proxy.pem"
  rm -f "$OUT/proxy/proxy.key"
  chmod 0444 "$OUT/proxy/proxy.crt"
  own "$OUT/proxy/proxy.pem" "$PROXY_UID"
  echo "made proxy.pem (self-signed, $TLS_NAMES)"
fi

# The database password, for PostgreSQL (POSTGRES_PASSWORD_FILE) and, as a pgpass file
# (PGPASSFILE), for poort, so that no URL carries it. Both are written at once: once handed to
# their readers, not even this (capability-less) root can read them again.
if [ ! -s "$OUT/db/password" ]; then
  password="$(openssl rand -hex 24)"
  printf '%s\n' "$password" >"$OUT/db/password"
  printf '%s:%s:%s:%s:%s\n' "$DB_HOST" "$DB_PORT" "$DB_NAME" "$DB_USER" "$password" \
    >"$OUT/poort/pgpass"
  own "$OUT/db/password" "$DB_UID"
  own "$OUT/poort/pgpass" "$POORT_UID"
  echo "made the database password and pgpass"
elif [ ! -s "$OUT/poort/pgpass" ]; then
  echo "the database password exists but pgpass does not: remove the volumes and start again" >&2
  exit 1
fi
# The shared metadata folder: a fresh volume belongs to root; the demo peers (user $POORT_UID)
# write their metadata into it and the replicas read it.
# Done once: afterwards the folders are no longer root's to change.
if [ -d "$OUT/metadata" ] && [ "$(stat -c %u "$OUT/metadata")" != "$POORT_UID" ]; then
  mkdir -p "$OUT/metadata/sp" "$OUT/metadata/idp"
  chmod 0755 "$OUT/metadata" "$OUT/metadata/sp" "$OUT/metadata/idp"
  if [ "$(id -u)" = 0 ]; then
    chown "$POORT_UID:$POORT_UID" "$OUT/metadata" "$OUT/metadata/sp" "$OUT/metadata/idp"
  fi
fi
echo "keys ready"
