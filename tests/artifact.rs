//! The HTTP-Artifact binding under attack, on both of poort's sides:
//! - poort's ArtifactResolutionService, resolved at by a test DV (and a test AD posing as it):
//!   each artifact once, only by its peer, only on a signed request, only while fresh, and only
//!   when it names poort's SourceID and EndpointIndex;
//! - poort as resolver, at a test AD whose ArtifactResolutionService misbehaves: unsigned,
//!   answering another request, wrapping a second Response, hanging, answering 10 MiB; and an
//!   artifact brought by another browser.
//! - two replicas sharing Redis: the browser brings the artifact to one, the DV resolves at the
//!   other.
//!
//! Every refusal is asserted by its reason: the code in poort's answer, or poort's log line for
//! the reference number on the page the person sees.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use common::{start_prepared, World};
use poort::domain::level::Level;
use poort::keys::SigningKey;
use poort::saml::artifact::Artifact;
use poort::saml::idp::AuthnRequest;
use poort::saml::xml::{self, BINDING_ARTIFACT as ARTIFACT, BINDING_SOAP as SOAP, NS_SAMLP};
use poort::saml::{binding, dsig, resolve, soap};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const DV_ID: &str = "urn:etoegang:DV:00000099990000000077:entities:9";
const SERVICE_ID: &str = "urn:etoegang:DV:00000099990000000077:services:1";
const DV_ACS: &str = "https://dv.test.invalid/acs";
const AD_ID: &str = "urn:etoegang:AD:00000099990000000088:entities:9";
const AD_SSO: &str = "https://ad.test.invalid/sso";
const AD_ARS_INDEX: u16 = 1;
const KVK: &str = "90000001";

// ---------------------------------------------------------------------------------------------
// poort's log, captured, so a refusal can be asserted by its reason.

fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter("poort=info")
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// poort's log lines about the reference number shown on `page`.
fn log_for_page(page: &str) -> String {
    let start = page
        .find("<code class=\"utrecht-code\">")
        .expect("a reference number")
        + "<code class=\"utrecht-code\">".len();
    let end = start + page[start..].find("</code>").unwrap();
    let reference = &page[start..end];
    let text = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains(reference))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// The world: poort with a test DV (artifact ACS only) and a test AD (Artifact-Artifact).

/// Fresh keys for the test DV and the test AD (not the world's demo peers'), from one set of
/// development certificates.
fn key_pairs() -> (SigningKey, SigningKey) {
    let d = tempfile::tempdir().unwrap();
    poort::devcerts::generate(d.path(), false).unwrap();
    let load = |stem: &str| {
        SigningKey::load(
            &d.path().join(format!("{stem}.key")),
            &d.path().join(format!("{stem}.crt")),
        )
        .unwrap()
    };
    (load("demo-dv-signing"), load("dev-ad-signing"))
}

fn cert_b64(key: &SigningKey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(&key.cert_der)
}

fn dv_metadata(key: &SigningKey) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{DV_ID}"><md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:AssertionConsumerService Binding="{ARTIFACT}" Location="{DV_ACS}" index="0" isDefault="true"/><md:AttributeConsumingService index="1" isDefault="true"><md:ServiceName xml:lang="nl">Artefactdienst</md:ServiceName><md:RequestedAttribute Name="{SERVICE_ID}" isRequired="true"/></md:AttributeConsumingService></md:SPSSODescriptor></md:EntityDescriptor>"#,
        cert_b64(key)
    )
}

fn ad_metadata(key: &SigningKey, ars: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{AD_ID}"><md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:ArtifactResolutionService Binding="{SOAP}" Location="{ars}" index="{AD_ARS_INDEX}"/><md:SingleSignOnService Binding="{ARTIFACT}" Location="{AD_SSO}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        cert_b64(key)
    )
}

fn seed() -> String {
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    format!(
        r#"[[organisation]]
kvk = "{KVK}"
name = "Artefact B.V."

[[person]]
id = "p1"
name = "Test Persoon"
links = [{{ idp = "{AD_ID}", subject = "p1" }}]

[[membership]]
person = "p1"
organisation = "{KVK}"
roles = ["gebruiker"]

[[grant]]
id = "g1"
person = "p1"
organisation = "{KVK}"
scope = {{ kind = "all_services" }}
level = "EH3"
valid_from = "{}"
valid_until = "{}"
status = "active"
"#,
        fmt(now - chrono::Duration::days(1)),
        fmt(now + chrono::Duration::days(365))
    )
}

/// How the test AD's ArtifactResolutionService answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AdArs {
    Good,
    Unsigned,
    OtherRequest,
    TwoResponses,
    Hang,
    Huge,
}

struct TestAd {
    key: SigningKey,
    behaviour: Mutex<AdArs>,
    /// Artifact → Response, each handed out once.
    stored: Mutex<HashMap<String, String>>,
}

async fn ad_ars(State(ad): State<Arc<TestAd>>, body: Bytes) -> axum::response::Response {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let request = soap::body(&text).unwrap();
    let doc = xml::parse(&request).unwrap();
    let root = doc.root_element();
    let id = root.attribute("ID").unwrap().to_string();
    let artifact = xml::text(xml::child(root, NS_SAMLP, "Artifact").unwrap());
    let message = ad.stored.lock().unwrap().remove(&artifact);
    let behaviour = *ad.behaviour.lock().unwrap();
    let now = chrono::Utc::now();
    let answer = match behaviour {
        AdArs::Good => {
            resolve::artifact_response(AD_ID, &id, message.as_deref(), now, &ad.key).unwrap()
        }
        AdArs::OtherRequest => {
            resolve::artifact_response(AD_ID, "_another", message.as_deref(), now, &ad.key).unwrap()
        }
        AdArs::TwoResponses => {
            let m = message.unwrap_or_default();
            let two = format!(
                "{}{}",
                dsig::strip_declaration(&m),
                dsig::strip_declaration(&m)
            );
            resolve::artifact_response(AD_ID, &id, Some(&two), now, &ad.key).unwrap()
        }
        AdArs::Unsigned => format!(
            r#"<samlp:ArtifactResponse xmlns:samlp="{NS_SAMLP}" ID="_u" Version="2.0" IssueInstant="{}" InResponseTo="{id}"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{}</samlp:ArtifactResponse>"#,
            xml::instant(now),
            dsig::strip_declaration(&message.unwrap_or_default())
        ),
        AdArs::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            String::new()
        }
        AdArs::Huge => return "x".repeat(10 * 1024 * 1024).into_response(),
    };
    (
        [("content-type", soap::CONTENT_TYPE)],
        soap::envelope(&answer),
    )
        .into_response()
}

struct Art {
    w: World,
    dv_key: SigningKey,
    ad: Arc<TestAd>,
    poort_cert: Vec<u8>,
}

async fn world(artifact_lifetime: i64, redis: Option<String>) -> Art {
    log();
    let (dv_key, ad_key) = key_pairs();
    let ad = Arc::new(TestAd {
        key: ad_key,
        behaviour: Mutex::new(AdArs::Good),
        stored: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ars = format!("http://{}/ars", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/ars", axum::routing::post(ad_ars))
        .with_state(ad.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (dv_md, ad_md) = (dv_metadata(&dv_key), ad_metadata(&ad.key, &ars));
    let w = start_prepared(|p, c| {
        std::fs::write(p.sp_dir.join("artifact-dv.xml"), &dv_md).unwrap();
        std::fs::write(p.idp_dir.join("artifact-ad.xml"), &ad_md).unwrap();
        let seed_file = p.dir.join("artifact-seed.toml");
        std::fs::write(&seed_file, seed()).unwrap();
        c.register.seed = Some(seed_file);
        let mut service = common::service(1, "EH3");
        service.id = SERVICE_ID.into();
        service.uuid = "7b3c2e10-4d5f-4a6b-8c9d-0000000000f1".into();
        service.provider = DV_ID.into();
        c.services.push(service);
        c.saml.artifact_lifetime_seconds = artifact_lifetime;
        c.backchannel.allow_plain_http = true;
        c.backchannel.timeout_seconds = 2;
        if let Some(url) = redis {
            c.state.redis_url = Some(url);
            c.state.prefix = format!("art-{}", uuid::Uuid::new_v4().simple());
        }
    })
    .await;
    let poort_cert = std::fs::read(w.certs.join("poort-signing.crt")).unwrap();
    let poort_cert = openssl::x509::X509::from_pem(&poort_cert)
        .unwrap()
        .to_der()
        .unwrap();
    Art {
        w,
        dv_key,
        ad,
        poort_cert,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The test DV's signed AuthnRequest (HTTP-Redirect, no RequestedAuthnContext, no service
/// index, ForceAuthn as real DVs send it) taken by `browser` up to the redirect to the test AD.
/// Returns the artifact poort gave the AD.
async fn to_ad(a: &Art, browser: &reqwest::Client, relay: &str) -> String {
    let sso = a.w.config.saml_url("/saml/sso");
    let id = xml::new_id();
    let request = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{sso}" ForceAuthn="true" AssertionConsumerServiceIndex="0"><saml:Issuer>{DV_ID}</saml:Issuer></samlp:AuthnRequest>"#,
        xml::instant(chrono::Utc::now())
    );
    let url = binding::redirect_url(&sso, "SAMLRequest", &request, Some(relay), &a.dv_key).unwrap();
    let r = browser.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let choice = r.headers()["location"].to_str().unwrap().to_string();
    let flow = query_param(&format!("{}{choice}", a.w.poort), "flow").unwrap();
    let r = browser
        .post(format!("{}/login/idp", a.w.poort))
        .form(&[("flow", flow.as_str()), ("idp", AD_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(AD_SSO), "{location}");
    assert_eq!(query_param(&location, "RelayState"), None);
    query_param(&location, "SAMLart").expect("an artifact for the AD")
}

/// Resolves `art` at poort's ArtifactResolutionService as `issuer` with `key`: the message
/// inside poort's verified ArtifactResponse.
async fn resolve_at_poort(a: &Art, issuer: &str, key: &SigningKey, art: &str) -> String {
    let (_, request) = resolve::artifact_resolve(
        issuer,
        &a.w.config.saml_url("/saml/artifact"),
        art,
        chrono::Utc::now(),
        key,
    )
    .unwrap();
    post_to_ars(a, &a.w.config.saml_url("/saml/artifact"), &request).await
}

async fn post_to_ars(a: &Art, url: &str, request: &str) -> String {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", soap::CONTENT_TYPE)
        .body(soap::envelope(request))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = soap::body(&r.text().await.unwrap()).unwrap();
    let answer =
        resolve::verify_artifact_response(&body, std::slice::from_ref(&a.poort_cert)).unwrap();
    assert_eq!(answer.status, poort::saml::idp::STATUS_SUCCESS);
    answer.message.expect("a message")
}

/// The StatusMessage of a refusal poort put inside its ArtifactResponse.
fn refusal(message: &str) -> String {
    let doc = xml::parse(message).unwrap();
    let status = xml::child(doc.root_element(), NS_SAMLP, "Status").unwrap();
    let top = xml::child(status, NS_SAMLP, "StatusCode").unwrap();
    assert_eq!(
        top.attribute("Value"),
        Some(poort::saml::idp::STATUS_REQUESTER),
        "{message}"
    );
    xml::text(xml::child(status, NS_SAMLP, "StatusMessage").unwrap())
}

/// The AD's part: resolves poort's AuthnRequest, makes the answer and keeps it behind an
/// artifact; returns that artifact.
async fn ad_answers(a: &Art, art_for_ad: &str) -> String {
    let message = resolve_at_poort(a, AD_ID, &a.ad.key, art_for_ad).await;
    let request = AuthnRequest::verify_enveloped(&message, std::slice::from_ref(&a.poort_cert))
        .expect("poort signs its AuthnRequest");
    assert_eq!(request.protocol_binding.as_deref(), Some(ARTIFACT));
    let acs = request.acs_url.clone().unwrap();
    assert_eq!(acs, a.w.config.saml_url("/saml/acs"));
    let response = poort::demo::ad_response::AdResponse::new(
        AD_ID,
        &acs,
        &request.id,
        &a.w.config.saml.sp_entity_id,
        "p1",
        Level::Eh3,
    )
    .build(&a.ad.key)
    .unwrap();
    let art = Artifact::new(AD_ID, AD_ARS_INDEX).encode();
    a.ad.stored.lock().unwrap().insert(art.clone(), response);
    art
}

/// The browser brings the AD's artifact to poort's ACS.
async fn to_acs(a: &Art, browser: &reqwest::Client, art: &str) -> reqwest::Response {
    browser
        .get(format!("{}/saml/acs/1.13", a.w.poort))
        .query(&[("SAMLart", art)])
        .send()
        .await
        .unwrap()
}

/// A whole Artifact-Artifact login up to poort's redirect to the DV: the DV's artifact.
async fn login(a: &Art, relay: &str) -> String {
    let b = browser();
    let for_ad = to_ad(a, &b, relay).await;
    let from_ad = ad_answers(a, &for_ad).await;
    let r = to_acs(a, &b, &from_ad).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    for (name, value) in [
        ("cache-control", "no-cache, no-store"),
        ("pragma", "no-cache"),
    ] {
        assert_eq!(
            r.headers()[name],
            value,
            "{name} on the answer to the browser"
        );
    }
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(DV_ACS), "{location}");
    assert_eq!(query_param(&location, "RelayState").as_deref(), Some(relay));
    assert!(query_param(&location, "SAMLResponse").is_none());
    query_param(&location, "SAMLart").expect("an artifact for the DV")
}

fn assert_allowed(a: &Art, response: &str) {
    let signed = dsig::verify(response, std::slice::from_ref(&a.poort_cert))
        .expect("poort's Response verifies");
    assert!(signed.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));
    assert!(
        response.contains(SERVICE_ID),
        "the ServiceID from the DV's metadata"
    );
    assert!(response.contains(KVK));
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn artifact_artifact_login_and_attacks_on_poorts_artifact_resolution_service() {
    let a = world(60, None).await;

    // The whole login, and the DV gets its Response once.
    let art = login(&a, "rs-1").await;
    // Another peer (the AD, validly signed as itself) cannot take the DV's artifact...
    let other = resolve_at_poort(&a, AD_ID, &a.ad.key, &art).await;
    assert!(refusal(&other).contains("artifact_other_peer"), "{other}");
    // ...nor can a request that claims to be the DV but is signed with another key...
    let forged = resolve_at_poort(&a, DV_ID, &a.ad.key, &art).await;
    assert!(
        refusal(&forged).contains("artifact_resolve_signature"),
        "{forged}"
    );
    // ...nor an unsigned one.
    let unsigned = format!(
        r#"<samlp:ArtifactResolve xmlns:samlp="{NS_SAMLP}" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="{}"><saml:Issuer>{DV_ID}</saml:Issuer><samlp:Artifact>{art}</samlp:Artifact></samlp:ArtifactResolve>"#,
        xml::instant(chrono::Utc::now())
    );
    let m = post_to_ars(&a, &a.w.config.saml_url("/saml/artifact"), &unsigned).await;
    assert!(refusal(&m).contains("artifact_resolve_signature"), "{m}");
    // ...nor one that is old, or meant for another ArtifactResolutionService.
    let ars = a.w.config.saml_url("/saml/artifact");
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let (_, stale) = resolve::artifact_resolve(DV_ID, &ars, &art, an_hour_ago, &a.dv_key).unwrap();
    let m = post_to_ars(&a, &ars, &stale).await;
    assert!(refusal(&m).contains("artifact_resolve_stale"), "{m}");
    let (_, elsewhere) = resolve::artifact_resolve(
        DV_ID,
        "https://other.example/ars",
        &art,
        chrono::Utc::now(),
        &a.dv_key,
    )
    .unwrap();
    let m = post_to_ars(&a, &ars, &elsewhere).await;
    assert!(refusal(&m).contains("artifact_resolve_destination"), "{m}");
    // None of that spent it: the DV resolves it, once.
    let response = resolve_at_poort(&a, DV_ID, &a.dv_key, &art).await;
    assert_allowed(&a, &response);
    let again = resolve_at_poort(&a, DV_ID, &a.dv_key, &art).await;
    assert!(
        refusal(&again).contains("artifact_already_resolved"),
        "{again}"
    );

    // Forged artifacts: SourceID not poort's, EndpointIndex not poort's, a guessed handle.
    let mut forged = Artifact::decode(&login(&a, "").await).unwrap();
    let real = forged.clone();
    forged.source_id = poort::saml::artifact::source_id(DV_ID);
    let m = resolve_at_poort(&a, DV_ID, &a.dv_key, &forged.encode()).await;
    assert!(refusal(&m).contains("artifact_source_id"), "{m}");
    let mut forged = real.clone();
    forged.endpoint_index = 7;
    let m = resolve_at_poort(&a, DV_ID, &a.dv_key, &forged.encode()).await;
    assert!(refusal(&m).contains("artifact_endpoint_index"), "{m}");
    let guessed = Artifact::new(&a.w.config.saml.idp_entity_id, 0);
    let m = resolve_at_poort(&a, DV_ID, &a.dv_key, &guessed.encode()).await;
    assert!(refusal(&m).contains("artifact_unknown"), "{m}");
    // The real one (with an empty RelayState, kept as empty) still works.
    assert_allowed(
        &a,
        &resolve_at_poort(&a, DV_ID, &a.dv_key, &real.encode()).await,
    );

    // Not SOAP at all: a SOAP fault.
    let r = reqwest::Client::new()
        .post(a.w.config.saml_url("/saml/artifact"))
        .body("<not-soap/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.text().await.unwrap().contains("not a SOAP 1.1 Envelope"));
}

#[tokio::test]
async fn an_expired_artifact_is_refused() {
    // Lifetime 0: expired the moment it is issued, and told apart from an unknown one.
    let a = world(0, None).await;
    let b = browser();
    let for_ad = to_ad(&a, &b, "rs").await;
    let m = resolve_at_poort(&a, AD_ID, &a.ad.key, &for_ad).await;
    assert!(refusal(&m).contains("artifact_expired"), "{m}");
}

#[tokio::test]
async fn a_misbehaving_artifact_resolution_service_at_the_ad_is_refused() {
    let a = world(60, None).await;
    let cases = [
        (AdArs::Unsigned, "ArtifactResponse is not signed"),
        (AdArs::OtherRequest, "answers another request"),
        (AdArs::TwoResponses, "holds 2 messages"),
        (AdArs::Huge, "larger than"),
        (AdArs::Hang, "did not answer within 2 s"),
    ];
    for (behaviour, why) in cases {
        *a.ad.behaviour.lock().unwrap() = behaviour;
        let b = browser();
        let for_ad = to_ad(&a, &b, "rs").await;
        let from_ad = ad_answers(&a, &for_ad).await;
        let started = std::time::Instant::now();
        let r = to_acs(&a, &b, &from_ad).await;
        let status = r.status();
        let page = r.text().await.unwrap();
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{behaviour:?}: {page}"
        );
        assert!(
            !page.contains("SAMLart"),
            "{behaviour:?}: nothing goes to the DV"
        );
        let logged = log_for_page(&page);
        assert!(
            logged.contains(why),
            "{behaviour:?}: expected {why:?} in {logged}"
        );
        assert!(
            // The hanging peer would answer after 30 s; poort gives up after its 2 s limit.
            started.elapsed() < std::time::Duration::from_secs(15),
            "{behaviour:?}: the back channel's limits hold"
        );
    }
    // With the AD behaving, the same steps log in.
    *a.ad.behaviour.lock().unwrap() = AdArs::Good;
    assert_allowed(
        &a,
        &resolve_at_poort(&a, DV_ID, &a.dv_key, &login(&a, "rs").await).await,
    );
}

#[tokio::test]
async fn an_artifact_replayed_into_another_browsers_flow_is_refused() {
    let a = world(60, None).await;
    let victim = browser();
    let for_ad = to_ad(&a, &victim, "rs").await;
    let from_ad = ad_answers(&a, &for_ad).await;
    // The attacker's browser brings the victim's artifact first.
    let attacker = browser();
    let r = to_acs(&a, &attacker, &from_ad).await;
    let page = r.text().await.unwrap();
    assert!(!page.contains("SAMLart"), "{page}");
    let logged = log_for_page(&page);
    assert!(logged.contains("belongs to another browser"), "{logged}");
    // The AD hands each artifact out once, so the victim's browser is refused too, and says so.
    let r = to_acs(&a, &victim, &from_ad).await;
    let page = r.text().await.unwrap();
    let logged = log_for_page(&page);
    assert!(logged.contains("holds no message"), "{logged}");
}

#[tokio::test]
async fn an_artifact_issued_by_one_replica_is_resolved_at_the_other() {
    let redis = common::cluster::ThrowawayRedis::start();
    let a = world(60, Some(redis.url())).await;
    // A second replica: the same configuration and shared state, its own listener.
    let mut config = a.w.config.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    config.server.listen = listener.local_addr().unwrap().to_string();
    config.register.audit_spool = a.w.dir.path().join("data/other-spool.jsonl");
    let state = poort::app::build_state(config).await.unwrap();
    tokio::spawn(poort::app::serve(state, listener));

    let art = login(&a, "rs-r").await;
    // The DV resolves at the other replica (its Destination is the shared public URL).
    let (_, request) = resolve::artifact_resolve(
        DV_ID,
        &a.w.config.saml_url("/saml/artifact"),
        &art,
        chrono::Utc::now(),
        &a.dv_key,
    )
    .unwrap();
    let response = post_to_ars(&a, &format!("{other}/saml/artifact/1.13"), &request).await;
    assert_allowed(&a, &response);
    // And it is spent on both.
    let again = resolve_at_poort(&a, DV_ID, &a.dv_key, &art).await;
    assert!(
        refusal(&again).contains("artifact_already_resolved"),
        "{again}"
    );
}
