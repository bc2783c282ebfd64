//! `/saml/slo`, poort's SingleLogoutService on the HTTP-Redirect and HTTP-POST bindings: a DV's
//! LogoutRequest (the start of a single log-out) or an AD's LogoutResponse (its end). Every
//! message must be signed by its sender, with a key from its metadata (SAML Profiles 2.0
//! §4.4.4.1); a DV's request must be addressed to poort, fresh, and used once.

use super::{ad_answered, log_out, page, refused, Back, Ctx, Refusal, ReturnTo};
use crate::metadata::{logout_endpoint, PeerCert, SpMetadata};
use crate::saml::binding::{self, BindingError, RedirectMessage, MAX_RELAY_STATE};
use crate::saml::idp::{STATUS_RESPONDER, STATUS_SUCCESS};
use crate::saml::logout::{
    LogoutMessage, LogoutRequest, LogoutResponse, OutgoingLogoutResponse, STATUS_PARTIAL_LOGOUT,
};
use crate::saml::xml;
use crate::web::AppState;
use axum::extract::{Form, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;
use std::sync::Arc;

/// `GET /saml/slo`: a LogoutRequest or LogoutResponse by HTTP-Redirect (its detached signature
/// over the query as received).
#[tracing::instrument(name = "logout.saml", skip_all, fields(binding = "redirect"))]
pub async fn slo_redirect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ctx = Ctx::new(&headers);
    let query = query.unwrap_or_default();
    let has = |name: &str| url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name);
    let param = match (has("SAMLRequest"), has("SAMLResponse")) {
        (true, false) => "SAMLRequest",
        (false, true) => "SAMLResponse",
        (true, true) => return bad(&state, &ctx, "both SAMLRequest and SAMLResponse".into()),
        (false, false) => return bad(&state, &ctx, "no SAMLRequest or SAMLResponse".into()),
    };
    let message = match RedirectMessage::decode(&query, param) {
        Ok(m) => m,
        Err(e) => return bad(&state, &ctx, e.to_string()),
    };
    let parsed = match LogoutMessage::parse(&message.xml) {
        Ok(p) => p.message,
        Err(e) => return bad(&state, &ctx, e.to_string()),
    };
    let keys = match sender_keys(&state, &parsed) {
        Ok(keys) => keys,
        Err(refusal) => return refused(&state, &ctx, "saml", refusal),
    };
    if !message.is_signed() {
        let refusal = Refusal::Unverifiable("unsigned log-out message".into());
        return refused(&state, &ctx, "saml", refusal);
    }
    let public: Vec<_> = keys.iter().map(|k| k.public_key.clone()).collect();
    if let Err(e) = message.verify(&public) {
        return refused(&state, &ctx, "saml", Refusal::Unverifiable(e.to_string()));
    }
    let browser = page::browser_name(&headers);
    arrived(&state, &ctx, parsed, message.relay_state, browser).await
}

#[derive(Deserialize)]
pub struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `POST /saml/slo`: a LogoutRequest or LogoutResponse by HTTP-POST (an enveloped signature;
/// the message is read again from the signed bytes only).
#[tracing::instrument(name = "logout.saml", skip_all, fields(binding = "post"))]
pub async fn slo_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<SloForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let raw = match (form.saml_request, form.saml_response) {
        (Some(raw), None) | (None, Some(raw)) => raw,
        (Some(_), Some(_)) => return bad(&state, &ctx, "both SAMLRequest and SAMLResponse".into()),
        (None, None) => return bad(&state, &ctx, "no SAMLRequest or SAMLResponse".into()),
    };
    if form
        .relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return bad(&state, &ctx, BindingError::RelayStateTooLong.to_string());
    }
    let text = match binding::decode_post(&raw) {
        Ok(t) => t,
        Err(e) => return bad(&state, &ctx, e.to_string()),
    };
    let parsed = match LogoutMessage::parse(&text) {
        Ok(p) => p.message,
        Err(e) => return bad(&state, &ctx, e.to_string()),
    };
    let keys = match sender_keys(&state, &parsed) {
        Ok(keys) => keys,
        Err(refusal) => return refused(&state, &ctx, "saml", refusal),
    };
    let certs: Vec<Vec<u8>> = keys.iter().map(|k| k.der.clone()).collect();
    let verified = match LogoutMessage::verify_enveloped(&text, &certs) {
        Ok(v) if v.issuer() == parsed.issuer() => v,
        Ok(_) => {
            let refusal = Refusal::Unverifiable("issuer changed".into());
            return refused(&state, &ctx, "saml", refusal);
        }
        Err(e) => return refused(&state, &ctx, "saml", Refusal::Unverifiable(e.to_string())),
    };
    let browser = page::browser_name(&headers);
    arrived(&state, &ctx, verified, form.relay_state, browser).await
}

fn bad(state: &AppState, ctx: &Ctx, detail: String) -> Response {
    refused(state, ctx, "saml", Refusal::BadMessage(detail))
}

/// The signing certificates of the message's sender: a request comes from a DV, a response
/// from an AD, each known from trusted metadata.
fn sender_keys(state: &AppState, message: &LogoutMessage) -> Result<Vec<PeerCert>, Refusal> {
    let metadata = state.metadata();
    let certs = match message {
        LogoutMessage::Request(r) => metadata.sp(&r.issuer).map(|dv| &dv.signing_keys),
        LogoutMessage::Response(r) => metadata.idp(&r.issuer).map(|ad| &ad.signing_keys),
    };
    certs
        .cloned()
        .ok_or_else(|| Refusal::UnknownPeer(message.issuer().to_string()))
}

/// A verified message: a DV's request begins the log-out, an AD's response ends it.
async fn arrived(
    state: &AppState,
    ctx: &Ctx,
    message: LogoutMessage,
    relay_state: Option<String>,
    browser: Option<&str>,
) -> Response {
    match message {
        LogoutMessage::Request(request) => match check_request(state, &request).await {
            Ok(()) => {
                tracing::info!(reference = %ctx.reference, dv = %request.issuer, "log-out asked by a service");
                let return_to = ReturnTo::Saml {
                    dv: request.issuer,
                    request_id: request.id,
                    relay_state,
                };
                log_out(state, ctx, return_to, browser).await
            }
            Err(refusal) => refused(state, ctx, "saml", refusal),
        },
        LogoutMessage::Response(response) => match check_response(state, &response) {
            Ok(()) => {
                let metadata = state.metadata();
                match metadata.idp(&response.issuer) {
                    Some(ad) => {
                        ad_answered(
                            state,
                            ctx,
                            ad,
                            &response.in_response_to,
                            response.succeeded(),
                        )
                        .await
                    }
                    None => refused(
                        state,
                        ctx,
                        "saml",
                        Refusal::UnknownPeer(response.issuer.clone()),
                    ),
                }
            }
            Err(refusal) => refused(state, ctx, "saml", refusal),
        },
    }
}

/// poort's SingleLogoutService URLs: the stable path and the one published with the framework
/// version.
fn slo_urls(state: &AppState) -> [String; 2] {
    [
        state.config.url("/saml/slo"),
        state.config.saml_url("/saml/slo"),
    ]
}

/// A DV's request: addressed to poort (a signed front-channel message must say where it goes,
/// SAML Bindings 2.0 §3.4.5.2), issued within the accepted window, not past its NotOnOrAfter,
/// and its ID used once per DV.
async fn check_request(state: &AppState, request: &LogoutRequest) -> Result<(), Refusal> {
    let now = Utc::now();
    let cfg = &state.config.saml;
    let skew = Duration::seconds(cfg.clock_skew_seconds);
    let max_age = Duration::seconds(cfg.request_max_age_seconds);
    match &request.destination {
        Some(d) if slo_urls(state).contains(d) => {}
        _ => return Err(Refusal::Destination),
    }
    if request.issue_instant > now + skew
        || request.issue_instant + max_age + skew < now
        || request.not_on_or_after.is_some_and(|t| t + skew <= now)
    {
        return Err(Refusal::Stale);
    }
    let replay_key = format!("logout:{}:{}", request.issuer, request.id);
    let first_use = state
        .replay
        .first_use(&replay_key, request.issue_instant + max_age + skew * 2, now)
        .await
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    if !first_use {
        return Err(Refusal::Replayed);
    }
    Ok(())
}

/// An AD's response: when it names a Destination, poort's.
fn check_response(state: &AppState, response: &LogoutResponse) -> Result<(), Refusal> {
    match &response.destination {
        Some(d) if !slo_urls(state).contains(d) => Err(Refusal::Destination),
        _ => Ok(()),
    }
}

/// poort's signed LogoutResponse to the DV's request `request_id`, at the DV's
/// SingleLogoutService (HTTP-Redirect, else HTTP-POST); `None` when its metadata lists none.
pub(super) fn answer_dv(
    state: &AppState,
    dv: &str,
    request_id: &str,
    relay_state: Option<&str>,
    all_logged_out: bool,
) -> Option<Back> {
    let metadata = state.metadata();
    let dv: &SpMetadata = metadata.sp(dv)?;
    let endpoint = logout_endpoint(&dv.slo)?;
    let by_post = endpoint.binding == xml::BINDING_POST;
    let status = if all_logged_out {
        (STATUS_SUCCESS, None)
    } else {
        (STATUS_RESPONDER, Some(STATUS_PARTIAL_LOGOUT))
    };
    let message = OutgoingLogoutResponse {
        issuer: &state.config.saml.idp_entity_id,
        destination: endpoint.response_url(),
        in_response_to: request_id,
        status,
        now: Utc::now(),
    }
    .write(by_post.then_some(&state.signing))
    .inspect_err(|e| tracing::error!("log-out response not signed: {e}"))
    .ok()?;
    Back::saml(
        state,
        endpoint.response_url(),
        by_post,
        "SAMLResponse",
        &message,
        relay_state,
    )
    .inspect_err(|e| tracing::error!("log-out response not signed: {e}"))
    .ok()
}
