//! OIDC AD -> poort: the answer at `/oidc/callback`, redeemed and verified, then the same
//! decision and answer as a SAML AD's.

use super::conclude::conclude;
use super::flow::{take_upstream_flow, Ctx};
use super::refusal::{cancelled, settle, Stop, WithFlow};
use super::upstream::upstream_error;
use crate::domain::login::AuthnResult;
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;
use tracing::Instrument;

/// The query of `/oidc/callback` (RFC 6749 4.1.2, RFC 9207 `iss`).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

pub async fn oidc_callback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let step = callback(&state, &ctx, q).await;
    settle(&state, &ctx, step).await
}

async fn callback(state: &AppState, ctx: &Ctx, q: CallbackQuery) -> Result<Response, Stop> {
    let upstream_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            LoginError::BadMessage("the identity provider's answer has no state".into())
        })?;
    let flow = take_upstream_flow(state, ctx, upstream_state).await?;
    let (Some(provider), Some(secrets)) = (
        flow.idp.as_deref().and_then(|i| state.upstream_oidc.get(i)),
        flow.upstream_oidc.clone(),
    ) else {
        return Err(LoginError::UnknownFlow.into());
    };
    // RFC 9207: an AD that names itself must be the one this login was sent to (mix-up defence).
    if let Some(iss) = q.iss.as_deref() {
        if iss != provider.issuer() {
            let e = LoginError::AdAnswerRejected(format!(
                "answer from issuer {iss}, expected {}",
                provider.issuer()
            ));
            return Err(Stop::with_flow(e, &flow));
        }
    }
    if let Some(error) = q.error.as_deref() {
        if error == "access_denied" {
            return Ok(cancelled(state, ctx, &flow).await);
        }
        let detail = match q.error_description.as_deref() {
            Some(d) => format!("{error}: {d}"),
            None => error.to_string(),
        };
        return Err(Stop::with_flow(LoginError::AdFailed(detail), &flow));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        let e = LoginError::AdAnswerRejected("the answer has neither a code nor an error".into());
        return Err(Stop::with_flow(e, &flow));
    };
    let redeeming = std::time::Instant::now();
    let redeemed = provider
        .redeem(code, &secrets.pkce_verifier, &secrets.nonce)
        .instrument(tracing::info_span!(
            "upstream.token",
            ad = %provider.issuer(),
            protocol = "oidc"
        ))
        .await;
    state.metrics.step("upstream_token", redeeming);
    let identity = redeemed.map_err(upstream_error).with_flow(&flow)?;
    let result = AuthnResult {
        idp: provider.issuer().to_string(),
        subject: identity.subject,
        level: identity.level,
        authn_instant: identity.auth_time,
        attributes: Vec::new(),
    };
    conclude(state, ctx, flow, result, Utc::now()).await
}
