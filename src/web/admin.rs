//! The admin module's pages (`/admin`): the session from its cookie, the start page with the
//! organisation's users, and logout. Logging in is `login::admin_login` (the gateway's own flow).

use super::i18n::Lang;
use super::login::{admin_cookie, set_admin_cookie};
use super::AppState;
use crate::admin::{AdminSession, ADMIN_ROLES};
use crate::grants::{MemberView, Role};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;

/// Why there is no session to act in.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not logged in to the admin module")]
    None,
    #[error("the session store failed: {0}")]
    Store(String),
}

/// The session of this request, with its idle timeout restarted; `None` when there is none or
/// it ended (the store drops it at its expiry: idle, or absolute from the login).
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<AdminSession, SessionError> {
    let id = admin_cookie(headers).ok_or(SessionError::None)?;
    let key = AdminSession::store_key(&id);
    let now = Utc::now();
    let bytes = state
        .flows
        .get(&key, now)
        .await
        .map_err(|e| SessionError::Store(e.to_string()))?
        .ok_or(SessionError::None)?;
    let mut session: AdminSession =
        serde_json::from_slice(&bytes).map_err(|e| SessionError::Store(e.to_string()))?;
    if session.id != id || session.expires_at(&state.config) <= now {
        return Err(SessionError::None);
    }
    session.last_seen = now;
    let bytes = serde_json::to_vec(&session).map_err(|e| SessionError::Store(e.to_string()))?;
    state
        .flows
        .put(&key, bytes, session.expires_at(&state.config))
        .await
        .map_err(|e| SessionError::Store(e.to_string()))?;
    Ok(session)
}

fn no_session(state: &AppState, lang: Lang, e: SessionError) -> Response {
    match e {
        SessionError::None => Redirect::to("/admin/login").into_response(),
        SessionError::Store(detail) => {
            tracing::error!("admin session: {detail}");
            state.pages.admin_message(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                ("Beheermodule niet beschikbaar", "Admin module unavailable"),
                (
                    "De beheermodule kan uw sessie nu niet lezen. Probeer het over enkele minuten opnieuw.",
                    "The admin module cannot read your session now. Try again in a few minutes.",
                ),
            )
        }
    }
}

/// `GET /admin`: the organisation acted for and its users.
pub async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    let session = match current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return no_session(&state, lang, e),
    };
    let view = match state
        .registry
        .sql()
        .show_organisation(&session.organisation.kvk)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(organisation = %session.organisation.kvk, "admin home: {e}");
            return state.pages.admin_message(
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                ("Er ging iets mis", "Something went wrong"),
                (
                    "De gegevens van uw organisatie konden niet worden gelezen.",
                    "Your organisation's data could not be read.",
                ),
            );
        }
    };
    let members = visible_members(&session, view.members);
    debug_assert!(session.has_any(&ADMIN_ROLES));
    state.pages.admin_home(lang, &session, &members)
}

/// The members a session may see: all of them, except that a groepsbeheerder without a wider
/// role sees themselves and the members of their own groups only.
pub fn visible_members(session: &AdminSession, members: Vec<MemberView>) -> Vec<MemberView> {
    let wide = session.has_any(&[Role::Hoofdbeheerder, Role::Beheerder, Role::Lezer]);
    let own_groups: Vec<String> = members
        .iter()
        .find(|m| m.person == session.person_id)
        .map(|m| m.groups.iter().map(|(g, _)| g.clone()).collect())
        .unwrap_or_default();
    members
        .into_iter()
        .filter(|m| {
            wide || m.person == session.person_id
                || m.groups.iter().any(|(g, _)| own_groups.contains(g))
        })
        .collect()
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// Whether a submitted CSRF token is the session's (constant time).
pub fn csrf_matches(session: &AdminSession, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| crate::oidc::secret_matches(s, &session.csrf))
}

/// `POST /admin/logout`: ends the session everywhere (it lives in the shared store).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let session = match current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return no_session(&state, lang, e),
    };
    if !csrf_matches(&session, form.csrf.as_deref()) {
        return forbidden_form(&state, lang);
    }
    if let Err(e) = state
        .flows
        .take(&AdminSession::store_key(&session.id), Utc::now())
        .await
    {
        return no_session(&state, lang, SessionError::Store(e.to_string()));
    }
    tracing::info!(person = %session.person_id, organisation = %session.organisation.kvk, "admin session closed");
    let mut response = state.pages.admin_message(
        lang,
        StatusCode::OK,
        ("U bent uitgelogd", "You are logged out"),
        (
            "U bent uitgelogd uit de beheermodule.",
            "You are logged out of the admin module.",
        ),
    );
    set_admin_cookie(&state, &mut response, "", 0);
    response
}

/// A form without this session's CSRF token.
pub fn forbidden_form(state: &AppState, lang: Lang) -> Response {
    state.pages.admin_message(
        lang,
        StatusCode::FORBIDDEN,
        ("Formulier niet geaccepteerd", "Form not accepted"),
        (
            "Dit formulier kwam niet uit uw sessie in de beheermodule (het beveiligingsveld ontbreekt of klopt niet). Er is niets gewijzigd.",
            "This form did not come from your admin-module session (its security field is missing or wrong). Nothing was changed.",
        ),
    )
}

/// `GET /dev/mailbox`: the outbox folder as a mailbox page, outside production only (the demo's
/// invitation journey works without a mail server).
pub async fn mailbox(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    if state.config.server.production || state.config.mail.smtp_url.is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mails: Vec<(String, Vec<String>)> = crate::mail::outbox(&state.config.mail.outbox_dir)
        .into_iter()
        .map(|(_, raw)| {
            let text = readable_mail(&raw);
            let links = text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
                .map(str::to_string)
                .collect();
            (text, links)
        })
        .collect();
    state.pages.mailbox(lang, &mails)
}

/// The headers people read and the body, decoded from the quoted-printable lettre writes.
fn readable_mail(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let keep: Vec<&str> = head
        .lines()
        .filter(|l| {
            ["From:", "To:", "Subject:", "Date:"]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .collect();
    let head_lower = head.to_ascii_lowercase();
    let body = if head_lower.contains("quoted-printable") {
        decode_quoted_printable(body)
    } else if head_lower.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let compact: String = body.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| body.to_string())
    } else {
        body.to_string()
    };
    format!("{}\n\n{}", keep.join("\n"), body.replace("\r\n", "\n"))
}

fn decode_quoted_printable(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn may_manage(session: &AdminSession) -> bool {
    session.has_any(&[Role::Hoofdbeheerder, Role::Beheerder])
}

fn not_for_your_roles(state: &AppState, lang: Lang) -> Response {
    state.pages.admin_message(
        lang,
        StatusCode::FORBIDDEN,
        ("Niet toegestaan", "Not allowed"),
        (
            "Uw rollen in deze organisatie staan dit niet toe.",
            "Your roles in this organisation do not allow this.",
        ),
    )
}

/// `GET /admin/users/new`: the invitation form.
pub async fn invite_form(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    let session = match current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return no_session(&state, lang, e),
    };
    if !may_manage(&session) {
        return not_for_your_roles(&state, lang);
    }
    let form = super::pages::InviteForm {
        language: lang.code().to_string(),
        roles: vec!["gebruiker".into()],
        ..Default::default()
    };
    state
        .pages
        .admin_invite(lang, &session, &form, &Default::default(), None)
}

/// `POST /admin/users/new`: invites, or shows the form again with what was typed and each
/// error next to its field.
pub async fn invite_submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let session = match current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return no_session(&state, lang, e),
    };
    let mut form = super::pages::InviteForm::default();
    let mut csrf = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = Some(v.into_owned()),
            "name" => form.name = v.into_owned(),
            "email" => form.email = v.into_owned(),
            "phone" => form.phone = v.into_owned(),
            "language" => form.language = v.into_owned(),
            "role" => form.roles.push(v.into_owned()),
            _ => {}
        }
    }
    if !csrf_matches(&session, csrf.as_deref()) {
        return forbidden_form(&state, lang);
    }
    if !may_manage(&session) {
        return not_for_your_roles(&state, lang);
    }
    let mut errors = std::collections::BTreeMap::new();
    let roles: Vec<Role> = form
        .roles
        .iter()
        .filter_map(|r| serde_json::from_value(serde_json::Value::String(r.clone())).ok())
        .collect();
    if roles.len() != form.roles.len() {
        errors.insert(
            "roles",
            lang.pick("Onbekende rol.", "Unknown role.").to_string(),
        );
        return state
            .pages
            .admin_invite(lang, &session, &form, &errors, None);
    }
    let new = crate::grants::NewInvitation {
        name: form.name.clone(),
        email: form.email.clone(),
        language: Some(if form.language == "en" { "en" } else { "nl" }.to_string()),
        phone: Some(form.phone.trim().to_string()).filter(|p| !p.is_empty()),
        roles,
    };
    let actor = crate::grants::Actor::Admin(session.person_id.clone());
    let sql = state.registry.sql();
    let made = state
        .registry
        .write(sql.invite(&actor, &session.organisation.kvk, &new, Utc::now()))
        .await;
    use crate::grants::WriteError as W;
    match made {
        Ok(invitation) => {
            let sent = super::api::mail_invitation(&state, &invitation).await;
            let (nl, en) = if sent {
                (
                    format!("{} krijgt een e-mail op {} met een link om de eerste keer in te loggen (24 uur geldig).", invitation.name, invitation.email),
                    format!("{} gets an e-mail at {} with a link for the first login (valid for 24 hours).", invitation.name, invitation.email),
                )
            } else {
                (
                    format!("{} is toegevoegd, maar de e-mail kon niet worden verstuurd. Verstuur de uitnodiging later opnieuw.", invitation.name),
                    format!("{} was added, but the e-mail could not be sent. Send the invitation again later.", invitation.name),
                )
            };
            state.pages.admin_message(
                lang,
                StatusCode::OK,
                ("Uitnodiging verstuurd", "Invitation sent"),
                (&nl, &en),
            )
        }
        Err(W::Empty { what: "name" }) => {
            errors.insert(
                "name",
                lang.pick("Vul een naam in.", "Enter a name.").to_string(),
            );
            state
                .pages
                .admin_invite(lang, &session, &form, &errors, None)
        }
        Err(W::InvalidEmail(_)) => {
            errors.insert(
                "email",
                lang.pick(
                    "Dit is geen geldig e-mailadres.",
                    "This is not a valid e-mail address.",
                )
                .to_string(),
            );
            state
                .pages
                .admin_invite(lang, &session, &form, &errors, None)
        }
        Err(W::DuplicateEmail { .. }) => {
            errors.insert(
                "email",
                lang.pick(
                    "Er is in deze organisatie al een gebruiker met dit e-mailadres.",
                    "This organisation already has a user with this e-mail address.",
                )
                .to_string(),
            );
            state
                .pages
                .admin_invite(lang, &session, &form, &errors, None)
        }
        Err(W::NotAllowed { .. }) => {
            errors.insert(
                "roles",
                lang.pick(
                    "Alleen een hoofdbeheerder mag hoofdbeheerders en beheerders aanstellen.",
                    "Only a hoofdbeheerder may appoint hoofdbeheerders and beheerders.",
                )
                .to_string(),
            );
            state
                .pages
                .admin_invite(lang, &session, &form, &errors, None)
        }
        Err(e) => {
            tracing::error!(organisation = %session.organisation.kvk, "invite: {e}");
            let text = lang.pick(
                "De uitnodiging kon niet worden gemaakt; er is niets gewijzigd. Probeer het opnieuw.",
                "The invitation could not be made; nothing was changed. Try again.",
            );
            state
                .pages
                .admin_invite(lang, &session, &form, &errors, Some(text))
        }
    }
}
