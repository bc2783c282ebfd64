//! The browser's login session at poort (`domain::session`): opened when an AD has
//! authenticated the person for a service's login, read when a later login in that browser
//! starts, to answer it without the AD where the scheme's rules allow (single sign-on). It lives
//! in the shared flow store (every replica sees it) under a random ID, the `poort_session`
//! cookie, and ends at its idle or absolute limit.

use super::flow::{Ctx, PendingFlow};
use crate::domain::login::{AnswerTo, AuthnResult};
use crate::domain::session::{LoginSession, NoReuse, ReuseAsk, SessionLimits};
use crate::web::cookies;
use crate::web::AppState;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};

fn key(id: &str) -> String {
    format!("login-session:{id}")
}

/// The limits sessions are kept to: `[login_session]`, never beyond the scheme's.
pub(super) fn limits(state: &AppState) -> SessionLimits {
    let c = &state.config.login_session;
    SessionLimits::capped(c.idle_seconds, c.absolute_seconds)
}

/// Whether a login of this kind keeps or uses a session: a service's (SAML or OIDC), not poort's
/// own modules, whose sessions are their own; and only when `[login_session] enabled`.
fn for_services(state: &AppState, flow: &PendingFlow) -> bool {
    state.config.login_session.enabled
        && matches!(
            flow.intent.answer,
            AnswerTo::Saml { .. } | AnswerTo::Oidc { .. }
        )
}

async fn store(state: &AppState, session: &LoginSession) -> Result<(), String> {
    let bytes = serde_json::to_vec(session).map_err(|e| e.to_string())?;
    state
        .flows
        .put(&key(&session.id), bytes, session.ends_at(limits(state)))
        .await
        .map_err(|e| e.to_string())
}

/// The browser's session, if it has one that has not ended.
pub(super) async fn current(
    state: &AppState,
    ctx: &Ctx,
    now: DateTime<Utc>,
) -> Option<LoginSession> {
    read(state, ctx, now, false).await
}

/// The browser's session from the store, left there or (`take`) taken out; `None` when it has
/// none, it has ended, or the store cannot be read (a login then goes to the AD, as without a
/// session).
async fn read(state: &AppState, ctx: &Ctx, now: DateTime<Utc>, take: bool) -> Option<LoginSession> {
    let id = ctx.login_session.as_deref()?;
    let found = if take {
        state.flows.take(&key(id), now).await
    } else {
        state.flows.get(&key(id), now).await
    };
    let bytes = match found {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!(reference = %ctx.reference, "login session not readable: {e}");
            return None;
        }
    };
    serde_json::from_slice::<LoginSession>(&bytes)
        .ok()
        .filter(|s| s.id == id && now < s.ends_at(limits(state)))
}

/// What the session says for this login, when it may answer it: the AD's authentication, as
/// poort verified it then. The session's idle time starts again. `Err` names why not (traced),
/// or is `None` when the browser has no session.
pub(super) async fn answer_from(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    now: DateTime<Utc>,
) -> Result<AuthnResult, Option<NoReuse>> {
    if !for_services(state, flow) {
        return Err(None);
    }
    let mut session = current(state, ctx, now).await.ok_or(None)?;
    let catalogue = state.catalogue();
    let service_supports_sso = catalogue
        .iter()
        .find(|s| s.id == flow.service.service_id)
        .is_some_and(|s| s.sso_support);
    let ask = ReuseAsk {
        required_level: flow.intent.required_level,
        comparison: flow.intent.comparison,
        force_authn: flow.intent.force_authn,
        max_age: flow.max_age_seconds.map(TimeDelta::seconds),
        service_supports_sso,
        allowed_idps: &flow.intent.allowed_idps,
        asks_attributes: !flow.intent.requested_attributes.is_empty(),
    };
    session.may_answer(&ask, limits(state), now).map_err(Some)?;
    session.used(&flow.service.service_id, now);
    if let Err(e) = store(state, &session).await {
        tracing::warn!(reference = %ctx.reference, "login session not kept: {e}");
    }
    Ok(session.authn)
}

/// After the AD authenticated the person for `flow`: the session to open, when this kind of
/// login keeps one. Built before the decision takes the flow, so that nothing is copied but
/// what the session holds.
pub(super) fn to_open(
    state: &AppState,
    flow: &PendingFlow,
    authn: &AuthnResult,
    now: DateTime<Utc>,
) -> Option<LoginSession> {
    if !for_services(state, flow) {
        return None;
    }
    // Only what any service's login needs: attributes stay with the login that asked for them.
    let authn = AuthnResult {
        idp: authn.idp.clone(),
        subject: authn.subject.clone(),
        level: authn.level,
        authn_instant: authn.authn_instant,
        attributes: Vec::new(),
    };
    let id = hex::encode(rand::random::<[u8; 32]>());
    let mut session = LoginSession::opened(id, authn, flow.upstream_session.clone(), now);
    session.used(&flow.service.service_id, now);
    Some(session)
}

/// Opens `session` for the browser (replacing the one it had), its cookie set on `response`.
pub(super) async fn open(
    state: &AppState,
    ctx: &Ctx,
    session: LoginSession,
    response: &mut Response,
    now: DateTime<Utc>,
) {
    if let Err(e) = store(state, &session).await {
        tracing::warn!(reference = %ctx.reference, "login session not opened: {e}");
        return;
    }
    if let Some(old) = ctx.login_session.as_deref() {
        let _ = state.flows.take(&key(old), now).await;
    }
    let lasts = (session.ends_at(limits(state)) - now).num_seconds();
    cookies::set_login(state, response, cookies::LOGIN_SESSION, &session.id, lasts);
}

/// Ends the browser's session (single log-out): taken from the shared store, so that no replica
/// answers from it again. `None` when the browser had none, or it had ended. The caller clears
/// the cookies with [`clear_cookies`].
pub(super) async fn end(state: &AppState, ctx: &Ctx, now: DateTime<Utc>) -> Option<LoginSession> {
    read(state, ctx, now, true).await
}

/// Clears the cookies of a login session and of logins in progress (the scheme: "cookies are
/// deleted after logging out"). The remembered AD stays: the person chose to keep it.
pub(super) fn clear_cookies(state: &AppState, response: &mut Response) {
    cookies::set_login(state, response, cookies::LOGIN_SESSION, "", 0);
    cookies::set_login(state, response, cookies::BROWSER, "", 0);
}
