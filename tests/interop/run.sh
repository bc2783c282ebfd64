#!/usr/bin/env bash
# Interop test: poort between a pysaml2 DV and a pysaml2 AD, and xmlsec1 checking poort's
# signatures. Ends with a line "N passed, M failed"; exits non-zero on any failure.
#
#   tests/interop/run.sh                 # build poort, run every case
#   tests/interop/run.sh redirect        # only cases whose name contains "redirect"
#   POORT_BIN=/path/to/poort tests/interop/run.sh   # use a prebuilt binary
#   INTEROP_KEEP=1 tests/interop/run.sh  # keep the temp dir (config, metadata, poort.log)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"

# --- system tools ---------------------------------------------------------------------------
need_apt=()
command -v xmlsec1 >/dev/null 2>&1 || need_apt+=(xmlsec1)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y "${need_apt[@]}" >&2
fi
export XMLSEC1="$(command -v xmlsec1)"

# --- Python peers -----------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# (Re)install when the pinned versions changed since the venv was filled.
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements"; then
  # xmlsec (python3-saml's signatures and decryption) and lxml must share one libxml2: both come
  # as manylinux wheels, which bring the same one. Not built from source: tried (--no-binary for
  # both), pip stops at a build dependency the registry lacks (Cython>=3.3.2).
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=xmlsec,lxml \
      -r "$HERE/requirements.txt" >&2; then
    echo "pip could not install requirements.txt (xmlsec and lxml only as wheels, for $("$VENV/bin/python" -V))" >&2
    exit 1
  fi
  cp "$HERE/requirements.txt" "$VENV/.requirements"
fi
PY="$VENV/bin/python"
export PYTHONWARNINGS="ignore"

# --- poort ------------------------------------------------------------------------------------
if [ -z "${POORT_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --bin poort >&2)
  POORT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/poort"
fi
[ -x "$POORT_BIN" ] || { echo "no poort binary at $POORT_BIN" >&2; exit 1; }
# The catalogue case runs `poort catalogue` itself (from tests/interop: an absolute path).
POORT_BIN="$(cd "$(dirname "$POORT_BIN")" && pwd)/$(basename "$POORT_BIN")"
export POORT_BIN

TMP="$(mktemp -d -t poort-interop.XXXXXX)"
export INTEROP_TMP="$TMP"
POORT_PID=""
SUMMARY_PRINTED=0
cleanup() {
  local rc=$?
  if [ -n "$POORT_PID" ] && kill -0 "$POORT_PID" 2>/dev/null; then
    kill "$POORT_PID" 2>/dev/null || true
    wait "$POORT_PID" 2>/dev/null || true
  fi
  if [ -n "${INTEROP_KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
  # A setup failure still ends with the line CI reads.
  if [ "$rc" -ne 0 ] && [ "$SUMMARY_PRINTED" -eq 0 ]; then echo "0 passed, 1 failed"; fi
}
trap cleanup EXIT

"$POORT_BIN" dev-certs --dir "$TMP/certs" >&2
# The peers' signing keys, and the back channel's mutual TLS: a test CA issues the peers' HTTPS
# server certificate (SAN IP:127.0.0.1), poort's TLS client certificate, and an outsider's client
# certificate (same CA, not pinned by the peers).
export INTEROP_TLS="$TMP/tls"
( cd "$HERE" && "$PY" - "$TMP" <<'EOF'
import sys, artifact_peer as ap
t = sys.argv[1]
ap.make_signing_keys(t, ["dv", "dv-enc", "dv-art", "dv-art-enc", "dv-onelogin", "dv-attr", "dv-attr-plain", "ad", "ad-art",
                         "catalogue-signer"],
                     days=30, cn_prefix="interop-")
ap.make_pki(f"{t}/tls", [
    ("peer-server", "interop peers ArtifactResolutionService", ap.SERVER_AUTH),
    ("poort-client", "poort back channel", ap.CLIENT_AUTH),
    ("outsider-client", "not poort", ap.CLIENT_AUTH),
], ca_cn="interop test CA", days=30)
EOF
)

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The peers' ArtifactResolutionServices (test_interop.py serves them) are in their metadata.
export PEER_ARS_PORT="$(free_port)"
(cd "$HERE" && "$PY" peers.py "$TMP/metadata/sp" "$TMP/metadata/idp")
# The python3-saml DV's metadata, written by python3-saml.
(cd "$HERE" && "$PY" onelogin_peer.py "$TMP/metadata/sp/dv-onelogin.xml")

PORT="$(free_port)"
while [ "$PORT" = "$PEER_ARS_PORT" ]; do PORT="$(free_port)"; done
OPS_PORT="$(free_port)"
while [ "$OPS_PORT" = "$PEER_ARS_PORT" ] || [ "$OPS_PORT" = "$PORT" ]; do OPS_PORT="$(free_port)"; done
export POORT_URL="http://127.0.0.1:$PORT"
# poort's ops listener (health), on a port of its own.
export INTEROP_OPS="127.0.0.1:$OPS_PORT"
export POORT_IDP_ID="urn:etoegang:HM:00000099990000000001:entities:1"
export POORT_SP_ID="urn:etoegang:HM:00000099990000000001:entities:2"
export POORT_SIGNING_CERT="$TMP/certs/poort-signing.crt"

# The register: each AD's test subject acts for one organisation (KvK number and RSIN) on all
# services, at EH3.
( cd "$HERE" && "$PY" - "$TMP/grants.toml" <<'EOF'
import sys, peers
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
valid_from, valid_until = fmt(now - timedelta(days=1)), fmt(now + timedelta(days=365))
toml = f'''[[organisation]]
kvk = "{peers.KVK}"
rsin = "{peers.RSIN}"
name = "{peers.COMPANY}"
'''
for n, (ad, subject) in enumerate([(peers.AD_ID, peers.AD_SUBJECT), (peers.AD_ART_ID, peers.AD_ART_SUBJECT)], 1):
    toml += f'''
[[person]]
id = "interop-p{n}"
links = [{{ idp = "{ad}", subject = "{subject}" }}]

[[membership]]
person = "interop-p{n}"
organisation = "{peers.KVK}"
roles = ["gebruiker"]

[[grant]]
id = "interop-g{n}"
person = "interop-p{n}"
organisation = "{peers.KVK}"
scope = {{ kind = "all_services" }}
level = "EH3"
valid_from = "{valid_from}"
valid_until = "{valid_until}"
status = "active"
'''
# A member of the same organisation whom the AD knows but who holds no grant: refused.
toml += f'''
[[person]]
id = "interop-p3"
links = [{{ idp = "{peers.AD_ID}", subject = "{peers.AD_NOGRANT_SUBJECT}" }}]

[[membership]]
person = "interop-p3"
organisation = "{peers.KVK}"
roles = ["gebruiker"]
'''
with open(sys.argv[1], "w") as f:
    f.write(toml)
EOF
)

( cd "$HERE" && "$PY" - "$TMP/poort.toml" <<'EOF'
import os, sys, peers, onelogin_peer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
t = os.environ["INTEROP_TMP"]
# The key the second OIDC client signs its request objects with; poort has the public half.
rp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
with open(os.path.join(t, "oidc-rp-signing.key"), "wb") as f:
    f.write(rp_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
with open(os.path.join(t, "oidc-rp-signing.pem"), "wb") as f:
    f.write(rp_key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo))
with open(sys.argv[1], "w") as f:
    f.write(f'''[server]
listen = "127.0.0.1:{os.environ["POORT_URL"].rsplit(":", 1)[1]}"
public_url = "{os.environ["POORT_URL"]}"
production = false

[ops]
listen = "{os.environ["INTEROP_OPS"]}"

[saml]
idp_entity_id = "{os.environ["POORT_IDP_ID"]}"
sp_entity_id = "{os.environ["POORT_SP_ID"]}"
sp_metadata_dir = "{t}/metadata/sp"
idp_metadata_dir = "{t}/metadata/idp"
clock_skew_seconds = 60

[keys]
signing_key = "{t}/certs/poort-signing.key"
signing_cert = "{t}/certs/poort-signing.crt"
encryption_key = "{t}/certs/poort-encryption.key"
encryption_cert = "{t}/certs/poort-encryption.crt"
pseudonym_secret = "{t}/certs/pseudonym.secret"
dev_certs_dir = "{t}/certs"

[register]
database = "sqlite://{t}/register.db"
seed = "{t}/grants.toml"

[oidc]
keys_dir = "{t}/oidc"

[backchannel]
client_cert = "{t}/tls/poort-client.crt"
client_key = "{t}/tls/poort-client.key"
ca_certs = "{t}/tls/ca.crt"
timeout_seconds = 5
max_response_bytes = 262144
allow_plain_http = false

[[oidc_client]]
client_id = "{peers.OIDC_CLIENT_ID}"
client_secret = "{peers.OIDC_CLIENT_SECRET}"
redirect_uris = ["{peers.OIDC_REDIRECT}"]
post_logout_redirect_uris = ["{peers.OIDC_LOGGED_OUT}"]
service = "{peers.SERVICE_ID}"

[[oidc_client]]
client_id = "{peers.OIDC_SIGNING_CLIENT_ID}"
public_key = "{t}/oidc-rp-signing.pem"
redirect_uris = ["{peers.OIDC_REDIRECT}"]
service = "{peers.SERVICE_ID}"
''')
    services = [
        (peers.SERVICE_ID, peers.SERVICE_UUID, peers.DV_ID, "", ""),
        (peers.SERVICE_ENC_ID, peers.SERVICE_ENC_UUID, peers.DV_ENC_ID, " (versleuteld)", " (encrypted)"),
        (peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, peers.DV_ART_ID, " (artifact)", " (artifact)"),
        (peers.SERVICE_ART_ENC_ID, peers.SERVICE_ART_ENC_UUID, peers.DV_ART_ENC_ID,
         " (artifact, versleuteld)", " (artifact, encrypted)"),
        (onelogin_peer.SERVICE_ID, onelogin_peer.SERVICE_UUID, onelogin_peer.DV_ID, " (python3-saml)", " (python3-saml)"),
        (peers.SERVICE_ATTR_ID, peers.SERVICE_ATTR_UUID, peers.DV_ATTR_ID, " (attributen)", " (attributes)"),
        (peers.SERVICE_ATTR_PLAIN_ID, peers.SERVICE_ATTR_PLAIN_UUID, peers.DV_ATTR_PLAIN_ID,
         " (attributen, onversleuteld)", " (attributes, unencrypted)"),
    ]
    for service_id, uuid, provider, nl, en in services:
        f.write(f'''
[[service]]
id = "{service_id}"
uuid = "{uuid}"
name_nl = "Interop-dienst{nl}"
name_en = "Interop service{en}"
provider = "{provider}"
acs_index = {peers.ACS_INDEX}
level = "EH3"
''')
        # Single sign-on (afsprakenstelsel *Aansluiten als dienstverlener*: SSOSupport per
        # service): the two plain pysaml2 DVs' services take part, the others do not.
        if provider in (peers.DV_ID, peers.DV_ENC_ID):
            f.write("sso_support = true\n")
        # The attribute services: what they ask for besides their DV's metadata (the KvK
        # number names the organisation; the RSIN only because the metadata asks for it).
        if provider in (peers.DV_ATTR_ID, peers.DV_ATTR_PLAIN_ID):
            asked = ", ".join(f'{{ name = "{n}", required = {str(r).lower()}, purpose = "Aanhef" }}'
                              for n, r in peers.ATTR_IN_CONFIG)
            f.write(f'''entity_concerned_types = ["{peers.KVK_TYPE}"]
requested_attributes = [{asked}]
''')
EOF
)

"$POORT_BIN" check --config "$TMP/poort.toml" >&2 || { echo "poort check rejects the interop setup" >&2; exit 1; }

RUST_LOG="${RUST_LOG:-info}" "$POORT_BIN" serve --config "$TMP/poort.toml" >"$TMP/poort.log" 2>&1 &
POORT_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://$INTEROP_OPS/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$POORT_PID" 2>/dev/null; then
    echo "poort exited at start:" >&2; cat "$TMP/poort.log" >&2; exit 1
  fi
  sleep 0.1
done
curl -fsS "http://$INTEROP_OPS/healthz" >/dev/null || { echo "poort not healthy" >&2; cat "$TMP/poort.log" >&2; exit 1; }

set +e
(cd "$HERE" && "$PY" test_interop.py "$@") >"$TMP/result.txt" 2>&1
status=$?
set -e
grep -v '^[0-9]* passed, [0-9]* failed$' "$TMP/result.txt" || true
if [ $status -ne 0 ]; then
  echo "--- poort log (last 40 lines) ---"; tail -n 40 "$TMP/poort.log"
fi
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/result.txt" | tail -n 1)"
[ -n "$summary" ] || { summary="0 passed, 1 failed"; status=1; }
echo "$summary"
SUMMARY_PRINTED=1
exit $status
