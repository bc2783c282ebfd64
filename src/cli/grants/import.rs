//! `poort grants import`: grants from a CSV or JSON file, all of them or none (every bad row
//! reported by line), or a whole seed file (TOML).

use super::Format;
use crate::config::Config;
use crate::grants::exchange;
use crate::grants::{Actor, GrantRequest, Holder, ImportError, ImportRow, Registry};
use anyhow::{bail, Context};
use std::path::Path;

pub(super) async fn import(
    config: &Config,
    registry: &Registry,
    file: &Path,
    format: Option<Format>,
    actor: &Actor,
) -> anyhow::Result<()> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext == "toml" && format.is_none() {
        // The seed format: organisations, persons, memberships and grants together.
        let seed = crate::grants::load_grants_file(file)?;
        registry.sql().import(&seed).await?;
        // Every identity in the file may have been cached as unknown until now.
        registry
            .invalidate(&crate::grants::Touched {
                links: seed
                    .persons
                    .iter()
                    .flat_map(|p| &p.links)
                    .map(|l| crate::grants::IdentityKey::new(&l.idp, &l.subject))
                    .collect(),
            })
            .await;
        println!(
            "imported {} organisation(s), {} person(s), {} grant(s) from {}",
            seed.organisations.len(),
            seed.persons.len(),
            seed.grants.len(),
            file.display()
        );
        return Ok(());
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let format = format.unwrap_or(if ext == "json" {
        Format::Json
    } else {
        Format::Csv
    });
    let exchange::Parsed { rows, errors } = match format {
        Format::Json => exchange::read_json(&text),
        Format::Csv | Format::Table => exchange::read_csv(&text),
    };
    let rows: Vec<ImportRow> = rows
        .into_iter()
        .map(|(line, row)| ImportRow {
            line,
            status: row.status,
            request: GrantRequest {
                id: row.id,
                organisation: row.organisation,
                holder: match (row.person, row.group) {
                    (Some(p), _) => Holder::Person(p),
                    (None, Some(g)) => Holder::Group(g),
                    (None, None) => Holder::Person(String::new()),
                },
                scope: row.scope,
                level: row.level,
                valid_from: row.valid_from,
                valid_until: row.valid_until,
            },
        })
        .collect();
    if !errors.is_empty() {
        // What the register says of the rows that did read, too: one report, every bad row.
        let refused = registry
            .sql()
            .check_grants(actor, &config.services, &rows)
            .await?;
        let mut report: Vec<(usize, String)> = errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .chain(refused.iter().map(|(line, e)| (*line, e.to_string())))
            .collect();
        report.sort_by_key(|(line, _)| *line);
        for (line, message) in &report {
            eprintln!("{}: line {line}: {message}", file.display());
        }
        bail!(
            "{} bad row(s) in {}; nothing imported",
            report.len(),
            file.display()
        );
    }
    let count = rows.len();
    let result = registry
        .write(async {
            registry
                .sql()
                .import_grants(actor, &config.services, &rows)
                .await
        })
        .await;
    match result {
        Ok(_) => {
            println!("imported {count} grant(s) from {}", file.display());
            Ok(())
        }
        Err(ImportError::Rows(bad)) => {
            for (line, e) in &bad {
                eprintln!("{}: line {line}: {e}", file.display());
            }
            bail!(
                "{} bad row(s) in {}; nothing imported",
                bad.len(),
                file.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}
