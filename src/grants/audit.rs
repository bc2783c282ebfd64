//! The audit trail as a hash chain: each entry stores the hash of the one before it and its own
//! hash over that and its fields, so that an edited entry (its hash no longer matches) and a
//! removed one (the next entry's `prev_hash` no longer matches) are found by [`verify`].
//!
//! The table is append-only by trigger as well; the chain is what still tells the truth when
//! someone with database rights drops the triggers. Removing the newest entries leaves a shorter
//! chain that verifies: `poort audit verify` prints the head hash and count so that operators can
//! keep them elsewhere (a log, a ticket) and compare.

use super::db::{sql, Args, On, Pool, Sql, Tx};
use async_trait::async_trait;
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry to append.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub organisation_id: Option<&'a str>,
    pub action: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// Timestamps are hashed at microseconds, the precision PostgreSQL keeps.
pub fn audit_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

/// SHA-256 over the previous hash and the fields, each length-prefixed (absent fields marked),
/// so that no two different entries share an input.
pub fn entry_hash(prev_hash: &str, e: &AuditEntry<'_>) -> String {
    let at = audit_time(e.at).to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut h = openssl::sha::Sha256::new();
    for field in [
        Some(prev_hash),
        Some(at.as_str()),
        Some(e.actor),
        e.organisation_id,
        Some(e.action),
        e.before,
        e.after,
    ] {
        match field {
            None => h.update(b"-;"),
            Some(v) => {
                h.update(format!("{}:", v.len()).as_bytes());
                h.update(v.as_bytes());
                h.update(b";");
            }
        }
    }
    hex::encode(h.finish())
}

/// Appending inside a write's transaction. Appends are serialized so that two transactions never
/// chain onto the same entry: SQLite allows one writer at a time (every write has written before
/// it audits), PostgreSQL takes a transaction-scoped advisory lock ([`On::exclusive`]).
#[async_trait]
pub trait AuditLog {
    async fn append_audit(&mut self, e: AuditEntry<'_>) -> Result<(), sqlx::Error>;
}

const LAST_HASH: &str = "SELECT hash FROM audit ORDER BY id DESC LIMIT 1";
const INSERT: &str = "INSERT INTO audit (at, actor, organisation_id, action, before, after, \
     prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Any fixed number: the key of the lock that serializes audit appends.
const AUDIT_LOCK: i64 = 0x706f_6f72_7461;

/// Appends one entry where `on` is: inside the transaction of the write it records.
pub async fn append(mut on: On<'_>, e: AuditEntry<'_>) -> Result<(), sqlx::Error> {
    on.exclusive(AUDIT_LOCK).await?;
    let last: Option<Option<String>> = sql(LAST_HASH).scalar_optional(on.reborrow()).await?;
    let prev = last.flatten().unwrap_or_else(|| GENESIS.to_string());
    let hash = entry_hash(&prev, &e);
    sql(INSERT)
        .bind(audit_time(e.at))
        .bind(e.actor)
        .bind(e.organisation_id)
        .bind(e.action)
        .bind(e.before)
        .bind(e.after)
        .bind(&prev)
        .bind(&hash)
        .execute(on)
        .await?;
    Ok(())
}

#[async_trait]
impl AuditLog for Tx {
    async fn append_audit(&mut self, e: AuditEntry<'_>) -> Result<(), sqlx::Error> {
        append(self.into(), e).await
    }
}

#[async_trait]
impl AuditLog for sqlx::SqliteConnection {
    async fn append_audit(&mut self, e: AuditEntry<'_>) -> Result<(), sqlx::Error> {
        append(self.into(), e).await
    }
}

#[async_trait]
impl AuditLog for sqlx::PgConnection {
    async fn append_audit(&mut self, e: AuditEntry<'_>) -> Result<(), sqlx::Error> {
        append(self.into(), e).await
    }
}

/// A login decision for the audit trail (allowed or refused, with its reason).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoginDecision {
    pub at: DateTime<Utc>,
    /// `identity:<AD>#<subject>`: who logged in, as the AD named them.
    pub actor: String,
    /// The organisation acted for, when the decision got that far.
    pub kvk: Option<String>,
    /// `login.allowed`, `login.refused`, `admin.login`.
    pub action: std::borrow::Cow<'static, str>,
    /// What was decided, as JSON (service, level, grant or reason).
    pub detail: String,
    /// The identity that logged in (AD entity, subject): an allowed login becomes the last
    /// login of that person's membership (shown in the admin module).
    pub identity: Option<(String, String)>,
}

/// Hands login decisions to the background writer; never blocks a login.
#[derive(Clone)]
pub struct DecisionRecorder {
    sender: tokio::sync::mpsc::Sender<LoginDecision>,
    flushes: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl DecisionRecorder {
    pub fn record(&self, decision: LoginDecision) {
        if self.sender.try_send(decision).is_err() {
            self.metrics.login_decisions_lost.inc();
            tracing::error!(
                "audit trail: the login-decision writer is behind; a decision was not recorded"
            );
        }
    }

    /// Writes every decision queued so far to the trail (or, if the database refuses, to the
    /// spool) and returns when that is done: the last step of a graceful shutdown.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Decisions queued and not yet written.
    pub fn queued(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

/// Starts the writer: decisions are appended in batches (one transaction each), so that a busy
/// gateway takes the audit chain's lock once per batch, not once per login. A batch the
/// database refuses goes to the spool file and is tried again every `retry`, so that a database
/// outage delays decisions in the trail but loses none.
pub fn spawn_decision_writer(
    pool: Pool,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    spool: std::path::PathBuf,
    retry: std::time::Duration,
) -> DecisionRecorder {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<LoginDecision>(100_000);
    let (flushes, mut flush_requests) =
        tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(16);
    let writer_metrics = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(retry.max(std::time::Duration::from_millis(100)));
        loop {
            tokio::select! {
                received = receiver.recv() => {
                    let Some(first) = received else { break };
                    let mut batch = vec![first];
                    fill_batch(&mut receiver, &mut batch);
                    write_or_spool(&pool, &spool, &batch, &writer_metrics).await;
                }
                Some(done) = flush_requests.recv() => {
                    loop {
                        let mut batch = Vec::new();
                        fill_batch(&mut receiver, &mut batch);
                        if batch.is_empty() {
                            break;
                        }
                        write_or_spool(&pool, &spool, &batch, &writer_metrics).await;
                    }
                    let _ = done.send(());
                }
                _ = tick.tick() => replay_spool(&pool, &spool, &writer_metrics).await,
            }
        }
    });
    DecisionRecorder {
        sender,
        flushes,
        metrics,
    }
}

/// Adds what is queued to `batch`, up to 256 decisions (one transaction).
fn fill_batch(
    receiver: &mut tokio::sync::mpsc::Receiver<LoginDecision>,
    batch: &mut Vec<LoginDecision>,
) {
    while batch.len() < 256 {
        match receiver.try_recv() {
            Ok(d) => batch.push(d),
            Err(_) => break,
        }
    }
}

async fn write_or_spool(
    pool: &Pool,
    spool: &std::path::Path,
    batch: &[LoginDecision],
    metrics: &crate::metrics::Metrics,
) {
    match write_decisions(pool, batch).await {
        Ok(()) => {
            metrics.login_decisions_audited.inc_by(batch.len() as u64);
        }
        Err(e) => {
            tracing::error!(
                decisions = batch.len(),
                spool = %spool.display(),
                "audit trail: writing login decisions failed, kept in the spool: {e}"
            );
            to_spool(spool, batch, metrics);
        }
    }
}

/// Appends decisions to the spool file (one JSON line each, synced); only what cannot be
/// written there either is counted lost.
fn to_spool(spool: &std::path::Path, batch: &[LoginDecision], metrics: &crate::metrics::Metrics) {
    use std::io::Write;
    let written = (|| -> std::io::Result<()> {
        if let Some(dir) = spool.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spool)?;
        let mut lines = Vec::new();
        for d in batch {
            serde_json::to_writer(&mut lines, d)?;
            lines.push(b'\n');
        }
        file.write_all(&lines)?;
        file.sync_data()
    })();
    match written {
        Ok(()) => {
            metrics.login_decisions_spooled.inc_by(batch.len() as u64);
        }
        Err(e) => {
            metrics.login_decisions_lost.inc_by(batch.len() as u64);
            tracing::error!(
                decisions = batch.len(),
                "audit trail: login decisions lost, the spool cannot be written: {e}"
            );
        }
    }
}

/// Writes what the spool holds to the trail, in batches; the file goes once all is written
/// (a batch that fails again stays for the next try, with everything after it).
async fn replay_spool(pool: &Pool, spool: &std::path::Path, metrics: &crate::metrics::Metrics) {
    let Ok(text) = std::fs::read_to_string(spool) else {
        return;
    };
    let mut decisions = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<LoginDecision>(line) {
            Ok(d) => decisions.push(d),
            // A torn last line (a crash while appending) cannot be read back: say so.
            Err(e) => {
                metrics.login_decisions_lost.inc();
                tracing::error!("audit trail: an unreadable spooled decision is dropped: {e}");
            }
        }
    }
    let mut done = 0;
    for batch in decisions.chunks(256) {
        if let Err(e) = write_decisions(pool, batch).await {
            tracing::warn!(
                left = decisions.len() - done,
                "audit trail: the spool waits: {e}"
            );
            break;
        }
        done += batch.len();
        metrics.login_decisions_audited.inc_by(batch.len() as u64);
    }
    if done == 0 && !decisions.is_empty() {
        return;
    }
    let kept: Result<(), std::io::Error> = if done == decisions.len() {
        std::fs::remove_file(spool)
    } else {
        // Rewrite with what is left (this task is the only one that touches the file).
        let mut rest = Vec::new();
        for d in &decisions[done..] {
            if serde_json::to_writer(&mut rest, d).is_ok() {
                rest.push(b'\n');
            }
        }
        let tmp = spool.with_extension("tmp");
        std::fs::write(&tmp, rest).and_then(|()| std::fs::rename(&tmp, spool))
    };
    match kept {
        Ok(()) => tracing::info!(
            decisions = done,
            "audit trail: spooled login decisions written"
        ),
        Err(e) => tracing::error!(
            "audit trail: spooled decisions were written but the spool could not be updated \
             (they may be written twice): {e}"
        ),
    }
}

const ORGANISATION_ID: &str = "SELECT id FROM organisations WHERE kvk = $1";

/// One batch of decisions in one transaction.
async fn write_batch(pool: &Pool, batch: &[LoginDecision]) -> Result<(), sqlx::Error> {
    // Takes SQLite's write lock first, so that a write committed by another connection between
    // this transaction's reads and its write cannot fail it.
    let mut tx = pool.begin_write().await?;
    for d in batch {
        let org: Option<String> = match &d.kvk {
            Some(kvk) => {
                sql(ORGANISATION_ID)
                    .bind(kvk)
                    .scalar_optional(&mut tx)
                    .await?
            }
            None => None,
        };
        tx.append_audit(AuditEntry {
            at: d.at,
            actor: &d.actor,
            organisation_id: org.as_deref(),
            action: &d.action,
            before: None,
            after: Some(&d.detail),
        })
        .await?;
        if let (Some(org), Some((idp, subject)), "login.allowed" | "admin.login") =
            (&org, &d.identity, d.action.as_ref())
        {
            sql(
                "UPDATE memberships SET last_login_at = $1 WHERE organisation_id = $2 \
                 AND person_id = (SELECT person_id FROM identity_links \
                                   WHERE idp = $3 AND subject = $4)",
            )
            .bind(d.at)
            .bind(org)
            .bind(idp)
            .bind(subject)
            .execute(&mut tx)
            .await?;
        }
    }
    tx.commit().await
}

async fn write_decisions(pool: &Pool, batch: &[LoginDecision]) -> Result<(), sqlx::Error> {
    // A batch that meets a busy database is tried again (twice) before it counts as lost.
    let mut attempt = 0;
    loop {
        match write_batch(pool, batch).await {
            Err(e) if attempt < 2 => {
                attempt += 1;
                tracing::warn!(
                    attempt,
                    "audit trail: writing login decisions, trying again: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries read.
    pub entries: u64,
    /// Entries from before the chain existed (no hash), all at the start.
    pub unchained: u64,
    /// The hash of the newest entry.
    pub head: String,
    pub broken: Option<ChainBreak>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's fields no longer give its hash: it was changed.
    Edited { id: i64 },
    /// The entry does not chain onto the one read before it: something between was removed (or
    /// inserted, or the hashes were rewritten).
    Missing { id: i64, after: Option<i64> },
    /// An entry without a hash after the chain began.
    Unhashed { id: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Edited { id } => write!(f, "entry {id} was changed after it was written"),
            ChainBreak::Missing { id, after: Some(a) } => write!(
                f,
                "entry {id} does not follow entry {a}: an entry between them was removed"
            ),
            ChainBreak::Missing { id, after: None } => write!(
                f,
                "entry {id} does not start the chain: an entry before it was removed"
            ),
            ChainBreak::Unhashed { id } => {
                write!(f, "entry {id} has no hash although the chain had begun")
            }
        }
    }
}

type Row = (
    i64,
    DateTime<Utc>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const ALL: &str = "SELECT id, at, actor, organisation_id, action, before, after, prev_hash, hash \
     FROM audit ORDER BY id";

/// Walks the whole trail and reports the first break.
pub async fn verify(pool: &Pool) -> Result<AuditReport, sqlx::Error> {
    let rows: Vec<Row> = sql(ALL).fetch_all(pool).await?;
    Ok(check_rows(&rows))
}

fn check_rows(rows: &[Row]) -> AuditReport {
    let mut report = AuditReport {
        entries: 0,
        unchained: 0,
        head: GENESIS.to_string(),
        broken: None,
    };
    let mut previous: Option<i64> = None;
    let mut chained = false;
    for (id, at, actor, org, action, before, after, prev_hash, hash) in rows {
        report.entries += 1;
        let (Some(prev_hash), Some(hash)) = (prev_hash, hash) else {
            if chained {
                report.broken = Some(ChainBreak::Unhashed { id: *id });
                return report;
            }
            report.unchained += 1;
            previous = Some(*id);
            continue;
        };
        chained = true;
        if *prev_hash != report.head {
            report.broken = Some(ChainBreak::Missing {
                id: *id,
                after: previous,
            });
            return report;
        }
        let entry = AuditEntry {
            at: *at,
            actor,
            organisation_id: org.as_deref(),
            action,
            before: before.as_deref(),
            after: after.as_deref(),
        };
        if entry_hash(prev_hash, &entry) != *hash {
            report.broken = Some(ChainBreak::Edited { id: *id });
            return report;
        }
        report.head = hash.clone();
        previous = Some(*id);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry<'_> {
        AuditEntry {
            at: DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456789Z")
                .unwrap()
                .with_timezone(&Utc),
            actor: "operator:test",
            organisation_id: Some("org-1"),
            action,
            before: None,
            after: Some("{}"),
        }
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let a = AuditEntry {
            before: Some("x"),
            after: None,
            ..entry("a")
        };
        let b = AuditEntry {
            before: None,
            after: Some("x"),
            ..entry("a")
        };
        assert_ne!(entry_hash(GENESIS, &a), entry_hash(GENESIS, &b));
        // Nanoseconds beyond the microsecond do not change the hash (PostgreSQL drops them).
        let mut c = entry("a");
        c.at += TimeDelta::nanoseconds(100);
        assert_eq!(entry_hash(GENESIS, &entry("a")), entry_hash(GENESIS, &c));
    }
}

/// Which entries of an organisation's trail to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Actions starting with this (`grant.`, `login.refused`).
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries by this actor (`person:<id>`, `identity:<AD>#<subject>`).
    pub actor: Option<String>,
}

/// One entry as administrators read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The organisation's entries (by KvK number), newest first.
pub async fn list(
    pool: &Pool,
    kvk: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    Ok(entries(pool, kvk, filter, None).await?.0)
}

/// One page of [`list`] (`offset`, `limit`) and how many entries match in all: the database
/// pages, so a long trail is not read whole for a page of 50.
pub async fn list_page(
    pool: &Pool,
    kvk: &str,
    filter: &AuditFilter,
    offset: usize,
    limit: usize,
) -> Result<(Vec<AuditRecord>, usize), sqlx::Error> {
    entries(pool, kvk, filter, Some((offset, limit))).await
}

async fn entries(
    pool: &Pool,
    kvk: &str,
    filter: &AuditFilter,
    page: Option<(usize, usize)>,
) -> Result<(Vec<AuditRecord>, usize), sqlx::Error> {
    let mut args = Args::default();
    let mut from = format!(
        " FROM audit a JOIN organisations o ON o.id = a.organisation_id WHERE o.kvk = {}",
        args.push(kvk)
    );
    if let Some(a) = &filter.action {
        // A prefix (`%` and `_` in it match as LIKE does; action names have neither).
        from.push_str(&format!(
            " AND a.action LIKE {}",
            args.push(format!("{a}%"))
        ));
    }
    if let Some(s) = filter.since {
        from.push_str(&format!(" AND a.at >= {}", args.push(s)));
    }
    if let Some(u) = filter.until {
        from.push_str(&format!(" AND a.at < {}", args.push(u)));
    }
    if let Some(actor) = &filter.actor {
        from.push_str(&format!(" AND a.actor = {}", args.push(actor)));
    }
    let mut text =
        format!("SELECT a.id, a.at, a.actor, a.action, a.before, a.after{from} ORDER BY a.id DESC");
    if let Some((offset, limit)) = page {
        text.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
    }
    type Row = (
        i64,
        DateTime<Utc>,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = Sql::assembled(text, args.clone()).fetch_all(pool).await?;
    let total: Option<i64> = match page {
        Some(_) => Some(
            Sql::assembled(format!("SELECT COUNT(*){from}"), args)
                .scalar(pool)
                .await?,
        ),
        None => None,
    };
    let total = total.map_or(rows.len(), |t| usize::try_from(t).unwrap_or(0));
    let records = rows
        .into_iter()
        .map(|(id, at, actor, action, before, after)| AuditRecord {
            id,
            at,
            actor,
            action,
            before,
            after,
        })
        .collect();
    Ok((records, total))
}
