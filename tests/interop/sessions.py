"""Interop cases of issue 15: single sign-on across two services, IsPassive and ForceAuthn,
"Onthoud mijn keuze", and single log-out from a pysaml2 DV through poort to the pysaml2 AD and
back, over the bindings the scheme's peers use (afsprakenstelsel pages *Single sign-on and user
sessions*, *Single Log-out*; docs/SESSIONS.md).

Every message on the peers' side is made and checked by pysaml2. `make(h)` returns the cases; `h`
is test_interop's module, whose helpers (the login steps, the form parser, `check`) they use.
"""

import base64
import html
import re
import zlib
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.response import StatusNoPassive, StatusPartialLogout
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import verify_redirect_signature

import peers
from peers import AD_ID, AD_SUBJECT, DV_ENC_ID, DV_ID, RSA_SHA256, SHA256

STATUS_PARTIAL_LOGOUT = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def make(h):
    check, TIMEOUT = h.check, h.TIMEOUT

    def request(env, dv_id, binding=BINDING_HTTP_REDIRECT, **kw):
        """The DV's signed AuthnRequest, made by pysaml2 with `kw` (force_authn, is_passive)."""
        dv = env.dv[dv_id]
        relay = "rs-sso"
        reqid, info = dv.prepare_for_authenticate(
            entityid=h.POORT_IDP_ID, relay_state=relay, binding=binding, sign=True, sigalg=RSA_SHA256,
            digest_alg=SHA256, attribute_consuming_service_index=str(peers.ACS_INDEX),
            requested_authn_context=h.authn_context(h.LOA3), nameid_format=h.NAMEID_FORMAT_UNSPECIFIED, **kw,
        )
        location = dict(info["headers"])["Location"]
        return reqid, location

    def start(env, browser, dv_id, **kw):
        reqid, location = request(env, dv_id, **kw)
        return reqid, browser.get(location, allow_redirects=False, timeout=TIMEOUT)

    def through_ad(env, browser, r, trail, remember=True, expect_force=False):
        """The AD choice (remembering it or not) and the pysaml2 AD's answer; returns poort's
        next page."""
        r = choose(browser, r, trail, remember)
        req, _ = h.ad_parse_request(env.ad, r.headers["Location"])
        if expect_force:
            check(req.message.force_authn == "true", f"poort's AuthnRequest to the AD has ForceAuthn={req.message.force_authn}")
        xml, acs = h.ad_response(env.ad, req)
        return browser.post(acs, data={"SAMLResponse": base64.b64encode(xml.encode()).decode()},
                            allow_redirects=False, timeout=TIMEOUT)

    def choose(browser, r, trail, remember):
        if r.status_code in (302, 303) and "/login/idp" in r.headers["Location"]:
            r = browser.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
        form = next((f for f in h.forms(r.text) if "idp" in f["fields"]), None)
        check(form is not None, f"no AD choice page: HTTP {r.status_code} {h.excerpt(r.text)}")
        data = dict(form["fields"], idp=AD_ID)
        if not remember:
            data.pop("remember", None)
        trail.append("AD choice")
        return browser.post(urljoin(r.url, form["action"]), data=data, allow_redirects=False, timeout=TIMEOUT)

    def full_login(env, browser, dv_id, remember=True):
        trail = []
        reqid, r = start(env, browser, dv_id)
        r = through_ad(env, browser, r, trail, remember)
        saml_response, _, _ = h.follow_to_answer(browser, r, peers.DV_ACS[dv_id], trail)
        service = peers.DVS[dv_id]["service"]
        resp, _ = h.assert_success(env, dv_id, reqid, saml_response, service, uuid_of(service))
        return resp

    def uuid_of(service):
        return {peers.SERVICE_ID: peers.SERVICE_UUID, peers.SERVICE_ENC_ID: peers.SERVICE_ENC_UUID}[service]

    def answered_without_ad(browser, r, dv_id):
        """poort answers the DV at once: its form posting SAMLResponse, never the AD."""
        trail = []
        kind, got, _ = h.follow_to_dv(browser, r, trail)
        check(kind == "post", f"expected poort's answer form, got a redirect to {got}; trail {trail}")
        check(not any("AD" in t for t in trail), f"the AD was asked: {trail}")
        check(got["action"] == peers.DV_ACS[dv_id], f"answer form posts to {got['action']}")
        return got["fields"]["SAMLResponse"]

    def refused_passive(env, dv_id, reqid, r, rule):
        """poort's NoPassive answer, read by pysaml2, naming the rule that failed."""
        saml_response, _, _ = h.follow_to_answer(requests.Session(), r, peers.DV_ACS[dv_id], [])
        try:
            env.dv[dv_id].parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding={reqid: "/"})
        except StatusNoPassive as e:
            check(f"({rule})" in str(e), f"NoPassive names {e}, expected the rule {rule}")
        else:
            raise h.TestFailure("pysaml2 accepted a Response to a passive request poort could not answer")

    def case_sso_across_two_services_is_passive_and_force_authn(env):
        browser = requests.Session()
        first = full_login(env, browser, DV_ID)
        # A second service with SSO, same browser: no AD, the encrypted answer read by pysaml2.
        reqid, r = start(env, browser, DV_ENC_ID)
        saml_response = answered_without_ad(browser, r, DV_ENC_ID)
        second, _ = h.assert_success(env, DV_ENC_ID, reqid, saml_response, peers.SERVICE_ENC_ID, peers.SERVICE_ENC_UUID)
        check(second.assertion.authn_statement[0].authn_instant == first.assertion.authn_statement[0].authn_instant,
              "the second statement does not give the AD's moment of authentication")
        # IsPassive to the first service: answered from the session.
        reqid, r = start(env, browser, DV_ID, is_passive="true")
        saml_response = answered_without_ad(browser, r, DV_ID)
        h.assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)
        # ForceAuthn: the AD again, asked with ForceAuthn.
        trail = []
        reqid, r = start(env, browser, DV_ID, force_authn="true")
        r = through_ad(env, browser, r, trail, expect_force=True)
        saml_response, _, _ = h.follow_to_answer(browser, r, peers.DV_ACS[DV_ID], trail)
        h.assert_success(env, DV_ID, reqid, saml_response, peers.SERVICE_ID, peers.SERVICE_UUID)
        # A service without SSO: IsPassive is refused, saying which rule.
        attr_dv = peers.DV_ATTR_PLAIN_ID
        reqid, r = start(env, browser, attr_dv, is_passive="true")
        refused_passive(env, attr_dv, reqid, r, "service_without_sso")
        # Another browser has no session: IsPassive refused.
        reqid, r = start(env, requests.Session(), DV_ID, is_passive="true")
        refused_passive(env, DV_ID, reqid, r, "none")

    def ad_takes_logout(env, location, name_id_text=AD_SUBJECT):
        """The pysaml2 AD receives poort's LogoutRequest (HTTP-Redirect, signature verified by
        pysaml2 with poort's SP metadata) and answers with its signed LogoutResponse."""
        check(location.startswith(peers.AD_SLO), f"poort sent the log-out to {location}, not the AD's SingleLogoutService")
        q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        check("Signature" in q and q.get("SigAlg") == RSA_SHA256, f"poort's LogoutRequest is not signed: {location}")
        check(verify_redirect_signature(q, env.ad.sec.sec_backend, cert=cert_body(h.POORT_CERT)),
              "poort's LogoutRequest query signature does not verify with its metadata certificate")
        req = env.ad.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                          sigalg=q["SigAlg"], signature=q["Signature"])
        check(req is not None, "pysaml2 AD could not read poort's LogoutRequest")
        m = req.message
        check(m.issuer.text == h.POORT_SP_ID, f"LogoutRequest Issuer {m.issuer.text}")
        check(m.name_id.text == name_id_text, "poort's LogoutRequest does not name the AD's own NameID")
        check(m.session_index and m.session_index[0].text, "poort's LogoutRequest carries no SessionIndex")
        resp = env.ad.create_logout_response(m, [BINDING_HTTP_REDIRECT], sign=False)
        destination = resp.destination
        check(destination in h.EP["slo_sp"], f"AD answers at {destination}, not poort's SingleLogoutService")
        http = env.ad.apply_binding(BINDING_HTTP_REDIRECT, str(resp), destination, q.get("RelayState"),
                                    response=True, sign=True, sigalg=RSA_SHA256)
        return dict(http["headers"])["Location"]

    def dv_logout(env, dv_id, resp, binding):
        """The DV's signed LogoutRequest (pysaml2's global_logout), as the browser carries it to
        poort: (request id, method, url, data)."""
        dv = env.dv[dv_id]
        before = set(dv.state.keys())
        out = dv.do_logout(resp.name_id, [h.POORT_IDP_ID], "", None, sign=True, expected_binding=binding,
                           sign_alg=RSA_SHA256, digest_alg=SHA256)
        (b, info), = out.values()
        check(b == binding, f"pysaml2 chose {b}")
        (req_id,) = set(dv.state.keys()) - before
        if binding == BINDING_HTTP_REDIRECT:
            return req_id, "GET", dict(info["headers"])["Location"], None
        (form,) = h.forms(info["data"])
        return req_id, "POST", form["action"], form["fields"]

    def send(browser, method, url, data, **kw):
        if method == "GET":
            return browser.get(url, allow_redirects=False, timeout=TIMEOUT, **kw)
        return browser.post(url, data=data, allow_redirects=False, timeout=TIMEOUT, **kw)

    def cleared(r, name):
        cookies = r.headers.get("Set-Cookie", "")
        return re.search(rf"{name}=;[^,]*Max-Age=0", cookies) is not None

    def case_single_logout_redirect_dv_to_ad_and_back(env):
        browser = requests.Session()
        resp = full_login(env, browser, DV_ID)
        dv = env.dv[DV_ID]
        req_id, method, url, data = dv_logout(env, DV_ID, resp, BINDING_HTTP_REDIRECT)
        check(url.startswith(h.EP["slo_idp"][BINDING_HTTP_REDIRECT]), f"pysaml2 DV sends its log-out to {url}")
        r = send(browser, method, url, data)
        check(r.status_code in (302, 303), f"poort answered the log-out with HTTP {r.status_code}: {h.excerpt(r.text)}")
        check(cleared(r, "poort_session"), f"poort did not clear its session cookie: {r.headers.get('Set-Cookie')}")
        back = ad_takes_logout(env, r.headers["Location"])
        r = browser.get(back, allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code in (302, 303), f"poort answered the AD's LogoutResponse with HTTP {r.status_code}: {h.excerpt(r.text)}")
        location = r.headers["Location"]
        slo, _ = peers.DV_SLO[DV_ID]
        check(location.startswith(slo), f"poort sent the browser to {location}, not the DV's SingleLogoutService")
        q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        check(verify_redirect_signature(q, dv.sec.sec_backend, cert=cert_body(h.POORT_CERT)),
              "poort's LogoutResponse query signature does not verify with its metadata certificate")
        answer = dv.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        check(answer is not None, "pysaml2 DV could not read poort's LogoutResponse")
        check(answer.response.in_response_to == req_id, f"InResponseTo {answer.response.in_response_to} != {req_id}")
        check(answer.response.status.status_code.value == STATUS_SUCCESS, f"status {answer.response.status.status_code.value}")
        check(q.get("RelayState"), "poort dropped the DV's RelayState")
        # The session has ended: IsPassive is refused now.
        reqid, r = start(env, browser, DV_ID, is_passive="true")
        refused_passive(env, DV_ID, reqid, r, "none")

    def case_single_logout_post_binding_and_remembered_ad(env):
        """The DV whose SingleLogoutService takes HTTP-POST: its request by POST, poort's answer
        posted back (enveloped signature, verified by pysaml2). "Onthoud mijn keuze" outlives
        the log-out when ticked, and not when unticked."""
        browser = requests.Session()
        resp = full_login(env, browser, DV_ENC_ID)
        req_id, method, url, data = dv_logout(env, DV_ENC_ID, resp, BINDING_HTTP_POST)
        r = send(browser, method, url, data)
        back = ad_takes_logout(env, r.headers["Location"])
        r = browser.get(back, allow_redirects=False, timeout=TIMEOUT)
        slo, _ = peers.DV_SLO[DV_ENC_ID]
        forms = [f for f in h.forms(r.text) if "SAMLResponse" in f["fields"]]
        check(r.status_code == 200 and forms and forms[0]["action"] == slo,
              f"poort did not post its LogoutResponse to {slo}: HTTP {r.status_code} {h.excerpt(r.text)}")
        xml = base64.b64decode(forms[0]["fields"]["SAMLResponse"]).decode()
        check("Signature" in xml, "poort's posted LogoutResponse is not signed")
        dv = env.dv[DV_ENC_ID]
        check(dv.sec.correctly_signed_logout_response(xml, must=True), "pysaml2 does not verify poort's signature")
        answer = dv.parse_logout_request_response(forms[0]["fields"]["SAMLResponse"], BINDING_HTTP_POST)
        check(answer is not None and answer.response.in_response_to == req_id, "pysaml2 DV refused poort's LogoutResponse")
        check(answer.response.status.status_code.value == STATUS_SUCCESS, f"status {answer.response.status.status_code.value}")
        # The AD chosen with "Onthoud mijn keuze" ticked is offered first, marked remembered.
        reqid, r = start(env, browser, DV_ID)
        page = idp_page(browser, r)
        check(remembered(page) == AD_ID, f"the remembered AD is {remembered(page)}, expected {AD_ID}")
        # Unticked: the choice is forgotten.
        other = requests.Session()
        full_login(env, other, DV_ID, remember=False)
        # (a service without SSO, so that poort offers the choice although a session exists)
        reqid, r = start(env, other, peers.DV_ATTR_PLAIN_ID)
        check(remembered(idp_page(other, r)) is None, "an AD chosen without 'Onthoud mijn keuze' is remembered")

    def idp_page(browser, r):
        if r.status_code in (302, 303):
            r = browser.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code == 200 and 'name="idp"' in r.text, f"no AD choice page: HTTP {r.status_code} {h.excerpt(r.text)}")
        return r.text

    def remembered(page):
        """The AD the choice page marks as remembered ("— onthouden"), if any."""
        found = re.search(
            r'name="idp" value="([^"]+)"[^>]*>\s*</div>\s*<div[^>]*>\s*<label[^>]*>[^<]*— onthouden', page)
        return found.group(1) if found else None

    def case_logout_without_session_shows_the_schemes_page(env):
        """A DV's log-out in a browser poort has no session with: the scheme's page, naming the
        browser where it can tell, with the way back to the DV (PartialLogout)."""
        dv = env.dv[DV_ID]
        destination = h.EP["slo_idp"][BINDING_HTTP_REDIRECT]
        req_id, request = dv.create_logout_request(
            destination, h.POORT_IDP_ID, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="someone"),
            sign=False, sign_alg=RSA_SHA256, digest_alg=SHA256,
        )
        http = dv.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, "rs-nosession", sign=True, sigalg=RSA_SHA256)
        url = dict(http["headers"])["Location"]
        r = requests.get(url, allow_redirects=False, timeout=TIMEOUT, headers={"User-Agent": FIREFOX})
        check(r.status_code == 200, f"HTTP {r.status_code}: {h.excerpt(r.text)}")
        check("Uitloggen is momenteel niet mogelijk" in r.text, f"not the scheme's page: {h.excerpt(r.text)}")
        check("Sluit alle Firefox-vensters om de beveiliging van uw informatie te waarborgen." in r.text,
              f"the page does not name the browser: {h.excerpt(r.text)}")
        link = re.search(r'href="([^"]*SAMLResponse=[^"]*)"', r.text)
        check(link, "no way back to the service on the page")
        q = {k: v[0] for k, v in parse_qs(urlparse(html.unescape(link.group(1))).query).items()}
        check(verify_redirect_signature(q, dv.sec.sec_backend, cert=cert_body(h.POORT_CERT)),
              "the way back's LogoutResponse is not signed with poort's metadata certificate")
        try:
            dv.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        except StatusPartialLogout as e:
            check(STATUS_PARTIAL_LOGOUT in str(e), f"status {e}")
        else:
            raise h.TestFailure("pysaml2 read the way back as a complete log-out; expected PartialLogout")
        xml = base64.b64decode(q["SAMLResponse"])
        check(f'InResponseTo="{req_id}"'.encode() in zlib.decompress(xml, -15), "the way back answers another request")
        # Another browser, name unknown: "browservensters".
        again = dv.apply_binding(BINDING_HTTP_REDIRECT, str(request).replace(req_id, req_id + "b"), destination, None,
                                 sign=True, sigalg=RSA_SHA256)
        r = requests.get(dict(again["headers"])["Location"], timeout=TIMEOUT, headers={"User-Agent": "curl/8"})
        check("Sluit alle browservensters" in r.text, f"without a known browser: {h.excerpt(r.text)}")
        # The same request twice: refused as used.
        r = requests.get(url, timeout=TIMEOUT)
        check(r.status_code == 400 and "al eerder gebruikt" in r.text, f"a replayed LogoutRequest: HTTP {r.status_code} {h.excerpt(r.text)}")

    def case_logout_unsigned_or_forged_is_refused(env):
        dv = env.dv[DV_ID]
        destination = h.EP["slo_idp"][BINDING_HTTP_REDIRECT]
        req_id, request = dv.create_logout_request(
            destination, h.POORT_IDP_ID, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="someone"), sign=False,
        )
        unsigned = dv.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, None, sign=False)
        r = requests.get(dict(unsigned["headers"])["Location"], timeout=TIMEOUT)
        check(r.status_code == 400 and "ondertekening" in r.text, f"unsigned: HTTP {r.status_code} {h.excerpt(r.text)}")
        # Signed by the AD's key, claiming to be the DV.
        ad_signed = env.ad.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, None, sign=True, sigalg=RSA_SHA256)
        r = requests.get(dict(ad_signed["headers"])["Location"], timeout=TIMEOUT)
        check(r.status_code == 400 and "ondertekening" in r.text, f"forged: HTTP {r.status_code} {h.excerpt(r.text)}")

    return [
        case_sso_across_two_services_is_passive_and_force_authn,
        case_single_logout_redirect_dv_to_ad_and_back,
        case_single_logout_post_binding_and_remembered_ad,
        case_logout_without_session_shows_the_schemes_page,
        case_logout_unsigned_or_forged_is_refused,
    ]


def cert_body(path):
    """The base64 body of a PEM certificate, as pysaml2's helpers take it."""
    with open(path) as f:
        return "".join(line.strip() for line in f if "-----" not in line)
