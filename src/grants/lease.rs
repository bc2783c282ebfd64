//! Leases of periodic jobs in the register's `job_leases` table, so that a job every replica
//! schedules runs on one of them only.
//!
//! A replica runs a job when [`Lease::acquire`] says it holds the job's lease: one statement
//! that inserts the lease, renews it when this holder already has it, or takes it over when it
//! has expired, and otherwise changes nothing (`INSERT … ON CONFLICT DO UPDATE … WHERE`, the
//! same text on SQLite and PostgreSQL). Both databases decide a conflict on the row itself, so of
//! two replicas asking at once exactly one wins. The holder renews at every run; when it stops
//! (stopped, crashed, cut off from the database), another replica takes over once the lease
//! has expired.

use super::db::{sql, Pool};
use chrono::{DateTime, TimeDelta, Utc};

/// An identity for one process (or one test replica): what [`Lease`] and the mail worker record
/// as holder. Not personal data: host name, process id and a random part.
pub fn new_holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let host = if host.is_empty() {
        String::new()
    } else {
        format!("{host}-")
    };
    format!("{host}{}-{}", std::process::id(), &random[..12])
}

/// One job's lease, as one holder asks for it.
#[derive(Debug, Clone)]
pub struct Lease {
    pool: Pool,
    name: String,
    holder: String,
    ttl: TimeDelta,
}

const ACQUIRE: &str = "\
INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
 WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4";

impl Lease {
    /// The lease `name` for `holder`, held for `ttl` after each acquisition.
    pub fn new(pool: Pool, name: &str, holder: &str, ttl: TimeDelta) -> Lease {
        Lease {
            pool,
            name: name.to_string(),
            holder: holder.to_string(),
            ttl,
        }
    }

    /// The lease of a job run every `every`: held for two periods (at most two weeks, since a
    /// lease must still end some time), so that when its holder stops, another replica takes
    /// over within two periods.
    pub fn for_period(pool: Pool, name: &str, holder: &str, every: std::time::Duration) -> Lease {
        let period = TimeDelta::from_std(every)
            .unwrap_or(TimeDelta::MAX)
            .min(TimeDelta::days(7));
        Lease::new(pool, name, holder, period * 2)
    }

    /// Takes or renews the lease at `now`; whether this holder has it (until `now + ttl`).
    pub async fn acquire(&self, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
        let until = now
            .checked_add_signed(self.ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let changed = sql(ACQUIRE)
            .bind(&self.name)
            .bind(&self.holder)
            .bind(until)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(changed > 0)
    }

    /// Who holds the lease `name`, and until when (none when nobody ever took it).
    pub async fn current(
        pool: &Pool,
        name: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
        const CURRENT: &str = "SELECT holder, expires_at FROM job_leases WHERE name = $1";
        sql(CURRENT).bind(name).fetch_optional(pool).await
    }
}

/// Runs `run` at once and then every `every`, for as long as the process lives; a tick missed
/// while a run was slow is not made up for (the next run catches up with what is due).
pub fn spawn_every<F, Fut>(every: std::time::Duration, mut run: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            run().await;
        }
    })
}
