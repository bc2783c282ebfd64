//! Bringing a register's schema up to date, including registers made by an earlier release.
//!
//! sqlx records a checksum of each migration's text and refuses to start when a migration that
//! was applied has changed since. A migration's SQL never changes once released; but a comment in
//! one did (it pointed to a design file that is not in the repository). A register made with the
//! released text has its recorded checksum moved to today's text, and only when the recorded one
//! is exactly the released text's: any other difference is still refused by sqlx.

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

/// A migration whose text changed after release in its comment only: its version and the line
/// that stood where today's first line stands.
struct ReleasedFirstLine {
    version: i64,
    line: &'static str,
}

const SQLITE_RELEASED: &[ReleasedFirstLine] = &[ReleasedFirstLine {
    version: 20261122000000,
    line: "-- The register (DESIGN.md, \"Grants\"). Timestamps are UTC, stored as RFC 3339 text.",
}];

const POSTGRES_RELEASED: &[ReleasedFirstLine] = &[ReleasedFirstLine {
    version: 20261122000000,
    line: "-- The register (DESIGN.md, \"Grants\"). Timestamps are UTC (timestamptz).",
}];

/// Which backend's migrations: each has its own files and its own released texts.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn released(self) -> &'static [ReleasedFirstLine] {
        match self {
            Backend::Sqlite => SQLITE_RELEASED,
            Backend::Postgres => POSTGRES_RELEASED,
        }
    }
}

/// The released text of `migration` whose first line was `first_line`.
fn released_text(sql: &str, first_line: &str) -> String {
    match sql.split_once('\n') {
        Some((_, rest)) => format!("{first_line}\n{rest}"),
        None => first_line.to_string(),
    }
}

/// Applies `migrator` to the database behind `pool`, first accepting the released texts of
/// migrations whose comments changed since.
pub async fn run<DB>(
    backend: Backend,
    migrator: &Migrator,
    pool: &sqlx::Pool<DB>,
) -> Result<(), MigrateError>
where
    DB: Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments: IntoArguments<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table(&migrator.table_name).await?;
    for released in backend.released() {
        let Some(migration) = migrator
            .iter()
            .find(|m| m.version == released.version && m.migration_type.is_up_migration())
        else {
            continue;
        };
        let old =
            openssl::sha::sha384(released_text(migration.sql.as_str(), released.line).as_bytes());
        // The table name is sqlx's own default (or a name set in code), never outside input.
        let statement = format!(
            "UPDATE {} SET checksum = $1 WHERE version = $2 AND checksum = $3",
            migrator.table_name
        );
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(migration.checksum.to_vec())
            .bind(released.version)
            .bind(old.to_vec())
            .execute(&mut *conn)
            .await?;
    }
    drop(conn);
    migrator.run(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_released_text_differs_from_todays_in_its_first_line_only() {
        let today = "-- today\nCREATE TABLE t (x INT);\n";
        assert_eq!(
            released_text(today, "-- then"),
            "-- then\nCREATE TABLE t (x INT);\n"
        );
    }
}
