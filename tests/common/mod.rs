//! A whole world for end-to-end tests: poort, the demo DV and the development AD, each on a free
//! localhost port, with fresh keys and metadata in a temporary folder.

#![allow(dead_code)]

pub mod browser;
pub mod catalogue;
pub mod cluster;
pub mod matrix;
pub mod me_api;
pub mod oidc_ad;
pub mod oidc_rp;
pub mod operator;
pub mod publisher;

use poort::config::{
    CacheConfig, Config, KeysConfig, RegisterConfig, SamlConfig, ServerConfig, ServiceConfig,
};
use poort::demo::ad_response::AdResponse;
use std::collections::HashMap;
use std::path::PathBuf;

pub struct World {
    pub poort: String,
    /// The ops listener: `/metrics`, `/healthz`, `/readyz`.
    pub ops: String,
    pub dv: String,
    pub ad: String,
    pub dir: tempfile::TempDir,
    pub certs: PathBuf,
    pub config: Config,
    /// The register of the running poort, for tests that change grants mid-run.
    pub registry: poort::grants::Registry,
}

pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn service(index: u16, level: &str) -> ServiceConfig {
    ServiceConfig::new(
        format!("urn:etoegang:DV:00000099990000000002:services:{index}"),
        format!("5a1d3b0e-8c9f-4f5e-9b1a-00000000000{index}"),
        (format!("Dienst {index}"), format!("Service {index}")),
        poort::demo::DEMO_DV_ENTITY_ID,
        index,
        level.parse().unwrap(),
    )
}

/// Every test client comes from 127.0.0.1: limits far above what a test does (tests/limits.rs
/// sets its own).
pub fn test_limits() -> poort::config::LimitsConfig {
    poort::config::LimitsConfig {
        max_flows_per_client: 1_000_000,
        login_starts_per_minute: 1_000_000,
        token_requests_per_minute: 1_000_000,
        admin_logins_per_minute: 1_000_000,
        ..Default::default()
    }
}

pub async fn start() -> World {
    start_prepared(|_, _| {}).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .unwrap()
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form of a page: its action and its hidden fields.
pub fn form(html: &str) -> (String, HashMap<String, String>) {
    let start = html.find("<form").expect("page has a form");
    let tag_end = start + html[start..].find('>').unwrap();
    let action = attr(&html[start..tag_end], "action").unwrap_or_default();
    let mut fields = HashMap::new();
    let mut rest = &html[start..];
    while let Some(i) = rest.find("<input") {
        let end = i + rest[i..].find('>').unwrap();
        let tag = &rest[i..end];
        if tag.contains("type=\"hidden\"") {
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                fields.insert(n, v);
            }
        }
        rest = &rest[end..];
    }
    (unescape(&action), fields)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + j]))
}

/// Posts a page's form as a browser would.
pub async fn submit(
    client: &reqwest::Client,
    html: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    submit_at(client, "", html, extra).await
}

/// Posts a page's form; a relative action is resolved against `base`.
pub async fn submit_at(
    client: &reqwest::Client,
    base: &str,
    html: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (mut action, mut fields) = form(html);
    if action.starts_with('/') {
        action = format!("{base}{action}");
    }
    for (k, v) in extra {
        fields.insert(k.to_string(), v.to_string());
    }
    client.post(&action).form(&fields).send().await.unwrap()
}

/// Where a world's files and peers are, while it is being prepared (before poort starts).
pub struct Prepared {
    pub poort: String,
    pub dv: String,
    pub ad: String,
    pub dir: PathBuf,
    pub certs: PathBuf,
    pub sp_dir: PathBuf,
    pub idp_dir: PathBuf,
}

/// Like [`start`], but `prepare` may write files (extra metadata, keys) and change the config
/// before poort reads them and starts.
pub async fn start_prepared(prepare: impl FnOnce(&Prepared, &mut Config)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    poort::devcerts::generate(&certs, false).unwrap();
    let sp_dir = dir.path().join("sp");
    let idp_dir = dir.path().join("idp");
    std::fs::create_dir_all(&sp_dir).unwrap();
    std::fs::create_dir_all(&idp_dir).unwrap();
    let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let (pl, dl, al) = (bind().await, bind().await, bind().await);
    let url = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().unwrap());
    let (poort, dv, ad) = (url(&pl), url(&dl), url(&al));
    poort::demo::metadata::write_demo_metadata(&certs, &sp_dir, &idp_dir, &dv, &ad).unwrap();
    let mut config = Config {
        server: ServerConfig {
            listen: pl.local_addr().unwrap().to_string(),
            public_url: poort.clone(),
            production: false,
            max_body_bytes: 256 * 1024,
            ..ServerConfig::default()
        },
        saml: SamlConfig {
            idp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:1".into(),
            sp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:2".into(),
            sp_metadata_dir: sp_dir.clone(),
            idp_metadata_dir: idp_dir.clone(),
            clock_skew_seconds: 60,
            request_max_age_seconds: 300,
            assertion_lifetime_seconds: 300,
            flow_lifetime_seconds: 900,
            artifact_lifetime_seconds: 60,
            framework_version: "1.13".into(),
        },
        keys: KeysConfig {
            signing_key: certs.join("poort-signing.key"),
            signing_cert: certs.join("poort-signing.crt"),
            encryption_key: certs.join("poort-encryption.key"),
            encryption_cert: certs.join("poort-encryption.crt"),
            pseudonym_secret: certs.join("pseudonym.secret"),
            dev_certs_dir: certs.clone(),
        },
        register: RegisterConfig {
            database: format!("sqlite://{}", dir.path().join("data/register.db").display()),
            seed: Some(repo_file("config/grants-dev.toml")),
            audit_spool: dir.path().join("data/audit-spool.jsonl"),
            audit_retry_seconds: 1,
        },
        cache: CacheConfig::default(),
        state: Default::default(),
        services: vec![service(1, "EH3"), service(2, "EH2+")],
        catalogues: vec![],
        metadata_aggregates: vec![],
        dvs: vec![],
        oidc_clients: vec![],
        oidc_providers: vec![],
        backchannel: Default::default(),
        ops: Default::default(),
        log: Default::default(),
        telemetry: Default::default(),
        limits: test_limits(),
        theme: Default::default(),
        operator: Default::default(),
        login_session: Default::default(),
        // Expiry reminders only when a test asks (tests/notifications.rs calls them itself).
        admin: poort::config::AdminConfig {
            reminder_interval_seconds: 0,
            ..Default::default()
        },
        mail: poort::config::MailConfig {
            outbox_dir: dir.path().join("mail"),
            ..Default::default()
        },
        oidc: poort::config::OidcConfig {
            keys_dir: certs.join("oidc"),
            ..Default::default()
        },
    };
    let prepared = Prepared {
        poort: poort.clone(),
        dv: dv.clone(),
        ad: ad.clone(),
        dir: dir.path().to_path_buf(),
        certs: certs.clone(),
        sp_dir,
        idp_dir,
    };
    prepare(&prepared, &mut config);
    let state = poort::app::build_state(config.clone()).await.unwrap();
    let registry = state.registry.clone();
    let ol = bind().await;
    let ops = url(&ol);
    tokio::spawn(poort::server::run(
        state,
        pl,
        Some(ol),
        std::future::pending(),
    ));
    let peers = poort::demo::DemoPeers::from_dir(&certs, &dv, &ad, &poort).unwrap();
    tokio::spawn(poort::demo::serve(dl, peers.dv_router()));
    tokio::spawn(poort::demo::serve(al, peers.ad_router()));
    World {
        poort,
        ops,
        dv,
        ad,
        dir,
        certs,
        config,
        registry,
    }
}

/// The demo DV's signing key of a world.
pub fn dv_key(w: &World) -> poort::keys::SigningKey {
    poort::keys::SigningKey::load(
        &w.certs.join("demo-dv-signing.key"),
        &w.certs.join("demo-dv-signing.crt"),
    )
    .unwrap()
}

/// Posts poort's answer form to the DV and returns the DV's verdict.
pub async fn to_dv(c: &reqwest::Client, poort_page: &str) -> serde_json::Value {
    let (action, fields) = form(poort_page);
    let r = c
        .post(format!("{action}?format=json"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "DV refused poort's answer");
    r.json().await.unwrap()
}

/// From `/admin` through the development AD as `person` at `level`: the last response.
pub async fn admin_login(
    w: &World,
    c: &reqwest::Client,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let ad_page = page(c, format!("{}/admin", w.poort)).await;
    assert_ad_page(&ad_page);
    through_ad(c, &ad_page, person, level).await
}

/// A login at the demo DV for `service` (redirect binding), stopped where poort sends the
/// person to the AD: the client (with poort's cookie) and poort's AuthnRequest to the AD, as
/// sent.
pub async fn stopped_at_ad(w: &World, service: u16) -> (reqwest::Client, String) {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|a| {
            if a.url().path() == "/sso" {
                a.stop()
            } else {
                a.follow()
            }
        }))
        .build()
        .unwrap();
    let r = c
        .get(format!("{}/login?service={service}&binding=redirect", w.dv))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1;
    let message = poort::saml::binding::RedirectMessage::decode(query, "SAMLRequest").unwrap();
    (c, message.xml)
}

/// The development AD's signing key of a world (to write AD answers by hand).
pub fn dev_ad_key(w: &World) -> poort::keys::SigningKey {
    poort::keys::SigningKey::load(
        &w.certs.join("dev-ad-signing.key"),
        &w.certs.join("dev-ad-signing.crt"),
    )
    .unwrap()
}

/// A correct answer of the development AD to poort's request `request_id`, for `subject` at
/// EH3, to be changed by the test and built with [`dev_ad_key`].
pub fn ad_response(w: &World, request_id: &str, subject: &str) -> AdResponse {
    AdResponse::new(
        poort::demo::DEV_AD_ENTITY_ID,
        &format!("{}/saml/acs", w.poort),
        request_id,
        &w.config.saml.sp_entity_id,
        subject,
        poort::domain::level::Level::Eh3,
    )
}

/// An AD's Response posted to poort's ACS by `c`.
pub async fn post_acs(w: &World, c: &reqwest::Client, xml: &str) -> reqwest::Response {
    c.post(format!("{}/saml/acs", w.poort))
        .form(&[("SAMLResponse", poort::saml::binding::encode_post(xml))])
        .send()
        .await
        .unwrap()
}

/// The page a GET by `c` ends on.
pub async fn page(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

/// The sum of the metric lines at poort's ops listener `ops` that start with `line_start` (0
/// when none does).
pub async fn metric(ops: &str, line_start: &str) -> f64 {
    page(&client(), format!("{ops}/metrics"))
        .await
        .lines()
        .filter(|l| l.starts_with(line_start))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits, at most 30 seconds, until [`metric`] reaches `at_least`: for what poort does in the
/// background on its own schedule (a refresh); `what` says what never happened otherwise.
pub async fn await_metric(ops: &str, line_start: &str, at_least: f64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while metric(ops, line_start).await < at_least {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Fails unless `page` is the development AD's login page.
pub fn assert_ad_page(page: &str) {
    assert!(
        page.contains("name=\"pending\""),
        "AD page expected: {page}"
    );
}

/// From the DV at `dv` (`/login?service=…&binding=…`) to the development AD's page; a request
/// the DV sends by HTTP-POST is posted on to poort first, as a browser does.
pub async fn dv_to_ad(c: &reqwest::Client, dv: &str, service: u16, binding: &str) -> String {
    let mut ad_page = page(c, format!("{dv}/login?service={service}&binding={binding}")).await;
    if ad_page.contains("name=\"SAMLRequest\"") {
        ad_page = submit(c, &ad_page, &[]).await.text().await.unwrap();
    }
    assert_ad_page(&ad_page);
    ad_page
}

/// `person` logs in at `level` on the development AD's page: the response to that (redirects
/// followed as `c` follows them).
pub async fn log_in_at_ad(
    c: &reqwest::Client,
    ad_page: &str,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let fields = [("person", person), ("level", level), ("action", "login")];
    submit(c, ad_page, &fields).await
}

/// Like [`log_in_at_ad`]: the AD's answer, a page whose form goes to poort.
pub async fn ad_answer(c: &reqwest::Client, ad_page: &str, person: &str, level: &str) -> String {
    let r = log_in_at_ad(c, ad_page, person, level).await;
    r.text().await.unwrap()
}

/// Like [`ad_answer`], and the answer posted to poort: poort's response.
pub async fn through_ad(
    c: &reqwest::Client,
    ad_page: &str,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let to_poort = ad_answer(c, ad_page, person, level).await;
    submit(c, &to_poort, &[]).await
}

/// A cookie-keeping client builder whose requests ask for JSON (the demo DV's verdict, by
/// artifact, comes as JSON then).
pub fn asking_json() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
}

/// A cookie-keeping client that does not follow redirects, and one that does, sharing one
/// cookie jar (one browser).
pub fn browser() -> (reqwest::Client, reqwest::Client) {
    browser_from(reqwest::Client::builder)
}

/// Like [`browser`], opening a new connection for every request, so that behind a balancer
/// each request may land on another replica.
pub fn browser_without_reuse() -> (reqwest::Client, reqwest::Client) {
    browser_from(|| reqwest::Client::builder().pool_max_idle_per_host(0))
}

fn browser_from(
    builder: impl Fn() -> reqwest::ClientBuilder,
) -> (reqwest::Client, reqwest::Client) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let build = |policy| {
        builder()
            .cookie_provider(jar.clone())
            .redirect(policy)
            .build()
            .unwrap()
    };
    (
        build(reqwest::redirect::Policy::none()),
        build(reqwest::redirect::Policy::limited(10)),
    )
}

/// A SAML Response poort put in a page's form for the DV: where it goes and what it says.
#[derive(Debug)]
pub struct DvAnswer {
    /// The form's action (the DV's ACS).
    pub action: String,
    pub relay_state: Option<String>,
    /// The Response as poort signed it (its signature is verified with poort's certificate).
    pub xml: String,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub status: String,
    pub second_status: Option<String>,
    pub status_message: Option<String>,
}

/// Reads the SAML Response out of a page of poort's (an answer form or an error page's
/// "back to the service" form) and verifies poort's signature on it.
pub fn dv_answer(w: &World, html: &str) -> DvAnswer {
    use base64::Engine;
    use poort::saml::xml::{self, NS_SAMLP};
    let (action, fields) = form(html);
    let b64 = fields
        .get("SAMLResponse")
        .unwrap_or_else(|| panic!("no SAMLResponse in the page: {html}"));
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    let poort_cert = poort::keys::SigningKey::load(
        &w.certs.join("poort-signing.key"),
        &w.certs.join("poort-signing.crt"),
    )
    .unwrap()
    .cert_der;
    let signed = poort::saml::dsig::verify(&text, std::slice::from_ref(&poort_cert))
        .expect("poort's Response verifies with poort's certificate");
    let doc = xml::parse(&signed).unwrap();
    let root = doc.root_element();
    assert!(xml::is(root, NS_SAMLP, "Response"), "{signed}");
    let status = xml::child(root, NS_SAMLP, "Status").unwrap();
    let top = xml::child(status, NS_SAMLP, "StatusCode").unwrap();
    DvAnswer {
        action,
        relay_state: fields.get("RelayState").cloned(),
        destination: root.attribute("Destination").map(str::to_string),
        in_response_to: root.attribute("InResponseTo").map(str::to_string),
        status: top.attribute("Value").unwrap().to_string(),
        second_status: xml::child(top, NS_SAMLP, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(str::to_string),
        status_message: xml::child(status, NS_SAMLP, "StatusMessage").map(xml::text),
        xml: text,
    }
}

/// The AuthnRequest in a redirect to an AD (the `Location` of poort's answer).
pub fn upstream_request(location: &str) -> poort::saml::idp::AuthnRequest {
    let query = location.split_once('?').expect("a query").1;
    let message =
        poort::saml::binding::RedirectMessage::decode(query, "SAMLRequest").expect("decodes");
    poort::saml::idp::AuthnRequest::parse(&message.xml).expect("an AuthnRequest")
}

/// An admin-module session for `person` (logged in through the development AD at EH3): the
/// client and the session's CSRF token.
pub async fn admin_session(w: &World, person: &str) -> (reqwest::Client, String) {
    let c = client();
    let r = admin_login(w, &c, person, "EH3").await;
    assert_eq!(r.url().path(), "/admin", "{person} could not log in");
    let s: serde_json::Value = c
        .get(format!("{}/api/v1/session", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (c, s["csrf_token"].as_str().unwrap().to_string())
}

/// Runs one SQL statement on a register's database (tests that tamper or set up).
pub async fn execute_sql(pool: &poort::grants::Pool, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match pool {
        poort::grants::Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        poort::grants::Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

/// Like [`start_prepared`], with the demo peers speaking `bindings` and poort trusting them for
/// it. [`start_prepared`] serves peers of its own (HTTP-Redirect and HTTP-POST) on the ports it
/// bound; these peers get ports of their own, their metadata replaces that of the others (same
/// files), and the world points at them, so poort never meets the others.
pub async fn start_with_bindings(
    bindings: poort::demo::DemoBindings,
    prepare: impl FnOnce(&Prepared, &mut Config),
) -> World {
    let bind = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        (l, url)
    };
    let ((dl, dv), (al, ad)) = (bind(), bind());
    let (dv_url, ad_url) = (dv.clone(), ad.clone());
    let mut w = start_prepared(move |p, config| {
        poort::demo::metadata::write_demo_metadata_with(
            &p.certs, &p.sp_dir, &p.idp_dir, &dv_url, &ad_url, bindings,
        )
        .unwrap();
        // The peers are on http://127.0.0.1: resolving their artifacts needs plain http.
        config.backchannel.allow_plain_http = true;
        let prepared = Prepared {
            dv: dv_url.clone(),
            ad: ad_url.clone(),
            poort: p.poort.clone(),
            dir: p.dir.clone(),
            certs: p.certs.clone(),
            sp_dir: p.sp_dir.clone(),
            idp_dir: p.idp_dir.clone(),
        };
        prepare(&prepared, config);
    })
    .await;
    let peers =
        poort::demo::DemoPeers::from_dir_with(&w.certs, &dv, &ad, &w.poort, bindings).unwrap();
    let (dl, al) = (
        tokio::net::TcpListener::from_std(dl).unwrap(),
        tokio::net::TcpListener::from_std(al).unwrap(),
    );
    tokio::spawn(poort::demo::serve(dl, peers.dv_router()));
    tokio::spawn(poort::demo::serve(al, peers.ad_router()));
    w.dv = dv;
    w.ad = ad;
    w
}

/// A world whose demo peers speak the scheme's HTTP-Artifact binding (DV-HM and HM-AD
/// Artifact-Artifact), as under `poort demo`.
pub async fn start_artifact() -> World {
    start_with_bindings(poort::demo::DemoBindings::Artifact, |_, _| {}).await
}

/// Delivers every mail the world's poort has queued (into its outbox folder), then returns:
/// what poort's own worker already claimed is waited for, up to a deadline. Tests that read the
/// outbox folder after an admin action call this first (mail is sent off the request path).
pub async fn deliver_mail(w: &World) {
    let metrics = std::sync::Arc::new(poort::metrics::Metrics::default());
    let worker = poort::mail::MailWorker::from_config(
        w.registry.sql().pool().clone(),
        &w.config.mail,
        "test-deliver-mail",
        metrics.clone(),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        worker.deliver_due(chrono::Utc::now()).await.unwrap();
        // Each round ends by counting what still waits, into the outbox gauge.
        let waiting = metrics.mail_outbox_queued.get();
        if waiting == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} mail(s) still queued after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The invitation link mailed to `email` (delivered into the world's outbox, read on the
/// development mailbox page, newest mail first).
pub async fn invitation_link(w: &World, email: &str) -> String {
    deliver_mail(w).await;
    let page = page(&client(), format!("{}/dev/mailbox", w.poort)).await;
    let mail = page
        .split("<section class=\"poort-mail\"")
        .find(|m| m.contains(email))
        .unwrap_or_else(|| panic!("no mail to {email}: {page}"));
    let start = mail.find(" href=\"").unwrap() + " href=\"".len();
    let end = start + mail[start..].find('"').unwrap();
    unescape(&mail[start..end])
}

/// Two registers opened independently on the database at `url`, as two replicas open it.
pub async fn two_replicas(url: &str) -> (poort::grants::SqlRegister, poort::grants::SqlRegister) {
    let open = || poort::grants::registry::connect_database(url);
    (open().await.unwrap(), open().await.unwrap())
}

/// From `/mijn` through the development AD as `person` at `level`: the last response (Mijn
/// poort's start page once logged in).
pub async fn mijn_login(
    w: &World,
    c: &reqwest::Client,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let ad_page = page(c, format!("{}/mijn", w.poort)).await;
    assert_ad_page(&ad_page);
    through_ad(c, &ad_page, person, level).await
}

/// A Mijn poort session for `person` logged in at `level`: a client keeping its cookie (not
/// following redirects) and the session's CSRF token (from `GET /api/v1/me`).
pub async fn mijn_session(w: &World, person: &str, level: &str) -> (reqwest::Client, String) {
    let (plain, follow) = browser();
    let r = mijn_login(w, &follow, person, level).await;
    assert_eq!(
        r.url().path(),
        "/mijn",
        "{person} could not log in to Mijn poort"
    );
    let me: serde_json::Value = plain
        .get(format!("{}/api/v1/me", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf_token"].as_str().unwrap_or_else(|| panic!("{me}"));
    (plain, csrf.to_string())
}
