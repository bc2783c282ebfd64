//! The benchmark's way into the register: rows drawn in memory, written table by table with
//! multi-row INSERTs (as many rows a statement as the backend's parameter limit allows) in one
//! transaction. Plain SQL on the tables of `migrations/`, after poort made the schema.

use crate::Error;
use chrono::{DateTime, Utc};
use poort::grants::Pool;

/// SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// PostgreSQL's wire protocol counts parameters in 16 bits.
const POSTGRES_MAX_PARAMS: usize = 65_535;

/// A value bound to an INSERT parameter, the same for both backends: text, optional text,
/// boolean, optional integer, time, optional time.
pub enum V {
    T(String),
    N(Option<String>),
    B(bool),
    I(Option<i32>),
    At(DateTime<Utc>),
    NAt(Option<DateTime<Utc>>),
}

/// Text.
pub fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

/// Optional text.
pub fn n(s: Option<impl Into<String>>) -> V {
    V::N(s.map(Into::into))
}

/// A table's rows, drawn but not yet written.
pub struct Table {
    pub name: &'static str,
    columns: &'static [&'static str],
    values: Vec<V>,
}

impl Table {
    pub fn new(name: &'static str, columns: &'static [&'static str]) -> Table {
        Table {
            name,
            columns,
            values: Vec::new(),
        }
    }

    pub fn row<const W: usize>(&mut self, row: [V; W]) {
        assert_eq!(W, self.columns.len(), "a row of {}", self.name);
        self.values.extend(row);
    }

    pub fn rows(&self) -> usize {
        self.values.len() / self.columns.len()
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows: `$n` for PostgreSQL, `?` for
/// SQLite (which looks named parameters up by a linear scan).
fn insert_sql(table: &str, columns: &[&str], rows: usize, numbered: bool) -> String {
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut mark = 1;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push_str(&format!("${mark}"));
                mark += 1;
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Writes the tables in order, in one transaction.
pub async fn write(pool: &Pool, tables: Vec<Table>) -> Result<(), Error> {
    macro_rules! write_all {
        ($pool:expr, $max:expr, $numbered:expr) => {{
            let mut tx = $pool.begin().await?;
            for table in tables {
                let width = table.columns.len();
                let per_statement = ($max / width).max(1);
                let mut left = table.rows();
                let mut values = table.values.into_iter();
                while left > 0 {
                    let rows = left.min(per_statement);
                    let text = insert_sql(table.name, table.columns, rows, $numbered);
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
                    for value in values.by_ref().take(rows * width) {
                        query = match value {
                            V::T(v) => query.bind(v),
                            V::N(v) => query.bind(v),
                            V::B(v) => query.bind(v),
                            V::I(v) => query.bind(v),
                            V::At(v) => query.bind(v),
                            V::NAt(v) => query.bind(v),
                        };
                    }
                    query.execute(&mut *tx).await?;
                    left -= rows;
                }
            }
            tx.commit().await?;
        }};
    }
    match pool {
        Pool::Sqlite(p) => write_all!(p, SQLITE_MAX_PARAMS, false),
        Pool::Postgres(p) => write_all!(p, POSTGRES_MAX_PARAMS, true),
    }
    Ok(())
}
