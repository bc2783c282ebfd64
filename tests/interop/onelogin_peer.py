"""A second foreign DV library: OneLogin's python3-saml (with the `xmlsec` Python binding and
lxml), driven in-process as a service provider behind poort. Nothing of poort is imported.

The DV's metadata is written by python3-saml itself (`OneLogin_Saml2_Settings.get_sp_metadata`):
a signing and an encryption KeyDescriptor (it asks for encrypted assertions) and the
afsprakenstelsel's AttributeConsumingService, whose RequestedAttribute Name is the ServiceID.
At test time the DV trusts poort's IdP metadata as python3-saml's own parser reads it.
"""

import base64
import os

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

DV_ID = "urn:etoegang:DV:00000099990000000077:entities:5"
SERVICE_ID = "urn:etoegang:DV:00000099990000000077:services:5"
SERVICE_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a5"
ACS_INDEX = 1
# Never contacted over the network: the ACS is where poort's form posts; the test hands the form
# to python3-saml as if it had arrived there (127.0.0.1:9 is discard).
ACS_HOST, ACS_PORT, ACS_PATH = "127.0.0.1", "9", "/dv-onelogin/acs"
ACS = f"http://{ACS_HOST}:{ACS_PORT}{ACS_PATH}"
KEY_NAME = "dv-onelogin"
LOA3 = "urn:etoegang:core:assurance-class:loa3"


def _tmp(*parts):
    return os.path.join(os.environ["INTEROP_TMP"], *parts)


def _read(path):
    with open(path) as f:
        return f.read()


def sp_settings():
    """The DV's own half of python3-saml's settings (strict, RSA-SHA256, signed requests,
    signed and encrypted answers wanted)."""
    return {
        "entityId": DV_ID,
        "assertionConsumerService": {"url": ACS, "binding": C.BINDING_HTTP_POST},
        "attributeConsumingService": {
            "index": str(ACS_INDEX),
            "serviceName": "Interop service (python3-saml)",
            # The afsprakenstelsel's form: the ServiceID is the RequestedAttribute's Name.
            "requestedAttributes": [{"name": SERVICE_ID}],
        },
        "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "x509cert": _read(_tmp(f"{KEY_NAME}.crt")),
        "privateKey": _read(_tmp(f"{KEY_NAME}.key")),
    }


SECURITY = {
    "authnRequestsSigned": True,
    "wantMessagesSigned": True,
    "wantAssertionsSigned": True,
    "wantAssertionsEncrypted": True,
    "wantNameId": True,
    "wantAttributeStatement": True,
    "signatureAlgorithm": C.RSA_SHA256,
    "digestAlgorithm": C.SHA256,
    "rejectDeprecatedAlgorithm": True,
    "requestedAuthnContext": [LOA3],
    "requestedAuthnContextComparison": "minimum",
    "failOnAuthnContextMismatch": True,
    # Metadata as the afsprakenstelsel has it: no validUntil of python3-saml's choosing.
    "metadataValidUntil": "",
    "metadataCacheDuration": "",
}


def metadata():
    """The DV's SP metadata, written by python3-saml; python3-saml validates it against the
    SAML metadata schema before it is used."""
    s = OneLogin_Saml2_Settings({"strict": True, "sp": sp_settings(), "security": SECURITY}, sp_validation_only=True)
    text = s.get_sp_metadata()
    text = text.decode() if isinstance(text, bytes) else text
    errors = s.validate_metadata(text)
    if errors:
        raise RuntimeError(f"python3-saml finds its own metadata invalid: {errors}")
    return text


def settings(poort_idp_metadata, sso_binding):
    """python3-saml settings trusting poort as its IdP, from poort's metadata as
    python3-saml's parser reads it (entity ID, SingleSignOnService for `sso_binding`, signing
    certificate)."""
    idp = OneLogin_Saml2_IdPMetadataParser.parse(poort_idp_metadata, required_sso_binding=sso_binding)
    conf = OneLogin_Saml2_IdPMetadataParser.merge_settings(
        {"strict": True, "debug": False, "sp": sp_settings(), "security": dict(SECURITY)}, idp
    )
    return OneLogin_Saml2_Settings(conf)


def request_data(path, post=None):
    """The DV's HTTP request at `path` as python3-saml takes it (its current URL is built from it)."""
    return {
        "https": "off", "http_host": ACS_HOST, "server_port": ACS_PORT, "script_name": path,
        "get_data": {}, "post_data": post or {},
    }


def redirect_request(s, relay_state):
    """An AuthnRequest by HTTP-Redirect, query-signed by python3-saml. Returns (ID, URL)."""
    auth = OneLogin_Saml2_Auth(request_data("/dv-onelogin/login"), s)
    url = auth.login(return_to=relay_state)
    return auth.get_last_request_id(), url


def post_request(s, relay_state):
    """An AuthnRequest for HTTP-POST, enveloped-signed by python3-saml's own signer (RSA-SHA256,
    SHA-256). Returns (ID, destination, form fields)."""
    req = OneLogin_Saml2_Authn_Request(s)
    sp = s.get_sp_data()
    signed = OneLogin_Saml2_Utils.add_sign(
        req.get_xml(), sp["privateKey"], sp["x509cert"],
        sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256,
    )
    signed = signed.decode() if isinstance(signed, bytes) else signed
    fields = {"SAMLRequest": base64.b64encode(signed.encode()).decode(), "RelayState": relay_state}
    return req.get_id(), s.get_idp_data()["singleSignOnService"]["url"], fields


def receive(s, saml_response, relay_state, request_id):
    """poort's form, as python3-saml's ACS receives it: `process_response` (strict). Returns the
    Auth object (errors, attributes, NameID)."""
    auth = OneLogin_Saml2_Auth(request_data(ACS_PATH, {"SAMLResponse": saml_response, "RelayState": relay_state}), s)
    auth.process_response(request_id=request_id)
    return auth


def verify_response_signature(s, xml):
    """python3-saml's own check of a Response signature against poort's metadata certificate
    (it does not verify an error Response before reporting its status)."""
    cert = s.get_idp_cert()
    return OneLogin_Saml2_Utils.validate_sign(
        xml, cert, xpath=OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH, raise_exceptions=True
    )


if __name__ == "__main__":
    import sys

    with open(sys.argv[1], "w") as f:
        f.write(metadata())
