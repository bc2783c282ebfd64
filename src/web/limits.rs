//! `[limits]` at the HTTP edge: how many logins anonymous clients may start and hold, and how
//! often an OIDC client may call the token endpoint.
//!
//! - Login starts (`/saml/sso`, `/oidc/authorize`, `/admin/login`, an invitation link) are
//!   rate-limited per client address (`login_starts_per_minute`), `/admin/login` also by
//!   `admin_logins_per_minute`; the answer is a page with 429 and `Retry-After`.
//! - Every login start reserves a slot in [`FlowCaps`] (per process and per client address)
//!   before its pending flow is stored; past a cap the answer is a page with 503 (the process is
//!   full) or 429 (this client holds too many), with `Retry-After`.
//! - `/oidc/token` is rate-limited per configured OIDC client (`token_requests_per_minute`),
//!   inside the handler, which has read the client's name from Basic or the form.
//!
//! The rate limiters are governor's keyed GCRA limiters (the crate under tower_governor, used
//! directly so that the refusal is a page in the person's language with an exact `Retry-After`).
//! Their memory is bounded: a key whose quota is whole again is dropped ([`KeyedLimit`] sweeps
//! every so many requests), so they hold about the clients seen within the last minute; IPv6
//! clients are counted per /64 ([`Client::key`]).
//!
//! This module decides and says why ([`Refusal`]); the words are in `errors.rs` (beside every
//! other refusal's) and the page is made by `pages.rs`, so that it depends on neither.

use super::client::{parse_trusted_proxies, Client, TrustedProxies, TrustedProxyError};
use super::i18n::Lang;
use super::AppState;
use crate::config::Config;
use crate::store::{Admission, CapConfigError, CapRefusal, FlowCaps, FlowStore, LimitedFlowStore};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a person is asked to wait when a cap (not a rate) refused them.
const CAP_RETRY_SECONDS: u64 = 60;

/// A limiter's map is swept of finished keys after this many requests, or after as many
/// requests as it kept at the last sweep if those are more.
const FIRST_SWEEP: usize = 4096;

/// Why poort will not start (another) login for a client now. Nothing is wrong with the login
/// itself, so no requester gets a protocol error: the person gets a page and `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// This process holds as many pending logins as it may (503).
    Busy,
    /// This client address has as many logins open as it may (429).
    TooManyOpen,
    /// This client address started too many logins in the last minute (429).
    TooManyStarts,
    /// This client address tried the admin module's login too often (429).
    TooManyAdminLogins,
}

impl Overload {
    pub fn status(self) -> StatusCode {
        match self {
            Overload::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// A short code for logs.
    pub fn reason_code(self) -> &'static str {
        match self {
            Overload::Busy => "busy",
            Overload::TooManyOpen => "too_many_open_logins",
            Overload::TooManyStarts => "too_many_login_starts",
            Overload::TooManyAdminLogins => "too_many_admin_logins",
        }
    }
}

/// A refused login start: why, and how many whole seconds the person is asked to wait. What
/// they read is `ErrorText::from(refusal)` (`errors.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub why: Overload,
    pub retry_after: u64,
}

impl Refusal {
    /// A rate limit's refusal: the wait in whole seconds, rounded up.
    fn after(why: Overload, wait: Duration) -> Refusal {
        Refusal {
            why,
            retry_after: retry_seconds(wait),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error(transparent)]
    Proxies(#[from] TrustedProxyError),
    #[error(transparent)]
    Caps(#[from] CapConfigError),
    #[error("[limits] {0} must be at least 1")]
    ZeroRate(&'static str),
    #[error("[limits] upstream_max_response_bytes must be at least 1")]
    ZeroResponseBytes,
}

/// A keyed rate limiter whose memory stays bounded. A request adds one key at most, so sweeping
/// after as many requests as the map kept at the last sweep (at least [`FIRST_SWEEP`]) keeps it
/// within twice that, without asking its size (a lock on every shard) on each request.
struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    /// Requests since the last sweep, and after how many the next one comes.
    since_sweep: AtomicUsize,
    sweep_after: AtomicUsize,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    fn per_minute(n: u32, name: &'static str) -> Result<KeyedLimit<K>, LimitsError> {
        let n = NonZeroU32::new(n).ok_or(LimitsError::ZeroRate(name))?;
        Ok(KeyedLimit {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
            since_sweep: AtomicUsize::new(0),
            sweep_after: AtomicUsize::new(FIRST_SWEEP),
        })
    }

    /// Counts one request under `key`: allowed, or how long until the next one would be.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let outcome = self
            .limiter
            .check_key(key)
            .map_err(|until| until.wait_time_from(self.limiter.clock().now()));
        let since = self.since_sweep.fetch_add(1, Ordering::Relaxed) + 1;
        if since >= self.sweep_after.load(Ordering::Relaxed) {
            self.since_sweep.store(0, Ordering::Relaxed);
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            let kept = self.limiter.len();
            self.sweep_after
                .store(kept.max(FIRST_SWEEP), Ordering::Relaxed);
        }
        outcome
    }
}

/// The limits of one process.
pub struct Limits {
    proxies: TrustedProxies,
    flows: Arc<FlowCaps>,
    login_starts: KeyedLimit<IpAddr>,
    admin_logins: KeyedLimit<IpAddr>,
    token_requests: KeyedLimit<String>,
}

impl Limits {
    /// The limits of `[limits]` and `[server] trusted_proxies`; every value checked.
    pub fn from_config(config: &Config) -> Result<Limits, LimitsError> {
        let l = &config.limits;
        if l.upstream_max_response_bytes == 0 {
            return Err(LimitsError::ZeroResponseBytes);
        }
        Ok(Limits {
            proxies: parse_trusted_proxies(&config.server.trusted_proxies)?,
            flows: Arc::new(FlowCaps::new(l.max_pending_flows, l.max_flows_per_client)?),
            login_starts: KeyedLimit::per_minute(
                l.login_starts_per_minute,
                "login_starts_per_minute",
            )?,
            admin_logins: KeyedLimit::per_minute(
                l.admin_logins_per_minute,
                "admin_logins_per_minute",
            )?,
            token_requests: KeyedLimit::per_minute(
                l.token_requests_per_minute,
                "token_requests_per_minute",
            )?,
        })
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// `store` with the flow caps told when admitted flows are stored and taken: the flow store
    /// poort must use, so that slots come free.
    pub fn wrap_store(&self, store: Arc<dyn FlowStore>) -> Arc<dyn FlowStore> {
        Arc::new(LimitedFlowStore::new(store, self.flows.clone()))
    }

    /// The flow caps (what they hold, for tests and operators).
    pub fn flow_caps(&self) -> &Arc<FlowCaps> {
        &self.flows
    }

    /// Reserves a slot for a new pending flow stored under `key`.
    pub fn admit_flow(
        &self,
        key: &str,
        client: &Client,
        expires_at: DateTime<Utc>,
    ) -> Result<Admission, CapRefusal> {
        self.flows.admit(key, client.key(), expires_at, Utc::now())
    }

    /// Counts a request at `/oidc/token` for a configured client.
    pub fn token_request(&self, client_id: &str) -> Result<(), Duration> {
        self.token_requests.check(&client_id.to_string())
    }
}

/// Whole seconds to wait, rounded up, at least one.
pub fn retry_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The page for a refused login start, with its status and `Retry-After`.
fn refused(state: &AppState, lang: Lang, refusal: Refusal) -> Response {
    let reference = crate::telemetry::new_reference();
    // The reference and the reason only: the client's address is personal data.
    tracing::info!(reference = %reference, reason = refusal.why.reason_code(), retry_after = refusal.retry_after, "login start refused");
    state.metrics.limit_refused(refusal.why.reason_code());
    let mut response = state.pages.error(lang, &refusal.into(), &reference, None);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(refusal.retry_after));
    response
}

/// The page for a flow the caps did not admit.
pub fn cap_refused(state: &AppState, lang: Lang, refusal: CapRefusal) -> Response {
    let why = match refusal {
        CapRefusal::Busy(_) => Overload::Busy,
        CapRefusal::ClientFull(_) => Overload::TooManyOpen,
    };
    refused(
        state,
        lang,
        Refusal {
            why,
            retry_after: CAP_RETRY_SECONDS,
        },
    )
}

/// Middleware on the login starts: `login_starts_per_minute` per client address.
pub async fn login_starts(
    State(state): State<Arc<AppState>>,
    client: Client,
    request: Request,
    next: Next,
) -> Response {
    match state.limits.login_starts.check(&client.key()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let lang = Lang::from_headers(request.headers());
            refused(&state, lang, Refusal::after(Overload::TooManyStarts, wait))
        }
    }
}

/// Middleware on `/admin/login`: `admin_logins_per_minute` per client address.
pub async fn admin_logins(
    State(state): State<Arc<AppState>>,
    client: Client,
    request: Request,
    next: Next,
) -> Response {
    match state.limits.admin_logins.check(&client.key()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let lang = Lang::from_headers(request.headers());
            refused(
                &state,
                lang,
                Refusal::after(Overload::TooManyAdminLogins, wait),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(retry_seconds(Duration::ZERO), 1);
        assert_eq!(retry_seconds(Duration::from_millis(200)), 1);
        assert_eq!(retry_seconds(Duration::from_secs(20)), 20);
        assert_eq!(retry_seconds(Duration::from_millis(20_001)), 21);
    }

    #[test]
    fn a_rate_limit_counts_per_key_and_says_how_long_to_wait() {
        let limit = KeyedLimit::<u32>::per_minute(3, "x").expect("limit");
        for _ in 0..3 {
            assert!(limit.check(&1).is_ok());
        }
        let wait = limit.check(&1).expect_err("the fourth in a minute");
        // One request comes back every 20 seconds.
        assert!(
            wait <= Duration::from_secs(20) && wait > Duration::from_secs(19),
            "{wait:?}"
        );
        assert!(limit.check(&2).is_ok(), "another key has its own quota");
        assert_eq!(
            KeyedLimit::<u32>::per_minute(0, "login_starts_per_minute").err(),
            Some(LimitsError::ZeroRate("login_starts_per_minute"))
        );
    }

    #[test]
    fn a_limiter_forgets_keys_whose_quota_is_whole_again() {
        // 60 000 a minute: one request's mark on a key is gone after a millisecond.
        let limit = KeyedLimit::<u32>::per_minute(60_000, "x").expect("limit");
        for key in 1..FIRST_SWEEP as u32 {
            assert!(limit.check(&key).is_ok());
        }
        assert_eq!(limit.limiter.len(), FIRST_SWEEP - 1);
        // Past every key's millisecond (a bound on the clock, not a race)...
        std::thread::sleep(Duration::from_millis(5));
        // ...the request that brings the count to the sweep size drops every finished key.
        assert!(limit.check(&0).is_ok());
        assert_eq!(limit.limiter.len(), 1, "only the key just used is kept");
    }
}
