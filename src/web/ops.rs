//! The ops listener: `/metrics`, `/healthz` and `/readyz`, served on their own address
//! (`[ops] listen`) so that neither the counters nor the state of the stores are public.

use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long one readiness check may take: a dependency that does not answer within it counts
/// as down, so `/readyz` answers within about a second whatever hangs.
const CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// Whether the process is shutting down: readiness answers 503 from the moment it begins, so
/// that the load balancer stops sending new logins while those in flight finish.
#[derive(Debug, Default)]
pub struct Draining(AtomicBool);

impl Draining {
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    refresh_gauges(&state);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Sets the gauges that describe the process's state rather than count events: pending
/// logins, the audit queue and spool, and how long certificates and metadata stay valid. Read
/// at scrape time, so nothing on the login path keeps them up to date.
fn refresh_gauges(state: &AppState) {
    let m = &state.metrics;
    let now = chrono::Utc::now();
    m.pending_flows.set(state.limits.flow_caps().held() as i64);
    m.audit_queue.set(state.login_audit.queued() as i64);
    let spool = std::fs::metadata(&state.config.register.audit_spool).map_or(0, |f| f.len());
    m.audit_spool_bytes
        .set(i64::try_from(spool).unwrap_or(i64::MAX));
    let own = crate::keys::not_after;
    m.certificates("poort", "signing", own(&state.signing.cert_der), now);
    m.certificates("poort", "encryption", own(&state.decryption.cert_der), now);
    let valid = |entity: &str, until: Option<chrono::DateTime<chrono::Utc>>| {
        if let Some(until) = until {
            m.metadata_valid_seconds
                .get_or_create(&vec![("entity".to_string(), entity.to_string())])
                .set((until - now).num_seconds());
        }
    };
    for dv in state.metadata().sps.values() {
        let signing = dv.signing_keys.iter().map(|c| c.not_after);
        m.certificates(&dv.entity_id, "signing", signing, now);
        let encryption = dv.encryption_keys.iter().map(|c| c.not_after);
        m.certificates(&dv.entity_id, "encryption", encryption, now);
        valid(&dv.entity_id, dv.valid_until);
    }
    for ad in &state.metadata().idps {
        let signing = ad.signing_keys.iter().map(|c| c.not_after);
        m.certificates(&ad.entity_id, "signing", signing, now);
        valid(&ad.entity_id, ad.valid_until);
    }
}

/// One check of `/readyz`. `critical` ones decide readiness; the others are reported (the grant
/// cache: logins fall back to the database without it).
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let readiness = readiness(&state).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

/// Runs every check at once, each bounded by [`CHECK_TIMEOUT`].
pub async fn readiness(state: &AppState) -> Readiness {
    let (database, flows, cache) = tokio::join!(
        bounded(async { state.registry.sql().ping().await.map_err(|e| e.to_string()) }),
        bounded(async { state.flows.ping().await.map_err(|e| e.to_string()) }),
        bounded(async { state.registry.ping_cache().await.map_err(|e| e.to_string()) }),
    );
    let mut checks = vec![
        Check::of("register_database", true, database),
        Check::of(
            if state.flows.is_shared() {
                "state_redis"
            } else {
                "state_in_process"
            },
            true,
            flows,
        ),
        Check::of(
            if state.registry.cache_is_shared() {
                "grant_cache_redis"
            } else {
                "grant_cache_in_process"
            },
            false,
            cache,
        ),
        Check::of("keys_and_metadata", true, peers_loaded(state)),
        Check::of(
            "audit_spool",
            true,
            spool_writable(&state.config.register.audit_spool),
        ),
    ];
    if state.draining.is_draining() {
        checks.insert(0, Check::of("shutdown", true, Err("shutting down".into())));
    }
    Readiness {
        ready: checks.iter().all(|c| c.ok || !c.critical),
        checks,
    }
}

impl Check {
    fn of(name: &'static str, critical: bool, result: Result<(), String>) -> Check {
        Check {
            name,
            critical,
            ok: result.is_ok(),
            detail: result.err(),
        }
    }
}

async fn bounded(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())))
}

/// poort can serve logins only with someone to log in for and somewhere to log in.
fn peers_loaded(state: &AppState) -> Result<(), String> {
    let dvs = state.metadata().sps.len() + state.config.oidc_clients.len();
    let ads = state.metadata().idps.len() + state.config.oidc_providers.len();
    match (dvs, ads) {
        (0, _) => Err("no trusted service (DV metadata or OIDC client) is loaded".into()),
        (_, 0) => Err("no trusted identity provider (AD metadata or OIDC AD) is loaded".into()),
        _ => Ok(()),
    }
}

/// The spool takes login decisions the database refuses: its folder must take a file.
fn spool_writable(spool: &std::path::Path) -> Result<(), String> {
    let dir = spool
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(format!(".poort-ready-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("{}: {e}", dir.display()))?;
    // Leaving the probe behind would be harmless; removing it keeps the folder clean.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
