//! The register's database, whichever it is: every register query goes through here, and this is
//! the one place that knows SQLite from PostgreSQL.
//!
//! One SQL text serves both backends. Both read `$1`-style parameters ([`Args`] numbers them for
//! statements assembled from the filters in use); both take `INSERT … ON CONFLICT`, `RETURNING`,
//! `COALESCE`, `CAST(… AS BIGINT)` and `lower(…) LIKE … ESCAPE` (so no `ILIKE`); times are bound
//! as values, never computed in SQL. What still differs is said here and nowhere else:
//! - a writing transaction ([`Pool::begin_write`]): SQLite takes its write lock at the start;
//! - appends that must follow each other ([`On::exclusive`]): a PostgreSQL advisory lock, where
//!   SQLite already lets one transaction write at a time;
//! - appends that must become visible in the order of their IDs ([`On::lock_appends`]);
//! - claiming a row that another worker may be claiming ([`Pool::skip_locked`]).
//!
//! sqlx's `Any` driver would hide the two pools, but it carries no chrono times; so a statement
//! here is its text and its values ([`Arg`]), bound for whichever backend runs it.

use sqlx::encode::Encode;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::types::Type;
use sqlx::Arguments;
use sqlx::{Database, Executor, IntoArguments, Postgres, SqlStr, Sqlite};
use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    /// A transaction for reads, or for writes that need no lock before their first write.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A transaction that writes after reading. SQLite takes its write lock at once (`BEGIN
    /// IMMEDIATE`), so that another connection's commit between this transaction's first read
    /// and its first write cannot fail it; PostgreSQL locks rows as it goes.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// One connection of the pool, for several statements in a row without a transaction.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// What follows the subquery that picks a row to claim: on PostgreSQL `FOR UPDATE SKIP
    /// LOCKED` (a row another worker is claiming is passed over, not waited for); SQLite runs
    /// the whole statement under its single writer lock and needs nothing.
    pub fn skip_locked(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A transaction on either backend; dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// A connection taken from the pool.
#[derive(Debug)]
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// Where a statement runs: the pool (any free connection), or one connection, perhaps inside a
/// transaction.
#[derive(Debug)]
pub enum On<'c> {
    SqlitePool(&'c SqlitePool),
    PgPool(&'c PgPool),
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl<'c> On<'c> {
    /// The same place again, for one more statement.
    pub fn reborrow(&mut self) -> On<'_> {
        match self {
            On::SqlitePool(p) => On::SqlitePool(p),
            On::PgPool(p) => On::PgPool(p),
            On::Sqlite(c) => On::Sqlite(c),
            On::Postgres(c) => On::Postgres(c),
        }
    }

    /// Waits until no other transaction holds `key`, and holds it until this transaction ends:
    /// a PostgreSQL advisory lock. On SQLite only one transaction writes at a time, which
    /// serializes as well when the caller has written (or began with [`Pool::begin_write`]).
    pub async fn exclusive(&mut self, key: i64) -> Result<(), sqlx::Error> {
        if matches!(self, On::PgPool(_) | On::Postgres(_)) {
            sql("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(self.reborrow())
                .await?;
        }
        Ok(())
    }

    /// Makes appends to `table` commit one after another, in the order of their IDs, without
    /// blocking readers. PostgreSQL hands out identity values before commit, so two appends
    /// could become visible out of order; SQLite's single writer already orders them.
    pub async fn lock_appends(&mut self, table: &'static str) -> Result<(), sqlx::Error> {
        let lock = match table {
            "cache_outbox" => "LOCK TABLE cache_outbox IN SHARE ROW EXCLUSIVE MODE",
            // Every table that needs it is named above; SQL text is never built from input.
            _ => return Err(sqlx::Error::Protocol(format!("no append lock for {table}"))),
        };
        if matches!(self, On::PgPool(_) | On::Postgres(_)) {
            sql(lock).execute(self.reborrow()).await?;
        }
        Ok(())
    }
}

impl<'c> From<&'c Pool> for On<'c> {
    fn from(pool: &'c Pool) -> On<'c> {
        match pool {
            Pool::Sqlite(p) => On::SqlitePool(p),
            Pool::Postgres(p) => On::PgPool(p),
        }
    }
}

impl<'c> From<&'c mut Tx> for On<'c> {
    fn from(tx: &'c mut Tx) -> On<'c> {
        match tx {
            Tx::Sqlite(tx) => On::Sqlite(tx),
            Tx::Postgres(tx) => On::Postgres(tx),
        }
    }
}

impl<'c> From<&'c mut Conn> for On<'c> {
    fn from(conn: &'c mut Conn) -> On<'c> {
        match conn {
            Conn::Sqlite(c) => On::Sqlite(c),
            Conn::Postgres(c) => On::Postgres(c),
        }
    }
}

impl<'c> From<&'c mut SqliteConnection> for On<'c> {
    fn from(conn: &'c mut SqliteConnection) -> On<'c> {
        On::Sqlite(conn)
    }
}

impl<'c> From<&'c mut PgConnection> for On<'c> {
    fn from(conn: &'c mut PgConnection) -> On<'c> {
        On::Postgres(conn)
    }
}

/// A value bound to a statement parameter, the same for both backends.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Text(Cow<'a, str>),
    OptText(Option<Cow<'a, str>>),
    Bool(bool),
    Int(i32),
    OptInt(Option<i32>),
    BigInt(i64),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Cow::Borrowed(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Cow::Borrowed(v))
    }
}
impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Cow::Owned(v))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v.map(Cow::Borrowed))
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::OptText(v.as_deref().map(Cow::Borrowed))
    }
}
impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v.map(Cow::Owned))
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<i32> for Arg<'_> {
    fn from(v: i32) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<i32>> for Arg<'_> {
    fn from(v: Option<i32>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::BigInt(v)
    }
}
impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(v)
    }
}
impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::OptTime(v)
    }
}

/// The values of a statement assembled from the filters in use, numbered as they are added.
#[derive(Debug, Clone, Default)]
pub struct Args<'a>(Vec<Arg<'a>>);

impl<'a> Args<'a> {
    /// Adds a value; its placeholder (`$1`, `$2`, …) for the statement's text.
    pub fn push(&mut self, value: impl Into<Arg<'a>>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    /// Adds the values of an `IN (…)` list; the list's text, `NULL` when empty (matching nothing).
    pub fn list<V: Into<Arg<'a>>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        let marks: Vec<String> = values.into_iter().map(|v| self.push(v)).collect();
        if marks.is_empty() {
            "NULL".to_string()
        } else {
            marks.join(", ")
        }
    }
}

/// A `LIKE` pattern (escape `\`) matching `text` anywhere, case-folded: compared with
/// `lower(column) LIKE … ESCAPE '\'`, which both backends read alike.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A row type both backends decode: a tuple of column values or a `sqlx::FromRow` struct.
pub trait Row:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Row for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// A statement and its values.
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    text: SqlStr,
    args: Vec<Arg<'a>>,
}

/// A statement written out in the source.
pub fn sql<'a>(text: &'static str) -> Sql<'a> {
    Sql {
        text: sqlx::SqlSafeStr::into_sql_str(text),
        args: Vec::new(),
    }
}

/// How many rows a fetch wants.
#[derive(Debug, Clone, Copy)]
enum Want {
    All,
    Optional,
    One,
}

impl<'a> Sql<'a> {
    /// A statement assembled at run time from fixed pieces and the placeholders of `args`:
    /// every value is bound, none is written into the text.
    pub fn assembled(text: String, args: Args<'a>) -> Sql<'a> {
        Sql {
            text: sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(text)),
            args: args.0,
        }
    }

    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<Arg<'a>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Runs the statement; how many rows it changed.
    pub async fn execute<'c>(self, on: impl Into<On<'c>>) -> Result<u64, sqlx::Error> {
        let Sql { text, args } = self;
        Ok(match on.into() {
            On::SqlitePool(p) => query::<Sqlite>(text, args)?
                .execute(p)
                .await?
                .rows_affected(),
            On::PgPool(p) => query::<Postgres>(text, args)?
                .execute(p)
                .await?
                .rows_affected(),
            On::Sqlite(c) => query::<Sqlite>(text, args)?
                .execute(c)
                .await?
                .rows_affected(),
            On::Postgres(c) => query::<Postgres>(text, args)?
                .execute(c)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all<'c, T: Row>(self, on: impl Into<On<'c>>) -> Result<Vec<T>, sqlx::Error> {
        self.fetch(on.into(), Want::All).await
    }

    pub async fn fetch_optional<'c, T: Row>(
        self,
        on: impl Into<On<'c>>,
    ) -> Result<Option<T>, sqlx::Error> {
        Ok(self.fetch(on.into(), Want::Optional).await?.pop())
    }

    pub async fn fetch_one<'c, T: Row>(self, on: impl Into<On<'c>>) -> Result<T, sqlx::Error> {
        self.fetch(on.into(), Want::One)
            .await?
            .pop()
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of every row.
    pub async fn scalars<'c, T>(self, on: impl Into<On<'c>>) -> Result<Vec<T>, sqlx::Error>
    where
        (T,): Row,
    {
        let rows: Vec<(T,)> = self.fetch_all(on).await?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// The first column of the first row, if there is a row.
    pub async fn scalar_optional<'c, T>(
        self,
        on: impl Into<On<'c>>,
    ) -> Result<Option<T>, sqlx::Error>
    where
        (T,): Row,
    {
        let row: Option<(T,)> = self.fetch_optional(on).await?;
        Ok(row.map(|(v,)| v))
    }

    /// The first column of the one row the statement must return.
    pub async fn scalar<'c, T>(self, on: impl Into<On<'c>>) -> Result<T, sqlx::Error>
    where
        (T,): Row,
    {
        let (v,): (T,) = self.fetch_one(on).await?;
        Ok(v)
    }

    async fn fetch<T: Row>(self, on: On<'_>, want: Want) -> Result<Vec<T>, sqlx::Error> {
        let Sql { text, args } = self;
        match on {
            On::SqlitePool(p) => rows::<Sqlite, _, T>(p, text, args, want).await,
            On::PgPool(p) => rows::<Postgres, _, T>(p, text, args, want).await,
            On::Sqlite(c) => rows::<Sqlite, _, T>(c, text, args, want).await,
            On::Postgres(c) => rows::<Postgres, _, T>(c, text, args, want).await,
        }
    }
}

/// The statement as the backend's own query, its values bound (an encoding error surfaces when
/// it runs).
fn query<DB: Backend>(
    text: SqlStr,
    args: Vec<Arg<'_>>,
) -> Result<sqlx::query::Query<'static, DB, Bound<DB>>, sqlx::Error> {
    Ok(sqlx::query_with(text, DB::bound(args)?))
}

async fn rows<'e, DB, E, T>(
    on: E,
    text: SqlStr,
    args: Vec<Arg<'_>>,
    want: Want,
) -> Result<Vec<T>, sqlx::Error>
where
    DB: Backend,
    E: Executor<'e, Database = DB>,
    T: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
{
    let query = sqlx::query_as_with::<DB, T, _>(text, DB::bound(args)?);
    Ok(match want {
        Want::All => query.fetch_all(on).await?,
        Want::Optional => query.fetch_optional(on).await?.into_iter().collect(),
        Want::One => vec![query.fetch_one(on).await?],
    })
}

/// A backend that takes every kind of [`Arg`].
trait Backend: Database {
    fn arguments(args: Vec<Arg<'_>>) -> Result<Self::Arguments, BoxDynError>;

    fn bound(args: Vec<Arg<'_>>) -> Result<Bound<Self>, sqlx::Error> {
        Self::arguments(args)
            .map(Bound)
            .map_err(sqlx::Error::Encode)
    }
}

/// A statement's values, encoded for the backend.
struct Bound<DB: Database>(DB::Arguments);

impl<DB: Database> IntoArguments<DB> for Bound<DB> {
    fn into_arguments(self) -> DB::Arguments {
        self.0
    }
}

impl Backend for Sqlite {
    fn arguments(args: Vec<Arg<'_>>) -> Result<Self::Arguments, BoxDynError> {
        encode::<Sqlite>(args)
    }
}

impl Backend for Postgres {
    fn arguments(args: Vec<Arg<'_>>) -> Result<Self::Arguments, BoxDynError> {
        encode::<Postgres>(args)
    }
}

fn encode<DB>(args: Vec<Arg<'_>>) -> Result<<DB as Database>::Arguments, BoxDynError>
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> i32: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i32>: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<DateTime<Utc>>: Encode<'t, DB> + Type<DB>,
{
    let mut out = <DB as Database>::Arguments::default();
    for arg in &args {
        match arg {
            Arg::Text(v) => out.add(v.as_ref())?,
            Arg::OptText(v) => out.add(v.as_deref())?,
            Arg::Bool(v) => out.add(*v)?,
            Arg::Int(v) => out.add(*v)?,
            Arg::OptInt(v) => out.add(*v)?,
            Arg::BigInt(v) => out.add(*v)?,
            Arg::Time(v) => out.add(*v)?,
            Arg::OptTime(v) => out.add(*v)?,
        }
    }
    Ok(out)
}
