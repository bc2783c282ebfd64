//! poort's own metadata, written by hand: samael's builder mislabels keys.
//!
//! Both functions return unsigned XML whose root `md:EntityDescriptor` carries an `ID`, with
//! [`SIGNATURE_PLACEHOLDER`] as the root's first child: that is where `ds:Signature` must go
//! (before the role descriptor, per the metadata schema). The caller replaces it and signs.

use super::parse::{NS_DS, NS_MD, PROTOCOL_SAML2};
use super::{BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_SOAP};
use crate::saml::xml::escape;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

/// The comment marking where `ds:Signature` goes; replace it with the signature template.
pub const SIGNATURE_PLACEHOLDER: &str = "<!-- ds:Signature goes here -->";

pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const ENC_AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const ENC_AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const ENC_RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

/// The `index` of poort's one `md:ArtifactResolutionService`, in both roles: the EndpointIndex
/// poort puts in the artifacts it issues (SAML Bindings 2.0 §3.6.4).
pub const POORT_ARS_INDEX: u16 = 0;

/// poort as identity provider, for DVs (`GET /saml/metadata`). DVs may send AuthnRequests by
/// HTTP-Artifact (the afsprakenstelsel's binding, page *Bindings*), HTTP-Redirect or HTTP-POST,
/// and resolve poort's artifacts at `ars_url`.
///
/// DVs send their LogoutRequests to `slo_url` (HTTP-Redirect or HTTP-POST, afsprakenstelsel page
/// *Single Log-out*).
///
/// Element order is the schema's (SAML Metadata 2.0 §2.4.1–2.4.3): KeyDescriptor, then
/// SSODescriptor's ArtifactResolutionService, SingleLogoutService, NameIDFormat, then
/// SingleSignOnService.
pub fn idp_metadata(
    entity_id: &str,
    sso_url: &str,
    ars_url: &str,
    slo_url: &str,
    signing_cert_der: &[u8],
    valid_until: DateTime<Utc>,
) -> String {
    let mut x = open_entity(entity_id, valid_until);
    x.push_str(&format!(
        "  <md:IDPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL_SAML2}\" WantAuthnRequestsSigned=\"true\">\n"
    ));
    x.push_str(&key_descriptor("signing", signing_cert_der, &[]));
    x.push_str(&artifact_resolution_service(ars_url));
    x.push_str(&single_logout_services(slo_url));
    for format in [NAMEID_TRANSIENT, NAMEID_PERSISTENT] {
        x.push_str(&format!(
            "    <md:NameIDFormat>{format}</md:NameIDFormat>\n"
        ));
    }
    for binding in [
        BINDING_HTTP_ARTIFACT,
        BINDING_HTTP_REDIRECT,
        BINDING_HTTP_POST,
    ] {
        x.push_str(&format!(
            "    <md:SingleSignOnService Binding=\"{binding}\" Location=\"{}\"/>\n",
            escape(sso_url)
        ));
    }
    x.push_str("  </md:IDPSSODescriptor>\n");
    close_entity(x)
}

/// poort as service provider, for ADs (`GET /saml/sp/metadata`). Index 0 (the default) is
/// HTTP-POST, for generic ADs; index 1 is HTTP-Artifact at the same URL, for eHerkenning ADs,
/// which resolve poort's AuthnRequest artifacts at `ars_url`.
///
/// ADs answer poort's LogoutRequests at `slo_url`.
///
/// Element order is the schema's (SAML Metadata 2.0 §2.4.1, §2.4.4): KeyDescriptor, then
/// ArtifactResolutionService, SingleLogoutService, then AssertionConsumerService.
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    ars_url: &str,
    slo_url: &str,
    signing_cert_der: &[u8],
    encryption_cert_der: &[u8],
    valid_until: DateTime<Utc>,
) -> String {
    let mut x = open_entity(entity_id, valid_until);
    x.push_str(&format!(
        "  <md:SPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL_SAML2}\" AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\">\n"
    ));
    x.push_str(&key_descriptor("signing", signing_cert_der, &[]));
    x.push_str(&key_descriptor(
        "encryption",
        encryption_cert_der,
        &[ENC_AES256_GCM, ENC_AES128_GCM, ENC_RSA_OAEP_MGF1P],
    ));
    x.push_str(&artifact_resolution_service(ars_url));
    x.push_str(&single_logout_services(slo_url));
    let acs_url = escape(acs_url);
    x.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_HTTP_POST}\" Location=\"{acs_url}\" index=\"0\" isDefault=\"true\"/>\n"
    ));
    x.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_HTTP_ARTIFACT}\" Location=\"{acs_url}\" index=\"1\"/>\n"
    ));
    x.push_str("  </md:SPSSODescriptor>\n");
    close_entity(x)
}

/// poort's SOAP endpoint where peers resolve the artifacts poort issues.
fn artifact_resolution_service(ars_url: &str) -> String {
    format!(
        "    <md:ArtifactResolutionService Binding=\"{BINDING_SOAP}\" Location=\"{}\" index=\"{POORT_ARS_INDEX}\" isDefault=\"true\"/>\n",
        escape(ars_url)
    )
}

/// poort's SingleLogoutService, on both front-channel bindings.
fn single_logout_services(slo_url: &str) -> String {
    [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST]
        .iter()
        .map(|binding| {
            format!(
                "    <md:SingleLogoutService Binding=\"{binding}\" Location=\"{}\"/>\n",
                escape(slo_url)
            )
        })
        .collect()
}

fn open_entity(entity_id: &str, valid_until: DateTime<Utc>) -> String {
    // An XML ID must not start with a digit: prefix the UUID.
    let id = format!("_{}", uuid::Uuid::new_v4().simple());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{NS_MD}\" xmlns:ds=\"{NS_DS}\" ID=\"{id}\" entityID=\"{}\" validUntil=\"{}\">\n  \
         {SIGNATURE_PLACEHOLDER}\n",
        escape(entity_id),
        valid_until.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

fn close_entity(mut x: String) -> String {
    x.push_str(
        "  <md:Organization>\n    \
         <md:OrganizationName xml:lang=\"en\">poort</md:OrganizationName>\n    \
         <md:OrganizationDisplayName xml:lang=\"en\">poort</md:OrganizationDisplayName>\n    \
         <md:OrganizationURL xml:lang=\"en\">https://github.com/poort</md:OrganizationURL>\n  \
         </md:Organization>\n",
    );
    x.push_str("</md:EntityDescriptor>\n");
    x
}

fn key_descriptor(key_use: &str, der: &[u8], methods: &[&str]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut x = format!(
        "    <md:KeyDescriptor use=\"{key_use}\">\n      <ds:KeyInfo>\n        <ds:X509Data>\n          \
         <ds:X509Certificate>{b64}</ds:X509Certificate>\n        </ds:X509Data>\n      </ds:KeyInfo>\n"
    );
    for m in methods {
        x.push_str(&format!("      <md:EncryptionMethod Algorithm=\"{m}\"/>\n"));
    }
    x.push_str("    </md:KeyDescriptor>\n");
    x
}
