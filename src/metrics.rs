//! Counters poort exposes at `/metrics` in the Prometheus text format (prometheus-client).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Every counter of one process. Cheap to clone parts of: counters are shared handles.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Grant sets served from the cache.
    pub grant_cache_hits: Counter,
    /// Grant sets read from the database because the cache had none (or a stale one).
    pub grant_cache_misses: Counter,
    /// Grant sets read from the database because the cache was unreachable or recovering.
    pub grant_cache_bypassed: Counter,
    /// Failed calls to Redis (reads, writes, invalidations).
    pub grant_cache_errors: Counter,
    /// Identity links invalidated after register writes.
    pub grant_cache_invalidations: Counter,
    /// Invalidations waiting in the database outbox for Redis to come back.
    pub grant_cache_outbox_pending: Gauge,
    /// Grant uses written to the register (last_used_at).
    pub grant_uses_recorded: Counter,
    /// Grant uses dropped because the writer fell behind.
    pub grant_uses_dropped: Counter,
    /// Login decisions written to the audit trail.
    pub login_decisions_audited: Counter,
    /// Login decisions the database refused, kept in the spool file to be written later.
    pub login_decisions_spooled: Counter,
    /// Login decisions not written to the audit trail (writer behind, or neither the database
    /// nor the spool file took them).
    pub login_decisions_lost: Counter,
    /// Requests at poort's ArtifactResolutionService, by outcome (`resolved` or the refusal's
    /// reason code: a fixed set).
    pub artifact_resolutions: Family<Vec<(String, String)>, Counter>,
    /// poort's own resolutions at peers' ArtifactResolutionServices, by peer role and outcome
    /// (`resolved`, `unavailable`, `rejected`).
    pub backchannel_resolutions: Family<Vec<(String, String)>, Counter>,
    /// Mails waiting in the register's outbox (due or scheduled for another attempt), as the
    /// mail worker last counted them.
    pub mail_outbox_queued: Gauge,
    /// Mails this process delivered.
    pub mail_sent: Counter,
    /// Mails this process gave up after their last attempt.
    pub mail_failed: Counter,
}

impl Metrics {
    /// Counts one request at poort's ArtifactResolutionService.
    pub fn artifact_resolution(&self, outcome: &str) {
        self.artifact_resolutions
            .get_or_create(&vec![("outcome".to_string(), outcome.to_string())])
            .inc();
    }

    /// Counts one of poort's resolutions at a peer (`peer`: "dv" or "ad").
    pub fn backchannel_resolution(&self, peer: &str, outcome: &str) {
        self.backchannel_resolutions
            .get_or_create(&vec![
                ("peer".to_string(), peer.to_string()),
                ("outcome".to_string(), outcome.to_string()),
            ])
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("poort");
        let m = Metrics {
            grant_cache_hits: Counter::default(),
            grant_cache_misses: Counter::default(),
            grant_cache_bypassed: Counter::default(),
            grant_cache_errors: Counter::default(),
            grant_cache_invalidations: Counter::default(),
            grant_cache_outbox_pending: Gauge::default(),
            grant_uses_recorded: Counter::default(),
            grant_uses_dropped: Counter::default(),
            login_decisions_audited: Counter::default(),
            login_decisions_spooled: Counter::default(),
            login_decisions_lost: Counter::default(),
            artifact_resolutions: Family::default(),
            backchannel_resolutions: Family::default(),
            mail_outbox_queued: Gauge::default(),
            mail_sent: Counter::default(),
            mail_failed: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "grant_cache_hits",
            "Grant sets served from the cache",
            m.grant_cache_hits.clone(),
        );
        registry.register(
            "grant_cache_misses",
            "Grant sets read from the database after a cache miss",
            m.grant_cache_misses.clone(),
        );
        registry.register(
            "grant_cache_bypassed",
            "Grant sets read from the database because the cache was unreachable or recovering",
            m.grant_cache_bypassed.clone(),
        );
        registry.register(
            "grant_cache_errors",
            "Failed calls to the grant cache (Redis)",
            m.grant_cache_errors.clone(),
        );
        registry.register(
            "grant_cache_invalidations",
            "Identity links invalidated after register writes",
            m.grant_cache_invalidations.clone(),
        );
        registry.register(
            "grant_cache_outbox_pending",
            "Invalidations waiting in the database for Redis to come back",
            m.grant_cache_outbox_pending.clone(),
        );
        registry.register(
            "grant_uses_recorded",
            "Grant uses written to the register",
            m.grant_uses_recorded.clone(),
        );
        registry.register(
            "grant_uses_dropped",
            "Grant uses not written because the writer fell behind",
            m.grant_uses_dropped.clone(),
        );
        registry.register(
            "login_decisions_audited",
            "Login decisions written to the audit trail",
            m.login_decisions_audited.clone(),
        );
        registry.register(
            "login_decisions_spooled",
            "Login decisions kept in the spool file while the database refused them",
            m.login_decisions_spooled.clone(),
        );
        registry.register(
            "login_decisions_lost",
            "Login decisions the audit trail did not get (writer behind, or database and spool both failed)",
            m.login_decisions_lost.clone(),
        );
        registry.register(
            "artifact_resolutions",
            "Requests at poort's ArtifactResolutionService, by outcome",
            m.artifact_resolutions.clone(),
        );
        registry.register(
            "backchannel_resolutions",
            "poort's artifact resolutions at peers, by peer role and outcome",
            m.backchannel_resolutions.clone(),
        );
        registry.register(
            "mail_outbox_queued",
            "Mails waiting in the register's outbox",
            m.mail_outbox_queued.clone(),
        );
        registry.register(
            "mail_sent",
            "Mails this process delivered",
            m.mail_sent.clone(),
        );
        registry.register(
            "mail_failed",
            "Mails given up after their last attempt",
            m.mail_failed.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error would only mean a malformed metric name.
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!("encoding metrics: {e}");
        }
        out
    }
}
