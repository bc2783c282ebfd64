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
//! With `--protocol artifact` both sides speak the afsprakenstelsel's HTTP-Artifact binding as
//! scheme peers do (Artifact-Artifact), with the peers' ArtifactResolutionServices served by this
//! program (axum, a free 127.0.0.1 port) and their metadata written to match:
//!
//! 1. DV: an enveloped-signed AuthnRequest kept behind an artifact -> `GET /saml/sso/1.13?SAMLart`;
//!    poort resolves it at the DV's ArtifactResolutionService (signed ArtifactResolve, signed
//!    ArtifactResponse back) and answers 303 to the AD's SSO with its own artifact.
//! 2. AD: resolves poort's artifact at poort's ArtifactResolutionService (`POST
//!    /saml/artifact/1.13`, signed with the AD's key), answers with a Response whose Response and
//!    Assertion are both signed, kept behind an artifact -> `GET /saml/acs/1.13?SAMLart`; poort
//!    resolves it at the AD's ArtifactResolutionService and answers 303 to the DV's ACS with an
//!    artifact.
//! 3. DV: resolves that artifact at poort's ArtifactResolutionService: a signed Response with an
//!    encrypted assertion, checked in full by the demo DV every `--verify-every`th login.
//!
//! Every HTTP request to poort (browser and peers' back channel alike) opens a new connection
//! (`--keep-alive no`, the default for this protocol). poort's own back channel runs over plain
//! HTTP on loopback (`[backchannel] allow_plain_http`), so no TLS handshakes are in the figure.
//! With `--backchannel tls` the peers' ArtifactResolutionServices are HTTPS with certificates
//! from a throwaway CA (rcgen) and require poort's client certificate (`client_cert`,
//! `client_key`, `ca_certs`); with `tls-close` they also close the connection after each answer,
//! so every resolution by poort costs a handshake (resumed when poort offers a session ticket),
//! and `tls-full` turns resumption off: a full handshake each time. The peers' own calls to
//! poort's ArtifactResolutionService stay plain HTTP (poort listens on HTTP here).
//!
//! Run (see scripts/bench-load.sh):
//! `cargo run --release --example loadgen -- --poort target/release/poort --clk-tck 100`

use base64::Engine;
use chrono::Utc;
use poort::demo::ad::AdResponse;
use poort::demo::dv::DemoDv;
use poort::demo::{PeerKeys, DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
use poort::keys::SigningKey;
use poort::level::Level;
use poort::saml::artifact::Artifact;
use poort::saml::binding::{self, RedirectMessage};
use poort::saml::idp::AuthnRequest;
use poort::saml::{resolve, soap, xml};
use std::collections::HashMap;
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
/// poort's `[saml] framework_version` (its default): the versioned SAML endpoint paths.
const FRAMEWORK: &str = "1.13";
/// The services of the catalogue (config/poort.toml) the DV offers, as (index, level).
const SERVICES: [(u16, &str); 2] = [(1, "EH3"), (2, "EH2+")];
/// The `index` of each artifact peer's one ArtifactResolutionService: its artifacts'
/// EndpointIndex.
const PEER_ARS_INDEX: u16 = 0;
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
    protocol: Protocol,
    /// Keep connections to poort open between requests (`--keep-alive yes|no`); by default yes,
    /// except for `artifact`, where every request opens a new connection as real peers do.
    keep_alive: Option<bool>,
    /// With `--protocol artifact`: how poort reaches the peers' ArtifactResolutionServices.
    backchannel: BackChannelMode,
    /// With `--protocol oidc`: codes redeemed in the token-endpoint phase (0: skip it).
    tokens: usize,
}

/// Who asks poort, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// A SAML DV (HTTP-Redirect request, HTTP-POST answer) and a SAML AD (HTTP-Redirect request,
    /// HTTP-POST answer).
    Saml,
    /// An OpenID Connect client (code flow with PKCE and the token request), SAML AD upstream.
    Oidc,
    /// A DV and an AD that speak the HTTP-Artifact binding both ways (Artifact-Artifact).
    Artifact,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen --poort PATH [--repo DIR] [--clk-tck N] [--concurrency N] [--seconds S] \
         [--warmup N] [--flows N] [--crypto-seconds S] [--verify-every N] [--rust-log FILTER] \
         [--perf-record FILE] [--wait-quiet S] [--protocol saml|oidc|artifact] [--tokens N] \
         [--keep-alive yes|no] [--backchannel http|tls|tls-close|tls-full]"
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
        protocol: Protocol::Saml,
        keep_alive: None,
        backchannel: BackChannelMode::Http,
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
            "--protocol" => {
                a.protocol = match v.as_str() {
                    "saml" => Protocol::Saml,
                    "oidc" => Protocol::Oidc,
                    "artifact" => Protocol::Artifact,
                    _ => usage(),
                }
            }
            "--backchannel" => {
                a.backchannel = match v.as_str() {
                    "http" => BackChannelMode::Http,
                    "tls" => BackChannelMode::Tls,
                    "tls-close" => BackChannelMode::TlsClose,
                    "tls-full" => BackChannelMode::TlsFull,
                    _ => usage(),
                }
            }
            "--keep-alive" => {
                a.keep_alive = match v.as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    if a.poort.as_os_str().is_empty() || a.concurrency == 0 || a.seconds > 600.0 {
        usage()
    }
    // poort runs in a temporary folder: a relative path would be looked up there.
    a.poort = std::fs::canonicalize(&a.poort).unwrap_or_else(|e| {
        eprintln!("loadgen: --poort {}: {e}", a.poort.display());
        std::process::exit(2)
    });
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

fn write_config(
    dir: &Path,
    repo: &Path,
    port: u16,
    backchannel: Option<BackChannelMode>,
) -> Result<PathBuf, Error> {
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

# Every simulated browser comes from 127.0.0.1: limits far above any run.
[limits]
max_pending_flows = 10000000
max_flows_per_client = 10000000
login_starts_per_minute = 100000000
token_requests_per_minute = 100000000
admin_logins_per_minute = 100000000

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
    match backchannel {
        // The peers' ArtifactResolutionServices are plain HTTP on loopback (this program).
        Some(BackChannelMode::Http) => {
            text.push_str("\n[backchannel]\nallow_plain_http = true\n");
        }
        Some(BackChannelMode::Tls | BackChannelMode::TlsClose | BackChannelMode::TlsFull) => {
            let tls = dir.join("tls");
            text.push_str(&format!(
                "\n[backchannel]\nclient_cert = \"{}\"\nclient_key = \"{}\"\nca_certs = \"{}\"\n",
                tls.join("poort-client.crt").display(),
                tls.join("poort-client.key").display(),
                tls.join("ca.crt").display(),
            ));
        }
        None => {}
    }
    // The service catalogue of config/poort.toml.
    for (index, level) in SERVICES {
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
    let backchannel = (a.protocol == Protocol::Artifact).then_some(a.backchannel);
    let config = write_config(dir, &a.repo, port, backchannel)?;
    let log = std::fs::File::create(dir.join(format!("poort-{label}.log")))?;
    let mut cmd = Command::new(&a.poort);
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        // No ops listener: two poorts of one run would want the same port.
        .env("POORT_OPS__LISTEN", "")
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
        if let Ok(r) = c.get(format!("{}/saml/metadata", poort.base)).send().await {
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
    protocol: Protocol,
    /// Keep connections to poort open between requests.
    keep_alive: bool,
    /// Where poort sends the browser to the AD (its SSO endpoint in the AD's metadata).
    ad_sso: String,
    /// `--protocol artifact`: the peers' ArtifactResolutionServices and back channel.
    artifact: Option<Arc<ArtifactPeers>>,
    /// poort's ID-token keys (read from its key folder) for checking answers.
    oidc_keys: Option<poort::oidc::ProviderKeys>,
}

/// A browser (cookies kept, redirects not followed). Without `keep_alive` every request opens a
/// new connection.
fn client(keep_alive: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(if keep_alive { 4 } else { 0 })
        .build()
        .expect("http client")
}

/// Step 1: the DV's request to poort; returns what the AD gets from poort: the ID of poort's
/// request (HTTP-Redirect), or poort's artifact (`--protocol artifact`).
async fn begin(t: &Target, c: &reqwest::Client) -> Result<String, Error> {
    let url = match (t.protocol, &t.artifact) {
        (Protocol::Oidc, _) => format!(
            "{}/oidc/authorize?response_type=code&scope=openid&client_id={OIDC_CLIENT}\
             &redirect_uri={}&state=s&nonce=n&code_challenge={PKCE_CHALLENGE}\
             &code_challenge_method=S256",
            t.base,
            url::form_urlencoded::byte_serialize(OIDC_REDIRECT.as_bytes()).collect::<String>()
        ),
        (Protocol::Artifact, Some(ap)) => {
            // The DV's enveloped-signed AuthnRequest waits at its ArtifactResolutionService.
            let (_, request) = t.dv.authn_request(SERVICE_INDEX, None, false, true)?;
            let art = ap.dv.issue(request);
            with_artifact(&t.sso, &art)?
        }
        _ => {
            let (_, request) = t.dv.authn_request(SERVICE_INDEX, None, false, false)?;
            binding::redirect_url(&t.sso, "SAMLRequest", &request, None, &t.peers.dv_key)?
        }
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
        Some(l) if status.is_redirection() && l.starts_with(&t.ad_sso) => l,
        _ => {
            return Err(format!(
                "/saml/sso: expected a redirect to the AD, got {status}: {}",
                snippet(&body)
            )
            .into())
        }
    };
    if t.protocol == Protocol::Artifact {
        return query_value(&location, "SAMLart")
            .ok_or_else(|| format!("no SAMLart in the redirect to the AD: {location}").into());
    }
    let query = location.split_once('?').ok_or("no query")?.1;
    let message = RedirectMessage::decode(query, "SAMLRequest")?;
    Ok(AuthnRequest::parse(&message.xml)?.id)
}

/// Steps 1 and 2 up to poort's answer to the AD's Response.
async fn through_ad(t: &Target, c: &reqwest::Client) -> Result<reqwest::Response, Error> {
    let upstream = begin(t, c).await?;
    if let Some(ap) = &t.artifact {
        // The AD resolves poort's artifact at poort's ArtifactResolutionService.
        let message = ap.resolve_at_poort(&ap.ad, &upstream).await?;
        let request = AuthnRequest::parse(&message)?;
        if !request.has_signature || request.issuer != SP_ENTITY_ID {
            return Err(format!(
                "poort's AuthnRequest: signed {}, issuer {}",
                request.has_signature, request.issuer
            )
            .into());
        }
        let acs = request
            .acs_url
            .ok_or("poort's AuthnRequest names no ACS URL")?;
        let mut answer = AdResponse::new(
            DEV_AD_ENTITY_ID,
            &acs,
            &request.id,
            SP_ENTITY_ID,
            PERSON,
            Level::Eh3,
        );
        answer.sign_response = true;
        answer.sign_assertion = true;
        let art = ap.ad.issue(answer.build(&ap.ad.key)?);
        return Ok(c.get(with_artifact(&acs, &art)?).send().await?);
    }
    let response = AdResponse::new(
        DEV_AD_ENTITY_ID,
        &t.acs,
        &upstream,
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
    if t.protocol == Protocol::Oidc {
        return redeem(t, c, r, verify).await;
    }
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let page = r.text().await?;
    let answer = match &t.artifact {
        // poort answers by artifact at the DV's ACS; the DV resolves it at poort.
        Some(ap) => match location.filter(|l| status.is_redirection() && l.starts_with(&ap.dv_acs))
        {
            Some(l) => {
                let art = query_value(&l, "SAMLart").ok_or("no SAMLart in the answer")?;
                Some(ap.resolve_at_poort(&ap.dv, &art).await?)
            }
            None => None,
        },
        None => hidden_field(&page, "SAMLResponse")
            .filter(|_| status == reqwest::StatusCode::OK)
            .map(|a| binding::decode_post(&a))
            .transpose()?,
    };
    let Some(xml) = answer else {
        return Err(format!(
            "/saml/acs: expected the answer to the DV, got {status}: {}",
            snippet(&page)
        )
        .into());
    };
    if verify {
        let outcome = t.dv.verify(&xml, &t.peers.poort_keys, Utc::now())?;
        if !outcome.success || outcome.legal_subject_id.as_deref() != Some(PERSON_KVK) {
            return Err(
                format!("answer to the DV is not a Success for {PERSON_KVK}: {outcome:?}").into(),
            );
        }
        if t.artifact.is_some() && !(outcome.assertion_encrypted && outcome.response_signed) {
            return Err(format!("answer to the DV not signed and encrypted: {outcome:?}").into());
        }
    } else if t.artifact.is_some() && !is_success(&xml) {
        // What poort's ArtifactResolutionService hands out when it refuses is a Response too.
        return Err(format!("answer to the DV is not a Success: {}", snippet(&xml)).into());
    }
    Ok(())
}

/// A `samlp:Response` with top-level status Success.
fn is_success(text: &str) -> bool {
    let Ok(doc) = xml::parse(text) else {
        return false;
    };
    let root = doc.root_element();
    xml::is(root, xml::NS_SAMLP, "Response")
        && xml::child(root, xml::NS_SAMLP, "Status")
            .and_then(|s| xml::child(s, xml::NS_SAMLP, "StatusCode"))
            .and_then(|c| c.attribute("Value"))
            == Some(poort::saml::idp::STATUS_SUCCESS)
}

/// `endpoint?SAMLart=…` (HTTP-Artifact by GET).
fn with_artifact(endpoint: &str, artifact: &str) -> Result<String, Error> {
    let mut url = url::Url::parse(endpoint)?;
    url.query_pairs_mut().append_pair("SAMLart", artifact);
    Ok(url.into())
}

fn query_value(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

// ---------------------------------------------------------------------------------------------
// The artifact peers: their ArtifactResolutionServices and their back channel to poort

/// One peer's ArtifactResolutionService: the messages it sent by artifact, each handed out
/// once, to poort only, on an ArtifactResolve poort signed.
struct Ars {
    entity_id: &'static str,
    /// poort's entity ID in the role it has towards this peer: it signs the ArtifactResolves
    /// this peer answers, and the ArtifactResponses this peer gets from poort.
    poort: &'static str,
    url: String,
    key: SigningKey,
    poort_certs: Vec<Vec<u8>>,
    issued: parking_lot::Mutex<HashMap<[u8; 20], (String, Instant)>>,
    /// Resolutions that found no message (unknown, used or for another peer).
    misses: AtomicU64,
}

impl Ars {
    /// Keeps `message` for poort under a fresh artifact; returns the `SAMLart` value.
    fn issue(&self, message: String) -> String {
        let artifact = Artifact::new(self.entity_id, PEER_ARS_INDEX);
        let mut issued = self.issued.lock();
        if issued.len() >= 20_000 {
            // Not resolved within a minute: it never will be (pending flows of the memory part).
            issued.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(60));
        }
        issued.insert(artifact.message_handle, (message, Instant::now()));
        artifact.encode()
    }

    /// Answers a SOAP ArtifactResolve with a signed ArtifactResponse.
    fn answer(&self, body: &[u8]) -> Result<String, Error> {
        let request = soap::body(std::str::from_utf8(body)?)?;
        let resolve = resolve::verify_artifact_resolve(&request, &self.poort_certs)?;
        if resolve.issuer != self.poort {
            return Err(format!("ArtifactResolve from {}", resolve.issuer).into());
        }
        if resolve
            .destination
            .as_deref()
            .is_some_and(|d| d != self.url)
        {
            return Err("ArtifactResolve for another Destination".into());
        }
        let artifact = Artifact::decode(&resolve.artifact)?;
        let message = (artifact.is_from(self.entity_id)
            && artifact.endpoint_index == PEER_ARS_INDEX)
            .then(|| self.issued.lock().remove(&artifact.message_handle))
            .flatten()
            .map(|(m, _)| m);
        if message.is_none() {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        let answer = resolve::artifact_response(
            self.entity_id,
            &resolve.id,
            message.as_deref(),
            Utc::now(),
            &self.key,
        )?;
        Ok(soap::envelope(&answer))
    }
}

async fn ars_endpoint(
    axum::extract::State(ars): axum::extract::State<Arc<Ars>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (status, text) = match ars.answer(&body) {
        Ok(answer) => (axum::http::StatusCode::OK, answer),
        Err(e) => {
            eprintln!("loadgen: {} refused an ArtifactResolve: {e}", ars.entity_id);
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(true, &e.to_string()),
            )
        }
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

#[derive(Clone)]
struct ArtifactPeers {
    dv: Arc<Ars>,
    ad: Arc<Ars>,
    /// The DV's ACS (HTTP-Artifact), where poort sends the browser with its answer.
    dv_acs: String,
    /// The AD's SingleSignOnService (HTTP-Artifact), where poort sends the browser with its
    /// request (never contacted: the AD resolves the artifact straight away).
    ad_sso: String,
    /// The peers' back channel to poort: a new connection for every call.
    back: reqwest::Client,
    /// poort's ArtifactResolutionService; set per poort process.
    poort_ars: String,
}

impl ArtifactPeers {
    /// Resolves poort's artifact at poort's ArtifactResolutionService as `peer` (signed
    /// ArtifactResolve with its key); returns the message of the verified ArtifactResponse.
    async fn resolve_at_poort(&self, peer: &Ars, art: &str) -> Result<String, Error> {
        let (id, request) =
            resolve::artifact_resolve(peer.entity_id, &self.poort_ars, art, Utc::now(), &peer.key)?;
        let r = self
            .back
            .post(&self.poort_ars)
            .header(reqwest::header::CONTENT_TYPE, soap::CONTENT_TYPE)
            .header(
                "SOAPAction",
                "http://www.oasis-open.org/committees/security",
            )
            .body(soap::envelope(&request))
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(format!("poort's ARS answered {status}: {}", snippet(&text)).into());
        }
        let response = resolve::verify_artifact_response(&soap::body(&text)?, &peer.poort_certs)?;
        if response.in_response_to != id
            || response.issuer.as_deref() != Some(peer.poort)
            || response.status != poort::saml::idp::STATUS_SUCCESS
        {
            return Err(format!(
                "poort's ArtifactResponse: InResponseTo ok {}, issuer {:?}, status {}",
                response.in_response_to == id,
                response.issuer,
                response.status
            )
            .into());
        }
        response
            .message
            .ok_or_else(|| "poort's ArtifactResponse holds no message".into())
    }
}

/// Serves the DV's and the AD's ArtifactResolutionServices on a free loopback port, for the
/// whole run: plain HTTP with axum, or with `tls` (see [`BackChannelMode`]) HTTPS that requires
/// poort's client certificate, from threads. Returns the peers with poort's ARS still to be set.
async fn artifact_peers(
    dv_key: SigningKey,
    ad_key: SigningKey,
    poort_cert: &[u8],
    tls: Option<(Arc<rustls::ServerConfig>, bool)>,
) -> Result<ArtifactPeers, Error> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", std_listener.local_addr()?);
    let ars = |entity_id, poort, url: String, key| {
        Arc::new(Ars {
            entity_id,
            poort,
            url,
            key,
            poort_certs: vec![poort_cert.to_vec()],
            issued: Default::default(),
            misses: AtomicU64::new(0),
        })
    };
    let dv = ars(
        DEMO_DV_ENTITY_ID,
        IDP_ENTITY_ID,
        format!("{base}/dv/ars"),
        dv_key,
    );
    let ad = ars(
        DEV_AD_ENTITY_ID,
        SP_ENTITY_ID,
        format!("{base}/ad/ars"),
        ad_key,
    );
    match tls {
        Some((config, close)) => {
            let (dv, ad) = (dv.clone(), ad.clone());
            std::thread::spawn(move || serve_tls(std_listener, config, close, dv, ad));
        }
        None => {
            std_listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            let router = axum::Router::new()
                .route(
                    "/dv/ars",
                    axum::routing::post(ars_endpoint).with_state(dv.clone()),
                )
                .route(
                    "/ad/ars",
                    axum::routing::post(ars_endpoint).with_state(ad.clone()),
                );
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    eprintln!("loadgen: the peers' ArtifactResolutionServices stopped: {e}");
                }
            });
        }
    }
    Ok(ArtifactPeers {
        dv,
        ad,
        dv_acs: format!("{base}/dv/acs"),
        ad_sso: format!("{base}/ad/sso"),
        back: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()?,
        poort_ars: String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// The TLS variant of the peers' ArtifactResolutionServices (`--backchannel tls|tls-close`)

/// How poort reaches the peers' ArtifactResolutionServices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BackChannelMode {
    /// Plain HTTP on loopback (`[backchannel] allow_plain_http`), connections kept alive.
    Http,
    /// TLS with poort's client certificate (`client_cert`, `client_key`, `ca_certs`),
    /// connections kept alive by the peers.
    Tls,
    /// The same, but the peers close the connection after each answer: a TLS handshake for
    /// every resolution, resumed (TLS 1.3 session tickets, as servers allow by default) when
    /// poort's client offers it.
    TlsClose,
    /// As `TlsClose`, with resumption off at the peers: a full handshake (server certificate
    /// chain checked, poort's client certificate and its signature) for every resolution.
    TlsFull,
}

/// A throwaway CA (rcgen, RSA-2048 keys from openssl as PKIoverheid certificates have), the
/// peers' server certificate for 127.0.0.1 and poort's client certificate, written to `dir`
/// for poort's `[backchannel]`; returns the peers' TLS server configuration, which requires a
/// client certificate from that CA, and resumes sessions only with `resume`.
fn tls_material(dir: &Path, resume: bool) -> Result<Arc<rustls::ServerConfig>, Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    poort::install_crypto_provider();
    std::fs::create_dir_all(dir)?;
    let rsa = || -> Result<(String, Vec<u8>), Error> {
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        Ok((
            String::from_utf8(key.private_key_to_pem_pkcs8()?)?,
            key.private_key_to_pkcs8()?,
        ))
    };
    let (ca_pem, _) = rsa()?;
    let ca_key = KeyPair::from_pem(&ca_pem)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "loadgen back-channel CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let (server_pem, server_der) = rsa()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "loadgen peers");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&KeyPair::from_pem(&server_pem)?, &issuer)?;

    let (client_pem, _) = rsa()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "poort back channel");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&KeyPair::from_pem(&client_pem)?, &issuer)?;
    std::fs::write(dir.join("ca.crt"), ca_cert.pem())?;
    std::fs::write(dir.join("poort-client.crt"), client_cert.pem())?;
    std::fs::write(dir.join("poort-client.key"), client_pem)?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build()?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![
                CertificateDer::from(server_cert.der().to_vec()),
                ca_cert.der().clone(),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_der)),
        )?;
    if !resume {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// TLS handshakes the peers completed with poort: full (with poort's client certificate) and
/// resumed.
static TLS_FULL: AtomicU64 = AtomicU64::new(0);
static TLS_RESUMED: AtomicU64 = AtomicU64::new(0);

/// Accepts TLS connections, one thread each.
fn serve_tls(
    listener: std::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    close: bool,
    dv: Arc<Ars>,
    ad: Arc<Ars>,
) {
    let failures = Arc::new(AtomicU64::new(0));
    for tcp in listener.incoming().flatten() {
        let (config, dv, ad, failures) = (config.clone(), dv.clone(), ad.clone(), failures.clone());
        std::thread::spawn(move || {
            if let Err(e) = tls_connection(tcp, config, close, &dv, &ad) {
                if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("loadgen: a TLS connection of the peers failed: {e}");
                }
            }
        });
    }
}

/// HTTP/1.1 over one TLS connection: SOAP requests with a Content-Length, answered in order.
fn tls_connection(
    tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    close: bool,
    dv: &Ars,
    ad: &Ars,
) -> Result<(), Error> {
    use std::io::{Read, Write};
    tcp.set_nodelay(true)?;
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config)?, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    if tls.conn.peer_certificates().is_none_or(|c| c.is_empty()) {
        return Err("no client certificate".into());
    }
    match tls.conn.handshake_kind() {
        Some(rustls::HandshakeKind::Resumed) => TLS_RESUMED.fetch_add(1, Ordering::Relaxed),
        _ => TLS_FULL.fetch_add(1, Ordering::Relaxed),
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // The head, up to the empty line.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = match tls.read(&mut chunk) {
                Ok(n) => n,
                // The client went away between requests (without close_notify).
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && buf.is_empty() => 0,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return if buf.is_empty() {
                    Ok(())
                } else {
                    Err("connection closed mid-request".into())
                };
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .ok_or("no Content-Length")?;
        while buf.len() < head_end + length {
            let n = tls.read(&mut chunk)?;
            if n == 0 {
                return Err("connection closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let ars = match path.as_str() {
            "/dv/ars" => dv,
            "/ad/ars" => ad,
            _ => return Err(format!("no such path: {path}").into()),
        };
        let (status, text) = match ars.answer(&body) {
            Ok(answer) => ("200 OK", answer),
            Err(e) => {
                eprintln!("loadgen: {} refused an ArtifactResolve: {e}", ars.entity_id);
                (
                    "500 Internal Server Error",
                    soap::fault(true, &e.to_string()),
                )
            }
        };
        write!(
            tls,
            "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{text}",
            soap::CONTENT_TYPE,
            text.len(),
            if close { "close" } else { "keep-alive" }
        )?;
        tls.flush()?;
        if close {
            tls.conn.send_close_notify();
            tls.flush()?;
            return Ok(());
        }
    }
}

fn key_descriptor(usage: &str, cert_der: &[u8]) -> String {
    format!(
        r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
        base64::engine::general_purpose::STANDARD.encode(cert_der)
    )
}

/// Metadata of the artifact peers, as scheme peers publish it: the DV with an HTTP-Artifact ACS
/// (the default), its SOAP ArtifactResolutionService, signing and encryption keys, and one
/// AttributeConsumingService per service, named by its ServiceID (*DV metadata for HM*); the AD
/// with an HTTP-Artifact SingleSignOnService, its SOAP ArtifactResolutionService and its
/// signing key. Element order is the schema's (SAML Metadata 2.0 §2.4).
fn write_artifact_metadata(
    sp_dir: &Path,
    idp_dir: &Path,
    ap: &ArtifactPeers,
    dv_signing: &[u8],
    dv_encryption: &[u8],
    ad_signing: &[u8],
) -> Result<(), Error> {
    let md = xml::NS_MD;
    let ds = xml::NS_DS;
    let protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    let ars = |url: &str| {
        format!(
            r#"<md:ArtifactResolutionService Binding="{}" Location="{}" index="{PEER_ARS_INDEX}" isDefault="true"/>"#,
            xml::BINDING_SOAP,
            xml::escape(url)
        )
    };
    let mut dv = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" entityID="{DEMO_DV_ENTITY_ID}"><md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="{protocol}">{}{}{}<md:AssertionConsumerService Binding="{}" Location="{}" index="0" isDefault="true"/>"#,
        key_descriptor("signing", dv_signing),
        key_descriptor("encryption", dv_encryption),
        ars(&ap.dv.url),
        xml::BINDING_ARTIFACT,
        xml::escape(&ap.dv_acs),
    );
    for (index, _) in SERVICES {
        dv.push_str(&format!(
            r#"<md:AttributeConsumingService index="{index}"><md:ServiceName xml:lang="en">Service {index}</md:ServiceName><md:RequestedAttribute Name="urn:etoegang:DV:00000099990000000002:services:{index}"/></md:AttributeConsumingService>"#
        ));
    }
    dv.push_str("</md:SPSSODescriptor></md:EntityDescriptor>\n");
    let ad = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" entityID="{DEV_AD_ENTITY_ID}"><md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="{protocol}">{}{}<md:SingleSignOnService Binding="{}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>
"#,
        key_descriptor("signing", ad_signing),
        ars(&ap.ad.url),
        xml::BINDING_ARTIFACT,
        xml::escape(&ap.ad_sso),
    );
    std::fs::write(sp_dir.join("load-dv.xml"), dv)?;
    std::fs::write(idp_dir.join("load-ad.xml"), ad)?;
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
    on_tasks(concurrency, t.keep_alive, |_, c| {
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
    on_tasks(concurrency, t.keep_alive, |_, c| {
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

/// Runs `per_task(task, client)` on `n` tasks, each with its own browser.
async fn on_tasks<F, Fut>(n: usize, keep_alive: bool, per_task: F)
where
    F: Fn(usize, reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(per_task(i, client(keep_alive))))
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
    on_tasks(concurrency, t.keep_alive, |_, c| {
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
    on_tasks(concurrency, t.keep_alive, |_, c| {
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
    let key = |name: &str| {
        SigningKey::load(
            &certs.join(format!("{name}.key")),
            &certs.join(format!("{name}.crt")),
        )
    };
    let poort_key = key("poort-signing")?;
    let artifact = if a.protocol == Protocol::Artifact {
        let tls = match a.backchannel {
            BackChannelMode::Http => None,
            mode => Some((
                tls_material(&dir.join("tls"), mode != BackChannelMode::TlsFull)?,
                mode != BackChannelMode::Tls,
            )),
        };
        let ap = artifact_peers(
            key("demo-dv-signing")?,
            key("dev-ad-signing")?,
            &poort_key.cert_der,
            tls,
        )
        .await?;
        let pem = std::fs::read(certs.join("demo-dv-encryption.crt"))?;
        write_artifact_metadata(
            &dir.join("sp"),
            &dir.join("idp"),
            &ap,
            &key("demo-dv-signing")?.cert_der,
            &openssl::x509::X509::from_pem(&pem)?.to_der()?,
            &key("dev-ad-signing")?.cert_der,
        )?;
        Some(ap)
    } else {
        poort::demo::metadata::write_demo_metadata(
            &certs,
            &dir.join("sp"),
            &dir.join("idp"),
            DV_URL,
            AD_URL,
        )?;
        None
    };
    let dv_encryption = std::fs::read(certs.join("demo-dv-encryption.key"))?;
    let peers = Arc::new(Peers {
        dv_key: key("demo-dv-signing")?,
        ad_key: key("dev-ad-signing")?,
        poort_keys: PeerKeys {
            entity_id: Some(IDP_ENTITY_ID.to_string()),
            signing_certs: vec![poort_key.cert_der.clone()],
            ..PeerKeys::default()
        },
    });
    let target = |p: &Poort| -> Result<Arc<Target>, Error> {
        // The DV's Response check wants its ACS (Destination) at `{base}/acs`.
        let dv_base = match &artifact {
            Some(ap) => ap.dv_acs.trim_end_matches("/acs").to_string(),
            None => DV_URL.to_string(),
        };
        let dv = DemoDv::new(
            DEMO_DV_ENTITY_ID,
            dv_base,
            p.base.clone(),
            key("demo-dv-signing")?,
            openssl::pkey::PKey::private_key_from_pem(&dv_encryption)?,
            Some(poort_key.cert_der.clone()),
        )
        .with_poort_entity_id(IDP_ENTITY_ID);
        let versioned = |path: &str| match &artifact {
            Some(_) => format!("{}{path}/{FRAMEWORK}", p.base),
            None => format!("{}{path}", p.base),
        };
        Ok(Arc::new(Target {
            peers: peers.clone(),
            dv,
            sso: versioned("/saml/sso"),
            acs: versioned("/saml/acs"),
            base: p.base.clone(),
            protocol: a.protocol,
            keep_alive: a.keep_alive.unwrap_or(a.protocol != Protocol::Artifact),
            ad_sso: artifact
                .as_ref()
                .map_or(AD_URL.to_string(), |ap| ap.ad_sso.clone()),
            artifact: artifact.as_ref().map(|ap| {
                Arc::new(ArtifactPeers {
                    poort_ars: versioned("/saml/artifact"),
                    ..ap.clone()
                })
            }),
            oidc_keys: poort::oidc::ProviderKeys::load(&certs.join("oidc"), false).ok(),
        }))
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "loadgen: {} logins | poort {} | {} cores | concurrency {} | connections {}{} | log \
         filter {}",
        match a.protocol {
            Protocol::Oidc => "OpenID Connect (code flow + PKCE + token request) to SAML AD",
            Protocol::Saml => "SAML to SAML",
            Protocol::Artifact => "SAML Artifact-Artifact (DV and AD by HTTP-Artifact)",
        },
        a.poort.display(),
        cores,
        a.concurrency,
        if a.keep_alive.unwrap_or(a.protocol != Protocol::Artifact) {
            "kept alive"
        } else {
            "a new one for every request"
        },
        match (a.protocol, a.backchannel) {
            (Protocol::Artifact, BackChannelMode::Http) => " | poort's back channel: plain HTTP",
            (Protocol::Artifact, BackChannelMode::Tls) => {
                " | poort's back channel: TLS with client certificate, kept alive"
            }
            (Protocol::Artifact, BackChannelMode::TlsClose) => {
                " | poort's back channel: TLS with client certificate, a handshake per resolution \
                 (resumption allowed)"
            }
            (Protocol::Artifact, BackChannelMode::TlsFull) => {
                " | poort's back channel: TLS with client certificate, a full handshake per \
                 resolution"
            }
            _ => "",
        },
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
        match a.protocol {
            Protocol::Oidc => "GET /oidc/authorize",
            Protocol::Saml => "GET /saml/sso",
            Protocol::Artifact => "GET /saml/sso/1.13?SAMLart, resolved at the DV,",
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
    let token_phase = if a.protocol == Protocol::Oidc && a.tokens > 0 {
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
    // Artifact-Artifact (read from src/web/login and src/saml): signed are the ArtifactResolve to
    // the DV, the AuthnRequest to the AD, the ArtifactResponse to the AD, the ArtifactResolve to
    // the AD, the assertion, the Response and the ArtifactResponse to the DV (7). Verified: at
    // /saml/sso the DV's ArtifactResponse and the AuthnRequest inside it (both by
    // `verify_artifact_response`), the AuthnRequest again (`verify_enveloped`); at poort's ARS
    // the AD's ArtifactResolve; at /saml/acs the AD's ArtifactResponse, Response and assertion
    // (`verify_artifact_response`), Response and assertion again (`check_response`); at poort's
    // ARS the DV's ArtifactResolve (10).
    let (n_sign, n_verify) = match a.protocol {
        Protocol::Oidc => (2.0, 1.0),
        Protocol::Saml => (3.0, 2.0),
        Protocol::Artifact => (7.0, 10.0),
    };
    let floor_ms = n_sign / signs * 1e3 + n_verify / verifies * 1e3;
    let floor_rate = 1e3 / floor_ms;
    println!("\n== crypto floor (openssl, one thread, poort's RSA-2048 key, same run)");
    println!(
        "RSA-2048 sign: {signs:.0}/s ({:.0} µs); verify: {verifies:.0}/s ({:.1} µs)",
        1e6 / signs,
        1e6 / verifies
    );
    let what = match a.protocol {
        Protocol::Oidc => {
            "2 RSA signatures (upstream AuthnRequest, ID token) + 1 verification (AD assertion)"
        }
        Protocol::Saml => {
            "3 RSA signatures (upstream AuthnRequest, assertion, Response) + 2 verifications (DV \
             request, AD assertion)"
        }
        Protocol::Artifact => {
            "7 RSA signatures (ArtifactResolve to the DV, AuthnRequest, ArtifactResponse to the \
             AD, ArtifactResolve to the AD, assertion, Response, ArtifactResponse to the DV) + 10 \
             verifications (DV: ArtifactResponse, AuthnRequest twice; AD: ArtifactResolve, \
             ArtifactResponse, Response twice, assertion twice; DV: ArtifactResolve)"
        }
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
    if a.protocol == Protocol::Artifact {
        // What the XML layer makes of those operations, on one thread: poort's `dsig::sign` of
        // an ArtifactResolve (own c14n, key loaded once) and xmlsec's verification of it with the
        // certificate from metadata (which xmlsec loads again for every signature).
        let now = Utc::now();
        let make = || resolve::artifact_resolve(SP_ENTITY_ID, "http://x/", "AAQ=", now, &poort_key);
        let (_, doc) = make()?;
        let certs = [poort_key.cert_der.clone()];
        let doc_signs = rate(a.crypto_seconds, || {
            make().expect("sign");
        });
        let doc_verifies = rate(a.crypto_seconds, || {
            resolve::verify_artifact_resolve(&doc, &certs).expect("verify");
        });
        let xml_floor_ms = n_sign / doc_signs * 1e3 + n_verify / doc_verifies * 1e3;
        println!(
            "XML layer: signing an ArtifactResolve (dsig::sign) {doc_signs:.0}/s ({:.0} µs); \
             verifying it (xmlsec, certificate from metadata) {doc_verifies:.0}/s ({:.0} µs) -> \
             7 + 10 of those = {xml_floor_ms:.3} ms per login ({:.2} of poort's CPU per login)",
            1e6 / doc_signs,
            1e6 / doc_verifies,
            xml_floor_ms / cpu_per_login_ms
        );
    }
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
         phase), the rest ({}) {:.3} ms",
        match a.protocol {
            Protocol::Oidc => "/saml/acs and /oidc/token",
            Protocol::Saml => "/saml/acs",
            Protocol::Artifact =>
                "/saml/artifact for the AD, /saml/acs with the resolution at the AD, \
                 /saml/artifact for the DV",
        },
        cpu_per_login_ms - sso_ms
    );
    // Issue 10 set 1.5 ms for the Artifact-Artifact login; issue 2 set 2 ms for the others.
    let target_ms = if a.protocol == Protocol::Artifact {
        1.5
    } else {
        2.0
    };
    println!(
        "target (<= {target_ms} ms poort CPU per login): {} (poort CPU / target = {:.2})",
        if cpu_per_login_ms <= target_ms {
            "met"
        } else {
            "NOT met"
        },
        cpu_per_login_ms / target_ms
    );
    if a.protocol == Protocol::Artifact && a.backchannel != BackChannelMode::Http {
        println!(
            "TLS handshakes of poort at the peers (whole run): {} full, {} resumed",
            TLS_FULL.load(Ordering::Relaxed),
            TLS_RESUMED.load(Ordering::Relaxed)
        );
    }
    if let Some(ap) = &artifact {
        let misses = ap.dv.misses.load(Ordering::Relaxed) + ap.ad.misses.load(Ordering::Relaxed);
        if misses > 0 {
            eprintln!("loadgen: {misses} resolutions at the peers found no message");
        }
    }
    if failed > 0 || warm_failed > 0 || pending_failed > 0 || token_failures > 0 {
        return Err(format!(
            "{} failures (see above)",
            failed + warm_failed + pending_failed + token_failures
        )
        .into());
    }
    Ok(())
}
