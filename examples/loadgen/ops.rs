//! Operations runs (issue 11): replicas sharing PostgreSQL and Redis (`--replicas N`), and
//! tracing off against on (`--tracing-pairs K`), as a series of phases. Each phase starts its
//! own poorts, warms them up, measures whole logins for `--seconds`, and stops them with
//! SIGTERM (so the exporter sends its last spans); the crypto floor follows all phases.

use crate::backing::{FreshPostgres, ThrowawayRedis};
use crate::floor::Floor;
use crate::load::{kinds_text, logins, percentile, Counts};
use crate::login::Target;
use crate::otlp::{self, Received, Receiver};
use crate::process::{free_port, start_poort, Extra, Poort};
use crate::setup::Setup;
use crate::sys::{all_processes, busiest_others, cpu_ticks, hwm_kb, machine_ticks, rss_kb};
use crate::{Args, Error, Protocol};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the replicas share.
struct Shared {
    /// Ours, when no `--redis` was given.
    redis: Option<ThrowawayRedis>,
    redis_url: String,
    postgres: FreshPostgres,
    prefix: String,
}

/// One replica's figures over a phase's measured part.
struct ReplicaFigures {
    label: String,
    pid: u32,
    cpu_s: f64,
    /// Requests the load sent it in the measured part.
    requests: u64,
    rss_warm_kb: u64,
    rss_end_kb: u64,
    hwm_kb: u64,
    exit: String,
}

/// The machine over a phase's measured part (all groups together).
#[derive(Clone)]
struct Machine {
    /// poort's CPU, every process of every group.
    poort_cpu: f64,
    self_cpu: f64,
    /// Logins of all groups.
    logins: u64,
    busy: f64,
    capacity: f64,
    /// CPU of the processes not ours (alive at the end) and the busiest of them.
    others: (f64, Vec<String>),
}

/// One group of a phase: poorts with the same config (tracing off or on) and their load.
struct PhaseResult {
    traced: bool,
    /// Other groups measured at the same time (side by side).
    groups: usize,
    warm_ok: u64,
    counts: Arc<Counts>,
    latencies: Vec<Duration>,
    wall: f64,
    replicas: Vec<ReplicaFigures>,
    /// Our redis-server: CPU seconds and VmRSS at the end.
    redis: Option<(f64, u64)>,
    /// The PostgreSQL backends serving the register: how many, CPU seconds; and the same for
    /// every process of the server in `pg_stat_activity` (others' databases included).
    postgres: Option<(usize, f64)>,
    postgres_server: Option<(usize, f64)>,
    /// Given with the first group of a phase only.
    machine: Option<Machine>,
    received: Option<Received>,
}

impl PhaseResult {
    fn ok(&self) -> u64 {
        self.counts.ok.load(Ordering::Relaxed)
    }

    fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    fn poort_cpu(&self) -> f64 {
        self.replicas.iter().map(|r| r.cpu_s).sum()
    }

    /// poort's CPU per login, all replicas together, in ms.
    fn cpu_per_login_ms(&self) -> f64 {
        self.poort_cpu() * 1e3 / self.ok().max(1) as f64
    }

    fn rate(&self) -> f64 {
        self.ok() as f64 / self.wall
    }
}

pub async fn run(a: &Args, dir: &Path, setup: &Setup, cores: usize) -> Result<(), Error> {
    let shared = if a.replicas > 1 {
        let redis = match &a.redis {
            Some(_) => None,
            None => Some(ThrowawayRedis::start()?),
        };
        let redis_url = match (&a.redis, &redis) {
            (Some(url), _) => url.clone(),
            (None, Some(r)) => r.url(),
            (None, None) => unreachable!(),
        };
        let postgres = FreshPostgres::create(&a.postgres)?;
        let prefix = format!("poort-load-{}", std::process::id());
        println!(
            "shared by the {} replicas: register {} (fresh, dropped at the end), Redis {} \
             ({}) for [state] and [cache], prefix {}",
            a.replicas,
            postgres.url,
            redis_url,
            if redis.is_some() {
                "a throwaway redis-server of this run"
            } else {
                "given with --redis"
            },
            prefix
        );
        Some(Shared {
            redis,
            redis_url,
            postgres,
            prefix,
        })
    } else {
        None
    };
    let tracing = a.tracing_pairs > 0 || a.tracing_side_by_side > 0;
    let receiver = if tracing {
        let (endpoint, receiver) = otlp::serve().await?;
        println!("OTLP receiver (this program): {endpoint}/v1/traces");
        Some((endpoint, receiver))
    } else {
        None
    };
    // Each phase: its groups, tracing off (false) or on (true), measured at the same time.
    let mut plan: Vec<Vec<bool>> = Vec::new();
    for i in 0..a.tracing_pairs {
        plan.push(vec![false]);
        plan.push(vec![true]);
        let _ = i;
    }
    for i in 0..a.tracing_side_by_side {
        // Neither side always starts (and warms up) first.
        plan.push(if i % 2 == 0 {
            vec![false, true]
        } else {
            vec![true, false]
        });
    }
    if plan.is_empty() {
        plan.push(vec![false]);
    }
    println!(
        "plan: {} phase(s) of {:.0} s each after {} warm-up logins per poort group, {} \
         replica(s) per group{}{}",
        plan.len(),
        a.seconds,
        a.warmup,
        a.replicas,
        if a.tracing_pairs > 0 {
            format!("; {} pairs of phases, tracing off then on", a.tracing_pairs)
        } else {
            String::new()
        },
        if a.tracing_side_by_side > 0 {
            format!(
                "; {} phases with a poort without and one with tracing side by side, {} \
                 clients each",
                a.tracing_side_by_side,
                (a.concurrency / 2).max(1)
            )
        } else {
            String::new()
        }
    );
    let mut phases: Vec<Vec<PhaseResult>> = Vec::new();
    for (i, groups) in plan.iter().enumerate() {
        let results = phase(
            a,
            dir,
            setup,
            shared.as_ref(),
            groups,
            receiver.as_ref(),
            i,
            plan.len(),
        )
        .await?;
        for r in &results {
            print_phase(a, r, cores);
        }
        phases.push(results);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let floor = Floor::measure(a, &setup.poort_key)?;
    floor.print(a.protocol);
    println!("\n== summary");
    println!(
        "| phase | tracing | logins/s | p50 / p99 ms | failed | poort CPU per login | floor / CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, results) in phases.iter().enumerate() {
        for r in results {
            println!(
                "| {}{} | {} | {:.1} | {:.2} / {:.2} | {} | {:.3} ms | {:.2} |",
                i + 1,
                if r.groups > 1 { " (side by side)" } else { "" },
                if r.traced { "on" } else { "off" },
                r.rate(),
                percentile(&r.latencies, 0.5),
                percentile(&r.latencies, 0.99),
                r.failed(),
                r.cpu_per_login_ms(),
                floor.ms() / r.cpu_per_login_ms()
            );
        }
    }
    let growth = |off: f64, on: f64| (on / off - 1.0) * 100.0;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let one = |results: &[PhaseResult], on: bool| {
        results
            .iter()
            .find(|r| r.traced == on)
            .map(PhaseResult::cpu_per_login_ms)
    };
    let mut verdicts = Vec::new();
    if a.tracing_pairs > 0 {
        let singles: Vec<&Vec<PhaseResult>> = phases.iter().filter(|p| p.len() == 1).collect();
        let (mut offs, mut ons, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        for pair in singles.chunks(2) {
            if let [off, on] = pair {
                let (off, on) = (
                    one(off, false).unwrap_or(f64::NAN),
                    one(on, true).unwrap_or(f64::NAN),
                );
                offs.push(off);
                ons.push(on);
                pairs.push(growth(off, on));
            }
        }
        let g = growth(mean(&offs), mean(&ons));
        println!(
            "tracing, phases in turn: poort CPU per login off {:.3} ms, on {:.3} ms (means) -> \
             {g:+.1} %; per pair (on / off - 1): {}",
            mean(&offs),
            mean(&ons),
            pairs
                .iter()
                .map(|p| format!("{p:+.1} %"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        verdicts.push(g);
    }
    if a.tracing_side_by_side > 0 {
        let (mut offs, mut ons, mut each) = (Vec::new(), Vec::new(), Vec::new());
        for p in phases.iter().filter(|p| p.len() == 2) {
            if let (Some(off), Some(on)) = (one(p, false), one(p, true)) {
                offs.push(off);
                ons.push(on);
                each.push(growth(off, on));
            }
        }
        let g = growth(mean(&offs), mean(&ons));
        println!(
            "tracing, side by side: poort CPU per login off {:.3} ms, on {:.3} ms (means) -> \
             {g:+.1} %; per phase (on / off - 1): {}",
            mean(&offs),
            mean(&ons),
            each.iter()
                .map(|p| format!("{p:+.1} %"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        verdicts.push(g);
    }
    for g in verdicts {
        println!(
            "target (tracing may add at most 10 % of poort's CPU per login): {} ({g:+.1} %)",
            if g <= 10.0 { "met" } else { "NOT met" }
        );
    }
    // Issue 11: at most 1.5 ms of poort's CPU per login.
    let worst = phases
        .iter()
        .flatten()
        .filter(|r| !r.traced)
        .map(PhaseResult::cpu_per_login_ms)
        .fold(0.0, f64::max);
    println!(
        "target (<= 1.5 ms poort CPU per login, tracing off): {} (worst {worst:.3} ms, {:.2} x \
         the target)",
        if worst <= 1.5 { "met" } else { "NOT met" },
        worst / 1.5
    );
    let failures: u64 = phases.iter().flatten().map(|r| r.failed()).sum();
    drop(shared);
    if failures > 0 {
        return Err(format!("{failures} failed logins (see above)").into());
    }
    Ok(())
}

/// CPU ticks of each process in `pids` (those still there).
fn ticks_of(pids: &[u32]) -> HashMap<u32, u64> {
    pids.iter()
        .filter_map(|p| cpu_ticks(&p.to_string()).ok().map(|t| (*p, t)))
        .collect()
}

/// One group of a phase while it runs.
struct Group {
    traced: bool,
    poorts: Vec<Poort>,
    target: Arc<Target>,
}

/// One phase: for each of `groups` (tracing off or on) its own poorts (`--replicas` each),
/// warmed up one group after the other, then measured at the same time, the clients split
/// evenly between the groups.
#[allow(clippy::too_many_arguments)]
async fn phase(
    a: &Args,
    dir: &Path,
    setup: &Setup,
    shared: Option<&Shared>,
    groups: &[bool],
    receiver: Option<&(String, Arc<Receiver>)>,
    index: usize,
    of: usize,
) -> Result<Vec<PhaseResult>, Error> {
    if let Some((_, receiver)) = receiver {
        receiver.take();
    }
    let mut running = Vec::new();
    for &traced in groups {
        // Several replicas share one public address (a balancer's); the load goes to each
        // directly.
        let public = (a.replicas > 1)
            .then(|| free_port().map(|p| format!("http://127.0.0.1:{p}")))
            .transpose()?;
        let extra = Extra {
            public_url: public.clone(),
            database: shared.map(|s| s.postgres.url.clone()),
            redis: shared.map(|s| (s.redis_url.clone(), s.prefix.clone())),
            otlp: receiver
                .filter(|_| traced)
                .map(|(endpoint, _)| endpoint.clone()),
            ..Extra::default()
        };
        let tag = if traced { "on" } else { "off" };
        let mut poorts: Vec<Poort> = Vec::new();
        // One after the other: the first one migrates and seeds the shared register.
        for r in 0..a.replicas {
            let label = format!("phase{}-{tag}-r{r}", index + 1);
            poorts.push(start_poort(a, dir, &label, &extra).await?);
        }
        let bases: Vec<String> = poorts.iter().map(|p| p.base.clone()).collect();
        let public = public.unwrap_or_else(|| bases[0].clone());
        let target = setup.target(a, &public, bases)?;
        running.push(Group {
            traced,
            poorts,
            target,
        });
    }
    println!(
        "\n== phase {}/{of}: {}",
        index + 1,
        running
            .iter()
            .map(|g| format!(
                "tracing {} at {}",
                if g.traced { "on" } else { "off" },
                g.poorts
                    .iter()
                    .map(|p| format!("{} (pid {})", p.base, p.pid()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join("; side by side with ")
    );
    let mut warm = Vec::new();
    for g in &running {
        let far = Instant::now() + Duration::from_secs(120);
        let (w, _) = logins(&g.target, a.concurrency, far, a.warmup as u64, 1).await;
        if w.failed.load(Ordering::Relaxed) > 0 {
            return Err(format!("warm-up: {}", kinds_text(&w)).into());
        }
        warm.push(w.ok.load(Ordering::Relaxed));
    }
    let all: Vec<&Poort> = running.iter().flat_map(|g| &g.poorts).collect();
    let rss_warm: Vec<u64> = all
        .iter()
        .map(|p| rss_kb(p.pid()))
        .collect::<Result<_, _>>()?;
    let sent0: Vec<Vec<u64>> = running
        .iter()
        .map(|g| {
            g.target
                .sent
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .collect()
        })
        .collect();
    let (backends0, server0) = match shared {
        Some(s) => (
            ticks_of(&s.postgres.backends()?),
            ticks_of(&s.postgres.server_processes()?),
        ),
        None => (HashMap::new(), HashMap::new()),
    };
    let redis_pid = shared.and_then(|s| s.redis.as_ref().map(|r| r.pid().to_string()));
    let redis0 = redis_pid.as_deref().map(cpu_ticks).transpose()?;
    let mut perfs = Vec::new();
    if let Some(out) = &a.perf_record {
        for g in &running {
            let tag = if g.traced { "on" } else { "off" };
            let file = format!("{}.phase{}-{tag}", out.display(), index + 1);
            perfs.push(perf_record(&g.poorts[0], &file)?);
        }
    }
    let pids: Vec<String> = all.iter().map(|p| p.pid().to_string()).collect();
    let cpu0: Vec<u64> = pids
        .iter()
        .map(|p| cpu_ticks(p))
        .collect::<Result<_, _>>()?;
    let procs0 = all_processes();
    let (self0, mach0) = (cpu_ticks("self")?, machine_ticks()?);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.seconds);
    let clients = (a.concurrency / running.len()).max(1);
    let loads: Vec<_> = running
        .iter()
        .map(|g| {
            let (t, every) = (g.target.clone(), a.verify_every);
            tokio::spawn(async move { logins(&t, clients, deadline, u64::MAX, every).await })
        })
        .collect();
    let mut measured = Vec::new();
    for load in loads {
        measured.push(load.await?);
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1: Vec<u64> = pids
        .iter()
        .map(|p| cpu_ticks(p))
        .collect::<Result<_, _>>()?;
    let (self1, mach1) = (cpu_ticks("self")?, machine_ticks()?);
    let procs1 = all_processes();
    let redis1 = redis_pid.as_deref().map(cpu_ticks).transpose()?;
    let used = |before: &HashMap<u32, u64>, now: &HashMap<u32, u64>| {
        let ticks: u64 = now
            .iter()
            .map(|(pid, t)| t - before.get(pid).copied().unwrap_or(0).min(*t))
            .sum();
        (now.len(), ticks as f64 / a.clk_tck)
    };
    let mut ours: Vec<u32> = all.iter().map(|p| p.pid()).collect();
    ours.push(std::process::id());
    let (postgres, postgres_server) = match shared {
        Some(s) => {
            let backends = ticks_of(&s.postgres.backends()?);
            ours.extend(backends.keys());
            let server = ticks_of(&s.postgres.server_processes()?);
            (
                Some(used(&backends0, &backends)),
                Some(used(&server0, &server)),
            )
        }
        None => (None, None),
    };
    ours.extend(shared.and_then(|s| s.redis.as_ref()).map(|r| r.pid()));
    let others = busiest_others(&procs0, &procs1, &ours, a.clk_tck);
    let redis = match (shared.and_then(|s| s.redis.as_ref()), redis0, redis1) {
        (Some(r), Some(r0), Some(r1)) => Some(((r1 - r0) as f64 / a.clk_tck, rss_kb(r.pid())?)),
        _ => None,
    };
    for mut perf in perfs {
        Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status()?;
        perf.wait()?;
    }
    let mut figures = Vec::new();
    let mut n = 0;
    for (gi, g) in running.iter_mut().enumerate() {
        let mut replicas = Vec::new();
        for (i, p) in g.poorts.iter_mut().enumerate() {
            p.alive()?;
            replicas.push(ReplicaFigures {
                label: p.label.clone(),
                pid: p.pid(),
                cpu_s: (cpu1[n] - cpu0[n]) as f64 / a.clk_tck,
                requests: g.target.sent[i].load(Ordering::Relaxed) - sent0[gi][i],
                rss_warm_kb: rss_warm[n],
                rss_end_kb: rss_kb(p.pid())?,
                hwm_kb: hwm_kb(p.pid())?,
                exit: String::new(),
            });
            n += 1;
        }
        figures.push(replicas);
    }
    // SIGTERM, as an orchestrator stops a replica: the exporter sends what it still holds.
    for (g, replicas) in running.iter_mut().zip(figures.iter_mut()) {
        for (p, f) in g.poorts.iter_mut().zip(replicas.iter_mut()) {
            f.exit = match p.terminate(Duration::from_secs(30)) {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            };
        }
    }
    // Only one group exports traces: what arrived is its.
    let mut received = receiver.map(|(_, receiver)| receiver.take());
    let machine = Machine {
        poort_cpu: (0..pids.len())
            .map(|i| (cpu1[i] - cpu0[i]) as f64 / a.clk_tck)
            .sum(),
        self_cpu: (self1 - self0) as f64 / a.clk_tck,
        logins: measured
            .iter()
            .map(|(c, _)| c.ok.load(Ordering::Relaxed))
            .sum(),
        busy: (mach1.0 - mach0.0) as f64 / a.clk_tck,
        capacity: (mach1.1 - mach0.1) as f64 / a.clk_tck,
        others,
    };
    let groups_n = running.len();
    let mut results = Vec::new();
    for (i, ((g, replicas), (counts, latencies))) in
        running.iter().zip(figures).zip(measured).enumerate()
    {
        results.push(PhaseResult {
            traced: g.traced,
            groups: groups_n,
            warm_ok: warm[i],
            counts,
            latencies,
            wall,
            replicas,
            redis: if i == 0 { redis } else { None },
            postgres: if i == 0 { postgres } else { None },
            postgres_server: if i == 0 { postgres_server } else { None },
            machine: (i + 1 == groups_n).then(|| machine.clone()),
            received: if g.traced { received.take() } else { None },
        });
    }
    Ok(results)
}

/// `perf record` of one poort (see `--perf-record`; 997 samples a second, so that a few per cent
/// of poort's CPU are a few hundred samples); it skews that phase's CPU figures.
pub fn perf_record(p: &Poort, out: &str) -> Result<Child, Error> {
    Ok(Command::new("perf")
        .args(["record", "-F", "997", "--call-graph", "dwarf,8192", "-p"])
        .arg(p.pid().to_string())
        .args(["-o", out])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

fn print_phase(a: &Args, r: &PhaseResult, cores: usize) {
    let ok = r.ok();
    let per = |s: f64| s * 1e3 / ok.max(1) as f64;
    if r.groups > 1 {
        println!(
            "-- tracing {} (side by side, {} clients)",
            if r.traced { "on" } else { "off" },
            (a.concurrency / r.groups).max(1)
        );
    }
    println!(
        "logins: {ok} ok, {} failed, {} verified in full as the DV; {:.2} s -> {:.1} logins/s \
         (after {} warm-up logins)",
        r.failed(),
        r.counts.verified.load(Ordering::Relaxed),
        r.wall,
        r.rate(),
        r.warm_ok
    );
    println!("failures by kind: {}", kinds_text(&r.counts));
    println!(
        "latency per login ({}): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        match a.protocol {
            Protocol::Saml => "both round trips",
            Protocol::Oidc => "authorize, ACS and token",
            Protocol::Artifact => "four requests and the back channel",
        },
        percentile(&r.latencies, 0.5),
        percentile(&r.latencies, 0.9),
        percentile(&r.latencies, 0.99),
        percentile(&r.latencies, 1.0)
    );
    println!(
        "poort CPU: {:.2} s = {:.3} ms per login, all replicas ({:.0} % of one core)",
        r.poort_cpu(),
        r.cpu_per_login_ms(),
        r.poort_cpu() / r.wall * 100.0
    );
    for (i, p) in r.replicas.iter().enumerate() {
        println!(
            "  replica {i} ({}, pid {}): CPU {:.2} s = {:.3} ms per login of the run ({:.3} ms \
             per request, {} requests); VmRSS {} kB after warm-up, {} kB at the end; VmHWM {} \
             kB; exit after SIGTERM: {}",
            p.label,
            p.pid,
            p.cpu_s,
            per(p.cpu_s),
            p.cpu_s * 1e3 / p.requests.max(1) as f64,
            p.requests,
            p.rss_warm_kb,
            p.rss_end_kb,
            p.hwm_kb,
            p.exit
        );
    }
    let mut others = 0.0;
    if let Some((cpu, rss)) = r.redis {
        others += cpu;
        println!(
            "redis-server: CPU {cpu:.2} s = {:.3} ms per login; VmRSS {rss} kB at the end",
            per(cpu)
        );
    }
    if let Some((n, cpu)) = r.postgres {
        others += cpu;
        println!(
            "PostgreSQL: {n} backends on the register's database, CPU {cpu:.2} s = {:.3} ms per \
             login",
            per(cpu)
        );
    }
    if let Some((n, cpu)) = r.postgres_server {
        println!(
            "PostgreSQL server, all {n} processes in pg_stat_activity (background processes and \
             any other database's backends too): CPU {cpu:.2} s = {:.3} ms per login",
            per(cpu)
        );
    }
    if let Some(m) = &r.machine {
        let rest = (m.busy - m.poort_cpu - m.self_cpu - others).max(0.0);
        println!(
            "generator CPU {:.2} s = {:.3} ms per login{}; machine busy {:.2} of {:.2} \
             core-seconds ({cores} cores): poort {:.0} %, generator {:.0} %, Redis + PostgreSQL \
             {:.0} %, other {:.0} %",
            m.self_cpu,
            m.self_cpu * 1e3 / m.logins.max(1) as f64,
            if r.groups > 1 { " (of all groups)" } else { "" },
            m.busy,
            m.capacity,
            m.poort_cpu / m.busy * 100.0,
            m.self_cpu / m.busy * 100.0,
            others / m.busy * 100.0,
            rest / m.busy * 100.0
        );
        println!(
            "processes not ours, alive at the end: CPU {:.2} s; busiest: {}",
            m.others.0,
            if m.others.1.is_empty() {
                "none".to_string()
            } else {
                m.others.1.join(", ")
            }
        );
    }
    if let Some(rec) = &r.received {
        let logins = (ok + r.warm_ok).max(1) as f64;
        println!(
            "OTLP receiver (whole phase, after poort's SIGTERM flush): {} export requests, {} \
             bytes, {} spans = {:.2} per login, {} traces for {} logins (warm-up included), {} \
             undecodable",
            rec.requests,
            rec.bytes,
            rec.spans,
            rec.spans as f64 / logins,
            rec.traces,
            ok + r.warm_ok,
            rec.undecodable
        );
        let names: Vec<String> = rec
            .names
            .iter()
            .map(|(n, c)| format!("{n} {:.2}", *c as f64 / logins))
            .collect();
        println!("spans per login by name: {}", names.join(", "));
        let roots: Vec<String> = rec
            .roots
            .iter()
            .map(|(n, c)| format!("{n} {:.2}", *c as f64 / logins))
            .collect();
        println!(
            "root spans (each begins a trace) per login by name: {}",
            roots.join(", ")
        );
    }
}
