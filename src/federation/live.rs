//! The trusted metadata as it is now: the folders' metadata and each aggregate's last good
//! edition, assembled into one [`MetadataSet`] that is swapped whole when an aggregate changes.
//!
//! A request takes the set once ([`LiveMetadata::now`]) and works on that snapshot to its end,
//! so a refresh never changes the metadata under a step half-way. Between the steps of a login
//! the entities are looked up again: a peer whose metadata was dropped in between is simply
//! unknown then, and the login ends with the ordinary "unknown peer" refusal.

use super::name::AggregateName;
use super::verify::{verify, AggregateError, Verified, MAX_AGGREGATE_BYTES};
use crate::config::{AggregateRole, AggregateSource};
use crate::http::FetchError;
use crate::metadata::{self, MetadataSet, Parsed, Role};
use crate::metrics::Metrics;
use crate::refresh::{self, at_low_priority, copy};
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One aggregate's edition in use.
#[derive(Clone)]
struct Edition {
    name: AggregateName,
    valid_until: DateTime<Utc>,
    cache_duration: Option<Duration>,
    fetched_at: DateTime<Utc>,
    parsed: Parsed,
}

/// The trusted metadata, kept current.
pub struct LiveMetadata {
    current: ArcSwap<MetadataSet>,
    folders: Vec<Parsed>,
    sources: Vec<AggregateSource>,
    editions: Mutex<Vec<Option<Edition>>>,
    metrics: Arc<Metrics>,
    /// Whether a good edition is written to its `cache_file` (not when only inspecting).
    keeps_copies: bool,
    /// Told each time a new set is swapped in, for what is built from the metadata (the
    /// service catalogue takes each service's provider from the DV metadata).
    swapped: tokio::sync::watch::Sender<()>,
    /// How each aggregate was had at start (see [`LiveMetadata::at_start`]).
    started: Vec<Result<Option<String>, String>>,
}

/// How a refresh went.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// A newer edition (or the first) is in use.
    Updated,
    /// The same edition as in use.
    Unchanged,
}

impl LiveMetadata {
    /// Metadata of the folders only (no aggregates configured).
    pub fn fixed(set: MetadataSet) -> LiveMetadata {
        LiveMetadata {
            current: ArcSwap::from_pointee(set),
            folders: Vec::new(),
            sources: Vec::new(),
            editions: Mutex::new(Vec::new()),
            metrics: Arc::new(Metrics::default()),
            keeps_copies: false,
            swapped: tokio::sync::watch::Sender::new(()),
            started: Vec::new(),
        }
    }

    /// Reads the folders and every aggregate: from its source, else from its last good copy on
    /// disk. An aggregate that cannot be had either way is logged and counted, and left out.
    pub async fn start(
        sp_dir: &Path,
        idp_dir: &Path,
        sources: &[AggregateSource],
        metrics: Arc<Metrics>,
        now: DateTime<Utc>,
    ) -> LiveMetadata {
        Self::read(sp_dir, idp_dir, sources, metrics, now, true).await
    }

    /// The metadata as [`LiveMetadata::start`] would have it, for the commands that only look
    /// (`poort check`, `poort catalogue`): nothing is written to the copies on disk.
    pub async fn inspect(
        sp_dir: &Path,
        idp_dir: &Path,
        sources: &[AggregateSource],
        now: DateTime<Utc>,
    ) -> LiveMetadata {
        let metrics = Arc::new(Metrics::default());
        Self::read(sp_dir, idp_dir, sources, metrics, now, false).await
    }

    async fn read(
        sp_dir: &Path,
        idp_dir: &Path,
        sources: &[AggregateSource],
        metrics: Arc<Metrics>,
        now: DateTime<Utc>,
        keeps_copies: bool,
    ) -> LiveMetadata {
        let mut live = LiveMetadata {
            current: ArcSwap::from_pointee(MetadataSet::default()),
            folders: metadata::read_folders(sp_dir, idp_dir, now),
            sources: sources.to_vec(),
            editions: Mutex::new(vec![None; sources.len()]),
            metrics,
            keeps_copies,
            swapped: tokio::sync::watch::Sender::new(()),
            started: Vec::new(),
        };
        for (index, source) in sources.iter().enumerate() {
            let Err(fetched) = live.fetch_and_use(index, now).await else {
                live.started.push(Ok(None));
                continue;
            };
            tracing::warn!(aggregate = %source.source, error = %fetched, "metadata aggregate not fetched; trying the last good copy");
            let why = refusal_text(&fetched);
            let file = source.cache_file.display();
            let had = match live.use_disk_copy(index, now) {
                Ok(()) => Ok(Some(format!("{why}; the last good copy in {file} is used"))),
                Err(copy) => {
                    tracing::error!(aggregate = %source.source, error = %copy, "metadata aggregate not in use: no good copy");
                    Err(match copy {
                        RefreshError::NoCopy => format!("{why}; and there is no last good copy"),
                        RefreshError::Disk(e) => {
                            format!("{why}; the last good copy cannot be read: {e}")
                        }
                        other => format!(
                            "{why}; the last good copy in {file} is refused too: {}",
                            refusal_text(&other)
                        ),
                    })
                }
            };
            live.started.push(had);
        }
        live.rebuild(now);
        live
    }

    /// For `poort check`: how each configured aggregate was had when this was read, in config
    /// order. `Ok(None)`: from its source; `Ok(Some(why))`: only from its last good copy (a
    /// warning); `Err(why)`: not at all.
    pub fn at_start(&self) -> &[Result<Option<String>, String>] {
        &self.started
    }

    /// The metadata now: one snapshot, for one request.
    pub fn now(&self) -> Arc<MetadataSet> {
        self.current.load_full()
    }

    /// Tells each time a new set is swapped in (from the moment of this call).
    pub fn swaps(&self) -> tokio::sync::watch::Receiver<()> {
        self.swapped.subscribe()
    }

    /// The configured aggregates.
    pub fn sources(&self) -> &[AggregateSource] {
        &self.sources
    }

    /// Fetches aggregate `index`, and puts it in use if it is good and not older than the one in
    /// use; the last good copy is written to disk.
    pub async fn refresh(
        &self,
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<Refreshed, RefreshError> {
        let outcome = self.fetch_and_use(index, now).await?;
        if outcome == Refreshed::Updated {
            self.rebuild(now);
        }
        Ok(outcome)
    }

    /// [`LiveMetadata::refresh`] without assembling the set (at start, once for all), counting
    /// every outcome.
    async fn fetch_and_use(
        &self,
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<Refreshed, RefreshError> {
        let source = &self.sources[index];
        let result: Result<Refreshed, RefreshError> = async {
            let bytes = crate::http::fetch_document(&source.source, MAX_AGGREGATE_BYTES)
                .await
                .map_err(RefreshError::Fetch)?;
            // Verifying and reading is CPU work: off the async workers, at a lower priority.
            let (owned, shared) = (source.clone(), std::sync::Arc::new(bytes));
            let bytes = shared.clone();
            let verified = at_low_priority(move || verified(&owned, &shared, now))
                .await
                .map_err(RefreshError::Background)??;
            let outcome = match self.unchanged(index, &verified, now, now)? {
                Some(unchanged) => unchanged,
                None => {
                    let owned = source.clone();
                    let (verified, parsed) = at_low_priority(move || {
                        let parsed = parse(&owned, &verified, now);
                        (verified, parsed)
                    })
                    .await
                    .map_err(RefreshError::Background)?;
                    self.install(index, &verified, parsed, now);
                    Refreshed::Updated
                }
            };
            // Written again when unchanged too: the copy's time says when it was last confirmed.
            if self.keeps_copies {
                if let Err(e) = copy::store(&source.cache_file, &bytes) {
                    tracing::warn!(aggregate = %source.source, file = %source.cache_file.display(), error = %e, "cannot keep the last good copy of a metadata aggregate");
                }
            }
            Ok(outcome)
        }
        .await;
        let code = match &result {
            Ok(outcome) => outcome.reason_code(),
            Err(e) => e.reason_code(),
        };
        self.metrics.aggregate_refreshed(&source.source, code);
        result
    }

    /// Puts aggregate `index` in use from its copy on disk (at start, when its source fails).
    fn use_disk_copy(&self, index: usize, now: DateTime<Utc>) -> Result<(), RefreshError> {
        let source = &self.sources[index];
        let (bytes, modified) = copy::load(&source.cache_file, MAX_AGGREGATE_BYTES)
            .map_err(|e| RefreshError::Disk(e.to_string()))?
            .ok_or(RefreshError::NoCopy)?;
        let verified = verified(source, &bytes, now)?;
        self.put_in_use(index, verified, DateTime::<Utc>::from(modified), now)?;
        tracing::info!(aggregate = %source.source, file = %source.cache_file.display(), "metadata aggregate in use from its last good copy");
        Ok(())
    }

    /// Puts a verified edition in use (reading it here, on this thread).
    fn put_in_use(
        &self,
        index: usize,
        verified: Verified,
        fetched_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Refreshed, RefreshError> {
        if let Some(unchanged) = self.unchanged(index, &verified, fetched_at, now)? {
            return Ok(unchanged);
        }
        let parsed = parse(&self.sources[index], &verified, now);
        self.install(index, &verified, parsed, fetched_at);
        Ok(Refreshed::Updated)
    }

    /// Whether `verified` needs no reading: `Some(Unchanged)` when it is the edition in use
    /// (then confirmed as fresh as this fetch); `Err` when it is older, or the copy is stale;
    /// `None` when it is a new edition.
    fn unchanged(
        &self,
        index: usize,
        verified: &Verified,
        fetched_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Refreshed>, RefreshError> {
        let source = &self.sources[index];
        if fetched_at + max_age(source) <= now {
            return Err(RefreshError::Stale(fetched_at));
        }
        let mut editions = self.editions.lock();
        if let Some(held) = &mut editions[index] {
            if held.name.same_series(&verified.name) {
                if verified.name.sequence < held.name.sequence {
                    return Err(RefreshError::Refused(AggregateError::Older {
                        found: verified.name.to_string(),
                        current: held.name.to_string(),
                    }));
                }
                if verified.name.sequence == held.name.sequence {
                    held.fetched_at = held.fetched_at.max(fetched_at);
                    return Ok(Some(Refreshed::Unchanged));
                }
            }
        }
        Ok(None)
    }

    /// Keeps a new edition, read, as aggregate `index`'s (the set is assembled by the caller).
    fn install(
        &self,
        index: usize,
        verified: &Verified,
        parsed: Parsed,
        fetched_at: DateTime<Utc>,
    ) {
        let source = &self.sources[index];
        let entities = parsed.sps.len() + parsed.idps.len();
        self.editions.lock()[index] = Some(Edition {
            name: verified.name.clone(),
            valid_until: verified.valid_until,
            cache_duration: verified.cache_duration,
            fetched_at,
            parsed,
        });
        tracing::info!(aggregate = %source.source, edition = %verified.name, entities, valid_until = %verified.valid_until, "metadata aggregate in use");
    }

    /// Assembles the set from the folders and the editions still good at `now`, and swaps it in.
    /// An edition past its validUntil, or older than `max_age_seconds`, is dropped here (logged
    /// and shown by `poort_metadata_aggregate_in_use` 0), never used.
    pub fn rebuild(&self, now: DateTime<Utc>) {
        self.drop_expired(now);
        self.assemble();
    }

    /// Drops what expired by `now`, assembling the set again only if something was dropped:
    /// after a failed refresh the editions in use usually stay as they were.
    fn expire(&self, now: DateTime<Utc>) {
        if self.drop_expired(now) {
            self.assemble();
        }
    }

    /// Drops the editions expired or stale at `now`; whether any was.
    fn drop_expired(&self, now: DateTime<Utc>) -> bool {
        let mut dropped = false;
        let mut editions = self.editions.lock();
        for (slot, source) in editions.iter_mut().zip(&self.sources) {
            let expired = slot.as_ref().and_then(|e| {
                if e.valid_until <= now {
                    Some(format!("expired at {}", e.valid_until))
                } else if e.fetched_at + max_age(source) <= now {
                    Some(format!("stale: fetched at {}", e.fetched_at))
                } else {
                    None
                }
            });
            if let Some(why) = expired {
                tracing::error!(aggregate = %source.source, "metadata aggregate dropped, {why}; its peers are unknown until a good edition comes");
                *slot = None;
                dropped = true;
            }
            let valid_until = slot.as_ref().map(|e| e.valid_until);
            self.metrics
                .aggregate_state(&source.source, valid_until, now);
        }
        dropped
    }

    /// The set of the folders and the editions in use, swapped in whole.
    fn assemble(&self) {
        let parts: Vec<Parsed> = self
            .editions
            .lock()
            .iter()
            .flatten()
            .map(|edition| edition.parsed.clone())
            .collect();
        let set = metadata::assemble(self.folders.clone(), parts);
        self.current.store(Arc::new(set));
        self.swapped.send_replace(());
    }

    /// When aggregate `index` should be fetched again: its cacheDuration or `refresh_seconds`,
    /// whichever is sooner, and no later than its validUntil (so it is dropped on time).
    pub fn next_refresh(&self, index: usize, now: DateTime<Utc>) -> Duration {
        let source = &self.sources[index];
        let mut wait = Duration::from_secs(source.refresh_seconds.max(1));
        if let Some(edition) = &self.editions.lock()[index] {
            if let Some(d) = edition.cache_duration {
                wait = wait.min(d);
            }
            let to_expiry = (edition.valid_until - now).to_std().unwrap_or_default();
            wait = wait.min(to_expiry);
        }
        wait.max(Duration::from_secs(1))
    }
}

/// How long an edition may go unconfirmed before it is stale.
fn max_age(source: &AggregateSource) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(source.max_age_seconds).unwrap_or(i64::MAX))
}

/// `bytes` checked against the source's trust certificates.
fn verified(
    source: &AggregateSource,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, RefreshError> {
    let trust = crate::trust::certificates(&source.trust_cert)
        .map_err(|e| RefreshError::Refused(AggregateError::TrustCert(e)))?;
    verify(bytes, &trust, now).map_err(RefreshError::Refused)
}

/// Reads a verified edition's entities (from the signed bytes only).
fn parse(source: &AggregateSource, verified: &Verified, now: DateTime<Utc>) -> Parsed {
    let role = match source.role {
        AggregateRole::Ad => Role::Idp,
        AggregateRole::Dv => Role::Sp,
    };
    metadata::parse_aggregate(&verified.signed, Path::new(&source.source), role, now)
}

/// Why a refresh did not put a new edition in use.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("fetching: {0}")]
    Fetch(FetchError),
    #[error("refused: {0}")]
    Refused(AggregateError),
    #[error("stale: the copy was fetched at {0}")]
    Stale(DateTime<Utc>),
    #[error("the last good copy cannot be read: {0}")]
    Disk(String),
    #[error("there is no last good copy")]
    NoCopy,
    #[error("{0}")]
    Background(String),
}

impl RefreshError {
    /// A fixed code for metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            RefreshError::Fetch(_) => "unreachable",
            RefreshError::Refused(AggregateError::Expired(_)) => "expired",
            RefreshError::Refused(AggregateError::Older { .. }) => "older",
            RefreshError::Refused(
                AggregateError::NotTrusted
                | AggregateError::Signature(_)
                | AggregateError::Unsigned,
            ) => "bad_signature",
            RefreshError::Refused(_) => "invalid",
            RefreshError::Stale(_) => "stale",
            RefreshError::Disk(_) | RefreshError::NoCopy => "no_copy",
            RefreshError::Background(_) => "internal",
        }
    }
}

impl Refreshed {
    fn reason_code(&self) -> &'static str {
        match self {
            Refreshed::Updated => "updated",
            Refreshed::Unchanged => "unchanged",
        }
    }
}

/// Refreshes every aggregate in the background until `live` is dropped elsewhere: each at its
/// own pace, with a backoff after a failure (doubling from `retry_seconds` up to
/// `refresh_seconds`), dropping an edition that expires meanwhile.
pub fn spawn_refresh(live: Arc<LiveMetadata>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..live.sources.len())
        .map(|index| {
            let source = &live.sources[index];
            let backoff = refresh::Backoff::new(source.retry_seconds, source.refresh_seconds);
            let first = live.next_refresh(index, Utc::now());
            refresh::spawn(&live, first, backoff, move |live| async move {
                let now = Utc::now();
                match live.refresh(index, now).await {
                    Ok(_) => Ok(live.next_refresh(index, now)),
                    Err(e) => {
                        let source = &live.sources[index];
                        tracing::warn!(aggregate = %source.source, error = %e, "metadata aggregate refresh failed; the edition in use stays");
                        live.expire(now);
                        Err(live.next_refresh(index, now))
                    }
                }
            })
        })
        .collect()
}

/// A refusal as `poort check` words it: an aggregate's own problem without the "refused:" frame.
fn refusal_text(e: &RefreshError) -> String {
    match e {
        RefreshError::Refused(e) => e.to_string(),
        other => other.to_string(),
    }
}
