//! The service catalogue as it is now: the config file's `[[service]]` entries and each signed
//! catalogue's last good edition, built into one list of services that is swapped whole when an
//! edition or the DV metadata changes.
//!
//! A request takes the list once ([`LiveCatalogue::services`]) and works on that snapshot; a
//! login copies what it needs of its service when it starts, so a refresh never changes a login
//! half-way. A new edition is put in use only when it passes every check (signature, schema,
//! content, not older than the one in use, no ServiceID or ServiceUUID that something else in
//! use defines too); otherwise the last good one stays, and the refusal is logged with the
//! source and counted (`poort_catalogue_refreshes_total{outcome}`).

use super::source;
use super::{broker_oin, effective, CatalogueDocument, CatalogueError, Effective, Problem};
use super::{ProblemKind, MAX_CATALOGUE_BYTES};
use crate::config::{CatalogueSource, Config, ServiceConfig};
use crate::federation::LiveMetadata;
use crate::metadata::MetadataSet;
use crate::metrics::Metrics;
use crate::refresh::{self, copy};
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// The services in use, kept current.
pub struct LiveCatalogue {
    current: ArcSwap<Vec<ServiceConfig>>,
    configured: Vec<ServiceConfig>,
    sources: Vec<CatalogueSource>,
    /// This HM's OIN: a catalogue service is offered here when its instance names it.
    hm_oin: String,
    metadata: Arc<LiveMetadata>,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

/// What the services in use were built from, changed under one lock so that two refreshes never
/// build from each other's half-done work.
struct State {
    /// Each source's last good edition.
    editions: Vec<Option<Edition>>,
    /// The metadata the services in use were built from.
    built_from: Arc<MetadataSet>,
    /// What the build in use found (services left out, ServiceIDs defined twice).
    problems: Vec<Problem>,
    /// Each source's last refusal, until a good edition comes.
    refusals: Vec<Option<Problem>>,
}

/// One catalogue's edition in use: what it says, and its bytes (to see an unchanged one, and to
/// keep as the last good copy).
struct Edition {
    document: CatalogueDocument,
    bytes: Vec<u8>,
}

/// How a refresh went.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// A new edition (or the first) is in use.
    Updated,
    /// The same edition as in use.
    Unchanged,
}

/// Why a refresh put no new edition in use, naming the catalogue.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct RefreshError {
    /// The configured source (a file or a URL).
    pub origin: String,
    pub reason: Refusal,
}

/// Why an edition is not in use.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("fetching: {0}")]
    Unreachable(CatalogueError),
    #[error("{0}")]
    Refused(CatalogueError),
    #[error("issued at {found}, before the edition in use (issued at {current})")]
    Older {
        found: DateTime<Utc>,
        current: DateTime<Utc>,
    },
    #[error("{}", describe_twice(.0))]
    DefinedTwice(Vec<Problem>),
    #[error("{fetched}; and there is no last good copy (no cache_file)")]
    NoCopyKept { fetched: Box<Refusal> },
    #[error("{fetched}; and there is no last good copy in {file}")]
    NoCopy { fetched: Box<Refusal>, file: String },
    #[error("{fetched}; the last good copy in {file} is refused too: {copy}")]
    CopyRefused {
        fetched: Box<Refusal>,
        file: String,
        copy: String,
    },
}

fn describe_twice(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{} (in {})", p.message, p.origin))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Refusal {
    /// A fixed code for metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Refusal::Unreachable(_) => "unreachable",
            Refusal::Refused(
                CatalogueError::NotTrusted
                | CatalogueError::Signature(_)
                | CatalogueError::Unsigned,
            ) => "bad_signature",
            Refusal::Refused(CatalogueError::Schema(_)) => "schema",
            Refusal::Refused(_) => "invalid",
            Refusal::Older { .. } => "older",
            Refusal::DefinedTwice(_) => "defined_twice",
            Refusal::NoCopyKept { .. } | Refusal::NoCopy { .. } | Refusal::CopyRefused { .. } => {
                "no_copy"
            }
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

impl LiveCatalogue {
    /// Reads every configured catalogue: from its source, else from its last good copy on disk
    /// (checked again). A catalogue that cannot be had either way is logged, counted and left
    /// out until a refresh brings a good edition.
    pub async fn start(
        config: &Config,
        metadata: Arc<LiveMetadata>,
        metrics: Arc<Metrics>,
    ) -> LiveCatalogue {
        let sources = config.catalogues.clone();
        let live = LiveCatalogue {
            current: ArcSwap::from_pointee(Vec::new()),
            configured: config.services.clone(),
            hm_oin: broker_oin(&config.saml.idp_entity_id)
                .unwrap_or_default()
                .to_string(),
            state: Mutex::new(State {
                editions: sources.iter().map(|_| None).collect(),
                built_from: metadata.now(),
                problems: Vec::new(),
                refusals: sources.iter().map(|_| None).collect(),
            }),
            sources,
            metadata,
            metrics,
        };
        for (index, source) in live.sources.iter().enumerate() {
            let fetched = live.fetch(index).await;
            let outcome = match &fetched {
                Ok(_) => Refreshed::Updated.reason_code(),
                Err(reason) => reason.reason_code(),
            };
            live.metrics.catalogue_refreshed(&source.source, outcome);
            let had = match fetched {
                Ok((document, bytes)) => {
                    live.keep_copy(index, &bytes);
                    Ok((document, bytes, "its source"))
                }
                Err(fetched) => live
                    .disk_copy(index, fetched)
                    .map(|(document, bytes)| (document, bytes, "its last good copy")),
            };
            let mut state = live.state.lock();
            match had {
                Ok((document, bytes, from)) => {
                    tracing::info!(catalogue = %source.source, version = %document.version, "service catalogue read from {from}");
                    state.editions[index] = Some(Edition { document, bytes });
                }
                Err(reason) => {
                    tracing::error!(catalogue = %source.source, "service catalogue not in use: {reason}");
                    state.refusals[index] = Some(refusal_problem(source, &reason));
                }
            }
        }
        {
            // At start no edition is refused for a ServiceID or ServiceUUID another defines
            // too: every definition of it is left out, whichever catalogue comes first.
            let mut state = live.state.lock();
            let metadata = live.metadata.now();
            let built = live.build(&state.editions, None, &metadata);
            live.swap_in(&mut state, built, metadata);
        }
        live
    }

    /// The services in use now: one snapshot, for one request.
    pub fn services(&self) -> Arc<Vec<ServiceConfig>> {
        self.current.load_full()
    }

    /// What is wrong now: each catalogue's refusal since its last good edition, and what the
    /// build in use left out.
    pub fn problems(&self) -> Vec<Problem> {
        let state = self.state.lock();
        let refusals = state.refusals.iter().flatten();
        refusals.chain(&state.problems).cloned().collect()
    }

    /// Fetches catalogue `index` and puts it in use if it passes every check; otherwise the
    /// edition in use stays, and the refusal is logged and counted. A good edition is kept as
    /// the last good copy on disk.
    pub async fn refresh(&self, index: usize) -> Result<Refreshed, RefreshError> {
        let source = &self.sources[index];
        let result = match self.fetch(index).await {
            Ok((document, bytes)) => {
                let outcome = self.put_in_use(index, document, &bytes);
                if outcome.is_ok() {
                    self.keep_copy(index, &bytes);
                }
                outcome
            }
            Err(reason) => Err(reason),
        };
        self.follow_metadata();
        let outcome = match &result {
            Ok(outcome) => outcome.reason_code(),
            Err(reason) => reason.reason_code(),
        };
        self.metrics.catalogue_refreshed(&source.source, outcome);
        let mut state = self.state.lock();
        match &result {
            Ok(_) => state.refusals[index] = None,
            Err(reason @ Refusal::Unreachable(_)) => {
                tracing::warn!(catalogue = %source.source, "service catalogue not refreshed, the edition in use stays: {reason}");
                state.refusals[index] = Some(refusal_problem(source, reason));
            }
            Err(reason) => {
                tracing::error!(catalogue = %source.source, "service catalogue refused, the edition in use stays: {reason}");
                state.refusals[index] = Some(refusal_problem(source, reason));
            }
        }
        drop(state);
        result.map_err(|reason| RefreshError {
            origin: source.source.clone(),
            reason,
        })
    }

    /// Builds the services again when the DV metadata changed since they were built (a DV's
    /// metadata names the ServiceIDs it offers); whether it had.
    pub fn follow_metadata(&self) -> bool {
        let metadata = self.metadata.now();
        let mut state = self.state.lock();
        if Arc::ptr_eq(&state.built_from, &metadata) {
            return false;
        }
        let built = self.build(&state.editions, None, &metadata);
        self.swap_in(&mut state, built, metadata);
        true
    }

    /// Catalogue `index` fetched and checked (its signature, schema and content).
    async fn fetch(&self, index: usize) -> Result<(CatalogueDocument, Vec<u8>), Refusal> {
        let source = &self.sources[index];
        let bytes = source::fetch(source).await.map_err(Refusal::Unreachable)?;
        // Verifying and reading is CPU work: off the async workers, at a lower priority.
        let owned = source.clone();
        let (checked, bytes) = refresh::at_low_priority(move || {
            let checked = source::check(&owned, &bytes);
            (checked, bytes)
        })
        .await
        .map_err(|e| Refusal::Refused(CatalogueError::Read(e)))?;
        Ok((checked.map_err(Refusal::Refused)?, bytes))
    }

    /// Keeps `bytes`, the edition of catalogue `index` in use, as its last good copy. Written
    /// again when unchanged too: the copy's time says when it was last confirmed.
    fn keep_copy(&self, index: usize, bytes: &[u8]) {
        let source = &self.sources[index];
        if let Some(file) = &source.cache_file {
            if let Err(e) = copy::store(file, bytes) {
                tracing::warn!(catalogue = %source.source, file = %file.display(), error = %e, "cannot keep the last good copy of a service catalogue");
            }
        }
    }

    /// Catalogue `index` from its copy on disk, checked again (at start, when its source failed
    /// with `fetched`).
    fn disk_copy(
        &self,
        index: usize,
        fetched: Refusal,
    ) -> Result<(CatalogueDocument, Vec<u8>), Refusal> {
        let source = &self.sources[index];
        let fetched = Box::new(fetched);
        let Some(file) = &source.cache_file else {
            return Err(Refusal::NoCopyKept { fetched });
        };
        let file_name = file.display().to_string();
        let checked = match copy::load(file, MAX_CATALOGUE_BYTES) {
            Ok(Some((bytes, _))) => source::check(source, &bytes)
                .map(|document| (document, bytes))
                .map_err(|e| e.to_string()),
            Ok(None) => {
                return Err(Refusal::NoCopy {
                    fetched,
                    file: file_name,
                })
            }
            Err(e) => Err(e.to_string()),
        };
        match checked {
            Ok(had) => {
                tracing::warn!(catalogue = %source.source, file = %file_name, "service catalogue in use from its last good copy: {fetched}");
                Ok(had)
            }
            Err(copy) => Err(Refusal::CopyRefused {
                fetched,
                file: file_name,
                copy,
            }),
        }
    }

    /// Puts a checked edition of catalogue `index` in use, unless it is the one in use, older
    /// than it, or defines a ServiceID or ServiceUUID that something else in use defines too.
    fn put_in_use(
        &self,
        index: usize,
        document: CatalogueDocument,
        bytes: &[u8],
    ) -> Result<Refreshed, Refusal> {
        let origin = self.sources[index].source.as_str();
        let mut state = self.state.lock();
        if let Some(held) = &state.editions[index] {
            if held.bytes == bytes {
                return Ok(Refreshed::Unchanged);
            }
            if document.issue_instant < held.document.issue_instant {
                return Err(Refusal::Older {
                    found: document.issue_instant,
                    current: held.document.issue_instant,
                });
            }
        }
        let metadata = self.metadata.now();
        let built = self.build(&state.editions, Some((index, &document)), &metadata);
        let brought: Vec<Problem> = built
            .problems
            .iter()
            .filter(|p| p.defined_twice_by(origin) && !state.problems.contains(p))
            .cloned()
            .collect();
        if !brought.is_empty() {
            return Err(Refusal::DefinedTwice(brought));
        }
        tracing::info!(catalogue = %origin, version = %document.version, "service catalogue edition in use");
        state.editions[index] = Some(Edition {
            document,
            bytes: bytes.to_vec(),
        });
        self.swap_in(&mut state, built, metadata);
        Ok(Refreshed::Updated)
    }

    /// The effective catalogue of the editions in use, edition `index` replaced by `candidate`.
    fn build(
        &self,
        editions: &[Option<Edition>],
        candidate: Option<(usize, &CatalogueDocument)>,
        metadata: &MetadataSet,
    ) -> Effective {
        let documents: Vec<(&str, &CatalogueDocument)> = editions
            .iter()
            .enumerate()
            .filter_map(|(i, held)| {
                let document = match candidate {
                    Some((index, document)) if index == i => Some(document),
                    _ => held.as_ref().map(|e| &e.document),
                };
                Some((self.sources[i].source.as_str(), document?))
            })
            .collect();
        effective(&self.configured, &documents, metadata, &self.hm_oin)
    }

    /// Makes `built` the services in use.
    fn swap_in(&self, state: &mut State, built: Effective, metadata: Arc<MetadataSet>) {
        for p in built
            .problems
            .iter()
            .filter(|p| !state.problems.contains(p))
        {
            tracing::error!(origin = %p.origin, "service catalogue: {}", p.message);
        }
        if !self.sources.is_empty() {
            tracing::info!(
                services = built.services.len(),
                other_brokers = built.skipped.len(),
                "service catalogue in use"
            );
        }
        for (source, held) in self.sources.iter().zip(&state.editions) {
            self.metrics.catalogue_state(&source.source, held.is_some());
        }
        self.metrics.catalogue_services(built.services.len());
        state.problems = built.problems;
        state.built_from = metadata;
        self.current.store(Arc::new(built.services));
    }
}

fn refusal_problem(source: &CatalogueSource, reason: &Refusal) -> Problem {
    Problem {
        origin: source.source.clone(),
        message: reason.to_string(),
        kind: ProblemKind::Refused,
    }
}

/// Refreshes every catalogue in the background until `live` is dropped elsewhere, each every
/// `refresh_seconds` and with a backoff after a failure (doubling from `retry_seconds`); and
/// builds the services again whenever the DV metadata is swapped.
pub fn spawn_refresh(live: Arc<LiveCatalogue>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks: Vec<_> = live
        .sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            let every = Duration::from_secs(source.refresh_seconds.max(1));
            let backoff = refresh::Backoff::new(source.retry_seconds, source.refresh_seconds);
            refresh::spawn(&live, every, backoff, move |live| async move {
                live.refresh(index).await.map(|_| every).map_err(|_| every)
            })
        })
        .collect();
    let mut swaps = live.metadata.swaps();
    let weak = Arc::downgrade(&live);
    tasks.push(tokio::spawn(async move {
        while swaps.changed().await.is_ok() {
            let Some(live) = weak.upgrade() else { return };
            live.follow_metadata();
        }
    }));
    tasks
}
