//! `--session-pairs K` (issue 15): the second login of a browser that has a login session at
//! poort, answered without the AD, against the full first login through the AD, on one poort in
//! one run.
//!
//! poort is set up as for `--protocol saml|artifact` (`setup.rs`), with `sso_support = true`
//! on the service the DV asks for (service 2) and `[login_session]` on its defaults (enabled,
//! 2 hours idle, 4 hours absolute). Every load task is a browser with a cookie jar of its own,
//! and (by default) a new connection for every request. K pairs of phases on that one poort,
//! each measured for `--seconds`, in turn:
//!
//! - *first*: whole logins through the AD (`login::login`), each in a fresh browser (the jar
//!   emptied before it): poort sends the browser to the AD, checks the AD's Response, decides,
//!   opens a login session (cookie `poort_session`) and answers the DV.
//! - *second*: each task first makes one whole login through the AD (not measured), so that its
//!   browser holds a `poort_session` cookie; then, until the window ends, only the DV's request
//!   (`login::from_session`): a fresh signed AuthnRequest that poort must answer from the
//!   session, straight to the DV with its signed, encrypted Response. A redirect to the AD (or
//!   to the AD choice) fails the login; with `--protocol artifact` the AD's
//!   ArtifactResolutionService must also have handed out nothing while it was measured.
//!
//! Every `--verify-every`th answer of either kind is checked in full as the DV (signature,
//! decryption, Success for KvK 11223344, and for second logins the InResponseTo); every other
//! answer must at least be a Success. Reported per phase and pooled per kind: logins/s, p50,
//! p99 and max latency, poort's CPU per login (utime + stime from /proc/PID/stat over the
//! window, divided by the logins); then, poort stopped, the RSA-2048 floor of each kind from the
//! same run, and the ratios second / first.

use crate::floor::Floor;
use crate::load::{kinds_text, percentile, report_error, Counts};
use crate::login::{from_session, login, Target};
use crate::process::{start_poort, Extra, Poort};
use crate::setup::Setup;
use crate::sys::{all_processes, busiest_others, cpu_ticks, machine_ticks, rss_kb, wait_quiet};
use crate::{Args, Error, Protocol, PERSON_KVK, SERVICE_INDEX};
use reqwest::cookie::CookieStore;
use reqwest::header::HeaderValue;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// poort's login session cookie (`web::cookies::LOGIN_SESSION`).
const SESSION_COOKIE: &str = "poort_session";

/// A cookie jar that can be emptied: a new browser for a first login, without a new client.
#[derive(Default)]
struct Jar(parking_lot::RwLock<Arc<reqwest::cookie::Jar>>);

impl CookieStore for Jar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url) {
        self.0.read().set_cookies(headers, url)
    }

    fn cookies(&self, url: &url::Url) -> Option<HeaderValue> {
        self.0.read().cookies(url)
    }
}

impl Jar {
    fn empty(&self) {
        *self.0.write() = Arc::default();
    }

    /// Whether the jar sends cookie `name` to `url`.
    fn sends(&self, url: &url::Url, name: &str) -> bool {
        let prefix = format!("{name}=");
        self.cookies(url)
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .is_some_and(|v| v.split("; ").any(|c| c.starts_with(&prefix)))
    }
}

/// One load task's browser: its client (redirects not followed) and cookie jar.
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new(keep_alive: bool) -> Result<Browser, Error> {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(if keep_alive { 4 } else { 0 })
            .build()?;
        Ok(Browser { client, jar })
    }

    fn many(n: usize, keep_alive: bool) -> Result<Vec<Browser>, Error> {
        (0..n).map(|_| Browser::new(keep_alive)).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A whole login through the AD, in a browser without a session.
    First,
    /// The DV's request alone, answered from the browser's login session.
    Second,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::First => "first login (through the AD)",
            Kind::Second => "second login (from the session)",
        }
    }
}

/// One login of `kind` (`n`: its number, for routing and for `--verify-every`).
async fn one(t: &Target, b: &Browser, kind: Kind, n: usize, verify: bool) -> Result<(), Error> {
    match kind {
        Kind::First => {
            b.jar.empty();
            login(t, &b.client, n, verify).await
        }
        Kind::Second => from_session(t, &b.client, n, verify).await,
    }
}

/// Logins of `kind`, a task per browser, until `deadline` (or `limit` logins in all); the
/// latencies, sorted.
async fn logins(
    t: &Arc<Target>,
    browsers: &[Browser],
    kind: Kind,
    deadline: Instant,
    limit: u64,
    verify_every: u64,
) -> Result<(Arc<Counts>, Vec<Duration>), Error> {
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = browsers
        .iter()
        .cloned()
        .map(|b| {
            let (t, counts, next) = (t.clone(), counts.clone(), next.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= limit {
                        break;
                    }
                    let verify = n % verify_every == 0;
                    let started = Instant::now();
                    match one(&t, &b, kind, n as usize, verify).await {
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
                mine
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    latencies.sort();
    Ok((counts, latencies))
}

/// A whole login through the AD in every browser, each answer checked in full; afterwards
/// every browser must send a `poort_session` cookie to poort.
async fn open_sessions(t: &Arc<Target>, browsers: &[Browser]) -> Result<(), Error> {
    let tasks: Vec<_> = browsers
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, b)| {
            let t = t.clone();
            tokio::spawn(async move { one(&t, &b, Kind::First, i, true).await })
        })
        .collect();
    for task in tasks {
        task.await?
            .map_err(|e| format!("the first login that opens a session: {e}"))?;
    }
    let sso = url::Url::parse(&t.sso)?;
    if !browsers.iter().all(|b| b.jar.sends(&sso, SESSION_COOKIE)) {
        return Err(format!(
            "after a first login through the AD poort set no {SESSION_COOKIE} cookie: is \
             [login_session] enabled?"
        )
        .into());
    }
    Ok(())
}

/// One phase's figures over its measured window.
struct Phase {
    kind: Kind,
    label: String,
    counts: Arc<Counts>,
    /// Latencies, sorted.
    latencies: Vec<Duration>,
    wall: f64,
    poort_cpu: f64,
    self_cpu: f64,
    machine_busy: f64,
    machine_capacity: f64,
    /// Cores busy in the second before the phase (poort idle).
    busy_before: f64,
    /// CPU of processes not ours (alive at the end), and the busiest of them.
    others: (f64, Vec<String>),
    /// poort's VmRSS at the end of the window (kB).
    rss_kb: u64,
    /// `--protocol artifact`: messages the AD's ArtifactResolutionService handed out while
    /// measured (each a login that went to the AD).
    ad_resolutions: Option<u64>,
}

impl Phase {
    fn ok(&self) -> u64 {
        self.counts.ok.load(Ordering::Relaxed)
    }

    fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    fn cpu_per_login_ms(&self) -> f64 {
        self.poort_cpu * 1e3 / self.ok().max(1) as f64
    }
}

/// Stops a `perf record` begun for a phase.
fn stop_perf(perf: Option<std::process::Child>) -> Result<(), Error> {
    if let Some(mut perf) = perf {
        std::process::Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status()?;
        perf.wait()?;
    }
    Ok(())
}

async fn phase(
    a: &Args,
    p: &mut Poort,
    t: &Arc<Target>,
    kind: Kind,
    label: String,
    cores: usize,
) -> Result<Phase, Error> {
    // Another's work on the shared machine skews a phase: each waits for a quiet second first.
    let (busy_before, _) = wait_quiet(cores, a.wait_quiet).await?;
    let browsers = Browser::many(a.concurrency, t.keep_alive)?;
    if kind == Kind::Second {
        open_sessions(t, &browsers).await?;
    }
    let perf = match &a.perf_record {
        Some(out) => Some(crate::ops::perf_record(
            p,
            &format!("{}.{}", out.display(), label.replace(' ', "-")),
        )?),
        None => None,
    };
    let pid = p.pid().to_string();
    let ad0 = t
        .artifact
        .as_ref()
        .map(|ap| ap.ad.resolved.load(Ordering::Relaxed));
    let procs0 = all_processes();
    let (poort0, self0, mach0) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.seconds);
    let (counts, latencies) =
        logins(t, &browsers, kind, deadline, u64::MAX, a.verify_every).await?;
    let wall = t0.elapsed().as_secs_f64();
    let (poort1, self1, mach1) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    let ours = [p.pid(), std::process::id()];
    let others = busiest_others(&procs0, &all_processes(), &ours, a.clk_tck);
    let ad_resolutions = t
        .artifact
        .as_ref()
        .zip(ad0)
        .map(|(ap, before)| ap.ad.resolved.load(Ordering::Relaxed) - before);
    stop_perf(perf)?;
    p.alive()?;
    Ok(Phase {
        kind,
        label,
        counts,
        latencies,
        wall,
        poort_cpu: (poort1 - poort0) as f64 / a.clk_tck,
        self_cpu: (self1 - self0) as f64 / a.clk_tck,
        machine_busy: (mach1.0 - mach0.0) as f64 / a.clk_tck,
        machine_capacity: (mach1.1 - mach0.1) as f64 / a.clk_tck,
        busy_before,
        others,
        rss_kb: rss_kb(p.pid())?,
        ad_resolutions,
    })
}

fn print_phase(p: &Phase, cores: usize) {
    let ok = p.ok();
    println!(
        "\n== phase {}: {} (machine busy before it: {:.2} of {cores} cores)",
        p.label,
        p.kind.name(),
        p.busy_before
    );
    println!(
        "logins: {ok} ok, {} failed, {} verified in full as the DV; {:.2} s -> {:.1} logins/s",
        p.failed(),
        p.counts.verified.load(Ordering::Relaxed),
        p.wall,
        ok as f64 / p.wall
    );
    if p.failed() > 0 {
        println!("failures: {}", kinds_text(&p.counts));
    }
    println!(
        "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&p.latencies, 0.5),
        percentile(&p.latencies, 0.9),
        percentile(&p.latencies, 0.99),
        percentile(&p.latencies, 1.0)
    );
    println!(
        "poort CPU: {:.2} s = {:.3} ms per login ({:.0}% of one core); generator {:.3} ms per \
         login; machine busy {:.2} of {:.2} core-seconds (poort {:.0}%, generator {:.0}%, other \
         {:.0}%: {:.2} s, {})",
        p.poort_cpu,
        p.cpu_per_login_ms(),
        p.poort_cpu / p.wall * 100.0,
        p.self_cpu * 1e3 / ok.max(1) as f64,
        p.machine_busy,
        p.machine_capacity,
        p.poort_cpu / p.machine_busy * 100.0,
        p.self_cpu / p.machine_busy * 100.0,
        (p.machine_busy - p.poort_cpu - p.self_cpu).max(0.0) / p.machine_busy * 100.0,
        p.others.0,
        if p.others.1.is_empty() {
            "none named".to_string()
        } else {
            p.others.1.join(", ")
        }
    );
    let ad = match p.ad_resolutions {
        Some(n) => format!("; the AD's ArtifactResolutionService handed out {n} messages"),
        None => String::new(),
    };
    println!("poort VmRSS at the end: {} kB{ad}", p.rss_kb);
}

/// The phases of one kind together: logins, logins/s, sorted latencies, CPU per login.
struct Pooled {
    ok: u64,
    rate: f64,
    latencies: Vec<Duration>,
    cpu_ms: f64,
}

fn pooled(phases: &[Phase], kind: Kind) -> Pooled {
    let of: Vec<&Phase> = phases.iter().filter(|p| p.kind == kind).collect();
    let ok: u64 = of.iter().map(|p| p.ok()).sum();
    let wall: f64 = of.iter().map(|p| p.wall).sum();
    let cpu: f64 = of.iter().map(|p| p.poort_cpu).sum();
    let mut latencies: Vec<Duration> = of.iter().flat_map(|p| p.latencies.clone()).collect();
    latencies.sort();
    Pooled {
        ok,
        rate: ok as f64 / wall,
        latencies,
        cpu_ms: cpu * 1e3 / ok.max(1) as f64,
    }
}

fn summary(a: &Args, phases: &[Phase], first_floor: &Floor, second_floor: &Floor) {
    println!(
        "\n== second login through the session against the first login through the AD (one \
         poort, {} pairs of phases)",
        a.session_pairs
    );
    println!(
        "| phase | logins/s | p50 ms | p99 ms | max ms | poort CPU per login | generator CPU per \
         login | other CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for p in phases {
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.3} ms | {:.3} ms | {:.2} s |",
            p.label,
            p.ok() as f64 / p.wall,
            percentile(&p.latencies, 0.5),
            percentile(&p.latencies, 0.99),
            percentile(&p.latencies, 1.0),
            p.cpu_per_login_ms(),
            p.self_cpu * 1e3 / p.ok().max(1) as f64,
            p.others.0
        );
    }
    let first = pooled(phases, Kind::First);
    let second = pooled(phases, Kind::Second);
    println!("\npooled per kind:");
    println!(
        "| kind | logins | logins/s | p50 ms | p99 ms | max ms | poort CPU per login | RSA floor \
         | floor / CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (kind, x, floor) in [
        (Kind::First, &first, first_floor),
        (Kind::Second, &second, second_floor),
    ] {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.3} ms | {:.3} ms | {:.2} |",
            kind.name(),
            x.ok,
            x.rate,
            percentile(&x.latencies, 0.5),
            percentile(&x.latencies, 0.99),
            percentile(&x.latencies, 1.0),
            x.cpu_ms,
            floor.ms(),
            floor.ms() / x.cpu_ms
        );
    }
    println!(
        "ratio second / first: poort CPU per login {:.3} / {:.3} ms = {:.2}; p99 {:.2} / {:.2} \
         ms = {:.2}; p50 {:.2}; logins/s {:.2}",
        second.cpu_ms,
        first.cpu_ms,
        second.cpu_ms / first.cpu_ms,
        percentile(&second.latencies, 0.99),
        percentile(&first.latencies, 0.99),
        percentile(&second.latencies, 0.99) / percentile(&first.latencies, 0.99),
        percentile(&second.latencies, 0.5) / percentile(&first.latencies, 0.5),
        second.rate / first.rate
    );
    let pairs: Vec<String> = phases
        .chunks(2)
        .filter_map(|pair| match pair {
            [f, s] => Some(format!(
                "CPU {:.2}, p99 {:.2}",
                s.cpu_per_login_ms() / f.cpu_per_login_ms(),
                percentile(&s.latencies, 0.99) / percentile(&f.latencies, 0.99)
            )),
            _ => None,
        })
        .collect();
    println!("ratios per pair (second / first): {}", pairs.join("; "));
    println!(
        "what the session saves per login: {:.3} ms of poort's CPU (all poort does for the \
         AD's round trip: the pending flow, the upstream AuthnRequest, {}the AD's Response and \
         its checks)",
        first.cpu_ms - second.cpu_ms,
        match a.protocol {
            Protocol::Artifact => "the artifact resolutions with the AD, ",
            _ => "",
        }
    );
}

pub async fn run(a: &Args, dir: &Path, setup: &Setup, cores: usize) -> Result<(), Error> {
    let extra = Extra {
        sso_support: true,
        ..Extra::default()
    };
    let mut p = start_poort(a, dir, "session", &extra).await?;
    let t = setup.target(a, &p.base, vec![p.base.clone()])?;
    println!(
        "plan: poort {} (pid {}), service {SERVICE_INDEX} with sso_support = true, \
         [login_session] on its defaults; {} warm-up logins of each kind, then {} pairs of \
         phases (first logins through the AD, second logins from the session), {:.0} s each, \
         {} browsers; the DV's AuthnRequest {}; every {}th answer verified in full (Success, \
         KvK {PERSON_KVK})",
        p.base,
        p.pid(),
        a.warmup,
        a.session_pairs,
        a.seconds,
        a.concurrency,
        match a.protocol {
            Protocol::Artifact => {
                "enveloped-signed behind an artifact (resolved by poort at the DV), the answer \
                 by artifact (resolved by the DV at poort)"
            }
            _ => "signed over HTTP-Redirect, the answer by HTTP-POST (auto-post form)",
        },
        a.verify_every
    );
    // Warm-up: first logins, then a session in every browser and second logins.
    let browsers = Browser::many(a.concurrency, t.keep_alive)?;
    let far = Instant::now() + Duration::from_secs(120);
    let (w1, _) = logins(&t, &browsers, Kind::First, far, a.warmup as u64, 1).await?;
    open_sessions(&t, &browsers).await?;
    let (w2, _) = logins(&t, &browsers, Kind::Second, far, a.warmup as u64, 1).await?;
    for (w, kind) in [(&w1, Kind::First), (&w2, Kind::Second)] {
        if w.failed.load(Ordering::Relaxed) > 0 {
            return Err(format!("warm-up, {}: {}", kind.name(), kinds_text(w)).into());
        }
    }
    drop(browsers);
    let mut phases = Vec::new();
    for pair in 1..=a.session_pairs {
        for (kind, tag) in [(Kind::First, "first"), (Kind::Second, "second")] {
            let ph = phase(a, &mut p, &t, kind, format!("{tag} {pair}"), cores).await?;
            print_phase(&ph, cores);
            phases.push(ph);
        }
    }
    drop(p);
    // The crypto floor, one thread, poort stopped.
    let first_floor = Floor::measure(a, &setup.poort_key)?;
    first_floor.print(a.protocol);
    let second_floor = first_floor.of_session_login(a.protocol);
    second_floor.print_session_login(a.protocol);
    summary(a, &phases, &first_floor, &second_floor);
    let failed: u64 = phases.iter().map(Phase::failed).sum();
    let to_ad: u64 = phases
        .iter()
        .filter(|p| p.kind == Kind::Second)
        .filter_map(|p| p.ad_resolutions)
        .sum();
    if to_ad > 0 {
        return Err(format!(
            "{to_ad} second logins went to the AD (its ArtifactResolutionService handed out \
             messages while second logins were measured)"
        )
        .into());
    }
    if failed > 0 {
        return Err(format!("{failed} failed logins (see above)").into());
    }
    Ok(())
}
