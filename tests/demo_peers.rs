//! The demo peers over HTTP: the dev AD answers poort's AuthnRequests with Responses that poort's
//! own SP checks accept, and the demo DV accepts only Responses signed by poort. With the
//! HTTP-Artifact binding (as under `poort demo`), whole logins run through poort with only
//! artifacts crossing the browser.

mod common;

use chrono::{Duration, Utc};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::{X509NameBuilder, X509};
use poort::demo::{
    self, AcsOutcome, AdResponse, DemoDv, DevAd, DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID,
};
use poort::domain::level::{Comparison, Level};
use poort::keys::SigningKey;
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
    let request = sp::AdRequest::new(&id, POORT_SP, &sso, POORT_ACS, Level::Eh3, Utc::now())
        .write(None)
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
            // What a log-out message to the AD must name: its NameID and SessionIndex.
            let name_id = a.upstream.name_id.expect("the NameID kept");
            assert_eq!(name_id.value, "anna");
            assert_eq!(
                name_id.format.as_deref(),
                Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
            );
            assert!(a.upstream.session_index.is_some_and(|i| !i.is_empty()));
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
    let request = sp::AdRequest::new(
        "_x1",
        POORT_SP,
        &format!("{}/sso", s.url),
        POORT_ACS,
        Level::Eh3,
        Utc::now(),
    )
    .write(None)
    .unwrap();
    let r = c
        .post(format!("{}/sso", s.url))
        .form(&[("SAMLRequest", binding::encode_post(&request))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Signed enveloped with poort's key: accepted.
    let signed = sp::AdRequest::new(
        "_x2",
        POORT_SP,
        &format!("{}/sso", s.url),
        POORT_ACS,
        Level::Eh2,
        Utc::now(),
    )
    .write(Some(&s.poort))
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
        legal_subject: &[(
            poort::domain::identifiers::IdentifierType::KvKnr,
            "12345678",
        )],
        company_name: "Bakkerij Test B.V.",
        service_id: "urn:etoegang:DV:00000099990000000002:services:1",
        service_uuid: "11111111-2222-3333-4444-555555555555",
        level_used: Level::Eh3,
        authenticating_authority: DEV_AD_ENTITY_ID,
        authn_instant: now,
        now,
        lifetime_seconds: 300,
        further_attributes: "",
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

// ---------------------------------------------------------------------------------------------
// The HTTP-Artifact binding: the demo peers as `poort demo` runs them, with poort in between.

/// A browser for the artifact flows: keeps cookies, follows redirects and records every URL it
/// is sent to, and asks the DV for its verdict as JSON (`Accept: application/json`).
struct ArtBrowser {
    c: reqwest::Client,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

fn art_browser() -> ArtBrowser {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        record.lock().unwrap().push(attempt.url().to_string());
        if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(policy)
        .default_headers(headers)
        .build()
        .unwrap();
    ArtBrowser { c, seen }
}

impl ArtBrowser {
    /// The URLs the browser was redirected to since the last call.
    fn redirects(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// No SAML message in a URL or page the browser saw: only artifacts.
fn only_artifacts(what: &str) {
    assert!(
        !what.contains("SAMLRequest") && !what.contains("SAMLResponse"),
        "a SAML message crossed the browser: {what}"
    );
}

/// The `SAMLart` (and RelayState) of a URL; asserts it is an artifact of 60 characters.
fn artifact_of(url: &str) -> (String, Option<String>) {
    let parsed = reqwest::Url::parse(url).unwrap();
    let get = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let art = get("SAMLart").unwrap_or_else(|| panic!("no SAMLart in {url}"));
    assert_eq!(art.len(), 60, "{url}");
    (art, get("RelayState"))
}

/// From the DV's `/login` (with `query`) to the dev AD's login page.
async fn art_to_ad(w: &common::World, b: &ArtBrowser, query: &str) -> String {
    let r =
        b.c.get(format!("{}/login?{query}", w.dv))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let mut page = r.text().await.unwrap();
    if page.contains(r#"name="SAMLRequest""#) {
        // The HTTP-POST binding for the request: its auto-posting form, submitted.
        page = common::submit(&b.c, &page, &[]).await.text().await.unwrap();
    }
    assert!(
        page.contains(r#"name="pending""#),
        "AD page expected: {page}"
    );
    assert!(
        page.contains("geverifieerd / verified"),
        "poort's request verified"
    );
    only_artifacts(&page);
    page
}

#[tokio::test]
async fn artifact_artifact_login_with_organisation_choice() {
    let w = common::start_artifact().await;
    let b = art_browser();
    let ad_page = art_to_ad(&w, &b, "service=1").await;
    // DV -> poort by artifact (at poort's versioned SSO), poort -> AD by artifact.
    let hops = b.redirects();
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert!(
        hops[0].starts_with(&format!("{}/saml/sso/1.13?SAMLart=", w.poort)),
        "{hops:?}"
    );
    let (_, relay) = artifact_of(&hops[0]);
    let relay = relay.expect("the DV's RelayState");
    assert!(
        hops[1].starts_with(&format!("{}/sso?SAMLart=", w.ad)),
        "{hops:?}"
    );
    assert_eq!(
        artifact_of(&hops[1]).1,
        None,
        "poort sends the AD no RelayState"
    );

    // AD -> poort by artifact; anna chooses her organisation at poort.
    let r = common::submit(
        &b.c,
        &ad_page,
        &[("person", "anna"), ("level", "EH3"), ("action", "login")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.url().path(), "/login/organisation");
    let choice = r.text().await.unwrap();
    only_artifacts(&choice);
    let hops = b.redirects();
    assert!(
        hops[0].starts_with(&format!("{}/saml/acs/1.13?SAMLart=", w.poort)),
        "{hops:?}"
    );
    artifact_of(&hops[0]);

    // poort -> DV by artifact; the DV resolves it at poort and gives its verdict.
    let r = common::submit_at(&b.c, &w.poort, &choice, &[("organisation", "12345678")]).await;
    assert_eq!(r.status(), 200);
    let hops = b.redirects();
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert!(
        hops[0].starts_with(&format!("{}/acs?SAMLart=", w.dv)),
        "{hops:?}"
    );
    assert_eq!(artifact_of(&hops[0]).1.as_deref(), Some(relay.as_str()));
    let v: AcsOutcome = r.json().await.unwrap();
    assert!(v.success, "{v:?}");
    assert_eq!(v.service_index, Some(1));
    assert_eq!(
        v.service_id.as_deref(),
        Some("urn:etoegang:DV:00000099990000000002:services:1")
    );
    assert_eq!(v.legal_subject_id.as_deref(), Some("12345678"));
    assert_eq!(
        v.company_name.as_deref(),
        Some("Bakkerij De Gouden Korst B.V.")
    );
    assert_eq!(v.level.as_deref(), Some(Level::Eh3.uri()));
    assert_eq!(v.relay_state.as_deref(), Some(relay.as_str()));
    assert_eq!(
        v.authenticating_authority,
        vec![DEV_AD_ENTITY_ID.to_string()]
    );
    assert!(v.response_signed && v.assertion_signed && v.assertion_encrypted);
}

#[tokio::test]
async fn artifact_login_cancelled_at_the_ad() {
    let w = common::start_artifact().await;
    let b = art_browser();
    let ad_page = art_to_ad(&w, &b, "service=2").await;
    b.redirects();
    let r = common::submit(&b.c, &ad_page, &[("action", "cancel")]).await;
    assert_eq!(r.status(), 200);
    let hops = b.redirects();
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert!(hops[0].starts_with(&format!("{}/saml/acs/1.13?SAMLart=", w.poort)));
    assert!(hops[1].starts_with(&format!("{}/acs?SAMLart=", w.dv)));
    hops.iter().for_each(|h| only_artifacts(h));
    let v: AcsOutcome = r.json().await.unwrap();
    assert!(!v.success);
    assert_eq!(v.status, idp::STATUS_RESPONDER);
    assert_eq!(v.second_status.as_deref(), Some(idp::STATUS_AUTHN_FAILED));
    assert_eq!(
        v.status_message.as_deref(),
        Some("Authentication cancelled")
    );
    assert_eq!(v.service_index, Some(2));
}

/// The request by HTTP-POST or HTTP-Redirect, everything after it by artifact: the DV's
/// metadata asks for the answer by artifact (ACS index 0), the AD's offers Artifact-Artifact.
#[tokio::test]
async fn post_artifact_and_redirect_artifact() {
    let w = common::start_artifact().await;
    for binding in ["post", "redirect"] {
        let b = art_browser();
        let ad_page = art_to_ad(&w, &b, &format!("service=2&binding={binding}")).await;
        let hops = b.redirects();
        assert!(
            hops.iter()
                .any(|h| h.starts_with(&format!("{}/sso?SAMLart=", w.ad))),
            "{binding}: {hops:?}"
        );
        let r = common::submit(
            &b.c,
            &ad_page,
            &[
                ("person", "bram"),
                ("level", "EH2+"),
                ("action", "login"),
                ("sign", "both"),
            ],
        )
        .await;
        assert_eq!(r.status(), 200);
        let hops = b.redirects();
        assert_eq!(hops.len(), 2, "{binding}: {hops:?}");
        assert!(hops[0].starts_with(&format!("{}/saml/acs/1.13?SAMLart=", w.poort)));
        assert!(hops[1].starts_with(&format!("{}/acs?SAMLart=", w.dv)));
        hops.iter().for_each(|h| only_artifacts(h));
        let v: AcsOutcome = r.json().await.unwrap();
        assert!(v.success, "{binding}: {v:?}");
        assert_eq!(v.legal_subject_id.as_deref(), Some("11223344"));
        assert_eq!(v.level.as_deref(), Some(Level::Eh2Plus.uri()));
        assert_eq!(
            v.service_id.as_deref(),
            Some("urn:etoegang:DV:00000099990000000002:services:2")
        );
    }
}

fn world_key(w: &common::World, name: &str) -> SigningKey {
    SigningKey::load(
        &w.certs.join(format!("{name}.key")),
        &w.certs.join(format!("{name}.crt")),
    )
    .unwrap()
}

fn back_channel() -> poort::saml::backchannel::BackChannel {
    poort::saml::backchannel::BackChannel::new(&poort::config::BackChannelConfig {
        allow_plain_http: true,
        ..Default::default()
    })
    .unwrap()
}

/// Resolves `art` at `ars` as `issuer` with `key`; the peer's answer must be signed by `peer`.
async fn resolve_as(
    issuer: &str,
    key: &SigningKey,
    peer: (&str, &str, &SigningKey),
    art: &str,
) -> Result<String, poort::saml::backchannel::BackChannelError> {
    use poort::saml::backchannel::{Peer, Resolver};
    let certs = [peer.2.cert_der.clone()];
    back_channel()
        .resolve(
            &Resolver { issuer, key },
            &Peer {
                entity_id: peer.0,
                ars_url: peer.1,
                certs: &certs,
            },
            art,
            Utc::now(),
        )
        .await
        .map(|a| a.message.unwrap_or_default())
}

/// The demo peers' ArtifactResolutionServices hand each message out once, to poort only, on a
/// request poort signed; the rest gets a SOAP fault or an answer without a message.
#[tokio::test]
async fn demo_peers_hand_out_each_artifact_once_to_poort_only() {
    use poort::saml::backchannel::BackChannelError;
    use poort::saml::soap::SoapError;
    let w = common::start_artifact().await;
    let poort_key = world_key(&w, "poort-signing");
    let dv_key = world_key(&w, "demo-dv-signing");
    let ad_key = world_key(&w, "dev-ad-signing");
    let (idp_id, sp_id) = (&w.config.saml.idp_entity_id, &w.config.saml.sp_entity_id);
    let (c, follow) = common::browser();

    // The DV's AuthnRequest artifact, caught before the browser brings it to poort.
    let r = c
        .get(format!("{}/login?service=1&level=EH3", w.dv))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (art, _) = artifact_of(r.headers()["location"].to_str().unwrap());
    let dv_ars = format!("{}/ars", w.dv);
    let dv = (DEMO_DV_ENTITY_ID, dv_ars.as_str(), &dv_key);
    // Not poort: refused by name, and by key.
    let e = resolve_as(DEV_AD_ENTITY_ID, &ad_key, dv, &art)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackChannelError::Soap(SoapError::Fault(m)) if m.contains("only poort")),
        "{e}"
    );
    let e = resolve_as(idp_id, &ad_key, dv, &art).await.unwrap_err();
    assert!(
        matches!(&e, BackChannelError::Soap(SoapError::Fault(m)) if m.contains("not validly signed by poort")),
        "{e}"
    );
    // poort: the signed AuthnRequest, once.
    let request = resolve_as(idp_id, &poort_key, dv, &art).await.unwrap();
    let request =
        AuthnRequest::verify_enveloped(&request, std::slice::from_ref(&dv_key.cert_der)).unwrap();
    assert_eq!(request.issuer, DEMO_DV_ENTITY_ID);
    assert_eq!(
        request.destination.as_deref(),
        Some(format!("{}/saml/sso/1.13", w.poort).as_str())
    );
    assert_eq!(
        request.requested_level().unwrap(),
        Some((Level::Eh3, Comparison::Minimum))
    );
    let e = resolve_as(idp_id, &poort_key, dv, &art).await.unwrap_err();
    assert!(matches!(e, BackChannelError::NoMessage), "{e}");
    // Not SOAP at all.
    let r = client()
        .post(&dv_ars)
        .body("<not-soap/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.text().await.unwrap().contains("Fault"));

    // The AD's answer artifact, caught on its way to poort.
    let r = follow
        .get(format!("{}/login?service=2", w.dv))
        .send()
        .await
        .unwrap();
    let ad_page = r.text().await.unwrap();
    let (action, mut fields) = common::form(&ad_page);
    for (k, v) in [("person", "bram"), ("level", "EH2+"), ("action", "login")] {
        fields.insert(k.into(), v.into());
    }
    let r = c.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/saml/acs/1.13?", w.poort)),
        "{location}"
    );
    let (art, _) = artifact_of(&location);
    let ad_ars = format!("{}/ars", w.ad);
    let ad = (DEV_AD_ENTITY_ID, ad_ars.as_str(), &ad_key);
    // poort as IdP is not who the AD answers (it answers poort's SP).
    let e = resolve_as(idp_id, &poort_key, ad, &art).await.unwrap_err();
    assert!(
        matches!(&e, BackChannelError::Soap(SoapError::Fault(_))),
        "{e}"
    );
    let response = resolve_as(sp_id, &poort_key, ad, &art).await.unwrap();
    let doc = xml::parse(&response).unwrap();
    assert!(xml::is(doc.root_element(), xml::NS_SAMLP, "Response"));
    assert_eq!(
        doc.root_element().attribute("Destination"),
        Some(format!("{}/saml/acs/1.13", w.poort).as_str())
    );
    let e = resolve_as(sp_id, &poort_key, ad, &art).await.unwrap_err();
    assert!(matches!(e, BackChannelError::NoMessage), "{e}");
    // poort no longer gets it either: the login stops with a page, not a crash.
    let r = follow.get(&location).send().await.unwrap();
    assert!(r.status().is_client_error() || r.status().is_server_error());
}

/// Bad artifacts at the demo peers' endpoints: a clear 4xx page (or JSON), never a panic.
#[tokio::test]
async fn demo_peers_refuse_bad_artifacts_clearly() {
    let w = common::start_artifact().await;
    let c = client();
    let get = |url: String| {
        let c = c.clone();
        async move {
            let r = c.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = get(format!("{}/acs", w.dv)).await;
    assert_eq!(status, 400);
    assert!(text.contains("no SAMLart"), "{text}");
    let (status, text) = get(format!("{}/acs?SAMLart=garbage&format=json", w.dv)).await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["success"], false);
    assert!(v["error"].as_str().unwrap().contains("not a SAML artifact"));
    let foreign = poort::saml::artifact::Artifact::new("urn:someone:else", 0).encode();
    let q = |a: &str| url::form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>();
    let (status, text) = get(format!("{}/acs?SAMLart={}", w.dv, q(&foreign))).await;
    assert_eq!(status, 400);
    assert!(text.contains("not poort"), "{text}");
    let (status, _) = get(format!("{}/acs?SAMLart=a&SAMLart=b", w.dv)).await;
    assert_eq!(status, 400);
    // A well-formed artifact of poort's that poort never issued: poort's reason is shown.
    let unknown = poort::saml::artifact::Artifact::new(&w.config.saml.idp_entity_id, 0).encode();
    let (status, text) = get(format!("{}/acs?SAMLart={}", w.dv, q(&unknown))).await;
    assert_eq!(status, 403);
    assert!(text.contains("artifact_unknown"), "{text}");
    let r = c
        .post(format!("{}/acs", w.dv))
        .form(&[("SAMLart", "x"), ("SAMLResponse", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The AD: by GET and by POST.
    let (status, text) = get(format!("{}/sso?SAMLart=garbage", w.ad)).await;
    assert_eq!(status, 400);
    assert!(text.contains("not a SAML artifact"), "{text}");
    let r = c
        .post(format!("{}/sso", w.ad))
        .form(&[("SAMLart", foreign.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, _) = get(format!("{}/login?service=1&binding=soap", w.dv)).await;
    assert_eq!(status, 400);

    // What the peers publish is what poort trusts, and the DV offers the artifact binding first.
    let md = get(format!("{}/metadata", w.dv)).await.1;
    assert_eq!(
        md,
        std::fs::read_to_string(w.config.saml.sp_metadata_dir.join("demo-dv.xml")).unwrap()
    );
    let md = get(format!("{}/metadata", w.ad)).await.1;
    assert_eq!(
        md,
        std::fs::read_to_string(w.config.saml.idp_metadata_dir.join("dev-ad.xml")).unwrap()
    );
    let index = get(format!("{}/", w.dv)).await.1;
    assert!(
        index.contains(r#"<option value="artifact" selected>"#),
        "{index}"
    );
}

/// A DV that speaks HTTP-Redirect and HTTP-POST only does not send by artifact: its metadata
/// has no ArtifactResolutionService where poort could resolve it.
#[tokio::test]
async fn post_redirect_dv_does_not_send_by_artifact() {
    let s = start_dv().await;
    let r = client()
        .get(format!("{}/login?service=1&binding=artifact", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("redirect, post"));
}
