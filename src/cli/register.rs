//! `poort register generate`: a synthetic register for benchmarks.

use super::parse_instant;
use crate::config::Config;
use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum RegisterCommand {
    /// Fill an empty register with a synthetic population, for benchmarks: by default 1,000,000
    /// grants over 100,000 organisations and 300,000 persons; the same rows for the same seed
    /// and --now.
    Generate {
        /// Default: the config's [register] database. It must be empty.
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        organisations: u32,
        #[arg(long, default_value_t = 300_000)]
        persons: u32,
        #[arg(long, default_value_t = 1_000_000)]
        grants: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The instant validity and use are drawn around (default: now).
        #[arg(long, value_parser = parse_instant)]
        now: Option<DateTime<Utc>>,
    },
}

pub(super) async fn run(config_path: &Path, command: RegisterCommand) -> anyhow::Result<()> {
    use crate::grants::generate::{generate, GenerateSpec};
    match command {
        RegisterCommand::Generate {
            database,
            organisations,
            persons,
            grants,
            seed,
            now,
        } => {
            let database = match database {
                Some(url) => url,
                None => Config::load(config_path)?.register.database,
            };
            let mut spec = GenerateSpec {
                organisations,
                persons,
                grants,
                seed,
                ..GenerateSpec::default()
            };
            if let Some(now) = now {
                spec.now = now;
            }
            let register = crate::grants::registry::connect_database(&database)
                .await
                .with_context(|| format!("opening {database}"))?;
            println!(
                "generating into {database}: {organisations} organisations, {persons} persons, \
                 {grants} grants, seed {seed}, now {}",
                spec.now.to_rfc3339()
            );
            let report = generate(&register, &spec).await?;
            register.close().await;
            for t in &report.tables {
                println!(
                    "{:<18} {:>10} rows {:>8.1} s",
                    t.table,
                    t.rows,
                    t.elapsed.as_secs_f64()
                );
            }
            println!(
                "{} rows in {:.1} s ({:.0} rows/s)",
                report.rows(),
                report.elapsed.as_secs_f64(),
                report.rows_per_second()
            );
        }
    }
    Ok(())
}
