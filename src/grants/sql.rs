//! The persistent register: SQLite (a file, the embedded default) or PostgreSQL (by URL).
//!
//! Both backends share the schema in `migrations/sqlite` and `migrations/postgres` (kept in
//! step by hand) and the SQL text below: `$1`-style parameters, which both read. Queries are
//! checked at run time (`sqlx::query`), so building needs no database.

use super::file::{GrantsFile, GrantsFileError};
use super::model::{GrantStatus, HeldGrant, Organisation, PersonGrants, Role, Scope};
use super::{Register, RegisterError};
use crate::level::Level;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum SqlRegisterError {
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("register migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the directory of the register database {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] GrantsFileError),
}

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A register kept in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlRegister {
    pool: Pool,
}

impl SqlRegister {
    /// Opens (creating it and its directory when missing) the SQLite database at `path_or_url`
    /// (`data/register.db` or `sqlite://data/register.db`) and brings its schema up to date.
    pub async fn connect_sqlite(path_or_url: &str) -> Result<SqlRegister, SqlRegisterError> {
        let options = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url)?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal);
        let file = options.get_filename();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            if file != Path::new(":memory:") {
                std::fs::create_dir_all(dir).map_err(|source| SqlRegisterError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        let pool = SqlitePoolOptions::new().connect_with(options).await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(SqlRegister {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Connects to PostgreSQL at `url` and brings its schema up to date.
    pub async fn connect_postgres(url: &str) -> Result<SqlRegister, SqlRegisterError> {
        let pool = PgPoolOptions::new().connect(url).await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(SqlRegister {
            pool: Pool::Postgres(pool),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Writes a grants file into the register in one transaction: everything or nothing.
    /// The file is validated first; rows that already exist (same KvK, person ID, identity
    /// link, membership or grant ID) make the whole import fail.
    pub async fn import(&self, file: &GrantsFile) -> Result<(), SqlRegisterError> {
        file.validate()?;
        let statements = import_statements(file, Utc::now());
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for stmt in &statements {
                    let mut query = sqlx::query(stmt.sql);
                    for arg in &stmt.args {
                        query = match arg {
                            Arg::Text(v) => query.bind(v.clone()),
                            Arg::OptText(v) => query.bind(v.clone()),
                            Arg::Bool(v) => query.bind(*v),
                            Arg::Time(v) => query.bind(*v),
                            Arg::OptTime(v) => query.bind(*v),
                        };
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for stmt in &statements {
                    let mut query = sqlx::query(stmt.sql);
                    for arg in &stmt.args {
                        query = match arg {
                            Arg::Text(v) => query.bind(v.clone()),
                            Arg::OptText(v) => query.bind(v.clone()),
                            Arg::Bool(v) => query.bind(*v),
                            Arg::Time(v) => query.bind(*v),
                            Arg::OptTime(v) => query.bind(*v),
                        };
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn lookup(&self, idp: &str, subject: &str) -> Result<PersonGrants, SqlRegisterError> {
        let (person, rows, roles) = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let person: Option<String> = sqlx::query_scalar(PERSON_SQL)
                    .bind(idp)
                    .bind(subject)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(person) = person else {
                    return Ok(PersonGrants::default());
                };
                let rows: Vec<GrantRow> = sqlx::query_as(GRANTS_SQL)
                    .bind(&person)
                    .fetch_all(&mut *conn)
                    .await?;
                let roles: Vec<(String, String)> = sqlx::query_as(ROLES_SQL)
                    .bind(&person)
                    .fetch_all(&mut *conn)
                    .await?;
                (person, rows, roles)
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let person: Option<String> = sqlx::query_scalar(PERSON_SQL)
                    .bind(idp)
                    .bind(subject)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(person) = person else {
                    return Ok(PersonGrants::default());
                };
                let rows: Vec<GrantRow> = sqlx::query_as(GRANTS_SQL)
                    .bind(&person)
                    .fetch_all(&mut *conn)
                    .await?;
                let roles: Vec<(String, String)> = sqlx::query_as(ROLES_SQL)
                    .bind(&person)
                    .fetch_all(&mut *conn)
                    .await?;
                (person, rows, roles)
            }
        };

        let mut by_membership: HashMap<String, Vec<Role>> = HashMap::new();
        for (membership, role) in roles {
            by_membership
                .entry(membership)
                .or_default()
                .push(parse_role(&role)?);
        }
        for roles in by_membership.values_mut() {
            roles.sort_by_key(|r| *r as u8);
        }
        let grants = rows
            .into_iter()
            .map(|row| {
                let roles = by_membership
                    .get(&row.membership_id)
                    .cloned()
                    .unwrap_or_default();
                row.into_held(roles)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PersonGrants {
            person_id: Some(person),
            grants,
        })
    }
}

#[async_trait]
impl Register for SqlRegister {
    async fn grants_for(&self, idp: &str, subject: &str) -> Result<PersonGrants, RegisterError> {
        self.lookup(idp, subject)
            .await
            .map_err(|e| RegisterError::Unavailable(e.to_string()))
    }
}

const PERSON_SQL: &str = "SELECT person_id FROM identity_links WHERE idp = $1 AND subject = $2";

/// Grants held through the person's memberships, then through the groups of those memberships.
/// A group grant is suspended when the membership is blocked in the organisation or the group.
const GRANTS_SQL: &str = "\
SELECT g.id AS grant_id, o.kvk, o.rsin, o.name AS organisation_name,
       g.scope_kind, g.provider, g.service_uuid, g.level, g.valid_from, g.valid_until, g.status,
       g.last_used_at, m.id AS membership_id, m.blocked AS holder_blocked
  FROM memberships m
  JOIN organisations o ON o.id = m.organisation_id
  JOIN grants g ON g.membership_id = m.id
 WHERE m.person_id = $1
UNION ALL
SELECT g.id AS grant_id, o.kvk, o.rsin, o.name AS organisation_name,
       g.scope_kind, g.provider, g.service_uuid, g.level, g.valid_from, g.valid_until, g.status,
       g.last_used_at, m.id AS membership_id, (m.blocked OR gm.blocked) AS holder_blocked
  FROM memberships m
  JOIN organisations o ON o.id = m.organisation_id
  JOIN group_members gm ON gm.membership_id = m.id
  JOIN grants g ON g.group_id = gm.group_id
 WHERE m.person_id = $1
 ORDER BY grant_id";

const ROLES_SQL: &str = "\
SELECT r.membership_id, r.role
  FROM membership_roles r
  JOIN memberships m ON m.id = r.membership_id
 WHERE m.person_id = $1";

#[derive(Debug, sqlx::FromRow)]
struct GrantRow {
    grant_id: String,
    kvk: String,
    rsin: Option<String>,
    organisation_name: String,
    scope_kind: String,
    provider: Option<String>,
    service_uuid: Option<String>,
    level: String,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    status: String,
    last_used_at: Option<DateTime<Utc>>,
    membership_id: String,
    holder_blocked: bool,
}

fn corrupt(what: String) -> SqlRegisterError {
    SqlRegisterError::Database(sqlx::Error::Protocol(what))
}

fn parse_role(text: &str) -> Result<Role, SqlRegisterError> {
    Ok(match text {
        "hoofdbeheerder" => Role::Hoofdbeheerder,
        "beheerder" => Role::Beheerder,
        "groepsbeheerder" => Role::Groepsbeheerder,
        "gebruiker" => Role::Gebruiker,
        "lezer" => Role::Lezer,
        other => return Err(corrupt(format!("unknown role {other:?}"))),
    })
}

impl GrantRow {
    fn into_held(self, roles: Vec<Role>) -> Result<HeldGrant, SqlRegisterError> {
        let scope = match (self.scope_kind.as_str(), self.provider, self.service_uuid) {
            ("all_services", None, None) => Scope::AllServices,
            ("provider", Some(provider), None) => Scope::Provider { provider },
            ("service", None, Some(uuid)) => Scope::Service { uuid },
            (kind, _, _) => {
                return Err(corrupt(format!(
                    "grant {}: inconsistent scope {kind:?}",
                    self.grant_id
                )))
            }
        };
        let level = Level::from_str(&self.level)
            .map_err(|e| corrupt(format!("grant {}: {e}", self.grant_id)))?;
        let status = match self.status.as_str() {
            "active" => GrantStatus::Active,
            "revoked" => GrantStatus::Revoked,
            other => {
                return Err(corrupt(format!(
                    "grant {}: unknown status {other:?}",
                    self.grant_id
                )))
            }
        };
        Ok(HeldGrant {
            grant_id: self.grant_id,
            organisation: Organisation {
                kvk: self.kvk,
                rsin: self.rsin,
                name: self.organisation_name,
            },
            scope,
            level,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            status,
            holder_blocked: self.holder_blocked,
            last_used_at: self.last_used_at,
            roles,
        })
    }
}

/// A value bound to a statement parameter, the same for both backends.
enum Arg {
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

struct Statement {
    sql: &'static str,
    args: Vec<Arg>,
}

fn scope_columns(scope: &Scope) -> (&'static str, Option<String>, Option<String>) {
    match scope {
        Scope::AllServices => ("all_services", None, None),
        Scope::Provider { provider } => ("provider", Some(provider.clone()), None),
        Scope::Service { uuid } => ("service", None, Some(uuid.clone())),
    }
}

fn status_text(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Active => "active",
        GrantStatus::Revoked => "revoked",
    }
}

/// The statements that write a (validated) grants file, in dependency order.
fn import_statements(file: &GrantsFile, now: DateTime<Utc>) -> Vec<Statement> {
    use Arg::*;
    let mut out = Vec::new();
    let mut organisation_ids = HashMap::new();
    for org in &file.organisations {
        let id = uuid::Uuid::new_v4().to_string();
        organisation_ids.insert(org.kvk.as_str(), id.clone());
        out.push(Statement {
            sql: "INSERT INTO organisations (id, kvk, rsin, name, created_at) \
                  VALUES ($1, $2, $3, $4, $5)",
            args: vec![
                Text(id),
                Text(org.kvk.clone()),
                OptText(org.rsin.clone()),
                Text(org.name.clone()),
                Time(now),
            ],
        });
    }
    for person in &file.persons {
        out.push(Statement {
            sql: "INSERT INTO persons (id, name, created_at) VALUES ($1, $2, $3)",
            args: vec![Text(person.id.clone()), OptText(person.name.clone()), Time(now)],
        });
        for link in &person.links {
            out.push(Statement {
                sql: "INSERT INTO identity_links (idp, subject, person_id, created_at) \
                      VALUES ($1, $2, $3, $4)",
                args: vec![
                    Text(link.idp.clone()),
                    Text(link.subject.clone()),
                    Text(person.id.clone()),
                    Time(now),
                ],
            });
        }
    }
    let mut membership_ids = HashMap::new();
    for m in &file.memberships {
        let id = uuid::Uuid::new_v4().to_string();
        let organisation = organisation_ids[m.organisation.as_str()].clone();
        membership_ids.insert((m.person.as_str(), m.organisation.as_str()), id.clone());
        out.push(Statement {
            sql: "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
                  VALUES ($1, $2, $3, $4, $5)",
            args: vec![
                Text(id.clone()),
                Text(m.person.clone()),
                Text(organisation),
                Bool(m.blocked),
                Time(now),
            ],
        });
        for role in &m.roles {
            out.push(Statement {
                sql: "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
                      ON CONFLICT DO NOTHING",
                args: vec![Text(id.clone()), Text(role.as_str().to_string())],
            });
        }
    }
    for g in &file.grants {
        let (kind, provider, uuid) = scope_columns(&g.scope);
        out.push(Statement {
            sql: "INSERT INTO grants (id, organisation_id, membership_id, scope_kind, provider, \
                  service_uuid, level, valid_from, valid_until, status, created_by, created_at, \
                  last_used_at) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            args: vec![
                Text(g.id.clone()),
                Text(organisation_ids[g.organisation.as_str()].clone()),
                Text(membership_ids[&(g.person.as_str(), g.organisation.as_str())].clone()),
                Text(kind.to_string()),
                OptText(provider),
                OptText(uuid),
                Text(g.level.to_string()),
                Time(g.valid_from),
                Time(g.valid_until),
                Text(status_text(g.status).to_string()),
                Text("import".to_string()),
                Time(now),
                OptTime(g.last_used_at),
            ],
        });
    }
    out
}
