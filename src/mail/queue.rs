//! The `mail_outbox` table: mails waiting to be sent, claimed by one worker at a time.
//!
//! A worker claims one due message by setting `claimed_by` / `claimed_until` in a single
//! statement that only one worker can win: on PostgreSQL the candidate row is picked `FOR UPDATE
//! SKIP LOCKED` (another worker takes the next one instead of waiting), on SQLite the statement
//! runs under the database's single writer lock. A claim that outlives its worker (a crash)
//! expires at `claimed_until`, after which another worker may take the message again: delivery
//! is at least once, and twice only when a process dies between sending and recording it.

use super::Mail;
use crate::grants::db::{sql, Args, Pool, Sql, Tx};
use chrono::{DateTime, TimeDelta, Utc};

/// Sent messages are deleted this long after they went (they keep no recipient or body).
pub const KEEP_SENT: TimeDelta = TimeDelta::days(7);
/// Failed messages are deleted this long after they were given up.
pub const KEEP_FAILED: TimeDelta = TimeDelta::days(30);

const INSERT: &str = "\
INSERT INTO mail_outbox (recipient, recipient_name, subject, body, created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";

/// Queues a mail; its row id.
pub(super) async fn enqueue(
    pool: &Pool,
    mail: &Mail,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    insert(mail, now).scalar(pool).await
}

/// Queues a mail inside the caller's transaction; its row id. The address is the caller's to
/// have checked ([`crate::grants::is_email_address`]); one that does not parse fails at once.
pub async fn enqueue_in(tx: &mut Tx, mail: &Mail, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    insert(mail, now).scalar(tx).await
}

fn insert(mail: &Mail, now: DateTime<Utc>) -> Sql<'_> {
    sql(INSERT)
        .bind(&mail.to)
        .bind(&mail.to_name)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(now)
}

/// Attempts as the column holds them.
fn count(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

/// A claimed message, as the worker sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub mail: Mail,
    /// Attempts before this one.
    pub attempts: u32,
}

type ClaimedRow = (i64, String, Option<String>, String, String, i32);

/// Whether a message is due at `$3`: still to send, its time come, not claimed by anyone now.
const DUE: &str = "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $3 \
     AND (claimed_until IS NULL OR claimed_until <= $3)";

/// Claims the oldest due message for `holder` until `until`; `None` when nothing is due.
pub(super) async fn claim(
    pool: &Pool,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<OutboxRow>, sqlx::Error> {
    // The oldest due message, with the backend's row lock on the candidate: `$1` holder, `$2`
    // claimed until, `$3` now.
    let claim = format!(
        "UPDATE mail_outbox SET claimed_by = $1, claimed_until = $2 \
          WHERE id = (SELECT id FROM mail_outbox WHERE {DUE} ORDER BY id LIMIT 1{}) AND {DUE} \
          RETURNING id, recipient, recipient_name, subject, body, attempts",
        pool.skip_locked()
    );
    let row: Option<ClaimedRow> = Sql::assembled(claim, Args::default())
        .bind(holder)
        .bind(until)
        .bind(now)
        .fetch_optional(pool)
        .await?;
    Ok(
        row.map(|(id, to, to_name, subject, body, attempts)| OutboxRow {
            id,
            mail: Mail {
                to_name,
                to,
                subject,
                body,
            },
            attempts: u32::try_from(attempts).unwrap_or(0),
        }),
    )
}

/// The message went: recorded, and its recipient and body are dropped.
pub(super) async fn mark_sent(
    pool: &Pool,
    id: i64,
    attempts: u32,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sql(
        "UPDATE mail_outbox SET sent_at = $1, attempts = $2, last_error = NULL, \
                claimed_by = NULL, claimed_until = NULL, recipient = '', recipient_name = NULL, \
                body = '' \
          WHERE id = $3 AND sent_at IS NULL",
    )
    .bind(now)
    .bind(count(attempts))
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ())
}

/// The attempt failed: tried again at `next`. False when the claim was no longer this holder's.
pub(super) async fn mark_retry(
    pool: &Pool,
    id: i64,
    holder: &str,
    attempts: u32,
    error: &str,
    next: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    const RETRY: &str = "UPDATE mail_outbox SET attempts = $1, last_error = $2, \
                                next_attempt_at = $3, claimed_by = NULL, claimed_until = NULL \
                          WHERE id = $4 AND claimed_by = $5 AND sent_at IS NULL";
    unclaim(pool, RETRY, id, holder, attempts, error, next).await
}

/// The message is given up: its body (perhaps an invitation link) is dropped; the recipient
/// stays for an operator who looks the row up by its id.
pub(super) async fn mark_failed(
    pool: &Pool,
    id: i64,
    holder: &str,
    attempts: u32,
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    const GIVE_UP: &str = "UPDATE mail_outbox SET attempts = $1, last_error = $2, failed_at = $3, \
                                  claimed_by = NULL, claimed_until = NULL, body = '' \
                            WHERE id = $4 AND claimed_by = $5 AND sent_at IS NULL";
    unclaim(pool, GIVE_UP, id, holder, attempts, error, now).await
}

/// Records a failed attempt with `statement` (`$1` attempts, `$2` error, `$3` time, `$4` id, `$5`
/// holder) and ends the claim; false when the claim was no longer this holder's.
async fn unclaim(
    pool: &Pool,
    statement: &'static str,
    id: i64,
    holder: &str,
    attempts: u32,
    error: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let changed = sql(statement)
        .bind(count(attempts))
        .bind(error)
        .bind(at)
        .bind(id)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(changed > 0)
}

/// Deletes sent and failed messages past their keeping time.
pub(super) async fn prune(pool: &Pool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    sql("DELETE FROM mail_outbox WHERE sent_at < $1 OR failed_at < $2")
        .bind(now - KEEP_SENT)
        .bind(now - KEEP_FAILED)
        .execute(pool)
        .await
}

/// How many messages wait (due or scheduled for another attempt), and how many were given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub queued: i64,
    pub failed: i64,
}

pub(super) async fn counts(pool: &Pool) -> Result<OutboxCounts, sqlx::Error> {
    let (queued, failed): (i64, i64) = sql(
        "SELECT COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
           FROM mail_outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok(OutboxCounts { queued, failed })
}

/// [`OutboxCounts::queued`] alone, counted in the index of messages still to send (the worker's
/// gauge, every round) rather than over every row kept.
pub(super) async fn queued(pool: &Pool) -> Result<i64, sqlx::Error> {
    sql("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        .scalar(pool)
        .await
}
