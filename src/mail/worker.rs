//! The mail worker: every `[mail] poll_seconds` (and at once when this process queues a mail)
//! it claims the due messages one by one, sends each within `[mail] send_timeout_seconds`, and
//! marks it sent; a failed attempt is tried again after a growing pause ([`retry_pause`]), and
//! after `[mail] max_attempts` the message is marked failed and an error is logged with its row
//! id. Every replica runs one; a message is claimed by one worker at a time (see `queue`).

use super::queue::{self, OutboxCounts, OutboxRow};
use super::{Mail, MailError, Transport};
use crate::config::MailConfig;
use crate::grants::Pool;
use crate::metrics::Metrics;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why one attempt failed, in words that hold no personal data: never the address, never the
/// SMTP server's text (which tends to repeat the address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    #[error("no answer from the SMTP server within {0} s")]
    Timeout(u64),
    #[error("the SMTP server refused with code {code} ({})", if *.permanent { "permanent" } else { "transient" })]
    Refused { code: String, permanent: bool },
    #[error("TLS with the SMTP server failed")]
    Tls,
    #[error("could not talk to the SMTP server")]
    Connection,
    /// Can never be delivered: given up at once.
    #[error("the recipient's address is not usable")]
    Address,
    /// Can never be delivered: given up at once.
    #[error("the message could not be composed")]
    Compose,
    #[error("writing into the outbox folder: {0}")]
    Folder(std::io::ErrorKind),
}

impl SendFailure {
    /// `timeout`: the limit lettre was given, in seconds.
    pub(super) fn from_smtp(e: &lettre::transport::smtp::Error, timeout: u64) -> SendFailure {
        if e.is_timeout() {
            SendFailure::Timeout(timeout)
        } else if let Some(code) = e.status() {
            SendFailure::Refused {
                code: code.to_string(),
                permanent: e.is_permanent(),
            }
        } else if e.is_tls() {
            SendFailure::Tls
        } else {
            SendFailure::Connection
        }
    }

    /// Whether trying again could ever help.
    pub fn is_final(&self) -> bool {
        matches!(self, SendFailure::Address | SendFailure::Compose)
    }
}

/// The pause after the `attempts`-th failed attempt: one minute, doubling, at most six hours.
pub fn retry_pause(attempts: u32) -> TimeDelta {
    let doublings = attempts.saturating_sub(1).min(9);
    (TimeDelta::minutes(1) * (1 << doublings)).min(TimeDelta::hours(6))
}

/// The longest time limit and poll interval taken from the configuration (an hour).
const MAX_SECONDS: u64 = 3600;

/// How often old sent and failed messages are deleted (they are kept for days).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Sends what waits in the register's mail outbox.
#[derive(Debug)]
pub struct MailWorker {
    pool: Pool,
    transport: Transport,
    /// Who claims: unique per process (and per worker in tests).
    holder: String,
    send_timeout: Duration,
    max_attempts: u32,
    poll: Duration,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl MailWorker {
    /// A worker over the transport `config` names (SMTP or the outbox folder).
    pub fn from_config(
        pool: Pool,
        config: &MailConfig,
        holder: &str,
        metrics: Arc<Metrics>,
    ) -> Result<MailWorker, MailError> {
        if config.max_attempts == 0 {
            return Err(MailError::Config(
                "[mail] max_attempts must be at least 1".into(),
            ));
        }
        let send_timeout = Duration::from_secs(config.send_timeout_seconds.clamp(1, MAX_SECONDS));
        Ok(MailWorker {
            pool,
            transport: Transport::from_config(config, send_timeout)?,
            holder: holder.to_string(),
            send_timeout,
            max_attempts: config.max_attempts,
            poll: Duration::from_secs(config.poll_seconds.clamp(1, MAX_SECONDS)),
            metrics,
            wake: Arc::new(Notify::new()),
        })
    }

    pub(super) fn woken_by(mut self, wake: Arc<Notify>) -> MailWorker {
        self.wake = wake;
        self
    }

    /// How long a claim lasts: the send's time limit and room to record the outcome.
    fn claim_for(&self) -> TimeDelta {
        TimeDelta::from_std(self.send_timeout).unwrap_or(TimeDelta::hours(1))
            + TimeDelta::seconds(60)
    }

    /// One round: sends every message due at `now` (later ones keep their turn), one claim at a
    /// time; how many were sent. Also updates the outbox gauge.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<usize, MailError> {
        let started = Instant::now();
        // `now` moved on by the time this round has taken, so that a claim made late in a long
        // round still lasts its full time.
        let at = || now + TimeDelta::from_std(started.elapsed()).unwrap_or_default();
        let mut sent = 0;
        loop {
            let claimed_at = at();
            let Some(row) = queue::claim(
                &self.pool,
                &self.holder,
                claimed_at,
                claimed_at + self.claim_for(),
            )
            .await?
            else {
                break;
            };
            let attempts = row.attempts.saturating_add(1);
            match self.send(&row.mail).await {
                Ok(()) => {
                    queue::mark_sent(&self.pool, row.id, attempts, at()).await?;
                    self.metrics.mail_sent.inc();
                    sent += 1;
                }
                Err(failure) => self.failed(&row, attempts, &failure, at()).await?,
            }
        }
        self.metrics
            .mail_outbox_queued
            .set(queue::queued(&self.pool).await?);
        Ok(sent)
    }

    async fn send(&self, mail: &Mail) -> Result<(), SendFailure> {
        match tokio::time::timeout(self.send_timeout, self.transport.send(mail)).await {
            Ok(result) => result,
            Err(_) => Err(SendFailure::Timeout(self.send_timeout.as_secs())),
        }
    }

    async fn failed(
        &self,
        row: &OutboxRow,
        attempts: u32,
        failure: &SendFailure,
        now: DateTime<Utc>,
    ) -> Result<(), MailError> {
        let error = failure.to_string();
        if attempts >= self.max_attempts || failure.is_final() {
            if queue::mark_failed(&self.pool, row.id, &self.holder, attempts, &error, now).await? {
                self.metrics.mail_failed.inc();
                tracing::error!(mail = row.id, attempts, "mail given up: {error}");
            }
        } else {
            let next = now + retry_pause(attempts);
            if queue::mark_retry(&self.pool, row.id, &self.holder, attempts, &error, next).await? {
                tracing::warn!(
                    mail = row.id,
                    attempts,
                    next_attempt = %next.to_rfc3339(),
                    "mail not sent, will try again: {error}"
                );
            }
        }
        Ok(())
    }

    /// Messages waiting and messages given up.
    pub async fn counts(&self) -> Result<OutboxCounts, MailError> {
        Ok(queue::counts(&self.pool).await?)
    }

    /// Runs rounds every `poll_seconds`, and at once when this process queues a mail, for as
    /// long as the process lives; deletes old messages every [`PRUNE_EVERY`].
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut prune = tokio::time::interval(PRUNE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = self.wake.notified() => {}
                    _ = prune.tick() => {
                        if let Err(e) = queue::prune(&self.pool, Utc::now()).await {
                            tracing::error!("mail worker: {e}");
                        }
                        continue;
                    }
                }
                match self.deliver_due(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sent = n, "mail sent"),
                    Err(e) => tracing::error!("mail worker: {e}"),
                }
            }
        })
    }
}
