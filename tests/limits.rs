//! Operable in production: what anonymous clients can make poort hold and do (caps on pending
//! logins, rate limits per client address and per OIDC client, the cap on what an OIDC AD may
//! send), who the client is behind a trusted proxy, PKCE for every OIDC client, and the secure
//! defaults of production (no plain-http public URL without a TLS proxy, `__Host-` cookies, no
//! development mailbox, security headers).

mod common;

use common::World;
use poort::config::{Config, OidcClientConfig};
use poort::store::{FlowCaps, MemoryStore};
use poort::web::AppState;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, RETRY_AFTER};
use std::net::SocketAddr;
use std::sync::Arc;

const RP: &str = "rp-limits";
const RP_SECRET: &str = "a-long-client-secret-for-the-limits-tests";
const RP_CB: &str = "https://rp.example/cb";
const OTHER_RP: &str = "rp-limits-other";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn rp(client_id: &str, secret: Option<&str>, allow_without_pkce: bool) -> OidcClientConfig {
    OidcClientConfig {
        allow_without_pkce,
        ..common::oidc_rp::client_config(client_id, secret, RP_CB)
    }
}

/// A world with two OIDC clients (confidential) and the limits of `common::test_limits` (far
/// above what a test does), then `change` (the limits a test sets).
async fn world(change: impl FnOnce(&mut Config)) -> World {
    common::start_prepared(|_, c| {
        c.oidc_clients = vec![
            rp(RP, Some(RP_SECRET), false),
            rp(OTHER_RP, Some(RP_SECRET), false),
        ];
        change(c);
    })
    .await
}

/// `/oidc/authorize` for [`RP`] with PKCE.
fn authorize(base: &str) -> String {
    authorize_with(
        base,
        RP,
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    )
}

fn authorize_with(base: &str, client: &str, extra: &str) -> String {
    format!(
        "{base}/oidc/authorize?response_type=code&scope=openid&client_id={client}&redirect_uri={}&state=s{extra}",
        url::form_urlencoded::byte_serialize(RP_CB.as_bytes()).collect::<String>()
    )
}

/// A client without cookies that follows no redirects, asking for English pages.
fn plain() -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("accept-language", "en".parse().expect("header"));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

/// A GET by a [`plain`] client.
async fn get(url: impl reqwest::IntoUrl) -> reqwest::Response {
    plain().get(url).send().await.expect("poort answers")
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()[LOCATION].to_str().expect("location")
}

fn param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What a batch of requests got: how many of each status, the `Retry-After` values seen with
/// 429 and 503, and one body per status.
#[derive(Default, Debug)]
struct Tally {
    by_status: std::collections::BTreeMap<u16, usize>,
    retry_after: std::collections::BTreeSet<String>,
    bodies: std::collections::BTreeMap<u16, String>,
}

impl Tally {
    fn count(&self, status: u16) -> usize {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    fn body(&self, status: u16) -> &str {
        self.bodies.get(&status).map(String::as_str).unwrap_or("")
    }
}

/// `n` GETs of `url`, 16 at a time; `forwarded(i)` is the `X-Forwarded-For` of the i-th, if any.
async fn starts(n: usize, url: &str, forwarded: impl Fn(usize) -> Option<String>) -> Tally {
    let c = plain();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (c, url) = (c.clone(), url.to_string());
        let xff: Vec<Option<String>> = (worker..n).step_by(16).map(&forwarded).collect();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            for xff in xff {
                let mut req = c.get(&url);
                if let Some(xff) = xff {
                    req = req.header("x-forwarded-for", xff);
                }
                let r = req.send().await.expect("poort answers");
                let status = r.status().as_u16();
                if let Some(v) = r.headers().get(RETRY_AFTER) {
                    tally
                        .retry_after
                        .insert(v.to_str().expect("ascii").to_string());
                }
                let body = r.text().await.expect("body");
                *tally.by_status.entry(status).or_insert(0) += 1;
                tally.bodies.entry(status).or_insert(body);
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(done) = tasks.join_next().await {
        let t = done.expect("worker");
        for (s, n) in t.by_status {
            *all.by_status.entry(s).or_insert(0) += n;
        }
        all.retry_after.extend(t.retry_after);
        for (s, b) in t.bodies {
            all.bodies.entry(s).or_insert(b);
        }
    }
    all
}

/// A second poort on a [`world`]'s files and register with `change` applied, whose flow store
/// the test can count: the in-process store behind the caps' wrapper.
struct Counted {
    url: String,
    state: Arc<AppState>,
    store: Arc<MemoryStore>,
    _world: World,
}

impl Counted {
    fn caps(&self) -> &FlowCaps {
        self.state.limits.flow_caps()
    }
}

async fn counted(change: impl FnOnce(&mut Config)) -> Counted {
    let w = world(|_| {}).await;
    let mut config = w.config.clone();
    change(&mut config);
    let mut state = poort::app::build_state(config).await.expect("state");
    let store = Arc::new(MemoryStore::default());
    state.flows = state.limits.wrap_store(store.clone());
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = poort::web::router(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Counted {
        url,
        state,
        store,
        _world: w,
    }
}

#[tokio::test]
async fn ten_thousand_starts_from_one_address_stop_at_its_cap_forged_forwarding_or_not() {
    let poort = counted(|c| {
        c.limits.max_pending_flows = 40;
        c.limits.max_flows_per_client = 25;
    })
    .await;
    // Every other request claims to come from somewhere else: nobody is trusted to say so.
    let t = starts(10_000, &authorize(&poort.url), |i| {
        (i % 2 == 0).then(|| format!("203.0.113.{}, 198.51.100.{}", i % 250, i % 7))
    })
    .await;
    assert_eq!(t.count(303), 25, "{:?}", t.by_status);
    assert_eq!(t.count(429), 9_975, "{:?}", t.by_status);
    assert!(
        t.body(429)
            .contains("Too many logins have been started from your internet address"),
        "{}",
        t.body(429)
    );
    assert_eq!(t.retry_after, ["60".to_string()].into());
    // The store holds the 25 flows and their links to the AD's request, nothing more.
    assert_eq!((poort.caps().held(), poort.caps().clients()), (25, 1));
    assert_eq!(poort.store.len(), 2 * 25);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_cap_until_the_process_is_full() {
    let poort = counted(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.limits.max_pending_flows = 40;
        c.limits.max_flows_per_client = 25;
    })
    .await;
    let url = authorize(&poort.url);
    // One client behind the proxy: its own cap. A forged left part does not move it.
    let t = starts(10_000, &url, |i| {
        Some(format!("10.9.9.{}, 203.0.113.1", i % 200))
    })
    .await;
    assert_eq!(
        (t.count(303), t.count(429)),
        (25, 9_975),
        "{:?}",
        t.by_status
    );
    // Another: the 15 slots left in the process, then "busy" for everyone.
    let t = starts(100, &url, |_| Some("203.0.113.2".into())).await;
    assert_eq!((t.count(303), t.count(503)), (15, 85), "{:?}", t.by_status);
    assert!(
        t.body(503).contains("poort is busy") && t.body(503).contains("Try again in a minute"),
        "{}",
        t.body(503)
    );
    assert_eq!(t.retry_after, ["60".to_string()].into());
    let t = starts(10, &url, |_| Some("203.0.113.3".into())).await;
    assert_eq!(t.count(503), 10, "{:?}", t.by_status);
    // Memory stays at the cap: 40 flows (each with its link to the AD's request), two clients.
    assert_eq!((poort.caps().held(), poort.caps().clients()), (40, 2));
    assert_eq!(poort.store.len(), 2 * 40);
}

#[tokio::test]
async fn an_expired_flow_frees_its_slot() {
    let poort = counted(|c| {
        c.saml.flow_lifetime_seconds = 1;
        c.limits.max_pending_flows = 3;
        c.limits.max_flows_per_client = 3;
    })
    .await;
    let url = authorize(&poort.url);
    let t = starts(4, &url, |_| None).await;
    assert_eq!((t.count(303), t.count(503)), (3, 1), "{:?}", t.by_status);
    let full_at = std::time::Instant::now();
    // Past the flows' one-second lifetime (a bound on the clock, not a race).
    tokio::time::sleep(std::time::Duration::from_millis(1200).saturating_sub(full_at.elapsed()))
        .await;
    let t = starts(1, &url, |_| None).await;
    assert_eq!(t.count(303), 1, "{:?}", t.by_status);
    assert_eq!(poort.caps().held(), 1, "the expired flows' slots are free");
    // Expired entries wait in the store for its sweep; the store does not grow past the cap.
    assert!(poort.store.len() <= 2 * 4, "{}", poort.store.len());
}

#[tokio::test]
async fn a_finished_login_frees_its_slot_at_once() {
    let w = world(|c| {
        c.limits.max_pending_flows = 1;
        c.limits.max_flows_per_client = 1;
    })
    .await;
    let (browser, follow) = common::browser();
    let ad_page = common::page(&follow, authorize(&w.poort)).await;
    assert!(ad_page.contains("name=\"pending\""), "{ad_page}");
    let r = get(authorize(&w.poort)).await;
    assert_eq!(r.status(), 503, "the one slot is taken");
    // daan has no grant: the login ends with access_denied, and its flow leaves the store.
    let to_poort = common::ad_answer(&follow, &ad_page, "daan", "EH3").await;
    let r = common::submit(&browser, &to_poort, &[]).await;
    assert_eq!(
        param(location(&r), "error").as_deref(),
        Some("access_denied")
    );
    let r = get(authorize(&w.poort)).await;
    assert_eq!(r.status(), 303, "the slot came free");
}

/// An OIDC AD in config that no test reaches (it only makes the choice page appear).
fn unused_oidc_ad(issuer: &str) -> poort::config::OidcProviderConfig {
    toml::from_str(&format!(
        "issuer = \"{issuer}\"\nname_nl = \"AD 2\"\nname_en = \"AD 2\"\nclient_id = \"poort\"\n"
    ))
    .expect("provider config")
}

#[tokio::test]
async fn login_starts_are_rate_limited_per_address_behind_a_trusted_proxy() {
    let w = world(|c| {
        c.limits.login_starts_per_minute = 3;
        c.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let url = authorize(&w.poort);
    let t = starts(4, &url, |_| Some("203.0.113.10".into())).await;
    assert_eq!((t.count(303), t.count(429)), (3, 1), "{:?}", t.by_status);
    assert!(
        t.body(429)
            .contains("Too many logins were started from your internet address in a short time"),
        "{}",
        t.body(429)
    );
    // One start comes back every 20 seconds: the wait is at most that.
    let wait: u64 = t
        .retry_after
        .iter()
        .next()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");
    assert!(
        t.body(429).contains(&format!("Wait {wait} seconds")),
        "{}",
        t.body(429)
    );
    // Another client behind the proxy has its own quota, and so has the proxy itself.
    let t = starts(3, &url, |_| Some("203.0.113.11".into())).await;
    assert_eq!(t.count(303), 3, "{:?}", t.by_status);
    let t = starts(3, &url, |_| None).await;
    assert_eq!(t.count(303), 3, "{:?}", t.by_status);
    // The SAML SSO endpoint is a login start too.
    let t = starts(1, &format!("{}/saml/sso", w.poort), |_| {
        Some("203.0.113.10".into())
    })
    .await;
    assert_eq!(t.count(429), 1, "{:?}", t.by_status);
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let w = world(|c| {
        c.limits.login_starts_per_minute = 3;
        // A proxy elsewhere is trusted; the test's own address is not.
        c.server.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await;
    let t = starts(4, &authorize(&w.poort), |i| Some(format!("203.0.113.{i}"))).await;
    assert_eq!((t.count(303), t.count(429)), (3, 1), "{:?}", t.by_status);
}

#[tokio::test]
async fn admin_logins_have_their_own_lower_limit() {
    let w = world(|c| c.limits.admin_logins_per_minute = 2).await;
    let t = starts(3, &format!("{}/admin/login", w.poort), |_| None).await;
    assert_eq!((t.count(303), t.count(429)), (2, 1), "{:?}", t.by_status);
    assert!(
        t.body(429).contains("log in to the admin module"),
        "{}",
        t.body(429)
    );
    assert_eq!(t.retry_after.len(), 1);
    // Other login starts are not held back by it.
    let t = starts(3, &authorize(&w.poort), |_| None).await;
    assert_eq!(t.count(303), 3, "{:?}", t.by_status);
}

#[tokio::test]
async fn the_token_endpoint_is_rate_limited_per_client_with_slow_down() {
    let w = world(|c| c.limits.token_requests_per_minute = 3).await;
    let c = plain();
    let token = |client: &'static str, basic: bool| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", RP_CB),
            ("code_verifier", VERIFIER),
        ];
        let mut req = c.post(format!("{}/oidc/token", w.poort));
        if basic {
            req = req.basic_auth(client, Some(RP_SECRET));
        } else {
            form.extend([("client_id", client), ("client_secret", RP_SECRET)]);
        }
        req.form(&form).send()
    };
    // Three requests in a minute, however they authenticate, then slow_down.
    for basic in [true, false, true] {
        let r = token(RP, basic).await.expect("token");
        assert_eq!(r.status(), 400, "an unknown code, but counted");
    }
    let r = token(RP, false).await.expect("token");
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()[RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "slow_down", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("too many token requests")),
        "{body}"
    );
    // Another client has its own quota; an unknown client is not counted (nor kept).
    assert_eq!(token(OTHER_RP, true).await.expect("token").status(), 400);
    for _ in 0..5 {
        let r = token("nobody", true).await.expect("token");
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn pkce_is_required_unless_a_confidential_legacy_client_is_let_off() {
    let w = world(|c| {
        c.oidc_clients.push(rp("rp-legacy", Some(RP_SECRET), true));
        c.oidc_clients.push(rp("rp-public-legacy", None, true));
    })
    .await;
    let c = plain();
    let refused = |location: &str| {
        assert!(location.starts_with(RP_CB), "{location}");
        (
            param(location, "error").unwrap_or_default(),
            param(location, "error_description").unwrap_or_default(),
        )
    };
    // A confidential client without PKCE: refused, and told why.
    let r = c
        .get(authorize_with(&w.poort, RP, ""))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        refused(location(&r)),
        (
            "invalid_request".into(),
            "code_challenge is required (PKCE, S256)".into()
        )
    );
    // A plain challenge is no PKCE poort accepts.
    let r = c
        .get(authorize_with(
            &w.poort,
            RP,
            &format!("&code_challenge={VERIFIER}&code_challenge_method=plain"),
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        refused(location(&r)).1,
        "code_challenge_method must be S256"
    );
    // The legacy switch lets a confidential client in without PKCE...
    let r = c
        .get(authorize_with(&w.poort, "rp-legacy", ""))
        .send()
        .await
        .expect("authorize");
    let to = location(&r);
    assert!(to.starts_with(&w.ad), "to the AD: {to}");
    // ...but not a public one, which has nothing else to bind the code to.
    let r = c
        .get(authorize_with(&w.poort, "rp-public-legacy", ""))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        refused(location(&r)).1,
        "code_challenge is required (PKCE, S256)"
    );
    // `poort check` warns about each switch.
    let path = w.dir.path().join("poort.toml");
    std::fs::write(&path, toml::to_string(&w.config).expect("toml")).expect("write");
    let findings = poort::check::check(&path, &w.config).await;
    let warned = |client: &str, what: &str| {
        findings.iter().any(|f| {
            !f.error
                && f.message.starts_with(&format!("client {client}:"))
                && f.message.contains(what)
        })
    };
    assert!(
        warned("rp-legacy", "lets this client leave out PKCE"),
        "{findings:?}"
    );
    assert!(
        warned("rp-public-legacy", "has no effect on a public client"),
        "{findings:?}"
    );
    assert!(!findings
        .iter()
        .any(|f| f.message.starts_with(&format!("client {RP}:"))));
}

/// A self-signed certificate and key without the development mark, as production requires.
fn production_cert(key_path: &std::path::Path, cert_path: &std::path::Path, name: &str) {
    use openssl::{asn1::Asn1Time, bn::BigNum, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
    let mut subject = x509::X509NameBuilder::new().expect("name");
    subject.append_entry_by_text("CN", name).expect("cn");
    let subject = subject.build();
    let mut b = x509::X509Builder::new().expect("builder");
    b.set_version(2).expect("version");
    b.set_serial_number(
        &BigNum::from_u32(7)
            .expect("bn")
            .to_asn1_integer()
            .expect("serial"),
    )
    .expect("serial");
    b.set_subject_name(&subject).expect("subject");
    b.set_issuer_name(&subject).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("time"))
        .expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    std::fs::write(key_path, key.private_key_to_pem_pkcs8().expect("pem")).expect("write key");
    std::fs::write(cert_path, b.build().to_pem().expect("pem")).expect("write cert");
}

/// A world in production mode behind a proxy that terminates TLS (127.0.0.1, trusted).
async fn production_world(change: impl FnOnce(&mut Config)) -> World {
    common::start_prepared(|p, c| {
        for (key, cert) in [
            ("poort-signing.key", "poort-signing.crt"),
            ("poort-encryption.key", "poort-encryption.crt"),
        ] {
            production_cert(&p.certs.join(key), &p.certs.join(cert), "poort test");
        }
        // Production makes no keys on start: they are made beforehand, as an operator does.
        poort::oidc::ProviderKeys::load(&c.oidc.keys_dir, true).expect("OIDC keys");
        c.server.production = true;
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        change(c);
    })
    .await
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

/// The value of the cookie `name` among Set-Cookie headers, with all its attributes.
fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a String> {
    cookies.iter().find(|c| c.starts_with(&format!("{name}=")))
}

fn value(cookie: &str) -> String {
    cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn production_cookies_are_host_prefixed_and_only_those_are_believed() {
    let w = production_world(|_| {}).await;
    let c = plain();
    // The admin module's login through the development AD, cookies kept by hand.
    let r = c
        .get(format!("{}/admin/login", w.poort))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 303);
    let cookies = set_cookies(&r);
    let browser = cookie_named(&cookies, "__Host-poort_browser").expect("a __Host- cookie");
    for part in ["; Secure", "; Path=/;", "; HttpOnly", "SameSite=None"] {
        assert!(browser.contains(part), "{browser}");
    }
    assert!(
        !browser.to_ascii_lowercase().contains("domain="),
        "{browser}"
    );
    assert!(
        cookie_named(&cookies, "poort_browser").is_none(),
        "{cookies:?}"
    );
    let browser = value(browser);
    let to_ad = location(&r).to_string();
    let ad = common::client();
    let ad_page = common::page(&ad, &to_ad).await;
    let to_poort = common::ad_answer(&ad, &ad_page, "anna", "EH3").await;
    let (acs, fields) = common::form(&to_poort);
    let post = |cookie: String| c.post(&acs).header(COOKIE, cookie).form(&fields).send();
    // The same value under the unprefixed name, as a sibling domain could set it: not believed.
    let r = post(format!("poort_browser={browser}")).await.expect("acs");
    assert_eq!(r.status(), 403, "another browser's login");
    let r = post(format!("__Host-poort_browser={browser}"))
        .await
        .expect("acs");
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let cookies = set_cookies(&r);
    let admin = cookie_named(&cookies, "__Host-poort_admin").expect("the admin session cookie");
    for part in ["; Secure", "; Path=/;", "; HttpOnly", "SameSite=Lax"] {
        assert!(admin.contains(part), "{admin}");
    }
    let session = value(admin);
    let home = |cookie: String| {
        c.get(format!("{}/admin", w.poort))
            .header(COOKIE, cookie)
            .send()
    };
    let r = home(format!("__Host-poort_admin={session}"))
        .await
        .expect("home");
    assert_eq!(r.status(), 200);
    let r = home(format!("poort_admin={session}")).await.expect("home");
    assert_eq!(
        r.status(),
        303,
        "an unprefixed session cookie is no session"
    );
    assert_eq!(r.headers()[LOCATION], "/admin/login");

    // The development mailbox does not exist in production.
    let r = c
        .get(format!("{}/dev/mailbox", w.poort))
        .send()
        .await
        .expect("mailbox");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_mailbox_is_served_only_outside_production_without_smtp() {
    let w = world(|_| {}).await;
    let r = get(format!("{}/dev/mailbox", w.poort)).await;
    assert_eq!(r.status(), 200);
    let w = world(|c| c.mail.smtp_url = Some("smtp://127.0.0.1:9".into())).await;
    let r = get(format!("{}/dev/mailbox", w.poort)).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn production_refuses_a_plain_http_public_url_without_a_tls_proxy() {
    let w = production_world(|_| {}).await;
    let mut config = w.config.clone();
    config.server.trusted_proxies.clear();
    let expected = "is plain http in production";
    let path = w.dir.path().join("poort.toml");
    std::fs::write(&path, toml::to_string(&config).expect("toml")).expect("write");
    let findings = poort::check::check(&path, &config).await;
    assert!(
        findings
            .iter()
            .any(|f| f.error && f.message.contains(expected)),
        "{findings:?}"
    );
    let refused = poort::app::build_state(config.clone())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains(expected), "start refused: {refused:?}");
    // A trusted-proxy entry that is no address is reported, and refused at start.
    config.server.trusted_proxies = vec!["proxy.internal".into()];
    let findings = poort::check::check(&path, &config).await;
    assert!(
        findings.iter().any(|f| f.error
            && f.message
                .contains("\"proxy.internal\" is not an IP address")),
        "{findings:?}"
    );
    assert!(poort::app::build_state(config).await.is_err());
}

fn assert_security_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert!(
        ["same-origin", "no-referrer"].contains(&get("referrer-policy")),
        "{what}: {}",
        get("referrer-policy")
    );
    assert!(
        get("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_hsts_goes_with_https() {
    let w = world(|_| {}).await;
    let c = plain();
    let get = |path: &str| c.get(format!("{}{path}", w.poort)).send();
    let r = get("/saml/metadata").await.expect("metadata");
    assert_security_headers(&r, "metadata");
    assert_eq!(r.headers()["referrer-policy"], "same-origin");
    assert!(
        r.headers().get("strict-transport-security").is_none(),
        "plain http"
    );
    let r = c.get(authorize(&w.poort)).send().await.expect("authorize");
    assert_eq!(r.status(), 303);
    assert_security_headers(&r, "redirect to the AD");
    let r = get("/login/idp?flow=unknown").await.expect("error page");
    assert_eq!(r.status(), 400);
    assert_security_headers(&r, "error page");
    // A page keeps its own stricter policies: scripts only by nonce, no referrer at all.
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .contains("script-src"));
    let r = c
        .post(format!("{}/oidc/token", w.poort))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 401);
    assert_security_headers(&r, "token error");
    let r = get("/no/such/page").await.expect("404");
    assert_security_headers(&r, "not found");

    let w = world(|c| c.server.public_url = "https://poort.example".into()).await;
    let r = c
        .get(format!("{}/saml/metadata", w.poort))
        .send()
        .await
        .expect("metadata");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_security_headers(&r, "metadata over https");
}

/// An OIDC AD whose discovery document is valid but long (about 100 KiB, mostly padding).
async fn long_winded_ad() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "x_padding": "x".repeat(100 * 1024),
    })
    .to_string();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move {
                ([("content-type", "application/json")], discovery)
            }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

/// Starts an OIDC client's login and picks the AD: where poort sends the browser.
async fn via_ad(w: &World, ad: &str) -> String {
    let (browser, follow) = common::browser();
    let choice = common::page(&follow, authorize(&w.poort)).await;
    let r = common::submit_at(&browser, &w.poort, &choice, &[("idp", ad)]).await;
    location(&r).to_string()
}

#[tokio::test]
async fn an_oidc_ad_answer_beyond_the_configured_cap_is_refused() {
    let ad = long_winded_ad().await;
    // Under the default cap (1 MiB) the document is read and the person sent to the AD.
    let w = world(|c| c.oidc_providers = vec![unused_oidc_ad(&ad)]).await;
    let location = via_ad(&w, &ad).await;
    assert!(
        location.starts_with(&format!("{ad}/authorize")),
        "{location}"
    );
    // Under 64 KiB it is refused (read in chunks and dropped at the cap: see the unit test in
    // src/oidc/upstream.rs), and the client hears the AD is unavailable.
    let w = world(|c| {
        c.limits.upstream_max_response_bytes = 64 * 1024;
        c.oidc_providers = vec![unused_oidc_ad(&ad)];
    })
    .await;
    let location = via_ad(&w, &ad).await;
    assert!(location.starts_with(RP_CB), "{location}");
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{location}"
    );
}
