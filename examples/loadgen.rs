//! Load generator: complete brokered SAML logins against a poort release binary running as its
//! own process, beside the RSA-2048 floor measured in the same run.
//!
//! It sets up poort on its embedded defaults (in-process stores, keys from `poort dev-certs`,
//! the register in a SQLite file seeded from `config/grants-dev.toml`, metadata of the demo DV
//! and the dev AD), starts
//! `poort serve --config <tmp>/poort.toml`, and plays the DV and the AD itself with poort's
//! library, so no other server runs:
//!
//! 1. DV: a signed AuthnRequest (HTTP-Redirect binding) for service 2 -> `GET /saml/sso`;
//!    poort answers 303 to the AD with its own signed AuthnRequest, whose ID is read from the
//!    Location (the AD is never contacted).
//! 2. AD: a signed Response for person `bram` at EH3 -> `POST /saml/acs` with the same cookie;
//!    bram has one organisation on service 2, so poort answers at once with its auto-post form
//!    holding the signed, encrypted SAMLResponse for the DV. Every `--verify-every`th answer is
//!    checked in full by the demo DV's Response check (signature, decryption, audience, status
//!    Success, KvK 11223344).
//!
//! Phases: (a) memory: resident size of a fresh poort idle, then after 1,000 and `--flows`
//! pending flows (step 1 only); (b) load: a second fresh poort, warm-up, then `--concurrency`
//! tasks doing whole logins for `--seconds`, with poort's CPU from /proc/PID/stat; (c) the
//! crypto floor on one thread after poort has stopped: RSA-2048 signatures and verifications
//! per second with poort's own signing key.
//!
//! With `--protocol oidc` the requester is an OpenID Connect client instead of the SAML DV:
//! step 1 is `GET /oidc/authorize` (code flow, PKCE S256), step 2 answers with a redirect
//! carrying the code, and step 3 redeems it at `/oidc/token` (client_secret_basic); every
//! `--verify-every`th ID token is verified with poort's keys and checked for KvK 11223344.
//! A last phase measures the token endpoint alone: `--tokens` codes are made first (codes live
//! 60 s), then redeemed by `--concurrency` clients, with poort's CPU over that part only.
//!
//! Run (see scripts/bench-load.sh):
//! `cargo run --release --example loadgen -- --poort target/release/poort --clk-tck 100`

use chrono::Utc;
use poort::demo::ad::AdResponse;
use poort::demo::dv::DemoDv;
use poort::demo::{PeerKeys, DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
use poort::keys::SigningKey;
use poort::level::Level;
use poort::saml::binding::{self, RedirectMessage};
use poort::saml::idp::AuthnRequest;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDP_ENTITY_ID: &str = "urn:etoegang:HM:00000099990000000001:entities:1";
const SP_ENTITY_ID: &str = "urn:etoegang:HM:00000099990000000001:entities:2";
/// Peers' base URLs: they appear in metadata and messages but are never contacted.
const DV_URL: &str = "http://127.0.0.1:9/dv";
const AD_URL: &str = "http://127.0.0.1:9/ad";
const SERVICE_INDEX: u16 = 2;
const PERSON: &str = "bram";
const PERSON_KVK: &str = "11223344";
/// The OpenID Connect client of `--protocol oidc` (its redirect URI is never contacted).
const OIDC_CLIENT: &str = "load-rp";
const OIDC_SECRET: &str = "load-rp-secret-0123456789abcdef";
const OIDC_REDIRECT: &str = "http://127.0.0.1:9/rp/cb";
/// RFC 7636 appendix B.
const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    poort: PathBuf,
    repo: PathBuf,
    clk_tck: f64,
    concurrency: usize,
    seconds: f64,
    warmup: usize,
    flows: usize,
    crypto_seconds: f64,
    verify_every: u64,
    rust_log: Option<String>,
    perf_record: Option<PathBuf>,
    wait_quiet: f64,
    /// `saml`: a SAML DV; `oidc`: an OpenID Connect client (code flow with PKCE and the token
    /// request), both with the SAML AD upstream.
    oidc: bool,
    /// With `--protocol oidc`: codes redeemed in the token-endpoint phase (0: skip it).
    tokens: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen --poort PATH [--repo DIR] [--clk-tck N] [--concurrency N] [--seconds S] \
         [--warmup N] [--flows N] [--crypto-seconds S] [--verify-every N] [--rust-log FILTER] \
         [--perf-record FILE] [--wait-quiet S] [--protocol saml|oidc] [--tokens N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        poort: PathBuf::new(),
        repo: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        clk_tck: 100.0,
        concurrency: 8,
        seconds: 30.0,
        warmup: 200,
        flows: 10_000,
        crypto_seconds: 3.0,
        verify_every: 50,
        rust_log: None,
        perf_record: None,
        wait_quiet: 0.0,
        oidc: false,
        tokens: 3000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<f64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--poort" => a.poort = PathBuf::from(v),
            "--repo" => a.repo = PathBuf::from(v),
            "--clk-tck" => a.clk_tck = num(&v),
            "--concurrency" => a.concurrency = num(&v) as usize,
            "--seconds" => a.seconds = num(&v),
            "--warmup" => a.warmup = num(&v) as usize,
            "--flows" => a.flows = num(&v) as usize,
            "--crypto-seconds" => a.crypto_seconds = num(&v),
            "--verify-every" => a.verify_every = (num(&v) as u64).max(1),
            "--rust-log" => a.rust_log = Some(v),
            "--perf-record" => a.perf_record = Some(PathBuf::from(v)),
            "--wait-quiet" => a.wait_quiet = num(&v).min(120.0),
            "--tokens" => a.tokens = num(&v) as usize,
            "--protocol" => match v.as_str() {
                "saml" => a.oidc = false,
                "oidc" => a.oidc = true,
                _ => usage(),
            },
            _ => usage(),
        }
    }
    if a.poort.as_os_str().is_empty() || a.concurrency == 0 || a.seconds > 600.0 {
        usage()
    }
    a
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: &str) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')').ok_or("bad /proc stat")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

/// Busy and total ticks of the whole machine (all cores), from /proc/stat.
fn machine_ticks() -> Result<(u64, u64), Error> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().ok_or("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Resident set size in kB, from /proc/PID/status.
fn rss_kb(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS: poort has exited")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

// ---------------------------------------------------------------------------------------------
// poort as a child process

struct Poort {
    child: Child,
    base: String,
}

impl Poort {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if poort has exited (with how it ended).
    fn alive(&mut self) -> Result<(), Error> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!("poort exited during the run: {status}").into()),
        }
    }
}

impl Drop for Poort {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, repo: &Path, port: u16) -> Result<PathBuf, Error> {
    let certs = dir.join("certs");
    let path = dir.join(format!("poort-{port}.toml"));
    let p = |x: &Path| x.display().to_string();
    let mut text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
production = false
max_body_bytes = 262144

[saml]
idp_entity_id = "{IDP_ENTITY_ID}"
sp_entity_id = "{SP_ENTITY_ID}"
sp_metadata_dir = "{sp}"
idp_metadata_dir = "{idp}"
clock_skew_seconds = 60
request_max_age_seconds = 300
assertion_lifetime_seconds = 300
flow_lifetime_seconds = 900

[keys]
signing_key = "{c}/poort-signing.key"
signing_cert = "{c}/poort-signing.crt"
encryption_key = "{c}/poort-encryption.key"
encryption_cert = "{c}/poort-encryption.crt"
pseudonym_secret = "{c}/pseudonym.secret"
dev_certs_dir = "{c}"

[register]
database = "sqlite://{db}"
seed = "{grants}"

[oidc]
keys_dir = "{c}/oidc"

[[oidc_client]]
client_id = "{OIDC_CLIENT}"
client_secret = "{OIDC_SECRET}"
redirect_uris = ["{OIDC_REDIRECT}"]
service = "urn:etoegang:DV:00000099990000000002:services:{SERVICE_INDEX}"
"#,
        db = p(&dir.join(format!("register-{port}.db"))),
        sp = p(&dir.join("sp")),
        idp = p(&dir.join("idp")),
        c = p(&certs),
        grants = p(&repo.join("config/grants-dev.toml")),
    );
    // The service catalogue of config/poort.toml.
    for (index, level) in [(1, "EH3"), (2, "EH2+")] {
        text.push_str(&format!(
            r#"
[[service]]
id = "urn:etoegang:DV:00000099990000000002:services:{index}"
uuid = "5a1d3b0e-8c9f-4f5e-9b1a-00000000000{index}"
name_nl = "Dienst {index}"
name_en = "Service {index}"
provider = "{DEMO_DV_ENTITY_ID}"
acs_index = {index}
level = "{level}"
"#
        ));
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

async fn start_poort(a: &Args, dir: &Path, label: &str) -> Result<Poort, Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = write_config(dir, &a.repo, port)?;
    let log = std::fs::File::create(dir.join(format!("poort-{label}.log")))?;
    let mut cmd = Command::new(&a.poort);
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    match &a.rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    let poort = Poort {
        child: cmd.spawn()?,
        base: format!("http://127.0.0.1:{port}"),
    };
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = c.get(format!("{}/healthz", poort.base)).send().await {
            if r.status().is_success() {
                return Ok(poort);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("poort did not become healthy; see {label} log").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// One login, played as DV and AD

struct Peers {
    dv_key: SigningKey,
    ad_key: SigningKey,
    poort_keys: PeerKeys,
}

struct Target {
    peers: Arc<Peers>,
    /// The demo DV's request writer and Response check, pointed at this poort.
    dv: DemoDv,
    sso: String,
    acs: String,
    base: String,
    oidc: bool,
    /// poort's ID-token keys (read from its key folder) for checking answers.
    oidc_keys: Option<poort::oidc::ProviderKeys>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()
        .expect("http client")
}

/// Step 1: the DV's request to poort; returns the ID of poort's request to the AD.
async fn begin(t: &Target, c: &reqwest::Client) -> Result<String, Error> {
    let url = if t.oidc {
        format!(
            "{}/oidc/authorize?response_type=code&scope=openid&client_id={OIDC_CLIENT}\
             &redirect_uri={}&state=s&nonce=n&code_challenge={PKCE_CHALLENGE}\
             &code_challenge_method=S256",
            t.base,
            url::form_urlencoded::byte_serialize(OIDC_REDIRECT.as_bytes()).collect::<String>()
        )
    } else {
        let (_, request) = t.dv.authn_request(SERVICE_INDEX, None, false, false)?;
        binding::redirect_url(&t.sso, "SAMLRequest", &request, None, &t.peers.dv_key)?
    };
    let r = c.get(url).send().await?;
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = r.text().await?;
    let location = match location {
        Some(l) if status.is_redirection() && l.starts_with(AD_URL) => l,
        _ => {
            return Err(format!(
                "/saml/sso: expected a redirect to the AD, got {status}: {}",
                snippet(&body)
            )
            .into())
        }
    };
    let query = location.split_once('?').ok_or("no query")?.1;
    let message = RedirectMessage::decode(query, "SAMLRequest")?;
    Ok(AuthnRequest::parse(&message.xml)?.id)
}

/// Steps 1 and 2 up to poort's answer to the AD's Response.
async fn through_ad(t: &Target, c: &reqwest::Client) -> Result<reqwest::Response, Error> {
    let upstream_id = begin(t, c).await?;
    let response = AdResponse::new(
        DEV_AD_ENTITY_ID,
        &t.acs,
        &upstream_id,
        SP_ENTITY_ID,
        PERSON,
        Level::Eh3,
    )
    .build(&t.peers.ad_key)?;
    let r = c
        .post(&t.acs)
        .form(&[("SAMLResponse", binding::encode_post(&response))])
        .send()
        .await?;
    Ok(r)
}

/// Steps 1 and 2: a whole login; with `verify`, the answer is checked in full as the DV.
async fn login(t: &Target, c: &reqwest::Client, verify: bool) -> Result<(), Error> {
    let r = through_ad(t, c).await?;
    if t.oidc {
        return redeem(t, c, r, verify).await;
    }
    let status = r.status();
    let page = r.text().await?;
    let answer = hidden_field(&page, "SAMLResponse");
    let answer = match answer {
        Some(a) if status == reqwest::StatusCode::OK => a,
        _ => {
            return Err(format!(
                "/saml/acs: expected 200 with a SAMLResponse form, got {status}: {}",
                snippet(&page)
            )
            .into())
        }
    };
    if verify {
        let xml = binding::decode_post(&answer)?;
        let outcome = t.dv.verify(&xml, &t.peers.poort_keys, Utc::now())?;
        if !outcome.success || outcome.legal_subject_id.as_deref() != Some(PERSON_KVK) {
            return Err(
                format!("answer to the DV is not a Success for {PERSON_KVK}: {outcome:?}").into(),
            );
        }
    }
    Ok(())
}

/// OIDC steps 3 and 4: the code at the redirect URI, redeemed at the token endpoint.
async fn redeem(
    t: &Target,
    c: &reqwest::Client,
    r: reqwest::Response,
    verify: bool,
) -> Result<(), Error> {
    let code = code_from(r).await?;
    token_request(t, c, &code, verify).await
}

/// OIDC step 3: the code from poort's redirect to the client.
async fn code_from(r: reqwest::Response) -> Result<String, Error> {
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = url::Url::parse(&location).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    });
    match code.filter(|_| status.is_redirection()) {
        Some(code) => Ok(code),
        None => {
            let body = r.text().await?;
            Err(format!(
                "/saml/acs: expected a redirect with a code, got {status} {location}: {}",
                snippet(&body)
            )
            .into())
        }
    }
}

/// OIDC step 4: the token request (client_secret_basic, PKCE verifier).
async fn token_request(
    t: &Target,
    c: &reqwest::Client,
    code: &str,
    verify: bool,
) -> Result<(), Error> {
    let r = c
        .post(format!("{}/oidc/token", t.base))
        .basic_auth(OIDC_CLIENT, Some(OIDC_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", OIDC_REDIRECT),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await?;
    let status = r.status();
    let body: serde_json::Value = r.json().await?;
    let Some(id_token) = body["id_token"].as_str().filter(|_| status.is_success()) else {
        return Err(format!("/oidc/token: {status} {body}").into());
    };
    if verify {
        let claims = t
            .oidc_keys
            .as_ref()
            .and_then(|k| k.verify(id_token))
            .ok_or("the ID token does not verify with poort's keys")?;
        if claims["represents"]["sub"] != PERSON_KVK {
            return Err(format!("ID token represents {}", claims["represents"]).into());
        }
    }
    Ok(())
}

fn snippet(s: &str) -> String {
    let s: String = s.chars().take(300).collect();
    s.replace('\n', " ")
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hidden_field(html: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let i = html.find(&key)? + key.len();
    let j = html[i..].find('"')?;
    Some(unescape(&html[i..i + j]))
}

// ---------------------------------------------------------------------------------------------
// Phases

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    verified: AtomicU64,
}

/// OIDC steps 1 to 3 without the token request: a fresh code.
async fn fresh_code(t: &Target, c: &reqwest::Client) -> Result<String, Error> {
    code_from(through_ad(t, c).await?).await
}

/// `count` fresh codes, made on `concurrency` tasks.
async fn fresh_codes(t: &Arc<Target>, concurrency: usize, count: usize) -> (Vec<String>, u64) {
    let codes = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(count)));
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    on_tasks(concurrency, |_, c| {
        let (t, codes, counts, next) = (t.clone(), codes.clone(), counts.clone(), next.clone());
        async move {
            while next.fetch_add(1, Ordering::Relaxed) < count as u64 {
                match fresh_code(&t, &c).await {
                    Ok(code) => codes.lock().push(code),
                    Err(e) => report_error(&counts, &e),
                }
            }
        }
    })
    .await;
    let codes = std::mem::take(&mut *codes.lock());
    (codes, counts.failed.load(Ordering::Relaxed))
}

/// Redeems every code on `concurrency` tasks; the latencies.
async fn redeem_all(
    t: &Arc<Target>,
    concurrency: usize,
    codes: Vec<String>,
    verify_every: u64,
) -> (Arc<Counts>, Vec<Duration>) {
    let codes = Arc::new(codes);
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    on_tasks(concurrency, |_, c| {
        let (t, codes, counts, next, latencies) = (
            t.clone(),
            codes.clone(),
            counts.clone(),
            next.clone(),
            latencies.clone(),
        );
        async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(n as usize) else {
                    break;
                };
                let started = Instant::now();
                match token_request(&t, &c, code, n % verify_every == 0).await {
                    Ok(()) => {
                        mine.push(started.elapsed());
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => report_error(&counts, &e),
                }
            }
            latencies.lock().extend(mine);
        }
    })
    .await;
    let mut l = std::mem::take(&mut *latencies.lock());
    l.sort();
    (counts, l)
}

/// Runs `per_task(task, client)` on `n` tasks, each with its own keep-alive client.
async fn on_tasks<F, Fut>(n: usize, per_task: F)
where
    F: Fn(usize, reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(per_task(i, client())))
        .collect();
    for h in handles {
        h.await.expect("task");
    }
}

fn report_error(counts: &Counts, e: &Error) {
    if counts.failed.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("loadgen: failure: {e}");
    }
}

/// Creates `count` pending flows (DV requests that stop at the redirect to the AD).
async fn pending_flows(t: &Arc<Target>, concurrency: usize, count: usize) -> Arc<Counts> {
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    on_tasks(concurrency, |_, c| {
        let (t, counts, next) = (t.clone(), counts.clone(), next.clone());
        async move {
            while next.fetch_add(1, Ordering::Relaxed) < count as u64 {
                match begin(&t, &c).await {
                    Ok(_) => counts.ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        report_error(&counts, &e);
                        0
                    }
                };
            }
        }
    })
    .await;
    counts
}

/// Whole logins on `concurrency` tasks until `deadline` (or `limit` logins).
async fn logins(
    t: &Arc<Target>,
    concurrency: usize,
    deadline: Instant,
    limit: u64,
    verify_every: u64,
) -> (Arc<Counts>, Vec<Duration>) {
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    on_tasks(concurrency, |_, c| {
        let (t, counts, next, latencies) =
            (t.clone(), counts.clone(), next.clone(), latencies.clone());
        async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let verify = n % verify_every == 0;
                let started = Instant::now();
                match login(&t, &c, verify).await {
                    Ok(()) => {
                        mine.push(started.elapsed());
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                        if verify {
                            counts.verified.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => report_error(&counts, &e),
                }
            }
            latencies.lock().extend(mine);
        }
    })
    .await;
    let mut l = std::mem::take(&mut *latencies.lock());
    l.sort();
    (counts, l)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Operations per second of `op` on this thread, run for `seconds`.
fn rate(seconds: f64, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..16 {
            op();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let a = args();
    let tmp = tempfile::Builder::new().prefix("poort-load-").tempdir()?;
    let result = run(&a, tmp.path()).await;
    if let Err(e) = &result {
        let kept = tmp.keep();
        eprintln!(
            "loadgen: {e}; poort's config and logs kept in {}",
            kept.display()
        );
    }
    result
}

async fn run(a: &Args, dir: &Path) -> Result<(), Error> {
    let certs = dir.join("certs");
    let made = Command::new(&a.poort)
        .arg("dev-certs")
        .arg("--dir")
        .arg(&certs)
        .stdout(Stdio::null())
        .status()?;
    if !made.success() {
        return Err("poort dev-certs failed".into());
    }
    std::fs::create_dir_all(dir.join("sp"))?;
    std::fs::create_dir_all(dir.join("idp"))?;
    poort::demo::metadata::write_demo_metadata(
        &certs,
        &dir.join("sp"),
        &dir.join("idp"),
        DV_URL,
        AD_URL,
    )?;
    let key = |name: &str| {
        SigningKey::load(
            &certs.join(format!("{name}.key")),
            &certs.join(format!("{name}.crt")),
        )
    };
    let poort_key = key("poort-signing")?;
    let dv_encryption = std::fs::read(certs.join("demo-dv-encryption.key"))?;
    let peers = Arc::new(Peers {
        dv_key: key("demo-dv-signing")?,
        ad_key: key("dev-ad-signing")?,
        poort_keys: PeerKeys {
            entity_id: Some(IDP_ENTITY_ID.to_string()),
            signing_certs: vec![poort_key.cert_der.clone()],
            encryption_cert: None,
        },
    });
    let target = |p: &Poort| -> Result<Arc<Target>, Error> {
        let dv = DemoDv::new(
            DEMO_DV_ENTITY_ID,
            DV_URL,
            p.base.clone(),
            key("demo-dv-signing")?,
            openssl::pkey::PKey::private_key_from_pem(&dv_encryption)?,
            Some(poort_key.cert_der.clone()),
        )
        .with_poort_entity_id(IDP_ENTITY_ID);
        Ok(Arc::new(Target {
            peers: peers.clone(),
            dv,
            sso: format!("{}/saml/sso", p.base),
            acs: format!("{}/saml/acs", p.base),
            base: p.base.clone(),
            oidc: a.oidc,
            oidc_keys: poort::oidc::ProviderKeys::load(&certs.join("oidc"), false).ok(),
        }))
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "loadgen: {} logins | poort {} | {} cores | concurrency {} | log filter {}",
        if a.oidc {
            "OpenID Connect (code flow + PKCE + token request) to SAML AD"
        } else {
            "SAML to SAML"
        },
        a.poort.display(),
        cores,
        a.concurrency,
        a.rust_log.as_deref().unwrap_or("(poort's default: info)")
    );

    // Others' work on a shared machine skews every figure: wait (bounded) for a quiet second,
    // and say how busy the machine was before we began.
    let waited = Instant::now();
    let busy = loop {
        let m0 = machine_ticks()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m1 = machine_ticks()?;
        let busy = (m1.0 - m0.0) as f64 / (m1.1 - m0.1).max(1) as f64 * cores as f64;
        if busy < 0.25 || waited.elapsed().as_secs_f64() >= a.wait_quiet {
            break busy;
        }
    };
    println!(
        "machine busy before the run (1 s, no poort yet): {busy:.2} of {cores} cores, after \
         waiting {:.0} s for quiet (at most {:.0} s)",
        waited.elapsed().as_secs_f64() - 1.0,
        a.wait_quiet
    );

    // (a) Memory: a fresh poort, idle, then with pending flows.
    let mut p = start_poort(a, dir, "memory").await?;
    let t = target(&p)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kb(p.pid())?;
    let first = 1_000.min(a.flows);
    let c1 = pending_flows(&t, a.concurrency, first).await;
    let rss_first = rss_kb(p.pid())?;
    let (sso_cpu0, sso_t0) = (cpu_ticks(&p.pid().to_string())?, Instant::now());
    let c2 = pending_flows(&t, a.concurrency, a.flows - first).await;
    let sso_wall = sso_t0.elapsed().as_secs_f64();
    let sso_cpu = (cpu_ticks(&p.pid().to_string())? - sso_cpu0) as f64 / a.clk_tck;
    let sso_n = c2.ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.alive()?;
    let rss_all = rss_kb(p.pid())?;
    let pending_ok = c1.ok.load(Ordering::Relaxed) + c2.ok.load(Ordering::Relaxed);
    let pending_failed = c1.failed.load(Ordering::Relaxed) + c2.failed.load(Ordering::Relaxed);
    drop(p);
    println!("\n== memory (VmRSS of poort, /proc/PID/status)");
    println!("idle after start:               {idle} kB");
    println!("after {first} pending flows:      {rss_first} kB");
    println!(
        "after {} pending flows:     {rss_all} kB  ({} created, {} failed)",
        a.flows, pending_ok, pending_failed
    );
    if pending_ok > 0 {
        println!(
            "per pending flow: {:.0} bytes overall ((all - idle) / n), {:.0} bytes marginal \
             (between {first} and {} flows)",
            rss_all.saturating_sub(idle) as f64 * 1024.0 / pending_ok as f64,
            (rss_all.saturating_sub(rss_first)) as f64 * 1024.0 / (a.flows - first).max(1) as f64,
            a.flows
        );
    }
    // Creating those flows is the first half of a login: a CPU figure for it, for the breakdown.
    // (NaN when --flows <= 1,000: then the second batch is empty.)
    let sso_ms = sso_cpu * 1e3 / sso_n as f64;
    println!(
        "first half of a login alone ({} -> 303 to the AD, {sso_n} times): \
         {:.1}/s, poort CPU {sso_ms:.3} ms each",
        if a.oidc {
            "GET /oidc/authorize"
        } else {
            "GET /saml/sso"
        },
        sso_n as f64 / sso_wall
    );

    // (b) Load: a second fresh poort.
    let mut p = start_poort(a, dir, "load").await?;
    let t = target(&p)?;
    let pid = p.pid().to_string();
    let far = Instant::now() + Duration::from_secs(60);
    let (w, _) = logins(&t, a.concurrency, far, a.warmup as u64, 1).await;
    let warm_failed = w.failed.load(Ordering::Relaxed);
    let rss_before = rss_kb(p.pid())?;
    // Optionally sample poort (not the generator) with `perf record` during the measured part.
    let perf = match &a.perf_record {
        Some(out) => Some(
            Command::new("perf")
                .args([
                    "record",
                    "-F",
                    "199",
                    "--call-graph",
                    "dwarf,8192",
                    "-p",
                    &pid,
                    "-o",
                ])
                .arg(out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        ),
        None => None,
    };
    let (poort0, self0, mach0) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.seconds);
    let (counts, latencies) = logins(&t, a.concurrency, deadline, u64::MAX, a.verify_every).await;
    let wall = t0.elapsed().as_secs_f64();
    let (poort1, self1, mach1) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    p.alive()?;
    let rss_after = rss_kb(p.pid())?;
    if let Some(mut perf) = perf {
        Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status()?;
        perf.wait()?;
    }
    // (b2) OIDC only: the token endpoint alone. Codes are made first (they live 60 s), then
    // redeemed as fast as `--concurrency` clients can, with poort's CPU over that part only.
    let token_phase = if a.oidc && a.tokens > 0 {
        let (codes, code_failures) = fresh_codes(&t, a.concurrency, a.tokens).await;
        let n = codes.len();
        let (tp0, tt0) = (cpu_ticks(&pid)?, Instant::now());
        let (tc, tl) = redeem_all(&t, a.concurrency, codes, a.verify_every).await;
        let twall = tt0.elapsed().as_secs_f64();
        let tcpu = (cpu_ticks(&pid)? - tp0) as f64 / a.clk_tck;
        Some((n, code_failures, tc, tl, twall, tcpu))
    } else {
        None
    };
    drop(p);
    let ok = counts.ok.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    let poort_cpu = (poort1 - poort0) as f64 / a.clk_tck;
    let self_cpu = (self1 - self0) as f64 / a.clk_tck;
    let (busy, total) = (mach1.0 - mach0.0, mach1.1 - mach0.1);
    let machine_cpu = busy as f64 / a.clk_tck;
    let machine_capacity = total as f64 / a.clk_tck;
    let flow_rate = ok as f64 / wall;
    let cpu_per_login_ms = poort_cpu * 1e3 / ok.max(1) as f64;
    println!("\n== load: whole brokered logins (DV -> poort -> AD -> poort -> DV answer)");
    println!(
        "warm-up: {} logins ({} failed); measured for {:.1} s",
        a.warmup, warm_failed, a.seconds
    );
    println!(
        "logins: {ok} ok, {failed} failed, {} fully verified as DV (Success, KvK {PERSON_KVK})",
        counts.verified.load(Ordering::Relaxed)
    );
    println!("wall: {wall:.2} s -> {flow_rate:.1} logins/s");
    println!(
        "latency per login (both round trips): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99)
    );
    println!(
        "poort CPU: {poort_cpu:.2} s = {cpu_per_login_ms:.3} ms per login ({:.0}% of one core)",
        poort_cpu / wall * 100.0
    );
    println!(
        "generator CPU: {self_cpu:.2} s = {:.3} ms per login; machine busy {machine_cpu:.2} of \
         {machine_capacity:.2} core-seconds (poort {:.0}%, generator {:.0}%, other {:.0}%)",
        self_cpu * 1e3 / ok.max(1) as f64,
        poort_cpu / machine_cpu * 100.0,
        self_cpu / machine_cpu * 100.0,
        (machine_cpu - poort_cpu - self_cpu).max(0.0) / machine_cpu * 100.0
    );
    println!(
        "poort VmRSS: {rss_before} kB before, {rss_after} kB after ({ok} answered logins in \
         the replay cache)"
    );

    // (c) The crypto floor, on one thread, with poort's signing key, poort stopped.
    let public = openssl::x509::X509::from_der(&poort_key.cert_der)?.public_key()?;
    let sig = poort_key.sign_bytes(b"floor")?;
    let signs = rate(a.crypto_seconds, || {
        poort_key.sign_bytes(b"floor").expect("sign");
    });
    let verifies = rate(a.crypto_seconds, || {
        assert!(poort::keys::verify_bytes(&public, poort_key.alg, b"floor", &sig).expect("verify"));
    });
    // SAML: upstream AuthnRequest, assertion and Response signed; DV request and AD assertion
    // verified. OIDC: upstream AuthnRequest and ID token signed; AD assertion verified.
    let (n_sign, n_verify) = if a.oidc { (2.0, 1.0) } else { (3.0, 2.0) };
    let floor_ms = n_sign / signs * 1e3 + n_verify / verifies * 1e3;
    let floor_rate = 1e3 / floor_ms;
    println!("\n== crypto floor (openssl, one thread, poort's RSA-2048 key, same run)");
    println!(
        "RSA-2048 sign: {signs:.0}/s ({:.0} µs); verify: {verifies:.0}/s ({:.1} µs)",
        1e6 / signs,
        1e6 / verifies
    );
    let what = if a.oidc {
        "2 RSA signatures (upstream AuthnRequest, ID token) + 1 verification (AD assertion)"
    } else {
        "3 RSA signatures (upstream AuthnRequest, assertion, Response) + 2 verifications (DV \
         request, AD assertion)"
    };
    println!(
        "a login costs poort {what} = {floor_ms:.3} ms -> {floor_rate:.0} logins/s per core from \
         signatures alone"
    );
    println!(
        "ratio, wall: poort's flow rate / signature-only rate on one core = {flow_rate:.1} / \
         {floor_rate:.0} = {:.2}",
        flow_rate / floor_rate
    );
    println!(
        "ratio, CPU: signature floor / poort CPU per login = {floor_ms:.3} / \
         {cpu_per_login_ms:.3} ms = {:.2}",
        floor_ms / cpu_per_login_ms
    );
    let mut token_failures = 0;
    if let Some((n, code_failures, tc, tl, twall, tcpu)) = &token_phase {
        let tok = tc.ok.load(Ordering::Relaxed);
        token_failures = code_failures + tc.failed.load(Ordering::Relaxed);
        let per_ms = tcpu * 1e3 / tok.max(1) as f64;
        let sign_ms = 1e3 / signs;
        println!("\n== token endpoint alone (POST /oidc/token, client_secret_basic + PKCE)");
        println!(
            "{tok} of {n} codes redeemed ({} failed) in {twall:.2} s -> {:.0} requests/s; \
             latency p50 {:.2} ms, p99 {:.2} ms",
            tc.failed.load(Ordering::Relaxed),
            tok as f64 / twall,
            percentile(tl, 0.5),
            percentile(tl, 0.99)
        );
        println!(
            "poort CPU: {tcpu:.2} s = {per_ms:.3} ms per token request; its floor is one RSA-2048 \
             signature (the ID token) = {sign_ms:.3} ms -> ratio {:.2}; one core's signature-only \
             rate {signs:.0}/s",
            sign_ms / per_ms
        );
    }
    println!(
        "poort CPU per login by part: the request in {sso_ms:.3} ms (measured in the memory \
         phase), the rest (/saml/acs{}) {:.3} ms",
        if a.oidc { " and /oidc/token" } else { "" },
        cpu_per_login_ms - sso_ms
    );
    println!(
        "target (<= 2 ms poort CPU per login): {}",
        if cpu_per_login_ms <= 2.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    if failed > 0 || warm_failed > 0 || pending_failed > 0 || token_failures > 0 {
        return Err(format!(
            "{} failures (see above)",
            failed + warm_failed + pending_failed + token_failures
        )
        .into());
    }
    Ok(())
}
