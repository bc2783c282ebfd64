"""Thin SAML HTTP-Artifact peer code for the interop test: what pysaml2 7.5.5 gets wrong or lacks.

pysaml2 stays in charge of what it does right (AuthnRequest / Response creation and signing,
metadata, ArtifactResolve creation and signing with RSA-SHA256, verifying poort's messages).
This module adds, without any of poort's code:

- type 0x0004 artifacts written correctly (SAML Bindings 2.0 §3.6.4.1): pysaml2's
  `create_artifact` writes the EndpointIndex as the ASCII text "00" (0x3030) instead of two bytes;
- the SOAP 1.1 envelope (SAML Bindings 2.0 §3.2), kept byte for byte: pysaml2's SOAP unwrapping
  renames namespace prefixes, which breaks foreign signatures, and it sends SOAP 1.2's media type;
- a signed ArtifactResponse that embeds an already signed message as it is and names its Issuer
  (pysaml2's `create_artifact_response` can do neither);
- strict checks of a received ArtifactResolve / ArtifactResponse: exactly one signature, directly
  under the root and referencing it, RSA-SHA256 or stronger with a SHA-256 or stronger digest,
  exclusive c14n, verified by `xmlsec1` with the sender's certificate from its metadata (pysaml2's
  `parse_artifact_resolve_response` accepts an unsigned ArtifactResponse, accepts SHA-1 and takes
  the first of several messages);
- an ArtifactResolutionService server (pysaml2 has none): threaded HTTPS on 127.0.0.1 that
  requires a TLS client certificate (mutual TLS, as the scheme's web services do) and pins it,
  verifies the signed ArtifactResolve, and answers each artifact once.

`python artifact_peer.py --selftest` checks all of it without poort (it makes its own keys).
"""

import base64
import hashlib
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree as SafeET  # no DTDs, no entity expansion

XMLSEC = os.environ.get("XMLSEC1", "/usr/bin/xmlsec1")

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

BINDING_SOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
BINDING_HTTP_ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

# xmlsec1 --id-attr node names.
ARTIFACT_RESOLVE = NS_SAMLP + ":ArtifactResolve"
ARTIFACT_RESPONSE = NS_SAMLP + ":ArtifactResponse"
RESPONSE = NS_SAMLP + ":Response"
AUTHN_REQUEST = NS_SAMLP + ":AuthnRequest"
ASSERTION = NS_SAML + ":Assertion"

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ACCEPTED_SIGNATURE_ALGS = {
    RSA_SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}
ACCEPTED_DIGEST_ALGS = {
    SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
}

# SOAP 1.1's media type (SAML Bindings 2.0 §3.2.2: SOAP 1.1); SOAP 1.2 would be application/soap+xml.
SOAP11_CONTENT_TYPE = "text/xml; charset=utf-8"
SOAP_ACTION = '"http://www.oasis-open.org/committees/security"'
MAX_BODY = 256 * 1024
CLOCK_SKEW = timedelta(seconds=90)


class Refusal(Exception):
    """A received message this peer refuses; the text is the reason."""


def tag(ns, local):
    return f"{{{ns}}}{local}"


# ---------------------------------------------------------------------------------------------
# Artifacts (SAML Bindings 2.0 §3.6.4)

TYPE_CODE = b"\x00\x04"
Artifact = namedtuple("Artifact", "endpoint_index source_id handle")


def source_id(entity_id):
    """SourceID: SHA-1 of the issuer's entity ID (only a name; nothing is signed with it)."""
    return hashlib.sha1(entity_id.encode("utf-8")).digest()


def make_artifact(entity_id, endpoint_index=0, handle=None):
    """base64(0x0004 || EndpointIndex (2 bytes, big-endian) || SHA-1(entityID) || 20 random bytes)."""
    if not 0 <= endpoint_index <= 0xFFFF:
        raise ValueError(f"EndpointIndex {endpoint_index} does not fit in two bytes")
    handle = os.urandom(20) if handle is None else handle
    if len(handle) != 20:
        raise ValueError("the MessageHandle is 20 bytes")
    raw = TYPE_CODE + endpoint_index.to_bytes(2, "big") + source_id(entity_id) + handle
    return base64.b64encode(raw).decode("ascii")


def parse_artifact(value):
    """Reads a type 0x0004 artifact; anything else is refused."""
    try:
        raw = base64.b64decode(value, validate=True)
    except Exception as e:
        raise Refusal(f"the artifact is not base64: {e}") from None
    if len(raw) != 44:
        raise Refusal(f"the artifact is {len(raw)} bytes, not 44")
    if raw[:2] != TYPE_CODE:
        raise Refusal(f"the artifact's type code is 0x{raw[:2].hex()}, not 0x0004")
    return Artifact(int.from_bytes(raw[2:4], "big"), raw[4:24], raw[24:44])


# ---------------------------------------------------------------------------------------------
# XML text, kept byte for byte


def strip_declaration(text):
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", text)


def parse(text):
    """Parses untrusted XML (defusedxml: DTDs and entities refused)."""
    try:
        return SafeET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except Exception as e:
        raise Refusal(f"not well-formed or forbidden XML: {e}") from None


_DECL = re.compile(r"""xmlns(?::([\w.-]+))?\s*=\s*(["'])(.*?)\2""", re.S)


def standalone(text, ns, local, nth=0):
    """The `nth` element {ns}local of `text` as a document of its own, exactly as written, with
    the namespace declarations of its context added to its start tag (as exclusive c14n makes
    it: a signature inside still verifies). Raises Refusal when there is no such element."""
    start_re = re.compile(rf"<((?:[\w.-]+:)?){re.escape(local)}(?=[\s/>])")
    seen = 0
    for m in start_re.finditer(text):
        prefix = m.group(1)[:-1] if m.group(1) else None
        before = dict((p or None, u) for p, _, u in _DECL.findall(text[: m.start()]))
        end_of_tag = text.index(">", m.end())
        start_tag = text[m.start() : end_of_tag + 1]
        own = dict((p or None, u) for p, _, u in _DECL.findall(start_tag))
        if own.get(prefix, before.get(prefix)) != ns:
            continue
        if seen < nth:
            seen += 1
            continue
        qname = m.group(1) + local
        if start_tag.endswith("/>"):
            end = end_of_tag + 1
        else:
            depth, pos = 1, end_of_tag + 1
            tok = re.compile(rf"<(/?){re.escape(qname)}(?=[\s/>])[^>]*?(/?)>")
            while depth:
                t = tok.search(text, pos)
                if t is None:
                    raise Refusal(f"unterminated {qname}")
                if t.group(1):
                    depth -= 1
                elif not t.group(2):
                    depth += 1
                pos = t.end()
            end = pos
        element = text[m.start() : end]
        extra = "".join(
            (f' xmlns:{p}="{u}"' if p else f' xmlns="{u}"') for p, u in before.items() if p not in own
        )
        tag_name_end = m.end()
        doc = element[: tag_name_end - m.start()] + extra + element[tag_name_end - m.start() :]
        root = parse(doc)
        if root.tag != tag(ns, local):
            raise Refusal(f"extracted {root.tag}, wanted {tag(ns, local)}")
        return doc
    raise Refusal(f"no {local} element")


# ---------------------------------------------------------------------------------------------
# Signatures: shape checked here, cryptography by xmlsec1 with the sender's certificate


def cert_base64(cert_file):
    with open(cert_file) as f:
        pem = f.read()
    return "".join(pem.split("-----")[2].split())


def signature_template(ref_id, cert_file, sign_alg=RSA_SHA256, digest_alg=SHA256):
    return (
        f'<ds:Signature xmlns:ds="{NS_DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{sign_alg}"/>'
        f'<ds:Reference URI="#{ref_id}"><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/><ds:DigestValue/></ds:Reference>'
        f"</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
        f"{cert_base64(cert_file)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )


def sign(text, key_file, node_name, node_id):
    """Fills the first signature template under the node with ID `node_id`: pysaml2's sigver
    (xmlsec1 --sign) with the peer's key."""
    from saml2.sigver import CryptoBackendXmlSec1

    return strip_declaration(CryptoBackendXmlSec1(XMLSEC).sign_statement(text, node_name, key_file, node_id))


def xmlsec_verify(text, cert_file, id_nodes):
    """xmlsec1 --verify with exactly this certificate; returns (rc, output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(text)
    try:
        cmd = [XMLSEC, "--verify", "--enabled-reference-uris", "same-doc", "--pubkey-cert-pem", cert_file]
        for n in id_nodes:
            cmd += ["--id-attr:ID", n]
        p = subprocess.run(cmd + [f.name], capture_output=True, text=True, timeout=30)
        return p.returncode, (p.stdout + p.stderr).strip()
    finally:
        os.unlink(f.name)


def signature_shape(root, what, message=None):
    """Exactly one ds:Signature directly under `root`, referencing it by ID, with accepted
    algorithms; any other signature only inside `message`. Returns (signature alg, digest alg)."""
    inner = {id(s) for s in message.iter(tag(NS_DS, "Signature"))} if message is not None else set()
    own = [c for c in root if c.tag == tag(NS_DS, "Signature")]
    stray = [s for s in root.iter(tag(NS_DS, "Signature")) if id(s) not in inner and s not in own]
    if not own:
        raise Refusal(f"the {what} is not signed")
    if len(own) > 1 or stray:
        raise Refusal(f"the {what} carries a signature in a place where none belongs")
    sig = own[0]
    rid = root.get("ID")
    if not rid:
        raise Refusal(f"the {what} has no ID")
    refs = sig.findall(f"{tag(NS_DS, 'SignedInfo')}/{tag(NS_DS, 'Reference')}")
    if len(refs) != 1 or refs[0].get("URI") != "#" + rid:
        raise Refusal(f"the {what}'s signature does not reference the {what} itself")
    sm = sig.find(f"{tag(NS_DS, 'SignedInfo')}/{tag(NS_DS, 'SignatureMethod')}")
    dm = refs[0].find(tag(NS_DS, "DigestMethod"))
    cm = sig.find(f"{tag(NS_DS, 'SignedInfo')}/{tag(NS_DS, 'CanonicalizationMethod')}")
    sig_alg = sm.get("Algorithm") if sm is not None else None
    digest_alg = dm.get("Algorithm") if dm is not None else None
    if sig_alg not in ACCEPTED_SIGNATURE_ALGS:
        raise Refusal(f"the {what}'s signature algorithm {sig_alg} is refused (RSA-SHA256 or stronger)")
    if digest_alg not in ACCEPTED_DIGEST_ALGS:
        raise Refusal(f"the {what}'s digest algorithm {digest_alg} is refused (SHA-256 or stronger)")
    if cm is None or cm.get("Algorithm") != EXC_C14N:
        raise Refusal(f"the {what}'s signature does not use exclusive c14n")
    transforms = [t.get("Algorithm") for t in refs[0].iter(tag(NS_DS, "Transform"))]
    if not transforms or any(t not in (ENVELOPED, EXC_C14N) for t in transforms):
        raise Refusal(f"the {what}'s signature has transforms {transforms}")
    ids = [e for e in root.iter() if e.get("ID") == rid]
    if len(ids) != 1:
        raise Refusal(f"the {what}'s ID occurs {len(ids)} times")
    return sig_alg, digest_alg


def verify_signed(text, ns, local, cert_file, id_nodes, message=None):
    """Shape, then xmlsec1 with `cert_file`. Returns (parsed root, signature alg)."""
    root = parse(text)
    if root.tag != tag(ns, local):
        raise Refusal(f"expected {local}, got {root.tag}")
    msg = message(root) if message else None
    sig_alg, _ = signature_shape(root, local, msg)
    rc, out = xmlsec_verify(text, cert_file, id_nodes)
    if rc != 0:
        raise Refusal(f"the {local}'s signature does not verify with the sender's metadata certificate: {out[-300:]}")
    return root, sig_alg


def messages_of(root):
    """The elements after samlp:Status in an ArtifactResponse: the message(s) it carries."""
    children = list(root)
    for i, c in enumerate(children):
        if c.tag == tag(NS_SAMLP, "Status"):
            return children[i + 1 :]
    return []


def one_message(root):
    ms = messages_of(root)
    if len(ms) > 1:
        raise Refusal(f"the ArtifactResponse holds {len(ms)} messages; one at most")
    return ms[0] if ms else None


# ---------------------------------------------------------------------------------------------
# SOAP 1.1


class SoapFault(Exception):
    def __init__(self, code, string):
        super().__init__(f"SOAP Fault {code}: {string}")
        self.code, self.string = code, string


def soap_envelope(body_xml):
    return (
        f'<soap11:Envelope xmlns:soap11="{NS_SOAP11}"><soap11:Body>'
        f"{strip_declaration(body_xml)}</soap11:Body></soap11:Envelope>"
    )


def soap_fault(client, message):
    code = "Client" if client else "Server"
    return soap_envelope(
        f'<soap11:Fault xmlns:soap11="{NS_SOAP11}"><faultcode>soap11:{code}</faultcode>'
        f"<faultstring>{escape(message)}</faultstring></soap11:Fault>"
    )


def soap_body(text):
    """The one element of a SOAP 1.1 Body as (tag, standalone text). A Fault raises SoapFault."""
    root = parse(text)
    if root.tag == tag(NS_SOAP12, "Envelope"):
        raise Refusal("a SOAP 1.2 envelope; SAML's SOAP binding is SOAP 1.1")
    if root.tag != tag(NS_SOAP11, "Envelope"):
        raise Refusal(f"not a SOAP 1.1 Envelope but {root.tag}")
    header = root.find(tag(NS_SOAP11, "Header"))
    if header is not None and any(h.get(tag(NS_SOAP11, "mustUnderstand")) in ("1", "true") for h in header):
        raise Refusal("a SOAP header marked mustUnderstand")
    body = root.find(tag(NS_SOAP11, "Body"))
    if body is None:
        raise Refusal("the SOAP Envelope has no Body")
    kids = list(body)
    if len(kids) != 1:
        raise Refusal(f"the SOAP Body holds {len(kids)} elements, not one")
    el = kids[0]
    if el.tag == tag(NS_SOAP11, "Fault"):
        raise SoapFault(el.findtext("faultcode"), el.findtext("faultstring"))
    if not el.tag.startswith("{"):
        raise Refusal(f"the SOAP Body's element {el.tag} has no namespace")
    ns, local = el.tag[1:].split("}")
    return el.tag, standalone(text, ns, local)


# ---------------------------------------------------------------------------------------------
# The messages this module writes


def new_id():
    return "_" + os.urandom(20).hex()


def instant(t=None):
    return (t or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(s):
    try:
        return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        raise Refusal(f"bad IssueInstant {s!r}") from None


def artifact_response(issuer, in_response_to, key_file, cert_file, message=None, status=None, signed=True):
    """A signed ArtifactResponse (signature right after Issuer, RSA-SHA256, SHA-256, exclusive
    c14n) embedding `message` (already signed, when it is) exactly as it is.
    `status`: None for Success, else (top, second, message)."""
    rid = new_id()
    if status is None:
        status_xml = f'<samlp:StatusCode Value="{STATUS_SUCCESS}"/>'
    else:
        top, second, why = status
        status_xml = (
            f'<samlp:StatusCode Value="{top}"><samlp:StatusCode Value="{second}"/></samlp:StatusCode>'
            f"<samlp:StatusMessage>{escape(why)}</samlp:StatusMessage>"
        )
    text = (
        f'<samlp:ArtifactResponse xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{rid}" Version="2.0" '
        f"IssueInstant={quoteattr(instant())} InResponseTo={quoteattr(in_response_to)}>"
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f"{signature_template(rid, cert_file) if signed else ''}"
        f"<samlp:Status>{status_xml}</samlp:Status>"
        f"{strip_declaration(message) if message else ''}</samlp:ArtifactResponse>"
    )
    return sign(text, key_file, ARTIFACT_RESPONSE, rid) if signed else text


# ---------------------------------------------------------------------------------------------
# The requester's side: resolving an artifact at someone's ArtifactResolutionService


class Resolution:
    """What came back from an ArtifactResolutionService, verified."""

    def __init__(self, http_status, content_type, text):
        self.http_status, self.content_type, self.text = http_status, content_type, text
        self.fault = None  # SoapFault, when the answer is one
        self.body = None  # the ArtifactResponse as its own document
        self.root = None
        self.issuer = None
        self.status = []  # StatusCode values, top first
        self.status_message = None
        self.message = None  # the one message, as its own document
        self.message_root = None


def artifact_resolve(entity, url, artifact, sign=True, sign_alg=RSA_SHA256, digest_alg=SHA256):
    """pysaml2 writes (and signs) the ArtifactResolve; returns (ID, text)."""
    from saml2.s_utils import sid

    rid, msg = entity.create_artifact_resolve(
        artifact, url, sid(), sign=sign, sign_alg=sign_alg if sign else None, digest_alg=digest_alg if sign else None
    )
    text = msg if isinstance(msg, str) else str(msg)
    return rid, strip_declaration(text)


def post_soap(url, body_xml, session=None, timeout=15, **kwargs):
    import requests

    return (session or requests).post(
        url,
        data=soap_envelope(body_xml).encode("utf-8"),
        headers={"Content-Type": SOAP11_CONTENT_TYPE, "SOAPAction": SOAP_ACTION},
        timeout=timeout,
        allow_redirects=False,
        **kwargs,
    )


def read_artifact_response(http, cert_file, expect_issuer, in_response_to):
    """Checks an ArtifactResolutionService's answer: SOAP 1.1, one signed ArtifactResponse from
    `expect_issuer` for `in_response_to`, at most one message. Raises Refusal on anything else;
    a SOAP Fault comes back as Resolution.fault."""
    res = Resolution(http.status_code, http.headers.get("Content-Type", ""), http.text)
    try:
        _, res.body = soap_body(http.text)
    except SoapFault as f:
        res.fault = f
        return res
    root, _ = verify_signed(res.body, NS_SAMLP, "ArtifactResponse", cert_file, [ARTIFACT_RESPONSE], one_message)
    if http.status_code != 200:
        raise Refusal(f"an ArtifactResponse with HTTP {http.status_code}")
    if not res.content_type.split(";")[0].strip().lower() == "text/xml":
        raise Refusal(f"Content-Type {res.content_type!r}, not SOAP 1.1's text/xml")
    res.root = root
    res.issuer = root.findtext(tag(NS_SAML, "Issuer"))
    if res.issuer != expect_issuer:
        raise Refusal(f"ArtifactResponse Issuer {res.issuer!r}, expected {expect_issuer!r}")
    if root.get("InResponseTo") != in_response_to:
        raise Refusal(f"ArtifactResponse InResponseTo {root.get('InResponseTo')!r}, expected {in_response_to!r}")
    if root.get("Version") != "2.0":
        raise Refusal("ArtifactResponse Version is not 2.0")
    issued = parse_instant(root.get("IssueInstant"))
    if abs(datetime.now(timezone.utc) - issued) > CLOCK_SKEW:
        raise Refusal(f"ArtifactResponse IssueInstant {root.get('IssueInstant')} is not now")
    st = root.find(tag(NS_SAMLP, "Status"))
    res.status = [c.get("Value") for c in st.iter(tag(NS_SAMLP, "StatusCode"))] if st is not None else []
    res.status_message = st.findtext(tag(NS_SAMLP, "StatusMessage")) if st is not None else None
    msg = one_message(root)
    if msg is not None:
        ns, local = msg.tag[1:].split("}")
        res.message = standalone(res.body, ns, local)
        res.message_root = parse(res.message)
    return res


# ---------------------------------------------------------------------------------------------
# The responder's side: an ArtifactResolutionService


class ArsEndpoint:
    """One ArtifactResolutionService location of a peer (owner): the messages it issued
    artifacts for, who may resolve them (entity ID and metadata certificate), and a log."""

    def __init__(self, url, owner_id, key_file, cert_file, decoy=False):
        self.url, self.owner_id, self.key_file, self.cert_file = url, owner_id, key_file, cert_file
        self.decoy = decoy  # an endpoint that must never be asked (wrong EndpointIndex)
        self.requesters = {}  # entity ID -> certificate file from its metadata
        self.messages = {}  # artifact -> {"message", "requester", "sign", "used"}
        self.events = []
        self.lock = threading.Lock()

    def trust(self, requester_id, cert_file):
        self.requesters[requester_id] = cert_file

    def issue(self, message, endpoint_index, requester, sign_response=True, answer_key=None):
        """Stores `message` and returns a fresh artifact for it. `sign_response=False` or
        another `answer_key` make a deliberately wrong answer (to test the requester)."""
        art = make_artifact(self.owner_id, endpoint_index)
        with self.lock:
            self.messages[art] = {
                "message": message,
                "requester": requester,
                "sign": sign_response,
                "key": answer_key,
                "used": False,
            }
        return art

    def events_since(self, n):
        with self.lock:
            return list(self.events[n:])

    def _log(self, **kw):
        kw.setdefault("time", time.time())
        with self.lock:
            self.events.append(kw)

    def handle(self, body, content_type, client_fp):
        """Returns (HTTP status, body). Every outcome is logged."""
        ev = {"endpoint": self.url, "client_cert_sha256": client_fp, "content_type": content_type}
        if self.decoy:
            self._log(outcome="decoy", **ev)
            return 500, soap_fault(False, "this ArtifactResolutionService index issues no artifacts")
        if content_type.split(";")[0].strip().lower() != "text/xml":
            self._log(outcome="refused", reason=f"Content-Type {content_type!r} is not SOAP 1.1's text/xml", **ev)
            return 415, soap_fault(True, "SOAP 1.1 (text/xml) expected")
        try:
            _, text = soap_body(body)
        except (Refusal, SoapFault) as e:
            self._log(outcome="refused", reason=str(e), **ev)
            return 500, soap_fault(True, str(e))
        root = parse(text)
        if root.tag != tag(NS_SAMLP, "ArtifactResolve"):
            self._log(outcome="refused", reason=f"not an ArtifactResolve: {root.tag}", **ev)
            return 500, soap_fault(True, "not an ArtifactResolve")
        req_id = root.get("ID") or ""
        issuer = root.findtext(tag(NS_SAML, "Issuer"))
        ev.update(issuer=issuer, request_id=req_id)
        sm = root.find(f"{tag(NS_DS, 'Signature')}/{tag(NS_DS, 'SignedInfo')}/{tag(NS_DS, 'SignatureMethod')}")
        ev["signature_alg"] = sm.get("Algorithm") if sm is not None else None

        def deny(why):
            self._log(outcome="refused", reason=why, **ev)
            answer = artifact_response(
                self.owner_id, req_id, self.key_file, self.cert_file,
                status=(STATUS_REQUESTER, STATUS_REQUEST_DENIED, why),
            )
            return 200, soap_envelope(answer)

        cert = self.requesters.get(issuer)
        if cert is None:
            return deny(f"unknown requester {issuer!r}")
        try:
            verify_signed(text, NS_SAMLP, "ArtifactResolve", cert, [ARTIFACT_RESOLVE])
        except Refusal as e:
            return deny(str(e))
        if root.get("Version") != "2.0":
            return deny("Version is not 2.0")
        try:
            issued = parse_instant(root.get("IssueInstant"))
        except Refusal as e:
            return deny(str(e))
        if abs(datetime.now(timezone.utc) - issued) > CLOCK_SKEW:
            return deny(f"IssueInstant {root.get('IssueInstant')} is not now")
        dest = root.get("Destination")
        ev["destination"] = dest
        if dest is not None and dest != self.url:
            return deny(f"Destination {dest!r} is not this endpoint {self.url!r}")
        arts = root.findall(tag(NS_SAMLP, "Artifact"))
        if len(arts) != 1:
            return deny(f"{len(arts)} Artifact elements")
        art = (arts[0].text or "").strip()
        with self.lock:
            entry = self.messages.get(art)
            if entry is not None and entry["requester"] != issuer:
                entry = None
                why = "the artifact was not issued to this requester"
            elif entry is not None and entry["used"]:
                entry = None
                why = "the artifact was resolved before"
            else:
                why = "unknown artifact"
            if entry is not None:
                entry["used"] = True
        if entry is None:
            # SAML Core 2.0 §3.5.3: a signed ArtifactResponse without a message.
            self._log(outcome="empty", reason=why, **ev)
            return 200, soap_envelope(artifact_response(self.owner_id, req_id, self.key_file, self.cert_file))
        answer = artifact_response(
            self.owner_id, req_id, entry["key"] or self.key_file, self.cert_file,
            message=entry["message"], signed=entry["sign"],
        )
        self._log(outcome="resolved", **ev)
        return 200, soap_envelope(answer)


class _Handler(BaseHTTPRequestHandler):
    server_version = "interop-ars"

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype=SOAP11_CONTENT_TYPE):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(405, "POST a SOAP message", "text/plain")

    def do_POST(self):
        srv = self.server
        der = self.connection.getpeercert(binary_form=True)
        fp = hashlib.sha256(der).hexdigest() if der else None
        endpoint = srv.endpoints.get(self.path)
        if endpoint is None:
            srv.log(path=self.path, outcome="no such endpoint", client_cert_sha256=fp)
            return self._send(404, "no ArtifactResolutionService here", "text/plain")
        n = int(self.headers.get("Content-Length") or 0)
        if n <= 0 or n > MAX_BODY:
            srv.log(path=self.path, outcome="bad length", length=n)
            return self._send(413 if n > MAX_BODY else 411, "bad Content-Length", "text/plain")
        # Read before answering, even a refusal: closing on unread data resets the connection.
        body = self.rfile.read(n).decode("utf-8", "replace")
        if fp not in srv.client_pins:
            srv.log(path=self.path, outcome="client certificate not pinned", client_cert_sha256=fp)
            return self._send(403, "this client certificate may not resolve artifacts here", "text/plain")
        try:
            status, answer = endpoint.handle(body, self.headers.get("Content-Type", ""), fp)
        except Exception as e:  # a bug in the peer, reported as such
            srv.log(path=self.path, outcome="peer error", reason=repr(e))
            status, answer = 500, soap_fault(False, f"peer error: {e!r}")
        self._send(status, answer)


class ArsServer(ThreadingHTTPServer):
    """Threaded HTTPS server for the peers' ArtifactResolutionServices on 127.0.0.1.
    TLS (1.2+) requires a client certificate chaining to `client_ca`; the handler then accepts
    only the pinned certificates (SHA-256 of the DER)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, server_cert, server_key, client_ca, client_pins=()):
        super().__init__(("127.0.0.1", port), _Handler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(server_cert, server_key)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.load_verify_locations(cafile=client_ca)
        self.client_pins = set(client_pins)
        self.endpoints = {}
        self.events = []
        self._lock = threading.Lock()
        self._thread = None

    def log(self, **kw):
        kw.setdefault("time", time.time())
        with self._lock:
            self.events.append(kw)

    def events_since(self, n):
        with self._lock:
            return list(self.events[n:])

    def pin(self, cert_file):
        self.client_pins.add(cert_sha256(cert_file))

    def add(self, path, endpoint):
        self.endpoints[path] = endpoint
        return endpoint

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's own thread, so a slow or failing client
        # cannot hold up the others.
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log(outcome="tls refused", reason=str(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="ars", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


def cert_sha256(cert_file):
    with open(cert_file) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def metadata_cert(md_text, role, out_file):
    """The signing certificate of `role` (IDPSSODescriptor / SPSSODescriptor) in metadata,
    written as PEM to `out_file`."""
    root = parse(md_text)
    desc = root.find(tag(NS_MD, role))
    if desc is None:
        raise Refusal(f"metadata has no {role}")
    for kd in desc.findall(tag(NS_MD, "KeyDescriptor")):
        if kd.get("use") in (None, "signing"):
            b64 = kd.findtext(f".//{tag(NS_DS, 'X509Certificate')}")
            if b64:
                body = "".join(b64.split())
                with open(out_file, "w") as f:
                    f.write("-----BEGIN CERTIFICATE-----\n")
                    f.write("\n".join(body[i : i + 64] for i in range(0, len(body), 64)))
                    f.write("\n-----END CERTIFICATE-----\n")
                return out_file
    raise Refusal(f"metadata's {role} has no signing certificate")


def metadata_endpoints(md_text, role, element):
    """[(binding, location, index, isDefault)] of md:`element` in `role`."""
    root = parse(md_text)
    desc = root.find(tag(NS_MD, role))
    if desc is None:
        return []
    out = []
    for e in desc.findall(tag(NS_MD, element)):
        idx = e.get("index")
        out.append((e.get("Binding"), e.get("Location"), int(idx) if idx is not None else None, e.get("isDefault")))
    return out


# ---------------------------------------------------------------------------------------------
# Self-test, without poort


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


# Extensions of the leaf certificates make_pki issues.
SERVER_AUTH = "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
CLIENT_AUTH = "extendedKeyUsage=clientAuth\n"


def make_pki(d, leaves, ca_cn="selftest CA", days=2):
    """A test CA in `d` (ca.key, ca.crt) and the certificates it issues: `leaves` as
    (name, CN, extensions such as SERVER_AUTH), each written as name.key and name.crt. Leaves are
    not CAs (rustls refuses a CA certificate as end entity)."""
    os.makedirs(d, exist_ok=True)
    days = str(days)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", days, "-subj", f"/CN={ca_cn}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    for name, cn, ext in leaves:
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" + ext)
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", days, "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)


def make_signing_keys(d, names, days=2, cn_prefix=""):
    """Self-signed signing key pairs in `d`: name.key and name.crt, CN `{cn_prefix}{name}`."""
    os.makedirs(d, exist_ok=True)
    for name in names:
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", str(days),
                 "-subj", f"/CN={cn_prefix}{name}", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)


def make_test_pki(d):
    """CA, server cert (SAN IP:127.0.0.1), two client certs, three signing key pairs."""
    make_pki(d, [
        ("server", "server", SERVER_AUTH),
        ("client", "client", CLIENT_AUTH),
        ("other-client", "other-client", CLIENT_AUTH),
    ])
    make_signing_keys(d, ("sig-a", "sig-b", "sig-c"))


def _client(entity_id, d, name):
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    c = SPConfig()
    c.load({
        "entityid": entity_id, "xmlsec_binary": XMLSEC,
        "key_file": os.path.join(d, f"{name}.key"), "cert_file": os.path.join(d, f"{name}.crt"),
        "service": {"sp": {"endpoints": {"assertion_consumer_service": [("https://x/acs", BINDING_HTTP_POST)]}}},
    })
    return Saml2Client(c)


def selftest():
    import requests
    from saml2.entity import create_artifact

    def ok(cond, msg):
        if not cond:
            raise AssertionError("artifact selftest: " + msg)

    # Artifacts: layout, and pysaml2's defect that this module exists for.
    art = make_artifact("urn:x", 0x0102)
    raw = base64.b64decode(art)
    ok(len(art) == 60 and raw[:4] == b"\x00\x04\x01\x02", f"layout {raw[:4].hex()}")
    ok(raw[4:24] == hashlib.sha1(b"urn:x").digest(), "SourceID")
    a = parse_artifact(art)
    ok(a.endpoint_index == 0x0102 and a.source_id == source_id("urn:x"), "parse")
    ok(make_artifact("urn:x") != make_artifact("urn:x"), "handles are random")
    py = base64.b64decode(create_artifact("urn:x", "h" * 20, 0))
    ok(py[2:4] == b"00", f"pysaml2's EndpointIndex defect is gone ({py[2:4]!r}); revisit the workaround")
    for bad in ("!!", base64.b64encode(b"\x00\x04" + b"\x00" * 41).decode(),
                base64.b64encode(b"\x00\x01" + b"\x00" * 42).decode()):
        try:
            parse_artifact(bad)
        except Refusal:
            pass
        else:
            raise AssertionError(f"artifact selftest: accepted {bad!r}")

    d = tempfile.mkdtemp(prefix="artifact-selftest-")
    make_test_pki(d)
    p = lambda n: os.path.join(d, n)  # noqa: E731

    # A signed message to hand out (a minimal Response signed by A, as any peer's would be).
    mid = new_id()
    inner = (
        f'<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{mid}" Version="2.0" '
        f'IssueInstant="{instant()}"><saml:Issuer>urn:test:a</saml:Issuer>{signature_template(mid, p("sig-a.crt"))}'
        f'<samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status></samlp:Response>'
    )
    inner = sign(inner, p("sig-a.key"), RESPONSE, mid)
    ok(xmlsec_verify(inner, p("sig-a.crt"), [RESPONSE])[0] == 0, "inner message verifies")
    # KeyInfo substitution: signed by C with C's certificate in KeyInfo, verified with A's: refused.
    forged = inner.replace(cert_base64(p("sig-a.crt")), cert_base64(p("sig-c.crt")))
    forged = re.sub(r"<ds:SignatureValue>.*?</ds:SignatureValue>", "<ds:SignatureValue/>", forged, flags=re.S)
    forged = re.sub(r"<ds:DigestValue>.*?</ds:DigestValue>", "<ds:DigestValue/>", forged, flags=re.S)
    forged = sign(forged, p("sig-c.key"), RESPONSE, mid)
    ok(xmlsec_verify(forged, p("sig-c.crt"), [RESPONSE])[0] == 0, "forged copy verifies with its own key")
    ok(xmlsec_verify(forged, p("sig-a.crt"), [RESPONSE])[0] != 0, "xmlsec1 trusted the KeyInfo, not the given cert")

    port = _free_port()
    url = f"https://127.0.0.1:{port}/ars"
    server = ArsServer(port, p("server.crt"), p("server.key"), p("ca.crt"))
    server.pin(p("client.crt"))
    ep = server.add("/ars", ArsEndpoint(url, "urn:test:a", p("sig-a.key"), p("sig-a.crt")))
    ep.trust("urn:test:b", p("sig-b.crt"))
    server.start()
    try:
        b = _client("urn:test:b", d, "sig-b")
        c = _client("urn:test:c", d, "sig-c")
        tls = {"cert": (p("client.crt"), p("client.key")), "verify": p("ca.crt")}

        def resolve(entity, artifact, expect_issuer="urn:test:a", **kw):
            rid, text = artifact_resolve(entity, url, artifact, **kw)
            return read_artifact_response(post_soap(url, text, **tls), p("sig-a.crt"), expect_issuer, rid)

        art = ep.issue(inner, 0, "urn:test:b")
        ok(parse_artifact(art).source_id == source_id("urn:test:a"), "issued SourceID")
        r = resolve(b, art)
        ok(r.status == [STATUS_SUCCESS] and r.message is not None, f"resolved: {r.status} {r.text[:300]}")
        ok(xmlsec_verify(r.message, p("sig-a.crt"), [RESPONSE])[0] == 0, "embedded message still verifies")
        ok(ep.events[-1]["signature_alg"] == RSA_SHA256, "pysaml2 signed the ArtifactResolve with RSA-SHA256")
        r = resolve(b, art)
        ok(r.message is None and ep.events[-1]["reason"] == "the artifact was resolved before", "second resolve")
        art = ep.issue(inner, 0, "urn:test:b")
        for kw, why in (({"sign": False}, "not signed"), ({"sign_alg": RSA_SHA1, "digest_alg": SHA1}, "refused")):
            r = resolve(b, art, **kw)
            ok(r.message is None and r.status[1:] == [STATUS_REQUEST_DENIED] and why in r.status_message,
               f"{kw}: {r.status} {r.status_message}")
        r = resolve(c, art)  # not a trusted requester
        ok(r.message is None and "unknown requester" in r.status_message, f"other requester: {r.status_message}")
        ep.trust("urn:test:c", p("sig-b.crt"))  # C's metadata says B's key: C's signature fails
        r = resolve(c, art)
        ok(r.message is None and "does not verify" in r.status_message, f"wrong key: {r.status_message}")
        r = resolve(b, art)
        ok(r.message is not None, "the refusals did not use up the artifact")
        # The requester's checks: an unsigned or foreign-signed ArtifactResponse is refused.
        for knobs, why in (({"sign_response": False}, "not signed"), ({"answer_key": p("sig-c.key")}, "does not verify")):
            art = ep.issue(inner, 0, "urn:test:b", **knobs)
            try:
                resolve(b, art)
            except Refusal as e:
                ok(why in str(e), f"{knobs}: {e}")
            else:
                raise AssertionError(f"artifact selftest: accepted an ArtifactResponse made with {knobs}")
        # Two messages in one ArtifactResponse are refused.
        two = artifact_response("urn:test:a", "_q", p("sig-a.key"), p("sig-a.crt"), message=inner + inner)
        try:
            verify_signed(two, NS_SAMLP, "ArtifactResponse", p("sig-a.crt"), [ARTIFACT_RESPONSE], one_message)
        except Refusal as e:
            ok("2 messages" in str(e), str(e))
        else:
            raise AssertionError("artifact selftest: two messages accepted")
        # Mutual TLS: no client certificate, or an unpinned one, gets nothing.
        before = len(server.events)
        try:
            post_soap(url, "<x/>", verify=p("ca.crt"))
        except requests.exceptions.RequestException:
            pass
        else:
            raise AssertionError("artifact selftest: a client without certificate was served")
        r = post_soap(url, "<x/>", verify=p("ca.crt"), cert=(p("other-client.crt"), p("other-client.key")))
        ok(r.status_code == 403, f"unpinned client certificate: HTTP {r.status_code}")
        outcomes = [e["outcome"] for e in server.events_since(before)]
        ok(outcomes == ["tls refused", "client certificate not pinned"], f"server events {outcomes}")
        # SOAP: 1.2 and non-text/xml refused, Fault read.
        soap12 = f'<s:Envelope xmlns:s="{NS_SOAP12}"><s:Body><x/></s:Body></s:Envelope>'
        try:
            soap_body(soap12)
        except Refusal as e:
            ok("SOAP 1.2" in str(e), str(e))
        try:
            soap_body(soap_fault(True, "why"))
        except SoapFault as f:
            ok(f.string == "why", f.string)
        r = requests.post(url, data=soap_envelope("<x/>"), headers={"Content-Type": "application/soap+xml"},
                          timeout=10, **tls)
        ok(r.status_code == 415, f"SOAP 1.2 media type: HTTP {r.status_code}")
    finally:
        server.stop()
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    print("artifact selftest: type-0x0004 artifacts, SOAP 1.1, signed ArtifactResolve/ArtifactResponse "
          "(xmlsec1), single use, refusals, mutual TLS with pinning")


def _free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        import logging

        logging.basicConfig(level=logging.CRITICAL)
        selftest()
