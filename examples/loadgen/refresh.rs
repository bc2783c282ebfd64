//! `--aggregate-refresh N` (issue 13): logins whose AD comes from a signed metadata aggregate of
//! N entities, while poort refreshes that aggregate and while it does not, in one run.
//!
//! The AD this program plays is taken out of poort's metadata folder and put in an aggregate
//! (`examples/shared/aggregate.rs`: entity 1 of N is that AD, with its key and endpoints) signed
//! by a throwaway federation key. This program serves the aggregate over HTTP (axum, a free
//! 127.0.0.1 port) and notes when each fetch came. Editions with sequence 1, 2, … are signed
//! before any poort starts, so no signing loads the machine while it is measured.
//!
//! Phases alternate, `--refresh-pairs` times: *quiet* (poort's `refresh_seconds` a day: it
//! fetches edition 1 at start and never again) and *refreshing* (`refresh_seconds` =
//! `--refresh-seconds`; each fetch gets the next edition, so every refresh verifies, reads and
//! swaps in a new one). poort's refresh pace is fixed at start, so each phase has a poort of its
//! own, started fresh, warmed up and measured with the same load.
//!
//! When a refresh ran is told by the fetches and poort's log, not by polling poort while it is
//! measured (a `/metrics` scrape with thousands of entities is not free; its cost is printed):
//! a refresh begins at its fetch; poort logs `metadata aggregate in use` when the new edition is
//! verified and read (on the refresh thread); then the copy on disk is written and the set
//! assembled and swapped, and poort waits `refresh_seconds` before the next fetch, which so
//! dates the swap. A login *overlaps a refresh* when it runs at some moment between a fetch and
//! that swap. `poort_metadata_aggregate_refreshes_total` on poort's ops listener, read just
//! before and after the measured part, says how many refreshes poort counted, by outcome.
//! With `--perf-record FILE` each phase's poort is recorded to `FILE.<phase>`.

#[path = "../shared/aggregate.rs"]
mod aggregate;

use crate::floor::Floor;
use crate::load::{kinds_text, logins, percentile, timed_logins, Counts};
use crate::process::{free_port, start_poort, Aggregate, Extra};
use crate::setup::Setup;
use crate::sys::{all_processes, busiest_others, cpu_ticks, machine_ticks, rss_kb};
use crate::{Args, Error};
use aggregate::Signer;
use axum::body::Bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The refresh counter poort's ops listener shows, by aggregate and outcome.
const REFRESHES: &str = "poort_metadata_aggregate_refreshes_total";
/// What poort logs when a new edition is read, before it is kept on disk and swapped in.
const IN_USE: &str = "metadata aggregate in use";

/// The signed editions and who fetched them.
struct Editions {
    signed: Vec<Bytes>,
    now: parking_lot::Mutex<Serving>,
}

#[derive(Default)]
struct Serving {
    /// Each fetch gets the next edition (else always the first).
    refreshing: bool,
    /// Fetches in this phase: when, and which edition (0-based) went out.
    fetches: Vec<(Instant, usize)>,
}

impl Editions {
    /// A new phase: its poort starts with the first edition.
    fn begin(&self, refreshing: bool) {
        *self.now.lock() = Serving {
            refreshing,
            fetches: Vec::new(),
        };
    }

    fn fetches(&self) -> Vec<(Instant, usize)> {
        self.now.lock().fetches.clone()
    }

    fn next(&self) -> Bytes {
        let mut now = self.now.lock();
        let i = if now.refreshing {
            now.fetches.len().min(self.signed.len() - 1)
        } else {
            0
        };
        now.fetches.push((Instant::now(), i));
        self.signed[i].clone()
    }
}

async fn aggregate_endpoint(
    axum::extract::State(editions): axum::extract::State<Arc<Editions>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/samlmetadata+xml",
        )],
        editions.next(),
    )
        .into_response()
}

/// Serves the editions at `http://127.0.0.1:<free port>/aggregate.xml`; returns that URL.
async fn serve(editions: Arc<Editions>) -> Result<String, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/aggregate.xml", listener.local_addr()?);
    let router = axum::Router::new().route(
        "/aggregate.xml",
        axum::routing::get(aggregate_endpoint).with_state(editions),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("loadgen: the aggregate's server stopped: {e}");
        }
    });
    Ok(url)
}

/// The AD's metadata file in poort's folder (the one file there), moved out of it: from now on
/// poort knows the AD only from the aggregate.
fn take_ad_out(idp_dir: &Path, to: &Path) -> Result<String, Error> {
    let files: Vec<PathBuf> = std::fs::read_dir(idp_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let [file] = files.as_slice() else {
        return Err(format!("expected one AD in {}, found {files:?}", idp_dir.display()).into());
    };
    std::fs::rename(file, to)?;
    Ok(std::fs::read_to_string(to)?)
}

/// The editions with sequence 1..=count, signed on two threads.
fn sign_editions(signer: &Signer, entities: &str, count: usize) -> Result<Vec<Bytes>, Error> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let signed = parking_lot::Mutex::new(vec![Bytes::new(); count]);
    std::thread::scope(|s| -> Result<(), Error> {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<(), anyhow::Error> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        let edition = signer.aggregate(entities, i as u64 + 1)?;
                        signed.lock()[i] = Bytes::from(edition.into_bytes());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a signing thread panicked")??;
        }
        Ok(())
    })?;
    Ok(signed.into_inner())
}

/// `poort_metadata_aggregate_refreshes_total` by outcome, from poort's ops listener.
async fn refreshes(c: &reqwest::Client, metrics: &str) -> Result<BTreeMap<String, u64>, Error> {
    let text = c
        .get(metrics)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut by_outcome = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(REFRESHES)) {
        let outcome = line
            .split("outcome=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| format!("no outcome in {line}"))?;
        let value: f64 = line
            .split_whitespace()
            .last()
            .ok_or("empty metric line")?
            .parse()?;
        *by_outcome.entry(outcome.to_string()).or_default() += value as u64;
    }
    Ok(by_outcome)
}

fn total(by_outcome: &BTreeMap<String, u64>) -> u64 {
    by_outcome.values().sum()
}

fn updated(by_outcome: &BTreeMap<String, u64>) -> u64 {
    by_outcome.get("updated").copied().unwrap_or(0)
}

/// One refresh, as this program sees it.
#[derive(Clone, Copy)]
struct Refresh {
    /// When poort's fetch came.
    fetched: Instant,
    /// When poort logged the edition read (verified and read on the refresh thread, before the
    /// copy on disk is written and the set assembled and swapped).
    read: Option<Instant>,
    /// When the new set was in use: poort waits `refresh_seconds` after a refresh before the
    /// next fetch, so the next fetch's time less that (an upper bound: the wait's end to the
    /// request's arrival is in it too). None for the last refresh of a poort.
    swapped: Option<Instant>,
}

impl Refresh {
    /// The refresh's end as far as it is known (else `otherwise`).
    fn end(&self, otherwise: Instant) -> Instant {
        self.swapped.unwrap_or(otherwise)
    }
}

/// When poort logged each edition in use (by sequence), from its log, as this process's
/// `Instant`s (`anchor`: the same moment by both clocks).
fn read_times(
    log: &Path,
    anchor: (chrono::DateTime<chrono::Utc>, Instant),
) -> BTreeMap<u64, Instant> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(IN_USE))
        .filter_map(|l| {
            let at = chrono::DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok()?;
            let sequence = l.split("edition=").nth(1)?.split_whitespace().next()?;
            let sequence: u64 = sequence.rsplit(':').next()?.parse().ok()?;
            let offset = (at.with_timezone(&chrono::Utc) - anchor.0).to_std().ok()?;
            Some((sequence, anchor.1 + offset))
        })
        .collect()
}

/// What one `/metrics` scrape costs poort: its CPU over `n` scrapes (ms each) and the size.
async fn scrape_cost(
    c: &reqwest::Client,
    metrics: &str,
    pid: &str,
    clk_tck: f64,
) -> Result<(f64, usize), Error> {
    let n = 10;
    let before = cpu_ticks(pid)?;
    let mut size = 0;
    for _ in 0..n {
        size = c.get(metrics).send().await?.bytes().await?.len();
    }
    let cpu = (cpu_ticks(pid)? - before) as f64 / clk_tck;
    Ok((cpu * 1e3 / n as f64, size))
}

/// One phase's figures over its measured part.
struct Phase {
    label: String,
    refreshing: bool,
    counts: Arc<Counts>,
    /// Latencies, sorted.
    latencies: Vec<Duration>,
    wall: f64,
    poort_cpu: f64,
    self_cpu: f64,
    machine_busy: f64,
    machine_capacity: f64,
    /// CPU of processes not ours (alive at the end), and the busiest of them.
    others: (f64, Vec<String>),
    /// Refreshes by outcome, counted by poort in the measured part.
    refreshes: BTreeMap<String, u64>,
    /// Each refresh that ran in the measured part.
    windows: Vec<Refresh>,
    /// Latencies of the logins that overlapped a refresh, sorted.
    overlapped: Vec<Duration>,
    /// Editions that went out in the whole phase, the last one's sequence.
    fetches: usize,
    last_sequence: usize,
    /// poort's VmRSS every 5 s of the measured part (kB), and at its end.
    rss_kb: Vec<u64>,
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

    fn updated(&self) -> u64 {
        updated(&self.refreshes)
    }

    /// How long the refreshes' parts took, in ms: fetch to read (`in use` logged), read to
    /// swapped.
    fn parts_ms(&self) -> (Vec<f64>, Vec<f64>) {
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
        let read = self
            .windows
            .iter()
            .filter_map(|r| r.read.map(|at| ms(r.fetched, at)))
            .collect();
        let swap = self
            .windows
            .iter()
            .filter_map(|r| Some(ms(r.read?, r.swapped?)))
            .collect();
        (read, swap)
    }
}

pub async fn run(a: &Args, dir: &Path, setup: &Setup, cores: usize) -> Result<(), Error> {
    let n = a.aggregate_refresh;
    if n < 2 {
        return Err(
            "--aggregate-refresh wants at least 2 entities (the AD played is the 2nd)".into(),
        );
    }
    let ad = take_ad_out(&dir.join("idp"), &dir.join("ad-metadata.xml"))?;
    let signer = Signer::throwaway(&dir.join("federation"))?;
    let count = a
        .aggregate_editions
        .unwrap_or_else(|| 2 + ((a.seconds + 30.0) / a.refresh_seconds as f64).ceil() as usize);
    let t0 = Instant::now();
    let entities = aggregate::entities(&ad, n);
    let signed = sign_editions(&signer, &entities, count)?;
    drop(entities);
    let editions = Arc::new(Editions {
        signed,
        now: Default::default(),
    });
    let url = serve(editions.clone()).await?;
    println!(
        "aggregate: {n} ADs (the AD played is entity 1), {:.1} MB, {count} editions (sequence \
         1..={count}) signed by a throwaway RSA-2048 federation key in {:.1} s before any poort \
         started; served at {url}",
        editions.signed[0].len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "plan: {} pairs of phases (quiet: refresh_seconds 86400; refreshing: refresh_seconds \
         {}), each a poort of its own, {} warm-up logins, {:.0} s measured, concurrency {}, {}",
        a.refresh_pairs,
        a.refresh_seconds,
        a.warmup,
        a.seconds,
        a.concurrency,
        match a.rate {
            Some(r) => format!("at most {r} logins begun a second (evenly spaced)"),
            None => "closed loop (each client begins its next login at once)".to_string(),
        }
    );
    let mut phases = Vec::new();
    for pair in 0..a.refresh_pairs {
        for refreshing in [false, true] {
            let label = format!(
                "{} {}",
                if refreshing { "refreshing" } else { "quiet" },
                pair + 1
            );
            let p = phase(
                a, dir, setup, &editions, &url, &signer, refreshing, &label, cores,
            )
            .await?;
            print_phase(&p, cores);
            phases.push(p);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let floor = Floor::measure(a, &setup.poort_key)?;
    floor.print(a.protocol);
    summary(&phases, &floor)?;
    let failed: u64 = phases.iter().map(Phase::failed).sum();
    if failed > 0 {
        return Err(format!("{failed} failed logins (see above)").into());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn phase(
    a: &Args,
    dir: &Path,
    setup: &Setup,
    editions: &Editions,
    url: &str,
    signer: &Signer,
    refreshing: bool,
    label: &str,
    cores: usize,
) -> Result<Phase, Error> {
    // Another's work on the shared machine skews a phase: each waits for a quiet second first.
    let (busy, waited) = crate::sys::wait_quiet(cores, a.wait_quiet).await?;
    editions.begin(refreshing);
    let tag = label.replace(' ', "-");
    let ops = format!("127.0.0.1:{}", free_port()?);
    let extra = Extra {
        ops_listen: Some(ops.clone()),
        aggregate: Some(Aggregate {
            source: url.to_string(),
            trust_cert: signer.cert_file.clone(),
            cache_file: dir.join(format!("aggregate-copy-{tag}.xml")),
            refresh_seconds: if refreshing {
                a.refresh_seconds
            } else {
                86_400
            },
        }),
        ..Extra::default()
    };
    let mut p = start_poort(a, dir, &tag, &extra).await?;
    let metrics = format!("http://{ops}/metrics");
    let c = reqwest::Client::new();
    let at_start = refreshes(&c, &metrics).await?;
    if updated(&at_start) != 1 {
        return Err(
            format!("{label}: poort did not start with the aggregate: {at_start:?}").into(),
        );
    }
    println!(
        "\n== phase {label}: poort {} (pid {}), ops {ops}, the aggregate in use at start; machine \
         busy before it {busy:.2} of {cores} cores (after waiting {waited:.0} s)",
        p.base,
        p.pid()
    );
    let pid = p.pid().to_string();
    let (scrape_ms, scrape_bytes) = scrape_cost(&c, &metrics, &pid, a.clk_tck).await?;
    println!(
        "a /metrics scrape: {scrape_bytes} bytes, {scrape_ms:.1} ms of poort's CPU (10 scrapes \
         before the warm-up; none while measured)"
    );
    let t = setup.target(a, &p.base, vec![p.base.clone()])?;
    let far = Instant::now() + Duration::from_secs(120);
    let (w, _) = logins(&t, a.concurrency, far, a.warmup as u64, 1).await;
    if w.failed.load(Ordering::Relaxed) > 0 {
        return Err(format!("{label}: warm-up: {}", kinds_text(&w)).into());
    }
    let perf = match &a.perf_record {
        Some(out) => Some(crate::ops::perf_record(
            &p,
            &format!("{}.{tag}", out.display()),
        )?),
        None => None,
    };
    let before = refreshes(&c, &metrics).await?;
    let anchor = (chrono::Utc::now(), Instant::now());
    let procs0 = all_processes();
    let (poort0, self0, mach0) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.seconds);
    // poort's resident memory while measured: each refresh reads a new edition.
    let sampled = p.pid();
    let rss_samples = tokio::spawn(async move {
        let mut samples = Vec::new();
        while let Ok(kb) = rss_kb(sampled) {
            samples.push(kb);
            if Instant::now() + Duration::from_secs(5) > deadline {
                return samples;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        samples
    });
    let (counts, timed) = timed_logins(
        &t,
        a.concurrency,
        deadline,
        u64::MAX,
        a.verify_every,
        a.rate,
    )
    .await;
    let t1 = Instant::now();
    let (poort1, self1, mach1) = (cpu_ticks(&pid)?, cpu_ticks("self")?, machine_ticks()?);
    let ours = [p.pid(), std::process::id()];
    let others = busiest_others(&procs0, &all_processes(), &ours, a.clk_tck);
    let after = refreshes(&c, &metrics).await?;
    if let Some(mut perf) = perf {
        std::process::Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status()?;
        perf.wait()?;
    }
    // The end of the last refresh begun while measured is known by the fetch after it.
    let begun = editions.fetches().len();
    let wait_until = Instant::now() + Duration::from_secs(a.refresh_seconds + 10);
    while refreshing && editions.fetches().len() == begun && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.alive()?;
    let mut rss = rss_samples.await?;
    rss.push(rss_kb(p.pid())?);
    let _ = p.terminate(Duration::from_secs(10));
    let fetches = editions.fetches();
    let read = read_times(&dir.join(format!("poort-{tag}.log")), anchor);
    let pause = Duration::from_secs(if refreshing {
        a.refresh_seconds
    } else {
        86_400
    });
    // Every fetch after the one at start is a refresh.
    let windows: Vec<Refresh> = (1..fetches.len())
        .map(|k| Refresh {
            fetched: fetches[k].0,
            read: read.get(&(fetches[k].1 as u64 + 1)).copied(),
            swapped: fetches
                .get(k + 1)
                .map(|(at, _)| at.checked_sub(pause).unwrap_or(*at)),
        })
        .filter(|r| r.fetched < t1 && r.end(t1) > t0)
        .collect();
    let mut overlapped: Vec<Duration> = timed
        .iter()
        .filter(|(start, took)| {
            windows
                .iter()
                .any(|r| *start < r.end(t1) && *start + *took > r.fetched)
        })
        .map(|(_, took)| *took)
        .collect();
    overlapped.sort();
    let mut latencies: Vec<Duration> = timed.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    let refreshes = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    Ok(Phase {
        label: label.to_string(),
        refreshing,
        counts,
        latencies,
        wall: (t1 - t0).as_secs_f64(),
        poort_cpu: (poort1 - poort0) as f64 / a.clk_tck,
        self_cpu: (self1 - self0) as f64 / a.clk_tck,
        machine_busy: (mach1.0 - mach0.0) as f64 / a.clk_tck,
        machine_capacity: (mach1.1 - mach0.1) as f64 / a.clk_tck,
        others,
        refreshes,
        windows,
        overlapped,
        fetches: fetches.len(),
        last_sequence: fetches.last().map_or(0, |(_, i)| i + 1),
        rss_kb: rss,
    })
}

fn print_phase(p: &Phase, cores: usize) {
    let ok = p.ok();
    println!(
        "logins: {ok} ok, {} failed ({}), {} verified in full as the DV; {:.2} s -> {:.1} \
         logins/s",
        p.failed(),
        kinds_text(&p.counts),
        p.counts.verified.load(Ordering::Relaxed),
        p.wall,
        ok as f64 / p.wall
    );
    println!(
        "latency per login: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&p.latencies, 0.5),
        percentile(&p.latencies, 0.9),
        percentile(&p.latencies, 0.99),
        percentile(&p.latencies, 1.0)
    );
    println!(
        "poort CPU {:.2} s = {:.3} ms per login ({:.0} % of one core); generator CPU {:.2} s; \
         machine busy {:.2} of {:.2} core-seconds ({cores} cores); poort VmRSS every 5 s and at \
         the end: {} kB",
        p.poort_cpu,
        p.cpu_per_login_ms(),
        p.poort_cpu / p.wall * 100.0,
        p.self_cpu,
        p.machine_busy,
        p.machine_capacity,
        p.rss_kb
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "processes not ours, alive at the end: CPU {:.2} s; busiest: {}",
        p.others.0,
        if p.others.1.is_empty() {
            "none".to_string()
        } else {
            p.others.1.join(", ")
        }
    );
    let (read, swap) = p.parts_ms();
    let range = |v: &[f64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.0}–{:.0} ms",
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(0.0, f64::max)
            )
        }
    };
    println!(
        "refreshes counted by poort in the measured part: {:?}; fetches in the whole phase {} \
         (last edition served: sequence {}); refreshes overlapping the measured part {}: fetch \
         to read {}, read to swapped {}",
        p.refreshes,
        p.fetches,
        p.last_sequence,
        p.windows.len(),
        range(&read),
        range(&swap)
    );
    if p.refreshing {
        println!(
            "logins overlapping a refresh: {} of {ok}; their p50 {:.2} ms, p99 {:.2} ms, max \
             {:.2} ms",
            p.overlapped.len(),
            percentile(&p.overlapped, 0.5),
            percentile(&p.overlapped, 0.99),
            percentile(&p.overlapped, 1.0)
        );
    }
}

/// The phases side by side, the ratios to the quiet p99, and whether the target is met.
fn summary(phases: &[Phase], floor: &Floor) -> Result<(), Error> {
    println!("\n== summary");
    println!(
        "| phase | logins/s | p50 ms | p99 ms | max ms | poort CPU per login | refreshes (updated) \
         | overlapping logins | their p99 / max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in phases {
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.3} ms | {} | {} | {} |",
            p.label,
            p.ok() as f64 / p.wall,
            percentile(&p.latencies, 0.5),
            percentile(&p.latencies, 0.99),
            percentile(&p.latencies, 1.0),
            p.cpu_per_login_ms(),
            p.updated(),
            if p.refreshing {
                p.overlapped.len().to_string()
            } else {
                "-".to_string()
            },
            if p.refreshing {
                format!(
                    "{:.2} / {:.2}",
                    percentile(&p.overlapped, 0.99),
                    percentile(&p.overlapped, 1.0)
                )
            } else {
                "-".to_string()
            }
        );
    }
    let pooled = |refreshing: bool, overlapped: bool| {
        let mut all: Vec<Duration> = phases
            .iter()
            .filter(|p| p.refreshing == refreshing)
            .flat_map(|p| {
                if overlapped {
                    p.overlapped.clone()
                } else {
                    p.latencies.clone()
                }
            })
            .collect();
        all.sort();
        all
    };
    let (quiet, busy, over) = (
        pooled(false, false),
        pooled(true, false),
        pooled(true, true),
    );
    let q99 = percentile(&quiet, 0.99);
    let ratio = |v: f64| v / q99;
    println!(
        "all phases of a kind pooled: quiet p99 {q99:.2} ms ({} logins); refreshing p99 {:.2} \
         ms, max {:.2} ms ({} logins); overlapping a refresh p99 {:.2} ms, max {:.2} ms ({} \
         logins)",
        quiet.len(),
        percentile(&busy, 0.99),
        percentile(&busy, 1.0),
        busy.len(),
        percentile(&over, 0.99),
        percentile(&over, 1.0),
        over.len()
    );
    let r99 = ratio(percentile(&busy, 0.99));
    println!(
        "ratios to the quiet p99: refreshing p99 {r99:.2}, refreshing max {:.2}; overlapping \
         p99 {:.2}, overlapping max {:.2}",
        ratio(percentile(&busy, 1.0)),
        ratio(percentile(&over, 0.99)),
        ratio(percentile(&over, 1.0))
    );
    for pair in phases.chunks(2) {
        if let [q, r] = pair {
            let q99 = percentile(&q.latencies, 0.99);
            println!(
                "pair {} / {}: refreshing p99 / quiet p99 = {:.2}, refreshing max / quiet p99 = \
                 {:.2}, overlapping p99 / quiet p99 = {:.2}",
                r.label,
                q.label,
                percentile(&r.latencies, 0.99) / q99,
                percentile(&r.latencies, 1.0) / q99,
                percentile(&r.overlapped, 0.99) / q99
            );
        }
    }
    // What a refresh costs poort: the refreshing phases' CPU beyond their logins at the quiet
    // phases' CPU per login.
    let quiet_per_login = phases
        .iter()
        .filter(|p| !p.refreshing)
        .map(|p| p.poort_cpu)
        .sum::<f64>()
        / phases
            .iter()
            .filter(|p| !p.refreshing)
            .map(|p| p.ok())
            .sum::<u64>()
            .max(1) as f64;
    let (extra, done) = phases
        .iter()
        .filter(|p| p.refreshing)
        .fold((0.0, 0u64), |(cpu, n), p| {
            (
                cpu + p.poort_cpu - p.ok() as f64 * quiet_per_login,
                n + p.updated(),
            )
        });
    println!(
        "poort CPU per refresh (refreshing phases' CPU beyond their logins at the quiet CPU per \
         login): {:.2} s over {done} refreshes = {:.0} ms each{}",
        extra,
        extra * 1e3 / done.max(1) as f64,
        if extra < 0.0 {
            " (below zero: less than the spread of the CPU per login between phases)"
        } else {
            ""
        }
    );
    println!(
        "RSA-2048 floor of this run: sign {:.0} µs, verify {:.1} µs",
        1e6 / floor.signs,
        1e6 / floor.verifies
    );
    println!(
        "target (p99 while refreshing <= 2 x quiet p99): {} ({r99:.2})",
        if r99 <= 2.0 { "met" } else { "NOT met" }
    );
    if let Some(p) = phases.iter().find(|p| p.refreshing && p.updated() == 0) {
        return Err(format!("{}: poort refreshed no edition while measured", p.label).into());
    }
    if let Some(p) = phases
        .iter()
        .find(|p| !p.refreshing && total(&p.refreshes) > 0)
    {
        return Err(format!("{}: poort refreshed while it should not", p.label).into());
    }
    Ok(())
}
