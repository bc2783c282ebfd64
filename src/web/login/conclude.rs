//! After a verified upstream answer, whatever its protocol: the decision (the register's, or
//! the admin module's), then the answer to the requester, the organisation choice, or the
//! refusal.

use super::answer::admin::open_session;
use super::answer::invitation::accept_invitation;
use super::answer::mijn::open_person_session;
use super::answer::oidc::issue_code;
use super::answer::saml::saml_answer;
use super::flow::{save, Ctx, PendingFlow};
use super::record::allowed;
use super::refusal::{settle, Stop, WithFlow};
use crate::domain::decision::{identifiable, Candidate, Decision};
use crate::domain::login::{AnswerTo, AuthnResult};
use crate::web::errors::{deny_code, LoginError};
use crate::web::AppState;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use tracing::Instrument;

/// After a verified upstream answer, whatever its protocol: the register's decision, then the
/// answer to the requester, the organisation choice, or the refusal; on any of them, the AD
/// remembered when the person ticked "Onthoud mijn keuze" (the AD did authenticate them).
pub(super) async fn conclude(
    state: &AppState,
    ctx: &Ctx,
    flow: PendingFlow,
    result: AuthnResult,
    now: DateTime<Utc>,
) -> Result<Response, Stop> {
    let remembered = flow.idp.clone().filter(|_| flow.remember_idp);
    let session = super::session::to_open(state, &flow, &result, now);
    let step = decide(state, ctx, flow, result, now).await;
    let mut response = settle(state, ctx, step).await;
    if let Some(idp) = remembered {
        super::upstream::remember_choice(state, &idp, &mut response);
    }
    if let Some(session) = session {
        super::session::open(state, ctx, session, &mut response, now).await;
    }
    Ok(response)
}

/// A login answered from the browser's login session (single sign-on): decided as if the AD
/// had just answered, without remembering or opening anything.
pub(super) async fn from_session(
    state: &AppState,
    ctx: &Ctx,
    flow: PendingFlow,
    result: AuthnResult,
    now: DateTime<Utc>,
) -> Response {
    let step = decide(state, ctx, flow, result, now).await;
    settle(state, ctx, step).await
}

#[tracing::instrument(name = "login.decision", skip_all, fields(
    dv = %flow.intent.requester,
    ad = %result.idp,
    level.required = %flow.intent.required_level,
    level.asserted = %result.level,
    outcome = tracing::field::Empty,
    reason = tracing::field::Empty,
))]
async fn decide(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    result: AuthnResult,
    now: DateTime<Utc>,
) -> Result<Response, Stop> {
    if let AnswerTo::Invitation { token } = &flow.intent.answer {
        flow.result = Some(result.clone());
        return accept_invitation(state, ctx, &flow, token, &result)
            .await
            .with_flow(&flow);
    }
    if let AnswerTo::SelfService { next } = &flow.intent.answer {
        flow.result = Some(result.clone());
        let opened = open_person_session(state, ctx, &flow, next, &result).await;
        if opened.as_ref().is_ok_and(|r| r.status().is_redirection()) {
            let detail = serde_json::json!({ "level": result.level.name() });
            super::record::audit_decision(state, ctx, &flow, None, "mijn.login", detail);
        }
        return opened.with_flow(&flow);
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
        // Only organisations the service can be told about (its EntityConcernedTypesAllowed).
        .map(|decision| identifiable(decision, &flow.intent.identifiers))
        .map_err(|e| e.to_string())
    };
    let decision = decided.map_err(LoginError::Internal).with_flow(&flow)?;
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
        Decision::ChooseOrganisation(_) if flow.intent.is_passive => {
            let e = LoginError::Refused(
                crate::web::errors::RequestProblem::NeedsInteraction,
                "the person acts for several organisations and must choose one".into(),
            );
            Err(Stop::with_flow(e, &flow))
        }
        Decision::ChooseOrganisation(candidates) => {
            flow.candidates = candidates;
            save(state, &flow).await.with_flow(&flow)?;
            Ok(Redirect::to(&format!("/login/organisation?flow={}", flow.id)).into_response())
        }
        Decision::Deny(reason) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = deny_code(&reason), "login refused");
            Err(Stop::with_flow(LoginError::Denied(reason), &flow))
        }
    }
}

/// The answer to the requester for the chosen organisation: a SAML Response, an authorization
/// code for an OIDC client, or an admin session.
pub(super) async fn answer(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Result<Response, Stop> {
    if flow.intent.answer == AnswerTo::Admin {
        allowed(state, ctx, flow, candidate);
        return open_session(state, ctx, flow, candidate)
            .await
            .with_flow(flow);
    }
    if let AnswerTo::Oidc { .. } = &flow.intent.answer {
        let location = issue_code(state, flow, candidate).await.with_flow(flow)?;
        state.grant_uses.used(&candidate.grant_id, Utc::now());
        allowed(state, ctx, flow, candidate);
        tracing::info!(
            reference = %ctx.reference, flow = %flow.id, client = %flow.intent.requester,
            grant = %candidate.grant_id, level = %candidate.level_used,
            "login allowed (OpenID Connect)"
        );
        return Ok(Redirect::to(&location).into_response());
    }
    let signing = std::time::Instant::now();
    let answered = saml_answer(state, ctx, flow, candidate).await;
    state.metrics.step("answer_sign", signing);
    answered.with_flow(flow)
}
