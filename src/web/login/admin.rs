//! Logging in to the admin module: the same login as any service's (AD choice, upstream request,
//! decision, organisation page), answered by opening an admin session instead of a SAML Response
//! or a code.

use super::answer::invitation::invitation_unusable;
use super::flow::{all_idps, Ctx, PendingFlow};
use super::refusal::fail;
use super::start::begin;
use crate::domain::level::{Comparison, Level};
use crate::domain::login::{AnswerTo, AuthnIntent};
use crate::web::client::Client;
use crate::web::errors::{LoginError, RequestProblem};
use crate::web::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use std::sync::Arc;

/// `GET /admin/login`: starts a login for the admin module.
pub async fn admin_login(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::start(&headers, client);
    let level = state.config.admin.level;
    let named = ("Beheermodule".into(), "Admin module".into());
    let flow = admin_flow(&state, &ctx, level, AnswerTo::Admin, named);
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "login started (admin module)");
    start_own(&state, ctx, flow).await
}

/// `GET /admin/invitation/{token}`: the link from an invitation e-mail. A usable link starts a
/// login whose answer binds the identity to the invited person; any other gets a clear page.
pub async fn invitation_link(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, Response> {
    let ctx = Ctx::start(&headers, client);
    let opened = state
        .registry
        .sql()
        .open_invitation(&token, Utc::now())
        .await;
    let organisation = opened.map_err(|e| invitation_unusable(&state, &ctx, &e))?;
    let level = state.config.admin.invitation_level;
    let named = (
        format!("de uitnodiging van {}", organisation.name),
        format!("the invitation of {}", organisation.name),
    );
    let flow = admin_flow(&state, &ctx, level, AnswerTo::Invitation { token }, named);
    tracing::info!(reference = %ctx.reference, flow = %flow.id, organisation = %organisation.kvk, "invitation link opened");
    Ok(start_own(&state, ctx, flow).await)
}

/// `GET /mijn/login?next=`: starts a login for Mijn poort, at whatever level the person's
/// means reaches (the session keeps it: signing off relies on it). The AD is asked for the
/// person's name and date of birth, by which a bevoegd vertegenwoordiger is recognised at a
/// first login; they are not kept.
pub async fn self_service_login(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<NextQuery>,
) -> Response {
    let ctx = Ctx::start(&headers, client);
    let next = crate::selfservice::safe_next(query.next.as_deref());
    let named = ("Mijn poort".into(), "Mijn poort".into());
    let mut flow = admin_flow(
        &state,
        &ctx,
        Level::Eh2,
        AnswerTo::SelfService { next },
        named,
    );
    flow.intent.requested_attributes = crate::selfservice::representatives::ATTRIBUTES
        .iter()
        .map(|name| crate::domain::attributes::RequestedAttribute {
            name: (*name).to_string(),
            required: false,
        })
        .collect();
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "login started (Mijn poort)");
    start_own(&state, ctx, flow).await
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Starts one of poort's own logins: on to the AD, or a clear refusal when no AD is available
/// (none configured, or every one's metadata unusable).
async fn start_own(state: &Arc<AppState>, ctx: Ctx, flow: PendingFlow) -> Response {
    if flow.intent.allowed_idps.is_empty() {
        let e = LoginError::Refused(
            RequestProblem::NoAvailableIdp,
            "no identity provider is available".into(),
        );
        return fail(state, &ctx, e, Some(&flow)).await;
    }
    begin(state, ctx, flow).await
}

/// A login for the admin module (its own service, any AD) at `level`, answered by `answer`;
/// `named` (Dutch, English) is what the pages say it is for.
fn admin_flow(
    state: &AppState,
    ctx: &Ctx,
    level: Level,
    answer: AnswerTo,
    named: (String, String),
) -> PendingFlow {
    let service = crate::admin::service(&state.config);
    let intent = AuthnIntent {
        requester: service.service_id.clone(),
        service_id: service.service_id.clone(),
        required_level: level,
        comparison: Comparison::Minimum,
        answer,
        force_authn: false,
        is_passive: false,
        allowed_idps: all_idps(state),
        requested_attributes: Vec::new(),
        identifiers: Vec::new(),
    };
    PendingFlow::new(state, ctx, intent, service, named)
}
