//! Starting a checked login, whoever asked: a slot under the caps on pending flows, then
//! straight to the one AD it may use or to the AD choice page, and the browser cookie.

use super::flow::{flow_key, save, Ctx, PendingFlow};
use super::refusal::{fail, settle, WithFlow};
use super::upstream;
use crate::web::cookies;
use crate::web::errors::LoginError;
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
