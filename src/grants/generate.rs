//! A synthetic register for benchmarks: organisations, persons, memberships, groups and grants
//! in the proportions of a large deployment, written straight into an empty SQLite or
//! PostgreSQL register.
//!
//! Everything follows from [`GenerateSpec::seed`] and [`GenerateSpec::now`]: two runs with the
//! same spec write the same rows, on either backend, so benchmark figures can be reproduced.
//! Each table has its own random stream, so a change to how one table is drawn leaves the others
//! as they were.
//!
//! Speed comes from multi-row `INSERT`s (as many rows per statement as the backend's parameter
//! limit allows) inside large transactions; rows are drawn in chunks, so memory stays bounded
//! by the chunk and the small index of memberships per organisation.

use super::sql::{Pool, SqlRegister};
use crate::domain::identifiers::is_rsin;
use chrono::{DateTime, Months, SubsecRound, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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
/// Rows drawn before they are written; one transaction each.
const CHUNK_ROWS: usize = 200_000;
/// SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// PostgreSQL's wire protocol counts parameters in 16 bits.
const POSTGRES_MAX_PARAMS: usize = 65_535;

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
    #[error("the register is not empty ({0} organisations, {1} persons): generate into a fresh database")]
    NotEmpty(i64, i64),
    #[error("invalid spec: {0}")]
    Spec(String),
}

/// Rows written to one table and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
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

/// A value bound to an INSERT parameter, the same for both backends.
enum Value {
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

/// A table being written: its columns and the rows drawn but not yet written.
struct TableWriter<'a> {
    pool: &'a Pool,
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
    rows: u64,
    elapsed: Duration,
}

impl<'a> TableWriter<'a> {
    fn new(pool: &'a Pool, table: &'static str, columns: &'static [&'static str]) -> Self {
        TableWriter {
            pool,
            table,
            columns,
            values: Vec::new(),
            rows: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// Adds one row, to be written by [`TableWriter::flush`].
    fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len());
    }

    /// Enough rows wait for a transaction of their own.
    fn is_full(&self) -> bool {
        self.values.len() >= CHUNK_ROWS * self.columns.len()
    }

    /// Writes every waiting row in one transaction, in statements of as many rows as the
    /// backend's parameter limit allows.
    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.values.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let width = self.columns.len();
        let (max_params, numbered) = match self.pool {
            Pool::Sqlite(_) => (SQLITE_MAX_PARAMS, false),
            Pool::Postgres(_) => (POSTGRES_MAX_PARAMS, true),
        };
        let per_statement = (max_params / width).max(1);
        let rows = self.values.len() / width;
        let full_sql = insert_sql(self.table, self.columns, per_statement, numbered);
        let mut values = std::mem::take(&mut self.values).into_iter();
        let mut left = rows;
        macro_rules! write_all {
            ($pool:expr, $setup:expr) => {{
                let mut tx = $pool.begin().await?;
                if let Some(setup) = $setup {
                    sqlx::query(setup).execute(&mut *tx).await?;
                }
                while left > 0 {
                    let n = left.min(per_statement);
                    let sql = if n == per_statement {
                        full_sql.clone()
                    } else {
                        insert_sql(self.table, self.columns, n, numbered)
                    };
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for value in values.by_ref().take(n * width) {
                        query = match value {
                            Value::Text(v) => query.bind(v),
                            Value::OptText(v) => query.bind(v),
                            Value::Bool(v) => query.bind(v),
                            Value::Time(v) => query.bind(v),
                            Value::OptTime(v) => query.bind(v),
                        };
                    }
                    query.execute(&mut *tx).await?;
                    left -= n;
                }
                tx.commit().await?;
            }};
        }
        match self.pool {
            // A page cache that holds the indexes being filled (SQLite's default is 2 MB); the
            // connection keeps it, which is what a generating process wants.
            Pool::Sqlite(pool) => write_all!(pool, Some("PRAGMA cache_size = -262144")),
            Pool::Postgres(pool) => write_all!(pool, None::<&'static str>),
        }
        self.rows += rows as u64;
        self.elapsed += started.elapsed();
        tracing::debug!(table = self.table, rows = self.rows, "written");
        Ok(())
    }

    async fn finish(mut self) -> Result<TableReport, sqlx::Error> {
        self.flush().await?;
        tracing::info!(
            table = self.table,
            rows = self.rows,
            seconds = format!("{:.1}", self.elapsed.as_secs_f64()),
            "table generated"
        );
        Ok(TableReport {
            table: self.table,
            rows: self.rows,
            elapsed: self.elapsed,
        })
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…)` for `rows` rows. SQLite gets anonymous
/// `?` instead of `$n`: it looks named parameters up by a linear scan, which made binding one
/// statement of 32,000 `$n` parameters take over a second.
fn insert_sql(table: &str, columns: &[&str], rows: usize, numbered: bool) -> String {
    let width = columns.len();
    let mut sql = String::with_capacity(rows * width * 8 + 64);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&columns.join(", "));
    sql.push_str(") VALUES ");
    let mut n = 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&n.to_string());
                n += 1;
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// One random stream per table, derived from the seed.
fn stream(seed: u64, table: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ table.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A bijection of `0..modulus` (`i -> (a * i + b) mod modulus` with `a` coprime to the
/// modulus), drawn from `rng`: unique numbers without remembering which were used.
struct Permutation {
    a: u64,
    b: u64,
    modulus: u64,
}

impl Permutation {
    /// `modulus` must have no prime factors other than 2, 3 and 5 (as 9 × 10^7 has), so that
    /// "not divisible by 2, 3 or 5" means coprime.
    fn draw(rng: &mut StdRng, modulus: u64) -> Permutation {
        let a = loop {
            let a = rng.random_range(1..modulus);
            if a % 2 != 0 && a % 3 != 0 && a % 5 != 0 {
                break a;
            }
        };
        Permutation {
            a,
            b: rng.random_range(0..modulus),
            modulus,
        }
    }

    fn at(&self, i: u64) -> u64 {
        ((u128::from(self.a) * u128::from(i) + u128::from(self.b)) % u128::from(self.modulus))
            as u64
    }
}

/// The RSIN whose first eight digits are `prefix` (10,000,000 ..= 99,999,999), when the
/// eleven-test leaves a single check digit for it (10 of 11 prefixes).
fn rsin_from_prefix(prefix: u64) -> Option<String> {
    let digits = prefix.to_string();
    let sum: u64 = digits
        .bytes()
        .zip([9u64, 8, 7, 6, 5, 4, 3, 2])
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    // 9·d1 + … + 2·d8 − d9 ≡ 0 (mod 11)
    let check = sum % 11;
    (check < 10).then(|| format!("{digits}{check}"))
}

const NAME_WORDS: [&str; 24] = [
    "Bakkerij",
    "Bouwbedrijf",
    "Transport",
    "Adviesbureau",
    "Installatietechniek",
    "Zorggroep",
    "Handelsonderneming",
    "Schildersbedrijf",
    "Administratiekantoor",
    "Garage",
    "Kwekerij",
    "Drukkerij",
    "Stichting",
    "Vereniging",
    "Architectenbureau",
    "Loonbedrijf",
    "Groothandel",
    "Hoveniersbedrijf",
    "Reisbureau",
    "Metaalbewerking",
    "Accountants",
    "Dierenkliniek",
    "Softwarehuis",
    "Notariskantoor",
];
const FAMILY_NAMES: [&str; 24] = [
    "De Jong",
    "Jansen",
    "De Vries",
    "Van den Berg",
    "Van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "De Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Van Leeuwen",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Dijkstra",
    "Smits",
    "De Graaf",
];
const GIVEN_NAMES: [&str; 16] = [
    "Anna", "Bram", "Carla", "Daan", "Eva", "Femke", "Gert", "Hanna", "Ivo", "Joke", "Kees",
    "Lotte", "Milan", "Noor", "Otto", "Pien",
];
const LEGAL_FORMS: [&str; 4] = ["B.V.", "V.O.F.", "N.V.", ""];
const GROUP_NAMES: [&str; 8] = [
    "Boekhouding",
    "Inkoop",
    "Personeelszaken",
    "Vergunningen",
    "Belastingen",
    "Subsidies",
    "Juridische zaken",
    "ICT",
];

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
pub async fn generate(
    register: &SqlRegister,
    spec: &GenerateSpec,
) -> Result<GenerateReport, GenerateError> {
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
    let pool = register.pool();
    let (organisations, persons) = counts(pool).await?;
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
                let member_roles: &[&str] = if first {
                    &["hoofdbeheerder", "gebruiker"]
                } else {
                    match rng.random_range(0..100) {
                        0..70 => &["gebruiker"],
                        70..80 => &["beheerder", "gebruiker"],
                        80..90 => &["lezer"],
                        90..95 => &["groepsbeheerder", "gebruiker"],
                        _ => &["hoofdbeheerder"],
                    }
                };
                for role in member_roles {
                    roles.push([Value::Text(id.clone()), Value::Text(role.to_string())]);
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
        let lapse = crate::domain::decision::LAPSE_AFTER;
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
    match pool {
        Pool::Sqlite(p) => {
            sqlx::query("ANALYZE").execute(p).await?;
        }
        Pool::Postgres(p) => {
            sqlx::query("ANALYZE").execute(p).await?;
        }
    }
    tracing::info!(
        seconds = format!("{:.1}", analyze.elapsed().as_secs_f64()),
        "statistics refreshed"
    );
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn counts(pool: &Pool) -> Result<(i64, i64), sqlx::Error> {
    const SQL: &str = "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM persons)";
    Ok(match pool {
        Pool::Sqlite(p) => sqlx::query_as(SQL).fetch_one(p).await?,
        Pool::Postgres(p) => sqlx::query_as(SQL).fetch_one(p).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::is_kvk;
    use crate::grants::Register;

    fn small() -> GenerateSpec {
        GenerateSpec {
            organisations: 200,
            persons: 600,
            grants: 2_000,
            seed: 7,
            now: "2026-11-22T10:00:00Z".parse().unwrap(),
        }
    }

    async fn generated(dir: &tempfile::TempDir, name: &str) -> (SqlRegister, GenerateReport) {
        let path = dir.path().join(name);
        let register = SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap();
        let report = generate(&register, &small()).await.unwrap();
        (register, report)
    }

    /// Every row of every generated table, as text, in a fixed order.
    async fn dump(register: &SqlRegister) -> Vec<String> {
        let Pool::Sqlite(pool) = register.pool() else {
            unreachable!()
        };
        let mut out = Vec::new();
        for table in [
            "organisations",
            "persons",
            "identity_links",
            "memberships",
            "membership_roles",
            "groups",
            "group_members",
            "grants",
        ] {
            let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            let row = columns
                .iter()
                .map(|c| format!("quote({c})"))
                .collect::<Vec<_>>()
                .join(" || ',' || ");
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT '{table}:' || {row} FROM {table} ORDER BY 1"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            out.extend(rows);
        }
        out
    }

    #[test]
    fn rsins_pass_the_eleven_test_and_prefixes_are_kept() {
        let mut made = 0;
        for prefix in 10_000_000..10_001_000 {
            if let Some(rsin) = rsin_from_prefix(prefix) {
                assert!(is_rsin(&rsin), "{rsin}");
                assert!(rsin.starts_with(&prefix.to_string()));
                made += 1;
            }
        }
        assert!(made > 880, "{made} of 1000 prefixes");
    }

    #[test]
    fn permutations_are_bijections() {
        let mut rng = StdRng::seed_from_u64(3);
        let p = Permutation::draw(&mut rng, 3_000);
        let mut seen = std::collections::HashSet::new();
        for i in 0..3_000 {
            assert!(seen.insert(p.at(i)));
        }
    }

    #[tokio::test]
    async fn small_register_is_as_asked_valid_and_repeatable() {
        let dir = tempfile::tempdir().unwrap();
        let (register, report) = generated(&dir, "a.db").await;
        assert_eq!(report.rows_of("organisations"), 200);
        assert_eq!(report.rows_of("persons"), 600);
        assert_eq!(report.rows_of("identity_links"), 600);
        assert_eq!(report.rows_of("grants"), 2_000);
        assert!(report.rows_of("memberships") > 600);
        assert!(report.rows_of("groups") > 0 && report.rows_of("group_members") > 0);
        for share in [
            report.memberships_blocked,
            report.group_members_blocked,
            report.grants_by_group,
            report.grants_revoked,
            report.grants_expired,
            report.grants_not_yet_valid,
            report.grants_lapsed,
        ] {
            assert!(share > 0, "{report:?}");
        }

        let Pool::Sqlite(pool) = register.pool() else {
            unreachable!()
        };
        let counted: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM persons), \
             (SELECT COUNT(*) FROM grants), \
             (SELECT COUNT(*) FROM organisations o WHERE NOT EXISTS \
                (SELECT 1 FROM memberships m WHERE m.organisation_id = o.id))",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(counted, (200, 600, 2_000, 0));
        let numbers: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT kvk, rsin FROM organisations")
                .fetch_all(pool)
                .await
                .unwrap();
        let mut kvks = std::collections::HashSet::new();
        for (kvk, rsin) in &numbers {
            assert!(is_kvk(kvk), "{kvk}");
            assert!(kvks.insert(kvk.clone()), "duplicate KvK {kvk}");
            if let Some(rsin) = rsin {
                assert!(is_rsin(rsin), "{rsin}");
            }
        }
        assert!(numbers.iter().filter(|(_, r)| r.is_some()).count() > 150);

        // Same seed, another file: the same rows.
        let (again, _) = generated(&dir, "b.db").await;
        let first = dump(&register).await;
        assert!(first.len() > 5_000);
        assert_eq!(first, dump(&again).await);

        // A generated person logs in with their grants.
        let (person, grant): (String, String) = sqlx::query_as(
            "SELECT m.person_id, g.id FROM grants g JOIN memberships m ON m.id = g.membership_id \
             ORDER BY g.id LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        let held = register.grants_for(GENERATED_IDP, &person).await.unwrap();
        assert_eq!(held.person_id.as_deref(), Some(person.as_str()));
        assert!(held.grants.iter().any(|g| g.grant_id == grant));

        // The register is no longer empty: a second run refuses.
        assert!(matches!(
            generate(&register, &small()).await,
            Err(GenerateError::NotEmpty(200, 600))
        ));
    }
}
