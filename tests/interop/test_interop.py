"""Interop test: poort between a foreign SAML service provider and identity provider (pysaml2 +
xmlsec1), and xmlsec1 verifying poort's signatures on its own.

Run through run.sh, which sets up keys, metadata, config and a running poort and exports:
INTEROP_TMP, POORT_URL, POORT_IDP_ID, POORT_SP_ID, POORT_SIGNING_CERT.

`python test_interop.py --selftest` runs the pysaml2 DV against the pysaml2 AD directly (no
poort), to check the peers themselves.
"""

import base64
import os
import re
import subprocess
import sys
import tempfile
import traceback
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.response import StatusAuthnFailed, StatusError, StatusNoAuthnContext
from saml2.s_utils import UnknownPrincipal  # noqa: F401  (kept for clearer tracebacks)
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, AuthnContextClassRef, NameID
from saml2.samlp import STATUS_AUTHN_FAILED, STATUS_RESPONDER, RequestedAuthnContext
from saml2.server import Server

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

import peers
from peers import AD_ID, AD_SUBJECT, COMPANY, DV_ENC_ID, DV_ID, KVK, RSA_SHA256, SHA256

LOA2 = "urn:etoegang:core:assurance-class:loa2"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
KVK_QUALIFIER = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"

POORT = os.environ.get("POORT_URL", "")
POORT_IDP_ID = os.environ.get("POORT_IDP_ID", "")
POORT_SP_ID = os.environ.get("POORT_SP_ID", "")
POORT_CERT = os.environ.get("POORT_SIGNING_CERT", "")
TIMEOUT = 15


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def excerpt(text, n=1500):
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return text if len(text) <= n else text[:n] + f"... [{len(text) - n} more chars]"


# ---------------------------------------------------------------------------------------------
# HTML forms (poort's auto-submitting answer form, its choice pages)


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": (a.get("method") or "get").lower(), "fields": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            if a.get("type") in ("radio", "checkbox") and a["name"] in self.forms[-1]["fields"]:
                self.forms[-1].setdefault("choices", {}).setdefault(a["name"], []).append(a.get("value", ""))
                return
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
            if a.get("type") in ("radio", "checkbox"):
                self.forms[-1].setdefault("choices", {}).setdefault(a["name"], []).append(a.get("value", ""))


def forms(html):
    p = FormParser()
    p.feed(html)
    return p.forms


# ---------------------------------------------------------------------------------------------
# The peers, bound to poort's published metadata


class Env:
    """poort's metadata fetched once; the pysaml2 DV(s) and AD trusting it."""

    def __init__(self):
        self.idp_md_text = fetch(POORT + "/saml/metadata")
        self.sp_md_text = fetch(POORT + "/saml/sp/metadata")
        self.idp_md = peers.tmp("poort-idp-metadata.xml")
        self.sp_md = peers.tmp("poort-sp-metadata.xml")
        with open(self.idp_md, "w") as f:
            f.write(self.idp_md_text)
        with open(self.sp_md, "w") as f:
            f.write(self.sp_md_text)
        self.dv = {eid: Saml2Client(peers.sp_config(eid, self.idp_md)) for eid in (DV_ID, DV_ENC_ID)}
        self.ad = Server(config=peers.idp_config(self.sp_md))
        # pysaml2 defaults to RSA-SHA1, which poort (rightly) refuses.
        for entity in [self.ad, *self.dv.values()]:
            entity.signing_algorithm, entity.digest_algorithm = RSA_SHA256, SHA256


def fetch(url):
    r = requests.get(url, timeout=TIMEOUT)
    check(r.status_code == 200, f"GET {url}: HTTP {r.status_code}: {excerpt(r.text)}")
    return r.text


def authn_context(level):
    return RequestedAuthnContext(authn_context_class_ref=[AuthnContextClassRef(text=level)], comparison="minimum")


def dv_request(dv, binding, relay_state):
    """The DV's signed AuthnRequest to poort, via pysaml2. Returns (request id, method, url, data)."""
    reqid, info = dv.prepare_for_authenticate(
        entityid=POORT_IDP_ID,
        relay_state=relay_state,
        binding=binding,
        sign=True,
        sigalg=RSA_SHA256,
        digest_alg=SHA256,
        attribute_consuming_service_index=str(peers.ACS_INDEX),
        requested_authn_context=authn_context(LOA3),
        nameid_format=NAMEID_FORMAT_UNSPECIFIED,
    )
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(info["headers"])["Location"]
        q = parse_qs(urlparse(location).query)
        check("Signature" in q and q.get("SigAlg") == [RSA_SHA256], f"pysaml2 did not sign the query: {location}")
        return reqid, "GET", location, None
    (form,) = forms(info["data"])
    check(form["fields"].get("SAMLRequest"), "pysaml2 made no POST form")
    xml = base64.b64decode(form["fields"]["SAMLRequest"]).decode()
    check("<ds:Signature" in xml or ":Signature" in xml, "pysaml2 did not sign the POST request")
    return reqid, "POST", form["action"], form["fields"]


def ad_parse_request(ad, location):
    """The AD receives poort's AuthnRequest (HTTP-Redirect): pysaml2 verifies poort's query
    signature with the key from poort's SP metadata."""
    check(location.startswith(peers.AD_SSO), f"poort sent the browser to {location}, not the AD")
    q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    check("SAMLRequest" in q, f"no SAMLRequest in {location}")
    check("Signature" in q and "SigAlg" in q, f"poort's redirect request is not signed: {location}")
    check(q["SigAlg"] == RSA_SHA256, f"poort signs with {q['SigAlg']}, expected RSA-SHA256")
    req = ad.parse_authn_request(
        q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"), sigalg=q["SigAlg"], signature=q["Signature"]
    )
    check(req is not None, "pysaml2 AD could not parse poort's AuthnRequest")
    check(req.message.issuer.text == POORT_SP_ID, f"AuthnRequest Issuer {req.message.issuer.text}")
    return req, q


def ad_response(ad, req, level=LOA3, sign_assertion=True, sign_response=False, cancel=False):
    """The AD's Response to poort, made by pysaml2. Returns (xml, destination)."""
    args = ad.response_args(req.message, [BINDING_HTTP_POST])
    check(args["destination"] == POORT + "/saml/acs", f"poort asked to be answered at {args['destination']}")
    if cancel:
        resp = ad.create_error_response(
            args["in_response_to"], args["destination"], (STATUS_AUTHN_FAILED, "Authentication cancelled"),
            sign=sign_response, sign_alg=RSA_SHA256, digest_alg=SHA256,
        )
        return str(resp), args["destination"]
    resp = ad.create_authn_response(
        identity={},
        userid=AD_SUBJECT,
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=AD_SUBJECT),
        authn={"class_ref": level, "authn_auth": AD_ID},
        sign_assertion=sign_assertion,
        sign_response=sign_response,
        sign_alg=RSA_SHA256,
        digest_alg=SHA256,
        **args,
    )
    text = str(resp)
    check(POORT_SP_ID in text, "AD Response has no Audience for poort")
    return text, args["destination"]


def follow_to_answer(session, r, dv_acs, trail):
    """Follows poort's pages until a form carrying SAMLResponse to the DV's ACS appears.
    Chooses the organisation when asked."""
    for _ in range(6):
        trail.append(f"{r.request.method} {r.url} -> {r.status_code}")
        if r.status_code in (301, 302, 303, 307, 308):
            r = session.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
            continue
        for f in forms(r.text):
            if "SAMLResponse" in f["fields"]:
                check(f["action"] == dv_acs, f"answer form posts to {f['action']}, expected {dv_acs}")
                return f["fields"]["SAMLResponse"], f["fields"].get("RelayState"), r
        org_form = next((f for f in forms(r.text) if "organisation" in f["fields"]), None)
        if org_form is not None:
            choices = org_form.get("choices", {}).get("organisation", [org_form["fields"]["organisation"]])
            check(KVK in choices, f"organisation page offers {choices}, not {KVK}")
            data = dict(org_form["fields"], organisation=KVK)
            r = session.post(urljoin(r.url, org_form["action"] or r.url), data=data, allow_redirects=False, timeout=TIMEOUT)
            continue
        raise TestFailure(f"no SAMLResponse form for the DV; trail {trail}; last page HTTP {r.status_code}: {excerpt(r.text)}")
    raise TestFailure(f"too many steps: {trail}")


def login(env, binding=BINDING_HTTP_REDIRECT, dv_id=DV_ID, level=LOA3, sign_assertion=True, sign_response=False, cancel=False):
    """One whole login through poort. Returns (DV request id, base64 SAMLResponse, RelayState, trail)."""
    dv = env.dv[dv_id]
    session = requests.Session()
    relay = "rs-" + os.urandom(6).hex()
    reqid, method, url, data = dv_request(dv, binding, relay)
    check(url.startswith(POORT + "/saml/sso"), f"pysaml2 DV sends to {url}")
    trail = []
    if method == "GET":
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    else:
        r = session.post(url, data=data, allow_redirects=False, timeout=TIMEOUT)
    trail.append(f"{method} /saml/sso -> {r.status_code}")
    # To the AD: directly (one AD configured), or via the choice page.
    if r.status_code not in (301, 302, 303, 307):
        idp_form = next((f for f in forms(r.text) if "idp" in f["fields"]), None)
        check(idp_form is not None, f"/saml/sso answered HTTP {r.status_code} without a redirect to the AD: {excerpt(r.text)}")
        r = session.post(urljoin(r.url, idp_form["action"]), data=dict(idp_form["fields"], idp=AD_ID), allow_redirects=False, timeout=TIMEOUT)
        trail.append(f"POST /login/idp -> {r.status_code}")
    check(r.status_code in (302, 303, 307), f"expected a redirect to the AD, got HTTP {r.status_code}: {excerpt(r.text)}")
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs = ad_response(env.ad, req, level, sign_assertion, sign_response, cancel)
    r = session.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    saml_response, relay_back, _ = follow_to_answer(session, r, peers.DV_ACS[dv_id], trail)
    check(relay_back == relay, f"RelayState came back as {relay_back!r}, sent {relay!r}")
    return reqid, saml_response, relay, trail


# ---------------------------------------------------------------------------------------------
# Reading poort's answer


def attributes(assertion_xml):
    """{name: [values]} from an assertion; a NameID value becomes (qualifier, text)."""
    root = ET.fromstring(assertion_xml)
    out = {}
    for attr in root.iter(f"{{{NS_SAML}}}Attribute"):
        vals = []
        for v in attr.findall(f"{{{NS_SAML}}}AttributeValue"):
            nid = v.find(f"{{{NS_SAML}}}NameID")
            vals.append((nid.get("NameQualifier"), nid.text) if nid is not None else (v.text or ""))
        out[attr.get("Name")] = vals
    return out


def assert_success(env, dv_id, reqid, saml_response, service_id, service_uuid):
    dv = env.dv[dv_id]
    resp = dv.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding={reqid: "/"})
    check(resp is not None, "pysaml2 DV rejected poort's Response")
    check(resp.in_response_to == reqid, f"InResponseTo {resp.in_response_to} != {reqid}")
    check(resp.response.issuer.text == POORT_IDP_ID, f"Response Issuer {resp.response.issuer.text}")
    a = resp.assertion
    check(a.issuer.text == POORT_IDP_ID, f"Assertion Issuer {a.issuer.text}")
    audiences = [au.text for ar in a.conditions.audience_restriction for au in ar.audience]
    check(audiences == [dv_id], f"Audience {audiences}, expected [{dv_id}]")
    sc = a.subject.subject_confirmation[0].subject_confirmation_data
    check(sc.in_response_to == reqid and sc.recipient == peers.DV_ACS[dv_id], f"SubjectConfirmationData {sc}")
    refs = [c[0] for c in resp.authn_info()]
    check(refs == [LOA3], f"AuthnContextClassRef {refs}, expected [{LOA3}]")
    attrs = attributes(str(a))
    check(attrs.get("urn:etoegang:core:ServiceID") == [service_id], f"ServiceID {attrs.get('urn:etoegang:core:ServiceID')}")
    check(attrs.get("urn:etoegang:core:ServiceUUID") == [service_uuid], f"ServiceUUID {attrs.get('urn:etoegang:core:ServiceUUID')}")
    legal = attrs.get("urn:etoegang:core:LegalSubjectID")
    check(legal == [(KVK_QUALIFIER, KVK)], f"LegalSubjectID {legal}")
    company = attrs.get("urn:etoegang:1.11:attribute-represented:CompanyName")
    check(company == [COMPANY], f"CompanyName {company}")
    acting = attrs.get("urn:etoegang:core:ActingSubjectID")
    check(acting and isinstance(acting[0], tuple) and acting[0][1], f"ActingSubjectID {acting}")
    check(AD_SUBJECT not in (acting[0][1] or ""), "ActingSubjectID leaks the AD's subject instead of a pseudonym")
    return resp, attrs


def assert_status(env, reqid, saml_response, exc_class, second, message=None):
    dv = env.dv[DV_ID]
    try:
        dv.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding={reqid: "/"})
    except StatusError as e:
        check(isinstance(e, exc_class), f"pysaml2 reported {type(e).__name__}: {e}, expected {exc_class.__name__}")
        if message is not None:
            check(message in str(e), f"status message {str(e)!r}, expected {message!r}")
    else:
        raise TestFailure(f"pysaml2 accepted the Response; expected {exc_class.__name__}")
    # The raw status too: pysaml2 verified the signature above before reading the status.
    root = ET.fromstring(base64.b64decode(saml_response))
    codes = [c.get("Value") for c in root.iter(f"{{{NS_SAMLP}}}StatusCode")]
    check(len(codes) == 2 and codes[1] == second, f"StatusCodes {codes}, expected second level {second}")
    check(codes[0] in (STATUS_RESPONDER, STATUS_REQUESTER), f"top-level StatusCode {codes[0]}")
    check(root.get("InResponseTo") == reqid, f"error Response InResponseTo {root.get('InResponseTo')}")
    return codes


# ---------------------------------------------------------------------------------------------
# xmlsec1 on its own


def xmlsec_verify(xml_text, id_attrs):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=peers.tmp(), delete=False) as f:
        f.write(xml_text)
    cmd = [peers.XMLSEC, "--verify", "--pubkey-cert-pem", POORT_CERT]
    for a in id_attrs:
        cmd += ["--id-attr:ID", a]
    cmd.append(f.name)
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def extract_assertion(response_xml):
    """The Assertion element as its own document, with the namespace declarations in scope."""
    m = re.search(r"<((?:[\w.-]+:)?)Assertion[\s>].*?</\1Assertion>", response_xml, re.S)
    check(m, "no Assertion in poort's Response")
    text = m.group(0)
    start_end = text.index(">")
    start = text[:start_end]
    decls = dict(re.findall(r'xmlns(?::([\w.-]+))?="([^"]*)"', response_xml[: m.start()]))
    have = set(re.findall(r'xmlns(?::([\w.-]+))?="', start))
    extra = "".join(
        (f' xmlns:{p}="{u}"' if p else f' xmlns="{u}"') for p, u in decls.items() if p not in have
    )
    return start + extra + text[start_end:]


# ---------------------------------------------------------------------------------------------
# The cases


def case_metadata_signatures_xmlsec1(env):
    rc, out = xmlsec_verify(env.idp_md_text, ["urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"])
    check(rc == 0, f"xmlsec1 rejects poort's IdP metadata: {out}")
    rc, out = xmlsec_verify(env.sp_md_text, ["urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"])
    check(rc == 0, f"xmlsec1 rejects poort's SP metadata: {out}")
    tampered = env.idp_md_text.replace(POORT + "/saml/sso", POORT + "/saml/evil", 1)
    check(tampered != env.idp_md_text, "IdP metadata does not name /saml/sso")
    rc, _ = xmlsec_verify(tampered, ["urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"])
    check(rc != 0, "xmlsec1 accepted tampered metadata: the check proves nothing")


def case_redirect_binding_login(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT)
    assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)


def case_post_binding_login(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_POST)
    assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)


def case_ad_signs_whole_response(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT, sign_assertion=False, sign_response=True)
    assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)


def case_encrypted_assertion_login(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT, dv_id=DV_ENC_ID)
    text = base64.b64decode(saml_response).decode()
    check("EncryptedAssertion" in text, "DV metadata has an encryption key, but poort's assertion is not encrypted")
    check("http://www.w3.org/2009/xmlenc11#aes256-gcm" in text, "assertion not encrypted with AES-256-GCM")
    assert_success(env, DV_ENC_ID, reqid, saml_response, peers.SERVICE_ENC_ID, peers.SERVICE_ENC_UUID)


def case_pseudonym_stable_per_dv(env):
    _, r1, _, _ = login(env, BINDING_HTTP_REDIRECT)
    _, r2, _, _ = login(env, BINDING_HTTP_POST)
    a1 = attributes(extract_assertion(base64.b64decode(r1).decode()))
    a2 = attributes(extract_assertion(base64.b64decode(r2).decode()))
    p1, p2 = a1["urn:etoegang:core:ActingSubjectID"], a2["urn:etoegang:core:ActingSubjectID"]
    check(p1 == p2, f"ActingSubjectID differs between two logins of one person at one DV: {p1} vs {p2}")


def case_ad_cancels(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT, cancel=True)
    codes = assert_status(env, reqid, saml_response, StatusAuthnFailed, STATUS_AUTHN_FAILED, "Authentication cancelled")
    check(codes[0] == STATUS_RESPONDER, f"top-level StatusCode {codes[0]}, expected Responder")


def case_level_too_low(env):
    reqid, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT, level=LOA2)
    assert_status(env, reqid, saml_response, StatusNoAuthnContext, STATUS_NO_AUTHN_CONTEXT)


def case_response_signatures_xmlsec1(env):
    _, saml_response, _, _ = login(env, BINDING_HTTP_REDIRECT)
    text = base64.b64decode(saml_response).decode()
    ids = ["urn:oasis:names:tc:SAML:2.0:protocol:Response", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"]
    rc, out = xmlsec_verify(text, ids)
    check(rc == 0, f"xmlsec1 rejects poort's Response: {out}")
    assertion = extract_assertion(text)
    check(re.search(r"<(?:[\w.-]+:)?Signature[\s>]", assertion), "poort's Assertion carries no signature of its own")
    rc, out = xmlsec_verify(assertion, ids)
    check(rc == 0, f"xmlsec1 rejects poort's Assertion (as its own document): {out}")
    for doc, what in ((text, "Response"), (assertion, "Assertion")):
        tampered = doc.replace(COMPANY, COMPANY + " X", 1)
        check(tampered != doc, f"{what} does not contain the CompanyName")
        rc, _ = xmlsec_verify(tampered, ids)
        check(rc != 0, f"xmlsec1 accepted a tampered {what}: the check proves nothing")


def case_ad_verifies_poort_request_signature(env):
    """pysaml2 must refuse poort's AuthnRequest when the query signature is broken (so the
    successful parse in the login cases really verified poort's signature)."""
    dv = env.dv[DV_ID]
    session = requests.Session()
    _, _, url, _ = dv_request(dv, BINDING_HTTP_REDIRECT, "rs-x")
    r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code in (302, 303, 307), f"expected a redirect to the AD, got HTTP {r.status_code}")
    location = r.headers["Location"]
    q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    sig = base64.b64decode(q["Signature"])
    bad = base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()
    try:
        env.ad.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"), sigalg=q["SigAlg"], signature=bad)
    except Exception:
        return
    raise TestFailure("pysaml2 AD accepted a broken redirect signature: its check is not active")


def ad_round(env, binding=BINDING_HTTP_REDIRECT):
    """DV -> poort -> AD; returns (session, DV request id, parsed AD-side request)."""
    session = requests.Session()
    reqid, method, url, data = dv_request(env.dv[DV_ID], binding, "rs-n")
    if method == "GET":
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    else:
        r = session.post(url, data=data, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code in (302, 303, 307), f"expected a redirect to the AD, got HTTP {r.status_code}")
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    return session, reqid, req


def no_success_for_dv(env, reqid, r):
    """poort's answer must not hand the DV an identity: an error page, at most with a SAML error."""
    for f in forms(r.text):
        if "SAMLResponse" in f["fields"]:
            root = ET.fromstring(base64.b64decode(f["fields"]["SAMLResponse"]))
            check(root.find(f"{{{NS_SAML}}}Assertion") is None and root.find(f"{{{NS_SAML}}}EncryptedAssertion") is None,
                  "poort answered the DV with an assertion")
            try:
                env.dv[DV_ID].parse_authn_request_response(f["fields"]["SAMLResponse"], BINDING_HTTP_POST, outstanding={reqid: "/"})
            except StatusError:
                return
            raise TestFailure("pysaml2 DV reads poort's answer as a success")
    check(r.status_code not in (301, 302, 303, 307) or "/login/organisation" not in r.headers.get("Location", ""),
          "poort went on to the organisation choice")


def case_sha1_signed_ad_response_refused(env):
    session, reqid, req = ad_round(env)
    args = env.ad.response_args(req.message, [BINDING_HTTP_POST])
    sha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    resp = env.ad.create_authn_response(
        identity={}, userid=AD_SUBJECT, name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=AD_SUBJECT),
        authn={"class_ref": LOA3, "authn_auth": AD_ID}, sign_assertion=True, sign_response=False,
        sign_alg=sha1, digest_alg="http://www.w3.org/2000/09/xmldsig#sha1", **args,
    )
    check(sha1 in str(resp), "pysaml2 did not sign with RSA-SHA1")
    r = session.post(args["destination"], data={"SAMLResponse": base64.b64encode(str(resp).encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    no_success_for_dv(env, reqid, r)


def case_replayed_ad_response_refused(env):
    session, reqid, req = ad_round(env)
    xml, acs = ad_response(env.ad, req)
    body = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
    r = session.post(acs, data=body, allow_redirects=False, timeout=TIMEOUT)
    follow_to_answer(session, r, peers.DV_ACS[DV_ID], [])
    r = session.post(acs, data=body, allow_redirects=False, timeout=TIMEOUT)
    no_success_for_dv(env, reqid, r)


CASES = [
    case_metadata_signatures_xmlsec1,
    case_redirect_binding_login,
    case_post_binding_login,
    case_ad_signs_whole_response,
    case_encrypted_assertion_login,
    case_pseudonym_stable_per_dv,
    case_ad_cancels,
    case_level_too_low,
    case_response_signatures_xmlsec1,
    case_ad_verifies_poort_request_signature,
    case_sha1_signed_ad_response_refused,
    case_replayed_ad_response_refused,
]


# ---------------------------------------------------------------------------------------------
# Self-test: the pysaml2 peers against each other, without poort.


def selftest():
    from saml2.metadata import entity_descriptor

    d = tempfile.mkdtemp(dir=peers.tmp())
    ad_md, dv_md = os.path.join(d, "ad.xml"), os.path.join(d, "dv.xml")
    with open(ad_md, "w") as f:
        f.write(str(peers.ad_metadata()))
    with open(dv_md, "w") as f:
        f.write(str(entity_descriptor(peers.sp_config(DV_ID))))
    dv = Saml2Client(peers.sp_config(DV_ID, ad_md))
    ad = Server(config=peers.idp_config(dv_md))
    reqid, info = dv.prepare_for_authenticate(
        entityid=AD_ID, relay_state="rs", binding=BINDING_HTTP_REDIRECT, sign=True, sigalg=RSA_SHA256,
        digest_alg=SHA256, requested_authn_context=authn_context(LOA3),
    )
    q = {k: v[0] for k, v in parse_qs(urlparse(dict(info["headers"])["Location"]).query).items()}
    req = ad.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q["RelayState"], sigalg=q["SigAlg"], signature=q["Signature"])
    args = ad.response_args(req.message, [BINDING_HTTP_POST])
    resp = ad.create_authn_response(
        identity={}, userid=AD_SUBJECT, name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=AD_SUBJECT),
        authn={"class_ref": LOA3, "authn_auth": AD_ID}, sign_assertion=True, sign_response=True,
        sign_alg=RSA_SHA256, digest_alg=SHA256, **args,
    )
    parsed = dv.parse_authn_request_response(base64.b64encode(str(resp).encode()).decode(), BINDING_HTTP_POST, outstanding={reqid: "/"})
    check(parsed.authn_info()[0][0] == LOA3, "selftest: level")
    check(parsed.name_id.text == AD_SUBJECT, "selftest: subject")
    err = ad.create_error_response(args["in_response_to"], args["destination"], (STATUS_AUTHN_FAILED, "Authentication cancelled"), sign=True)
    try:
        dv.parse_authn_request_response(base64.b64encode(str(err).encode()).decode(), BINDING_HTTP_POST, outstanding={reqid: "/"})
    except StatusAuthnFailed:
        pass
    else:
        raise TestFailure("selftest: error status not reported")
    print("selftest: pysaml2 DV and AD interoperate (redirect request, signed response, error status)")


def case_oidc_authlib_client_code_flow_with_pkce(env):
    """authlib, as an OpenID Connect relying party, logs in through poort (the pysaml2 AD
    upstream): discovery, code flow with PKCE S256 and nonce, client_secret_basic, and the ID
    token verified with poort's JWKS by authlib's own JOSE code."""
    meta = requests.get(POORT + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    check(meta["issuer"] == POORT, f"issuer {meta['issuer']}")
    client = OAuth2Session(
        peers.OIDC_CLIENT_ID, peers.OIDC_CLIENT_SECRET, scope="openid",
        redirect_uri=peers.OIDC_REDIRECT, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(64)
    nonce = generate_token(20)
    uri, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, acr_values=LOA3
    )
    browser = requests.Session()
    r = browser.get(uri, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code in (302, 303), f"authorize answered HTTP {r.status_code}: {excerpt(r.text)}")
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs = ad_response(env.ad, req, LOA3)
    r = browser.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    location = r.headers.get("Location", "")
    check(r.status_code == 303 and location.startswith(peers.OIDC_REDIRECT), f"HTTP {r.status_code} to {location}: {excerpt(r.text)}")
    token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=TIMEOUT).json())
    claims = jwt.decode(
        token["id_token"], keys,
        claims_options={
            "iss": {"essential": True, "value": POORT},
            "aud": {"essential": True, "value": peers.OIDC_CLIENT_ID},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate()
    check(claims["acr"] == LOA3, f"acr {claims['acr']}")
    check(claims["represents"]["sub"] == KVK, f"represents {claims['represents']}")
    check(claims["represents"]["sub_id_type"] == "urn:nl-eid-gdi:1.0:id:KvKnr",
          f"represents sub_id_type {claims['represents']}")
    check(claims["service_id"] == peers.SERVICE_ID, f"service_id {claims['service_id']}")
    check(AD_SUBJECT not in claims["sub"], "sub must be a pairwise pseudonym")
    info = client.get(meta["userinfo_endpoint"], timeout=TIMEOUT).json()
    check(info["sub"] == claims["sub"], f"userinfo sub {info.get('sub')}")
    # A token signed by another key is refused by the same verification.
    other = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    forged = jwt.encode({"alg": "RS256", "kid": keys.keys[0].kid}, dict(claims), other).decode()
    try:
        jwt.decode(forged, keys).validate()
    except Exception:
        pass
    else:
        raise TestFailure("a token signed with a foreign key verified against poort's JWKS")


CASES.append(case_oidc_authlib_client_code_flow_with_pkce)


def main():
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # pysaml2 logs expected status errors loudly
    if "--selftest" in sys.argv:
        selftest()
        return 0
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    passed = failed = 0
    try:
        env = Env()
    except Exception:
        traceback.print_exc()
        print("setup failed (poort's metadata or the pysaml2 peers)")
        print(f"0 passed, {len(CASES)} failed")
        return 1
    for case in CASES:
        if only and not any(o in case.__name__ for o in only):
            continue
        name = case.__name__[len("case_"):]
        try:
            case(env)
        except Exception as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            if not isinstance(e, TestFailure):
                traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
