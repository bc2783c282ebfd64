//! The cache outbox: identity links whose cached grant sets a write made stale, in the database.
//!
//! With Redis, a write whose invalidation could not reach Redis leaves its links here; every
//! serving process drains them into Redis once it answers again. Without Redis (each process
//! has its own in-process cache), every write appends its links here, and each process reads
//! the rows it has not seen before it serves from its cache: the database is the change feed.
//!
//! Rows are kept for [`RETENTION`] at least, far longer than any cache entry lives, so a
//! process that reads the feed late has nothing cached that a pruned row could concern.

use super::sql::on_pool;
use super::sql::Pool;
use crate::domain::grant::IdentityKey;
use chrono::{DateTime, Utc};

/// How long feed rows are kept (in-process mode); must exceed the cache TTL.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Appends the links, in one transaction.
pub async fn append(
    pool: &Pool,
    links: impl IntoIterator<Item = &IdentityKey>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let links: Vec<&IdentityKey> = links.into_iter().collect();
    if links.is_empty() {
        return Ok(());
    }
    macro_rules! insert_all {
        ($tx:expr) => {
            for link in &links {
                sqlx::query(
                    "INSERT INTO cache_outbox (idp, subject, created_at) VALUES ($1, $2, $3)",
                )
                .bind(&link.idp)
                .bind(&link.subject)
                .bind(now)
                .execute(&mut *$tx)
                .await?;
            }
        };
    }
    match pool {
        // SQLite runs one writer at a time: IDs become visible in order.
        Pool::Sqlite(p) => {
            let mut tx = p.begin().await?;
            insert_all!(tx);
            tx.commit().await?;
        }
        // PostgreSQL hands out identity values before commit, so two appends could become
        // visible out of order and a feed reader could step over the earlier one. A lock that
        // conflicts with itself (not with readers) makes appends commit in ID order.
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("LOCK TABLE cache_outbox IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            insert_all!(tx);
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Rows after `after`, oldest first, at most `limit`.
pub async fn since(
    pool: &Pool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, IdentityKey)>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> = on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT id, idp, subject FROM cache_outbox WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, idp, subject)| (id, IdentityKey { idp, subject }))
        .collect())
}

/// The newest row's ID (0 when empty): where a process that starts with an empty cache begins
/// reading the feed.
pub async fn newest(pool: &Pool) -> Result<i64, sqlx::Error> {
    let id: Option<i64> = on_pool!(pool, |p| {
        sqlx::query_scalar("SELECT MAX(id) FROM cache_outbox")
            .fetch_one(p)
            .await?
    });
    Ok(id.unwrap_or(0))
}

/// Removes rows by ID (after they reached Redis).
pub async fn remove(pool: &Pool, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    on_pool!(pool, |p| {
        let mut tx = p.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM cache_outbox WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Removes rows older than [`RETENTION`].
pub async fn prune(pool: &Pool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let before = now - RETENTION;
    Ok(on_pool!(pool, |p| {
        sqlx::query("DELETE FROM cache_outbox WHERE created_at < $1")
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()
    }))
}

/// How many rows wait.
pub async fn pending(pool: &Pool) -> Result<i64, sqlx::Error> {
    Ok(on_pool!(pool, |p| {
        sqlx::query_scalar("SELECT COUNT(*) FROM cache_outbox")
            .fetch_one(p)
            .await?
    }))
}

/// Every identity link of the persons who hold this grant: its member, or every member of its
/// group. Used when a write (recording a use) changes one grant.
pub async fn holders_of_grant(
    pool: &Pool,
    grant_id: &str,
) -> Result<Vec<IdentityKey>, sqlx::Error> {
    let rows: Vec<(String, String)> = on_pool!(pool, |p| {
        sqlx::query_as(super::write::HOLDERS_OF_GRANT)
            .bind(grant_id)
            .fetch_all(p)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(idp, subject)| IdentityKey { idp, subject })
        .collect())
}

/// Sets a grant's last use to `at` when the stored one is older than `older_than` (or none):
/// day precision is enough for a 24-month rule and keeps cache invalidations rare.
pub async fn touch_last_used(
    pool: &Pool,
    grant_id: &str,
    at: DateTime<Utc>,
    older_than: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let changed = on_pool!(pool, |p| {
        sqlx::query(
            "UPDATE grants SET last_used_at = $1 \
              WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(at)
        .bind(grant_id)
        .bind(older_than)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(changed > 0)
}
