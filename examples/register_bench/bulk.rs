//! The generator's own way into the register database: a connection pool of either backend
//! and multi-row `INSERT`s, as many rows per statement as the backend's parameter limit allows,
//! inside large transactions.
//!
//! Deliberately apart from poort's register code: poort makes (and migrates) the schema, and
//! everything written here is plain SQL on the tables of `migrations/`, so the generator does
//! not depend on how poort's register is built inside.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Rows drawn before they are written; one transaction each.
const CHUNK_ROWS: usize = 200_000;
/// SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// PostgreSQL's wire protocol counts parameters in 16 bits.
const POSTGRES_MAX_PARAMS: usize = 65_535;

/// Rows written to one table and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
}

/// A register database of either backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("making the register's schema: {0}")]
    Schema(#[from] poort::grants::registry::RegistryError),
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Pool {
    /// Opens the register at `url` (`sqlite://PATH`, a bare path, or `postgres://…`), after
    /// poort has made or brought up to date its schema there.
    pub async fn open(url: &str) -> Result<Pool, OpenError> {
        poort::grants::registry::connect_database(url)
            .await?
            .close()
            .await;
        Ok(
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Pool::Postgres(PgPool::connect(url).await?)
            } else {
                let options = if url.starts_with("sqlite:") {
                    SqliteConnectOptions::from_str(url)?
                } else {
                    SqliteConnectOptions::new().filename(url)
                };
                Pool::Sqlite(SqlitePool::connect_with(options.foreign_keys(true)).await?)
            },
        )
    }

    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Organisations and persons in the register.
    pub async fn counts(&self) -> Result<(i64, i64), sqlx::Error> {
        const SQL: &str =
            "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM persons)";
        Ok(match self {
            Pool::Sqlite(p) => sqlx::query_as(SQL).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_as(SQL).fetch_one(p).await?,
        })
    }

    /// Refreshes the planner's statistics.
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        match self {
            Pool::Sqlite(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ()),
            Pool::Postgres(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ()),
        }
    }
}

/// A value bound to an INSERT parameter, the same for both backends.
pub enum Value {
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

/// A table being written: its columns and the rows drawn but not yet written.
pub struct TableWriter<'a> {
    pool: &'a Pool,
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
    rows: u64,
    elapsed: Duration,
}

impl<'a> TableWriter<'a> {
    pub fn new(pool: &'a Pool, table: &'static str, columns: &'static [&'static str]) -> Self {
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
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len());
    }

    /// Enough rows wait for a transaction of their own.
    pub fn is_full(&self) -> bool {
        self.values.len() >= CHUNK_ROWS * self.columns.len()
    }

    /// Writes every waiting row in one transaction, in statements of as many rows as the
    /// backend's parameter limit allows.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
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

    pub async fn finish(mut self) -> Result<TableReport, sqlx::Error> {
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
