//! The persistent register: SQLite (a file, the embedded default) or PostgreSQL (by URL).
//!
//! Both backends share the schema in `migrations/sqlite` and `migrations/postgres` (kept in
//! step by hand) and the SQL text below: `$1`-style parameters, which both read. Queries are
//! checked at run time (`sqlx::query`), so building needs no database.

use super::db::{sql, Pool, Sql};
use super::file::{GrantsFile, GrantsFileError};
use super::migrations::{self, Backend};
use super::{Register, RegisterError};
use crate::domain::grant::{
    GrantStatus, HeldGrant, Organisation, PersonGrants, Role, Scope, UnknownRole,
};
use crate::domain::level::Level;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
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
    #[error("no organisation with KvK number {0}")]
    UnknownOrganisation(String),
    #[error("no group {0}")]
    UnknownGroup(String),
    #[error("person {person} is not a member of the organisation of group {group}")]
    NotAMember { person: String, group: String },
}

/// A grant to be held by a group: active and never used when added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: String,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// How long a statement waits for a connection: a database that is away makes a write fail
/// with a clear error in seconds, well within a request's time, instead of hanging on.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
        // A local file does not drop connections: no ping before every use (a thread hop each).
        let pool = SqlitePoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        migrations::run(Backend::Sqlite, &SQLITE_MIGRATOR, &pool).await?;
        Ok(SqlRegister {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Connects to PostgreSQL at `url` and brings its schema up to date.
    pub async fn connect_postgres(url: &str) -> Result<SqlRegister, SqlRegisterError> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        migrations::run(Backend::Postgres, &POSTGRES_MIGRATOR, &pool).await?;
        Ok(SqlRegister {
            pool: Pool::Postgres(pool),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sql("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await
    }

    /// Writes a grants file into the register in one transaction: everything or nothing.
    /// The file is validated first; rows that already exist (same KvK, person ID, identity
    /// link, membership or grant ID) make the whole import fail.
    pub async fn import(&self, file: &GrantsFile) -> Result<(), SqlRegisterError> {
        file.validate()?;
        let statements = import_statements(file, Utc::now())?;
        let mut tx = self.pool.begin().await?;
        for statement in statements {
            statement.execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a group to the organisation with this KvK number; its new ID.
    pub async fn add_group(&self, kvk: &str, name: &str) -> Result<String, SqlRegisterError> {
        let id = uuid::Uuid::new_v4().to_string();
        let added = sql(
            "INSERT INTO groups (id, organisation_id, name, created_at) \
                      SELECT $1, o.id, $2, $3 FROM organisations o WHERE o.kvk = $4",
        )
        .bind(&id)
        .bind(name)
        .bind(Utc::now())
        .bind(kvk)
        .execute(&self.pool)
        .await?;
        if added == 0 {
            return Err(SqlRegisterError::UnknownOrganisation(kvk.to_string()));
        }
        Ok(id)
    }

    /// Puts the person's membership of the group's organisation in the group; `blocked`
    /// suspends them for this group only.
    pub async fn add_group_member(
        &self,
        group: &str,
        person: &str,
        blocked: bool,
    ) -> Result<(), SqlRegisterError> {
        let added = sql(
            "INSERT INTO group_members (membership_id, group_id, organisation_id, blocked) \
                      SELECT m.id, g.id, g.organisation_id, $3 FROM groups g \
                      JOIN memberships m ON m.organisation_id = g.organisation_id \
                       AND m.person_id = $2 \
                      WHERE g.id = $1",
        )
        .bind(group)
        .bind(person)
        .bind(blocked)
        .execute(&self.pool)
        .await?;
        if added == 0 {
            return Err(SqlRegisterError::NotAMember {
                person: person.to_string(),
                group: group.to_string(),
            });
        }
        Ok(())
    }

    /// Adds a grant held by the group, for the group's organisation.
    pub async fn add_group_grant(
        &self,
        group: &str,
        grant: &NewGrant,
    ) -> Result<(), SqlRegisterError> {
        let (kind, provider, uuid) = scope_columns(&grant.scope);
        let added = sql(
            "INSERT INTO grants (id, organisation_id, group_id, scope_kind, provider, \
                      service_uuid, level, valid_from, valid_until, status, created_at) \
                      SELECT $1, g.organisation_id, g.id, $2, $3, $4, $5, $6, $7, 'active', $8 \
                      FROM groups g WHERE g.id = $9",
        )
        .bind(&grant.id)
        .bind(kind.to_string())
        .bind(provider)
        .bind(uuid)
        .bind(grant.level.to_string())
        .bind(grant.valid_from)
        .bind(grant.valid_until)
        .bind(Utc::now())
        .bind(group)
        .execute(&self.pool)
        .await?;
        if added == 0 {
            return Err(SqlRegisterError::UnknownGroup(group.to_string()));
        }
        Ok(())
    }

    /// Blocks or unblocks the person in the whole organisation with this KvK number.
    pub async fn set_membership_blocked(
        &self,
        person: &str,
        kvk: &str,
        blocked: bool,
    ) -> Result<(), SqlRegisterError> {
        let changed = sql("UPDATE memberships SET blocked = $1 WHERE person_id = $2 \
                      AND organisation_id = (SELECT id FROM organisations WHERE kvk = $3)")
        .bind(blocked)
        .bind(person)
        .bind(kvk)
        .execute(&self.pool)
        .await?;
        if changed == 0 {
            return Err(SqlRegisterError::UnknownOrganisation(kvk.to_string()));
        }
        Ok(())
    }

    async fn lookup(&self, idp: &str, subject: &str) -> Result<PersonGrants, SqlRegisterError> {
        // Three queries on one connection: the login path's round trips.
        let mut conn = self.pool.acquire().await?;
        let person: Option<String> = sql(PERSON_SQL)
            .bind(idp)
            .bind(subject)
            .scalar_optional(&mut conn)
            .await?;
        let Some(person) = person else {
            return Ok(PersonGrants::default());
        };
        let rows: Vec<GrantRow> = sql(GRANTS_SQL).bind(&person).fetch_all(&mut conn).await?;
        let roles: Vec<(String, String)> =
            sql(ROLES_SQL).bind(&person).fetch_all(&mut conn).await?;
        drop(conn);

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

pub(super) fn corrupt(what: String) -> SqlRegisterError {
    SqlRegisterError::Database(sqlx::Error::Protocol(what))
}

/// A role as the register stores it; an unknown one is a corrupt row.
pub(super) fn parse_role(text: &str) -> Result<Role, SqlRegisterError> {
    text.parse()
        .map_err(|e: UnknownRole| corrupt(e.to_string()))
}

impl GrantRow {
    fn into_held(self, roles: Vec<Role>) -> Result<HeldGrant, SqlRegisterError> {
        let kind = self.scope_kind;
        let Some(scope) = scope_from_columns(&kind, self.provider, self.service_uuid) else {
            return Err(corrupt(format!(
                "grant {}: inconsistent scope {kind:?}",
                self.grant_id
            )));
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

pub(super) fn scope_columns(scope: &Scope) -> (&'static str, Option<String>, Option<String>) {
    match scope {
        Scope::AllServices => ("all_services", None, None),
        Scope::Provider { provider } => ("provider", Some(provider.clone()), None),
        Scope::Service { uuid } => ("service", None, Some(uuid.clone())),
    }
}

/// A scope as stored (kind, provider, service), back: the inverse of [`scope_columns`];
/// `None` for columns that do not agree (a corrupt row).
pub(super) fn scope_from_columns(
    kind: &str,
    provider: Option<String>,
    service: Option<String>,
) -> Option<Scope> {
    match (kind, provider, service) {
        ("all_services", None, None) => Some(Scope::AllServices),
        ("provider", Some(provider), None) => Some(Scope::Provider { provider }),
        ("service", None, Some(uuid)) => Some(Scope::Service { uuid }),
        _ => None,
    }
}

pub(super) fn status_text(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Active => "active",
        GrantStatus::Revoked => "revoked",
    }
}

/// The statements that write a (validated) grants file, in dependency order.
fn import_statements(
    file: &GrantsFile,
    now: DateTime<Utc>,
) -> Result<Vec<Sql<'static>>, SqlRegisterError> {
    // `validate` guarantees every reference resolves; an error keeps this free of panics anyway.
    let unresolved = |what: String| corrupt(format!("grants file: unresolved {what}"));
    let mut out = Vec::new();
    let mut organisation_ids = HashMap::new();
    for org in &file.organisations {
        let id = uuid::Uuid::new_v4().to_string();
        organisation_ids.insert(org.kvk.as_str(), id.clone());
        out.push(
            sql(
                "INSERT INTO organisations (id, kvk, rsin, name, created_at, activated_at) \
                  VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id)
            .bind(org.kvk.clone())
            .bind(org.rsin.clone())
            .bind(org.name.clone())
            .bind(now),
        );
    }
    for person in &file.persons {
        out.push(
            sql("INSERT INTO persons (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
                .bind(person.id.clone())
                .bind(person.name.clone())
                .bind(person.email.clone())
                .bind(now),
        );
        for link in &person.links {
            out.push(
                sql(
                    "INSERT INTO identity_links (idp, subject, person_id, created_at) \
                      VALUES ($1, $2, $3, $4)",
                )
                .bind(link.idp.clone())
                .bind(link.subject.clone())
                .bind(person.id.clone())
                .bind(now),
            );
        }
    }
    let mut membership_ids = HashMap::new();
    for m in &file.memberships {
        let id = uuid::Uuid::new_v4().to_string();
        let organisation = organisation_ids
            .get(m.organisation.as_str())
            .ok_or_else(|| unresolved(format!("organisation {}", m.organisation)))?
            .clone();
        membership_ids.insert((m.person.as_str(), m.organisation.as_str()), id.clone());
        out.push(
            sql(
                "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
                  VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.clone())
            .bind(m.person.clone())
            .bind(organisation)
            .bind(m.blocked)
            .bind(now),
        );
        for role in &m.roles {
            out.push(
                sql(
                    "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
                      ON CONFLICT DO NOTHING",
                )
                .bind(id.clone())
                .bind(role.as_str()),
            );
        }
    }
    for g in &file.grants {
        let (kind, provider, uuid) = scope_columns(&g.scope);
        let organisation = organisation_ids
            .get(g.organisation.as_str())
            .ok_or_else(|| unresolved(format!("organisation of grant {}", g.id)))?;
        let membership = membership_ids
            .get(&(g.person.as_str(), g.organisation.as_str()))
            .ok_or_else(|| unresolved(format!("membership of grant {}", g.id)))?;
        out.push(
            sql(
                "INSERT INTO grants (id, organisation_id, membership_id, scope_kind, provider, \
                  service_uuid, level, valid_from, valid_until, status, created_by, created_at, \
                  last_used_at) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(g.id.clone())
            .bind(organisation.clone())
            .bind(membership.clone())
            .bind(kind.to_string())
            .bind(provider)
            .bind(uuid)
            .bind(g.level.to_string())
            .bind(g.valid_from)
            .bind(g.valid_until)
            .bind(status_text(g.status).to_string())
            .bind("import".to_string())
            .bind(now)
            .bind(g.last_used_at),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::conformance;

    async fn seeded(dir: &tempfile::TempDir) -> SqlRegister {
        let path = dir.path().join("data/register.db");
        let register = SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap();
        register.import(&conformance::dev_file()).await.unwrap();
        register
    }

    #[tokio::test]
    async fn sqlite_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let register = seeded(&dir).await;
        conformance::dev_file_register(&register).await;
        conformance::sql_import_is_all_or_nothing(&register).await;
        conformance::sql_groups(&register).await;
    }

    #[tokio::test]
    async fn sqlite_file_survives_reopening_and_migrations_run_once() {
        let dir = tempfile::tempdir().unwrap();
        seeded(&dir).await.close().await;
        let url = format!("sqlite://{}", dir.path().join("data/register.db").display());
        let register = SqlRegister::connect_sqlite(&url).await.unwrap();
        conformance::dev_file_register(&register).await;
    }

    #[tokio::test]
    async fn schema_refuses_what_the_rules_forbid() {
        let dir = tempfile::tempdir().unwrap();
        let register = seeded(&dir).await;
        let Pool::Sqlite(pool) = register.pool() else {
            unreachable!()
        };
        let org: String = sqlx::query_scalar("SELECT id FROM organisations WHERE kvk = '12345678'")
            .fetch_one(pool)
            .await
            .unwrap();
        let insert = |membership: Option<String>,
                      group: Option<&'static str>,
                      from: &'static str,
                      until: &'static str| {
            sqlx::query(
                "INSERT INTO grants (id, organisation_id, membership_id, group_id, scope_kind, \
                 level, valid_from, valid_until, status, created_at) \
                 VALUES ($1, $2, $3, $4, 'all_services', 'EH3', $5, $6, 'active', $5)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(org.clone())
            .bind(membership)
            .bind(group)
            .bind(from)
            .bind(until)
            .execute(pool)
        };
        let from = "2026-01-01T00:00:00+00:00";
        // Neither holder, both holders, ending before it starts, over five years.
        assert!(insert(None, None, from, "2027-01-01T00:00:00+00:00")
            .await
            .is_err());
        assert!(insert(
            Some("x".to_string()),
            Some("y"),
            from,
            "2027-01-01T00:00:00+00:00"
        )
        .await
        .is_err());
        let membership: String = sqlx::query_scalar(
            "SELECT id FROM memberships WHERE person_id = 'anna' AND organisation_id = $1",
        )
        .bind(org.clone())
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(insert(
            Some(membership.clone()),
            None,
            from,
            "2025-12-31T00:00:00+00:00"
        )
        .await
        .is_err());
        assert!(insert(
            Some(membership.clone()),
            None,
            from,
            "2031-01-02T00:00:00+00:00"
        )
        .await
        .is_err());
        insert(
            Some(membership.clone()),
            None,
            from,
            "2031-01-01T00:00:00+00:00",
        )
        .await
        .unwrap();
        // A bad KvK number.
        assert!(sqlx::query(
            "INSERT INTO organisations (id, kvk, name, created_at) VALUES ('o', '1234567', 'X', 'now')"
        )
        .execute(pool)
        .await
        .is_err());
        // The audit trail is append-only.
        sqlx::query(
            "INSERT INTO audit (at, actor, action) VALUES ('2026-11-22T00:00:00Z', 'test', 'x')",
        )
        .execute(pool)
        .await
        .unwrap();
        assert!(sqlx::query("UPDATE audit SET action = 'y'")
            .execute(pool)
            .await
            .is_err());
        assert!(sqlx::query("DELETE FROM audit")
            .execute(pool)
            .await
            .is_err());
    }
}
