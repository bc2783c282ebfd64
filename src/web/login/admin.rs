//! Logging in to the admin module: the same login as any service's (AD choice, upstream request,
//! decision, organisation page), answered by opening an admin session instead of a SAML Response
//! or a code.

use super::answer::invitation::invitation_unusable;
use super::flow::{all_idps, Ctx, PendingFlow};
use super::refusal::fail;
use super::start::begin;
use crate::domain::level::Comparison;
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
    let service = crate::admin::service(&state.config);
    let flow = PendingFlow::new(
        &state,
        &ctx,
        AuthnIntent {
            requester: service.service_id.clone(),
            service_id: service.service_id.clone(),
            required_level: service.level,
            comparison: Comparison::Minimum,
            answer: AnswerTo::Admin,
            force_authn: false,
            is_passive: false,
            allowed_idps: all_idps(&state),
        },
        service,
        ("Beheermodule".into(), "Admin module".into()),
    );
    if flow.intent.allowed_idps.is_empty() {
        let e = LoginError::Refused(
            RequestProblem::NoAvailableIdp,
            "no identity provider is available".into(),
        );
        return fail(&state, &ctx, e, Some(&flow)).await;
    }
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "login started (admin module)");
    begin(&state, ctx, flow).await
}

/// `GET /admin/invitation/{token}`: the link from an invitation e-mail. A usable link starts a
/// login whose answer binds the identity to the invited person; any other gets a clear page.
pub async fn invitation_link(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    let ctx = Ctx::start(&headers, client);
    let organisation = match state
        .registry
        .sql()
        .open_invitation(&token, Utc::now())
        .await
    {
        Ok(o) => o,
        Err(e) => return invitation_unusable(&state, &ctx, &e),
    };
    let service = crate::admin::service(&state.config);
    let flow = PendingFlow::new(
        &state,
        &ctx,
        AuthnIntent {
            requester: service.service_id.clone(),
            service_id: service.service_id.clone(),
            required_level: state.config.admin.invitation_level,
            comparison: Comparison::Minimum,
            answer: AnswerTo::Invitation { token },
            force_authn: false,
            is_passive: false,
            allowed_idps: all_idps(&state),
        },
        service,
        (
            format!("de uitnodiging van {}", organisation.name),
            format!("the invitation of {}", organisation.name),
        ),
    );
    tracing::info!(reference = %ctx.reference, flow = %flow.id, organisation = %organisation.kvk, "invitation link opened");
    begin(&state, ctx, flow).await
}
