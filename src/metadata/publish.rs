//! poort's own metadata, written by hand. Unsigned here, with an `ID` on the root: the caller
//! inserts a signature template as the root's first child and signs.

use crate::saml::xml::{escape, instant, BINDING_POST, BINDING_REDIRECT, NS_MD};
use base64::Engine;
use chrono::{DateTime, Utc};

fn key_descriptor(usage: &str, der: &[u8], extra: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!(
        r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{extra}</md:KeyDescriptor>"#
    )
}

const ORGANIZATION: &str = r#"<md:Organization><md:OrganizationName xml:lang="nl">poort</md:OrganizationName><md:OrganizationDisplayName xml:lang="nl">poort</md:OrganizationDisplayName><md:OrganizationURL xml:lang="nl">https://poort.invalid/</md:OrganizationURL></md:Organization>"#;

/// poort as identity provider, for DVs.
pub fn idp_metadata(
    entity_id: &str,
    sso_url: &str,
    signing_cert_der: &[u8],
    valid_until: DateTime<Utc>,
) -> String {
    format!(
        concat!(
            r#"<md:EntityDescriptor xmlns:md="{md}" ID="_poort-idp" entityID="{id}" validUntil="{until}">"#,
            r#"<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">"#,
            r#"{key}"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>"#,
            r#"<md:SingleSignOnService Binding="{redirect}" Location="{sso}"/>"#,
            r#"<md:SingleSignOnService Binding="{post}" Location="{sso}"/>"#,
            r#"</md:IDPSSODescriptor>{org}</md:EntityDescriptor>"#
        ),
        md = NS_MD,
        id = escape(entity_id),
        until = instant(valid_until),
        key = key_descriptor("signing", signing_cert_der, ""),
        redirect = BINDING_REDIRECT,
        post = BINDING_POST,
        sso = escape(sso_url),
        org = ORGANIZATION,
    )
}

/// poort as service provider, for ADs.
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    signing_cert_der: &[u8],
    encryption_cert_der: &[u8],
    valid_until: DateTime<Utc>,
) -> String {
    let methods = concat!(
        r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>"#,
        r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>"#,
        r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>"#
    );
    format!(
        concat!(
            r#"<md:EntityDescriptor xmlns:md="{md}" ID="_poort-sp" entityID="{id}" validUntil="{until}">"#,
            r#"<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="true">"#,
            r#"{sign}{enc}"#,
            r#"<md:AssertionConsumerService index="0" isDefault="true" Binding="{post}" Location="{acs}"/>"#,
            r#"</md:SPSSODescriptor>{org}</md:EntityDescriptor>"#
        ),
        md = NS_MD,
        id = escape(entity_id),
        until = instant(valid_until),
        sign = key_descriptor("signing", signing_cert_der, ""),
        enc = key_descriptor("encryption", encryption_cert_der, methods),
        post = BINDING_POST,
        acs = escape(acs_url),
        org = ORGANIZATION,
    )
}
