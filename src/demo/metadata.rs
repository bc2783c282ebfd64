//! SAML metadata for the demo peers, written by hand.

use super::artifact::PEER_ARS_INDEX;
use super::{DemoBindings, DemoError, DEMO_DV_ENTITY_ID, DEMO_SERVICES, DEV_AD_ENTITY_ID};
use crate::saml::xml::{
    escape, BINDING_ARTIFACT, BINDING_POST, BINDING_REDIRECT, BINDING_SOAP, NS_DS, NS_MD,
};
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

/// The demo DV's metadata for HTTP-POST answers (ACS index 0, and index 1 at `{acs_url}?alt=1`):
/// [`dv_metadata`] without an ArtifactResolutionService.
pub fn demo_dv_metadata(
    entity_id: &str,
    acs_url: &str,
    signing_cert_der: &[u8],
    encryption_cert_der: Option<&[u8]>,
    services: &[(u16, &str, &str, &str)],
) -> String {
    dv_metadata(
        entity_id,
        acs_url,
        None,
        None,
        signing_cert_der,
        encryption_cert_der,
        services,
    )
}

/// The demo DV's metadata. Without `ars_url`, for HTTP-POST answers (ACS index 0, and index 1 at
/// `{acs_url}?alt=1`). With it, for the afsprakenstelsel's flow (page *Bindings*): answers by
/// artifact at ACS index 0 (the default), by HTTP-POST at index 1 (same URL), and the DV's
/// ArtifactResolutionService at `ars_url`, where poort resolves the DV's AuthnRequests.
/// `services` are (AttributeConsumingService index, ServiceID, Dutch name, English name).
///
/// With `slo_url`, the DV's SingleLogoutService (HTTP-Redirect), where poort answers its
/// LogoutRequests.
///
/// Element order is the schema's (SAML Metadata 2.0 §2.4.4): KeyDescriptor,
/// ArtifactResolutionService, SingleLogoutService, AssertionConsumerService,
/// AttributeConsumingService.
pub fn dv_metadata(
    entity_id: &str,
    acs_url: &str,
    ars_url: Option<&str>,
    slo_url: Option<&str>,
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
    if let Some(ars) = ars_url {
        out.push_str(&artifact_resolution_service(ars));
    }
    out.push_str(&single_logout_service(slo_url));
    match ars_url {
        Some(_) => {
            out.push_str(&format!(
                r#"<md:AssertionConsumerService Binding="{BINDING_ARTIFACT}" Location="{acs}" index="0" isDefault="true"/><md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="1"/>"#,
                acs = escape(acs_url),
            ));
        }
        None => out.push_str(&format!(
            r#"<md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="0" isDefault="true"/><md:AssertionConsumerService Binding="{BINDING_POST}" Location="{alt}" index="1"/>"#,
            acs = escape(acs_url),
            alt = escape(&format!("{acs_url}?alt=1")),
        )),
    }
    // The scheme's form (afsprakenstelsel, *DV metadata for HM*): each service is an
    // AttributeConsumingService whose RequestedAttribute is named by the ServiceID; the first is
    // the default, for a request without AttributeConsumingServiceIndex.
    for (n, (index, service_id, name_nl, name_en)) in services.iter().enumerate() {
        out.push_str(&format!(
            concat!(
                r#"<md:AttributeConsumingService index="{index}"{default}>"#,
                r#"<md:ServiceName xml:lang="nl">{nl}</md:ServiceName><md:ServiceName xml:lang="en">{en}</md:ServiceName>"#,
                r#"<md:RequestedAttribute Name="{sid}" isRequired="true"/>"#,
                r#"</md:AttributeConsumingService>"#
            ),
            index = index,
            default = if n == 0 { r#" isDefault="true""# } else { "" },
            nl = escape(name_nl),
            en = escape(name_en),
            sid = escape(service_id),
        ));
    }
    out.push_str("</md:SPSSODescriptor></md:EntityDescriptor>\n");
    out
}

/// A SingleLogoutService (HTTP-Redirect) at `slo_url`, or nothing.
fn single_logout_service(slo_url: Option<&str>) -> String {
    slo_url
        .map(|url| {
            format!(
                r#"<md:SingleLogoutService Binding="{BINDING_REDIRECT}" Location="{}"/>"#,
                escape(url)
            )
        })
        .unwrap_or_default()
}

fn artifact_resolution_service(ars_url: &str) -> String {
    format!(
        r#"<md:ArtifactResolutionService Binding="{BINDING_SOAP}" Location="{}" index="{PEER_ARS_INDEX}" isDefault="true"/>"#,
        escape(ars_url)
    )
}

/// The dev AD's display names, in Dutch and English.
pub(crate) const DEV_AD_NAMES: (&str, &str) = (
    "Test-inlogmiddel (ontwikkeling)",
    "Test login (development)",
);

/// The dev AD's metadata for HTTP-Redirect and HTTP-POST requests (answers by HTTP-POST):
/// [`ad_metadata`] without an ArtifactResolutionService.
pub fn dev_ad_metadata(
    entity_id: &str,
    sso_url: &str,
    signing_cert_der: &[u8],
    display_nl: &str,
    display_en: &str,
) -> String {
    ad_metadata(
        entity_id,
        sso_url,
        None,
        None,
        signing_cert_der,
        display_nl,
        display_en,
    )
}

/// The dev AD's metadata: SingleSignOnServices for HTTP-Redirect and HTTP-POST; with `ars_url`
/// also for the afsprakenstelsel's flow (HM-AD Artifact-Artifact, page *Bindings*): an
/// HTTP-Artifact SingleSignOnService first, and the AD's ArtifactResolutionService at `ars_url`,
/// where poort resolves its answers.
///
/// With `slo_url`, the AD's SingleLogoutService (HTTP-Redirect), where poort forwards a log-out.
///
/// Element order is the schema's (SAML Metadata 2.0 §2.4.1–2.4.3): Extensions, KeyDescriptor,
/// ArtifactResolutionService, SingleLogoutService, SingleSignOnService.
pub fn ad_metadata(
    entity_id: &str,
    sso_url: &str,
    ars_url: Option<&str>,
    slo_url: Option<&str>,
    signing_cert_der: &[u8],
    display_nl: &str,
    display_en: &str,
) -> String {
    let sso = escape(sso_url);
    let (ars, artifact_sso) = match ars_url {
        Some(ars) => (
            artifact_resolution_service(ars),
            format!(r#"<md:SingleSignOnService Binding="{BINDING_ARTIFACT}" Location="{sso}"/>"#),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" xmlns:mdui="{mdui}" entityID="{entity}">"#,
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="{protocol}">"#,
            r#"<md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="nl">{nl}</mdui:DisplayName>"#,
            r#"<mdui:DisplayName xml:lang="en">{en}</mdui:DisplayName></mdui:UIInfo></md:Extensions>"#,
            "{key}{ars}{slo}{artifact_sso}",
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
        ars = ars,
        slo = single_logout_service(slo_url),
        artifact_sso = artifact_sso,
        redirect = BINDING_REDIRECT,
        post = BINDING_POST,
        sso = sso,
    )
}

/// The demo services as `demo_dv_metadata` wants them.
pub fn demo_services() -> Vec<(u16, &'static str, &'static str, &'static str)> {
    DEMO_SERVICES
        .iter()
        .map(|s| (s.index, s.service_id, s.name_nl, s.name_en))
        .collect()
}

/// A PEM certificate file, as DER.
pub(crate) fn read_cert_der(path: &Path) -> Result<Vec<u8>, DemoError> {
    Ok(openssl::x509::X509::from_pem(&super::read(path)?)?.to_der()?)
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
/// wrote in `certs_dir`, for peers that speak HTTP-Redirect and HTTP-POST only
/// ([`DemoBindings::PostRedirect`]). `dv_url` and `ad_url` are the peers' base URLs (ACS at
/// `{dv_url}/acs`, SSO at `{ad_url}/sso`).
pub fn write_demo_metadata(
    certs_dir: &Path,
    sp_dir: &Path,
    idp_dir: &Path,
    dv_url: &str,
    ad_url: &str,
) -> Result<(), DemoError> {
    write_demo_metadata_with(
        certs_dir,
        sp_dir,
        idp_dir,
        dv_url,
        ad_url,
        DemoBindings::PostRedirect,
    )
}

/// Like [`write_demo_metadata`], for peers that speak `bindings`. With
/// [`DemoBindings::Artifact`] each peer also has its ArtifactResolutionService (at
/// `{dv_url}/ars` and `{ad_url}/ars`), the DV's ACS index 0 takes artifacts and the AD's SSO
/// takes them too.
pub fn write_demo_metadata_with(
    certs_dir: &Path,
    sp_dir: &Path,
    idp_dir: &Path,
    dv_url: &str,
    ad_url: &str,
    bindings: DemoBindings,
) -> Result<(), DemoError> {
    let dv_signing = read_cert_der(&certs_dir.join("demo-dv-signing.crt"))?;
    let dv_encryption = read_cert_der(&certs_dir.join("demo-dv-encryption.crt"))?;
    let ad_signing = read_cert_der(&certs_dir.join("dev-ad-signing.crt"))?;
    let (dv_url, ad_url) = (dv_url.trim_end_matches('/'), ad_url.trim_end_matches('/'));
    let ars = |base: &str| (bindings == DemoBindings::Artifact).then(|| format!("{base}/ars"));
    let dv = dv_metadata(
        DEMO_DV_ENTITY_ID,
        &format!("{dv_url}/acs"),
        ars(dv_url).as_deref(),
        Some(&format!("{dv_url}/slo")),
        &dv_signing,
        Some(&dv_encryption),
        &demo_services(),
    );
    let ad = ad_metadata(
        DEV_AD_ENTITY_ID,
        &format!("{ad_url}/sso"),
        ars(ad_url).as_deref(),
        Some(&format!("{ad_url}/slo")),
        &ad_signing,
        DEV_AD_NAMES.0,
        DEV_AD_NAMES.1,
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

    /// Both variants, as poort loads them: no problem at all (the services in the scheme's
    /// form, so no deprecation warning), and the endpoints each binding needs.
    #[test]
    fn poort_loads_both_variants_cleanly() {
        use crate::metadata::{self, BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST};
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        crate::devcerts::generate(&certs, false).unwrap();
        for bindings in [DemoBindings::PostRedirect, DemoBindings::Artifact] {
            let (sp, idp) = (dir.path().join("sp"), dir.path().join("idp"));
            write_demo_metadata_with(&certs, &sp, &idp, "http://dv", "http://ad/", bindings)
                .unwrap();
            let set = metadata::load(&sp, &idp, chrono::Utc::now());
            assert!(set.problems.is_empty(), "{bindings:?}: {:?}", set.problems);
            let dv = set.sp(DEMO_DV_ENTITY_ID).unwrap();
            assert_eq!(dv.service_id(Some(2)), Some(DEMO_SERVICES[1].service_id));
            assert_eq!(dv.service_id(None), Some(DEMO_SERVICES[0].service_id));
            let ad = set.idp(DEV_AD_ENTITY_ID).unwrap();
            let artifact = bindings == DemoBindings::Artifact;
            assert_eq!(ad.speaks_artifact(), artifact);
            let acs0 = dv.acs(Some(0)).unwrap();
            assert_eq!(acs0.location, "http://dv/acs");
            if artifact {
                assert_eq!(acs0.binding, BINDING_HTTP_ARTIFACT);
                assert_eq!(dv.acs(Some(1)).unwrap().binding, BINDING_HTTP_POST);
                assert_eq!(dv.artifact_resolution[0].location, "http://dv/ars");
                assert_eq!(ad.artifact_resolution[0].location, "http://ad/ars");
                assert_eq!(
                    ad.sso_endpoint(BINDING_HTTP_ARTIFACT).unwrap().location,
                    "http://ad/sso"
                );
            } else {
                assert_eq!(acs0.binding, BINDING_HTTP_POST);
                assert!(dv.artifact_resolution.is_empty() && ad.artifact_resolution.is_empty());
            }
        }
    }

    #[test]
    fn artifact_endpoints_are_read_back() {
        let md = ad_metadata(
            DEV_AD_ENTITY_ID,
            "http://ad/sso",
            Some("http://ad/ars"),
            Some("http://ad/slo"),
            b"sig",
            "NL",
            "EN",
        );
        let keys = parse_peer_metadata(&md, "IDPSSODescriptor").unwrap();
        assert_eq!(
            keys.artifact_resolution,
            vec![(PEER_ARS_INDEX, "http://ad/ars".to_string())]
        );
        assert_eq!(keys.ars_location(PEER_ARS_INDEX), Some("http://ad/ars"));
        assert_eq!(keys.ars_location(1), None);
        assert_eq!(keys.sso_location(BINDING_ARTIFACT), Some("http://ad/sso"));
        assert_eq!(keys.sso.len(), 3);
        assert_eq!(keys.slo_location(BINDING_REDIRECT), Some("http://ad/slo"));
        let dv = dv_metadata(
            DEMO_DV_ENTITY_ID,
            "http://dv/acs",
            Some("http://dv/ars"),
            None,
            b"sig",
            None,
            &demo_services(),
        );
        let keys = parse_peer_metadata(&dv, "SPSSODescriptor").unwrap();
        assert_eq!(keys.ars_location(PEER_ARS_INDEX), Some("http://dv/ars"));
    }
}
