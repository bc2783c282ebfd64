//! Benchmarks of the register against a generated population (`poort register generate`).
//!
//! `latency`: resolution latency of random persons (seeded draws), one at a time:
//! - cold: `SqlRegister::grants_for`, a database read, from SQLite and from PostgreSQL;
//! - warm: `CachedRegister::grants_for` through Redis after the persons' sets were cached
//!   (and the filling pass itself: a Redis miss, the database read and the put);
//! - each also with `decision::decide` for a service, which is what a login does;
//! - memory per cached person in Redis: `MEMORY USAGE` of the entries and version keys, and
//!   the `INFO memory` used_memory delta over the persons cached.
//!
//! `revoke`: time from a revocation's commit until every process refuses. `--watchers`
//! separate processes (this program again, `watch`) each resolve one person's login through
//! the cache in a tight loop; this process revokes the grant that allows it, in the database,
//! then invalidates through `Registry::write`; each watcher reports the wall-clock time it
//! first saw the refusal. Repeated `--rounds` times with a different person each round.
//!
//! ```text
//! cargo run --release --example register_bench -- latency --sqlite sqlite://data/bench.db \
//!     --postgres postgres://postgres@127.0.0.1/poort_bench --redis redis://127.0.0.1:6390/0
//! cargo run --release --example register_bench -- revoke --database … --redis … --watchers 4 --rounds 200
//! ```
//! Use a throwaway Redis (`scripts/bench-register.sh` starts one): the memory figures read the
//! whole server's `INFO memory`. Revocations change the register: generate a fresh one for it.

use clap::{Parser, Subcommand};
use poort::config::{CacheConfig, Config, RegisterConfig};
use poort::domain::decision::{decide, Decision};
use poort::domain::level::{Comparison, Level};
use poort::domain::login::AuthnResult;
use poort::grants::cache::RedisGrantCache;
use poort::grants::generate::{person_id, GENERATED_IDP};
use poort::grants::{
    outbox, GrantStatus, IdentityKey, Pool, Register, Registry, ServiceRef, SqlRegister, Touched,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Register benchmarks: resolution latency, revocation to refusal")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Resolution latency, cold from the databases and warm from Redis, and Redis memory.
    Latency {
        /// A generated SQLite register (sqlite://PATH).
        #[arg(long)]
        sqlite: Option<String>,
        /// A generated PostgreSQL register (postgres://…).
        #[arg(long)]
        postgres: Option<String>,
        /// A Redis for the warm path (a throwaway one: its memory figures are server-wide).
        #[arg(long)]
        redis: Option<String>,
        /// Resolutions measured per path.
        #[arg(long, default_value_t = 20_000)]
        samples: usize,
        /// Persons cached for the warm path (and the memory figures).
        #[arg(long, default_value_t = 20_000)]
        warm_persons: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// poort's config, for the service catalogue.
        #[arg(long, default_value = "config/poort.toml")]
        config: PathBuf,
    },
    /// Time from a revocation's commit until every watcher process refuses the login.
    Revoke {
        /// The register (sqlite://PATH or postgres://…); it is changed.
        #[arg(long)]
        database: String,
        /// Redis shared by all processes; without it each process has its own cache, fed by
        /// the database outbox.
        #[arg(long)]
        redis: Option<String>,
        #[arg(long, default_value_t = 4)]
        watchers: usize,
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "config/poort.toml")]
        config: PathBuf,
    },
    /// One watcher process of `revoke` (started by it; reads commands on stdin).
    Watch {
        #[arg(long)]
        database: String,
        #[arg(long)]
        redis: Option<String>,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Latency {
            sqlite,
            postgres,
            redis,
            samples,
            warm_persons,
            seed,
            config,
        } => {
            latency(LatencyArgs {
                sqlite,
                postgres,
                redis,
                samples,
                warm_persons,
                seed,
                config,
            })
            .await
        }
        Command::Revoke {
            database,
            redis,
            watchers,
            rounds,
            seed,
            config,
        } => revoke(&database, redis, watchers, rounds, seed, &config).await,
        Command::Watch {
            database,
            redis,
            prefix,
            config,
        } => watch(&database, redis, &prefix, &config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("register_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

struct LatencyArgs {
    sqlite: Option<String>,
    postgres: Option<String>,
    redis: Option<String>,
    samples: usize,
    warm_persons: usize,
    seed: u64,
    config: PathBuf,
}

/// Latencies of one path, sorted.
struct Figures {
    path: String,
    sorted: Vec<Duration>,
    /// Grants in the sets read, when the path reads any.
    grants: Option<usize>,
}

impl Figures {
    fn new(path: impl Into<String>, mut samples: Vec<Duration>, grants: Option<usize>) -> Figures {
        samples.sort();
        Figures {
            path: path.into(),
            sorted: samples,
            grants,
        }
    }

    fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    fn mean(&self) -> Duration {
        let total: Duration = self.sorted.iter().sum();
        total / self.sorted.len().max(1) as u32
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn print_table(figures: &[Figures]) {
    println!();
    println!("| path | samples | mean ms | p50 ms | p99 ms | p99.9 ms | max ms | grants/person |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in figures {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            f.path,
            f.sorted.len(),
            ms(f.mean()),
            ms(f.quantile(0.5)),
            ms(f.quantile(0.99)),
            ms(f.quantile(0.999)),
            ms(f.sorted.last().copied().unwrap_or_default()),
            f.grants.map_or("–".to_string(), |g| format!(
                "{:.2}",
                g as f64 / f.sorted.len().max(1) as f64
            ))
        );
    }
}

/// What a login decides with: the catalogue's first service at its own level, the person
/// authenticated at that level.
struct LoginCase {
    service: ServiceRef,
    required: Level,
}

impl LoginCase {
    fn from_config(config: &Config) -> Result<LoginCase, Error> {
        let s = config
            .services
            .first()
            .ok_or("the config has no [[service]] to decide for")?;
        Ok(LoginCase {
            service: ServiceRef {
                service_id: s.id.clone(),
                uuid: s.uuid.clone(),
                provider: s.provider.clone(),
                level: s.level,
            },
            required: s.level,
        })
    }

    fn result(&self, subject: &str) -> AuthnResult {
        AuthnResult {
            idp: GENERATED_IDP.to_string(),
            subject: subject.to_string(),
            level: self.required,
            authn_instant: chrono::Utc::now(),
        }
    }

    fn decide(&self, subject: &str, grants: &[poort::grants::HeldGrant]) -> Decision {
        decide(
            self.required,
            Comparison::Minimum,
            &self.result(subject),
            &self.service,
            grants,
            chrono::Utc::now(),
        )
    }
}

fn load_config(path: &std::path::Path) -> Result<Config, Error> {
    Config::load(path)
        .map_err(|e| format!("{e} (run from the repository, or give --config)").into())
}

/// A config whose register is `database` and whose cache is `redis` (or in-process).
fn bench_config(base: &Config, database: &str, redis: Option<String>, prefix: &str) -> Config {
    let mut config = base.clone();
    config.register = RegisterConfig {
        database: database.to_string(),
        seed: None,
        ..RegisterConfig::default()
    };
    config.cache = CacheConfig {
        redis_url: redis,
        prefix: prefix.to_string(),
        // Long enough that nothing expires during a run: the figures are of invalidation.
        ttl_seconds: 3_600,
        ..CacheConfig::default()
    };
    config
}

async fn person_count(register: &SqlRegister) -> Result<u32, Error> {
    let n: i64 = match register.pool() {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM persons")
                .fetch_one(p)
                .await?
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM persons")
                .fetch_one(p)
                .await?
        }
    };
    if n == 0 {
        return Err("the register is empty: run `poort register generate` first".into());
    }
    Ok(u32::try_from(n)?)
}

/// Subjects of persons drawn uniformly (with repeats) from the generated population.
fn draw(rng: &mut StdRng, persons: u32, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| person_id(rng.random_range(0..persons)))
        .collect()
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

async fn latency(args: LatencyArgs) -> Result<(), Error> {
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

async fn clear_prefix(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Result<(), Error> {
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            let () = redis::cmd("DEL").arg(&keys).query_async(conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

/// A watcher: for each `watch <subject>` on stdin, resolves the login until it is allowed
/// three times running (so the set is cached), says `ready`, then resolves in a tight loop
/// until it is refused and says `refused <unix µs> <resolutions>`.
async fn watch(
    database: &str,
    redis: Option<String>,
    prefix: &str,
    config: &std::path::Path,
) -> Result<(), Error> {
    let base = load_config(config)?;
    let case = LoginCase::from_config(&base)?;
    let registry = Registry::open(&bench_config(&base, database, redis, prefix)).await?;
    let register = registry.register();
    // Plain blocking I/O: a watcher does one thing at a time.
    let mut stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some(subject) = line.strip_prefix("watch ") else {
            break;
        };
        let resolve = || async {
            let held = register.grants_for(GENERATED_IDP, subject).await?;
            Ok::<_, Error>(case.decide(subject, &held.grants))
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut allowed = 0;
        while allowed < 3 {
            match resolve().await? {
                Decision::Allow(_) => allowed += 1,
                other => {
                    allowed = 0;
                    if Instant::now() > deadline {
                        return Err(format!("{subject} never allowed: {other:?}").into());
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        stdout.write_all(b"ready\n")?;
        stdout.flush()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut resolutions = 0u64;
        loop {
            let decision = resolve().await?;
            resolutions += 1;
            if !matches!(decision, Decision::Allow(_)) {
                let line = format!("refused {} {resolutions}\n", unix_micros());
                stdout.write_all(line.as_bytes())?;
                stdout.flush()?;
                break;
            }
            if Instant::now() > deadline {
                stdout.write_all(b"timeout\n")?;
                stdout.flush()?;
                break;
            }
        }
    }
    Ok(())
}

/// A watcher process and its pipes. Blocking reads: the watcher bounds its own waits (it says
/// `timeout`), and nothing else runs in this process meanwhile.
struct Watcher {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Watcher {
    fn send(&mut self, line: &str) -> Result<(), Error> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn expect(&mut self) -> Result<String, Error> {
        match self.lines.next() {
            Some(line) => Ok(line?),
            None => Err("a watcher exited (its error is above)".into()),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A person whose login the catalogue's first service allows through exactly one grant whose
/// revocation alone refuses it; with that grant's ID.
async fn pick_case(
    sql: &SqlRegister,
    case: &LoginCase,
    rng: &mut StdRng,
    persons: u32,
) -> Result<(String, String), Error> {
    for _ in 0..100_000 {
        let subject = person_id(rng.random_range(0..persons));
        let held = sql.grants_for(GENERATED_IDP, &subject).await?;
        let Decision::Allow(candidate) = case.decide(&subject, &held.grants) else {
            continue;
        };
        let mut after = held.grants.clone();
        for g in &mut after {
            if g.grant_id == candidate.grant_id {
                g.status = GrantStatus::Revoked;
            }
        }
        if !matches!(case.decide(&subject, &after), Decision::Allow(_)) {
            return Ok((subject, candidate.grant_id));
        }
    }
    Err("no person found whose login one revocation refuses".into())
}

async fn revoke(
    database: &str,
    redis: Option<String>,
    watchers: usize,
    rounds: usize,
    seed: u64,
    config_path: &std::path::Path,
) -> Result<(), Error> {
    let base = load_config(config_path)?;
    let case = LoginCase::from_config(&base)?;
    let prefix = format!("poort-bench-{}", uuid::Uuid::new_v4().simple());
    let mode = if redis.is_some() {
        "Redis"
    } else {
        "in-process caches fed by the database outbox"
    };
    let registry = Registry::open(&bench_config(&base, database, redis.clone(), &prefix)).await?;
    let persons = person_count(registry.sql()).await?;
    let exe = std::env::current_exe()?;
    let mut procs = Vec::new();
    for _ in 0..watchers {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("watch")
            .arg("--database")
            .arg(database)
            .arg("--prefix")
            .arg(&prefix)
            .arg("--config")
            .arg(config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &redis {
            cmd.arg("--redis").arg(url);
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().ok_or("watcher stdin")?;
        let stdout = child.stdout.take().ok_or("watcher stdout")?;
        procs.push(Watcher {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        });
    }
    println!(
        "{watchers} watcher processes, {rounds} rounds, {database}, cache: {mode}; deciding for {}",
        case.service.service_id
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut all = Vec::new();
    let mut slowest_per_round = Vec::new();
    let mut invalidation = Vec::new();
    let mut resolutions = 0u64;
    for round in 0..rounds {
        let (subject, grant) = pick_case(registry.sql(), &case, &mut rng, persons).await?;
        for w in &mut procs {
            w.send(&format!("watch {subject}"))?;
        }
        for w in &mut procs {
            let line = w.expect()?;
            if line != "ready" {
                return Err(format!("round {round}: watcher said {line:?}").into());
            }
        }
        let sql = registry.sql().clone();
        let grant_id = grant.clone();
        let committed = registry
            .write(async move {
                let changed: sqlx::Result<u64> = match sql.pool() {
                    Pool::Sqlite(p) => {
                        sqlx::query("UPDATE grants SET status = 'revoked' WHERE id = $1")
                            .bind(&grant_id)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    }
                    Pool::Postgres(p) => {
                        sqlx::query("UPDATE grants SET status = 'revoked' WHERE id = $1")
                            .bind(&grant_id)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    }
                };
                let committed = unix_micros();
                if changed? != 1 {
                    return Err::<_, Error>(format!("grant {grant_id} not revoked").into());
                }
                let links = outbox::holders_of_grant(sql.pool(), &grant_id).await?;
                Ok((
                    committed,
                    Touched {
                        links: links.into_iter().collect(),
                    },
                ))
            })
            .await?;
        invalidation.push(Duration::from_micros(
            (unix_micros() - committed).max(0) as u64
        ));
        let mut slowest = Duration::ZERO;
        for w in &mut procs {
            let line = w.expect()?;
            let mut words = line.split(' ');
            let (Some("refused"), Some(at), Some(n)) = (words.next(), words.next(), words.next())
            else {
                return Err(
                    format!("round {round} ({subject}, {grant}): watcher said {line:?}").into(),
                );
            };
            let at: i64 = at.parse()?;
            resolutions += n.parse::<u64>()?;
            let delay = Duration::from_micros((at - committed).max(0) as u64);
            slowest = slowest.max(delay);
            all.push(delay);
        }
        slowest_per_round.push(slowest);
    }
    drop(procs);
    if let Some(url) = &redis {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        clear_prefix(&mut conn, &prefix).await?;
    }
    println!(
        "watchers resolved {:.0} times per round each while waiting",
        resolutions as f64 / (rounds * watchers).max(1) as f64
    );
    print_table(&[
        Figures::new(
            "commit → invalidation done (this process)",
            invalidation,
            None,
        ),
        Figures::new("commit → refusal, every watcher and round", all, None),
        Figures::new(
            "commit → refusal by the last watcher, per round",
            slowest_per_round,
            None,
        ),
    ]);
    Ok(())
}
