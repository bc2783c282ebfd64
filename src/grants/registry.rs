//! The register as a running poort uses it: the database, the cache of resolved grant sets in
//! front of it, and the rules that keep the two coherent.
//!
//! - Reads ([`CachedRegister`]) serve a grant set from the cache only while no write has touched
//!   it (see [`super::cache`] for the version stamps). When Redis fails, reads go to the
//!   database, the failure is counted, and the cache is bypassed until the outbox has been
//!   drained into Redis again: an entry a write could not invalidate is never served.
//! - Writes ([`Registry::write`]) commit to the database first, then invalidate every identity
//!   link they touched; what cannot reach Redis waits in the database outbox.
//! - Uses of grants ([`UsageRecorder`]) are written off the hot path by a background task.

use super::cache::{CacheLookup, GrantCache, MemoryGrantCache, RedisGrantCache};
use super::sql::{SqlRegister, SqlRegisterError};
use super::{load_grants_file, outbox, GrantsFileError, Register, RegisterError};
use crate::config::Config;
use crate::domain::grant::{IdentityKey, PersonGrants, Touched};
use crate::metrics::Metrics;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Database(#[from] SqlRegisterError),
    #[error("register database URL {0:?}: use sqlite://PATH or postgres://…")]
    DatabaseUrl(String),
    #[error("grant cache: {0}")]
    Cache(#[from] super::cache::CacheError),
    #[error("seed file: {0}")]
    Seed(#[from] GrantsFileError),
    #[error("reading the cache outbox: {0}")]
    Outbox(#[from] sqlx::Error),
}

/// Opens the register database named by a URL: `sqlite://…` (or a bare path) or `postgres://…`.
pub async fn connect_database(url: &str) -> Result<SqlRegister, RegistryError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(SqlRegister::connect_postgres(url).await?)
    } else if url.starts_with("sqlite:") || !url.contains("://") {
        Ok(SqlRegister::connect_sqlite(url).await?)
    } else {
        Err(RegistryError::DatabaseUrl(url.to_string()))
    }
}

/// Whether the register holds no organisation yet (a fresh database).
async fn register_is_empty(pool: &super::Pool) -> Result<bool, sqlx::Error> {
    let count: i64 = super::db::sql("SELECT COUNT(*) FROM organisations")
        .scalar(pool)
        .await?;
    Ok(count == 0)
}

/// State shared by the read path, the write path and the upkeep task.
struct Shared {
    sql: SqlRegister,
    cache: Arc<dyn GrantCache>,
    /// Set in in-process mode: the cache whose coherence comes from the outbox feed.
    memory: Option<Arc<MemoryGrantCache>>,
    metrics: Arc<Metrics>,
    /// Redis failed and the outbox has not been drained since: do not trust the cache.
    recovering: AtomicBool,
    /// In-process mode: the newest outbox row this process has applied.
    feed_seen: AtomicI64,
}

impl Shared {
    fn cache_failed(&self, what: &str, e: &dyn std::fmt::Display) {
        self.metrics.grant_cache_errors.inc();
        if !self.recovering.swap(true, Ordering::SeqCst) {
            tracing::warn!("grant cache unreachable ({what}: {e}); resolving from the database");
        }
    }

    /// In-process mode: applies the writes other processes made since the last look.
    async fn catch_up(&self) -> Result<(), sqlx::Error> {
        let Some(memory) = &self.memory else {
            return Ok(());
        };
        loop {
            let after = self.feed_seen.load(Ordering::SeqCst);
            let rows = outbox::since(self.sql.pool(), after, 500).await?;
            let Some(newest) = rows.last().map(|(id, _)| *id) else {
                return Ok(());
            };
            let links: BTreeSet<IdentityKey> = rows.into_iter().map(|(_, k)| k).collect();
            // Invalidate before moving the mark, so a concurrent reader that sees the new
            // mark can no longer find the old entries.
            let _ = memory.invalidate(&links).await;
            self.feed_seen.fetch_max(newest, Ordering::SeqCst);
            if links.len() < 500 {
                return Ok(());
            }
        }
    }

    async fn invalidate(&self, touched: &Touched) {
        if touched.is_empty() {
            return;
        }
        self.metrics
            .grant_cache_invalidations
            .inc_by(touched.links.len() as u64);
        if let Some(memory) = &self.memory {
            // Tell the other processes through the feed, and this one directly.
            if let Err(e) = outbox::append(self.sql.pool(), &touched.links, Utc::now()).await {
                tracing::error!(
                    "could not record invalidations for other processes ({e}); \
                     their cached grant sets expire within the cache TTL"
                );
            }
            let _ = memory.invalidate(&touched.links).await;
            return;
        }
        if let Err(e) = self.cache.invalidate(&touched.links).await {
            self.cache_failed("invalidate", &e);
            match outbox::append(self.sql.pool(), &touched.links, Utc::now()).await {
                Ok(()) => tracing::warn!(
                    links = touched.links.len(),
                    "invalidation kept in the outbox until Redis answers again"
                ),
                Err(e) => tracing::error!(
                    "could not keep invalidations in the outbox ({e}); the cache TTL is the \
                     only bound on stale entries now"
                ),
            }
        }
    }

    /// One round of upkeep: drain the outbox into Redis (and leave recovery once it is
    /// empty), or prune the feed in in-process mode.
    async fn upkeep(&self) {
        if self.memory.is_some() {
            if let Err(e) = outbox::prune(self.sql.pool(), Utc::now()).await {
                tracing::warn!("pruning the cache outbox: {e}");
            }
            return;
        }
        if let Err(e) = self.cache.ping().await {
            if self.recovering.load(Ordering::SeqCst) {
                return;
            }
            self.cache_failed("ping", &e);
            return;
        }
        loop {
            let rows = match outbox::since(self.sql.pool(), 0, 500).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("reading the cache outbox: {e}");
                    return;
                }
            };
            if rows.is_empty() {
                break;
            }
            let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
            let links: BTreeSet<IdentityKey> = rows.into_iter().map(|(_, k)| k).collect();
            if let Err(e) = self.cache.invalidate(&links).await {
                self.cache_failed("drain outbox", &e);
                return;
            }
            if let Err(e) = outbox::remove(self.sql.pool(), &ids).await {
                tracing::warn!("removing drained outbox rows: {e}");
                return;
            }
        }
        if let Ok(n) = outbox::pending(self.sql.pool()).await {
            self.metrics.grant_cache_outbox_pending.set(n);
        }
        if self.recovering.swap(false, Ordering::SeqCst) {
            tracing::info!("grant cache reachable again and the outbox drained; using it");
        }
    }
}

/// The register with its cache, shared by the web handlers, the command line and upkeep.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

impl Registry {
    /// Opens the database named in `[register]` (running migrations, importing the seed when
    /// the register is empty) and the cache named in `[cache]`, with its own counters.
    pub async fn open(config: &Config) -> Result<Registry, RegistryError> {
        Self::open_with_metrics(config, Arc::new(Metrics::default())).await
    }

    pub async fn open_with_metrics(
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Registry, RegistryError> {
        let sql = connect_database(&config.register.database).await?;
        if let Some(seed) = &config.register.seed {
            if register_is_empty(sql.pool()).await? {
                let file = load_grants_file(seed)?;
                sql.import(&file).await?;
                tracing::info!(seed = %seed.display(), "empty register seeded");
            }
        }
        let ttl = Duration::from_secs(config.cache.ttl_seconds);
        let (cache, memory): (Arc<dyn GrantCache>, _) = match &config.cache.redis_url {
            Some(url) if !url.is_empty() => (
                Arc::new(RedisGrantCache::connect(url, &config.cache.prefix, ttl)?),
                None,
            ),
            _ => {
                let memory = Arc::new(MemoryGrantCache::new(ttl, config.cache.max_entries));
                (memory.clone() as Arc<dyn GrantCache>, Some(memory))
            }
        };
        let feed_seen = outbox::newest(sql.pool()).await?;
        Ok(Registry {
            shared: Arc::new(Shared {
                sql,
                cache,
                memory,
                metrics,
                recovering: AtomicBool::new(false),
                feed_seen: AtomicI64::new(feed_seen),
            }),
        })
    }

    /// The database itself, for writes (through [`Registry::write`]) and listings.
    pub fn sql(&self) -> &SqlRegister {
        &self.shared.sql
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The read path logins use: the cache in front of the database.
    pub fn register(&self) -> Arc<dyn Register> {
        Arc::new(CachedRegister {
            shared: self.shared.clone(),
        })
    }

    /// Whether the grant cache answers (a Redis PING; the in-process cache always does).
    pub async fn ping_cache(&self) -> Result<(), super::cache::CacheError> {
        self.shared.cache.ping().await
    }

    /// Whether the cache is shared by every replica (Redis).
    pub fn cache_is_shared(&self) -> bool {
        self.shared.cache.is_shared()
    }

    /// Runs a register write, which commits and says what it touched, then makes the cached
    /// grant sets of every touched identity link unusable, on every replica. The write's own
    /// error is returned as is; an invalidation that cannot reach Redis is kept in the outbox.
    pub async fn write<T, E>(
        &self,
        write: impl Future<Output = Result<(T, Touched), E>>,
    ) -> Result<T, E> {
        let span = tracing::info_span!(
            "register.write",
            outcome = tracing::field::Empty,
            links_touched = tracing::field::Empty
        );
        let written = write.instrument(span.clone()).await;
        let (value, touched) = match written {
            Ok(done) => done,
            Err(e) => {
                span.record("outcome", "refused");
                return Err(e);
            }
        };
        span.record("outcome", "written");
        span.record("links_touched", touched.links.len());
        self.invalidate(&touched).instrument(span).await;
        Ok(value)
    }

    /// Invalidates identity links after a write made outside [`Registry::write`].
    pub async fn invalidate(&self, touched: &Touched) {
        self.shared.invalidate(touched).await;
    }

    /// One round of upkeep (what [`Registry::spawn_upkeep`] runs every second).
    pub async fn upkeep(&self) {
        self.shared.upkeep().await;
    }

    /// Starts the background tasks of a serving process: upkeep every second and the writer
    /// of grant uses. Returns the handle logins record uses through.
    pub fn spawn_background(&self) -> UsageRecorder {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                shared.upkeep().await;
            }
        });
        let (sender, receiver) = mpsc::channel(10_000);
        let (flushes, flush_requests) = mpsc::channel(16);
        tokio::spawn(record_uses(self.clone(), receiver, flush_requests));
        UsageRecorder {
            sender,
            flushes,
            metrics: self.shared.metrics.clone(),
        }
    }

    /// Writes one use of a grant now (what the background writer does for each login).
    pub async fn record_use(&self, grant_id: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let pool = self.shared.sql.pool();
        if outbox::touch_last_used(pool, grant_id, at, at - USE_PRECISION).await? {
            let links = outbox::holders_of_grant(pool, grant_id).await?;
            self.invalidate(&Touched {
                links: links.into_iter().collect(),
            })
            .await;
            self.shared.metrics.grant_uses_recorded.inc();
        }
        Ok(())
    }
}

/// A grant's last use is kept to the day: a later use within a day writes nothing.
pub const USE_PRECISION: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Hands grant uses to the background writer without waiting for the database.
#[derive(Clone)]
pub struct UsageRecorder {
    sender: mpsc::Sender<(String, DateTime<Utc>)>,
    flushes: mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    metrics: Arc<Metrics>,
}

impl UsageRecorder {
    /// Records that a login used this grant; never blocks the login.
    pub fn used(&self, grant_id: &str, at: DateTime<Utc>) {
        if self.sender.try_send((grant_id.to_string(), at)).is_err() {
            self.metrics.grant_uses_dropped.inc();
        }
    }

    /// Writes every use queued so far and returns when that is done (graceful shutdown).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn record_uses(
    registry: Registry,
    mut uses: mpsc::Receiver<(String, DateTime<Utc>)>,
    mut flushes: mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
) {
    // What this process wrote in the last day needs no statement at all: the stored use is at
    // least as recent. Bounded; forgetting only costs a statement that writes nothing.
    let mut recorded: std::collections::HashMap<String, DateTime<Utc>> = Default::default();
    loop {
        tokio::select! {
            used = uses.recv() => {
                let Some((grant_id, at)) = used else { break };
                record_once(&registry, &mut recorded, grant_id, at).await;
            }
            Some(done) = flushes.recv() => {
                while let Ok((grant_id, at)) = uses.try_recv() {
                    record_once(&registry, &mut recorded, grant_id, at).await;
                }
                let _ = done.send(());
            }
        }
    }
}

async fn record_once(
    registry: &Registry,
    recorded: &mut std::collections::HashMap<String, DateTime<Utc>>,
    grant_id: String,
    at: DateTime<Utc>,
) {
    if recorded
        .get(&grant_id)
        .is_some_and(|last| at - *last < USE_PRECISION)
    {
        return;
    }
    match registry.record_use(&grant_id, at).await {
        Ok(()) => {
            if recorded.len() >= 100_000 {
                recorded.clear();
            }
            recorded.insert(grant_id, at);
        }
        Err(e) => tracing::warn!(grant = %grant_id, "recording a grant use: {e}"),
    }
}

/// The register behind its cache; what logins read.
pub struct CachedRegister {
    shared: Arc<Shared>,
}

impl CachedRegister {
    async fn read_database(&self, idp: &str, subject: &str) -> Result<PersonGrants, RegisterError> {
        self.shared.sql.grants_for(idp, subject).await
    }
}

#[async_trait]
impl Register for CachedRegister {
    async fn grants_for(&self, idp: &str, subject: &str) -> Result<PersonGrants, RegisterError> {
        let shared = &self.shared;
        if let Err(e) = shared.catch_up().await {
            // Without the feed this process cannot know what others changed: no cache.
            tracing::warn!("reading the cache outbox: {e}");
            shared.metrics.grant_cache_bypassed.inc();
            tracing::Span::current().record("cache", "bypassed");
            return self.read_database(idp, subject).await;
        }
        if shared.recovering.load(Ordering::SeqCst) {
            shared.metrics.grant_cache_bypassed.inc();
            tracing::Span::current().record("cache", "bypassed");
            return self.read_database(idp, subject).await;
        }
        let key = IdentityKey::new(idp, subject);
        match shared.cache.get(&key).await {
            Ok(CacheLookup::Hit(grants)) => {
                shared.metrics.grant_cache_hits.inc();
                tracing::Span::current().record("cache", "hit");
                Ok(grants)
            }
            Ok(CacheLookup::Miss(stamp)) => {
                shared.metrics.grant_cache_misses.inc();
                tracing::Span::current().record("cache", "miss");
                let grants = self.read_database(idp, subject).await?;
                if let Some(stamp) = stamp {
                    if let Err(e) = shared.cache.put(&key, stamp, &grants).await {
                        shared.cache_failed("put", &e);
                    }
                }
                Ok(grants)
            }
            Err(e) => {
                shared.cache_failed("get", &e);
                shared.metrics.grant_cache_bypassed.inc();
                tracing::Span::current().record("cache", "bypassed");
                self.read_database(idp, subject).await
            }
        }
    }
}
