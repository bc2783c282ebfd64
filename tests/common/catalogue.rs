//! Signed service catalogues for tests: services of two DVs (and one of another HM), written as
//! the scheme's `esc:ServiceCatalogue` and signed by a key the test trusts or by a stranger's, and
//! a test world's config reading them.

use poort::config::{CatalogueSource, Config};
use poort::keys::SigningKey;
use std::path::{Path, PathBuf};

/// poort's HM OIN in the tests' config (`urn:etoegang:HM:00000099990000000001:entities:1`).
pub const HM: &str = "00000099990000000001";
pub const OTHER_HM: &str = "00000099990000000077";
/// The demo DV's OIN, and a second DV's.
pub const DV_OIN: &str = "00000099990000000002";
pub const DV2_OIN: &str = "00000099990000000005";
pub const DV2_ENTITY: &str = "urn:etoegang:DV:00000099990000000005:entities:1";

pub fn sid(oin: &str, index: u16) -> String {
    format!("urn:etoegang:DV:{oin}:services:{index}")
}

/// One service of a test catalogue: definition and instance.
pub struct Service {
    pub oin: &'static str,
    pub index: u16,
    pub uuid: &'static str,
    pub name_nl: &'static str,
    pub name_en: &'static str,
    pub level: &'static str,
    pub broker: &'static str,
    pub ecta: &'static [&'static str],
    pub attributes: &'static [&'static str],
    pub sso: bool,
}

pub const KVK: &str = "urn:etoegang:1.9:EntityConcernedID:KvKnr";
pub const RSIN: &str = "urn:etoegang:1.9:EntityConcernedID:RSIN";

pub fn three_services() -> Vec<Service> {
    vec![
        Service {
            oin: DV_OIN,
            index: 1,
            uuid: "0b8e2f3c-1111-4a1d-963a-000000000001",
            name_nl: "Omgevingsvergunning aanvragen",
            name_en: "Apply for an environmental permit",
            level: "urn:etoegang:core:assurance-class:loa3",
            broker: HM,
            ecta: &[KVK, RSIN],
            attributes: &["urn:etoegang:1.11:attribute-represented:CompanyName"],
            sso: true,
        },
        Service {
            oin: DV_OIN,
            index: 2,
            uuid: "0b8e2f3c-1111-4a1d-963a-000000000002",
            name_nl: "Subsidie indienen",
            name_en: "Submit a grant application",
            level: "urn:etoegang:core:assurance-class:loa2plus",
            broker: HM,
            ecta: &[KVK],
            attributes: &[],
            sso: false,
        },
        Service {
            oin: DV2_OIN,
            index: 1,
            uuid: "0b8e2f3c-2222-4a1d-963a-000000000001",
            name_nl: "Aangifte doen",
            name_en: "File a return",
            level: "urn:etoegang:core:assurance-class:loa4",
            broker: HM,
            ecta: &[KVK],
            attributes: &[],
            sso: false,
        },
    ]
}

/// A service of another HM: listed in the scheme's catalogue, not offered through poort.
pub fn other_brokers_service() -> Service {
    Service {
        oin: DV2_OIN,
        index: 9,
        uuid: "0b8e2f3c-2222-4a1d-963a-000000000009",
        name_nl: "Elders",
        name_en: "Elsewhere",
        level: "urn:etoegang:core:assurance-class:loa3",
        broker: OTHER_HM,
        ecta: &[KVK],
        attributes: &[],
        sso: false,
    }
}

pub fn provider_xml(oin: &str, name: &str, services: &[&Service]) -> String {
    let mut definitions = String::new();
    let mut instances = String::new();
    for s in services {
        let ecta: String = s
            .ecta
            .iter()
            .map(|t| {
                format!("<esc:EntityConcernedTypesAllowed>{t}</esc:EntityConcernedTypesAllowed>")
            })
            .collect();
        let attributes: String = s
            .attributes
            .iter()
            .map(|a| {
                format!(
                    r#"<esc:RequestedAttribute Name="{a}" isRequired="true"><esc:PurposeStatement xml:lang="nl">Om uw aanvraag te behandelen</esc:PurposeStatement></esc:RequestedAttribute>"#
                )
            })
            .collect();
        definitions.push_str(&format!(
            r#"<esc:ServiceDefinition esc:IsPublic="true"><esc:ServiceUUID>{uuid}</esc:ServiceUUID><esc:ServiceName xml:lang="nl">{nl}</esc:ServiceName><esc:ServiceName xml:lang="en">{en}</esc:ServiceName><esc:ServiceDescription xml:lang="nl">{nl}.</esc:ServiceDescription><saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef><esc:HerkenningsmakelaarId>{HM}</esc:HerkenningsmakelaarId>{ecta}{attributes}</esc:ServiceDefinition>"#,
            uuid = s.uuid,
            nl = s.name_nl,
            en = s.name_en,
            level = s.level,
        ));
        instances.push_str(&format!(
            r#"<esc:ServiceInstance esc:IsPublic="true"><esc:ServiceID>{id}</esc:ServiceID><esc:ServiceUUID>{uuid}-i</esc:ServiceUUID><esc:InstanceOfService>{uuid}</esc:InstanceOfService><esc:ServiceURL xml:lang="nl">https://dv.example/{index}</esc:ServiceURL><esc:PrivacyPolicyURL xml:lang="nl">https://dv.example/privacy</esc:PrivacyPolicyURL><esc:HerkenningsmakelaarId>{broker}</esc:HerkenningsmakelaarId><esc:SSOSupport>{sso}</esc:SSOSupport><esc:Classifiers><esc:Classifier>eIDAS-inbound</esc:Classifier></esc:Classifiers></esc:ServiceInstance>"#,
            id = sid(s.oin, s.index),
            uuid = s.uuid,
            index = s.index,
            broker = s.broker,
            sso = s.sso,
        ));
    }
    format!(
        r#"<esc:ServiceProvider esc:IsPublic="true"><esc:ServiceProviderID>{oin}</esc:ServiceProviderID><esc:OrganizationDisplayName xml:lang="nl">{name}</esc:OrganizationDisplayName>{definitions}{instances}</esc:ServiceProvider>"#
    )
}

/// A catalogue of `providers` (already written), signed with `key`.
pub fn signed_catalogue(providers: &str, key: &SigningKey) -> String {
    signed_catalogue_issued(providers, key, "2026-12-01T10:00:00Z")
}

/// Like [`signed_catalogue`], issued at `issued`.
pub fn signed_catalogue_issued(providers: &str, key: &SigningKey, issued: &str) -> String {
    let id = "_catalogue-1";
    let unsigned = format!(
        r#"<esc:ServiceCatalogue xmlns:esc="urn:etoegang:1.13:service-catalog" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" esc:IssueInstant="{issued}" esc:Version="urn:etoegang:1.13:service-catalogue:T:42">{template}{providers}</esc:ServiceCatalogue>"#,
        template = poort::saml::dsig::template(id, key),
    );
    poort::saml::dsig::sign(&unsigned, key).unwrap()
}

pub fn two_providers(services: &[Service]) -> String {
    let of = |oin: &str| services.iter().filter(|s| s.oin == oin).collect::<Vec<_>>();
    provider_xml(DV_OIN, "Gemeente Demo", &of(DV_OIN))
        + &provider_xml(DV2_OIN, "Belastingdienst Demo", &of(DV2_OIN))
}

/// Keys for the tests: the catalogue's signer (the Beheerorganisatie) and someone else.
pub struct Keys {
    pub dir: tempfile::TempDir,
    pub signer: SigningKey,
    pub signer_cert: PathBuf,
    pub stranger: SigningKey,
}

pub fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    poort::devcerts::generate(dir.path(), false).unwrap();
    let load = |stem: &str| {
        SigningKey::load(
            &dir.path().join(format!("{stem}.key")),
            &dir.path().join(format!("{stem}.crt")),
        )
        .unwrap()
    };
    Keys {
        signer: load("dev-ad-signing"),
        signer_cert: dir.path().join("dev-ad-signing.crt"),
        stranger: load("demo-dv-signing"),
        dir,
    }
}

/// A test world's config with `catalogues` (written to files) instead of `[[service]]` entries,
/// and metadata of the second DV naming its service.
pub fn with_catalogues(
    p: &super::Prepared,
    config: &mut Config,
    keys: &Keys,
    files: &[(&str, String)],
) {
    write_dv2_metadata(&p.sp_dir, &p.certs);
    config.services.clear();
    for (name, text) in files {
        let path = p.dir.join(name);
        std::fs::write(&path, text).unwrap();
        config.catalogues.push(CatalogueSource::new(
            path.display().to_string(),
            &keys.signer_cert,
        ));
    }
}

/// Metadata of the second DV, naming its service, in `sp_dir` (its key from `certs`).
pub fn write_dv2_metadata(sp_dir: &Path, certs: &Path) {
    let cert = std::fs::read(certs.join("demo-dv-signing.crt")).unwrap();
    let cert = openssl::x509::X509::from_pem(&cert)
        .unwrap()
        .to_der()
        .unwrap();
    let md = poort::demo::metadata::dv_metadata(
        DV2_ENTITY,
        "https://dv2.example/acs",
        None,
        None,
        &cert,
        None,
        &[(1, &sid(DV2_OIN, 1), "Aangifte", "Return")],
    );
    std::fs::write(sp_dir.join("dv2.xml"), md).unwrap();
}
