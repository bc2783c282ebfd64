//! Logging in to the admin module: the same login as any service's (AD choice, upstream request,
//! decision, organisation page), answered by opening an admin session instead of a SAML Response
//! or a code.

use super::*;
use crate::admin::AdminSession;
use crate::domain::level::Comparison;

/// The admin session cookie (path `/`: the pages under `/admin` and the API under `/api/v1`
/// share it).
pub const ADMIN_COOKIE: &str = "poort_admin";

/// `GET /admin/login`: starts a login for the admin module.
pub async fn admin_login(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::start(&headers, client);
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
        trace: None,
        expires_at: Utc::now() + Duration::seconds(state.config.saml.flow_lifetime_seconds),
    };
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

/// The decision allowed the person into the admin module for `candidate`'s organisation.
pub(super) async fn open_session(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Response {
    let Some(person) = flow.person_id.clone() else {
        return fail(state, ctx, LoginError::UnknownFlow, Some(flow)).await;
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
        Err(e) => return fail(state, ctx, LoginError::Internal(e.to_string()), Some(flow)).await,
    };
    if let Err(e) = stored {
        return fail(state, ctx, LoginError::Internal(e.to_string()), Some(flow)).await;
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
/// Secure over https, `__Host-` prefixed in production. SameSite=Lax, because the login reaches
/// `/admin` by a redirect that began with the AD's cross-site POST; forms are protected by the
/// CSRF token, not by SameSite.
pub fn set_admin_cookie(state: &AppState, response: &mut Response, value: &str, max_age: i64) {
    let secure = if security::browsers_use_https(&state.config) {
        "; Secure"
    } else {
        ""
    };
    let name = security::cookie_name(&state.config, ADMIN_COOKIE);
    let value =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The admin session cookie of a request.
pub fn admin_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, ADMIN_COOKIE)
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
            required_level: state.config.admin.invitation_level,
            comparison: Comparison::Minimum,
            answer: AnswerTo::Invitation { token },
            force_authn: false,
            is_passive: false,
            allowed_idps: all_idps(&state),
        },
        service,
        service_name: (
            format!("de uitnodiging van {}", organisation.name),
            format!("the invitation of {}", organisation.name),
        ),
        idp: None,
        upstream_request_id: None,
        upstream_oidc: None,
        result: None,
        candidates: Vec::new(),
        person_id: None,
        trace: None,
        expires_at: Utc::now() + Duration::seconds(state.config.saml.flow_lifetime_seconds),
    };
    tracing::info!(reference = %ctx.reference, flow = %flow.id, organisation = %organisation.kvk, "invitation link opened");
    begin(&state, ctx, flow).await
}

fn invitation_unusable(state: &AppState, ctx: &Ctx, e: &crate::grants::WriteError) -> Response {
    use crate::grants::WriteError as W;
    let (status, title, text) = match e {
        W::InvitationExpired => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging verlopen", "Invitation expired"),
            ("Deze uitnodigingslink is verlopen: hij is 24 uur geldig. Vraag de beheerder van uw organisatie om u opnieuw uit te nodigen.",
             "This invitation link has expired: it is valid for 24 hours. Ask your organisation's administrator to invite you again."),
        ),
        W::InvitationUsed => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging al gebruikt", "Invitation already used"),
            ("Deze uitnodigingslink is al gebruikt. U kunt nu direct inloggen bij de diensten en de beheermodule.",
             "This invitation link has already been used. You can now log in directly at the services and the admin module."),
        ),
        W::InvitationWithdrawn => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging ingetrokken", "Invitation withdrawn"),
            ("Deze uitnodiging is ingetrokken door de beheerder van de organisatie.",
             "This invitation was withdrawn by the organisation's administrator."),
        ),
        W::InvitationUnknown => (
            axum::http::StatusCode::NOT_FOUND,
            ("Uitnodiging onbekend", "Invitation not known"),
            ("Deze uitnodigingslink is niet bekend. Controleer of u de hele link uit de e-mail gebruikt, of vraag om een nieuwe uitnodiging.",
             "This invitation link is not known. Check that you used the whole link from the e-mail, or ask for a new invitation."),
        ),
        W::LinkTaken { .. } => (
            axum::http::StatusCode::CONFLICT,
            ("Inlogmiddel al in gebruik", "Means of login already in use"),
            ("Met dit inlogmiddel is al een andere gebruiker bekend. Gebruik uw eigen eHerkenningsmiddel, of neem contact op met de beheerder van uw organisatie.",
             "This means of login already belongs to another user. Use your own eHerkenning means, or contact your organisation's administrator."),
        ),
        other => {
            tracing::error!(reference = %ctx.reference, reason = other.reason_code(), "invitation: {}", other.redacted());
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                ("Er ging iets mis", "Something went wrong"),
                ("De uitnodiging kon nu niet worden verwerkt. Probeer het over enkele minuten opnieuw.",
                 "The invitation could not be handled now. Try again in a few minutes."),
            )
        }
    };
    state.pages.admin_message(ctx.lang, status, title, text)
}

/// The AD authenticated the person who followed an invitation link: bind their identity.
pub(super) async fn accept_invitation(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    token: &str,
    result: &AuthnResult,
) -> Response {
    if result.level < flow.intent.required_level {
        let reason = crate::domain::decision::DenyReason::LevelTooLow {
            achieved: result.level,
            required: flow.intent.required_level,
        };
        return fail(state, ctx, LoginError::Denied(reason), Some(flow)).await;
    }
    let sql = state.registry.sql();
    let accepted = state
        .registry
        .write(sql.accept_invitation(token, &result.idp, &result.subject, Utc::now()))
        .await;
    match accepted {
        Ok(a) => {
            tracing::info!(reference = %ctx.reference, person = %a.person, organisation = %a.organisation.kvk, "invitation accepted");
            let name = a.name.unwrap_or_default();
            state.pages.admin_message(
                ctx.lang,
                axum::http::StatusCode::OK,
                ("Welkom", "Welcome"),
                (
                    &format!("{name}, uw eHerkenningsmiddel is nu gekoppeld aan {}. Voortaan logt u direct in bij de diensten.", a.organisation.name),
                    &format!("{name}, your eHerkenning means is now linked to {}. From now on you log in directly at the services.", a.organisation.name),
                ),
            )
        }
        Err(e) => {
            // By its code only: a taken link's error names the AD subject.
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = e.reason_code(), "invitation not accepted");
            invitation_unusable(state, ctx, &e)
        }
    }
}
