//! The login flow over HTTP: DV request in (`sso`), choice of AD and request out (`upstream`),
//! AD answer in, decision and answer out (`acs`). This module holds what the steps share: the
//! pending flow, the browser binding, and how a step fails.

mod acs;
mod admin;
mod artifact;
mod callback;
mod oidc;
mod sso;
mod upstream;

pub use acs::{acs, acs_artifact_get, choose_organisation, chosen_organisation};
pub use admin::{admin_cookie, admin_login, invitation_link, set_admin_cookie};
pub use artifact::artifact_resolution_service;
pub use callback::oidc_callback;
pub use oidc::authorize;
pub(crate) use oidc::redirect_with;
pub use sso::{sso_post, sso_redirect};

pub use upstream::{choose_idp, chosen_idp};

use super::client::Client;
use super::errors::{deny_code, LoginError, RequestProblem};
use super::i18n::Lang;
use super::pages::{IdpChoice, OrgChoice, PostForm};
use super::security;
use super::AppState;
use crate::domain::decision::{Candidate, Decision};
use crate::domain::login::{AnswerTo, AuthnIntent, AuthnResult};
use crate::grants::ServiceRef;
use crate::metadata::{AcsEndpoint, IdpMetadata, SpMetadata};
use crate::saml::binding::{self, RedirectMessage, MAX_RELAY_STATE};
use crate::saml::idp::{self, AssertionContent, AuthnRequest, SamlStatus};
use crate::saml::sp::{self, AdOutcome, Expectations};
use crate::saml::{encrypt, xml};
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::Instrument;

const BROWSER_COOKIE: &str = "poort_browser";
const LAST_IDP_COOKIE: &str = "poort_last_idp";

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamOidcSecrets {
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Every identity provider poort can send a person to: SAML ADs from metadata, then OIDC ADs
/// from config (by issuer).
fn all_idps(state: &AppState) -> Vec<String> {
    state
        .metadata
        .idps
        .iter()
        .map(|i| i.entity_id.clone())
        .chain(state.upstream_oidc.iter().map(|p| p.issuer().to_string()))
        .collect()
}

/// `?flow=...` on the pages of a pending login.
#[derive(Deserialize)]
pub struct FlowQuery {
    flow: String,
}

/// Per-request context: language and the reference number shown to the person and logged.
struct Ctx {
    lang: Lang,
    reference: String,
    browser_cookie: Option<String>,
    /// Who started the login (set at login starts, which are capped per client).
    client: Option<Client>,
}

impl Ctx {
    fn new(headers: &HeaderMap) -> Ctx {
        Ctx {
            lang: Lang::from_headers(headers),
            reference: crate::telemetry::new_reference(),
            browser_cookie: cookie(headers, BROWSER_COOKIE),
            client: None,
        }
    }

    /// The context of a login start, by `client`.
    fn start(headers: &HeaderMap, client: Client) -> Ctx {
        Ctx {
            client: Some(client),
            ..Ctx::new(headers)
        }
    }
}

/// The flow store key of a pending flow.
fn flow_key(id: &str) -> String {
    format!("flow:{id}")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// Sets a login cookie: `__Host-` prefixed in production (where the router strips the prefix
/// again from what comes in, so [`cookie`] reads one name in every mode).
fn set_cookie(state: &AppState, response: &mut Response, name: &str, value: &str, max_age: i64) {
    // Over https the AD's cross-site POST to the ACS must carry the cookie: SameSite=None; Secure.
    // Plain http (development on localhost) is same-site, where Lax suffices. Production is
    // https to the browser even behind a proxy that terminates TLS.
    let attrs = if security::browsers_use_https(&state.config) {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    };
    let name = security::cookie_name(&state.config, name);
    let value = format!("{name}={value}; Path=/; HttpOnly; Max-Age={max_age}{attrs}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Records a login decision in the audit trail (written in the background).
fn audit_decision(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    kvk: Option<&str>,
    action: &'static str,
    mut detail: serde_json::Value,
) {
    let actor = match &flow.result {
        Some(r) => format!("identity:{}#{}", r.idp, r.subject),
        None => "identity:unknown".to_string(),
    };
    detail["service"] = flow.service.service_id.clone().into();
    detail["requester"] = flow.intent.requester.clone().into();
    detail["reference"] = ctx.reference.clone().into();
    count_end(
        state,
        flow,
        action,
        detail["reason"].as_str().unwrap_or_default(),
    );
    state
        .login_audit
        .record(crate::grants::audit::LoginDecision {
            at: Utc::now(),
            actor,
            kvk: kvk.map(str::to_string),
            action: action.into(),
            detail: detail.to_string(),
            identity: flow
                .result
                .as_ref()
                .map(|r| (r.idp.clone(), r.subject.clone())),
        });
}

/// Counts a login that ended with a decision in `/metrics`: its outcome, reason, protocol pair
/// and how long it took from its start.
fn count_end(state: &AppState, flow: &PendingFlow, action: &str, reason: &str) {
    let requester = match flow.intent.answer {
        AnswerTo::Saml { .. } => "saml",
        AnswerTo::Oidc { .. } => "oidc",
        AnswerTo::Admin => "admin",
        AnswerTo::Invitation { .. } => "invitation",
    };
    let ad = match flow.idp.as_deref() {
        Some(idp) if state.upstream_oidc.get(idp).is_some() => "oidc",
        Some(_) => "saml",
        None => "none",
    };
    let started = flow.expires_at - Duration::seconds(state.config.saml.flow_lifetime_seconds);
    state.metrics.login_ended(&crate::metrics::LoginEnd {
        outcome: if action.ends_with("refused") {
            "refused"
        } else {
            "allowed"
        },
        reason,
        protocols: &format!("{requester}-{ad}"),
        dv: &flow.intent.requester,
        ad: flow.idp.as_deref().unwrap_or_default(),
        seconds: Some((Utc::now() - started).num_milliseconds() as f64 / 1000.0),
    });
}

/// Renders an error: logged with its reference; a verified DV also gets its SAML answer.
async fn fail(
    state: &AppState,
    ctx: &Ctx,
    err: LoginError,
    flow: Option<&PendingFlow>,
) -> Response {
    tracing::warn!(reference = %ctx.reference, error = %err, "login stopped");
    if let Some(f) = flow {
        let detail = serde_json::json!({ "reason": err.reason_code() });
        audit_decision(state, ctx, f, None, "login.refused", detail);
    }
    // An OpenID Connect client gets the error at its (verified) redirect URI (RFC 6749 4.1.2.1).
    if let Some(AnswerTo::Oidc {
        redirect_uri,
        state: client_state,
        ..
    }) = flow.map(|f| &f.intent.answer)
    {
        let (code, description) = err.oauth_error();
        let description = format!("{description} (reference {})", ctx.reference);
        return Redirect::to(&redirect_with(
            redirect_uri,
            &[
                ("error", code),
                ("error_description", &description),
                ("state", client_state.as_deref().unwrap_or_default()),
            ],
        ))
        .into_response();
    }
    let back = match flow {
        Some(f) => match err.saml_status() {
            Some(status) => match saml_error_form(state, &f.intent, &status).await {
                Ok(form) => Some(form),
                Err(e) => {
                    tracing::error!(reference = %ctx.reference, error = %e, "cannot sign error response");
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let name = flow.map(|f| (f.service_name.0.as_str(), f.service_name.1.as_str()));
    state
        .pages
        .error(ctx.lang, &err.text(name), &ctx.reference, back.as_ref())
}

/// The signed error Response for a SAML requester, as the form of the error page's button
/// (by artifact when its ACS takes artifacts: the form then posts `SAMLart`).
async fn saml_error_form(
    state: &AppState,
    intent: &AuthnIntent,
    status: &SamlStatus,
) -> Result<PostForm, LoginError> {
    let AnswerTo::Saml {
        acs_url,
        request_id,
        ..
    } = &intent.answer
    else {
        return Err(LoginError::Internal("not a SAML login".into()));
    };
    let response = idp::signed_response(
        &state.config.saml.idp_entity_id,
        acs_url,
        request_id,
        Some(status),
        None,
        Utc::now(),
        &state.signing,
    )
    .map_err(|e| LoginError::Internal(e.to_string()))?;
    to_dv(state, intent, response).await
}

/// A signed Response for the requester's ACS, in its binding: the form that posts it, or, by
/// artifact, the form that posts the artifact of it (which [`deliver`] turns into a redirect).
async fn to_dv(
    state: &AppState,
    intent: &AuthnIntent,
    response: String,
) -> Result<PostForm, LoginError> {
    let AnswerTo::Saml {
        acs_url,
        relay_state,
        artifact,
        ..
    } = &intent.answer
    else {
        return Err(LoginError::Internal("not a SAML login".into()));
    };
    if !artifact {
        return Ok(post_form(acs_url, &response, relay_state.as_deref()));
    }
    let art = artifact::issue(
        state,
        response,
        &state.config.saml.idp_entity_id,
        &intent.requester,
    )
    .await?;
    let mut fields = vec![("SAMLart".to_string(), art)];
    if let Some(r) = relay_state {
        fields.push(("RelayState".to_string(), r.clone()));
    }
    Ok(PostForm {
        action: acs_url.clone(),
        fields,
    })
}

/// Takes an answer to the DV: an artifact by redirect (HTTP GET, SAML Bindings 2.0 §3.6.3), a
/// posted Response by the page that posts it.
fn deliver(state: &AppState, ctx: &Ctx, form: PostForm) -> Response {
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("SAMLart") {
        Some(art) => Redirect::to(&artifact::artifact_url(
            &form.action,
            art,
            field("RelayState"),
        ))
        .into_response(),
        None => state.pages.post_form(ctx.lang, &form),
    }
}

fn post_form(action: &str, response: &str, relay_state: Option<&str>) -> PostForm {
    let mut fields = vec![("SAMLResponse".to_string(), binding::encode_post(response))];
    if let Some(r) = relay_state {
        fields.push(("RelayState".to_string(), r.to_string()));
    }
    PostForm {
        action: action.to_string(),
        fields,
    }
}

/// Sends a checked flow on: straight to the one identity provider it may use, or to the page
/// where the person chooses; binds it to this browser. The flow first needs a slot under the
/// caps on pending flows (per process and per client); the slot is held while the flow is
/// stored, and given back at once if nothing was stored.
async fn begin(state: &Arc<AppState>, ctx: Ctx, mut flow: PendingFlow) -> Response {
    crate::telemetry::note_flow(&flow.id);
    flow.trace = Some(crate::telemetry::traceparent());
    let Some(client) = ctx.client.as_ref() else {
        let e = LoginError::Internal("a login start without its client".into());
        return fail(state, &ctx, e, None).await;
    };
    let _slot = match state
        .limits
        .admit_flow(&flow_key(&flow.id), client, flow.expires_at)
    {
        Ok(slot) => slot,
        Err(refusal) => return super::limits::cap_refused(state, ctx.lang, refusal),
    };
    let mut response = if flow.intent.allowed_idps.len() == 1 {
        let idp = flow.intent.allowed_idps[0].clone();
        upstream::send_to_idp(state, &ctx, flow.clone(), &idp).await
    } else {
        match save(state, &flow).await {
            Ok(()) => Redirect::to(&format!("/login/idp?flow={}", flow.id)).into_response(),
            Err(e) => fail(state, &ctx, e, Some(&flow)).await,
        }
    };
    set_cookie(state, &mut response, BROWSER_COOKIE, &flow.browser, 3600);
    response
}

/// A failed call to the store of pending logins: counted, and an internal error.
fn store_failed(state: &AppState, e: crate::store::StoreError) -> LoginError {
    state.metrics.flow_store_errors.inc();
    LoginError::Internal(e.to_string())
}

async fn save(state: &AppState, flow: &PendingFlow) -> Result<(), LoginError> {
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
async fn load(
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
async fn take_upstream_flow(
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

/// The person cancelled at the AD: the requester hears so in its own protocol (SAML
/// AuthnFailed with "Authentication cancelled", OAuth `access_denied`).
async fn cancelled(state: &AppState, ctx: &Ctx, flow: &PendingFlow) -> Response {
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "cancelled at identity provider");
    if let AnswerTo::Oidc { .. } = flow.intent.answer {
        let e = LoginError::AdFailed("the person cancelled the login".into());
        return fail(state, ctx, e, Some(flow)).await;
    }
    let status = SamlStatus {
        top: idp::STATUS_RESPONDER,
        second: Some(idp::STATUS_AUTHN_FAILED),
        message: "Authentication cancelled".to_string(),
    };
    match saml_error_form(state, &flow.intent, &status).await {
        Ok(form) => deliver(state, ctx, form),
        Err(e) => fail(state, ctx, e, None).await,
    }
}

/// After a verified upstream answer, whatever its protocol: the register's decision, then the
/// answer to the requester, the organisation choice, or the refusal.
#[tracing::instrument(name = "login.decision", skip_all, fields(
    dv = %flow.intent.requester,
    ad = %result.idp,
    level.required = %flow.intent.required_level,
    level.asserted = %result.level,
    outcome = tracing::field::Empty,
    reason = tracing::field::Empty,
))]
async fn conclude(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    result: AuthnResult,
    now: DateTime<Utc>,
) -> Response {
    if let AnswerTo::Invitation { token } = &flow.intent.answer {
        flow.result = Some(result.clone());
        return admin::accept_invitation(state, ctx, &flow, token, &result).await;
    }
    let decided = if flow.intent.answer == AnswerTo::Admin {
        let pool = state.registry.sql().pool();
        crate::admin::decide(pool, &flow.service, &result, now)
            .await
            .map(|(person, decision)| {
                flow.person_id = person;
                decision
            })
            .map_err(|e| e.to_string())
    } else {
        let resolving = std::time::Instant::now();
        crate::grants::resolve(
            state.register.as_ref(),
            &result,
            &flow.service,
            flow.intent.required_level,
            flow.intent.comparison,
            now,
        )
        .instrument(tracing::info_span!(
            "grants.resolve",
            cache = tracing::field::Empty
        ))
        .await
        .inspect(|_| state.metrics.step("grants_resolve", resolving))
        .map_err(|e| e.to_string())
    };
    let decision = match decided {
        Ok(d) => d,
        Err(e) => return fail(state, ctx, LoginError::Internal(e), Some(&flow)).await,
    };
    flow.result = Some(result);
    let span = tracing::Span::current();
    match &decision {
        Decision::Allow(_) => span.record("outcome", "allowed"),
        Decision::ChooseOrganisation(_) => span.record("outcome", "choose_organisation"),
        Decision::Deny(reason) => span
            .record("outcome", "refused")
            .record("reason", deny_code(reason)),
    };
    match decision {
        Decision::Allow(candidate) => acs::answer(state, ctx, &flow, &candidate).await,
        Decision::ChooseOrganisation(candidates) => {
            flow.candidates = candidates;
            match save(state, &flow).await {
                Ok(()) => {
                    Redirect::to(&format!("/login/organisation?flow={}", flow.id)).into_response()
                }
                Err(e) => fail(state, ctx, e, Some(&flow)).await,
            }
        }
        Decision::Deny(reason) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = deny_code(&reason), "login refused");
            fail(state, ctx, LoginError::Denied(reason), Some(&flow)).await
        }
    }
}
