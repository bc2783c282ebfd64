//! SAML metadata for the demo peers, written by hand.

use super::{DemoError, DEMO_DV_ENTITY_ID, DEMO_SERVICES, DEV_AD_ENTITY_ID};
use crate::saml::idp::ATTR_SERVICE_ID;
use crate::saml::xml::{escape, BINDING_POST, BINDING_REDIRECT, NS_DS, NS_MD};
use base64::Engine;
use std::path::Path;

const NS_MDUI: &str = "urn:oasis:names:tc:SAML:metadata:ui";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

fn key_descriptor(usage: &str, cert_der: &[u8]) -> String {
    format!(
        r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
        base64::engine::general_purpose::STANDARD.encode(cert_der)
    )
}

/// The demo DV's metadata. `services` are (AttributeConsumingService index, ServiceID, Dutch
/// name, English name).
pub fn demo_dv_metadata(
    entity_id: &str,
    acs_url: &str,
    signing_cert_der: &[u8],
    encryption_cert_der: Option<&[u8]>,
    services: &[(u16, &str, &str, &str)],
) -> String {
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_MD}" xmlns:ds="{NS_DS}" entityID="{}"><md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="{PROTOCOL}">"#,
        escape(entity_id)
    );
    out.push_str(&key_descriptor("signing", signing_cert_der));
    if let Some(enc) = encryption_cert_der {
        out.push_str(&key_descriptor("encryption", enc));
    }
    out.push_str(&format!(
        r#"<md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="0" isDefault="true"/><md:AssertionConsumerService Binding="{BINDING_POST}" Location="{alt}" index="1"/>"#,
        acs = escape(acs_url),
        alt = escape(&format!("{acs_url}?alt=1")),
    ));
    for (index, service_id, name_nl, name_en) in services {
        out.push_str(&format!(
            concat!(
                r#"<md:AttributeConsumingService index="{index}">"#,
                r#"<md:ServiceName xml:lang="nl">{nl}</md:ServiceName><md:ServiceName xml:lang="en">{en}</md:ServiceName>"#,
                r#"<md:RequestedAttribute Name="{attr}" isRequired="true">"#,
                r#"<saml:AttributeValue xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{sid}</saml:AttributeValue>"#,
                r#"</md:RequestedAttribute></md:AttributeConsumingService>"#
            ),
            index = index,
            nl = escape(name_nl),
            en = escape(name_en),
            attr = ATTR_SERVICE_ID,
            sid = escape(service_id),
        ));
    }
    out.push_str("</md:SPSSODescriptor></md:EntityDescriptor>\n");
    out
}

/// The dev AD's metadata.
pub fn dev_ad_metadata(
    entity_id: &str,
    sso_url: &str,
    signing_cert_der: &[u8],
    display_nl: &str,
    display_en: &str,
) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" xmlns:mdui="{mdui}" entityID="{entity}">"#,
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="{protocol}">"#,
            r#"<md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="nl">{nl}</mdui:DisplayName>"#,
            r#"<mdui:DisplayName xml:lang="en">{en}</mdui:DisplayName></mdui:UIInfo></md:Extensions>"#,
            "{key}",
            r#"<md:SingleSignOnService Binding="{redirect}" Location="{sso}"/>"#,
            r#"<md:SingleSignOnService Binding="{post}" Location="{sso}"/>"#,
            "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
        ),
        md = NS_MD,
        ds = NS_DS,
        mdui = NS_MDUI,
        entity = escape(entity_id),
        protocol = PROTOCOL,
        nl = escape(display_nl),
        en = escape(display_en),
        key = key_descriptor("signing", signing_cert_der),
        redirect = BINDING_REDIRECT,
        post = BINDING_POST,
        sso = escape(sso_url),
    )
}

/// The demo services as `demo_dv_metadata` wants them.
pub fn demo_services() -> Vec<(u16, &'static str, &'static str, &'static str)> {
    DEMO_SERVICES
        .iter()
        .map(|s| (s.index, s.service_id, s.name_nl, s.name_en))
        .collect()
}

fn read_cert_der(path: &Path) -> Result<Vec<u8>, DemoError> {
    let pem = std::fs::read(path).map_err(|source| DemoError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(openssl::x509::X509::from_pem(&pem)?.to_der()?)
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

/// Writes `sp_dir/demo-dv.xml` and `idp_dir/dev-ad.xml` from the certificates `poort dev-certs`
/// wrote in `certs_dir`. `dv_url` and `ad_url` are the peers' base URLs (ACS at `{dv_url}/acs`,
/// SSO at `{ad_url}/sso`).
pub fn write_demo_metadata(
    certs_dir: &Path,
    sp_dir: &Path,
    idp_dir: &Path,
    dv_url: &str,
    ad_url: &str,
) -> Result<(), DemoError> {
    let dv_signing = read_cert_der(&certs_dir.join("demo-dv-signing.crt"))?;
    let dv_encryption = read_cert_der(&certs_dir.join("demo-dv-encryption.crt"))?;
    let ad_signing = read_cert_der(&certs_dir.join("dev-ad-signing.crt"))?;
    let dv = demo_dv_metadata(
        DEMO_DV_ENTITY_ID,
        &format!("{}/acs", dv_url.trim_end_matches('/')),
        &dv_signing,
        Some(&dv_encryption),
        &demo_services(),
    );
    let ad = dev_ad_metadata(
        DEV_AD_ENTITY_ID,
        &format!("{}/sso", ad_url.trim_end_matches('/')),
        &ad_signing,
        "Test-inlogmiddel (ontwikkeling)",
        "Test login (development)",
    );
    write(&sp_dir.join("demo-dv.xml"), &dv)?;
    write(&idp_dir.join("dev-ad.xml"), &ad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::parse_peer_metadata;
    use crate::saml::xml;

    #[test]
    fn dv_metadata_is_well_formed_and_escaped() {
        let md = demo_dv_metadata(
            "urn:x&y",
            "http://dv/acs",
            b"sig",
            Some(b"enc"),
            &[(1, "urn:s:1", "Naam <nl>", "Name")],
        );
        let doc = xml::parse(&md).unwrap();
        assert_eq!(doc.root_element().attribute("entityID"), Some("urn:x&y"));
        assert!(md.contains("Naam &lt;nl&gt;"));
        assert!(md.contains(r#"use="encryption""#));
        assert!(md.contains(r#"AttributeConsumingService index="1""#));
        let keys = parse_peer_metadata(&md, "SPSSODescriptor").unwrap();
        assert_eq!(keys.signing_certs, vec![b"sig".to_vec()]);
        assert_eq!(keys.encryption_cert, Some(b"enc".to_vec()));
    }

    #[test]
    fn ad_metadata_is_well_formed() {
        let md = dev_ad_metadata(DEV_AD_ENTITY_ID, "http://ad/sso", b"sig", "NL", "EN");
        let doc = xml::parse(&md).unwrap();
        let sso = doc
            .descendants()
            .filter(|n| xml::is(*n, NS_MD, "SingleSignOnService"))
            .count();
        assert_eq!(sso, 2);
        let keys = parse_peer_metadata(&md, "IDPSSODescriptor").unwrap();
        assert_eq!(keys.entity_id.as_deref(), Some(DEV_AD_ENTITY_ID));
        assert_eq!(keys.signing_certs.len(), 1);
    }
}
