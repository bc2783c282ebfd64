//! A synthetic register for benchmarks: organisations, persons, memberships, groups and grants
//! in the proportions of a large deployment, written straight into an empty SQLite or
//! PostgreSQL register.
//!
//! Everything follows from [`GenerateSpec::seed`] and [`GenerateSpec::now`]: two runs with the
//! same spec write the same rows, on either backend, so benchmark figures can be reproduced.
//! Each table has its own random stream, so a change to how one table is drawn leaves the others
//! as they were.
//!
//! Speed comes from multi-row `INSERT`s inside large transactions (`bulk.rs`); rows are drawn
//! in chunks, so memory stays bounded by the chunk and the small index of memberships per
//! organisation.
//!
//! `register_bench generate` runs it (`scripts/bench-register.sh` does, before measuring); it
//! was `poort register generate`, and left the server binary because only benchmarks need it.

use crate::bulk::{OpenError, Pool, TableReport, TableWriter, Value};
use crate::draw::{
    rsin_from_prefix, stream, Permutation, FAMILY_NAMES, GIVEN_NAMES, GROUP_NAMES, LEGAL_FORMS,
    NAME_WORDS,
};
use chrono::{DateTime, Months, SubsecRound, TimeDelta, Utc};
use poort::config::Config;
use poort::domain::grant::Role;
use poort::domain::identifiers::is_rsin;
use rand::rngs::StdRng;
use rand::Rng;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The development identity provider: every generated person has one identity link there,
/// with their person ID as subject, so a benchmark can log anyone in.
pub const GENERATED_IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
/// The demo DV of `config/poort.toml`: most provider-scoped grants name it.
pub const DEV_PROVIDER: &str = "urn:etoegang:DV:00000099990000000002:entities:1";
/// The ServiceUUIDs of the catalogue in `config/poort.toml`.
pub const CATALOGUE_SERVICES: [&str; 2] = [
    "5a1d3b0e-8c9f-4f5e-9b1a-000000000001",
    "5a1d3b0e-8c9f-4f5e-9b1a-000000000002",
];
/// `created_by` of every generated grant, so generated rows are recognisable.
pub const GENERATED_BY: &str = "generator";

/// Invented providers besides [`DEV_PROVIDER`], and invented services besides the catalogue.
const OTHER_PROVIDERS: u32 = 20;
const OTHER_SERVICES: u32 = 500;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSpec {
    pub organisations: u32,
    pub persons: u32,
    pub grants: u32,
    pub seed: u64,
    /// The moment validity and last use are drawn around (and every `created_at`): fixed, so
    /// that a run can be repeated exactly; generated registers age like real ones.
    pub now: DateTime<Utc>,
}

impl Default for GenerateSpec {
    /// The size the benchmarks of issue 3 ask for: 1,000,000 grants over 100,000 organisations
    /// and 300,000 persons.
    fn default() -> Self {
        GenerateSpec {
            organisations: 100_000,
            persons: 300_000,
            grants: 1_000_000,
            seed: 1,
            now: Utc::now().trunc_subsecs(0),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Config(#[from] poort::config::ConfigError),
    #[error("the register is not empty ({0} organisations, {1} persons): generate into a fresh database")]
    NotEmpty(i64, i64),
    #[error("invalid spec: {0}")]
    Spec(String),
}

/// What was written, with the shares of the states the decision distinguishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateReport {
    pub tables: Vec<TableReport>,
    /// Writing and `ANALYZE` together.
    pub elapsed: Duration,
    pub memberships_blocked: u64,
    pub group_members_blocked: u64,
    pub grants_by_group: u64,
    pub grants_revoked: u64,
    pub grants_expired: u64,
    pub grants_not_yet_valid: u64,
    /// Unused (last use, or `valid_from` when never used) for more than 730 days at `now`.
    pub grants_lapsed: u64,
}

impl GenerateReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    #[cfg(test)] // what the tests check; the command prints every table
    pub fn rows_of(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .filter(|t| t.table == table)
            .map(|t| t.rows)
            .sum()
    }

    pub fn rows_per_second(&self) -> f64 {
        self.rows() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `register_bench generate`: fill an empty register with a synthetic population, by default
/// 1,000,000 grants over 100,000 organisations and 300,000 persons; the same rows for the same
/// seed and `--now`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Default: the config's [register] database. It must be empty.
    #[arg(long)]
    pub database: Option<String>,
    /// poort's config, for its register database when `--database` is not given.
    #[arg(long, default_value = "config/poort.toml")]
    pub config: PathBuf,
    #[arg(long, default_value_t = 100_000)]
    pub organisations: u32,
    #[arg(long, default_value_t = 300_000)]
    pub persons: u32,
    #[arg(long, default_value_t = 1_000_000)]
    pub grants: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The instant validity and use are drawn around (default: now).
    #[arg(long, value_parser = poort::grants::exchange::parse_instant)]
    pub now: Option<DateTime<Utc>>,
}

/// Generates what `args` asks for, saying so on standard output, table by table.
pub async fn run(args: &Args) -> Result<GenerateReport, GenerateError> {
    let database = match &args.database {
        Some(url) => url.clone(),
        None => Config::load(&args.config)?.register.database,
    };
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
    let pool = Pool::open(&database).await?;
    println!(
        "generating into {database}: {} organisations, {} persons, {} grants, seed {}, now {}",
        spec.organisations,
        spec.persons,
        spec.grants,
        spec.seed,
        spec.now.to_rfc3339()
    );
    let report = generate(&pool, &spec).await;
    pool.close().await;
    let report = report?;
    print!("{}", summary(&report));
    Ok(report)
}

/// Rows and seconds per table, and the whole run's rate.
pub fn summary(report: &GenerateReport) -> String {
    let mut out = String::new();
    for t in &report.tables {
        let _ = writeln!(
            out,
            "{:<18} {:>10} rows {:>8.1} s",
            t.table,
            t.rows,
            t.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "{} rows in {:.1} s ({:.0} rows/s)",
        report.rows(),
        report.elapsed.as_secs_f64(),
        report.rows_per_second()
    );
    out
}

/// The person ID (and subject at [`GENERATED_IDP`]) of the `index`th generated person.
pub fn person_id(index: u32) -> String {
    format!("p{index:08}")
}

fn organisation_id(index: u32) -> String {
    format!("o{index:08}")
}

fn membership_id(index: usize) -> String {
    format!("m{index:08}")
}

fn group_id(index: usize) -> String {
    format!("q{index:08}")
}

fn grant_id(index: u32) -> String {
    format!("g{index:08}")
}

/// An invented provider (DV entity ID), `0 <= index < OTHER_PROVIDERS`.
fn other_provider(index: u32) -> String {
    format!("urn:etoegang:DV:000000999900{:08}:entities:1", 100 + index)
}

/// An invented ServiceUUID.
fn other_service(index: u32) -> String {
    format!("00000000-0000-4000-8000-{index:012}")
}

/// Fills an empty register with the organisations, persons, memberships, groups and grants of
/// `spec`, then refreshes the planner's statistics (a bulk load leaves them stale, and the
/// resolution benchmarks would otherwise measure a bad plan).
///
/// Shares, drawn per row: a person belongs to 1 organisation (80 %) or 2–5; one organisation
/// in a hundred is large and draws a fifth of the extra memberships; 2 % of memberships are
/// blocked (never an organisation's first member, its hoofdbeheerder); 15 % of organisations
/// (all large ones) have 1–8 groups, each with about 40 % of the organisation's members, 5 %
/// of them blocked in the group; 85 % of grants are held by a membership, 15 % by a group;
/// scopes 30 % all services, 30 % one provider, 40 % one service; levels EH2 15 %, EH2+ 30 %,
/// EH3 45 %, EH4 10 %; validity 1, 3 or 5 years, 12 % expired, 6 % not yet valid; 4 % revoked;
/// 25 % never used, 8 % last used more than 24 months ago.
pub async fn generate(pool: &Pool, spec: &GenerateSpec) -> Result<GenerateReport, GenerateError> {
    if spec.grants > 0 && (spec.organisations == 0 || spec.persons == 0) {
        return Err(GenerateError::Spec(
            "grants need at least one organisation and one person".to_string(),
        ));
    }
    if u64::from(spec.organisations) > 90_000_000 {
        return Err(GenerateError::Spec(
            "at most 90,000,000 organisations have distinct 8-digit KvK numbers".to_string(),
        ));
    }
    let (organisations, persons) = pool.counts().await?;
    if organisations > 0 || persons > 0 {
        return Err(GenerateError::NotEmpty(organisations, persons));
    }
    let started = Instant::now();
    let now = spec.now;
    let mut report = GenerateReport::default();

    // Organisations: unique KvK numbers and RSINs from two permutations.
    let org_count = spec.organisations;
    {
        let mut rng = stream(spec.seed, 1);
        let kvk = Permutation::draw(&mut rng, 90_000_000);
        let rsin = Permutation::draw(&mut rng, 90_000_000);
        let mut writer = TableWriter::new(
            pool,
            "organisations",
            &["id", "kvk", "rsin", "name", "contact_email", "created_at"],
        );
        for i in 0..org_count {
            let kvk = (10_000_000 + kvk.at(u64::from(i))).to_string();
            let rsin = rsin_from_prefix(10_000_000 + rsin.at(u64::from(i)));
            debug_assert!(rsin.as_deref().is_none_or(is_rsin));
            let name = format!(
                "{} {} {}",
                NAME_WORDS[rng.random_range(0..NAME_WORDS.len())],
                FAMILY_NAMES[rng.random_range(0..FAMILY_NAMES.len())],
                LEGAL_FORMS[rng.random_range(0..LEGAL_FORMS.len())],
            )
            .trim_end()
            .to_string();
            writer.push([
                Value::Text(organisation_id(i)),
                Value::Text(kvk.clone()),
                Value::OptText(rsin),
                Value::Text(name),
                Value::Text(format!("info@kvk{kvk}.example")),
                Value::Time(now),
            ]);
            if writer.is_full() {
                writer.flush().await?;
            }
        }
        report.tables.push(writer.finish().await?);
    }

    // Persons, each with one identity link at the development AD.
    {
        let mut rng = stream(spec.seed, 2);
        let mut persons = TableWriter::new(pool, "persons", &["id", "name", "created_at"]);
        let mut links = TableWriter::new(
            pool,
            "identity_links",
            &["idp", "subject", "person_id", "created_at"],
        );
        for i in 0..spec.persons {
            let id = person_id(i);
            let name = format!(
                "{} {}",
                GIVEN_NAMES[rng.random_range(0..GIVEN_NAMES.len())],
                FAMILY_NAMES[rng.random_range(0..FAMILY_NAMES.len())]
            );
            persons.push([Value::Text(id.clone()), Value::Text(name), Value::Time(now)]);
            links.push([
                Value::Text(GENERATED_IDP.to_string()),
                Value::Text(id.clone()),
                Value::Text(id),
                Value::Time(now),
            ]);
            // Parents first: the foreign keys are checked row by row.
            if persons.is_full() || links.is_full() {
                persons.flush().await?;
                links.flush().await?;
            }
        }
        report.tables.push(persons.finish().await?);
        report.tables.push(links.finish().await?);
    }

    // Memberships and roles. The first `organisations` persons are each the first member
    // (hoofdbeheerder) of one organisation, so every organisation has one when there are
    // enough persons.
    let large = (org_count / 100).max(1);
    // (person, organisation) of each membership, by membership index.
    let mut memberships: Vec<(u32, u32)> = Vec::new();
    // Membership indices of each organisation.
    let mut members_of: Vec<Vec<u32>> = vec![Vec::new(); org_count as usize];
    if org_count > 0 {
        let mut rng = stream(spec.seed, 3);
        let mut writer = TableWriter::new(
            pool,
            "memberships",
            &[
                "id",
                "person_id",
                "organisation_id",
                "blocked",
                "created_at",
            ],
        );
        let mut roles = TableWriter::new(pool, "membership_roles", &["membership_id", "role"]);
        let mut orgs: Vec<u32> = Vec::with_capacity(5);
        for person in 0..spec.persons {
            let count = if rng.random_bool(0.8) {
                1
            } else {
                rng.random_range(2..=5u32).min(org_count)
            };
            orgs.clear();
            if person < org_count {
                orgs.push(person);
            }
            let mut tries = 0;
            while (orgs.len() as u32) < count && tries < 20 {
                tries += 1;
                let org = if rng.random_bool(0.2) {
                    rng.random_range(0..large)
                } else {
                    rng.random_range(0..org_count)
                };
                if !orgs.contains(&org) {
                    orgs.push(org);
                }
            }
            for &org in &orgs {
                let index = memberships.len();
                let first = members_of[org as usize].is_empty();
                let blocked = !first && rng.random_bool(0.02);
                let id = membership_id(index);
                writer.push([
                    Value::Text(id.clone()),
                    Value::Text(person_id(person)),
                    Value::Text(organisation_id(org)),
                    Value::Bool(blocked),
                    Value::Time(now),
                ]);
                report.memberships_blocked += u64::from(blocked);
                let member_roles: &[Role] = if first {
                    &[Role::Hoofdbeheerder, Role::Gebruiker]
                } else {
                    match rng.random_range(0..100) {
                        0..70 => &[Role::Gebruiker],
                        70..80 => &[Role::Beheerder, Role::Gebruiker],
                        80..90 => &[Role::Lezer],
                        90..95 => &[Role::Groepsbeheerder, Role::Gebruiker],
                        _ => &[Role::Hoofdbeheerder],
                    }
                };
                for role in member_roles {
                    roles.push([
                        Value::Text(id.clone()),
                        Value::Text(role.as_str().to_string()),
                    ]);
                }
                members_of[org as usize].push(index as u32);
                memberships.push((person, org));
            }
            if writer.is_full() || roles.is_full() {
                writer.flush().await?;
                roles.flush().await?;
            }
        }
        report.tables.push(writer.finish().await?);
        report.tables.push(roles.finish().await?);
    }

    // Groups and their members.
    let mut groups: Vec<u32> = Vec::new();
    {
        let mut rng = stream(spec.seed, 4);
        let mut writer = TableWriter::new(
            pool,
            "groups",
            &["id", "organisation_id", "name", "created_at"],
        );
        let mut members = TableWriter::new(
            pool,
            "group_members",
            &["membership_id", "group_id", "organisation_id", "blocked"],
        );
        for org in 0..org_count {
            let count = if org < large {
                rng.random_range(3..=8usize)
            } else if rng.random_bool(0.15) {
                rng.random_range(1..=3usize)
            } else {
                0
            };
            let first_name = rng.random_range(0..GROUP_NAMES.len());
            for k in 0..count {
                let index = groups.len();
                let id = group_id(index);
                writer.push([
                    Value::Text(id.clone()),
                    Value::Text(organisation_id(org)),
                    Value::Text(GROUP_NAMES[(first_name + k) % GROUP_NAMES.len()].to_string()),
                    Value::Time(now),
                ]);
                groups.push(org);
                for &membership in &members_of[org as usize] {
                    if !rng.random_bool(0.4) {
                        continue;
                    }
                    let blocked = rng.random_bool(0.05);
                    report.group_members_blocked += u64::from(blocked);
                    members.push([
                        Value::Text(membership_id(membership as usize)),
                        Value::Text(id.clone()),
                        Value::Text(organisation_id(org)),
                        Value::Bool(blocked),
                    ]);
                }
            }
            if writer.is_full() || members.is_full() {
                writer.flush().await?;
                members.flush().await?;
            }
        }
        report.tables.push(writer.finish().await?);
        report.tables.push(members.finish().await?);
    }
    drop(members_of);

    // Grants.
    if spec.grants > 0 && memberships.is_empty() {
        return Err(GenerateError::Spec(
            "no memberships to hold grants".to_string(),
        ));
    }
    {
        let mut rng = stream(spec.seed, 5);
        let mut writer = TableWriter::new(
            pool,
            "grants",
            &[
                "id",
                "organisation_id",
                "membership_id",
                "group_id",
                "scope_kind",
                "provider",
                "service_uuid",
                "level",
                "valid_from",
                "valid_until",
                "status",
                "created_by",
                "created_at",
                "last_used_at",
            ],
        );
        let lapse = poort::domain::decision::LAPSE_AFTER;
        for i in 0..spec.grants {
            let by_group = !groups.is_empty() && rng.random_bool(0.15);
            let (organisation, membership, group) = if by_group {
                let g = rng.random_range(0..groups.len());
                (groups[g], None, Some(group_id(g)))
            } else {
                let m = rng.random_range(0..memberships.len());
                (memberships[m].1, Some(membership_id(m)), None)
            };
            report.grants_by_group += u64::from(by_group);
            let (kind, provider, service) = match rng.random_range(0..100) {
                0..30 => ("all_services", None, None),
                30..60 => {
                    let provider = if rng.random_bool(0.75) {
                        DEV_PROVIDER.to_string()
                    } else {
                        other_provider(rng.random_range(0..OTHER_PROVIDERS))
                    };
                    ("provider", Some(provider), None)
                }
                _ => {
                    let service = if rng.random_bool(0.5) {
                        CATALOGUE_SERVICES[rng.random_range(0..CATALOGUE_SERVICES.len())]
                            .to_string()
                    } else {
                        other_service(rng.random_range(0..OTHER_SERVICES))
                    };
                    ("service", None, Some(service))
                }
            };
            let level = match rng.random_range(0..100) {
                0..15 => "EH2",
                15..45 => "EH2+",
                45..90 => "EH3",
                _ => "EH4",
            };
            let years: u32 = match rng.random_range(0..100) {
                0..45 => 1,
                45..75 => 3,
                _ => 5,
            };
            let day = TimeDelta::days(1);
            let seconds = |rng: &mut StdRng, from: TimeDelta, to: TimeDelta| {
                TimeDelta::seconds(rng.random_range(from.num_seconds()..to.num_seconds()))
            };
            // Never shorter than `years` × 365 days, never longer than × 366 + 1.
            let (shortest, longest) = (
                TimeDelta::days(365 * i64::from(years)),
                TimeDelta::days(366 * i64::from(years) + 1),
            );
            let valid_from = match rng.random_range(0..100) {
                // Expired: ended between a day and three years ago.
                0..12 => now - seconds(&mut rng, longest + day, longest + TimeDelta::days(3 * 365)),
                // Not yet valid: starts within half a year.
                12..18 => now + seconds(&mut rng, day, TimeDelta::days(180)),
                // Valid now, for at least another day.
                _ => now - seconds(&mut rng, TimeDelta::zero(), shortest - day),
            };
            let valid_until = valid_from
                .checked_add_months(Months::new(12 * years))
                .ok_or_else(|| GenerateError::Spec("validity out of range".to_string()))?;
            let revoked = rng.random_bool(0.04);
            let last_used_at = if valid_from > now {
                None
            } else {
                match rng.random_range(0..100) {
                    0..25 => None,
                    // Lapsed: last used more than 24 months ago, after it began.
                    25..33 if now - valid_from > lapse + day * 2 => Some(
                        valid_from
                            + seconds(&mut rng, TimeDelta::zero(), now - valid_from - lapse - day),
                    ),
                    _ => {
                        let since = (now - valid_from).min(lapse - day).max(day);
                        Some(now - seconds(&mut rng, TimeDelta::zero(), since))
                    }
                }
            };
            report.grants_revoked += u64::from(revoked);
            report.grants_expired += u64::from(valid_until <= now);
            report.grants_not_yet_valid += u64::from(valid_from > now);
            report.grants_lapsed += u64::from(last_used_at.unwrap_or(valid_from) < now - lapse);
            writer.push([
                Value::Text(grant_id(i)),
                Value::Text(organisation_id(organisation)),
                Value::OptText(membership),
                Value::OptText(group),
                Value::Text(kind.to_string()),
                Value::OptText(provider),
                Value::OptText(service),
                Value::Text(level.to_string()),
                Value::Time(valid_from),
                Value::Time(valid_until),
                Value::Text(if revoked { "revoked" } else { "active" }.to_string()),
                Value::Text(GENERATED_BY.to_string()),
                Value::Time(now),
                Value::OptTime(last_used_at),
            ]);
            if writer.is_full() {
                writer.flush().await?;
            }
        }
        report.tables.push(writer.finish().await?);
    }

    let analyze = Instant::now();
    pool.analyze().await?;
    tracing::info!(
        seconds = format!("{:.1}", analyze.elapsed().as_secs_f64()),
        "statistics refreshed"
    );
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests;
