//! Logging in to the admin module: the same login as any service's (AD choice, upstream request,
//! decision, organisation page), answered by opening an admin session instead of a SAML Response
//! or a code.

use super::*;
use crate::admin::AdminSession;
use crate::level::Comparison;

/// The admin session cookie (path `/`: the pages under `/admin` and the API under `/api/v1`
/// share it).
pub const ADMIN_COOKIE: &str = "poort_admin";

/// `GET /admin/login`: starts a login for the admin module.
pub async fn admin_login(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let ctx = Ctx::new(&headers);
    let service = crate::admin::service(&state.config);
    let flow = PendingFlow {
        id: xml::new_id(),
        browser: ctx
            .browser_cookie
            .clone()
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>())),
        intent: AuthnIntent {
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
        service_name: ("Beheermodule".into(), "Admin module".into()),
        idp: None,
        upstream_request_id: None,
        upstream_oidc: None,
        result: None,
        candidates: Vec::new(),
        person_id: None,
        expires_at: Utc::now() + Duration::seconds(state.config.saml.flow_lifetime_seconds),
    };
    if flow.intent.allowed_idps.is_empty() {
        let e = LoginError::Refused(
            RequestProblem::NoAvailableIdp,
            "no identity provider is available".into(),
        );
        return fail(&state, &ctx, e, Some(&flow));
    }
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "login started (admin module)");
    begin(&state, ctx, flow).await
}

/// The decision allowed the person into the admin module for `candidate`'s organisation.
pub(super) async fn open_session(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Response {
    let Some(person) = flow.person_id.clone() else {
        return fail(state, ctx, LoginError::UnknownFlow, Some(flow));
    };
    let now = Utc::now();
    let session = AdminSession::new(
        person,
        candidate.organisation.clone(),
        candidate.roles.clone(),
        candidate.level_used,
        now,
    );
    let stored = match serde_json::to_vec(&session) {
        Ok(bytes) => {
            state
                .flows
                .put(
                    &AdminSession::store_key(&session.id),
                    bytes,
                    session.expires_at(&state.config),
                )
                .await
        }
        Err(e) => return fail(state, ctx, LoginError::Internal(e.to_string()), Some(flow)),
    };
    if let Err(e) = stored {
        return fail(state, ctx, LoginError::Internal(e.to_string()), Some(flow));
    }
    tracing::info!(
        reference = %ctx.reference, person = %session.person_id,
        organisation = %session.organisation.kvk, "admin session opened"
    );
    let mut response = Redirect::to("/admin").into_response();
    set_admin_cookie(
        state,
        &mut response,
        &session.id,
        state.config.admin.absolute_timeout_seconds,
    );
    response
}

/// Sets (or, with `max_age` 0, clears) the admin session cookie: HttpOnly, path `/`,
/// Secure over https. SameSite=Lax, because the login reaches `/admin` by a redirect that began
/// with the AD's cross-site POST; forms are protected by the CSRF token, not by SameSite.
pub fn set_admin_cookie(state: &AppState, response: &mut Response, value: &str, max_age: i64) {
    let secure = if state.config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{ADMIN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The admin session cookie of a request.
pub fn admin_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, ADMIN_COOKIE)
}
