"""Interop test: poort between a foreign SAML service provider and identity provider (pysaml2 +
xmlsec1), a second foreign DV library (OneLogin's python3-saml), xmlsec1 verifying poort's
signatures on its own, and a service catalogue signed by xmlsec1 read by `poort catalogue`.

Run through run.sh, which sets up keys, metadata, config and a running poort and exports:
INTEROP_TMP, POORT_URL, POORT_IDP_ID, POORT_SP_ID, POORT_SIGNING_CERT, POORT_BIN.

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
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from saml2 import (
    BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, element_to_extension_element,
    extension_element_to_element, md, saml, xmlenc as xenc,
)
from saml2.client import Saml2Client
from saml2.response import StatusAuthnFailed, StatusError, StatusNoAuthnContext
from saml2.s_utils import UnknownPrincipal  # noqa: F401  (kept for clearer tracebacks)
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, AuthnContextClassRef, NameID
from saml2.samlp import STATUS_AUTHN_FAILED, STATUS_RESPONDER, RequestedAuthnContext
from saml2.server import Server

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7523 import PrivateKeyJWT

import artifact_peer as ap
import onelogin_peer as ol
import peers
import sessions
from peers import (
    AD_ART_ID, AD_ART_SUBJECT, AD_ID, AD_SUBJECT, COMPANY, DV_ART_ENC_ID, DV_ART_ID, DV_ENC_ID, DV_ID, KVK,
    RSA_SHA256, SHA256,
)

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
TLS_DIR = os.environ.get("INTEROP_TLS", "")
TIMEOUT = 15
# poort's endpoints as its metadata publishes them (filled by Env): never built from POORT.
EP = {}


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
            # Radio buttons, checkboxes and named submit buttons are choices among values.
            choice = a.get("type") in ("radio", "checkbox") or (tag == "button" and a.get("type", "submit") == "submit")
            if choice and a["name"] in self.forms[-1]["fields"]:
                self.forms[-1].setdefault("choices", {}).setdefault(a["name"], []).append(a.get("value", ""))
                return
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
            if choice:
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
        self.dv = {eid: Saml2Client(peers.sp_config(eid, self.idp_md)) for eid in peers.DVS}
        for eid, dv in peers.DVS.items():
            if dv.get("encrypt") and dv.get("asks"):
                peers.decrypt_attributes_as_text(self.dv[eid])
        self.ad = Server(config=peers.idp_config(self.sp_md))
        self.ad_art = Server(config=peers.idp_config(self.sp_md, AD_ART_ID))
        # pysaml2 defaults to RSA-SHA1, which poort (rightly) refuses.
        for entity in [self.ad, self.ad_art, *self.dv.values()]:
            entity.signing_algorithm, entity.digest_algorithm = RSA_SHA256, SHA256
        # poort's endpoints and signing certificates, from its metadata only.
        idp, sp = "IDPSSODescriptor", "SPSSODescriptor"
        EP["sso"] = {b: loc for b, loc, _, _ in ap.metadata_endpoints(self.idp_md_text, idp, "SingleSignOnService")}
        EP["acs"] = {b: loc for b, loc, _, _ in ap.metadata_endpoints(self.sp_md_text, sp, "AssertionConsumerService")}
        EP["slo_idp"] = {b: loc for b, loc, _, _ in ap.metadata_endpoints(self.idp_md_text, idp, "SingleLogoutService")}
        EP["slo_sp"] = [loc for _, loc, _, _ in ap.metadata_endpoints(self.sp_md_text, sp, "SingleLogoutService")]
        EP["idp_ars"] = {i: loc for b, loc, i, _ in ap.metadata_endpoints(self.idp_md_text, idp, "ArtifactResolutionService")
                         if b == ap.BINDING_SOAP}
        EP["sp_ars"] = {i: loc for b, loc, i, _ in ap.metadata_endpoints(self.sp_md_text, sp, "ArtifactResolutionService")
                        if b == ap.BINDING_SOAP}
        self.idp_cert = ap.metadata_cert(self.idp_md_text, idp, peers.tmp("poort-idp-signing.crt"))
        # The python3-saml DV, trusting poort's IdP metadata as python3-saml's parser reads it:
        # one settings object per binding of poort's SingleSignOnService it sends to.
        self.onelogin = {b: ol.settings(self.idp_md_text, b) for b in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)}
        self.sp_cert = ap.metadata_cert(self.sp_md_text, sp, peers.tmp("poort-sp-signing.crt"))
        # The peers' ArtifactResolutionServices: HTTPS on 127.0.0.1, poort's client certificate only.
        self.ars = None
        if peers.ARS_PORT and TLS_DIR:
            tls = lambda n: os.path.join(TLS_DIR, n)  # noqa: E731
            self.ars = ap.ArsServer(peers.ARS_PORT, tls("peer-server.crt"), tls("peer-server.key"), tls("ca.crt"))
            self.ars.pin(tls("poort-client.crt"))
            self.poort_client_pin = ap.cert_sha256(tls("poort-client.crt"))
            eps = {}
            for (eid, index), path in peers.ARS_PATHS.items():
                name = peers.DVS[eid]["name"] if eid in peers.DVS else "ad-art"
                eps[(eid, index)] = self.ars.add(path, ap.ArsEndpoint(
                    peers.ars_url(eid, index), eid, peers.tmp(f"{name}.key"), peers.tmp(f"{name}.crt"),
                    decoy=(eid == DV_ART_ID and index != peers.DV_ART_ARS_INDEX),
                ))
            # Who may resolve: poort, in the role the artifact went to, with the key in its metadata.
            self.dv_ars = eps[(DV_ART_ID, peers.DV_ART_ARS_INDEX)]
            self.dv_ars_decoy = eps[(DV_ART_ID, 0)]
            self.ad_ars = eps[(AD_ART_ID, 0)]
            self.dv_ars.trust(POORT_IDP_ID, self.idp_cert)
            self.ad_ars.trust(POORT_SP_ID, self.sp_cert)
            self.ars.start()


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


def ad_response(ad, req, level=LOA3, sign_assertion=True, sign_response=False, cancel=False, subject=AD_SUBJECT,
                identity=None):
    """The AD's Response to poort, made by pysaml2, for `subject` with the attributes in
    `identity` (none by default). Returns (xml, destination)."""
    args = ad.response_args(req.message, [BINDING_HTTP_POST])
    check(args["destination"] == EP["acs"].get(BINDING_HTTP_POST),
          f"poort asked to be answered at {args['destination']}, its metadata's HTTP-POST ACS is "
          f"{EP['acs'].get(BINDING_HTTP_POST)}")
    if cancel:
        resp = ad.create_error_response(
            args["in_response_to"], args["destination"], (STATUS_AUTHN_FAILED, "Authentication cancelled"),
            sign=sign_response, sign_alg=RSA_SHA256, digest_alg=SHA256,
        )
        return str(resp), args["destination"]
    resp = ad.create_authn_response(
        identity=identity or {},
        userid=subject,
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=subject),
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


PEER_PREFIX = "http://127.0.0.1:9/"  # the in-process peers' front-channel endpoints


def follow_to_dv(session, r, trail):
    """Follows poort's pages (choosing the organisation when asked) until poort answers the DV:
    a form posting SAMLResponse (HTTP-POST), or a redirect to a peer's endpoint (HTTP-Artifact).
    Returns ("post", form, response) or ("redirect", location, response)."""
    for _ in range(6):
        trail.append(f"{r.request.method} {urlparse(r.url).path} -> {r.status_code}")
        if r.status_code in (301, 302, 303, 307, 308):
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(PEER_PREFIX):
                return "redirect", location, r
            r = session.get(location, allow_redirects=False, timeout=TIMEOUT)
            continue
        for f in forms(r.text):
            if "SAMLResponse" in f["fields"]:
                return "post", f, r
        org_form = next((f for f in forms(r.text) if "organisation" in f["fields"]), None)
        if org_form is not None:
            choices = org_form.get("choices", {}).get("organisation", [org_form["fields"]["organisation"]])
            check(KVK in choices, f"organisation page offers {choices}, not {KVK}")
            data = dict(org_form["fields"], organisation=KVK)
            r = session.post(urljoin(r.url, org_form["action"] or r.url), data=data, allow_redirects=False, timeout=TIMEOUT)
            continue
        raise TestFailure(f"no answer for the DV; trail {trail}; last page HTTP {r.status_code}: {excerpt(r.text)}")
    raise TestFailure(f"too many steps: {trail}")


def follow_to_answer(session, r, dv_acs, trail):
    """The DV's answer by HTTP-POST: (SAMLResponse, RelayState, page)."""
    kind, got, r = follow_to_dv(session, r, trail)
    check(kind == "post", f"expected poort's POST form for {dv_acs}, got a redirect to {got}; trail {trail}")
    check(got["action"] == dv_acs, f"answer form posts to {got['action']}, expected {dv_acs}")
    return got["fields"]["SAMLResponse"], got["fields"].get("RelayState"), r


def choose_ad(session, r, ad_id, trail):
    """poort's AD choice page (two ADs are configured): picks `ad_id`; returns poort's redirect
    to that AD."""
    for _ in range(3):  # poort's own redirects to its choice page
        if r.status_code in (301, 302, 303, 307) and not urljoin(r.url, r.headers["Location"]).startswith(PEER_PREFIX):
            trail.append(f"{r.request.method} {urlparse(r.url).path} -> {r.status_code}")
            r = session.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
    if r.status_code not in (301, 302, 303, 307):
        idp_form = next((f for f in forms(r.text) if "idp" in f["fields"]), None)
        check(idp_form is not None, f"poort answered HTTP {r.status_code} without the AD choice or a redirect: {excerpt(r.text)}")
        offered = idp_form.get("choices", {}).get("idp", [idp_form["fields"]["idp"]])
        check(ad_id in offered, f"the AD choice offers {offered}, not {ad_id}")
        r = session.post(urljoin(r.url, idp_form["action"]), data=dict(idp_form["fields"], idp=ad_id), allow_redirects=False, timeout=TIMEOUT)
        trail.append(f"POST {urlparse(r.url).path} (AD {ad_id}) -> {r.status_code}")
    check(r.status_code in (302, 303, 307), f"expected a redirect to the AD, got HTTP {r.status_code}: {excerpt(r.text)}")
    return r


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
    r = choose_ad(session, r, AD_ID, trail)
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


def assert_success(env, dv_id, reqid, saml_response, service_id, service_uuid, binding=BINDING_HTTP_POST, legal=None):
    """pysaml2 verifies poort's Response (base64) as received by `binding` (for HTTP-Artifact:
    the message the DV resolved) and the identity in it is checked in full. `legal`: the
    LegalSubjectID's NameIDs as (NameQualifier, value); by default the KvK number alone."""
    dv = env.dv[dv_id]
    resp = dv.parse_authn_request_response(saml_response, binding, outstanding={reqid: "/"})
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
    got = attrs.get("urn:etoegang:core:LegalSubjectID")
    check(got == (legal or [(KVK_QUALIFIER, KVK)]), f"LegalSubjectID {got}")
    company = attrs.get("urn:etoegang:1.11:attribute-represented:CompanyName")
    check(company == [COMPANY], f"CompanyName {company}")
    acting = attrs.get("urn:etoegang:core:ActingSubjectID")
    check(acting and isinstance(acting[0], tuple) and acting[0][1], f"ActingSubjectID {acting}")
    for subject in (AD_SUBJECT, AD_ART_SUBJECT):
        check(subject not in (acting[0][1] or ""), "ActingSubjectID leaks the AD's subject instead of a pseudonym")
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


def extract(text, ns, local):
    """The first {ns}local element of `text` as its own document (namespaces in scope added)."""
    try:
        return ap.standalone(text, ns, local)
    except ap.Refusal as e:
        raise TestFailure(f"cannot extract {local}: {e}") from None


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
    r = choose_ad(session, r, AD_ID, [])
    location = r.headers["Location"]
    q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    sig = base64.b64decode(q["Signature"])
    bad = base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()
    try:
        env.ad.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"), sigalg=q["SigAlg"], signature=bad)
    except Exception:
        return
    raise TestFailure("pysaml2 AD accepted a broken redirect signature: its check is not active")


def ad_round(env, binding=BINDING_HTTP_REDIRECT, dv_id=DV_ID):
    """DV -> poort -> AD; returns (session, DV request id, parsed AD-side request)."""
    session = requests.Session()
    reqid, method, url, data = dv_request(env.dv[dv_id], binding, "rs-n")
    if method == "GET":
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    else:
        r = session.post(url, data=data, allow_redirects=False, timeout=TIMEOUT)
    r = choose_ad(session, r, AD_ID, [])
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


# ---------------------------------------------------------------------------------------------
# The HTTP-Artifact binding (afsprakenstelsel, page *Bindings*: HM-AD Artifact-Artifact; the DV's
# answer always by artifact): pysaml2 makes and reads the messages, artifact_peer.py carries them
# (artifacts, SOAP 1.1, signed ArtifactResolve / ArtifactResponse, the peers' HTTPS
# ArtifactResolutionServices with mutual TLS).

REASON_USED = re.compile(r"resolved|used|once|unknown|expired|no longer|not found|again", re.I)
REASON_OTHER_PEER = re.compile(r"issued|another|other|not for|requester|peer|entity|belong", re.I)
REASON_UNSIGNED = re.compile(r"sign", re.I)
REASON_SHA1 = re.compile(r"sha-?1|algorithm", re.I)


def need(env, what):
    """The artifact cases need poort's artifact endpoints in its metadata and the peers' ARS."""
    check(env.ars is not None, "the peers' ArtifactResolutionService is not running (PEER_ARS_PORT / INTEROP_TLS unset)")
    for key, binding, where in (
        ("sso", BINDING_HTTP_ARTIFACT, "IdP metadata: SingleSignOnService"),
        ("acs", BINDING_HTTP_ARTIFACT, "SP metadata: AssertionConsumerService"),
    ):
        if binding in what:
            check(binding in EP[key], f"poort's {where} with the HTTP-Artifact binding is missing: {EP[key]}")
    if "idp_ars" in what:
        check(EP["idp_ars"], "poort's IdP metadata has no SOAP ArtifactResolutionService")
    if "sp_ars" in what:
        check(EP["sp_ars"], "poort's SP metadata has no SOAP ArtifactResolutionService")


def check_no_cache(r, what):
    """SAML Bindings 2.0 §3.4.5.1, §3.5.5.1, §3.6.5.1: browser answers carrying SAML messages or
    artifacts are not to be cached."""
    cc = {t.strip().lower() for t in r.headers.get("Cache-Control", "").split(",")}
    check({"no-cache", "no-store"} <= cc, f"{what}: Cache-Control {r.headers.get('Cache-Control')!r}, expected no-cache, no-store")
    check("no-cache" in r.headers.get("Pragma", "").lower(), f"{what}: Pragma {r.headers.get('Pragma')!r}, expected no-cache")


def check_poort_resolved(env, events, endpoint, issuer, what):
    """The peer's ARS log after poort's resolution: one signed (RSA-SHA256) ArtifactResolve
    from `issuer`, over mutual TLS with poort's client certificate, answered with the message."""
    check(len(events) == 1, f"{what}: poort asked the peer's ArtifactResolutionService {len(events)} times: {events}")
    ev = events[0]
    check(ev["outcome"] == "resolved", f"{what}: the peer refused poort's ArtifactResolve: {ev.get('reason')}")
    check(ev["client_cert_sha256"] == env.poort_client_pin, f"{what}: TLS client certificate {ev['client_cert_sha256']} is not poort's")
    check(ev["endpoint"] == endpoint.url, f"{what}: resolved at {ev['endpoint']}, expected {endpoint.url}")
    check(ev["issuer"] == issuer, f"{what}: ArtifactResolve Issuer {ev['issuer']}, expected {issuer}")
    check(ev["signature_alg"] == RSA_SHA256, f"{what}: ArtifactResolve signed with {ev['signature_alg']}")
    check(ev["content_type"].split(";")[0].strip() == "text/xml", f"{what}: Content-Type {ev['content_type']!r} (SOAP 1.1: text/xml)")


def dv_art_request(env, dv_id, destination, acs):
    """The artifact DV's AuthnRequest (pysaml2), as an eHerkenning DV library writes it: no
    AttributeConsumingServiceIndex (the default AttributeConsumingService names the service), no
    RequestedAuthnContext (the catalogue's level), ForceAuthn="true". `acs` picks the answer:
    "default" (the metadata's isDefault ACS, HTTP-Artifact), "index" (AssertionConsumerServiceIndex
    0), "binding" (ProtocolBinding HTTP-Artifact with the ACS URL). Returns (ID, unsigned request)."""
    dv = env.dv[dv_id]
    reqid, req = dv.create_authn_request(destination, binding=BINDING_HTTP_ARTIFACT, sign=False, force_authn="true")
    req.protocol_binding = None
    req.assertion_consumer_service_url = None
    if acs == "index":
        req.assertion_consumer_service_index = "0"
    elif acs == "binding":
        req.protocol_binding = BINDING_HTTP_ARTIFACT
        req.assertion_consumer_service_url = peers.DV_ACS[dv_id]
    check(req.attribute_consuming_service_index is None and req.requested_authn_context is None, "request shape")
    check(req.force_authn == "true", "pysaml2 did not set ForceAuthn")
    return reqid, req


class Login:
    """One login through poort, with every browser answer kept (for the header checks)."""

    def __init__(self):
        self.trail, self.hops = [], []
        self.reqid = self.relay = self.kind = self.answer = None


def dv_send(env, session, login, dv_id, send, acs, relay, sign_request=True):
    """The DV sends its AuthnRequest: "artifact-get" / "artifact-post" (SAMLart at poort's
    HTTP-Artifact SSO; poort resolves it at the DV's ArtifactResolutionService), "redirect" or
    "post". Returns poort's answer to the browser."""
    dv = env.dv[dv_id]
    binding = {"artifact-get": BINDING_HTTP_ARTIFACT, "artifact-post": BINDING_HTTP_ARTIFACT,
               "redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}[send]
    dest = EP["sso"].get(binding)
    check(dest, f"poort's IdP metadata has no SingleSignOnService for {binding}: {EP['sso']}")
    reqid, req = dv_art_request(env, dv_id, dest, acs)
    login.reqid, login.relay = reqid, relay
    if send == "redirect":
        info = dv.apply_binding(BINDING_HTTP_REDIRECT, str(req), dest, relay_state=relay, sign=True, sigalg=RSA_SHA256)
        url = dict(info["headers"])["Location"]
        check("Signature=" in url, "pysaml2 did not sign the redirect")
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    else:
        text = dv.sign(req, sign_alg=RSA_SHA256, digest_alg=SHA256) if sign_request else str(req)
        if send == "post":
            info = dv.apply_binding(BINDING_HTTP_POST, text, dest, relay_state=relay)
            (form,) = forms(info["data"])
            r = session.post(form["action"], data=form["fields"], allow_redirects=False, timeout=TIMEOUT)
        else:
            check(dv_id == DV_ART_ID, "only the artifact DV has an ArtifactResolutionService")
            samlart = env.dv_ars.issue(text, peers.DV_ART_ARS_INDEX, POORT_IDP_ID)
            params = {"SAMLart": samlart}
            if relay is not None:
                params["RelayState"] = relay
            n, n0 = len(env.dv_ars.events), len(env.dv_ars_decoy.events)
            if send == "artifact-get":
                r = session.get(dest + ("&" if "?" in dest else "?") + urlencode(params), allow_redirects=False, timeout=TIMEOUT)
            else:
                r = session.post(dest, data=params, allow_redirects=False, timeout=TIMEOUT)
            check(not env.dv_ars_decoy.events_since(n0),
                  "poort resolved at the DV's ArtifactResolutionService index 0, not the artifact's EndpointIndex 1")
            check_poort_resolved(env, env.dv_ars.events_since(n), env.dv_ars, POORT_IDP_ID, "DV's AuthnRequest artifact")
    login.trail.append(f"{send} AuthnRequest -> {r.status_code}")
    login.hops.append(("first answer", r))
    return r


def ad_art_round(env, session, login, r, answer_by="get", sign_response=False, knobs=None):
    """The artifact AD: takes poort's artifact, resolves it at poort's ArtifactResolutionService,
    checks poort's signed AuthnRequest (its own checks and pysaml2's), answers with a signed
    assertion held at its own ARS, and sends the artifact to poort's ACS by GET or POST.
    Returns poort's answer to that."""
    location = r.headers["Location"]
    login.hops.append(("redirect to the artifact AD", r))
    check(location.startswith(peers.AD_ART_SSO + "?"), f"poort sent the browser to {location}, not the artifact AD")
    q = parse_qs(urlparse(location).query, keep_blank_values=True)
    check(set(q) == {"SAMLart"} and len(q["SAMLart"]) == 1, f"expected only SAMLart (no RelayState) for the AD: {sorted(q)}")
    samlart = q["SAMLart"][0]
    art = ap.parse_artifact(samlart)
    check(art.source_id == ap.source_id(POORT_SP_ID), "poort's artifact to the AD: SourceID is not SHA-1 of its SP entity ID")
    ars = EP["sp_ars"].get(art.endpoint_index)
    check(ars, f"poort's artifact names EndpointIndex {art.endpoint_index}; its SP metadata has {EP['sp_ars']}")
    rid, text = ap.artifact_resolve(env.ad_art, ars, samlart)
    res = ap.read_artifact_response(ap.post_soap(ars, text), env.sp_cert, POORT_SP_ID, rid)
    check(res.fault is None, f"poort's ARS answered a SOAP Fault: {res.fault}")
    check(res.status == [ap.STATUS_SUCCESS], f"ArtifactResponse status {res.status} {res.status_message}")
    check(res.message_root is not None and res.message_root.tag == ap.tag(ap.NS_SAMLP, "AuthnRequest"),
          f"poort's ArtifactResponse holds {getattr(res.message_root, 'tag', None)}, not an AuthnRequest")
    m = res.message_root
    # poort signs the AuthnRequest itself too (shape and xmlsec1 here; pysaml2 below).
    ap.verify_signed(res.message, ap.NS_SAMLP, "AuthnRequest", env.sp_cert, [ap.AUTHN_REQUEST])
    check(m.findtext(ap.tag(ap.NS_SAML, "Issuer")) == POORT_SP_ID, "AuthnRequest Issuer")
    check(m.get("ProtocolBinding") == BINDING_HTTP_ARTIFACT, f"AuthnRequest ProtocolBinding {m.get('ProtocolBinding')}")
    check(m.get("AssertionConsumerServiceURL") == EP["acs"].get(BINDING_HTTP_ARTIFACT),
          f"AuthnRequest AssertionConsumerServiceURL {m.get('AssertionConsumerServiceURL')}, poort's HTTP-Artifact ACS is "
          f"{EP['acs'].get(BINDING_HTTP_ARTIFACT)}")
    check(m.get("Destination") in (None, peers.AD_ART_SSO), f"AuthnRequest Destination {m.get('Destination')}")
    req = env.ad_art.parse_authn_request(base64.b64encode(res.message.encode()).decode(), BINDING_HTTP_ARTIFACT)
    check(req is not None and req.message.id == m.get("ID"), "pysaml2 AD could not read poort's AuthnRequest")
    login.ad_request = req
    args = env.ad_art.response_args(req.message, [BINDING_HTTP_ARTIFACT])
    acs = args["destination"]
    check(acs == EP["acs"][BINDING_HTTP_ARTIFACT], f"pysaml2 AD would answer at {acs}")
    resp = env.ad_art.create_authn_response(
        identity={}, userid=AD_ART_SUBJECT, name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=AD_ART_SUBJECT),
        authn={"class_ref": LOA3, "authn_auth": AD_ART_ID}, sign_assertion=True, sign_response=sign_response,
        sign_alg=RSA_SHA256, digest_alg=SHA256, **args,
    )
    samlart = env.ad_ars.issue(str(resp), 0, POORT_SP_ID, **(knobs or {}))
    n = len(env.ad_ars.events)
    if answer_by == "get":
        r = session.get(acs + ("&" if "?" in acs else "?") + urlencode({"SAMLart": samlart}), allow_redirects=False, timeout=TIMEOUT)
    else:
        r = session.post(acs, data={"SAMLart": samlart}, allow_redirects=False, timeout=TIMEOUT)
    login.trail.append(f"{answer_by.upper()} SAMLart at poort's ACS -> {r.status_code}")
    login.ad_events = env.ad_ars.events_since(n)
    return r


FRESH = object()


def art_login(env, dv_id=DV_ART_ID, send="artifact-get", acs="default", ad_id=AD_ART_ID, ad_answer="get",
              relay=FRESH, sign_request=True, ad_knobs=None, ad_sign_response=False, expect_answer=True):
    """One login through poort with any mix of artifact steps. `relay`: a fresh value by
    default, None for none, or exactly this (also ""). Returns a Login with .kind
    ("redirect"/"post") and .answer."""
    session = requests.Session()
    login = Login()
    login.session = session
    if relay is FRESH:
        relay = "rs-" + os.urandom(6).hex()
    r = dv_send(env, session, login, dv_id, send, acs, relay, sign_request)
    r = choose_ad(session, r, ad_id, login.trail)
    if ad_id == AD_ART_ID:
        r = ad_art_round(env, session, login, r, ad_answer, sign_response=ad_sign_response, knobs=ad_knobs)
        if ad_knobs is None:
            check_poort_resolved(env, login.ad_events, env.ad_ars, POORT_SP_ID, "the AD's Response artifact")
    else:
        login.hops.append(("redirect to the AD", r))
        req, _ = ad_parse_request(env.ad, r.headers["Location"])
        xml, acs_url = ad_response(env.ad, req)
        r = session.post(acs_url, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    login.last = r
    if expect_answer:
        login.kind, login.answer, r = follow_to_dv(session, r, login.trail)
        login.hops.append(("answer to the DV", r))
    return login


def answer_artifact(env, login, dv_id=DV_ART_ID):
    """poort's answer to the DV by HTTP-Artifact: checks the redirect and the artifact; returns
    (SAMLart, poort's ARS URL for it)."""
    check(login.kind == "redirect", f"poort answered the artifact DV by {login.kind}, not by artifact; trail {login.trail}")
    r = login.hops[-1][1]
    check(r.status_code in (302, 303), f"answer by artifact with HTTP {r.status_code}, expected 302")
    u = urlparse(login.answer)
    check(f"{u.scheme}://{u.netloc}{u.path}" == peers.DV_ACS[dv_id], f"poort answered at {login.answer}, expected {peers.DV_ACS[dv_id]}")
    q = parse_qs(u.query, keep_blank_values=True)
    want = {"SAMLart", "RelayState"} if login.relay is not None else {"SAMLart"}
    check(set(q) == want, f"answer query has {sorted(q)}, expected {sorted(want)}")
    if login.relay is not None:
        check(q["RelayState"] == [login.relay], f"RelayState came back as {q['RelayState']}, sent {login.relay!r}")
    samlart = q["SAMLart"][0]
    art = ap.parse_artifact(samlart)
    check(art.source_id == ap.source_id(POORT_IDP_ID), "poort's artifact to the DV: SourceID is not SHA-1 of its IdP entity ID")
    ars = EP["idp_ars"].get(art.endpoint_index)
    check(ars, f"poort's artifact names EndpointIndex {art.endpoint_index}; its IdP metadata has {EP['idp_ars']}")
    return samlart, ars


def resolve_at_poort(env, entity, ars, samlart, issuers=None, cert=None, **kw):
    """A peer (pysaml2 `entity`) resolves at poort's ARS; poort's answer verified (signature with
    the metadata certificate, Issuer, InResponseTo). Returns the Resolution."""
    rid, text = ap.artifact_resolve(entity, ars, samlart, **kw)
    http = ap.post_soap(ars, text)
    issuers = issuers or [POORT_IDP_ID]
    last = None
    for issuer in issuers:
        try:
            return ap.read_artifact_response(http, cert or env.idp_cert, issuer, rid)
        except ap.Refusal as e:
            last = e
            if "Issuer" not in str(e):
                break
    raise TestFailure(f"poort's ArtifactResolutionService answer refused: {last}; HTTP {http.status_code}: {excerpt(http.text)}")


def dv_resolves(env, login, dv_id=DV_ART_ID):
    """The DV resolves poort's answer artifact; returns (Resolution, base64 Response)."""
    samlart, ars = answer_artifact(env, login, dv_id)
    res = resolve_at_poort(env, env.dv[dv_id], ars, samlart)
    check(res.fault is None, f"poort's ARS answered a SOAP Fault: {res.fault}")
    check(res.status == [ap.STATUS_SUCCESS], f"ArtifactResponse status {res.status}: {res.status_message}")
    check(res.message_root is not None and res.message_root.tag == ap.tag(ap.NS_SAMLP, "Response"),
          f"ArtifactResponse holds {getattr(res.message_root, 'tag', None)}, not a samlp:Response")
    return res, base64.b64encode(res.message.encode()).decode()


def assert_denied(res, reason, what):
    """A refused resolution: no identity anywhere in the answer; a signed ArtifactResponse whose
    message is a samlp:Response with Requester/RequestDenied and a StatusMessage naming the
    reason (or, for a request poort cannot even authenticate, a SOAP Fault saying why)."""
    check("Assertion" not in res.text, f"{what}: poort's answer carries an assertion: {excerpt(res.text)}")
    if res.fault is not None:
        check(reason.search(res.fault.string or ""), f"{what}: SOAP Fault {res.fault.string!r} does not name the reason")
        return res.fault.string
    check(res.status == [ap.STATUS_SUCCESS], f"{what}: ArtifactResponse status {res.status} (the request itself was understood)")
    m = res.message_root
    check(m is not None and m.tag == ap.tag(ap.NS_SAMLP, "Response"), f"{what}: ArtifactResponse holds {getattr(m, 'tag', None)}, expected a samlp:Response")
    codes = [c.get("Value") for c in m.iter(ap.tag(ap.NS_SAMLP, "StatusCode"))]
    check(codes == [ap.STATUS_REQUESTER, ap.STATUS_REQUEST_DENIED], f"{what}: status {codes}, expected Requester/RequestDenied")
    why = m.findtext(f"{ap.tag(ap.NS_SAMLP, 'Status')}/{ap.tag(ap.NS_SAMLP, 'StatusMessage')}") or ""
    check(reason.search(why), f"{what}: StatusMessage {why!r} does not name the reason ({reason.pattern})")
    return why


def fresh_answer(env, **kw):
    """A quick login of the artifact DV (HTTP-Redirect request, pysaml2 AD by POST) up to
    poort's answer artifact, not yet resolved."""
    login = art_login(env, send="redirect", acs="index", ad_id=AD_ID, **kw)
    samlart, ars = answer_artifact(env, login)
    return login, samlart, ars


def case_artifact_artifact(env):
    """DV -> poort by artifact (GET), poort -> AD by artifact, AD -> poort by artifact (GET),
    poort -> DV by artifact; each side resolves over SOAP and verifies the other's signatures."""
    need(env, [BINDING_HTTP_ARTIFACT, "idp_ars", "sp_ars"])
    login = art_login(env, send="artifact-get", acs="default", ad_id=AD_ART_ID, ad_answer="get")
    # poort read the DV's request from the resolved artifact: its ForceAuthn reaches the AD.
    check(login.ad_request.message.force_authn == "true", "the DV's ForceAuthn did not reach the AD")
    _, b64 = dv_resolves(env, login)
    assert_success(env, DV_ART_ID, login.reqid, b64, peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, BINDING_HTTP_ARTIFACT)


def case_redirect_artifact(env):
    """DV -> poort by HTTP-Redirect (AssertionConsumerServiceIndex 0), answer by artifact."""
    need(env, ["idp_ars"])
    login = art_login(env, send="redirect", acs="index", ad_id=AD_ID)
    _, b64 = dv_resolves(env, login)
    assert_success(env, DV_ART_ID, login.reqid, b64, peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, BINDING_HTTP_ARTIFACT)


def case_post_artifact(env):
    """DV -> poort by HTTP-POST (ProtocolBinding HTTP-Artifact and the ACS URL), answer by artifact."""
    need(env, ["idp_ars"])
    login = art_login(env, send="post", acs="binding", ad_id=AD_ID)
    _, b64 = dv_resolves(env, login)
    assert_success(env, DV_ART_ID, login.reqid, b64, peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, BINDING_HTTP_ARTIFACT)


def case_ad_artifact_by_get(env):
    """A POST-answered DV (the first pysaml2 DV) behind the artifact AD, which answers by GET."""
    need(env, [BINDING_HTTP_ARTIFACT, "sp_ars"])
    session = requests.Session()
    login = Login()
    reqid, _, url, _ = dv_request(env.dv[DV_ID], BINDING_HTTP_REDIRECT, "rs-adget")
    r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    r = choose_ad(session, r, AD_ART_ID, login.trail)
    r = ad_art_round(env, session, login, r, "get")
    check_poort_resolved(env, login.ad_events, env.ad_ars, POORT_SP_ID, "the AD's Response artifact (GET)")
    saml_response, relay, _ = follow_to_answer(session, r, peers.DV_ACS[DV_ID], login.trail)
    check(relay == "rs-adget", f"RelayState {relay!r}")
    assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)


def case_ad_artifact_by_post(env):
    """DV -> poort by artifact (POST, an unsigned AuthnRequest inside the DV's signed
    ArtifactResponse), the artifact AD answering by POST (Response and assertion both signed),
    answer by artifact."""
    need(env, [BINDING_HTTP_ARTIFACT, "idp_ars", "sp_ars"])
    login = art_login(env, send="artifact-post", acs="binding", ad_id=AD_ART_ID, ad_answer="post", sign_request=False,
                      ad_sign_response=True)
    _, b64 = dv_resolves(env, login)
    assert_success(env, DV_ART_ID, login.reqid, b64, peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, BINDING_HTTP_ARTIFACT)


def case_encrypted_answer_by_artifact(env):
    """A DV with an encryption key and only an HTTP-Artifact ACS: the resolved Response holds an
    EncryptedAssertion (AES-256-GCM) that pysaml2 decrypts and verifies."""
    need(env, ["idp_ars"])
    login = art_login(env, dv_id=DV_ART_ENC_ID, send="redirect", acs="default", ad_id=AD_ID)
    res, b64 = dv_resolves(env, login, DV_ART_ENC_ID)
    check("EncryptedAssertion" in res.message, "DV metadata has an encryption key, but poort's assertion is not encrypted")
    check("http://www.w3.org/2009/xmlenc11#aes256-gcm" in res.message, "assertion not encrypted with AES-256-GCM")
    assert_success(env, DV_ART_ENC_ID, login.reqid, b64, peers.SERVICE_ART_ENC_ID, peers.SERVICE_ART_ENC_UUID, BINDING_HTTP_ARTIFACT)


def case_artifact_response_xmlsec1(env):
    """xmlsec1 on its own verifies poort's ArtifactResponse (as received in the SOAP envelope, and
    as its own document), the Response in it, and the Assertion, with poort's signing
    certificate; tampering is caught. The signature sits right after the Issuer, RSA-SHA256,
    SHA-256 digest, exclusive c14n."""
    need(env, ["idp_ars"])
    _, samlart, ars = fresh_answer(env)
    res = resolve_at_poort(env, env.dv[DV_ART_ID], ars, samlart)
    ids = [ap.ARTIFACT_RESPONSE, ap.RESPONSE, ap.ASSERTION]
    for doc, what in ((res.text, "the SOAP envelope as received"), (res.body, "the ArtifactResponse")):
        rc, out = xmlsec_verify(doc, ids)
        check(rc == 0, f"xmlsec1 rejects poort's ArtifactResponse ({what}): {out}")
    kids = list(res.root)
    check([k.tag for k in kids[:2]] == [ap.tag(ap.NS_SAML, "Issuer"), ap.tag(ap.NS_DS, "Signature")],
          f"ArtifactResponse children {[k.tag for k in kids[:3]]}: the signature must follow the Issuer")
    sig = kids[1]
    algs = {e.tag.split("}")[1]: e.get("Algorithm") for e in sig.iter() if e.get("Algorithm") and "Transform" not in e.tag}
    check(algs == {"CanonicalizationMethod": ap.EXC_C14N, "SignatureMethod": RSA_SHA256, "DigestMethod": SHA256},
          f"ArtifactResponse signature algorithms {algs}")
    response = extract(res.body, ap.NS_SAMLP, "Response")
    rc, out = xmlsec_verify(response, ids)
    check(rc == 0, f"xmlsec1 rejects the Response inside poort's ArtifactResponse: {out}")
    assertion = extract(response, ap.NS_SAML, "Assertion")
    rc, out = xmlsec_verify(assertion, ids)
    check(rc == 0, f"xmlsec1 rejects the Assertion inside poort's ArtifactResponse: {out}")
    for doc, what in ((res.body, "ArtifactResponse"), (response, "Response"), (assertion, "Assertion")):
        tampered = doc.replace(COMPANY, COMPANY + " X", 1)
        check(tampered != doc, f"{what} does not contain the CompanyName")
        rc, _ = xmlsec_verify(tampered, ids)
        check(rc != 0, f"xmlsec1 accepted a tampered {what}: the check proves nothing")
    # Another key does not verify it: the certificate given, not the KeyInfo, decides.
    rc, _ = ap.xmlsec_verify(res.body, peers.tmp("dv-art.crt"), ids)
    check(rc != 0, "xmlsec1 verified poort's ArtifactResponse with a foreign certificate")


def case_artifact_resolved_twice_refused(env):
    need(env, ["idp_ars"])
    _, samlart, ars = fresh_answer(env)
    first = resolve_at_poort(env, env.dv[DV_ART_ID], ars, samlart)
    check(first.message_root is not None and "Assertion" in first.message, "first resolution gave no assertion")
    second = resolve_at_poort(env, env.dv[DV_ART_ID], ars, samlart)
    why = assert_denied(second, REASON_USED, "second resolution")
    print(f"     (poort: {why})")


def case_artifact_other_peer_refused(env):
    """The artifact AD (a peer poort knows, its ArtifactResolve correctly signed) asks for the
    DV's artifact: refused with the reason, and no assertion in the answer."""
    need(env, ["idp_ars"])
    _, samlart, ars = fresh_answer(env)
    res = resolve_at_poort(env, env.ad_art, ars, samlart, issuers=[POORT_IDP_ID, POORT_SP_ID])
    why = assert_denied(res, REASON_OTHER_PEER, "resolution by another peer")
    print(f"     (poort: {why})")


def case_unsigned_artifact_resolve_refused(env):
    need(env, ["idp_ars"])
    _, samlart, ars = fresh_answer(env)
    res = resolve_at_poort(env, env.dv[DV_ART_ID], ars, samlart, sign=False)
    why = assert_denied(res, REASON_UNSIGNED, "unsigned ArtifactResolve")
    print(f"     (poort: {why})")


def case_sha1_artifact_resolve_refused(env):
    need(env, ["idp_ars"])
    _, samlart, ars = fresh_answer(env)
    res = resolve_at_poort(env, env.dv[DV_ART_ID], ars, samlart, sign_alg=ap.RSA_SHA1, digest_alg=ap.SHA1)
    why = assert_denied(res, REASON_SHA1, "RSA-SHA1 signed ArtifactResolve")
    print(f"     (poort: {why})")


def case_empty_relay_state_kept(env):
    """RelayState comes back exactly as sent: also when it is empty (as "RelayState="), and not
    at all when none was sent."""
    need(env, [BINDING_HTTP_ARTIFACT, "idp_ars"])
    login = art_login(env, send="artifact-get", acs="default", ad_id=AD_ID, relay=None)
    answer_artifact(env, login)
    login = art_login(env, send="artifact-get", acs="default", ad_id=AD_ID, relay="")
    check("RelayState=" in urlparse(login.answer or "").query, f"the empty RelayState was dropped: {login.answer}")
    _, b64 = dv_resolves(env, login)
    assert_success(env, DV_ART_ID, login.reqid, b64, peers.SERVICE_ART_ID, peers.SERVICE_ART_UUID, BINDING_HTTP_ARTIFACT)


def case_browser_answers_not_cached(env):
    """Cache-Control: no-cache, no-store and Pragma: no-cache on poort's browser answers that
    carry a SAML message or artifact: to the AD (by artifact and by redirect) and to the DV (by
    artifact and by POST form)."""
    need(env, [BINDING_HTTP_ARTIFACT, "idp_ars", "sp_ars"])
    login = art_login(env, send="artifact-get", acs="default", ad_id=AD_ART_ID)
    for label, r in login.hops:
        if label in ("redirect to the artifact AD", "answer to the DV"):
            check_no_cache(r, f"poort's {label} (artifact)")
    session = requests.Session()
    _, _, url, _ = dv_request(env.dv[DV_ID], BINDING_HTTP_REDIRECT, "rs-cache")
    r = choose_ad(session, session.get(url, allow_redirects=False, timeout=TIMEOUT), AD_ID, [])
    check_no_cache(r, "poort's redirect with SAMLRequest to the AD")
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs_url = ad_response(env.ad, req)
    r = session.post(acs_url, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    _, _, page = follow_to_answer(session, r, peers.DV_ACS[DV_ID], [])
    check_no_cache(page, "poort's POST form with SAMLResponse to the DV")


def case_peer_ars_requires_client_certificate(env):
    """The peers' ArtifactResolutionService enforces mutual TLS: without a client certificate
    the handshake fails; an unpinned certificate of the same CA gets HTTP 403; poort's passes."""
    check(env.ars is not None, "the peers' ArtifactResolutionService is not running")
    url = env.dv_ars.url
    ca = os.path.join(TLS_DIR, "ca.crt")
    n = len(env.ars.events)
    try:
        ap.post_soap(url, "<x/>", verify=ca, timeout=10)
    except requests.exceptions.RequestException:
        pass
    else:
        raise TestFailure("the peer's ARS answered a client without certificate")
    r = ap.post_soap(url, "<x/>", verify=ca, timeout=10,
                     cert=(os.path.join(TLS_DIR, "outsider-client.crt"), os.path.join(TLS_DIR, "outsider-client.key")))
    check(r.status_code == 403, f"an unpinned client certificate got HTTP {r.status_code}")
    outcomes = [e["outcome"] for e in env.ars.events_since(n)]
    check(outcomes == ["tls refused", "client certificate not pinned"], f"peer server log {outcomes}")
    m = len(env.dv_ars.events)
    r = ap.post_soap(url, "<x/>", verify=ca, timeout=10,
                     cert=(os.path.join(TLS_DIR, "poort-client.crt"), os.path.join(TLS_DIR, "poort-client.key")))
    check(r.status_code == 500 and "Fault" in r.text, f"poort's client certificate: HTTP {r.status_code} {excerpt(r.text, 200)}")
    check([e["outcome"] for e in env.dv_ars.events_since(m)] == ["refused"], "the request reached the endpoint")


def case_unsigned_ad_artifact_response_refused(env):
    """poort refuses the artifact AD's ArtifactResponse when it is unsigned, or signed with a key
    that is not the AD's (the Response and assertion inside are signed correctly): no identity
    for the DV."""
    need(env, [BINDING_HTTP_ARTIFACT, "sp_ars"])
    for knobs in ({"sign_response": False}, {"answer_key": peers.tmp("dv-art.key")}):
        session = requests.Session()
        login = Login()
        reqid, _, url, _ = dv_request(env.dv[DV_ID], BINDING_HTTP_REDIRECT, "rs-bad-ar")
        r = choose_ad(session, session.get(url, allow_redirects=False, timeout=TIMEOUT), AD_ART_ID, login.trail)
        r = ad_art_round(env, session, login, r, "get", knobs=knobs)
        check([e["outcome"] for e in login.ad_events] == ["resolved"], f"{knobs}: poort did not resolve at the AD: {login.ad_events}")
        no_success_for_dv(env, reqid, r)


def case_unsigned_dv_artifact_response_refused(env):
    """poort refuses the DV's unsigned ArtifactResponse (around a signed AuthnRequest): a page,
    no redirect to the AD, nothing for the DV."""
    need(env, [BINDING_HTTP_ARTIFACT])
    dv = env.dv[DV_ART_ID]
    dest = EP["sso"][BINDING_HTTP_ARTIFACT]
    _, req = dv_art_request(env, DV_ART_ID, dest, "default")
    samlart = env.dv_ars.issue(dv.sign(req, sign_alg=RSA_SHA256, digest_alg=SHA256), peers.DV_ART_ARS_INDEX,
                               POORT_IDP_ID, sign_response=False)
    n = len(env.dv_ars.events)
    r = requests.get(dest + "?" + urlencode({"SAMLart": samlart, "RelayState": "rs-u"}), allow_redirects=False, timeout=TIMEOUT)
    check([e["outcome"] for e in env.dv_ars.events_since(n)] == ["resolved"], "poort did not resolve at the DV")
    check(r.status_code not in (301, 302, 303, 307, 308), f"poort redirected ({r.headers.get('Location')}) on an unsigned ArtifactResponse")
    check(not any("idp" in f["fields"] for f in forms(r.text)), "poort went on to the AD choice")
    check(r.status_code >= 400, f"poort answered HTTP {r.status_code} to an unsigned ArtifactResponse")


ARTIFACT_CASES = [
    case_artifact_artifact,
    case_redirect_artifact,
    case_post_artifact,
    case_ad_artifact_by_get,
    case_ad_artifact_by_post,
    case_encrypted_answer_by_artifact,
    case_artifact_response_xmlsec1,
    case_artifact_resolved_twice_refused,
    case_artifact_other_peer_refused,
    case_unsigned_artifact_resolve_refused,
    case_sha1_artifact_resolve_refused,
    case_empty_relay_state_kept,
    case_browser_answers_not_cached,
    case_peer_ars_requires_client_certificate,
    case_unsigned_ad_artifact_response_refused,
    case_unsigned_dv_artifact_response_refused,
]


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
    *ARTIFACT_CASES,
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
    ap.selftest()
    selftest_artifact()


def selftest_artifact():
    """The artifact DV and the artifact AD against each other, without poort: the DV's signed
    AuthnRequest by artifact (the AD resolves it at the DV's HTTPS ARS), the AD's signed Response
    by artifact (the DV resolves it at the AD's), each verified by pysaml2 from the other's
    metadata. Needs dv-art.key/crt and ad-art.key/crt in INTEROP_TMP."""
    import shutil

    pki = tempfile.mkdtemp(prefix="artifact-pki-")
    ap.make_test_pki(pki)
    if not peers.ARS_PORT:
        peers.ARS_PORT = ap._free_port()
    d = tempfile.mkdtemp(dir=peers.tmp())
    ad_md, dv_md = os.path.join(d, "ad-art.xml"), os.path.join(d, "dv-art.xml")
    with open(ad_md, "w") as f:
        f.write(str(peers.ad_metadata(AD_ART_ID)))
    with open(dv_md, "w") as f:
        f.write(str(peers.dv_metadata(DV_ART_ID, peers.SERVICE_ART_ID)))
    dv = Saml2Client(peers.sp_config(DV_ART_ID, ad_md))
    ad = Server(config=peers.idp_config(dv_md, AD_ART_ID))
    for e in (dv, ad):
        e.signing_algorithm, e.digest_algorithm = RSA_SHA256, SHA256
    server = ap.ArsServer(peers.ARS_PORT, os.path.join(pki, "server.crt"), os.path.join(pki, "server.key"), os.path.join(pki, "ca.crt"))
    server.pin(os.path.join(pki, "client.crt"))
    dv_url, ad_url = peers.ars_url(DV_ART_ID, 1), peers.ars_url(AD_ART_ID, 0)
    dv_ars = server.add(peers.ARS_PATHS[(DV_ART_ID, 1)], ap.ArsEndpoint(dv_url, DV_ART_ID, peers.tmp("dv-art.key"), peers.tmp("dv-art.crt")))
    ad_ars = server.add(peers.ARS_PATHS[(AD_ART_ID, 0)], ap.ArsEndpoint(ad_url, AD_ART_ID, peers.tmp("ad-art.key"), peers.tmp("ad-art.crt")))
    dv_ars.trust(AD_ART_ID, peers.tmp("ad-art.crt"))
    ad_ars.trust(DV_ART_ID, peers.tmp("dv-art.crt"))
    tls = {"cert": (os.path.join(pki, "client.crt"), os.path.join(pki, "client.key")), "verify": os.path.join(pki, "ca.crt")}
    server.start()
    try:
        reqid, req = dv.create_authn_request(peers.AD_ART_SSO, binding=BINDING_HTTP_ARTIFACT, sign=False, force_authn="true")
        samlart = dv_ars.issue(dv.sign(req, sign_alg=RSA_SHA256, digest_alg=SHA256), 1, AD_ART_ID)
        check(ap.parse_artifact(samlart).endpoint_index == 1, "selftest: EndpointIndex")
        rid, text = ap.artifact_resolve(ad, dv_url, samlart)
        res = ap.read_artifact_response(ap.post_soap(dv_url, text, **tls), peers.tmp("dv-art.crt"), DV_ART_ID, rid)
        check(res.message_root.tag == ap.tag(ap.NS_SAMLP, "AuthnRequest"), "selftest: resolved an AuthnRequest")
        parsed = ad.parse_authn_request(base64.b64encode(res.message.encode()).decode(), BINDING_HTTP_ARTIFACT)
        check(parsed.message.id == reqid and parsed.message.force_authn == "true", "selftest: pysaml2 AD read the request")
        args = ad.response_args(parsed.message, [BINDING_HTTP_ARTIFACT])
        check(args["destination"] == peers.DV_ACS[DV_ART_ID], f"selftest: answer at {args['destination']}")
        resp = ad.create_authn_response(
            identity={}, userid=AD_ART_SUBJECT, name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=AD_ART_SUBJECT),
            authn={"class_ref": LOA3, "authn_auth": AD_ART_ID}, sign_assertion=True, sign_response=True,
            sign_alg=RSA_SHA256, digest_alg=SHA256, **args,
        )
        samlart = ad_ars.issue(str(resp), 0, DV_ART_ID)
        rid, text = ap.artifact_resolve(dv, ad_url, samlart)
        res = ap.read_artifact_response(ap.post_soap(ad_url, text, **tls), peers.tmp("ad-art.crt"), AD_ART_ID, rid)
        got = dv.parse_authn_request_response(base64.b64encode(res.message.encode()).decode(), BINDING_HTTP_ARTIFACT, outstanding={reqid: "/"})
        check(got.name_id.text == AD_ART_SUBJECT and got.authn_info()[0][0] == LOA3, "selftest: the DV read the AD's answer")
        # pysaml2 refuses a Response whose signature was broken on the way (so the parse above verified).
        broken = res.message.replace(AD_ART_SUBJECT, AD_ART_SUBJECT + "x")
        try:
            dv.parse_authn_request_response(base64.b64encode(broken.encode()).decode(), BINDING_HTTP_ARTIFACT, outstanding={reqid: "/"})
        except Exception:
            pass
        else:
            raise TestFailure("selftest: pysaml2 accepted a tampered Response")
    finally:
        server.stop()
        shutil.rmtree(pki, ignore_errors=True)
    print("selftest: pysaml2 artifact DV and AD interoperate (AuthnRequest and Response by artifact, over mutual TLS)")


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
    r = choose_ad(browser, r, AD_ID, [])
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


def oidc_login_from(env, browser, r):
    """The rest of a login an OIDC client began with poort's answer `r` to its authorization
    request: the AD choice, the pysaml2 AD's answer, and poort's redirect to the client."""
    r = choose_ad(browser, r, AD_ID, [])
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs = ad_response(env.ad, req, LOA3)
    r = browser.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    location = r.headers.get("Location", "")
    check(r.status_code == 303 and location.startswith(peers.OIDC_REDIRECT), f"HTTP {r.status_code} to {location}: {excerpt(r.text)}")
    return location


def answer_params(location):
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def case_oidc_authlib_iss_post_and_request_objects(env):
    """authlib as a careful relying party (issue 15): every authorization response carries
    poort's issuer (RFC 9207), checked against discovery; a form POST to the authorization
    endpoint; a request object signed by authlib with the client's key carries the parameters
    and the token response names the scope granted; an object signed by another key and a
    request_uri are refused with their OAuth errors."""
    meta = requests.get(POORT + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    check(meta.get("authorization_response_iss_parameter_supported") is True, "discovery does not advertise iss")
    check(meta.get("request_uri_parameter_supported") is False, "discovery leaves request_uri_parameter_supported to default true")
    issuer = meta["issuer"]
    verifier = generate_token(64)
    with open(peers.tmp("oidc-rp-signing.key"), "rb") as f:
        key = f.read()
    # The client authenticates with the same key (private_key_jwt, authlib's own assertion).
    client = OAuth2Session(
        peers.OIDC_SIGNING_CLIENT_ID, key, scope="openid", redirect_uri=peers.OIDC_REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method=PrivateKeyJWT(meta["token_endpoint"]),
    )
    # authlib computes the S256 challenge; the object carries it.
    uri, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    challenge = answer_params(uri)["code_challenge"]
    now = int(__import__("time").time())
    claims = {
        "iss": peers.OIDC_SIGNING_CLIENT_ID, "aud": issuer, "exp": now + 300,
        "client_id": peers.OIDC_SIGNING_CLIENT_ID, "response_type": "code", "scope": "openid profile",
        "redirect_uri": peers.OIDC_REDIRECT, "state": "st-object", "nonce": "n-object",
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    signed = jwt.encode({"alg": "RS256", "typ": "oauth-authz-req+jwt"}, claims, key).decode()
    browser = requests.Session()
    # By POST, form-encoded, as OIDC Core 3.1.2.1 allows.
    r = browser.post(meta["authorization_endpoint"], data={
        "response_type": "code", "client_id": peers.OIDC_SIGNING_CLIENT_ID, "scope": "openid", "request": signed,
    }, allow_redirects=False, timeout=TIMEOUT)
    location = oidc_login_from(env, browser, r)
    got = answer_params(location)
    check(got.get("iss") == issuer, f"iss {got.get('iss')} is not the issuer {issuer}")
    check(got.get("state") == "st-object", f"state {got.get('state')}: the object's parameters were not used")
    token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    check(token.get("scope") == "openid", f"granted scope {token.get('scope')!r}: profile is not poort's")
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=TIMEOUT).json())
    id_claims = jwt.decode(token["id_token"], keys, claims_options={"nonce": {"essential": True, "value": "n-object"}})
    id_claims.validate()

    def refused(params, error, says):
        r = requests.get(meta["authorization_endpoint"], params=params, allow_redirects=False, timeout=TIMEOUT)
        got = answer_params(r.headers.get("Location", ""))
        check(got.get("error") == error, f"{error}: got {got} (HTTP {r.status_code})")
        check(got.get("iss") == issuer, f"{error}: iss {got.get('iss')}")
        check(says in got.get("error_description", ""), f"{error}: {got.get('error_description')!r} lacks {says!r}")

    base = {"response_type": "code", "client_id": peers.OIDC_SIGNING_CLIENT_ID, "scope": "openid",
            "redirect_uri": peers.OIDC_REDIRECT, "state": "st-q"}
    other = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    forged = jwt.encode({"alg": "RS256"}, claims, other).decode()
    refused(dict(base, request=forged), "invalid_request_object", "signature does not verify")
    refused(dict(base, request_uri="https://rp.interop.example/request.jwt"), "request_uri_not_supported", "by value")


CASES.append(case_oidc_authlib_iss_post_and_request_objects)


# ---------------------------------------------------------------------------------------------
# A second DV library: OneLogin's python3-saml (strict), behind poort with the pysaml2 AD.

NS_DS = "http://www.w3.org/2000/09/xmldsig#"


def onelogin_login(env, binding, subject=AD_SUBJECT):
    """The python3-saml DV logs in through poort: its signed AuthnRequest by `binding`, the
    pysaml2 AD's answer for `subject`, poort's answer form to the DV's ACS. Returns
    (settings, request ID, base64 SAMLResponse, RelayState)."""
    s = env.onelogin[binding]
    session = requests.Session()
    relay = "rs-" + os.urandom(6).hex()
    trail = []
    sso = EP["sso"].get(binding)
    check(sso, f"poort's IdP metadata has no SingleSignOnService for {binding}")
    check(s.get_idp_data()["singleSignOnService"]["url"] == sso,
          f"python3-saml read {s.get_idp_data()['singleSignOnService']} from poort's metadata, expected {sso}")
    if binding == BINDING_HTTP_REDIRECT:
        reqid, url = ol.redirect_request(s, relay)
        q = parse_qs(urlparse(url).query)
        check(url.startswith(sso + "?"), f"python3-saml sends to {url}, not poort's SSO {sso}")
        check(q.get("SigAlg") == [RSA_SHA256] and "Signature" in q, f"python3-saml did not sign the query with RSA-SHA256: {sorted(q)}")
        check(q.get("RelayState") == [relay], f"RelayState in python3-saml's URL: {q.get('RelayState')}")
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    else:
        reqid, dest, fields = ol.post_request(s, relay)
        xml = base64.b64decode(fields["SAMLRequest"]).decode()
        root = ET.fromstring(xml)
        sig = root.find(f"{{{NS_DS}}}Signature")
        check(sig is not None, "python3-saml did not sign the POST AuthnRequest")
        alg = sig.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod").get("Algorithm")
        check(alg == RSA_SHA256, f"python3-saml signed with {alg}")
        check(dest == sso, f"python3-saml posts to {dest}, not poort's SSO {sso}")
        r = session.post(dest, data=fields, allow_redirects=False, timeout=TIMEOUT)
    trail.append(f"{binding.rsplit(':', 1)[1]} AuthnRequest -> {r.status_code}")
    r = choose_ad(session, r, AD_ID, trail)
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs = ad_response(env.ad, req, LOA3, subject=subject)
    r = session.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    saml_response, relay_back, _ = follow_to_answer(session, r, ol.ACS, trail)
    check(relay_back == relay, f"RelayState came back as {relay_back!r}, sent {relay!r}")
    return s, reqid, saml_response, relay


def tamper_issue_instant(text):
    """The Response with one digit of its (signed) IssueInstant changed."""
    m = re.search(r'IssueInstant="[^"]*?(\d)(?=(?:\.\d+)?Z")', text)
    check(m, "no IssueInstant on poort's Response")
    digit = str((int(m.group(1)) + 1) % 10)
    return text[: m.start(1)] + digit + text[m.end(1):]


def onelogin_assert_success(s, reqid, saml_response, relay):
    """python3-saml (strict) accepts poort's answer and reads the organisation from it."""
    text = base64.b64decode(saml_response).decode()
    root = ET.fromstring(text)
    check(root.find(f"{{{NS_DS}}}Signature") is not None, "poort's Response to the python3-saml DV is not signed")
    check(root.find(f"{{{NS_SAML}}}EncryptedAssertion") is not None and root.find(f"{{{NS_SAML}}}Assertion") is None,
          "the DV's metadata has an encryption key, but poort's assertion is not encrypted")
    auth = ol.receive(s, saml_response, relay, reqid)
    check(not auth.get_errors(), f"python3-saml: {auth.get_errors()}: {auth.get_last_error_reason()}")
    check(auth.is_authenticated(), "python3-saml: not authenticated")
    check(auth.get_last_authn_contexts() == [LOA3], f"AuthnContextClassRef {auth.get_last_authn_contexts()}")
    attrs = auth.get_attributes()
    legal = attrs.get("urn:etoegang:core:LegalSubjectID")
    check(legal and len(legal) == 1 and isinstance(legal[0], dict), f"LegalSubjectID as python3-saml reads it: {legal}")
    check((legal[0]["NameID"]["NameQualifier"], legal[0]["NameID"]["value"]) == (KVK_QUALIFIER, KVK),
          f"LegalSubjectID {legal[0]}, expected KvK {KVK}")
    company = attrs.get("urn:etoegang:1.11:attribute-represented:CompanyName")
    check(company == [COMPANY], f"CompanyName {company}")
    check(attrs.get("urn:etoegang:core:ServiceID") == [ol.SERVICE_ID], f"ServiceID {attrs.get('urn:etoegang:core:ServiceID')}")
    check(attrs.get("urn:etoegang:core:ServiceUUID") == [ol.SERVICE_UUID], f"ServiceUUID {attrs.get('urn:etoegang:core:ServiceUUID')}")
    # The Subject's NameID: a persistent pseudonym for this DV, not the AD's subject.
    nameid = auth.get_nameid()
    check(nameid and AD_SUBJECT not in nameid, "NameID missing, or it leaks the AD's subject")
    check(auth.get_nameid_format() == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", f"NameID Format {auth.get_nameid_format()}")
    check(auth.get_nameid_spnq() == ol.DV_ID, f"NameID SPNameQualifier {auth.get_nameid_spnq()}")
    acting = attrs.get("urn:etoegang:core:ActingSubjectID")
    check(acting and isinstance(acting[0], dict) and AD_SUBJECT not in (acting[0]["NameID"]["value"] or ""),
          "ActingSubjectID missing, or it leaks the AD's subject")
    # Control: the same answer with one signed byte changed is refused, so the signature was checked.
    forged = base64.b64encode(tamper_issue_instant(text).encode()).decode()
    bad = ol.receive(s, forged, relay, reqid)
    check(not bad.is_authenticated() and "Signature validation failed" in (bad.get_last_error_reason() or ""),
          f"python3-saml on a tampered Response: {bad.get_errors()} {bad.get_last_error_reason()}")
    return auth


def case_onelogin_redirect_login(env):
    """python3-saml DV: AuthnRequest by HTTP-Redirect (query-signed RSA-SHA256), answer by POST."""
    s, reqid, saml_response, relay = onelogin_login(env, BINDING_HTTP_REDIRECT)
    onelogin_assert_success(s, reqid, saml_response, relay)


def case_onelogin_post_login(env):
    """python3-saml DV: AuthnRequest by HTTP-POST (enveloped signature RSA-SHA256), answer by POST."""
    s, reqid, saml_response, relay = onelogin_login(env, BINDING_HTTP_POST)
    onelogin_assert_success(s, reqid, saml_response, relay)


def case_onelogin_refused_without_grant(env):
    """A member of the organisation without any grant: poort answers the python3-saml DV with a
    signed Response carrying Responder/RequestDenied "No valid authorisation: no_grant", which
    python3-saml reports as the failed status; no identity."""
    from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
    from onelogin.saml2.response import OneLogin_Saml2_Response

    s, reqid, saml_response, relay = onelogin_login(env, BINDING_HTTP_REDIRECT, subject=peers.AD_NOGRANT_SUBJECT)
    auth = ol.receive(s, saml_response, relay, reqid)
    check(not auth.is_authenticated(), "python3-saml: authenticated a person without a grant")
    check(auth.get_errors() == ["invalid_response"], f"python3-saml errors {auth.get_errors()}")
    expected = "The status code of the Response was not Success, was Responder -> No valid authorisation: no_grant"
    check(auth.get_last_error_reason() == expected, f"python3-saml reports {auth.get_last_error_reason()!r}, expected {expected!r}")
    try:
        OneLogin_Saml2_Response(s, saml_response).is_valid(ol.request_data(ol.ACS_PATH), reqid, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as e:
        check(e.code == OneLogin_Saml2_ValidationError.STATUS_CODE_IS_NOT_SUCCESS, f"python3-saml error code {e.code}: {e}")
    else:
        raise TestFailure("python3-saml accepted the refusal")
    text = base64.b64decode(saml_response).decode()
    root = ET.fromstring(text)
    codes = [c.get("Value") for c in root.iter(f"{{{NS_SAMLP}}}StatusCode")]
    check(codes == [STATUS_RESPONDER, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"], f"StatusCodes {codes}")
    check(root.find(f"{{{NS_SAML}}}Assertion") is None and root.find(f"{{{NS_SAML}}}EncryptedAssertion") is None,
          "poort's refusal carries an assertion")
    check(root.get("InResponseTo") == reqid, f"refusal InResponseTo {root.get('InResponseTo')}")
    # python3-saml reports a status before it checks signatures; its own verifier checks this one.
    check(ol.verify_response_signature(s, text), "python3-saml cannot verify poort's signed refusal")


CASES += [case_onelogin_redirect_login, case_onelogin_post_login, case_onelogin_refused_without_grant]


# ---------------------------------------------------------------------------------------------
# Requested attributes, data minimisation and the organisation's identifiers: poort asks the AD
# for what the service asks (samlp:Extensions/esp:RequestedAttributes), passes on only that, sends
# what the AD encrypted encrypted again to the DV's key, and names the organisation from its
# register (KvK number, and the RSIN the service asks for). The attribute DVs' service asks for
# FirstName (required, in poort's config) and DateOfBirth (in the DV's metadata, as the RSIN).

NS_ESP = "urn:etoegang:1.9:samlp-extension"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
POORT_OWN = [
    "urn:etoegang:core:ServiceID", "urn:etoegang:core:ServiceUUID", "urn:etoegang:core:ActingSubjectID",
    peers.LEGAL_SUBJECT_ID, "urn:etoegang:1.11:attribute-represented:CompanyName",
]
# What the pysaml2 AD says of its subject: values found nowhere else, so "not passed on" is a
# plain search of poort's Response.
FIRST_NAME_VALUE = "Hendrika"
FAMILY_NAME_VALUE = "Zwanenburg-Onbevraagd"
DATE_OF_BIRTH_VALUE = "1961-07-23"
AD_KVK = "99990042"  # the organisation the AD names itself; poort's register decides
BOTH_IDENTIFIERS = [(peers.KVK_TYPE, KVK), (peers.RSIN_TYPE, peers.RSIN)]


def requested_of_ad(req):
    """The md:RequestedAttributes of poort's AuthnRequest as pysaml2 parsed it (the request's
    samlp:Extensions): [(Name, NameFormat, isRequired)], or None without Extensions."""
    ext = req.message.extensions
    if ext is None:
        return None
    found = [(e.namespace, e.tag) for e in ext.extension_elements]
    lists = [e for e in ext.extension_elements if (e.namespace, e.tag) == (NS_ESP, "RequestedAttributes")]
    check(len(lists) == 1, f"samlp:Extensions holds {found}, expected one esp:RequestedAttributes")
    asked = []
    for child in lists[0].children:
        ra = extension_element_to_element(child, md.ELEMENT_FROM_STRING, namespace=md.NAMESPACE)
        check(isinstance(ra, md.RequestedAttribute), f"esp:RequestedAttributes holds {{{child.namespace}}}{child.tag}")
        asked.append((ra.name, ra.name_format, ra.is_required))
    return asked


def nameid_attribute(name, qualifier, value):
    """A saml:Attribute with one NameID value (pysaml2 writes NameID values so for
    eduPersonTargetedID)."""
    nameid = saml.NameID(name_qualifier=qualifier, text=value)
    return saml.Attribute(name=name, name_format=NAME_FORMAT_URI, attribute_value=[
        saml.AttributeValue(extension_elements=[element_to_extension_element(nameid)]),
    ])


def encrypted_for_poort(env, attribute):
    """`attribute` (pysaml2's saml:Attribute, a document of its own) as a saml:EncryptedAttribute
    to poort's encryption key, which pysaml2 finds in poort's SP metadata; encrypted by the
    `xmlsec` binding (libxmlsec1): AES-256-GCM, the session key by RSA-OAEP in the EncryptedData's
    KeyInfo. pysaml2 reads the result back into its object model, as its own attribute encryption
    does."""
    import xmlsec
    from lxml import etree

    certs = env.ad.metadata.certs(POORT_SP_ID, "spsso", use="encryption")
    signing = env.ad.metadata.certs(POORT_SP_ID, "spsso", use="signing")
    check(len(certs) == 1 and certs[0] not in signing,
          f"poort's SP metadata: {len(certs)} encryption certificate(s), expected one of its own")
    pem = f"-----BEGIN CERTIFICATE-----\n{certs[0][1]}\n-----END CERTIFICATE-----\n"
    plain = etree.fromstring(str(attribute).encode())
    data = xmlsec.template.encrypted_data_create(plain, xmlsec.constants.TransformAes256Gcm,
                                                 type=xmlsec.constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    transport = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(transport)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem))
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
    text = etree.tostring(ctx.encrypt_xml(data, plain)).decode()
    for uri in (AES256_GCM, RSA_OAEP_MGF1P):
        check(uri in text, f"the xmlsec binding did not encrypt with {uri}: {excerpt(text)}")
    return saml.EncryptedAttribute(encrypted_data=xenc.encrypted_data_from_string(text))


def ad_attribute_response(env, req, identity, extra):
    """The pysaml2 AD's answer (assertion signed) carrying `identity` (written through the
    eHerkenning attribute map: Name the URI, NameFormat uri) and the `extra` saml:Attribute /
    saml:EncryptedAttribute elements, put into the assertion's AttributeStatement before pysaml2
    signs it. Checks that the AD's Response really carries them all. Returns (xml, destination)."""
    ad = env.ad
    build = ad.setup_assertion

    def setup_assertion(*args, **kwargs):
        assertion = build(*args, **kwargs)
        if not assertion.attribute_statement:
            assertion.attribute_statement = [saml.AttributeStatement()]
        statement = assertion.attribute_statement[0]
        for element in extra:
            if isinstance(element, saml.EncryptedAttribute):
                statement.encrypted_attribute.append(element)
            else:
                statement.attribute.append(element)
        return assertion

    ad.setup_assertion = setup_assertion
    try:
        xml, acs = ad_response(ad, req, identity=identity)
    finally:
        del ad.setup_assertion
    root = ET.fromstring(xml)
    sent = {(a.get("Name"), a.get("NameFormat")) for a in root.iter(f"{{{NS_SAML}}}Attribute")}
    want = {(name, NAME_FORMAT_URI) for name, friendly in peers.ETOEGANG_ATTRIBUTE_MAP["fro"].items() if friendly in identity}
    want |= {(a.name, a.name_format) for a in extra if isinstance(a, saml.Attribute)}
    check(sent == want, f"the pysaml2 AD sent attributes {sorted(sent)}, meant {sorted(want)}")
    encrypted = list(root.iter(f"{{{NS_SAML}}}EncryptedAttribute"))
    check(len(encrypted) == sum(isinstance(a, saml.EncryptedAttribute) for a in extra),
          f"the pysaml2 AD sent {len(encrypted)} EncryptedAttribute(s)")
    return xml, acs


def attribute_login(env, dv_id, identity, extra=()):
    """A login to an attribute DV's service through poort: the DV's signed AuthnRequest by
    HTTP-Redirect, the pysaml2 AD's answer with `identity` and `extra`. Returns (DV request ID,
    poort's base64 SAMLResponse, the AD's Response)."""
    session = requests.Session()
    relay = "rs-" + os.urandom(6).hex()
    reqid, _, url, _ = dv_request(env.dv[dv_id], BINDING_HTTP_REDIRECT, relay)
    r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    trail = [f"GET /saml/sso -> {r.status_code}"]
    r = choose_ad(session, r, AD_ID, trail)
    req, _ = ad_parse_request(env.ad, r.headers["Location"])
    xml, acs = ad_attribute_response(env, req, identity, extra)
    r = session.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()}, allow_redirects=False, timeout=TIMEOUT)
    saml_response, relay_back, _ = follow_to_answer(session, r, peers.DV_ACS[dv_id], trail)
    check(relay_back == relay, f"RelayState came back as {relay_back!r}, sent {relay!r}")
    return reqid, saml_response, xml


def ad_legal_subject():
    """The AD naming an organisation itself: LegalSubjectID, a KvK NameID not in poort's register."""
    return nameid_attribute(peers.LEGAL_SUBJECT_ID, peers.KVK_TYPE, AD_KVK)


def attribute_names(assertion_xml):
    """The Names of an assertion's saml:Attributes, in order (repeats kept)."""
    return [a.get("Name") for a in ET.fromstring(assertion_xml).iter(f"{{{NS_SAML}}}Attribute")]


def legal_subject_in_ava(ava):
    """LegalSubjectID as pysaml2's identity (`ava`) reads it through the eHerkenning map: NameID
    values as (NameQualifier, value)."""
    values = ava.get("LegalSubjectID", [])
    check(all(isinstance(v, dict) and set(v) == {"NameID"} for v in values),
          f"pysaml2 reads LegalSubjectID as {values}, not as NameIDs")
    return [(v["NameID"].get("name_qualifier"), v["NameID"].get("value")) for v in values]


def check_minimised(resp, text, what):
    """The DV's identity as pysaml2 read it (`resp`, the Response `text` as poort sent it): the
    requested attributes with the AD's values, nothing unasked, LegalSubjectID from poort's
    register (one Attribute, KvK then RSIN), the AD's organisation nowhere."""
    names = attribute_names(str(resp.assertion))
    check(names[:5] == POORT_OWN, f"{what}: the assertion starts with {names[:5]}, expected poort's own {POORT_OWN}")
    check(names.count(peers.LEGAL_SUBJECT_ID) == 1, f"{what}: {names.count(peers.LEGAL_SUBJECT_ID)} LegalSubjectID attributes")
    check(resp.ava.get("FirstName") == [FIRST_NAME_VALUE], f"{what}: pysaml2 reads FirstName as {resp.ava.get('FirstName')}")
    check(peers.FAMILY_NAME not in names and "FamilyName" not in resp.ava,
          f"{what}: FamilyName, which nobody asked for, reached the DV: {names}")
    check(FAMILY_NAME_VALUE not in text, f"{what}: the AD's FamilyName value is in poort's Response")
    legal = legal_subject_in_ava(resp.ava)
    check(legal == BOTH_IDENTIFIERS, f"{what}: pysaml2 reads LegalSubjectID as {legal}, expected {BOTH_IDENTIFIERS}")
    check(AD_KVK not in text and AD_KVK not in str(resp.assertion),
          f"{what}: the AD's own LegalSubjectID value ({AD_KVK}) reached the DV")
    return names


def case_ad_asked_for_requested_attributes(env):
    """pysaml2's AD reads poort's AuthnRequest extension: exactly the service's attributes, from
    poort's config (FirstName, required) and the DV's metadata (DateOfBirth, not required), not the
    organisation's identifiers poort gives itself (the RSIN the metadata also asks for); a service
    that asks for nothing gets a request without Extensions."""
    for dv_id in (peers.DV_ATTR_ID, peers.DV_ATTR_PLAIN_ID):
        _, _, req = ad_round(env, dv_id=dv_id)
        asked = requested_of_ad(req)
        want = [(peers.FIRST_NAME, NAME_FORMAT_URI, "true"), (peers.DATE_OF_BIRTH, NAME_FORMAT_URI, "false")]
        check(asked == want, f"poort asks the AD for {asked} for {dv_id}'s service, expected {want}")
        check(req.message.requested_authn_context is not None, "pysaml2 lost RequestedAuthnContext next to Extensions")
    _, _, req = ad_round(env, dv_id=DV_ID)
    asked = requested_of_ad(req)
    check(asked is None, f"poort asks the AD for {asked} for a service that asks for nothing")


def case_only_requested_attributes_reach_dv(env):
    """The pysaml2 AD sends FirstName and DateOfBirth (asked), FamilyName (not asked) and its own
    LegalSubjectID (KvK NameID); the DV without an encryption key gets, verified by pysaml2, the
    two asked for with the AD's values after poort's own five, and LegalSubjectID from poort's
    register with the KvK number and the RSIN."""
    identity = {"FirstName": FIRST_NAME_VALUE, "DateOfBirth": DATE_OF_BIRTH_VALUE, "FamilyName": FAMILY_NAME_VALUE}
    reqid, saml_response, _ = attribute_login(env, peers.DV_ATTR_PLAIN_ID, identity, [ad_legal_subject()])
    resp, _ = assert_success(env, peers.DV_ATTR_PLAIN_ID, reqid, saml_response, peers.SERVICE_ATTR_PLAIN_ID,
                             peers.SERVICE_ATTR_PLAIN_UUID, legal=BOTH_IDENTIFIERS)
    text = base64.b64decode(saml_response).decode()
    names = check_minimised(resp, text, "dv-attr-plain")
    check(names[5:] == [peers.FIRST_NAME, peers.DATE_OF_BIRTH], f"after poort's own: {names[5:]}")
    check(resp.ava.get("DateOfBirth") == [DATE_OF_BIRTH_VALUE], f"pysaml2 reads DateOfBirth as {resp.ava.get('DateOfBirth')}")


def case_encrypted_attribute_reencrypted_for_dv(env):
    """The pysaml2 AD sends DateOfBirth as a saml:EncryptedAttribute to poort's key (AES-256-GCM,
    RSA-OAEP); poort's answer to the DV with an encryption key holds it as an EncryptedAttribute
    again, to the DV's key, inside the (encrypted) assertion: the assertion decrypted has no
    DateOfBirth in the clear, and pysaml2 decrypts the attribute with the DV's key and finds the
    AD's value. The rest as for the DV without a key."""
    dob = saml.Attribute(name=peers.DATE_OF_BIRTH, name_format=NAME_FORMAT_URI, friendly_name="DateOfBirth",
                         attribute_value=[saml.AttributeValue(text=DATE_OF_BIRTH_VALUE)])
    extra = [encrypted_for_poort(env, dob), ad_legal_subject()]
    identity = {"FirstName": FIRST_NAME_VALUE, "FamilyName": FAMILY_NAME_VALUE}
    reqid, saml_response, ad_xml = attribute_login(env, peers.DV_ATTR_ID, identity, extra)
    check(DATE_OF_BIRTH_VALUE not in ad_xml, "the AD's DateOfBirth is in the clear in its own Response")
    text = base64.b64decode(saml_response).decode()
    check("EncryptedAssertion" in text and DATE_OF_BIRTH_VALUE not in text, "poort's Response shows the DateOfBirth")
    # The assertion as the DV's key opens it (xmlsec1 decrypts the outer EncryptedData only): the
    # attribute in it is still encrypted.
    with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=peers.tmp(), delete=False) as f:
        f.write(text)
    p = subprocess.run([peers.XMLSEC, "--decrypt", "--privkey-pem", peers.tmp("dv-attr.key"), f.name],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"xmlsec1 cannot decrypt poort's assertion with the DV's key: {p.stderr}")
    opened = ET.fromstring(p.stdout)
    assertion = opened.find(f".//{{{NS_SAML}}}Assertion")
    check(assertion is not None, f"no Assertion after decryption: {excerpt(p.stdout)}")
    enc = assertion.findall(f".//{{{NS_SAML}}}AttributeStatement/{{{NS_SAML}}}EncryptedAttribute")
    check(len(enc) == 1, f"the decrypted assertion holds {len(enc)} EncryptedAttribute(s), expected one (DateOfBirth)")
    algs = [m.get("Algorithm") for m in enc[0].iter(f"{{{NS_XENC}}}EncryptionMethod")]
    check(algs == [AES256_GCM, RSA_OAEP_MGF1P], f"poort's EncryptedAttribute uses {algs}")
    plain = ET.tostring(assertion, encoding="unicode")
    check(DATE_OF_BIRTH_VALUE not in plain and peers.DATE_OF_BIRTH not in attribute_names(plain),
          "the decrypted assertion shows DateOfBirth in the clear")
    # pysaml2: the signatures, the assertion's decryption, the attribute's decryption.
    resp, _ = assert_success(env, peers.DV_ATTR_ID, reqid, saml_response, peers.SERVICE_ATTR_ID,
                             peers.SERVICE_ATTR_UUID, legal=BOTH_IDENTIFIERS)
    check(resp.ava.get("DateOfBirth") == [DATE_OF_BIRTH_VALUE],
          f"pysaml2 decrypts DateOfBirth to {resp.ava.get('DateOfBirth')}, expected the AD's value")
    check_minimised(resp, text, "dv-attr")


def case_encrypted_attribute_withheld_without_dv_key(env):
    """The AD's encrypted DateOfBirth, for the DV without an encryption key: withheld (never in
    the clear), the rest of the answer as usual; poort's log names the attribute, not its value."""
    dob = saml.Attribute(name=peers.DATE_OF_BIRTH, name_format=NAME_FORMAT_URI, friendly_name="DateOfBirth",
                         attribute_value=[saml.AttributeValue(text=DATE_OF_BIRTH_VALUE)])
    log = peers.tmp("poort.log")
    start = os.path.getsize(log)
    identity = {"FirstName": FIRST_NAME_VALUE, "FamilyName": FAMILY_NAME_VALUE}
    reqid, saml_response, _ = attribute_login(env, peers.DV_ATTR_PLAIN_ID, identity,
                                              [encrypted_for_poort(env, dob), ad_legal_subject()])
    resp, _ = assert_success(env, peers.DV_ATTR_PLAIN_ID, reqid, saml_response, peers.SERVICE_ATTR_PLAIN_ID,
                             peers.SERVICE_ATTR_PLAIN_UUID, legal=BOTH_IDENTIFIERS)
    text = base64.b64decode(saml_response).decode()
    check("EncryptedAttribute" not in text and "EncryptedData" not in text and DATE_OF_BIRTH_VALUE not in text,
          "poort passed the encrypted DateOfBirth on to a DV without an encryption key")
    names = check_minimised(resp, text, "dv-attr-plain")
    check(names[5:] == [peers.FIRST_NAME], f"after poort's own: {names[5:]}")
    with open(log) as f:
        f.seek(start)
        lines = [line for line in f if "withheld" in line]
    check(any(peers.DATE_OF_BIRTH in line for line in lines), f"poort's log does not name the withheld attribute: {lines}")
    check(not any(DATE_OF_BIRTH_VALUE in line for line in lines), "poort's log shows the withheld value")


CASES += [
    case_ad_asked_for_requested_attributes,
    case_only_requested_attributes_reach_dv,
    case_encrypted_attribute_reencrypted_for_dv,
    case_encrypted_attribute_withheld_without_dv_key,
]


# ---------------------------------------------------------------------------------------------
# The scheme's service catalogue, signed by a foreign signer (xmlsec1), read by `poort catalogue`.

NS_ESC = "urn:etoegang:1.13:service-catalog"
ESC_ID_ATTR = f"{NS_ESC}:ServiceCatalogue"
POORT_BIN = os.environ.get("POORT_BIN", "")


def catalogue_template(cat_id, providers):
    """An unsigned esc:ServiceCatalogue, pretty-printed as a person or a tool would write it,
    with an xmlsec1 signature template as its first child (enveloped, exclusive c14n,
    RSA-SHA256, SHA-256, Reference to the catalogue's ID). `providers`: (OIN, name, services),
    each service (index, ServiceUUID, (name nl, name en), level URI, HerkenningsmakelaarId,
    additional HM or None)."""
    from xml.sax.saxutils import escape

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<esc:ServiceCatalogue xmlns:esc="{NS_ESC}" xmlns:saml="{NS_SAML}" ID="{cat_id}"',
        '    esc:IssueInstant="2026-12-01T10:00:00Z" esc:Version="urn:etoegang:1.13:service-catalogue:T:7">',
        f'  <ds:Signature xmlns:ds="{NS_DS}">',
        "    <ds:SignedInfo>",
        '      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
        f'      <ds:SignatureMethod Algorithm="{RSA_SHA256}"/>',
        f'      <ds:Reference URI="#{cat_id}">',
        "        <ds:Transforms>",
        '          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>',
        '          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
        "        </ds:Transforms>",
        f'        <ds:DigestMethod Algorithm="{SHA256}"/>',
        "        <ds:DigestValue/>",
        "      </ds:Reference>",
        "    </ds:SignedInfo>",
        "    <ds:SignatureValue/>",
        "    <ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
        "  </ds:Signature>",
    ]
    for oin, name, services in providers:
        out += [
            '  <esc:ServiceProvider esc:IsPublic="true">',
            f"    <esc:ServiceProviderID>{oin}</esc:ServiceProviderID>",
            f'    <esc:OrganizationDisplayName xml:lang="nl">{escape(name)}</esc:OrganizationDisplayName>',
        ]
        for index, uuid, (nl, en), level, hm, _ in services:
            out += [
                '    <esc:ServiceDefinition esc:IsPublic="true">',
                f"      <esc:ServiceUUID>{uuid}</esc:ServiceUUID>",
                f'      <esc:ServiceName xml:lang="nl">{escape(nl)}</esc:ServiceName>',
                f'      <esc:ServiceName xml:lang="en">{escape(en)}</esc:ServiceName>',
                f'      <esc:ServiceDescription xml:lang="nl">Dienst {index} van {escape(name)}.</esc:ServiceDescription>',
                f"      <saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef>",
                f"      <esc:HerkenningsmakelaarId>{hm}</esc:HerkenningsmakelaarId>",
                f"      <esc:EntityConcernedTypesAllowed>{KVK_QUALIFIER}</esc:EntityConcernedTypesAllowed>",
                "    </esc:ServiceDefinition>",
            ]
        for index, uuid, _, _, hm, additional in services:
            out += [
                '    <esc:ServiceInstance esc:IsPublic="true">',
                f"      <esc:ServiceID>urn:etoegang:DV:{oin}:services:{index}</esc:ServiceID>",
                f"      <esc:ServiceUUID>{uuid[:-4]}ffff</esc:ServiceUUID>",
                f"      <esc:InstanceOfService>{uuid}</esc:InstanceOfService>",
                f'      <esc:ServiceURL xml:lang="nl">https://dv{oin[-2:]}.interop.example/{index}</esc:ServiceURL>',
                f"      <esc:HerkenningsmakelaarId>{hm}</esc:HerkenningsmakelaarId>",
            ]
            if additional:
                out.append(f"      <esc:AdditionalHerkenningsmakelaarId>{additional}</esc:AdditionalHerkenningsmakelaarId>")
            out += ["      <esc:SSOSupport>false</esc:SSOSupport>", "    </esc:ServiceInstance>"]
        out.append("  </esc:ServiceProvider>")
    out.append("</esc:ServiceCatalogue>")
    return "\n".join(out) + "\n"


def catalogue_dv_metadata(entity_id, cert_file, acs_url, services):
    """Plain SP metadata naming each ServiceID in an AttributeConsumingService (afsprakenstelsel
    page *DV metadata for HM*): `services` is [(index, ServiceID, name)]."""
    with open(cert_file) as f:
        cert = "".join(line.strip() for line in f if "CERTIFICATE" not in line)
    acs = "".join(
        f'<md:AttributeConsumingService index="{i}"><md:ServiceName xml:lang="nl">{name}</md:ServiceName>'
        f'<md:RequestedAttribute Name="{sid}"/></md:AttributeConsumingService>'
        for i, sid, name in services
    )
    return (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">'
        '<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{NS_DS}"><ds:X509Data><ds:X509Certificate>{cert}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{acs_url}" index="0" isDefault="true"/>'
        f"{acs}</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def poort_catalogue(config, command):
    check(POORT_BIN and os.path.exists(POORT_BIN), f"POORT_BIN ({POORT_BIN!r}) is not poort's binary")
    p = subprocess.run([POORT_BIN, "catalogue", "--config", config, command], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def case_catalogue_signed_by_xmlsec(env):
    """A service catalogue of two providers and three services (one offered through poort's HM
    in HerkenningsmakelaarId, one through AdditionalHerkenningsmakelaarId, one only through
    another HM), signed by xmlsec1 (not poort), with DV metadata naming poort's two: `poort
    catalogue check` passes and `show` lists both with their names; one byte of a ServiceName
    changed: `check` fails naming the file and "signature refused"."""
    hm = POORT_IDP_ID.split(":")[3]
    check(re.fullmatch(r"\d{20}", hm), f"no OIN in poort's entity ID {POORT_IDP_ID}")
    other_hm = "00000099990000000099"
    check(other_hm != hm, "the other HM's OIN is poort's")
    dv_a, dv_b = "00000099990000000081", "00000099990000000082"
    loa = "urn:etoegang:core:assurance-class:"
    permit = ("Vergunning aanvragen (één loket)", "Apply for a permit (one desk)")
    notify = ("Melding doen", "Submit a notification")
    providers = [
        (dv_a, "Gemeente Interop", [
            (1, "5f0c1d2e-0081-4a1d-963a-000000000001", permit, loa + "loa3", hm, None),
            (2, "5f0c1d2e-0081-4a1d-963a-000000000002", notify, loa + "loa2plus", other_hm, hm),
        ]),
        (dv_b, "Belastingen Interop", [
            (1, "5f0c1d2e-0082-4a1d-963a-000000000001", ("Aangifte doen", "File a return"), loa + "loa4", other_hm, None),
        ]),
    ]
    d = tempfile.mkdtemp(prefix="catalogue-", dir=peers.tmp())
    cat_id = "_catalogue-" + os.urandom(8).hex()
    template, catalogue = os.path.join(d, "template.xml"), os.path.join(d, "catalogue.xml")
    with open(template, "w", encoding="utf-8") as f:
        f.write(catalogue_template(cat_id, providers))
    key, cert = peers.tmp("catalogue-signer.key"), peers.tmp("catalogue-signer.crt")
    p = subprocess.run([peers.XMLSEC, "--sign", "--privkey-pem", f"{key},{cert}", "--id-attr:ID", ESC_ID_ATTR,
                        "--output", catalogue, template], capture_output=True, text=True)
    check(p.returncode == 0, f"xmlsec1 --sign: {p.stdout}{p.stderr}")
    with open(catalogue, "rb") as f:
        signed = f.read()
    root = ET.fromstring(signed)
    first = next(iter(root))
    check(first.tag == f"{{{NS_DS}}}Signature", f"the first child of the signed catalogue is {first.tag}")
    check(first.find(f".//{{{NS_DS}}}X509Certificate") is not None, "xmlsec1 put no certificate in KeyInfo")
    # The signer's own check, so a refusal below is poort's and not a broken signature.
    p = subprocess.run([peers.XMLSEC, "--verify", "--pubkey-cert-pem", cert, "--id-attr:ID", ESC_ID_ATTR, catalogue],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"xmlsec1 does not verify its own catalogue signature: {p.stderr}")

    # poort's config: the interop config's keys and ADs, no [[service]] (nor the OIDC client that
    # names one), DV metadata naming the two services offered through poort, the catalogue.
    sp_dir = os.path.join(d, "sp")
    os.makedirs(sp_dir)
    with open(os.path.join(sp_dir, "dv-a.xml"), "w") as f:
        f.write(catalogue_dv_metadata(
            f"urn:etoegang:DV:{dv_a}:entities:1", peers.tmp("dv.crt"), "http://127.0.0.1:9/dv-a/acs",
            [(1, f"urn:etoegang:DV:{dv_a}:services:1", "Vergunning"), (2, f"urn:etoegang:DV:{dv_a}:services:2", "Melding")],
        ))
    with open(peers.tmp("poort.toml")) as f:
        base = f.read()
    check("\n[[oidc_client]]" in base and base.count('sp_metadata_dir = "') == 1, "run.sh's poort.toml changed shape")
    base = base.split("\n[[oidc_client]]")[0]
    base = re.sub(r'(?m)^sp_metadata_dir = ".*"$', f'sp_metadata_dir = "{sp_dir}"', base)
    config = os.path.join(d, "poort.toml")
    with open(config, "w") as f:
        f.write(base + f'\n[[catalogue]]\nsource = "{catalogue}"\ntrust_cert = "{cert}"\n')

    rc, out, err = poort_catalogue(config, "check")
    check(rc == 0, f"poort catalogue check refuses the catalogue signed by xmlsec1 (exit {rc}):\n{out}{err}")
    check("2 service(s), no problems" in out, f"poort catalogue check: {out}")
    rc, out, err = poort_catalogue(config, "show")
    check(rc == 0, f"poort catalogue show: exit {rc}: {out}{err}")
    blocks = {b.split("\n", 1)[0]: b for b in re.split(r"\n(?=\S)", out)}
    for index, (nl, en), level in ((1, permit, "EH3"), (2, notify, "EH2+")):
        sid = f"urn:etoegang:DV:{dv_a}:services:{index}"
        block = blocks.get(sid)
        check(block, f"poort catalogue show does not list {sid}:\n{out}")
        for line in (f"name          {nl} / {en}", f"level         {level}", "provider      Gemeente Interop",
                     f"DV            urn:etoegang:DV:{dv_a}:entities:1 (index {index})", f"defined in    {catalogue}"):
            check(line in block, f"{sid}: no line {line!r} in:\n{block}")
    check(f"urn:etoegang:DV:{dv_b}:services:1" not in out, f"the other HM's service is listed:\n{out}")
    check("2 service(s); 1 of other brokers left out" in out, f"poort catalogue show: {out}")

    # One byte of a signed ServiceName changed.
    tampered = signed.replace(b">Melding doen<", b">Melding doem<")
    check(tampered.count(b"Melding doem") == 1 and len(tampered) == len(signed), "the tamper did not change one byte")
    with open(catalogue, "wb") as f:
        f.write(tampered)
    rc, out, err = poort_catalogue(config, "check")
    check(rc != 0, f"poort catalogue check accepts a tampered catalogue:\n{out}")
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    check(len(errors) == 1 and errors[0].startswith(f"error: {catalogue}: signature refused"),
          f"poort catalogue check does not name the file and the signature:\n{out}{err}")
    check("does not verify with the trust certificate" in errors[0], f"the signature is refused for another reason: {errors[0]}")


CASES.append(case_catalogue_signed_by_xmlsec)

# Issue 15: single sign-on, IsPassive and ForceAuthn, "Onthoud mijn keuze", single log-out.
CASES += sessions.make(sys.modules[__name__])


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
