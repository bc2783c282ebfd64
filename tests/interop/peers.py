"""The foreign SAML peers: a pysaml2 service provider (the DV) and a pysaml2 identity provider (the AD).

Everything here is pysaml2's own code driven in-process; nothing of poort is imported. The
environment (paths, entity IDs, poort's URL) comes from run.sh through environment variables.
"""

import os

from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_SOAP, md, saml
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig, SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_UNSPECIFIED

from artifact_peer import RSA_SHA256, SHA256, XMLSEC

# The peers' identities (eHerkenning-style URNs; pysaml2 accepts them as entity IDs).
DV_ID = "urn:etoegang:DV:00000099990000000077:entities:1"
DV_ENC_ID = "urn:etoegang:DV:00000099990000000077:entities:2"
AD_ID = "urn:etoegang:AD:00000099990000000088:entities:1"
SERVICE_ID = "urn:etoegang:DV:00000099990000000077:services:1"
SERVICE_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a1"
SERVICE_ENC_ID = "urn:etoegang:DV:00000099990000000077:services:2"
SERVICE_ENC_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a2"
ACS_INDEX = 1
# The AD's test subject and the organisation it may act for.
AD_SUBJECT = "ad-subject-0001"
# A member of the organisation whom the AD knows and who holds no grant at all.
AD_NOGRANT_SUBJECT = "ad-subject-nogrant-0003"
KVK = "90000001"
# The OpenID Connect client (a relying party using authlib) and where poort sends it back.
OIDC_CLIENT_ID = "interop-rp"
OIDC_CLIENT_SECRET = "interop-secret-0123456789abcdef"
OIDC_REDIRECT = "https://rp.interop.example/cb"
# Where poort sends the person after the client's log-out (RP-Initiated Logout 1.0).
OIDC_LOGGED_OUT = "https://rp.interop.example/logged-out"
# A public client that signs request objects (its key is made by run.sh).
OIDC_SIGNING_CLIENT_ID = "interop-rp-signing"
COMPANY = "Interop Testbedrijf B.V."

# The artifact peers (HTTP-Artifact binding, SOAP ArtifactResolutionService): a DV that sends its
# AuthnRequest by artifact and gets its answer by artifact, the same with an encryption key, and
# an AD that is asked and answers by artifact.
DV_ART_ID = "urn:etoegang:DV:00000099990000000077:entities:3"
DV_ART_ENC_ID = "urn:etoegang:DV:00000099990000000077:entities:4"
AD_ART_ID = "urn:etoegang:AD:00000099990000000088:entities:2"
SERVICE_ART_ID = "urn:etoegang:DV:00000099990000000077:services:3"
SERVICE_ART_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a3"
SERVICE_ART_ENC_ID = "urn:etoegang:DV:00000099990000000077:services:4"
SERVICE_ART_ENC_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a4"
AD_ART_SUBJECT = "ad-art-subject-0002"

# The attribute DVs: their service asks for attributes, one in poort's config (FirstName,
# required), the others in the DV's metadata (its AttributeConsumingService: DateOfBirth, and
# the RSIN as the organisation's identifier). `dv-attr` has an encryption key, `dv-attr-plain`
# has none.
DV_ATTR_ID = "urn:etoegang:DV:00000099990000000077:entities:6"
DV_ATTR_PLAIN_ID = "urn:etoegang:DV:00000099990000000077:entities:7"
SERVICE_ATTR_ID = "urn:etoegang:DV:00000099990000000077:services:6"
SERVICE_ATTR_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a6"
SERVICE_ATTR_PLAIN_ID = "urn:etoegang:DV:00000099990000000077:services:7"
SERVICE_ATTR_PLAIN_UUID = "7b3c2e10-4d5f-4a6b-8c9d-0000000000a7"
# The organisation's RSIN in poort's register (9 digits, eleven-test).
RSIN = "805123453"
ATTRIBUTE = "urn:etoegang:1.9:attribute:"
FIRST_NAME = ATTRIBUTE + "FirstName"
FAMILY_NAME = ATTRIBUTE + "FamilyName"
DATE_OF_BIRTH = ATTRIBUTE + "DateOfBirth"
LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
KVK_TYPE = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN_TYPE = "urn:etoegang:1.9:EntityConcernedID:RSIN"
# (name, isRequired) in the [[service]] entry; names in the DV's metadata.
ATTR_IN_CONFIG = [(FIRST_NAME, True)]
ATTR_IN_METADATA = [DATE_OF_BIRTH, RSIN_TYPE]

# pysaml2's attribute map for eHerkenning's attribute names (NameFormat uri): the AD writes
# `FirstName` from its identity as Name="urn:etoegang:1.9:attribute:FirstName", and the
# attribute DVs read NameID values of the mapped names into their identity. Both directions are
# given: pysaml2 would derive "to" from "fro" lowercased.
_FRIENDLY = {FIRST_NAME: "FirstName", FAMILY_NAME: "FamilyName", DATE_OF_BIRTH: "DateOfBirth",
             LEGAL_SUBJECT_ID: "LegalSubjectID"}
ETOEGANG_ATTRIBUTE_MAP = {
    "identifier": NAME_FORMAT_URI,
    "fro": _FRIENDLY,
    "to": {friendly: name for name, friendly in _FRIENDLY.items()},
}


def etoegang_attributes(converters):
    """`converters` with eHerkenning's map as the one converter for NameFormat uri."""
    etoegang = AttributeConverter(NAME_FORMAT_URI)
    etoegang.from_dict(ETOEGANG_ATTRIBUTE_MAP)
    return [c for c in converters if c.name_format != NAME_FORMAT_URI] + [etoegang]


# Endpoints of the in-process peers: never contacted over the network (127.0.0.1:9 is discard).
DV_ACS = {
    DV_ID: "http://127.0.0.1:9/dv/acs",
    DV_ENC_ID: "http://127.0.0.1:9/dv-enc/acs",
    DV_ART_ID: "http://127.0.0.1:9/dv-art/acs-artifact",
    DV_ART_ENC_ID: "http://127.0.0.1:9/dv-art-enc/acs-artifact",
    DV_ATTR_ID: "http://127.0.0.1:9/dv-attr/acs",
    DV_ATTR_PLAIN_ID: "http://127.0.0.1:9/dv-attr-plain/acs",
}
DV_ART_POST_ACS = "http://127.0.0.1:9/dv-art/acs-post"
AD_SSO = "http://127.0.0.1:9/ad/sso"
# Single log-out (afsprakenstelsel page *Single Log-out*): the AD takes poort's LogoutRequest by
# HTTP-Redirect; poort answers a DV's LogoutRequest at the DV's SingleLogoutService, by
# HTTP-Redirect for `dv` and by HTTP-POST for `dv-enc`.
AD_SLO = "http://127.0.0.1:9/ad/slo"
DV_SLO = {
    DV_ID: ("http://127.0.0.1:9/dv/slo", BINDING_HTTP_REDIRECT),
    DV_ENC_ID: ("http://127.0.0.1:9/dv-enc/slo", BINDING_HTTP_POST),
}
AD_ART_SSO = "http://127.0.0.1:9/ad-art/sso"

# The peers' ArtifactResolutionServices are real: HTTPS (mutual TLS) on 127.0.0.1, port from run.sh.
ARS_PORT = int(os.environ.get("PEER_ARS_PORT") or 0)
ARS_PATHS = {
    # The artifact DV names two: index 0 issues nothing (poort must use the artifact's
    # EndpointIndex, 1, and not the first one listed).
    (DV_ART_ID, 0): "/dv-art/ars/0",
    (DV_ART_ID, 1): "/dv-art/ars/1",
    (AD_ART_ID, 0): "/ad-art/ars",
}
DV_ART_ARS_INDEX = 1


def ars_url(entity_id, index):
    return f"https://127.0.0.1:{ARS_PORT}{ARS_PATHS[(entity_id, index)]}"


# The DVs: key file name, endpoints, encryption.
DVS = {
    DV_ID: {"name": "dv", "service": SERVICE_ID},
    DV_ENC_ID: {"name": "dv-enc", "service": SERVICE_ENC_ID, "encrypt": True},
    DV_ART_ID: {
        "name": "dv-art",
        "service": SERVICE_ART_ID,
        "acs": [(DV_ACS[DV_ART_ID], BINDING_HTTP_ARTIFACT, 0), (DV_ART_POST_ACS, BINDING_HTTP_POST, 1)],
        "ars": (0, 1),
        "scheme_form": True,
    },
    DV_ART_ENC_ID: {
        "name": "dv-art-enc",
        "service": SERVICE_ART_ENC_ID,
        "acs": [(DV_ACS[DV_ART_ENC_ID], BINDING_HTTP_ARTIFACT, 0)],
        "encrypt": True,
        "scheme_form": True,
    },
    DV_ATTR_ID: {"name": "dv-attr", "service": SERVICE_ATTR_ID, "encrypt": True, "asks": ATTR_IN_METADATA},
    DV_ATTR_PLAIN_ID: {"name": "dv-attr-plain", "service": SERVICE_ATTR_PLAIN_ID, "asks": ATTR_IN_METADATA},
}


def tmp(*parts):
    return os.path.join(os.environ["INTEROP_TMP"], *parts)


def sp_config(entity_id, idp_metadata=None):
    """pysaml2 SP config for a DV. With `idp_metadata` (a local file) it trusts poort as IdP."""
    dv = DVS[entity_id]
    name = dv["name"]
    endpoints = {"assertion_consumer_service": dv.get("acs", [(DV_ACS[entity_id], BINDING_HTTP_POST)])}
    if dv.get("ars"):
        endpoints["artifact_resolution_service"] = [(ars_url(entity_id, i), BINDING_SOAP, i) for i in dv["ars"]]
    if entity_id in DV_SLO:
        endpoints["single_logout_service"] = [DV_SLO[entity_id]]
    conf = {
        "entityid": entity_id,
        "xmlsec_binary": XMLSEC,
        "key_file": tmp(f"{name}.key"),
        "cert_file": tmp(f"{name}.crt"),
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "signing_algorithm": RSA_SHA256,
        "digest_algorithm": SHA256,
        "service": {
            "sp": {
                "name": f"pysaml2 DV ({name})",
                "endpoints": endpoints,
                "authn_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                "logout_requests_signed": True,
            }
        },
    }
    if dv.get("encrypt"):
        conf["encryption_keypairs"] = [{"key_file": tmp(f"{name}.key"), "cert_file": tmp(f"{name}.crt")}]
    if idp_metadata:
        conf["metadata"] = {"local": [idp_metadata]}
    c = SPConfig()
    c.load(conf)
    if dv.get("asks"):
        c.attribute_converters = etoegang_attributes(c.attribute_converters)
    return c


def decrypt_attributes_as_text(client):
    """pysaml2 7.5.5's `Response.decrypt_attributes` hands its security context the
    `EncryptedData` object where the context wants the element's text (TypeError: object of type
    'EncryptedData' has no len()), so no Response with a saml:EncryptedAttribute can be read. This
    DV's context gets the text; the decryption stays pysaml2's (xmlsec1 --decrypt with the keys
    of `encryption_keypairs`)."""
    decrypt_keys = client.sec.decrypt_keys

    def as_text(enctext, keys=None):
        return decrypt_keys(enctext if isinstance(enctext, (str, bytes)) else str(enctext), keys=keys)

    client.sec.decrypt_keys = as_text
    return client


def idp_config(sp_metadata=None, entity_id=AD_ID):
    """pysaml2 IdP config for an AD. With `sp_metadata` (a local file) it trusts poort as SP.
    The artifact AD has only an HTTP-Artifact SingleSignOnService and a SOAP
    ArtifactResolutionService. Attributes it asserts are written with eHerkenning's names."""
    name = "ad-art" if entity_id == AD_ART_ID else "ad"
    if entity_id == AD_ART_ID:
        endpoints = {
            "single_sign_on_service": [(AD_ART_SSO, BINDING_HTTP_ARTIFACT)],
            "artifact_resolution_service": [(ars_url(AD_ART_ID, 0), BINDING_SOAP, 0)],
        }
    else:
        endpoints = {
            "single_sign_on_service": [(AD_SSO, BINDING_HTTP_REDIRECT)],
            "single_logout_service": [(AD_SLO, BINDING_HTTP_REDIRECT)],
        }
    conf = {
        "entityid": entity_id,
        "xmlsec_binary": XMLSEC,
        "key_file": tmp(f"{name}.key"),
        "cert_file": tmp(f"{name}.crt"),
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "signing_algorithm": RSA_SHA256,
        "digest_algorithm": SHA256,
        "service": {
            "idp": {
                "name": f"pysaml2 AD ({name})",
                "endpoints": endpoints,
                "want_authn_requests_signed": True,
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
            }
        },
    }
    if sp_metadata:
        conf["metadata"] = {"local": [sp_metadata]}
    c = IdPConfig()
    c.load(conf)
    c.attribute_converters = etoegang_attributes(c.attribute_converters)
    return c


def dv_metadata(entity_id, service_id):
    """The DV's metadata, made by pysaml2, plus the eHerkenning AttributeConsumingService
    (pysaml2's generator cannot put an AttributeValue in a RequestedAttribute)."""
    ed = entity_descriptor(sp_config(entity_id))
    if DVS[entity_id].get("asks"):
        # The scheme's form, and the attributes the service asks for besides those in poort's
        # config (pysaml2 writes them as RequestedAttributes, not required).
        ed.spsso_descriptor.attribute_consuming_service = [
            md.AttributeConsumingService(
                index=str(ACS_INDEX),
                is_default="true",
                service_name=[md.ServiceName(lang="nl", text="Interop-dienst (attributen)")],
                requested_attribute=[md.RequestedAttribute(name=service_id)] + [
                    md.RequestedAttribute(name=name, name_format=NAME_FORMAT_URI, is_required="false")
                    for name in DVS[entity_id]["asks"]
                ],
            )
        ]
        for acs in ed.spsso_descriptor.assertion_consumer_service:
            acs.index = "0"
            acs.is_default = "true"
        ed.valid_until = None
        return ed
    if DVS[entity_id].get("scheme_form"):
        # The afsprakenstelsel's form: the service is the RequestedAttribute's Name.
        ed.spsso_descriptor.attribute_consuming_service = [
            md.AttributeConsumingService(
                index=str(ACS_INDEX),
                is_default="true",
                service_name=[md.ServiceName(lang="nl", text="Interop-dienst (artifact)")],
                requested_attribute=[md.RequestedAttribute(name=service_id)],
            )
        ]
        # The first ACS (index 0, HTTP-Artifact) is the default.
        for acs in ed.spsso_descriptor.assertion_consumer_service:
            acs.is_default = "true" if acs.index == "0" else None
        ed.valid_until = None
        return ed
    ed.spsso_descriptor.attribute_consuming_service = [
        md.AttributeConsumingService(
            index=str(ACS_INDEX),
            is_default="true",
            service_name=[md.ServiceName(lang="nl", text="Interop-dienst")],
            requested_attribute=[
                md.RequestedAttribute(
                    name="urn:etoegang:core:ServiceID",
                    name_format="urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                    is_required="false",
                    attribute_value=[saml.AttributeValue(text=service_id)],
                )
            ],
        )
    ]
    # ACS with an explicit index, so poort can answer by index or by URL.
    for acs in ed.spsso_descriptor.assertion_consumer_service:
        acs.index = "0"
        acs.is_default = "true"
    ed.valid_until = None
    return ed


def ad_metadata(entity_id=AD_ID):
    ed = entity_descriptor(idp_config(entity_id=entity_id))
    ed.valid_until = None
    return ed


def write_metadata(out_sp_dir, out_idp_dir):
    os.makedirs(out_sp_dir, exist_ok=True)
    os.makedirs(out_idp_dir, exist_ok=True)
    for eid, dv in DVS.items():
        with open(os.path.join(out_sp_dir, dv["name"] + ".xml"), "w") as f:
            f.write(str(dv_metadata(eid, dv["service"])))
    for eid, fname in ((AD_ID, "ad.xml"), (AD_ART_ID, "ad-art.xml")):
        with open(os.path.join(out_idp_dir, fname), "w") as f:
            f.write(str(ad_metadata(eid)))


if __name__ == "__main__":
    import sys

    write_metadata(sys.argv[1], sys.argv[2])
