//! Counters poort exposes at `/metrics` in the Prometheus text format (prometheus-client).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
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
    /// Single log-outs, by the requester's protocol and how they ended.
    pub logouts: Family<Vec<(String, String)>, Counter>,
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
    /// Logins that ended (allowed or refused), by outcome, reason code and protocol pair
    /// (requester-AD), and by DV and AD when `[ops] per_peer_labels` is on.
    pub logins: Family<Labels, Counter>,
    /// Seconds from a login's start to its end, by protocol pair.
    pub login_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    /// Seconds of each step of a login (`artifact_resolve`, `ad_answer_verify`,
    /// `grants_resolve`, `answer_sign`, `upstream_token`).
    pub step_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    /// Requests refused by `[limits]` (rate limits and caps), by reason code.
    pub limit_refusals: Family<Labels, Counter>,
    /// Failed calls to the store of pending logins (Redis or in-process).
    pub flow_store_errors: Counter,
    /// Pending logins this process holds (set when `/metrics` is read).
    pub pending_flows: Gauge,
    /// Login decisions queued for the audit trail, and the spool file's size in bytes.
    pub audit_queue: Gauge,
    pub audit_spool_bytes: Gauge,
    /// Seconds until the last certificate of an owner (`poort` or a peer's entity ID) for a use
    /// (`signing`, `encryption`) expires; negative once expired.
    pub certificate_expiry_seconds: Family<Labels, Gauge>,
    /// Seconds until a trusted peer's metadata reaches its validUntil.
    pub metadata_valid_seconds: Family<Labels, Gauge>,
    /// Refreshes of a metadata aggregate, by aggregate (its configured source) and outcome
    /// (`updated`, `unchanged` or the refusal's reason code: a fixed set).
    pub aggregate_refreshes: Family<Labels, Counter>,
    /// Whether an aggregate is in use (1), or none of it is because its copy expired, went
    /// stale or never verified (0).
    pub aggregate_in_use: Family<Labels, Gauge>,
    /// Seconds until the aggregate in use reaches its validUntil.
    pub aggregate_valid_seconds: Family<Labels, Gauge>,
    /// Refreshes of a signed service catalogue, by catalogue (its configured source) and
    /// outcome (`updated`, `unchanged` or the refusal's reason code: a fixed set).
    pub catalogue_refreshes: Family<Labels, Counter>,
    /// Whether an edition of a service catalogue is in use (1) or none is (0).
    pub catalogue_in_use: Family<Labels, Gauge>,
    /// The services in use: the config file's and the catalogues'.
    pub catalogue_services: Gauge,
    per_peer_labels: bool,
}

/// Label pairs of a metric family.
pub type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn step_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

fn login_histogram() -> Histogram {
    Histogram::new([
        0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0,
    ])
}

/// How a login ended, for [`Metrics::login_ended`]. (Alike in form only to other structs of
/// borrowed inputs, such as the assertion's `AssertionContent`: nothing to share.)
pub struct LoginEnd<'a> {
    /// `allowed` or `refused`.
    pub outcome: &'a str,
    /// The refusal's reason code; empty when allowed.
    pub reason: &'a str,
    /// Requester protocol, then AD protocol: `saml-saml`, `oidc-saml`, `admin-oidc`, ….
    pub protocols: &'a str,
    pub dv: &'a str,
    pub ad: &'a str,
    /// From the login's start, when known.
    pub seconds: Option<f64>,
}

impl Metrics {
    /// The counters of a process; `per_peer_labels` adds the DV and AD to login counts.
    pub fn new(per_peer_labels: bool) -> Metrics {
        Metrics {
            per_peer_labels,
            ..Metrics::default()
        }
    }

    /// Counts a login that ended.
    pub fn login_ended(&self, end: &LoginEnd<'_>) {
        let mut pairs = vec![
            ("outcome", end.outcome),
            ("reason", end.reason),
            ("protocols", end.protocols),
        ];
        if self.per_peer_labels {
            pairs.extend([("dv", end.dv), ("ad", end.ad)]);
        }
        self.logins.get_or_create(&labels(&pairs)).inc();
        if let Some(seconds) = end.seconds {
            self.login_seconds
                .get_or_create(&labels(&[("protocols", end.protocols)]))
                .observe(seconds);
        }
    }

    /// Records how long a step of a login took.
    pub fn step(&self, step: &str, started: std::time::Instant) {
        self.step_seconds
            .get_or_create(&labels(&[("step", step)]))
            .observe(started.elapsed().as_secs_f64());
    }

    /// Counts a request refused by `[limits]`.
    pub fn limit_refused(&self, reason: &str) {
        self.limit_refusals
            .get_or_create(&labels(&[("reason", reason)]))
            .inc();
    }

    /// Sets the expiry gauges of one owner's certificates for one use (the latest expiry
    /// counts: the owner can sign or decrypt until the last of them ends).
    pub fn certificates(
        &self,
        owner: &str,
        usage: &str,
        not_after: impl IntoIterator<Item = chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        if let Some(last) = not_after.into_iter().max() {
            self.certificate_expiry_seconds
                .get_or_create(&labels(&[("owner", owner), ("use", usage)]))
                .set((last - now).num_seconds());
        }
    }

    /// Counts one refresh of the aggregate from `source`.
    pub fn aggregate_refreshed(&self, source: &str, outcome: &str) {
        self.aggregate_refreshes
            .get_or_create(&labels(&[("aggregate", source), ("outcome", outcome)]))
            .inc();
    }

    /// Whether the aggregate from `source` is in use, and until when.
    pub fn aggregate_state(
        &self,
        source: &str,
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let key = labels(&[("aggregate", source)]);
        self.aggregate_in_use
            .get_or_create(&key)
            .set(i64::from(valid_until.is_some()));
        self.aggregate_valid_seconds
            .get_or_create(&key)
            .set(valid_until.map_or(0, |v| (v - now).num_seconds()));
    }

    /// Counts one refresh of the service catalogue from `source`.
    pub fn catalogue_refreshed(&self, source: &str, outcome: &str) {
        self.catalogue_refreshes
            .get_or_create(&labels(&[("catalogue", source), ("outcome", outcome)]))
            .inc();
    }

    /// Whether an edition of the service catalogue from `source` is in use.
    pub fn catalogue_state(&self, source: &str, in_use: bool) {
        self.catalogue_in_use
            .get_or_create(&labels(&[("catalogue", source)]))
            .set(i64::from(in_use));
    }

    /// How many services are in use.
    pub fn catalogue_services(&self, count: usize) {
        self.catalogue_services
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Counts one request at poort's ArtifactResolutionService.
    pub fn artifact_resolution(&self, outcome: &str) {
        self.artifact_resolutions
            .get_or_create(&vec![("outcome".to_string(), outcome.to_string())])
            .inc();
    }

    /// Counts one step of a single log-out (`protocol`: "saml" or "oidc").
    pub fn logout(&self, protocol: &str, outcome: &str) {
        self.logouts
            .get_or_create(&vec![
                ("protocol".to_string(), protocol.to_string()),
                ("outcome".to_string(), outcome.to_string()),
            ])
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
            logouts: Family::default(),
            backchannel_resolutions: Family::default(),
            mail_outbox_queued: Gauge::default(),
            mail_sent: Counter::default(),
            mail_failed: Counter::default(),
            logins: Family::default(),
            login_seconds: Family::new_with_constructor(login_histogram),
            step_seconds: Family::new_with_constructor(step_histogram),
            limit_refusals: Family::default(),
            flow_store_errors: Counter::default(),
            pending_flows: Gauge::default(),
            audit_queue: Gauge::default(),
            audit_spool_bytes: Gauge::default(),
            certificate_expiry_seconds: Family::default(),
            metadata_valid_seconds: Family::default(),
            aggregate_refreshes: Family::default(),
            aggregate_in_use: Family::default(),
            aggregate_valid_seconds: Family::default(),
            catalogue_refreshes: Family::default(),
            catalogue_in_use: Family::default(),
            catalogue_services: Gauge::default(),
            per_peer_labels: false,
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
            "logouts",
            "Single log-outs, by requester protocol and outcome (forwarded to the AD, completed, ad_failed, not_possible, refused)",
            m.logouts.clone(),
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
        registry.register(
            "logins",
            "Logins that ended, by outcome, reason code and protocol pair",
            m.logins.clone(),
        );
        registry.register(
            "login_duration_seconds",
            "Seconds from a login's start to its end, by protocol pair",
            m.login_seconds.clone(),
        );
        registry.register(
            "login_step_duration_seconds",
            "Seconds of each step of a login",
            m.step_seconds.clone(),
        );
        registry.register(
            "limit_refusals",
            "Requests refused by the rate limits and caps, by reason code",
            m.limit_refusals.clone(),
        );
        registry.register(
            "flow_store_errors",
            "Failed calls to the store of pending logins",
            m.flow_store_errors.clone(),
        );
        registry.register(
            "pending_flows",
            "Pending logins this process holds",
            m.pending_flows.clone(),
        );
        registry.register(
            "audit_queue",
            "Login decisions queued for the audit trail",
            m.audit_queue.clone(),
        );
        registry.register(
            "audit_spool_bytes",
            "Size of the audit spool file (decisions waiting for the database)",
            m.audit_spool_bytes.clone(),
        );
        registry.register(
            "certificate_expiry_seconds",
            "Seconds until the last certificate of an owner for a use expires",
            m.certificate_expiry_seconds.clone(),
        );
        registry.register(
            "metadata_valid_seconds",
            "Seconds until a trusted peer's metadata reaches its validUntil",
            m.metadata_valid_seconds.clone(),
        );
        registry.register(
            "metadata_aggregate_refreshes",
            "Refreshes of a signed metadata aggregate, by aggregate and outcome",
            m.aggregate_refreshes.clone(),
        );
        registry.register(
            "metadata_aggregate_in_use",
            "Whether a metadata aggregate is in use (0: expired, stale or never verified)",
            m.aggregate_in_use.clone(),
        );
        registry.register(
            "metadata_aggregate_valid_seconds",
            "Seconds until the metadata aggregate in use reaches its validUntil",
            m.aggregate_valid_seconds.clone(),
        );
        registry.register(
            "catalogue_refreshes",
            "Refreshes of a signed service catalogue, by catalogue and outcome",
            m.catalogue_refreshes.clone(),
        );
        registry.register(
            "catalogue_in_use",
            "Whether an edition of a service catalogue is in use (0: none ever passed its checks)",
            m.catalogue_in_use.clone(),
        );
        registry.register(
            "catalogue_services",
            "Services in use: the config file's and the signed catalogues'",
            m.catalogue_services.clone(),
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
