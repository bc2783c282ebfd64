//! Requests not decided within 30 days expire: a periodic job that every replica schedules and
//! the one holding the `request-expiry` lease runs. It marks them in the register (each with its
//! audit row) and mails their requesters. A request past its time already reads as expired and
//! cannot be signed before this job has marked it; the job is what tells the requester.

use crate::grants::lease::Lease;
use crate::grants::Registry;
use crate::mail::Mailer;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The name of the job's lease.
pub const EXPIRY_LEASE: &str = "request-expiry";

#[derive(Clone)]
pub struct ExpiryJob {
    registry: Registry,
    mailer: Mailer,
    /// For the links in the mails (the public URL).
    config: Arc<crate::config::Config>,
    lease: Lease,
    every: std::time::Duration,
}

impl ExpiryJob {
    /// The job for `holder` (unique per process), run every `every`; its lease lasts two
    /// periods, so another replica takes over within two periods when this one stops.
    pub fn new(
        registry: Registry,
        mailer: Mailer,
        config: Arc<crate::config::Config>,
        holder: &str,
        every: std::time::Duration,
    ) -> ExpiryJob {
        let lease = Lease::for_period(registry.sql().pool().clone(), EXPIRY_LEASE, holder, every);
        ExpiryJob {
            registry,
            mailer,
            config,
            lease,
            every,
        }
    }

    /// One run at `now`: how many requests expired, or `None` when another replica holds the
    /// lease.
    pub async fn run_once(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, crate::grants::WriteError> {
        if !self.lease.acquire(now).await? {
            return Ok(None);
        }
        let service = super::SelfService {
            registry: &self.registry,
            mailer: &self.mailer,
            config: &self.config,
            catalogue: Arc::new(Vec::new()),
        };
        service.expire(now).await.map(Some)
    }

    /// Runs at start, then every `every`, for as long as the process lives.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        crate::grants::lease::spawn_every(self.every, move || {
            let job = self.clone();
            async move {
                match job.run_once(Utc::now()).await {
                    Ok(None) | Ok(Some(0)) => {}
                    Ok(Some(n)) => tracing::info!(requests = n, "requests expired"),
                    Err(e) => tracing::error!("request expiry: {}", e.redacted()),
                }
            }
        })
    }
}
