//! The cache outbox: identity links whose cached grant sets a write made stale, in the database.
//!
//! With Redis, a write whose invalidation could not reach Redis leaves its links here; every
//! serving process drains them into Redis once it answers again. Without Redis (each process
//! has its own in-process cache), every write appends its links here, and each process reads
//! the rows it has not seen before it serves from its cache: the database is the change feed.
//!
//! Rows are kept for [`RETENTION`] at least, far longer than any cache entry lives, so a
//! process that reads the feed late has nothing cached that a pruned row could concern.

use super::db::{sql, On, Pool};
use super::read::people::HOLDERS_OF_GRANT;
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
    let mut tx = pool.begin().await?;
    // A feed reader must not step over an append that commits after a later one.
    On::from(&mut tx).lock_appends("cache_outbox").await?;
    for link in &links {
        sql("INSERT INTO cache_outbox (idp, subject, created_at) VALUES ($1, $2, $3)")
            .bind(&link.idp)
            .bind(&link.subject)
            .bind(now)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}

/// Rows after `after`, oldest first, at most `limit`.
pub async fn since(
    pool: &Pool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, IdentityKey)>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> =
        sql("SELECT id, idp, subject FROM cache_outbox WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, idp, subject)| (id, IdentityKey { idp, subject }))
        .collect())
}

/// The newest row's ID (0 when empty): where a process that starts with an empty cache begins
/// reading the feed.
pub async fn newest(pool: &Pool) -> Result<i64, sqlx::Error> {
    let id: Option<i64> = sql("SELECT MAX(id) FROM cache_outbox").scalar(pool).await?;
    Ok(id.unwrap_or(0))
}

/// Removes rows by ID (after they reached Redis).
pub async fn remove(pool: &Pool, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for id in ids {
        sql("DELETE FROM cache_outbox WHERE id = $1")
            .bind(*id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}

/// Removes rows older than [`RETENTION`].
pub async fn prune(pool: &Pool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    sql("DELETE FROM cache_outbox WHERE created_at < $1")
        .bind(now - RETENTION)
        .execute(pool)
        .await
}

/// How many rows wait.
pub async fn pending(pool: &Pool) -> Result<i64, sqlx::Error> {
    sql("SELECT COUNT(*) FROM cache_outbox").scalar(pool).await
}

/// Every identity link of the persons who hold this grant: its member, or every member of its
/// group. Used when a write (recording a use) changes one grant.
pub async fn holders_of_grant(
    pool: &Pool,
    grant_id: &str,
) -> Result<Vec<IdentityKey>, sqlx::Error> {
    let rows: Vec<(String, String)> = sql(HOLDERS_OF_GRANT).bind(grant_id).fetch_all(pool).await?;
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
    let changed = sql("UPDATE grants SET last_used_at = $1 \
          WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
    .bind(at)
    .bind(grant_id)
    .bind(older_than)
    .execute(pool)
    .await?;
    Ok(changed > 0)
}
