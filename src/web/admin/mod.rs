//! The admin module's pages (`/admin`): the session from its cookie (the [`Admin`] extractor),
//! the start page, logout, and one submodule per part of the module. Logging in is
//! `login::admin_login` (the gateway's own flow). Every page calls the same register writes as
//! the JSON API (`web::api`), so both check permissions alike.

pub mod audit;
pub mod grants;
pub mod links;
pub mod organisation;
mod stop;
pub mod users;

pub use stop::{ForLog, OrFailed, Page, Stop};

use super::i18n::Lang;
use super::sessions;
use super::AppState;
use crate::admin::{AdminSession, ADMIN_ROLES};
use crate::grants::Role;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use super::sessions::SessionError;

/// The session of this request, with its idle timeout restarted; none when there is none, it
/// ended, or its membership no longer administers (roles are read again on every request, so a
/// blocked or demoted administrator loses access at once).
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<AdminSession, SessionError> {
    let now = Utc::now();
    let mut session: AdminSession = sessions::load(state, headers, now).await?;
    let membership = crate::admin::current_membership(
        state.registry.sql().pool(),
        &session.person_id,
        &session.organisation.kvk,
    )
    .await
    .map_err(|e| SessionError::Store(e.to_string()))?;
    match membership {
        Some((false, roles)) if roles.iter().any(|r| ADMIN_ROLES.contains(r)) => {
            session.roles = roles
        }
        _ => {
            let _ = sessions::end::<AdminSession>(state, &session.id).await;
            return Err(SessionError::None);
        }
    }
    session.last_seen = now;
    sessions::keep(state, &session).await?;
    Ok(session)
}

/// The signed-in administrator of a request and the language of its pages. A handler that takes
/// it answers with a redirect to the login (no session) or a clear page (store down) otherwise.
pub struct Admin {
    pub session: AdminSession,
    pub lang: Lang,
    /// The gateway's state, which every page of the module reads.
    pub state: Arc<AppState>,
    /// The menu entry this request is under (`/admin/users/…` → `/admin/users`).
    section: String,
    /// The notice a redirect after a change named (`?notice=`), as its text.
    notice: Option<&'static str>,
}

impl axum::extract::FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        let section = parts
            .uri
            .path()
            .split('/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        let notice = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "notice")
                .and_then(|(_, key)| notice_text(lang, &key))
        });
        match current(state, &parts.headers).await {
            Ok(session) => Ok(Admin {
                session,
                lang,
                state: state.clone(),
                section,
                notice,
            }),
            Err(e) => Err(no_session(state, lang, e).into_response()),
        }
    }
}

impl Admin {
    pub fn actor(&self) -> crate::grants::Actor {
        crate::grants::Actor::Admin(self.session.person_id.clone())
    }

    /// The register's actions as this module calls them (the API calls the same).
    pub fn services(&self) -> crate::admin::members::Services<'_> {
        self.state.services()
    }

    /// Hoofdbeheerder or beheerder: manages all users and grants.
    pub fn manages(&self) -> bool {
        may_manage(&self.session)
    }

    /// May change users or grants at all (a groepsbeheerder within their groups).
    pub fn changes_anything(&self) -> bool {
        self.session
            .has_any(&[Role::Hoofdbeheerder, Role::Beheerder, Role::Groepsbeheerder])
    }

    /// The submitted form, when it carries this session's CSRF token; the refusal page otherwise.
    pub fn form(&self, body: &[u8]) -> Result<Fields, Stop> {
        let fields = Fields::parse(body);
        if csrf_matches(&self.session, fields.get("csrf")) {
            Ok(fields)
        } else {
            Err(forbidden_form(&self.state, self.lang).into())
        }
    }

    /// A page of the module: `ctx` (which must hold `title`) with what every page shows: the
    /// organisation, the person's roles and level, the menu for those roles (this section
    /// marked), the CSRF token, and the notice a redirect after a change named.
    pub fn page(&self, template: &str, ctx: minijinja::Value) -> Response {
        let (lang, session) = (self.lang, &self.session);
        let roles: Vec<&str> = session.roles.iter().map(|r| r.as_str()).collect();
        let menu: Vec<minijinja::Value> = menu(session)
            .into_iter()
            .map(|(href, nl, en)| {
                context! { href => href, label => lang.pick(nl, en), current => href == self.section }
            })
            .collect();
        self.state.pages.render(
            template,
            context! {
                lang => lang.code(),
                organisation => session.organisation,
                roles => roles,
                level => session.level.name(),
                csrf => session.csrf,
                menu => menu,
                notice_text => self.notice,
                ..ctx
            },
            None,
        )
    }

    /// A [`page`](Self::page) with a form: 422 when `ctx` has `errors` to show next to their
    /// fields (the form again, with what was typed), 200 otherwise.
    pub fn form_page(&self, template: &str, ctx: minijinja::Value) -> Response {
        let with_errors = ctx
            .get_attr("errors")
            .ok()
            .and_then(|e| e.len())
            .is_some_and(|n| n > 0);
        let mut response = self.page(template, ctx);
        if with_errors {
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        response
    }
}

/// After a change: back to `to` with a notice key its page knows (POST, redirect, GET: a reload
/// does not repeat the change, and no typed text is reflected).
pub fn done(to: &str, notice: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}notice={notice}")).into_response()
}

/// A date as the pages show it.
pub fn day(at: chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The roles this session may give, highest first: appointing a hoofdbeheerder is the
/// hoofdbeheerder's (the register checks the rest).
pub fn assignable_roles(session: &AdminSession) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Hoofdbeheerder || session.has_any(&[Role::Hoofdbeheerder]))
        .map(Role::as_str)
        .collect()
}

/// Roles as a form names them, or the error next to the form's roles when one is unknown.
pub fn parse_roles(
    lang: Lang,
    values: &[String],
) -> Result<Vec<Role>, BTreeMap<&'static str, String>> {
    let roles: Option<Vec<Role>> = values.iter().map(|r| r.parse().ok()).collect();
    roles.ok_or_else(|| {
        let text = lang.pick("Onbekende rol.", "Unknown role.");
        BTreeMap::from([("roles", text.to_string())])
    })
}

/// A list's address with its filters (empty ones left out), e.g. for its previous and next
/// pages or its CSV export.
pub fn list_url(path: &str, fields: &[(&str, String)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        if !value.is_empty() {
            url.append_pair(name, value);
        }
    }
    format!("{path}?{}", url.finish())
}

/// The page of a list a request asks for (`?page=`, from 1), [`Paging::ROWS`] rows a page.
#[derive(Debug, Clone, Copy)]
pub struct Paging(usize);

impl Paging {
    pub const ROWS: usize = 50;

    pub fn asked(page: Option<usize>) -> Paging {
        Paging(page.unwrap_or(1).max(1))
    }

    /// The page's first row.
    pub fn offset(self) -> usize {
        (self.0 - 1).saturating_mul(Self::ROWS)
    }

    /// Where the page stands among `total` rows, as a list's template shows it: `page`,
    /// `pages`, and the addresses of the `previous` and `next` pages (`path` with `filters`).
    pub fn context(self, total: usize, path: &str, filters: &[(&str, String)]) -> minijinja::Value {
        let (page, pages) = (self.0, total.div_ceil(Self::ROWS).max(1));
        let link = |p: usize| {
            let mut fields = filters.to_vec();
            fields.push(("page", p.to_string()));
            list_url(path, &fields)
        };
        context! {
            page => page,
            pages => pages,
            previous => (page > 1).then(|| link(page - 1)),
            next => (page < pages).then(|| link(page + 1)),
        }
    }
}

/// A form's fields in order; a name may repeat (check boxes).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The admin module's pages; each part adds its own.
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin", get(home))
        .route("/admin/logout", post(logout))
        .merge(users::routes())
        .merge(organisation::routes())
        .merge(links::routes())
        .merge(grants::routes())
        .merge(audit::routes())
}

/// The menu: each part of the module the session's roles may see, as (path, Dutch, English).
pub fn menu(session: &AdminSession) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut menu = vec![
        ("/admin", "Overzicht", "Overview"),
        ("/admin/users", "Gebruikers", "Users"),
        ("/admin/grants", "Machtigingen", "Grants"),
        ("/admin/organisation", "Organisatie", "Organisation"),
    ];
    if session.sees_whole_organisation() {
        menu.insert(3, ("/admin/audit", "Logboek", "Audit trail"));
    }
    if may_manage(session) {
        menu.push(("/admin/links", "Koppelverzoeken", "Link requests"));
    }
    menu
}

/// The notices a page shows after a change, by key: (key, Dutch, English) of every part.
const NOTICES: &[&[(&str, &str, &str)]] = &[
    users::NOTICES,
    organisation::NOTICES,
    links::NOTICES,
    grants::NOTICES,
];

fn notice_text(lang: Lang, key: &str) -> Option<&'static str> {
    NOTICES
        .iter()
        .flat_map(|part| part.iter())
        .find(|(k, _, _)| *k == key)
        .map(|(_, nl, en)| lang.pick(nl, en))
}

fn no_session(state: &AppState, lang: Lang, e: SessionError) -> Stop {
    let page = match e {
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
    };
    page.into()
}

/// `GET /admin`: the organisation acted for, its numbers, and where to go.
pub async fn home(admin: Admin) -> Page {
    let state = &admin.state;
    let kvk = &admin.session.organisation.kvk;
    let view = state.registry.sql().organisation_summary(kvk).await;
    let view = view.or_failed(&admin, "home")?;
    let counts = admin.services().count_by_status(&admin.session).await;
    let counts = counts.or_failed(&admin, "home")?;
    Ok(admin.page(
        "admin/home.html",
        minijinja::context! {
            title => admin.lang.pick("Beheermodule", "Admin module"),
            active => counts[0],
            invited => counts[1],
            blocked => counts[2],
            grants_active => view.grants_active,
            grants_expired => view.grants_expired,
            grants_revoked => view.grants_revoked,
            groups => view.groups,
            may_invite => admin.changes_anything(),
        },
    ))
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
) -> Page {
    let lang = Lang::from_headers(&headers);
    let session = current(&state, &headers).await;
    let session = session.map_err(|e| no_session(&state, lang, e))?;
    if !csrf_matches(&session, form.csrf.as_deref()) {
        return Err(forbidden_form(&state, lang).into());
    }
    sessions::end::<AdminSession>(&state, &session.id)
        .await
        .map_err(|e| no_session(&state, lang, e))?;
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
    sessions::clear_cookie::<AdminSession>(&state, &mut response);
    Ok(response)
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

/// Whether `/dev/mailbox` exists: never in production (it shows every mail poort wrote, links
/// to invitations included), and elsewhere only while mail goes to the outbox folder.
pub fn mailbox_served(config: &crate::config::Config) -> bool {
    !config.server.production && config.mail.smtp_url.is_none()
}

/// `GET /dev/mailbox`: the outbox folder as a mailbox page, outside production only (the demo's
/// invitation journey works without a mail server). The router adds the route only when
/// [`mailbox_served`]; the handler checks again.
pub async fn mailbox(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    if !mailbox_served(&state.config) {
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

pub(super) fn may_manage(session: &AdminSession) -> bool {
    session.has_any(&[Role::Hoofdbeheerder, Role::Beheerder])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_middle_page_links_both_ways_with_its_filters() {
        let filters = [("q", "jan".to_string()), ("status", String::new())];
        let ctx = Paging::asked(Some(2)).context(120, "/admin/users", &filters);
        let attr = |name: &str| {
            ctx.get_attr(name)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        assert_eq!(attr("page"), "2");
        assert_eq!(attr("pages"), "3");
        assert_eq!(attr("previous"), "/admin/users?q=jan&page=1");
        assert_eq!(attr("next"), "/admin/users?q=jan&page=3");
        assert_eq!(Paging::asked(Some(2)).offset(), 50);
    }

    #[test]
    fn one_page_has_no_neighbours() {
        let ctx = Paging::asked(Some(0)).context(0, "/admin/audit", &[]);
        assert_eq!(
            ctx.get_attr("pages").map(|v| v.to_string()).ok(),
            Some("1".into())
        );
        assert!(ctx.get_attr("previous").is_ok_and(|v| v.is_none()));
        assert!(ctx.get_attr("next").is_ok_and(|v| v.is_none()));
        assert_eq!(Paging::asked(None).offset(), 0);
    }
}
