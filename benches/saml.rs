//! Cost of the crypto and decision steps of one brokered login, beside the RSA-2048 floor.
//! Run: cargo bench --bench saml

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use poort::demo::ad_response::AdResponse;
use poort::domain::decision::decide;
use poort::domain::level::{Comparison, Level};
use poort::domain::login::AuthnResult;
use poort::grants::MemoryRegister;
use poort::keys::SigningKey;
use poort::saml::binding::{self, RedirectMessage};
use poort::saml::{idp, sp};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    poort::devcerts::generate(dir.path(), false).unwrap();
    let load = |s: &str| {
        SigningKey::load(
            &dir.path().join(format!("{s}.key")),
            &dir.path().join(format!("{s}.crt")),
        )
        .unwrap()
    };
    let poort_key = load("poort-signing");
    let ad_key = load("dev-ad-signing");
    let dv_key = load("demo-dv-signing");
    let dec = poort::keys::DecryptionKey::load(
        &dir.path().join("poort-encryption.key"),
        &dir.path().join("poort-encryption.crt"),
    )
    .unwrap();

    c.bench_function("rsa2048_sign_floor", |b| {
        b.iter(|| poort_key.sign_bytes(b"x").unwrap())
    });
    c.bench_function("private_key_decode_der", |b| {
        b.iter(|| openssl::pkey::PKey::private_key_from_der(&poort_key.key_der).unwrap())
    });
    let tiny = format!(
        r#"<r xmlns="urn:x" ID="_a">{}</r>"#,
        poort::saml::dsig::template("_a", &poort_key)
    );
    c.bench_function("xmlsec_sign_tiny_document", |b| {
        b.iter(|| poort::saml::dsig::sign(&tiny, &poort_key).unwrap())
    });
    let sig = poort_key.sign_bytes(b"x").unwrap();
    let public = openssl::x509::X509::from_der(&poort_key.cert_der)
        .unwrap()
        .public_key()
        .unwrap();
    c.bench_function("rsa2048_verify_floor", |b| {
        b.iter(|| poort::keys::verify_bytes(&public, poort_key.alg, b"x", &sig).unwrap())
    });

    let request = sp::AdRequest::new(
        "_r1",
        "urn:dv",
        "http://p/saml/sso",
        "http://dv/acs",
        Level::Eh3,
        Utc::now(),
    )
    .write(None)
    .unwrap();
    let url = binding::redirect_url(
        "http://p/saml/sso",
        "SAMLRequest",
        &request,
        Some("rs"),
        &dv_key,
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1.to_string();
    let dv_public = openssl::x509::X509::from_der(&dv_key.cert_der)
        .unwrap()
        .public_key()
        .unwrap();
    c.bench_function("redirect_request_decode_and_verify", |b| {
        b.iter(|| {
            let m = RedirectMessage::decode(&query, "SAMLRequest").unwrap();
            m.verify(std::slice::from_ref(&dv_public)).unwrap();
            idp::AuthnRequest::parse(&m.xml).unwrap()
        })
    });

    let acs = "http://p/saml/acs";
    let response = AdResponse::new("urn:ad", acs, "_req", "urn:sp", "anna", Level::Eh3)
        .build(&ad_key)
        .unwrap();
    let certs = vec![ad_key.cert_der.clone()];
    c.bench_function("ad_response_verify", |b| {
        b.iter(|| {
            let exp = sp::Expectations {
                idp_entity_id: "urn:ad",
                idp_certs: &certs,
                sp_entity_id: "urn:sp",
                acs_url: acs,
                request_id: "_req",
                decryption_key: &dec.key,
                now: Utc::now(),
                clock_skew: chrono::Duration::seconds(60),
            };
            sp::check_response(&response, &exp).unwrap()
        })
    });

    c.bench_function("dv_response_sign_assertion_and_response", |b| {
        b.iter(|| {
            let content = idp::AssertionContent {
                idp_entity_id: "urn:poort",
                audience: "urn:dv",
                acs_url: "http://dv/acs",
                in_response_to: "_r1",
                pseudonym: "abc",
                legal_subject: &[(
                    poort::domain::identifiers::IdentifierType::KvKnr,
                    "12345678",
                )],
                company_name: "Bakkerij",
                service_id: "urn:etoegang:DV:1:services:1",
                service_uuid: "uuid",
                level_used: Level::Eh3,
                authenticating_authority: "urn:ad",
                authn_instant: Utc::now(),
                now: Utc::now(),
                lifetime_seconds: 300,
                further_attributes: "",
            };
            let a = idp::signed_assertion(&content, &poort_key).unwrap();
            idp::signed_response(
                "urn:poort",
                "http://dv/acs",
                "_r1",
                None,
                Some(&a),
                Utc::now(),
                &poort_key,
            )
            .unwrap()
        })
    });

    let register = MemoryRegister::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/grants-dev.toml"
    ))
    .unwrap();
    let grants = register.lookup(poort::demo::DEV_AD_ENTITY_ID, "anna");
    let service = poort::grants::ServiceRef {
        service_id: "urn:etoegang:DV:00000099990000000002:services:1".into(),
        uuid: "5a1d3b0e-8c9f-4f5e-9b1a-000000000001".into(),
        provider: poort::demo::DEMO_DV_ENTITY_ID.into(),
        level: Level::Eh3,
    };
    let result = AuthnResult {
        idp: poort::demo::DEV_AD_ENTITY_ID.into(),
        subject: "anna".into(),
        level: Level::Eh3,
        authn_instant: Utc::now(),
        attributes: Vec::new(),
    };
    let now = Utc::now();
    c.bench_function("decision", |b| {
        b.iter(|| {
            decide(
                Level::Eh3,
                Comparison::Minimum,
                &result,
                &service,
                &grants.grants,
                now,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
