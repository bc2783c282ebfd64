//! Loading peer metadata (fixtures in tests/fixtures/metadata), publishing poort's own, and the
//! development certificates. Fixture certificates are made at run time and put in place of
//! `@NAME@` markers, so no long base64 blobs are committed.

use base64::Engine;
use chrono::{TimeZone, Utc};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use poort::devcerts;
use poort::metadata::publish::{self, SIGNATURE_PLACEHOLDER};
use poort::metadata::{
    self, IndexedEndpoint, MetadataError, MetadataSet, Parsed, Problem, Role, Severity,
    BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_SOAP,
};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const DV: &str = "urn:etoegang:DV:00000001234567890000:entities:0001";
const DV_EXPIRED: &str = "urn:etoegang:DV:00000001234567890000:entities:0002";
const AD_ZILVER: &str = "urn:etoegang:AD:00000009999999990000:entities:0001";
const AD_ANDER: &str = "urn:etoegang:AD:00000008888888880000:entities:0001";
const SIGNING: &str = "md:KeyDescriptor use=\"signing\"";

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn pem_to_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap()
}

/// An RSA-2048 certificate valid only in 2019: rcgen over an openssl key.
fn expired_cert() -> Vec<u8> {
    let pem = PKey::from_rsa(Rsa::generate(2048).unwrap())
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    let key = rcgen::KeyPair::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "expired DV");
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.self_signed(&key).unwrap().der().to_vec()
}

/// An RSA-1024 certificate; openssl makes it because ring (rcgen) refuses keys this small.
fn weak_cert() -> Vec<u8> {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "weak DV").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build().to_der().unwrap()
}

struct Fixture {
    dir: TempDir,
    certs: PathBuf,
    markers: Vec<(&'static str, String)>,
}

impl Fixture {
    fn sp_dir(&self) -> PathBuf {
        self.dir.path().join("sp")
    }
    fn idp_dir(&self) -> PathBuf {
        self.dir.path().join("idp")
    }
    fn load(&self) -> MetadataSet {
        metadata::load(&self.sp_dir(), &self.idp_dir(), Utc::now())
    }
    /// One file of `fixtures/metadata/single`, markers replaced, parsed on its own.
    fn single(&self, name: &str, role: Role) -> Parsed {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/metadata/single")
            .join(name);
        let text = self.with_markers(std::fs::read_to_string(&path).unwrap());
        metadata::parse_document(&text, Path::new(name), role, Utc::now())
    }
    fn with_markers(&self, mut text: String) -> String {
        for (marker, value) in &self.markers {
            text = text.replace(marker, value);
        }
        text
    }
}

/// Copies the fixtures into a temporary folder with fresh certificates in place.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    devcerts::generate(&certs, false).unwrap();
    let markers = [
        (
            "@DV_SIGNING@",
            b64(&pem_to_der(&certs.join("demo-dv-signing.crt"))),
        ),
        (
            "@DV_ENCRYPTION@",
            b64(&pem_to_der(&certs.join("demo-dv-encryption.crt"))),
        ),
        (
            "@AD_SIGNING@",
            b64(&pem_to_der(&certs.join("dev-ad-signing.crt"))),
        ),
        ("@EXPIRED@", b64(&expired_cert())),
        ("@WEAK@", b64(&weak_cert())),
    ];
    let fx = Fixture {
        dir,
        certs,
        markers: markers.into(),
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metadata");
    for sub in ["sp", "idp"] {
        std::fs::create_dir_all(fx.dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let text = fx.with_markers(std::fs::read_to_string(&path).unwrap());
            let to = fx.dir.path().join(sub).join(path.file_name().unwrap());
            std::fs::write(to, text).unwrap();
        }
    }
    fx
}

fn problems_of<'a>(set: &'a MetadataSet, file: &str) -> Vec<&'a Problem> {
    set.problems
        .iter()
        .filter(|p| p.file.file_name().is_some_and(|n| n == file))
        .collect()
}

/// (severity, kind) of the problems of one file, for exact comparisons.
fn kinds(set: &MetadataSet, file: &str) -> Vec<(Severity, MetadataError)> {
    problems_of(set, file)
        .into_iter()
        .map(|p| (p.severity, p.kind.clone()))
        .collect()
}

fn no_signing_key(element: &str) -> (Severity, MetadataError) {
    (
        Severity::Error,
        MetadataError::NoSigningKey {
            element: element.into(),
        },
    )
}

#[test]
fn good_dv_loads_with_all_fields() {
    let fx = fixture();
    let set = fx.load();
    assert!(problems_of(&set, "01-good-dv.xml").is_empty());
    let sp = set.sp(DV).unwrap();
    assert!(sp.file.ends_with("01-good-dv.xml"));
    assert!(sp.authn_requests_signed && sp.want_assertions_signed);
    assert_eq!(sp.acs.len(), 2);
    assert_eq!(
        (sp.acs[0].index, sp.acs[0].is_default, sp.acs[0].is_usable()),
        (0, true, true)
    );
    assert_eq!(sp.acs[0].binding, BINDING_HTTP_POST);
    assert_eq!(sp.acs[0].location, "https://dv.example/saml/acs");
    assert_eq!(
        (
            sp.acs[1].index,
            sp.acs[1].is_usable(),
            sp.acs[1].is_artifact()
        ),
        (1, true, true)
    );
    assert_eq!(sp.acs(None).unwrap().index, 0);
    assert!(
        sp.acs(Some(1)).is_some_and(|a| a.is_artifact()),
        "poort answers on the Artifact ACS too (afsprakenstelsel page Bindings)"
    );
    assert!(sp.acs_by_location("https://dv.example/saml/acs").is_some());
    assert!(sp.artifact_resolution.is_empty());

    let services = &sp.attribute_consuming_services;
    assert_eq!(services.len(), 2);
    assert_eq!(
        services[0].service_ids,
        vec!["urn:etoegang:DV:00000001234567890000:services:0001"]
    );
    assert_eq!(
        services[0].requested_attributes,
        vec!["urn:etoegang:core:LegalSubjectID"],
        "the RequestedAttribute naming the service asks for nothing"
    );
    assert_eq!(
        services[0].names,
        vec![
            ("nl".to_string(), "Belastingaangifte".to_string()),
            ("en".to_string(), "Tax return".to_string())
        ]
    );
    assert!(services[0].is_default && !services[1].is_default);
    assert_eq!(
        sp.attribute_consuming_service(Some(1)).unwrap().service_ids,
        vec!["urn:etoegang:DV:00000001234567890000:services:0002"]
    );
    assert_eq!(sp.attribute_consuming_service(None).unwrap().index, 0);
    assert_eq!(
        sp.service_id(None),
        Some("urn:etoegang:DV:00000001234567890000:services:0001")
    );

    assert_eq!(sp.signing_keys.len(), 1);
    assert_eq!(sp.encryption_keys.len(), 1);
    assert_eq!(
        sp.signing_keys[0].der,
        pem_to_der(&fx.certs.join("demo-dv-signing.crt"))
    );
    assert!(sp.signing_keys[0].subject.contains("demo DV signing"));
    assert_eq!(sp.signing_keys[0].public_key.bits(), 2048);
    assert!(sp.signing_keys[0].not_after > Utc::now());
}

#[test]
fn ads_load_sorted_by_dutch_name_with_fallbacks() {
    let set = fixture().load();
    assert!(problems_of(&set, "two-ads.xml").is_empty());
    let ids: Vec<&str> = set.idps.iter().map(|i| i.entity_id.as_str()).collect();
    assert_eq!(ids, vec![AD_ANDER, AD_ZILVER], "Andere < Zilveren");
    let zilver = set.idp(AD_ZILVER).unwrap();
    assert_eq!(zilver.display_name("nl"), "Zilveren Sleutel");
    assert_eq!(zilver.display_name("en"), "Silver Key");
    assert_eq!(zilver.display_name("fr"), "Zilveren Sleutel");
    assert!(zilver.want_authn_requests_signed);
    assert_eq!(
        zilver.signing_keys.len(),
        1,
        "a KeyDescriptor without use signs"
    );
    assert_eq!(
        zilver.sso_endpoint(BINDING_HTTP_REDIRECT).unwrap().location,
        "https://zilver.example/sso"
    );
    let ander = set.idp(AD_ANDER).unwrap();
    assert!(!ander.want_authn_requests_signed);
    // Its RSA-1024 encryption key is not poort's concern: no problem reported.
    assert_eq!(ander.signing_keys.len(), 1);
    assert_eq!(ander.sso[0].binding, BINDING_HTTP_POST);
}

#[test]
fn ad_without_signing_key_is_refused() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "no-signing-key.xml"),
        vec![no_signing_key("md:IDPSSODescriptor")]
    );
    let p = problems_of(&set, "no-signing-key.xml")[0];
    assert_eq!(
        p.entity_id.as_deref(),
        Some("urn:etoegang:AD:00000007777777770000:entities:0001")
    );
    assert!(p.message.contains("md:IDPSSODescriptor"));
    assert_eq!(set.idps.len(), 2);
}

#[test]
fn expired_certificate_warns_and_keeps_the_dv() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "02-expired-cert.xml"),
        vec![(
            Severity::Warning,
            MetadataError::CertificateExpired {
                element: SIGNING.into(),
                not_after: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
            }
        )]
    );
    assert_eq!(set.sp(DV_EXPIRED).unwrap().signing_keys.len(), 1);
}

#[test]
fn rsa_1024_key_is_refused() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "03-weak-key.xml"),
        vec![
            (
                Severity::Error,
                MetadataError::WeakKey {
                    element: SIGNING.into(),
                    algorithm: "RSA",
                    bits: 1024,
                    minimum: 2048
                }
            ),
            no_signing_key("md:SPSSODescriptor"),
        ]
    );
    assert!(set
        .sp("urn:etoegang:DV:00000001234567890000:entities:0003")
        .is_none());
}

#[test]
fn dtd_is_refused_without_expansion() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "04-xxe.xml"),
        vec![(Severity::Error, MetadataError::DtdPresent)]
    );
    assert!(problems_of(&set, "04-xxe.xml")[0].entity_id.is_none());
    assert!(!set.sps.keys().any(|k| k.contains("0004")));
    // Even an empty DOCTYPE, which roxmltree alone would accept.
    let parsed = metadata::parse_document(
        "<!DOCTYPE x><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"e\"/>",
        Path::new("inline.xml"),
        Role::Sp,
        Utc::now(),
    );
    assert_eq!(parsed.problems[0].kind, MetadataError::DtdPresent);
    assert!(parsed.sps.is_empty());
}

#[test]
fn duplicate_entity_id_keeps_the_first_file() {
    let fx = fixture();
    let set = fx.load();
    assert_eq!(
        kinds(&set, "05-duplicate.xml"),
        vec![(
            Severity::Error,
            MetadataError::DuplicateEntityId {
                first_file: fx.sp_dir().join("01-good-dv.xml")
            }
        )]
    );
    assert_eq!(
        problems_of(&set, "05-duplicate.xml")[0]
            .entity_id
            .as_deref(),
        Some(DV)
    );
    assert!(set.sp(DV).unwrap().file.ends_with("01-good-dv.xml"));
}

#[test]
fn malformed_base64_certificate_is_refused() {
    let set = fixture().load();
    let k = kinds(&set, "06-bad-base64.xml");
    assert_eq!(k.len(), 2, "{k:?}");
    assert!(
        matches!(&k[0], (Severity::Error, MetadataError::CertificateUnparseable { element, reason })
            if element == SIGNING && reason.starts_with("invalid base64")),
        "{k:?}"
    );
    assert_eq!(k[1], no_signing_key("md:SPSSODescriptor"));
}

#[test]
fn encryption_only_certificate_cannot_sign() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "07-wrong-key-usage.xml"),
        vec![
            (
                Severity::Error,
                MetadataError::KeyUsageMismatch {
                    element: SIGNING.into(),
                    required: "digitalSignature"
                }
            ),
            no_signing_key("md:SPSSODescriptor"),
        ]
    );
}

#[test]
fn passed_valid_until_drops_the_entity() {
    let set = fixture().load();
    assert_eq!(
        kinds(&set, "08-valid-until-passed.xml"),
        vec![(
            Severity::Error,
            MetadataError::Expired {
                element: "md:EntityDescriptor".into(),
                valid_until: Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap(),
            }
        )]
    );
    assert!(set
        .sp("urn:etoegang:DV:00000001234567890000:entities:0008")
        .is_none());
}

#[test]
fn not_xml_and_other_files() {
    let set = fixture().load();
    let k = kinds(&set, "09-not-xml.xml");
    assert!(
        matches!(k.as_slice(), [(Severity::Error, MetadataError::NotXml(_))]),
        "{k:?}"
    );
    assert!(problems_of(&set, "README.txt").is_empty());
    // Everything good elsewhere still loaded.
    let mut sps: Vec<&str> = set.sps.keys().map(String::as_str).collect();
    sps.sort();
    assert_eq!(sps, vec![DV, DV_EXPIRED]);
    assert_eq!(set.idps.len(), 2);
    assert!(set.has_errors());
}

#[test]
fn oversized_file_and_missing_folder() {
    let fx = fixture();
    let big = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"e\"><!--{}--></md:EntityDescriptor>",
        "x".repeat(1024 * 1024)
    );
    std::fs::write(fx.sp_dir().join("10-big.xml"), big).unwrap();
    let set = metadata::load(&fx.sp_dir(), &fx.dir.path().join("nope"), Utc::now());
    assert!(matches!(
        kinds(&set, "10-big.xml").as_slice(),
        [(
            Severity::Error,
            MetadataError::TooLarge { limit: 1048576, .. }
        )]
    ));
    assert!(matches!(
        kinds(&set, "nope").as_slice(),
        [(Severity::Error, MetadataError::Unreadable(_))]
    ));
    assert_eq!(set.sps.len(), 2);
}

#[test]
fn passed_valid_until_on_entities_descriptor_drops_all_inside() {
    let xml = "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" validUntil=\"2000-01-01T00:00:00\">\
               <md:EntityDescriptor entityID=\"e\"/></md:EntitiesDescriptor>";
    let parsed = metadata::parse_document(xml, Path::new("x.xml"), Role::Idp, Utc::now());
    assert!(parsed.idps.is_empty());
    assert!(matches!(
        parsed.problems.as_slice(),
        [Problem { kind: MetadataError::Expired { element, .. }, entity_id: None, .. }]
            if element == "md:EntitiesDescriptor"
    ));
}

/// What poort publishes, its own parser reads back, escaping included.
#[test]
fn published_metadata_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    devcerts::generate(dir.path(), false).unwrap();
    let signing = pem_to_der(&dir.path().join("poort-signing.crt"));
    let encryption = pem_to_der(&dir.path().join("poort-encryption.crt"));
    let entity_id = "https://poort.example/saml?a=1&b=\"2\"<'x'>";
    let valid_until = Utc.with_ymd_and_hms(2999, 1, 1, 0, 0, 0).unwrap();
    let now = Utc::now();

    let ars = "https://poort.example/saml/artifact?z=1&w=2";
    let poort_ars = vec![IndexedEndpoint {
        index: publish::POORT_ARS_INDEX,
        binding: BINDING_SOAP.into(),
        location: ars.into(),
        is_default: true,
    }];
    let xml = publish::idp_metadata(
        entity_id,
        "https://poort.example/saml/sso?x=1&y=2",
        ars,
        "https://poort.example/saml/slo",
        &signing,
        valid_until,
    );
    assert_signature_slot(&xml, "IDPSSODescriptor");
    let parsed = metadata::parse_document(&xml, Path::new("idp.xml"), Role::Idp, now);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let idp = &parsed.idps[0];
    assert_eq!(idp.entity_id, entity_id);
    assert!(idp.want_authn_requests_signed);
    assert_eq!(idp.signing_keys.len(), 1);
    assert_eq!(idp.signing_keys[0].der, signing);
    assert_eq!(
        idp.sso,
        [
            BINDING_HTTP_ARTIFACT,
            BINDING_HTTP_REDIRECT,
            BINDING_HTTP_POST
        ]
        .map(|b| metadata::Endpoint {
            binding: b.into(),
            location: "https://poort.example/saml/sso?x=1&y=2".into(),
            response_location: None,
        })
        .to_vec()
    );
    assert_eq!(idp.artifact_resolution, poort_ars);
    assert!(idp.speaks_artifact());
    assert_schema_order(
        &xml,
        "IDPSSODescriptor",
        &[
            "KeyDescriptor",
            "ArtifactResolutionService",
            "SingleLogoutService",
            "NameIDFormat",
            "SingleSignOnService",
        ],
    );
    assert_eq!(
        metadata::logout_endpoint(&idp.slo).map(|e| (e.binding.as_str(), e.response_url())),
        Some((BINDING_HTTP_REDIRECT, "https://poort.example/saml/slo"))
    );
    assert_eq!(idp.display_name("nl"), "poort");
    assert!(xml.contains(metadata::publish::NAMEID_TRANSIENT));
    assert!(xml.contains(metadata::publish::NAMEID_PERSISTENT));

    let xml = publish::sp_metadata(
        entity_id,
        "https://poort.example/saml/acs",
        ars,
        "https://poort.example/saml/slo",
        &signing,
        &encryption,
        valid_until,
    );
    assert_signature_slot(&xml, "SPSSODescriptor");
    let parsed = metadata::parse_document(&xml, Path::new("sp.xml"), Role::Sp, now);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let sp = &parsed.sps[0];
    assert_eq!(sp.entity_id, entity_id);
    assert!(sp.authn_requests_signed && sp.want_assertions_signed);
    assert_eq!(
        sp.acs,
        vec![
            metadata::AcsEndpoint {
                index: 0,
                binding: BINDING_HTTP_POST.into(),
                location: "https://poort.example/saml/acs".into(),
                is_default: true
            },
            metadata::AcsEndpoint {
                index: 1,
                binding: BINDING_HTTP_ARTIFACT.into(),
                location: "https://poort.example/saml/acs".into(),
                is_default: false
            }
        ]
    );
    assert_eq!(sp.acs(None).unwrap().binding, BINDING_HTTP_POST);
    assert_eq!(sp.artifact_resolution, poort_ars);
    assert_schema_order(
        &xml,
        "SPSSODescriptor",
        &[
            "KeyDescriptor",
            "ArtifactResolutionService",
            "SingleLogoutService",
            "AssertionConsumerService",
        ],
    );
    assert_eq!(sp.slo.len(), 2, "HTTP-Redirect and HTTP-POST: {:?}", sp.slo);
    assert_eq!(sp.signing_keys.len(), 1);
    assert_eq!(sp.signing_keys[0].der, signing);
    assert_eq!(sp.encryption_keys.len(), 1);
    assert_eq!(sp.encryption_keys[0].der, encryption);
    for alg in [
        publish::ENC_AES256_GCM,
        publish::ENC_AES128_GCM,
        publish::ENC_RSA_OAEP_MGF1P,
    ] {
        assert!(xml.contains(alg));
    }
}

/// The descriptor's children come in `order` (SAML Metadata 2.0 §2.4.1–2.4.4, the schema's
/// sequence), each name at least once.
fn assert_schema_order(xml: &str, descriptor: &str, order: &[&str]) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let desc = doc
        .root_element()
        .children()
        .find(|n| n.tag_name().name() == descriptor)
        .unwrap();
    let names: Vec<&str> = desc
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    let ranks: Vec<usize> = names
        .iter()
        .map(|n| {
            order
                .iter()
                .position(|o| o == n)
                .unwrap_or_else(|| panic!("{n}"))
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    for o in order {
        assert!(names.contains(o), "{o} in {names:?}");
    }
}

/// The root has an ID, no Signature, and the placeholder comment as its first child, before
/// the role descriptor.
fn assert_signature_slot(xml: &str, descriptor: &str) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let root = doc.root_element();
    assert!(root.attribute("ID").is_some_and(|id| id.starts_with('_')));
    assert!(!xml.contains("Signature>") && !xml.contains("<ds:Signature"));
    let first = root.children().find(|n| !n.is_text()).unwrap();
    assert!(first.is_comment());
    assert!(SIGNATURE_PLACEHOLDER.contains(first.text().unwrap()));
    let first_element = root.first_element_child().unwrap();
    assert_eq!(first_element.tag_name().name(), descriptor);
}

#[test]
fn dev_certs_are_usable_and_marked() {
    use std::os::unix::fs::PermissionsExt;
    use x509_parser::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let written = devcerts::generate(dir.path(), false).unwrap();
    assert_eq!(written.len(), 11);
    for (stem, signing) in [
        ("poort-signing", true),
        ("poort-encryption", false),
        ("demo-dv-signing", true),
        ("demo-dv-encryption", false),
        ("dev-ad-signing", true),
    ] {
        let key_path = dir.path().join(format!("{stem}.key"));
        let cert_path = dir.path().join(format!("{stem}.crt"));
        let key_pem = std::fs::read(&key_path).unwrap();
        assert!(
            key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----"),
            "PKCS#8"
        );
        let key = PKey::private_key_from_pem(&key_pem).unwrap();
        assert_eq!(key.bits(), 2048);
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{stem}.key");

        let cert = openssl::x509::X509::from_pem(&std::fs::read(&cert_path).unwrap()).unwrap();
        assert!(cert.public_key().unwrap().public_eq(&key));
        let der = cert.to_der().unwrap();
        let (_, x509) = parse_x509_certificate(&der).unwrap();
        let subject = x509.subject().to_string();
        assert!(subject.contains("DEVELOPMENT ONLY"), "{subject}");
        let ku = x509.key_usage().unwrap().unwrap().value;
        assert_eq!(ku.digital_signature(), signing, "{stem}");
        assert_eq!(ku.key_encipherment(), !signing, "{stem}");
        assert_eq!(ku.data_encipherment(), !signing, "{stem}");
        let years = (x509.validity().not_after.timestamp() - Utc::now().timestamp()) / 86400 / 365;
        assert!((4..=5).contains(&years), "{years}");
        assert!(devcerts::is_dev_cert(&der));

        // The openssl command (an independent parser) reads it too.
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-in"])
            .arg(&cert_path)
            .output();
        if let Ok(out) = out {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("DEVELOPMENT ONLY"));
        }
    }
    let secret = std::fs::read_to_string(dir.path().join("pseudonym.secret")).unwrap();
    assert_eq!(hex::decode(secret.trim()).unwrap().len(), 32);
    assert!(!devcerts::is_dev_cert(&expired_cert()));
    assert!(!devcerts::is_dev_cert(b"not a certificate"));
}

/// (severity, kind) of a single document's problems.
fn parsed_kinds(parsed: &Parsed) -> Vec<(Severity, MetadataError)> {
    parsed
        .problems
        .iter()
        .map(|p| (p.severity, p.kind.clone()))
        .collect()
}

#[test]
fn dv_with_only_an_artifact_acs_and_the_schemes_service_ids_loads() {
    let parsed = fixture().single("dv-artifact-only.xml", Role::Sp);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let sp = &parsed.sps[0];
    let acs = sp.acs(None).unwrap();
    assert!(acs.is_usable() && acs.is_artifact());
    assert_eq!(acs.location, "https://dv.example/saml/artifact");
    assert_eq!(
        sp.artifact_resolution,
        vec![IndexedEndpoint {
            index: 0,
            binding: BINDING_SOAP.into(),
            location: "https://dv.example/saml/ars".into(),
            is_default: true,
        }]
    );
    assert_eq!(
        metadata::artifact_resolution_service(&sp.artifact_resolution, 0)
            .unwrap()
            .location,
        "https://dv.example/saml/ars"
    );

    // The RequestedAttribute named by the ServiceID names the service; the others are asked for.
    let first = &sp.attribute_consuming_services[0];
    assert_eq!(
        first.service_ids,
        vec!["urn:etoegang:DV:00000003244440010000:services:1"]
    );
    assert_eq!(
        first.requested_attributes,
        vec!["urn:etoegang:1.9:EntityConcernedID:RSIN"]
    );
    assert_eq!(
        sp.service_id(Some(0)),
        Some("urn:etoegang:DV:00000003244440010000:services:1")
    );
    // Without an index: the one marked isDefault="true", though it is not the first.
    assert_eq!(
        sp.service_id(None),
        Some("urn:etoegang:DV:00000003244440010000:services:2")
    );
    assert_eq!(sp.service_id(Some(9)), None);
}

#[test]
fn service_id_without_index_needs_a_default_or_a_single_service() {
    let mut sp = fixture()
        .single("dv-artifact-only.xml", Role::Sp)
        .sps
        .remove(0);
    for s in &mut sp.attribute_consuming_services {
        s.is_default = false;
    }
    assert_eq!(sp.service_id(None), None, "two services, no default");
    sp.attribute_consuming_services.remove(1);
    assert_eq!(
        sp.service_id(None),
        Some("urn:etoegang:DV:00000003244440010000:services:1"),
        "the only service"
    );
}

#[test]
fn earlier_service_id_form_is_read_with_a_warning() {
    let parsed = fixture().single("dv-earlier-form.xml", Role::Sp);
    let earlier = |index, n: u16| {
        (
            Severity::Warning,
            MetadataError::EarlierServiceIdForm {
                index,
                service_id: format!("urn:etoegang:DV:00000003244440010000:services:{n}"),
            },
        )
    };
    assert_eq!(
        parsed_kinds(&parsed),
        vec![
            earlier(3, 3),
            earlier(4, 4),
            (
                Severity::Warning,
                MetadataError::SeveralDefaults {
                    element: "md:AttributeConsumingService".into(),
                    chosen: 3
                }
            ),
        ]
    );
    assert!(parsed.problems[0].message.contains(
        "use <md:RequestedAttribute Name=\"urn:etoegang:DV:00000003244440010000:services:3\"/>"
    ));
    assert!(parsed.problems[0].message.contains("DV metadata for HM"));
    let sp = &parsed.sps[0];
    let services = &sp.attribute_consuming_services;
    assert_eq!(
        services[0].service_ids,
        vec!["urn:etoegang:DV:00000003244440010000:services:3"]
    );
    assert_eq!(
        services[0].requested_attributes,
        vec!["urn:etoegang:core:LegalSubjectID"]
    );
    // Both forms naming the same ServiceID: it is there once.
    assert_eq!(
        services[1].service_ids,
        vec!["urn:etoegang:DV:00000003244440010000:services:4"]
    );
    // Two defaults: the first wins (SAML Metadata 2.0 §2.2.3).
    assert_eq!(
        sp.service_id(None),
        Some("urn:etoegang:DV:00000003244440010000:services:3")
    );
}

#[test]
fn duplicate_artifact_resolution_index_refuses_the_dv() {
    let parsed = fixture().single("dv-duplicate-ars.xml", Role::Sp);
    assert_eq!(
        parsed_kinds(&parsed),
        vec![(
            Severity::Error,
            MetadataError::DuplicateIndex {
                element: "md:ArtifactResolutionService".into(),
                index: 0
            }
        )]
    );
    assert!(parsed.sps.is_empty());
}

#[test]
fn dv_without_artifact_or_post_acs_is_refused() {
    let parsed = fixture().single("dv-paos-only.xml", Role::Sp);
    assert_eq!(
        parsed_kinds(&parsed),
        vec![(Severity::Error, MetadataError::NoUsableAcs)]
    );
    assert_eq!(
        parsed.problems[0].message,
        "md:SPSSODescriptor has no usable md:AssertionConsumerService (HTTP-Artifact or HTTP-POST binding)"
    );
    assert!(parsed.sps.is_empty());
}

#[test]
fn ad_with_only_artifact_sso_and_an_ars_loads_and_speaks_artifact() {
    let parsed = fixture().single("ad-artifact.xml", Role::Idp);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let idp = &parsed.idps[0];
    assert!(idp.speaks_artifact());
    assert_eq!(
        idp.sso_endpoint(BINDING_HTTP_ARTIFACT).unwrap().location,
        "https://ad.example/saml/sso"
    );
    assert_eq!(
        metadata::artifact_resolution_service(&idp.artifact_resolution, 2)
            .unwrap()
            .location,
        "https://ad.example/saml/ars"
    );
    assert!(metadata::artifact_resolution_service(&idp.artifact_resolution, 0).is_none());
}

#[test]
fn ad_with_only_artifact_sso_and_no_ars_is_refused() {
    let parsed = fixture().single("ad-artifact-no-ars.xml", Role::Idp);
    let k = parsed_kinds(&parsed);
    assert!(
        matches!(
            k.as_slice(),
            [(
                Severity::Error,
                MetadataError::NoArtifactResolutionService { .. }
            )]
        ),
        "{k:?}"
    );
    assert!(parsed.problems[0].message.starts_with(
        "md:IDPSSODescriptor has no md:ArtifactResolutionService with the SOAP binding"
    ));
    assert!(parsed.idps.is_empty());
}

#[test]
fn non_soap_ars_warns_and_is_left_out() {
    let parsed = fixture().single("ad-ars-not-soap.xml", Role::Idp);
    assert_eq!(
        parsed_kinds(&parsed),
        vec![(
            Severity::Warning,
            MetadataError::ArtifactResolutionNotSoap {
                index: 0,
                binding: BINDING_HTTP_POST.into()
            }
        )]
    );
    let idp = &parsed.idps[0];
    assert!(idp.artifact_resolution.is_empty());
    assert!(
        !idp.speaks_artifact(),
        "no SOAP ARS: poort uses HTTP-Redirect"
    );
    assert!(idp.sso_endpoint(BINDING_HTTP_REDIRECT).is_some());

    // The same AD with only its HTTP-Artifact SingleSignOnService cannot be used at all.
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/metadata/single/ad-ars-not-soap.xml"),
    )
    .unwrap();
    let start = xml
        .find("<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"")
        .unwrap();
    let end = start + xml[start..].find("/>").unwrap() + 2;
    let fx = fixture();
    let xml = fx.with_markers(format!("{}{}", &xml[..start], &xml[end..]));
    let parsed = metadata::parse_document(&xml, Path::new("x.xml"), Role::Idp, Utc::now());
    let k = parsed_kinds(&parsed);
    assert!(
        matches!(
            k.as_slice(),
            [
                (
                    Severity::Warning,
                    MetadataError::ArtifactResolutionNotSoap { .. }
                ),
                (
                    Severity::Error,
                    MetadataError::NoArtifactResolutionService { .. }
                )
            ]
        ),
        "{k:?}"
    );
    assert!(parsed.idps.is_empty());
}

#[test]
fn ad_without_any_usable_sso_binding_names_all_three() {
    let xml = String::from(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="urn:x:ad">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>@AD_SIGNING@</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS" Location="https://ad.example/ecp"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#,
    );
    let xml = fixture().with_markers(xml);
    let parsed = metadata::parse_document(&xml, Path::new("x.xml"), Role::Idp, Utc::now());
    assert_eq!(
        parsed_kinds(&parsed),
        vec![(Severity::Error, MetadataError::NoSsoEndpoint)]
    );
    assert_eq!(
        parsed.problems[0].message,
        "md:IDPSSODescriptor has no md:SingleSignOnService with the HTTP-Artifact, HTTP-Redirect or HTTP-POST binding"
    );
}

#[test]
fn an_ads_single_logout_services_are_read_and_a_bad_one_dropped() {
    let dir = tempfile::tempdir().unwrap();
    devcerts::generate(dir.path(), false).unwrap();
    let cert = b64(&pem_to_der(&dir.path().join("poort-signing.crt")));
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    let xml = format!(
        r#"<md:EntityDescriptor xmlns:md="{md}" entityID="urn:etoegang:AD:00000099990000000005:entities:1">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="https://ad.example/slo/redirect"/>
<md:SingleLogoutService Binding="{BINDING_HTTP_POST}" Location="not a url"/>
<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="https://ad.example/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let parsed = metadata::parse_document(&xml, Path::new("ad.xml"), Role::Idp, Utc::now());
    let idp = &parsed.idps[0];
    assert_eq!(
        idp.slo,
        [metadata::Endpoint {
            binding: BINDING_HTTP_REDIRECT.into(),
            location: "https://ad.example/slo/redirect".into(),
            response_location: None,
        }]
    );
    assert!(idp.slo_endpoint(BINDING_HTTP_POST).is_none());
    // The unusable one is named, the AD kept.
    assert!(
        parsed.problems.iter().any(|p| matches!(
            &p.kind,
            MetadataError::InvalidEndpoint { element, .. } if element == "md:SingleLogoutService"
        )),
        "{:?}",
        parsed.problems
    );
}
