//! Benchmarks of the register against a generated population.
//!
//! `generate`: fills an empty SQLite or PostgreSQL register with a synthetic population
//! (`generate.rs`; the same rows for the same seed and instant).
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
//! cargo run --release --example register_bench -- generate --database sqlite://data/bench.db \
//!     --organisations 2000 --persons 6000 --grants 20000 --now 2026-11-22T12:00:00Z
//! cargo run --release --example register_bench -- latency --sqlite sqlite://data/bench.db \
//!     --postgres postgres://postgres@127.0.0.1/poort_bench --redis redis://127.0.0.1:6390/0
//! cargo run --release --example register_bench -- revoke --database … --redis … --watchers 4 --rounds 200
//! ```
//! Use a throwaway Redis (`scripts/bench-register.sh` starts one): the memory figures read the
//! whole server's `INFO memory`. Revocations change the register: generate a fresh one for it.
//!
//! One file per command (`generate.rs` with `bulk.rs` and `draw.rs`, `latency.rs`, `revoke.rs`);
//! this one has the command line and what the measurements share.

mod bulk;
mod draw;
mod generate;
mod latency;
mod revoke;

use clap::{Parser, Subcommand};
use generate::{person_id, GENERATED_IDP};
use latency::{latency, LatencyArgs};
use poort::config::{CacheConfig, Config, RegisterConfig};
use poort::domain::decision::{decide, Decision};
use poort::domain::level::{Comparison, Level};
use poort::domain::login::AuthnResult;
use poort::grants::{Pool, ServiceRef, SqlRegister};
use rand::rngs::StdRng;
use rand::Rng;
use revoke::{revoke, watch};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(
    about = "Register benchmarks: a generated register, resolution latency, revocation to refusal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fill an empty register with a synthetic population: by default 1,000,000 grants over
    /// 100,000 organisations and 300,000 persons; the same rows for the same seed and --now.
    Generate(generate::Args),
    /// Resolution latency, cold from the databases and warm from Redis, and Redis memory.
    Latency(LatencyArgs),
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
    // Quiet logs on standard error (RUST_LOG for more): standard output has the figures.
    let log = poort::config::LogConfig {
        level: "warn".into(),
        ..Default::default()
    };
    if let Err(e) = poort::telemetry::init(&log, None, poort::telemetry::LogTarget::Stderr) {
        eprintln!("register_bench: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Generate(args) => generate::run(&args).await.map(|_| ()).map_err(Error::from),
        Command::Latency(args) => latency(args).await,
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

/// What a login decides with: the catalogue's first service at its own level, the person
/// authenticated at that level.
pub struct LoginCase {
    pub service: ServiceRef,
    pub required: Level,
}

impl LoginCase {
    pub fn from_config(config: &Config) -> Result<LoginCase, Error> {
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
            attributes: Vec::new(),
        }
    }

    pub fn decide(&self, subject: &str, grants: &[poort::grants::HeldGrant]) -> Decision {
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

pub fn load_config(path: &std::path::Path) -> Result<Config, Error> {
    Config::load(path)
        .map_err(|e| format!("{e} (run from the repository, or give --config)").into())
}

/// A config whose register is `database` and whose cache is `redis` (or in-process).
pub fn bench_config(base: &Config, database: &str, redis: Option<String>, prefix: &str) -> Config {
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

pub async fn person_count(register: &SqlRegister) -> Result<u32, Error> {
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
        return Err("the register is empty: run `register_bench generate` first".into());
    }
    Ok(u32::try_from(n)?)
}

/// Latencies of one path, sorted.
pub struct Figures {
    path: String,
    sorted: Vec<Duration>,
    /// Grants in the sets read, when the path reads any.
    grants: Option<usize>,
}

impl Figures {
    pub fn new(
        path: impl Into<String>,
        mut samples: Vec<Duration>,
        grants: Option<usize>,
    ) -> Figures {
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

pub fn print_table(figures: &[Figures]) {
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

/// Subjects of persons drawn uniformly (with repeats) from the generated population.
pub fn draw(rng: &mut StdRng, persons: u32, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| person_id(rng.random_range(0..persons)))
        .collect()
}

pub async fn clear_prefix(
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
