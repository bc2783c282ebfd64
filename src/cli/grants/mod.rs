//! `poort grants`: add, renew, revoke, reactivate, list and export grants (machtigingen);
//! `import` and `explain` have files of their own.

mod explain;
mod import;

use super::{find_service, open, parse_instant, parse_level, parse_scope, service_ref, ActorArg};
use crate::domain::grant::MAX_VALIDITY;
use crate::domain::level::Level;
use crate::grants::exchange::{self, GrantRow};
use crate::grants::{GrantFilter, GrantRecord, GrantRequest, GrantStatus, Holder, Renewal, Scope};
use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use explain::explain;
use import::import;
use std::path::{Path, PathBuf};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusArg {
    Active,
    Revoked,
}

#[derive(Subcommand, Debug)]
pub enum GrantsCommand {
    /// Give a grant to a member (--person) or a group (--group) of an organisation.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        person: Option<String>,
        #[arg(long)]
        group: Option<String>,
        /// `all`, `provider:<DV entity ID>` or `service:<ServiceUUID>`.
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        #[arg(long, value_parser = parse_level)]
        level: Level,
        /// Start (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long, value_parser = parse_instant)]
        from: Option<DateTime<Utc>>,
        /// End (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = parse_instant, conflicts_with = "years", required_unless_present = "years")]
        until: Option<DateTime<Utc>>,
        /// Or a validity of 1 to 5 years from the start.
        #[arg(long)]
        years: Option<u32>,
        /// The grant's ID (default: made up).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Renew a grant by 1, 3 or 5 years, or until a date.
    Renew {
        grant: String,
        #[arg(long, conflicts_with = "until", required_unless_present = "until")]
        years: Option<u32>,
        #[arg(long, value_parser = parse_instant)]
        until: Option<DateTime<Utc>>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Revoke a grant: refused on every replica from the next login on.
    Revoke {
        grant: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Make a revoked or lapsed grant active again.
    Reactivate {
        grant: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// List grants.
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        person: Option<String>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only grants that cover this service (ID or ServiceUUID from the catalogue).
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Write grants as CSV or JSON, in the form `grants import` reads.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        org: Option<String>,
        /// File to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Read grants from a CSV, JSON or TOML (seed) file: all of them, or none.
    Import {
        file: PathBuf,
        /// Default: from the file's extension.
        #[arg(long, value_enum)]
        format: Option<Format>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Why a login by this person to this service would be allowed or refused, rule by rule.
    Explain {
        #[arg(long)]
        person: String,
        /// Service ID or ServiceUUID from the catalogue.
        #[arg(long)]
        service: String,
        /// The level the identity provider asserts (default: the service's level).
        #[arg(long, value_parser = parse_level)]
        level: Option<Level>,
    },
}

fn record_row(g: &GrantRecord) -> GrantRow {
    let (person, group) = match &g.holder {
        Holder::Person(p) => (Some(p.clone()), None),
        Holder::Group(n) => (None, Some(n.clone())),
    };
    GrantRow {
        id: Some(g.id.clone()),
        organisation: g.organisation.kvk.clone(),
        person,
        group,
        scope: g.scope.clone(),
        level: g.level,
        valid_from: g.valid_from,
        valid_until: g.valid_until,
        status: g.status,
    }
}

pub(super) fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::AllServices => "all services".into(),
        Scope::Provider { provider } => format!("provider {provider}"),
        Scope::Service { uuid } => format!("service {uuid}"),
    }
}

fn print_table(grants: &[GrantRecord]) {
    println!(
        "{:<36} {:<8} {:<20} {:<5} {:<10} {:<10} {:<7} scope",
        "grant", "kvk", "holder", "level", "from", "until", "status"
    );
    for g in grants {
        let holder = match &g.holder {
            Holder::Person(p) => p.clone(),
            Holder::Group(n) => format!("group:{n}"),
        };
        println!(
            "{:<36} {:<8} {:<20} {:<5} {:<10} {:<10} {:<7} {}",
            g.id,
            g.organisation.kvk,
            holder,
            g.level.to_string(),
            g.valid_from.format("%Y-%m-%d"),
            g.valid_until.format("%Y-%m-%d"),
            match g.status {
                GrantStatus::Active => "active",
                GrantStatus::Revoked => "revoked",
            },
            scope_text(&g.scope)
        );
    }
    println!("{} grant(s)", grants.len());
}

pub(super) async fn run(config_path: &Path, command: GrantsCommand) -> anyhow::Result<()> {
    let (config, registry) = open(config_path).await?;
    let sql = registry.sql();
    match command {
        GrantsCommand::Add {
            org,
            person,
            group,
            scope,
            level,
            from,
            until,
            years,
            id,
            actor,
        } => {
            let holder = match (person, group) {
                (Some(p), None) => Holder::Person(p),
                (None, Some(g)) => Holder::Group(g),
                _ => bail!("give the holder: --person or --group"),
            };
            let valid_from = from.unwrap_or_else(Utc::now);
            // The register refuses more than the domain's limit; the flag is told so first.
            let most_years = MAX_VALIDITY.as_u32() / 12;
            let valid_until = match (until, years) {
                (Some(u), _) => u,
                (None, Some(y)) if (1..=most_years).contains(&y) => valid_from
                    .checked_add_months(chrono::Months::new(y * 12))
                    .ok_or_else(|| anyhow!("validity out of range"))?,
                (None, Some(y)) => bail!("--years {y}: a grant is valid 1 to {most_years} years"),
                (None, None) => bail!("give --until or --years"),
            };
            let request = GrantRequest {
                id,
                organisation: org,
                holder,
                scope,
                level,
                valid_from,
                valid_until,
            };
            let id = registry
                .write(sql.add_grant(&actor.actor(), &config.services, &request))
                .await?;
            println!("grant {id} added");
        }
        GrantsCommand::Renew {
            grant,
            years,
            until,
            actor,
        } => {
            let renewal = match (years, until) {
                (Some(y), _) => Renewal::Years(y),
                (None, Some(u)) => Renewal::Until(u),
                (None, None) => bail!("give --years 1|3|5 or --until"),
            };
            let until = registry
                .write(sql.renew_grant(&actor.actor(), &grant, renewal))
                .await?;
            println!(
                "grant {grant} valid until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            );
        }
        GrantsCommand::Revoke { grant, actor } => {
            registry
                .write(sql.revoke_grant(&actor.actor(), &grant))
                .await?;
            println!("grant {grant} revoked");
        }
        GrantsCommand::Reactivate { grant, actor } => {
            registry
                .write(sql.reactivate_grant(&actor.actor(), &grant))
                .await?;
            println!("grant {grant} active again");
        }
        GrantsCommand::List {
            org,
            person,
            status,
            service,
            format,
        } => {
            let service = match service {
                Some(key) => Some(service_ref(find_service(&config, &key)?)),
                None => None,
            };
            let filter = GrantFilter {
                organisation: org,
                person,
                status: status.map(|s| match s {
                    StatusArg::Active => GrantStatus::Active,
                    StatusArg::Revoked => GrantStatus::Revoked,
                }),
                service,
                ..GrantFilter::default()
            };
            let grants = sql.list_grants(&filter).await?;
            match format {
                Format::Table => print_table(&grants),
                Format::Csv => print!(
                    "{}",
                    exchange::to_csv(&grants.iter().map(record_row).collect::<Vec<_>>())
                ),
                Format::Json => println!(
                    "{}",
                    exchange::to_json(&grants.iter().map(record_row).collect::<Vec<_>>())
                ),
            }
        }
        GrantsCommand::Export {
            format,
            org,
            output,
        } => {
            let filter = GrantFilter {
                organisation: org,
                ..GrantFilter::default()
            };
            let rows: Vec<GrantRow> = sql
                .list_grants(&filter)
                .await?
                .iter()
                .map(record_row)
                .collect();
            let text = match format {
                Format::Json => exchange::to_json(&rows),
                Format::Csv | Format::Table => exchange::to_csv(&rows),
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} grant(s) written to {}", rows.len(), path.display());
                }
                None => print!("{text}"),
            }
        }
        GrantsCommand::Import {
            file,
            format,
            actor,
        } => import(&config, &registry, &file, format, &actor.actor()).await?,
        GrantsCommand::Explain {
            person,
            service,
            level,
        } => explain(&config, &registry, &person, &service, level).await?,
    }
    Ok(())
}
