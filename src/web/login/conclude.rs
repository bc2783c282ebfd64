//! After a verified upstream answer, whatever its protocol: the decision (the register's, or
//! the admin module's), then the answer to the requester, the organisation choice, or the
//! refusal.

use super::answer::admin::open_session;
use super::answer::invitation::accept_invitation;
use super::answer::oidc::issue_code;
use super::answer::saml::saml_answer;
use super::flow::{save, Ctx, PendingFlow};
use super::record::allowed;
use super::refusal::fail;
use crate::domain::decision::{Candidate, Decision};
use crate::domain::login::{AnswerTo, AuthnResult};
use crate::web::errors::{deny_code, LoginError};
use crate::web::AppState;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use tracing::Instrument;

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
pub(super) async fn conclude(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    result: AuthnResult,
    now: DateTime<Utc>,
) -> Response {
    if let AnswerTo::Invitation { token } = &flow.intent.answer {
        flow.result = Some(result.clone());
        return accept_invitation(state, ctx, &flow, token, &result).await;
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
        Decision::Allow(candidate) => answer(state, ctx, &flow, &candidate).await,
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

/// The signed (and, if the DV has an encryption key, encrypted) answer to the DV.
/// The answer to the requester: a SAML Response, or an authorization code for an OIDC client.
pub(super) async fn answer(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Response {
    if flow.intent.answer == AnswerTo::Admin {
        allowed(state, ctx, flow, candidate);
        return open_session(state, ctx, flow, candidate).await;
    }
    if let AnswerTo::Oidc { .. } = &flow.intent.answer {
        return match issue_code(state, flow, candidate).await {
            Ok(location) => {
                state.grant_uses.used(&candidate.grant_id, Utc::now());
                allowed(state, ctx, flow, candidate);
                tracing::info!(
                    reference = %ctx.reference, flow = %flow.id, client = %flow.intent.requester,
                    grant = %candidate.grant_id, level = %candidate.level_used,
                    "login allowed (OpenID Connect)"
                );
                Redirect::to(&location).into_response()
            }
            Err(e) => fail(state, ctx, e, Some(flow)).await,
        };
    }
    let signing = std::time::Instant::now();
    let answered = saml_answer(state, ctx, flow, candidate).await;
    state.metrics.step("answer_sign", signing);
    match answered {
        Ok(response) => response,
        Err(e) => fail(state, ctx, e, Some(flow)).await,
    }
}
