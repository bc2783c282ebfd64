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
//!    Success, KvK 11223344, Response signed and assertion encrypted); every other answer must
//!    at least have status Success.
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
//! **Operations runs** (issue 11), each a series of phases, every phase with poorts of its own
//! (started fresh, warmed up, measured, stopped with SIGTERM), with the crypto floor after all:
//!
//! - `--replicas N` (N >= 2): N `poort serve` processes behind one public address, sharing a
//!   register in a fresh PostgreSQL database (`[register] database`, created on the server of
//!   `--postgres URL` and dropped at the end) and Redis for pending logins, the replay cache and
//!   the grant cache (`[state]` and `[cache]`, one prefix; a throwaway `redis-server` on a free
//!   port unless `--redis URL`). The load generator is the balancer: every request of login `n`
//!   names its hop `h` and goes to replica `(n + h) % N` (see `login.rs`), so each step lands on
//!   another replica than the step before. Reported per replica: CPU per login, requests,
//!   VmRSS and VmHWM; in total: logins/s, p50/p99, errors by kind, and the CPU of Redis and of
//!   the PostgreSQL backends serving the database.
//! - `--tracing-pairs K`: 2K phases, tracing off and on in turn (off, on, off, on, …), with the
//!   same load; "on" is `[telemetry] enabled`, OTLP/HTTP-protobuf to a receiver this program
//!   serves (`otlp.rs`: it answers 200 to `POST /v1/traces` and counts requests, bytes, spans
//!   and traces), `sampling_ratio = 1.0`. Reported per phase: poort's CPU per login; and the
//!   ratio on / off. Combines with `--replicas`.
//! - `--tracing-side-by-side K`: K phases, each with two poorts (or two groups of `--replicas`)
//!   at once, one without and one with traces, the clients split evenly between them: both
//!   see the same machine at the same time, which a shared, noisy machine does not give two
//!   phases one after the other. Reported per phase: both CPUs per login and their ratio.
//!
//! **Aggregate refresh** (issue 13), `--aggregate-refresh N`: the AD comes from a signed metadata
//! aggregate of N ADs (the AD played among them, signed by a throwaway federation key) that this
//! program serves over HTTP, not from poort's folder. `--refresh-pairs K` pairs of phases, each
//! with a poort of its own: quiet (no refresh) and refreshing (poort's `refresh_seconds` =
//! `--refresh-seconds`, every fetch a new edition, signed before the run). Reported per phase:
//! logins/s, p50/p99/max, poort's CPU per login, the refreshes poort counted (its ops listener's
//! `/metrics`), and the logins that overlapped a refresh; then the ratios to the quiet p99
//! (target: p99 while refreshing at most twice the quiet p99). `--rate R` spaces the logins
//! evenly, R a second at most, so that the machine is not saturated. poort knows many ADs then,
//! so it sends the browser to its AD choice; the browser posts the AD played (the page with
//! thousands of ADs is not fetched). See `refresh.rs`.
//!
//! **Second login through the session** (issue 15), `--session-pairs K` with `--protocol saml`
//! or `artifact`: one poort whose service 2 has `sso_support = true`; K pairs of phases on it,
//! full first logins through the AD (each in a fresh browser) and second logins in browsers
//! that hold a `poort_session` cookie (the DV's request alone, which poort must answer from the
//! session, straight to the DV; a redirect to the AD fails the run). Every request opens a new
//! connection unless `--keep-alive yes`. Reported per phase and per kind: logins/s, p50/p99/max,
//! poort's CPU per login, and the RSA-2048 floor of each kind. See `session.rs`.
//!
//! Run (see scripts/bench-load.sh):
//! `cargo run --release --example loadgen -- --poort target/release/poort --clk-tck 100`

mod artifact;
mod backing;
mod floor;
mod load;
mod login;
mod ops;
mod otlp;
mod process;
mod refresh;
mod session;
mod setup;
mod sys;

use artifact::{BackChannelMode, TLS_FULL, TLS_RESUMED};
use chrono::Utc;
use floor::Floor;
use load::{fresh_codes, logins, pending_flows, percentile, rate, redeem_all};
use process::start_poort;
use setup::Setup;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use sys::{cpu_ticks, machine_ticks, rss_kb};

pub const IDP_ENTITY_ID: &str = "urn:etoegang:HM:00000099990000000001:entities:1";
pub const SP_ENTITY_ID: &str = "urn:etoegang:HM:00000099990000000001:entities:2";
/// Peers' base URLs: they appear in metadata and messages but are never contacted.
pub const DV_URL: &str = "http://127.0.0.1:9/dv";
pub const AD_URL: &str = "http://127.0.0.1:9/ad";
pub const SERVICE_INDEX: u16 = 2;
pub const PERSON: &str = "bram";
pub const PERSON_KVK: &str = "11223344";
/// The OpenID Connect client of `--protocol oidc` (its redirect URI is never contacted).
pub const OIDC_CLIENT: &str = "load-rp";
pub const OIDC_SECRET: &str = "load-rp-secret-0123456789abcdef";
pub const OIDC_REDIRECT: &str = "http://127.0.0.1:9/rp/cb";
/// poort's `[saml] framework_version` (its default): the versioned SAML endpoint paths.
pub const FRAMEWORK: &str = "1.13";
/// The services of the catalogue (config/poort.toml) the DV offers, as (index, level).
pub const SERVICES: [(u16, &str); 2] = [(1, "EH3"), (2, "EH2+")];
/// The `index` of each artifact peer's one ArtifactResolutionService: its artifacts'
/// EndpointIndex.
pub const PEER_ARS_INDEX: u16 = 0;
/// RFC 7636 appendix B.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Args {
    pub poort: PathBuf,
    pub repo: PathBuf,
    pub clk_tck: f64,
    pub concurrency: usize,
    pub seconds: f64,
    pub warmup: usize,
    pub flows: usize,
    pub crypto_seconds: f64,
    pub verify_every: u64,
    pub rust_log: Option<String>,
    pub perf_record: Option<PathBuf>,
    pub wait_quiet: f64,
    pub protocol: Protocol,
    /// Keep connections to poort open between requests (`--keep-alive yes|no`); by default yes,
    /// except for `artifact`, where every request opens a new connection as real peers do.
    pub keep_alive: Option<bool>,
    /// With `--protocol artifact`: how poort reaches the peers' ArtifactResolutionServices.
    pub backchannel: BackChannelMode,
    /// With `--protocol oidc`: codes redeemed in the token-endpoint phase (0: skip it).
    pub tokens: usize,
    /// `--replicas N`: N poort processes sharing PostgreSQL and Redis (1: the embedded
    /// defaults, one process).
    pub replicas: usize,
    /// `--redis URL`: an existing Redis for the replicas (else a throwaway redis-server).
    pub redis: Option<String>,
    /// `--postgres URL`: the maintenance database of the server where the replicas' register
    /// is created (and dropped after the run).
    pub postgres: String,
    /// `--tracing-pairs K`: K phases without and K with traces exported, in turn.
    pub tracing_pairs: usize,
    /// `--tracing-side-by-side K`: K phases, each with a poort without and one with traces
    /// exported at the same time, the clients split between them.
    pub tracing_side_by_side: usize,
    /// `--aggregate-refresh N`: the AD from a signed aggregate of N entities, phases quiet and
    /// refreshing in turn (0: off).
    pub aggregate_refresh: usize,
    /// `--refresh-pairs K`: K quiet and K refreshing phases.
    pub refresh_pairs: usize,
    /// `--refresh-seconds S`: poort's `refresh_seconds` in the refreshing phases.
    pub refresh_seconds: u64,
    /// `--aggregate-editions E`: editions signed beforehand (by default enough for a phase).
    pub aggregate_editions: Option<usize>,
    /// `--rate R` (with `--aggregate-refresh`): at most R logins begun a second, evenly spaced,
    /// so that the machine is not saturated (without it: each task begins the next at once).
    pub rate: Option<f64>,
    /// `--session-pairs K`: K pairs of phases, first logins through the AD and second logins
    /// answered from the login session, on one poort (0: off).
    pub session_pairs: usize,
}

impl Args {
    /// Keep connections to poort open between requests (by default not for Artifact-Artifact
    /// and the session runs: a new connection for every request, as real peers and browsers).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
            .unwrap_or(self.protocol != Protocol::Artifact && self.session_pairs == 0)
    }
}

/// Who asks poort, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
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
         [--keep-alive yes|no] [--backchannel http|tls|tls-close|tls-full] [--replicas N] \
         [--redis URL] [--postgres URL] [--tracing-pairs K] [--tracing-side-by-side K] \
         [--aggregate-refresh N] [--refresh-pairs K] [--refresh-seconds S] \
         [--aggregate-editions E] [--rate R] [--session-pairs K]"
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
        replicas: 1,
        redis: None,
        postgres: "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
        tracing_pairs: 0,
        tracing_side_by_side: 0,
        aggregate_refresh: 0,
        refresh_pairs: 2,
        refresh_seconds: 2,
        aggregate_editions: None,
        rate: None,
        session_pairs: 0,
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
            "--replicas" => a.replicas = num(&v) as usize,
            "--redis" => a.redis = Some(v),
            "--postgres" => a.postgres = v,
            "--tracing-pairs" => a.tracing_pairs = num(&v) as usize,
            "--tracing-side-by-side" => a.tracing_side_by_side = num(&v) as usize,
            "--aggregate-refresh" => a.aggregate_refresh = num(&v) as usize,
            "--refresh-pairs" => a.refresh_pairs = num(&v) as usize,
            "--refresh-seconds" => a.refresh_seconds = num(&v) as u64,
            "--aggregate-editions" => a.aggregate_editions = Some((num(&v) as usize).max(2)),
            "--rate" => a.rate = Some(num(&v)).filter(|r| *r > 0.0),
            "--session-pairs" => a.session_pairs = num(&v) as usize,
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
    if a.poort.as_os_str().is_empty()
        || a.concurrency == 0
        || a.seconds > 600.0
        || a.replicas == 0
        || a.tracing_pairs > 20
        || a.tracing_side_by_side > 20
        || a.refresh_pairs == 0
        || a.refresh_pairs > 20
        || a.refresh_seconds == 0
        || (a.aggregate_refresh > 0
            && (a.replicas > 1 || a.tracing_pairs + a.tracing_side_by_side > 0))
        || a.session_pairs > 20
        || (a.session_pairs > 0
            && (a.protocol == Protocol::Oidc
                || a.replicas > 1
                || a.tracing_pairs + a.tracing_side_by_side + a.aggregate_refresh > 0))
    {
        usage()
    }
    // poort runs in a temporary folder: a relative path (the binary, or the repository whose
    // files its config names) would be looked up there.
    a.poort = absolute("--poort", &a.poort);
    a.repo = absolute("--repo", &a.repo);
    a
}

/// `path` from the root, or the end of the run with what was wrong with it.
fn absolute(flag: &str, path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|e| {
        eprintln!("loadgen: {flag} {}: {e}", path.display());
        std::process::exit(2)
    })
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
    let setup = Setup::prepare(a, dir).await?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    Setup::banner(a, cores);
    let (busy, waited) = sys::wait_quiet(cores, a.wait_quiet).await?;
    println!(
        "machine busy before the run (1 s, no poort yet): {busy:.2} of {cores} cores, after \
         waiting {waited:.0} s for quiet (at most {:.0} s)",
        a.wait_quiet
    );
    if a.aggregate_refresh > 0 {
        return refresh::run(a, dir, &setup, cores).await;
    }
    if a.session_pairs > 0 {
        return session::run(a, dir, &setup, cores).await;
    }
    if a.replicas > 1 || a.tracing_pairs > 0 || a.tracing_side_by_side > 0 {
        return ops::run(a, dir, &setup, cores).await;
    }
    let poort_key = &setup.poort_key;
    let artifact = &setup.artifact;
    let target = |p: &process::Poort| setup.target(a, &p.base, vec![p.base.clone()]);

    // (a) Memory: a fresh poort, idle, then with pending flows.
    let mut p = start_poort(a, dir, "memory", &Default::default()).await?;
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
    let mut p = start_poort(a, dir, "load", &Default::default()).await?;
    let t = target(&p)?;
    let pid = p.pid().to_string();
    let far = Instant::now() + Duration::from_secs(60);
    let (w, _) = logins(&t, a.concurrency, far, a.warmup as u64, 1).await;
    let warm_failed = w.failed.load(Ordering::Relaxed);
    let rss_before = rss_kb(p.pid())?;
    // Optionally sample poort (not the generator) with `perf record` during the measured part.
    let perf = match &a.perf_record {
        Some(out) => Some(
            std::process::Command::new("perf")
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
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
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
        std::process::Command::new("kill")
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
    let floor = Floor::measure(a, poort_key)?;
    floor.print(a.protocol);
    let (n_sign, n_verify) = (floor.n_sign, floor.n_verify);
    let (floor_ms, floor_rate, signs) = (floor.ms(), floor.rate(), floor.signs);
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
        let make = || {
            poort::saml::resolve::artifact_resolve(
                SP_ENTITY_ID,
                "http://x/",
                "AAQ=",
                now,
                poort_key,
            )
        };
        let (_, doc) = make()?;
        let certs = [poort_key.cert_der.clone()];
        let doc_signs = rate(a.crypto_seconds, || {
            make().expect("sign");
        });
        let doc_verifies = rate(a.crypto_seconds, || {
            poort::saml::resolve::verify_artifact_resolve(&doc, &certs).expect("verify");
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
    if let Some(ap) = artifact {
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
