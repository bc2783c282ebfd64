//! Fills an empty register with a synthetic population for benchmarks (see
//! `poort::grants::generate`): by default 1,000,000 grants over 100,000 organisations and
//! 300,000 persons, the same rows for the same `--seed` and `--now`.
//!
//! ```text
//! cargo run --release --example register_generate -- --database sqlite://data/bench.db
//! cargo run --release --example register_generate -- --database postgres://postgres@127.0.0.1/poort_bench
//! ```
//!
//! The database must be empty (a new SQLite file, or a fresh PostgreSQL database); the schema
//! is created by the register's migrations.

use clap::Parser;
use poort::grants::generate::{generate, GenerateSpec, GENERATED_IDP};
use poort::grants::registry::connect_database;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "Fill an empty poort register with a synthetic population")]
struct Args {
    /// sqlite://PATH (created when missing) or postgres://…
    #[arg(long)]
    database: String,
    #[arg(long, default_value_t = 100_000)]
    organisations: u32,
    #[arg(long, default_value_t = 300_000)]
    persons: u32,
    #[arg(long, default_value_t = 1_000_000)]
    grants: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Reference time (RFC 3339) validity and last use are drawn around; default: now. Give it
    /// to reproduce a register exactly.
    #[arg(long)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_target(false)
        .init();
    let args = Args::parse();
    let mut spec = GenerateSpec {
        organisations: args.organisations,
        persons: args.persons,
        grants: args.grants,
        seed: args.seed,
        ..GenerateSpec::default()
    };
    if let Some(now) = args.now {
        spec.now = now;
    }
    let register = match connect_database(&args.database).await {
        Ok(register) => register,
        Err(e) => {
            eprintln!("register_generate: cannot open {}: {e}", args.database);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "generating into {}: {} organisations, {} persons, {} grants, seed {}, now {}",
        args.database,
        spec.organisations,
        spec.persons,
        spec.grants,
        spec.seed,
        spec.now.to_rfc3339()
    );
    let report = match generate(&register, &spec).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("register_generate: {e}");
            return ExitCode::FAILURE;
        }
    };
    register.close().await;
    println!(
        "{:<18} {:>10} {:>9} {:>10}",
        "table", "rows", "seconds", "rows/s"
    );
    for t in &report.tables {
        println!(
            "{:<18} {:>10} {:>9.1} {:>10.0}",
            t.table,
            t.rows,
            t.elapsed.as_secs_f64(),
            t.rows as f64 / t.elapsed.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "{:<18} {:>10} {:>9.1} {:>10.0}   (with ANALYZE)",
        "total",
        report.rows(),
        report.elapsed.as_secs_f64(),
        report.rows_per_second()
    );
    let grants = report.rows_of("grants").max(1) as f64;
    let pct = |n: u64| 100.0 * n as f64 / grants;
    println!(
        "grants: {:.1} % held by groups, {:.1} % revoked, {:.1} % expired, {:.1} % not yet valid, \
         {:.1} % lapsed (unused > 24 months); memberships blocked: {}, group members blocked: {}",
        pct(report.grants_by_group),
        pct(report.grants_revoked),
        pct(report.grants_expired),
        pct(report.grants_not_yet_valid),
        pct(report.grants_lapsed),
        report.memberships_blocked,
        report.group_members_blocked
    );
    println!("persons log in at {GENERATED_IDP} with subject p00000000 … (their person ID)");
    ExitCode::SUCCESS
}
