//! The demo peers over HTTP: the dev AD answers poort's AuthnRequests with Responses that poort's
//! own SP checks accept, and the demo DV accepts only Responses signed by poort.

use chrono::{Duration, Utc};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::{X509NameBuilder, X509};
use poort::demo::{
    self, AcsOutcome, AdResponse, DemoDv, DevAd, DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID,
};
use poort::keys::SigningKey;
use poort::level::{Comparison, Level};
use poort::saml::binding::{self, RedirectMessage};
use poort::saml::idp::{self, AssertionContent, AuthnRequest};
use poort::saml::sp::{self, AdOutcome, Expectations};
use poort::saml::{encrypt, xml};
use std::sync::Arc;

const POORT_SP: &str = "urn:etoegang:HM:00000099990000000001:entities:1";
const POORT_IDP: &str = "urn:etoegang:HM:00000099990000000001:entities:2";
const POORT_ACS: &str = "http://poort.test/saml/acs";

fn test_key() -> SigningKey {
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "test").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    SigningKey::from_pem(
        &key.private_key_to_pem_pkcs8().unwrap(),
        &cert.to_pem().unwrap(),
        std::path::Path::new("k"),
        std::path::Path::new("c"),
    )
    .unwrap()
}

fn public(key: &PKey<Private>) -> PKey<Public> {
    PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap()
}

async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of a hidden form field.
fn field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

struct AdSetup {
    url: String,
    poort: SigningKey,
    poort_enc: PKey<Private>,
    ad_cert: Vec<u8>,
}

async fn start_ad() -> AdSetup {
    let poort = test_key();
    let poort_enc = test_key();
    let ad_key = test_key();
    let ad_cert = ad_key.cert_der.clone();
    let (listener, url) = listen().await;
    let ad = DevAd::new(DEV_AD_ENTITY_ID, &url, ad_key, Some(poort.cert_der.clone()))
        .with_poort_encryption_cert(poort_enc.cert_der.clone());
    tokio::spawn(demo::serve(listener, demo::ad::router(Arc::new(ad))));
    AdSetup {
        url,
        poort,
        poort_enc: poort_enc.key,
        ad_cert,
    }
}

/// Sends a signed redirect AuthnRequest to the dev AD, picks `person`, and returns the request ID
/// and the HTML of the auto-post page.
async fn login_at_ad(
    s: &AdSetup,
    form: &[(&str, &str)],
    signer: &SigningKey,
) -> (String, reqwest::Response) {
    let id = xml::new_id();
    let sso = format!("{}/sso", s.url);
    let request = sp::authn_request(
        &id,
        POORT_SP,
        &sso,
        POORT_ACS,
        poort::saml::xml::BINDING_POST,
        Level::Eh3,
        Comparison::Minimum,
        false,
        Utc::now(),
        None,
    )
    .unwrap();
    let url = binding::redirect_url(&sso, "SAMLRequest", &request, Some("rs-1"), signer).unwrap();
    let page = client().get(url).send().await.unwrap();
    if !page.status().is_success() {
        return (id, page);
    }
    let page = page.text().await.unwrap();
    assert!(page.contains("anna") && page.contains("femke"));
    assert!(
        page.contains(r#"value="EH3" checked"#),
        "requested level preselected"
    );
    let pending = field(&page, "pending");
    let mut body = vec![("pending", pending.as_str())];
    body.extend_from_slice(form);
    let answer = client()
        .post(format!("{}/login", s.url))
        .form(&body)
        .send()
        .await
        .unwrap();
    (id, answer)
}

async fn ad_outcome(s: &AdSetup, form: &[(&str, &str)]) -> AdOutcome {
    let (id, answer) = login_at_ad(s, form, &s.poort).await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.unwrap();
    assert!(html.contains(&format!(r#"action="{POORT_ACS}""#)));
    assert!(html.contains("<button"), "visible submit button");
    assert_eq!(field(&html, "RelayState"), "rs-1");
    let response = binding::decode_post(&field(&html, "SAMLResponse")).unwrap();
    let certs = [s.ad_cert.clone()];
    let exp = Expectations {
        idp_entity_id: DEV_AD_ENTITY_ID,
        idp_certs: &certs,
        sp_entity_id: POORT_SP,
        acs_url: POORT_ACS,
        request_id: &id,
        decryption_key: &s.poort_enc,
        now: Utc::now(),
        clock_skew: Duration::seconds(60),
    };
    sp::check_response(&response, &exp).unwrap()
}

fn assert_anna(outcome: AdOutcome, level: Level) {
    match outcome {
        AdOutcome::Authenticated(a) => {
            assert_eq!(a.subject, "anna");
            assert_eq!(a.level, level);
        }
        other => panic!("not authenticated: {other:?}"),
    }
}

#[tokio::test]
async fn dev_ad_answers_are_accepted_by_poorts_sp_checks() {
    let s = start_ad().await;
    let login = |sign: &'static str, level: &'static str| {
        vec![
            ("person", "anna"),
            ("level", level),
            ("action", "login"),
            ("sign", sign),
        ]
    };
    assert_anna(ad_outcome(&s, &login("assertion", "EH3")).await, Level::Eh3);
    assert_anna(ad_outcome(&s, &login("response", "EH4")).await, Level::Eh4);
    assert_anna(ad_outcome(&s, &login("both", "EH2+")).await, Level::Eh2Plus);
    let mut encrypted = login("assertion", "EH3");
    encrypted.push(("encrypt", "1"));
    assert_anna(ad_outcome(&s, &encrypted).await, Level::Eh3);
    let mut encrypted_both = login("both", "EH3");
    encrypted_both.push(("encrypt", "1"));
    assert_anna(ad_outcome(&s, &encrypted_both).await, Level::Eh3);

    let cancel = ad_outcome(
        &s,
        &[("person", "anna"), ("level", "EH3"), ("action", "cancel")],
    )
    .await;
    assert_eq!(cancel, AdOutcome::Cancelled);
}

#[tokio::test]
async fn dev_ad_refuses_bad_requests_and_input() {
    let s = start_ad().await;
    // Signed with a key that is not poort's.
    let (_, answer) = login_at_ad(&s, &[], &test_key()).await;
    assert_eq!(answer.status(), 403);
    // Garbage in the query and the form: clear 4xx pages, no panics.
    let c = client();
    let r = c
        .get(format!("{}/sso?SAMLRequest=%%%", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c.get(format!("{}/sso", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{}/login", s.url))
        .form(&[("pending", "nope"), ("person", "anna")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown or expired"));
    // An unknown person.
    let (_, answer) = login_at_ad(&s, &[("person", "mallory"), ("level", "EH3")], &s.poort).await;
    assert_eq!(answer.status(), 400);
    // An unsigned POST request while poort's key is known.
    let request = sp::authn_request(
        "_x1",
        POORT_SP,
        &format!("{}/sso", s.url),
        POORT_ACS,
        poort::saml::xml::BINDING_POST,
        Level::Eh3,
        Comparison::Minimum,
        false,
        Utc::now(),
        None,
    )
    .unwrap();
    let r = c
        .post(format!("{}/sso", s.url))
        .form(&[("SAMLRequest", binding::encode_post(&request))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Signed enveloped with poort's key: accepted.
    let signed = sp::authn_request(
        "_x2",
        POORT_SP,
        &format!("{}/sso", s.url),
        POORT_ACS,
        poort::saml::xml::BINDING_POST,
        Level::Eh2,
        Comparison::Minimum,
        false,
        Utc::now(),
        Some(&s.poort),
    )
    .unwrap();
    let r = c
        .post(format!("{}/sso", s.url))
        .form(&[("SAMLRequest", binding::encode_post(&signed))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(r#"value="EH2" checked"#));
}

#[test]
fn ad_response_knobs_reach_the_checks() {
    let ad = test_key();
    let enc = test_key();
    let certs = [ad.cert_der.clone()];
    let check = |r: &AdResponse| {
        let xml = r.build(&ad).unwrap();
        let exp = Expectations {
            idp_entity_id: DEV_AD_ENTITY_ID,
            idp_certs: &certs,
            sp_entity_id: POORT_SP,
            acs_url: POORT_ACS,
            request_id: "_req",
            decryption_key: &enc.key,
            now: Utc::now(),
            clock_skew: Duration::seconds(60),
        };
        sp::check_response(&xml, &exp)
    };
    let good = AdResponse::new(
        DEV_AD_ENTITY_ID,
        POORT_ACS,
        "_req",
        POORT_SP,
        "bram",
        Level::Eh2Plus,
    );
    assert!(matches!(check(&good), Ok(AdOutcome::Authenticated(_))));
    let both_encrypted = AdResponse {
        sign_response: true,
        encrypt_to: Some(public(&enc.key)),
        ..good.clone()
    };
    assert!(matches!(
        check(&both_encrypted),
        Ok(AdOutcome::Authenticated(_))
    ));

    let unsigned = AdResponse {
        sign_assertion: false,
        ..good.clone()
    };
    assert!(check(&unsigned).is_err());
    let audience = AdResponse {
        audience: Some("urn:other".into()),
        ..good.clone()
    };
    assert!(matches!(check(&audience), Err(sp::ResponseError::Audience)));
    let expired = AdResponse {
        not_on_or_after: Utc::now() - Duration::minutes(10),
        ..good.clone()
    };
    assert!(check(&expired).is_err());
    let eh1 = AdResponse {
        level_uri: "urn:etoegang:core:assurance-class:loa1".into(),
        ..good.clone()
    };
    assert!(matches!(check(&eh1), Err(sp::ResponseError::Level(_))));
    let fixed = AdResponse {
        assertion_id: Some("_fixed".into()),
        ..good.clone()
    };
    match check(&fixed) {
        Ok(AdOutcome::Authenticated(a)) => assert_eq!(a.assertion_id, "_fixed"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check(&good.clone().cancelled()).unwrap(),
        AdOutcome::Cancelled
    );
}

struct DvSetup {
    url: String,
    poort: SigningKey,
    dv_cert: Vec<u8>,
    dv_enc: PKey<Private>,
}

async fn start_dv() -> DvSetup {
    let poort = test_key();
    let dv_key = test_key();
    let dv_cert = dv_key.cert_der.clone();
    let dv_enc = test_key();
    let (listener, url) = listen().await;
    let dv = DemoDv::new(
        DEMO_DV_ENTITY_ID,
        &url,
        "http://poort.test",
        dv_key,
        dv_enc.key.clone(),
        Some(poort.cert_der.clone()),
    )
    .with_poort_entity_id(POORT_IDP)
    .with_encryption_cert(dv_enc.cert_der.clone());
    tokio::spawn(demo::serve(listener, demo::dv::router(Arc::new(dv))));
    DvSetup {
        url,
        poort,
        dv_cert,
        dv_enc: dv_enc.key,
    }
}

/// Starts a login at the demo DV over HTTP-POST and returns the verified AuthnRequest.
async fn dv_request(s: &DvSetup, service: u16) -> AuthnRequest {
    let html = client()
        .get(format!(
            "{}/login?service={service}&binding=post&level=EH3&force=1",
            s.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"action="http://poort.test/saml/sso""#));
    assert!(field(&html, "RelayState").starts_with("demo-"));
    let xml = binding::decode_post(&field(&html, "SAMLRequest")).unwrap();
    let request = AuthnRequest::verify_enveloped(&xml, std::slice::from_ref(&s.dv_cert)).unwrap();
    assert_eq!(request.issuer, DEMO_DV_ENTITY_ID);
    assert_eq!(request.attribute_consuming_service_index, Some(service));
    assert_eq!(request.acs_index, Some(0));
    assert!(request.force_authn);
    assert_eq!(
        request.requested_level().unwrap(),
        Some((Level::Eh3, Comparison::Minimum))
    );
    request
}

fn poort_response(
    s: &DvSetup,
    irt: &str,
    key: &SigningKey,
    encrypt_to: Option<PKey<Public>>,
) -> String {
    let acs = format!("{}/acs", s.url);
    let now = Utc::now();
    let content = AssertionContent {
        idp_entity_id: POORT_IDP,
        audience: DEMO_DV_ENTITY_ID,
        acs_url: &acs,
        in_response_to: irt,
        pseudonym: "ps-123",
        kvk: "12345678",
        company_name: "Bakkerij Test B.V.",
        service_id: "urn:etoegang:DV:00000099990000000002:services:1",
        service_uuid: "11111111-2222-3333-4444-555555555555",
        level_used: Level::Eh3,
        authenticating_authority: DEV_AD_ENTITY_ID,
        authn_instant: now,
        now,
        lifetime_seconds: 300,
    };
    let assertion = idp::signed_assertion(&content, key).unwrap();
    let body = match encrypt_to {
        Some(k) => encrypt::encrypt_assertion(&assertion, &k).unwrap(),
        None => assertion,
    };
    idp::signed_response(POORT_IDP, &acs, irt, None, Some(&body), now, key).unwrap()
}

async fn post_acs(s: &DvSetup, response: &str) -> reqwest::Response {
    client()
        .post(format!("{}/acs?format=json", s.url))
        .form(&[
            ("SAMLResponse", binding::encode_post(response).as_str()),
            ("RelayState", "demo-1"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn demo_dv_accepts_poort_and_refuses_foreign_or_unsigned() {
    let s = start_dv().await;

    // A correct answer from poort.
    let request = dv_request(&s, 1).await;
    let response = poort_response(&s, &request.id, &s.poort, None);
    let r = post_acs(&s, &response).await;
    assert_eq!(r.status(), 200);
    let outcome: AcsOutcome = r.json().await.unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.service_index, Some(1));
    assert_eq!(outcome.acting_subject_id.as_deref(), Some("ps-123"));
    assert_eq!(outcome.legal_subject_id.as_deref(), Some("12345678"));
    assert_eq!(outcome.company_name.as_deref(), Some("Bakkerij Test B.V."));
    assert_eq!(outcome.level.as_deref(), Some(Level::Eh3.uri()));
    assert_eq!(
        outcome.authenticating_authority,
        vec![DEV_AD_ENTITY_ID.to_string()]
    );
    assert_eq!(outcome.relay_state.as_deref(), Some("demo-1"));
    assert!(outcome.response_signed && outcome.assertion_signed);

    // The same answer again: its request was answered already.
    assert_eq!(post_acs(&s, &response).await.status(), 403);

    // Signed with a foreign key.
    let request = dv_request(&s, 2).await;
    let foreign = poort_response(&s, &request.id, &test_key(), None);
    let r = post_acs(&s, &foreign).await;
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);

    // Unsigned (a Response built without any signature).
    let acs = format!("{}/acs", s.url);
    let unsigned = AdResponse {
        sign_assertion: false,
        sign_response: false,
        ..AdResponse::new(
            POORT_IDP,
            &acs,
            &request.id,
            DEMO_DV_ENTITY_ID,
            "x",
            Level::Eh3,
        )
    }
    .build(&s.poort)
    .unwrap();
    assert_eq!(post_acs(&s, &unsigned).await.status(), 403);

    // Wrong audience, even when signed by poort.
    let wrong_audience =
        AdResponse::new(POORT_IDP, &acs, &request.id, "urn:other", "x", Level::Eh3)
            .build(&s.poort)
            .unwrap();
    assert_eq!(post_acs(&s, &wrong_audience).await.status(), 403);

    // Encrypted to the DV: accepted, and the request is still open after the refusals above.
    let encrypted = poort_response(&s, &request.id, &s.poort, Some(public(&s.dv_enc)));
    let r = post_acs(&s, &encrypted).await;
    assert_eq!(r.status(), 200);
    let outcome: AcsOutcome = r.json().await.unwrap();
    assert!(outcome.success && outcome.assertion_encrypted);
    assert_eq!(outcome.service_index, Some(2));

    // An error Response from poort, shown as HTML.
    let request = dv_request(&s, 1).await;
    let status = idp::SamlStatus {
        top: idp::STATUS_RESPONDER,
        second: Some(idp::STATUS_REQUEST_DENIED),
        message: "Geen machtiging".into(),
    };
    let error = idp::signed_response(
        POORT_IDP,
        &acs,
        &request.id,
        Some(&status),
        None,
        Utc::now(),
        &s.poort,
    )
    .unwrap();
    let r = client()
        .post(format!("{}/acs", s.url))
        .form(&[("SAMLResponse", binding::encode_post(&error))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Niet ingelogd") && html.contains(idp::STATUS_REQUEST_DENIED));

    // Garbage: a clear 4xx.
    let r = client()
        .post(format!("{}/acs", s.url))
        .form(&[("SAMLResponse", "not base64 !")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn demo_dv_redirect_binding_and_pages() {
    let s = start_dv().await;
    let c = client();
    let index = c
        .get(format!("{}/", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("Inloggen bij Belastingaangifte (demo)"));
    assert!(index.contains("Inloggen bij Vergunning aanvragen (demo)"));
    let r = c
        .get(format!("{}/login?service=2", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (endpoint, query) = location.split_once('?').unwrap();
    assert_eq!(endpoint, "http://poort.test/saml/sso");
    let message = RedirectMessage::decode(query, "SAMLRequest").unwrap();
    let dv_public = X509::from_der(&s.dv_cert).unwrap().public_key().unwrap();
    message.verify(&[dv_public]).unwrap();
    let request = AuthnRequest::parse(&message.xml).unwrap();
    assert_eq!(request.attribute_consuming_service_index, Some(2));
    assert!(request.requested_context.is_none(), "catalogue level");
    assert_eq!(
        c.get(format!("{}/login?service=9", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.get(format!("{}/login?service=1&level=EH1", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let md = c
        .get(format!("{}/metadata", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains(r#"use="encryption""#) && md.contains(DEMO_DV_ENTITY_ID));
}

#[test]
fn write_demo_metadata_from_cert_files() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs-dev");
    std::fs::create_dir_all(&certs).unwrap();
    for name in ["demo-dv-signing", "demo-dv-encryption", "dev-ad-signing"] {
        let k = test_key();
        let pem = X509::from_der(&k.cert_der).unwrap().to_pem().unwrap();
        std::fs::write(certs.join(format!("{name}.crt")), pem).unwrap();
    }
    let sp_dir = dir.path().join("metadata/sp");
    let idp_dir = dir.path().join("metadata/idp");
    demo::metadata::write_demo_metadata(
        &certs,
        &sp_dir,
        &idp_dir,
        "http://localhost:8081",
        "http://localhost:8082/",
    )
    .unwrap();
    let dv = std::fs::read_to_string(sp_dir.join("demo-dv.xml")).unwrap();
    assert!(dv.contains(r#"Location="http://localhost:8081/acs""#));
    assert!(dv.contains("urn:etoegang:DV:00000099990000000002:services:2"));
    let ad = std::fs::read_to_string(idp_dir.join("dev-ad.xml")).unwrap();
    assert!(ad.contains(r#"Location="http://localhost:8082/sso""#));
    xml::parse(&dv).unwrap();
    xml::parse(&ad).unwrap();
}
