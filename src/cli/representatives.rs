//! `poort representatives`: bevoegd vertegenwoordigers (directors) as extracts of the trade
//! register give them. `import FILE.csv` replaces the list of each organisation the file names
//! (columns `kvk,given_names,family_name,date_of_birth,authority`, a header first; several
//! organisations per file), all or nothing, every bad line reported; `list --kvk K` shows an
//! organisation's directors (never their dates of birth).

use super::{open, ActorArg};
use crate::grants::{NewRepresentative, RepresentativeRow};
use anyhow::{bail, Context};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum RepresentativeCommand {
    /// Import extracts (CSV: kvk,given_names,family_name,date_of_birth,authority): each
    /// organisation's rows replace its list; all or nothing.
    Import { file: PathBuf },
    /// An organisation's directors: name, authority, bound to a person or not.
    List {
        #[arg(long)]
        kvk: String,
        #[arg(long)]
        json: bool,
    },
}

const COLUMNS: [&str; 5] = [
    "kvk",
    "given_names",
    "family_name",
    "date_of_birth",
    "authority",
];

/// The rows of an extracts file, with their lines; or every line that does not read.
pub fn read_csv(text: &str) -> Result<Vec<RepresentativeRow>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_ascii_lowercase).collect(),
        Err(e) => return Err(vec![format!("line 1: {e}")]),
    };
    if header != COLUMNS {
        return Err(vec![format!(
            "line 1: the header must be {} (it is {})",
            COLUMNS.join(","),
            header.join(",")
        )]);
    }
    let (mut rows, mut bad) = (Vec::new(), Vec::new());
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map(|p| p.line() as usize).unwrap_or_default();
                if r.len() != COLUMNS.len() {
                    bad.push(format!(
                        "line {line}: {} columns, {} expected",
                        r.len(),
                        COLUMNS.len()
                    ));
                    continue;
                }
                rows.push(RepresentativeRow {
                    line,
                    kvk: r[0].to_string(),
                    representative: NewRepresentative {
                        given_names: r[1].to_string(),
                        family_name: r[2].to_string(),
                        date_of_birth: r[3].to_string(),
                        authority: r[4].to_string(),
                    },
                });
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or_default();
                bad.push(format!("line {line}: {e}"));
            }
        }
    }
    if bad.is_empty() {
        Ok(rows)
    } else {
        Err(bad)
    }
}

pub(super) async fn run(config_path: &Path, command: RepresentativeCommand) -> anyhow::Result<()> {
    let (config, registry) = open(config_path).await?;
    match command {
        RepresentativeCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let rows = match read_csv(&text) {
                Ok(rows) => rows,
                Err(bad) => bail!(
                    "{} line(s) could not be read, nothing imported:\n{}",
                    bad.len(),
                    bad.join("\n")
                ),
            };
            let mailer = crate::mail::Mailer::new(registry.sql().pool().clone());
            let operations = crate::admin::activation::Operations {
                registry: &registry,
                mailer: &mailer,
                config: &config,
            };
            let applied = operations
                .import_representatives(&ActorArg::operator(), &rows)
                .await?;
            for a in &applied {
                println!(
                    "organisation {}: {} kept, {} added, {} removed",
                    a.kvk, a.kept, a.added, a.removed
                );
            }
        }
        RepresentativeCommand::List { kvk, json } => {
            let list = registry.sql().representatives(&kvk).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for r in &list {
                let authority = match r.authority {
                    crate::domain::request::Authority::Sole => "sole",
                    crate::domain::request::Authority::Joint => "joint",
                };
                let bound = match r.bound_at.filter(|_| r.bound()) {
                    Some(at) => format!("bound {}", at.format("%Y-%m-%d")),
                    None => "not bound".into(),
                };
                println!(
                    "{:<36} {:<6} {:<16} {} {}",
                    r.id, authority, bound, r.given_names, r.family_name
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_their_lines_and_bad_lines_are_all_named() {
        let text = "kvk,given_names,family_name,date_of_birth,authority\n\
                    12345678,Jan,de Vries,1970-05-01,sole\n\
                    87654321, Piet , Bakker ,1965-01-31,joint\n";
        let rows = read_csv(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 3));
        assert_eq!(rows[1].representative.given_names, "Piet");
        let bad =
            read_csv("kvk,given_names,family_name,date_of_birth,authority\n1,2\n3\n").unwrap_err();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].starts_with("line 2"), "{bad:?}");
        assert!(read_csv("kvk,name\n").unwrap_err()[0].contains("header"));
    }
}
