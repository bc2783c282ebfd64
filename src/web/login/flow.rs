//! A login in progress: the pending flow kept in the flow store between the person's steps,
//! bound to the browser that began it, and the per-request context every step shares.

use crate::domain::decision::Candidate;
use crate::domain::login::{AuthnIntent, AuthnResult};
use crate::grants::ServiceRef;
use crate::saml::xml;
use crate::web::client::Client;
use crate::web::cookies;
use crate::web::errors::LoginError;
use crate::web::i18n::Lang;
use crate::web::AppState;
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A login in progress, kept in the flow store between the person's steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingFlow {
    pub id: String,
    /// Random value also set as a cookie: the flow continues only in the browser that began it.
    pub browser: String,
    pub intent: AuthnIntent,
    pub service: ServiceRef,
    pub service_name: (String, String),
    pub idp: Option<String>,
    /// The ID of the upstream request: a SAML request ID, or the OIDC `state`.
    pub upstream_request_id: Option<String>,
    /// For an OIDC AD: the nonce and PKCE verifier its answer must match.
    #[serde(default)]
    pub upstream_oidc: Option<UpstreamOidcSecrets>,
    /// An OIDC client's `max_age`: the AD's authentication may be at most this many seconds
    /// old (a session older than that does not answer, and the AD is asked to authenticate
    /// anew).
    #[serde(default)]
    pub max_age_seconds: Option<i64>,
    /// How the AD named its session in its answer (SAML: NameID and SessionIndex), kept with
    /// the login session for the log-out message poort forwards to the AD.
    #[serde(default)]
    pub upstream_session: crate::domain::session::UpstreamSession,
    /// "Onthoud mijn keuze" was ticked on the AD choice page: once the AD has authenticated
    /// the person, the browser remembers that AD.
    #[serde(default)]
    pub remember_idp: bool,
    pub result: Option<AuthnResult>,
    pub candidates: Vec<Candidate>,
    /// The register's person behind the identity (admin logins, which open a session for them).
    #[serde(default)]
    pub person_id: Option<String>,
    /// The `traceparent` of the request that began the login: its later requests, on any
    /// replica, continue that trace.
    #[serde(default)]
    pub trace: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl PendingFlow {
    /// A new login for `intent`, bound to this browser (its cookie when it carries a
    /// well-formed one, so several logins in one browser share it; a new random value
    /// otherwise), expiring after `[saml] flow_lifetime_seconds`.
    pub(super) fn new(
        state: &AppState,
        ctx: &Ctx,
        intent: AuthnIntent,
        service: ServiceRef,
        service_name: (String, String),
    ) -> PendingFlow {
        let browser = ctx
            .browser_cookie
            .clone()
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
        PendingFlow {
            id: xml::new_id(),
            browser,
            intent,
            service,
            service_name,
            idp: None,
            upstream_request_id: None,
            upstream_oidc: None,
            max_age_seconds: None,
            upstream_session: Default::default(),
            remember_idp: false,
            result: None,
            candidates: Vec::new(),
            person_id: None,
            trace: None,
            expires_at: Utc::now() + Duration::seconds(state.config.saml.flow_lifetime_seconds),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamOidcSecrets {
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Every identity provider poort can send a person to: SAML ADs from metadata, then OIDC ADs
/// from config (by issuer).
pub(super) fn all_idps(state: &AppState) -> Vec<String> {
    state
        .metadata()
        .idps
        .iter()
        .map(|i| i.entity_id.clone())
        .chain(state.upstream_oidc.iter().map(|p| p.issuer().to_string()))
        .collect()
}

/// `?flow=...` on the pages of a pending login.
#[derive(Deserialize)]
pub struct FlowQuery {
    pub(super) flow: String,
}

/// Per-request context: language and the reference number shown to the person and logged.
pub(super) struct Ctx {
    pub(super) lang: Lang,
    pub(super) reference: String,
    pub(super) browser_cookie: Option<String>,
    /// The ID of this browser's login session at poort, if it has one (`login::session`).
    pub(super) login_session: Option<String>,
    /// Who started the login (set at login starts, which are capped per client).
    pub(super) client: Option<Client>,
}

impl Ctx {
    pub(super) fn new(headers: &HeaderMap) -> Ctx {
        Ctx {
            lang: Lang::from_headers(headers),
            reference: crate::telemetry::new_reference(),
            browser_cookie: cookies::read(headers, cookies::BROWSER),
            login_session: cookies::read(headers, cookies::LOGIN_SESSION),
            client: None,
        }
    }

    /// The context of a login start, by `client`.
    pub(super) fn start(headers: &HeaderMap, client: Client) -> Ctx {
        Ctx {
            client: Some(client),
            ..Ctx::new(headers)
        }
    }
}

/// The flow store key of a pending flow.
pub(super) fn flow_key(id: &str) -> String {
    format!("flow:{id}")
}

/// A failed call to the store of pending logins: counted, and an internal error.
pub(super) fn store_failed(state: &AppState, e: crate::store::StoreError) -> LoginError {
    state.metrics.flow_store_errors.inc();
    LoginError::Internal(e.to_string())
}

pub(super) async fn save(state: &AppState, flow: &PendingFlow) -> Result<(), LoginError> {
    let bytes = serde_json::to_vec(flow).map_err(|e| LoginError::Internal(e.to_string()))?;
    state
        .flows
        .put(&flow_key(&flow.id), bytes, flow.expires_at)
        .await
        .map_err(|e| store_failed(state, e))
}

/// Loads a flow for this browser; `consume` then removes it, so that it is answered at most
/// once. The browser is checked before anything is removed: another browser that knows the flow
/// ID can neither continue nor spoil it.
pub(super) async fn load(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    consume: bool,
) -> Result<PendingFlow, LoginError> {
    let key = flow_key(id);
    let internal = |e: crate::store::StoreError| store_failed(state, e);
    let bytes = state
        .flows
        .get(&key, Utc::now())
        .await
        .map_err(internal)?
        .ok_or(LoginError::UnknownFlow)?;
    let flow: PendingFlow =
        serde_json::from_slice(&bytes).map_err(|e| LoginError::Internal(e.to_string()))?;
    if let Some(trace) = &flow.trace {
        crate::telemetry::continue_trace(trace);
    }
    crate::telemetry::note_flow(&flow.id);
    if ctx.browser_cookie.as_deref() != Some(flow.browser.as_str()) {
        return Err(LoginError::OtherBrowser);
    }
    // Of two concurrent requests from this browser, only one takes the flow.
    if consume
        && state
            .flows
            .take(&key, Utc::now())
            .await
            .map_err(internal)?
            .is_none()
    {
        return Err(LoginError::UnknownFlow);
    }
    Ok(flow)
}

/// The flow an upstream answer belongs to, found by the ID poort gave its upstream request (a
/// SAML request ID or an OIDC `state`). The link is single-use: a replayed answer finds nothing.
/// It is taken only once the flow is known to belong to this browser, and the flow is consumed.
pub(super) async fn take_upstream_flow(
    state: &AppState,
    ctx: &Ctx,
    upstream_id: &str,
) -> Result<PendingFlow, LoginError> {
    let internal = |e: crate::store::StoreError| store_failed(state, e);
    let link = format!("upstream:{upstream_id}");
    let flow_id = match state.flows.get(&link, Utc::now()).await.map_err(internal)? {
        Some(id) => String::from_utf8_lossy(&id).into_owned(),
        None => return Err(LoginError::UnknownFlow),
    };
    load(state, ctx, &flow_id, false).await?;
    if state
        .flows
        .take(&link, Utc::now())
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(LoginError::UnknownFlow);
    }
    load(state, ctx, &flow_id, true).await
}
