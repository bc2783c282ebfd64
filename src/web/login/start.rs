//! Starting a checked login, whoever asked: a slot under the caps on pending flows, then
//! straight to the one AD it may use or to the AD choice page, and the browser cookie.

use super::flow::{flow_key, save, Ctx, PendingFlow};
use super::refusal::{fail, settle, WithFlow};
use super::upstream;
use crate::web::cookies;
use crate::web::errors::{LoginError, RequestProblem};
use crate::web::AppState;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

/// Sends a checked flow on: straight to the one identity provider it may use, or to the page
/// where the person chooses; binds it to this browser. The flow first needs a slot under the
/// caps on pending flows (per process and per client); the slot is held while the flow is
/// stored, and given back at once if nothing was stored.
pub(super) async fn begin(state: &Arc<AppState>, ctx: Ctx, mut flow: PendingFlow) -> Response {
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
        Err(refusal) => return crate::web::limits::cap_refused(state, ctx.lang, refusal),
    };
    let now = chrono::Utc::now();
    // The browser's login session may answer without the AD (single sign-on, where the rules
    // allow); a passive login (IsPassive, prompt=none) ends here without one.
    match super::session::answer_from(state, &ctx, &flow, now).await {
        Ok(result) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, "answered from the login session");
            flow.idp = Some(result.idp.clone());
            let browser = flow.browser.clone();
            let mut response = super::conclude::from_session(state, &ctx, flow, result, now).await;
            cookies::set_login(state, &mut response, cookies::BROWSER, &browser, 3600);
            return response;
        }
        Err(why) if flow.intent.is_passive => {
            let reason = why.map_or("none", |w| w.code());
            let e = LoginError::Refused(
                RequestProblem::Passive,
                format!("no login session can answer without the person ({reason})"),
            );
            return fail(state, &ctx, e, Some(&flow)).await;
        }
        Err(Some(why)) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = why.code(), "login session not used");
        }
        Err(None) => {}
    }
    let step = if flow.intent.allowed_idps.len() == 1 {
        let idp = flow.intent.allowed_idps[0].clone();
        upstream::send_to_idp(state, &ctx, flow.clone(), &idp).await
    } else {
        save(state, &flow)
            .await
            .with_flow(&flow)
            .map(|()| Redirect::to(&format!("/login/idp?flow={}", flow.id)).into_response())
    };
    // The browser cookie is set on the answer either way, a refusal included.
    let mut response = settle(state, &ctx, step).await;
    cookies::set_login(state, &mut response, cookies::BROWSER, &flow.browser, 3600);
    response
}
