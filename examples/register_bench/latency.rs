//! `register_bench latency`: resolution latency of random persons, cold from each database,
//! warm from Redis and from the in-process cache, with and without the decision; and Redis
//! memory per cached person.

use crate::generate::GENERATED_IDP;
use crate::{
    bench_config, clear_prefix, draw, load_config, person_count, print_table, Error, Figures,
    LoginCase,
};
use poort::grants::cache::RedisGrantCache;
use poort::grants::{IdentityKey, Register, Registry};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `latency` measures, and against what.
#[derive(clap::Args, Debug)]
pub struct LatencyArgs {
    /// A generated SQLite register (sqlite://PATH).
    #[arg(long)]
    pub sqlite: Option<String>,
    /// A generated PostgreSQL register (postgres://…).
    #[arg(long)]
    pub postgres: Option<String>,
    /// A Redis for the warm path (a throwaway one: its memory figures are server-wide).
    #[arg(long)]
    pub redis: Option<String>,
    /// Resolutions measured per path.
    #[arg(long, default_value_t = 20_000)]
    pub samples: usize,
    /// Persons cached for the warm path (and the memory figures).
    #[arg(long, default_value_t = 20_000)]
    pub warm_persons: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// poort's config, for the service catalogue.
    #[arg(long, default_value = "config/poort.toml")]
    pub config: PathBuf,
}

/// Reads every subject through `register`, timed; returns the latencies and the grants seen.
/// With `decide`, the decision for `case` is part of each timed resolution.
async fn measure(
    register: &dyn Register,
    subjects: &[String],
    case: Option<&LoginCase>,
) -> Result<(Vec<Duration>, usize), Error> {
    let mut out = Vec::with_capacity(subjects.len());
    let mut grants = 0;
    for subject in subjects {
        let started = Instant::now();
        let held = register.grants_for(GENERATED_IDP, subject).await?;
        if let Some(case) = case {
            std::hint::black_box(case.decide(subject, &held.grants));
        }
        out.push(started.elapsed());
        if held.person_id.is_none() {
            return Err(format!("person {subject} not in the register").into());
        }
        grants += held.grants.len();
    }
    Ok((out, grants))
}

pub async fn latency(args: LatencyArgs) -> Result<(), Error> {
    let base = load_config(&args.config)?;
    let case = LoginCase::from_config(&base)?;
    println!(
        "deciding for {} ({}, {}), authenticated at {}",
        case.service.service_id, case.service.uuid, case.service.provider, case.required
    );
    let mut figures = Vec::new();
    for (name, url) in [("SQLite", &args.sqlite), ("PostgreSQL", &args.postgres)] {
        let Some(url) = url else { continue };
        let register = poort::grants::registry::connect_database(url).await?;
        let persons = person_count(&register).await?;
        let mut rng = StdRng::seed_from_u64(args.seed);
        // Warm-up, not measured: connections opened, statements prepared.
        measure(&register, &draw(&mut rng, persons, 500), None).await?;
        let subjects = draw(&mut rng, persons, args.samples);
        let (samples, grants) = measure(&register, &subjects, None).await?;
        figures.push(Figures::new(
            format!("cold, {name}: grants_for"),
            samples,
            Some(grants),
        ));
        let subjects = draw(&mut rng, persons, args.samples);
        let (samples, grants) = measure(&register, &subjects, Some(&case)).await?;
        figures.push(Figures::new(
            format!("cold, {name}: grants_for + decide"),
            samples,
            Some(grants),
        ));
        eprintln!("{name}: cold paths measured ({persons} persons)");

        if let Some(redis) = &args.redis {
            let prefix = format!("poort-bench-{}", uuid::Uuid::new_v4().simple());
            let config = bench_config(&base, url, Some(redis.clone()), &prefix);
            let registry = Registry::open(&config).await?;
            let cached = registry.register();
            let mut conn = redis::Client::open(redis.as_str())?
                .get_multiplexed_async_connection()
                .await?;
            let before = used_memory(&mut conn).await?;
            // Distinct persons, so the memory delta counts each once.
            let mut warm: Vec<String> = draw(&mut rng, persons, args.warm_persons * 2);
            warm.sort();
            warm.dedup();
            warm.truncate(args.warm_persons);
            let (samples, grants) = measure(cached.as_ref(), &warm, None).await?;
            figures.push(Figures::new(
                format!("filling, {name} + Redis: miss, read, put"),
                samples,
                Some(grants),
            ));
            let after = used_memory(&mut conn).await?;
            let hits_before = registry.metrics().grant_cache_hits.get();
            let picks: Vec<String> = (0..args.samples)
                .map(|_| warm[rng.random_range(0..warm.len())].clone())
                .collect();
            let (samples, grants) = measure(cached.as_ref(), &picks, None).await?;
            figures.push(Figures::new(
                format!("warm, Redis (over {name}): grants_for"),
                samples,
                Some(grants),
            ));
            let (samples, grants) = measure(cached.as_ref(), &picks, Some(&case)).await?;
            figures.push(Figures::new(
                format!("warm, Redis (over {name}): grants_for + decide"),
                samples,
                Some(grants),
            ));
            let hits = registry.metrics().grant_cache_hits.get() - hits_before;
            if hits < 2 * args.samples as u64 {
                return Err(format!(
                    "warm path: only {hits} of {} reads were cache hits",
                    2 * args.samples
                )
                .into());
            }
            redis_memory(&mut conn, name, redis, &prefix, &warm, before, after).await?;
            clear_prefix(&mut conn, &prefix).await?;
        }

        // The in-process cache (no Redis): a hit still reads the outbox feed first.
        let prefix = "unused";
        let config = bench_config(&base, url, None, prefix);
        let registry = Registry::open(&config).await?;
        let cached = registry.register();
        let mut warm = draw(&mut rng, persons, args.warm_persons.min(args.samples));
        warm.sort();
        warm.dedup();
        measure(cached.as_ref(), &warm, None).await?;
        let picks: Vec<String> = (0..args.samples)
            .map(|_| warm[rng.random_range(0..warm.len())].clone())
            .collect();
        let (samples, grants) = measure(cached.as_ref(), &picks, Some(&case)).await?;
        figures.push(Figures::new(
            format!("warm, in-process cache (feed from {name}): grants_for + decide"),
            samples,
            Some(grants),
        ));
        eprintln!("{name}: warm paths measured");
    }
    print_table(&figures);
    Ok(())
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> Result<i64, Error> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "INFO memory has no used_memory".into())
}

/// Memory per cached person: `MEMORY USAGE` of each entry and version key, and the server's
/// used_memory delta over the persons cached.
async fn redis_memory(
    conn: &mut redis::aio::MultiplexedConnection,
    over: &str,
    url: &str,
    prefix: &str,
    subjects: &[String],
    before: i64,
    after: i64,
) -> Result<(), Error> {
    let naming = RedisGrantCache::connect(url, prefix, Duration::from_secs(60))?;
    let (mut entries, mut versions, mut json, mut counted) = (0i64, 0i64, 0i64, 0i64);
    for chunk in subjects.chunks(500) {
        let mut pipe = redis::pipe();
        for subject in chunk {
            let entry = naming.entry_key_of(&IdentityKey::new(GENERATED_IDP, subject.clone()));
            let version = entry.replacen(":grants:", ":ver:", 1);
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(&entry)
                .arg("SAMPLES")
                .arg(0);
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(&version)
                .arg("SAMPLES")
                .arg(0);
            pipe.strlen(&entry);
        }
        let values: Vec<Option<i64>> = pipe.query_async(conn).await?;
        for triple in values.chunks(3) {
            if let [Some(e), Some(v), Some(len)] = triple {
                entries += e;
                versions += v;
                json += len;
                counted += 1;
            }
        }
    }
    if counted == 0 {
        return Err("no cached entries found in Redis".into());
    }
    println!();
    println!(
        "| Redis memory, {counted} persons cached (read from {over}) | bytes per person |\n|---|---|\n\
         | `MEMORY USAGE` of the grant-set entry | {} |\n\
         | `MEMORY USAGE` of the version key | {} |\n\
         | entry value (stamp + JSON) length | {} |\n\
         | `INFO memory` used_memory delta / persons ({} → {} bytes) | {} |",
        entries / counted,
        versions / counted,
        json / counted,
        before,
        after,
        (after - before) / subjects.len().max(1) as i64
    );
    Ok(())
}
