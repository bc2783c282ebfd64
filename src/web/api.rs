//! The admin module's JSON API under `/api/v1/`: the same session, the same service layer and
//! the same permission checks as the pages. Errors are RFC 9457 problem details
//! (`application/problem+json`); lists are paginated (`page`, `per_page`, `total`).
//!
//! Every request acts for the organisation of the session only: an ID of another organisation's
//! grant answers 404, as an ID that does not exist does, so that guessing tells nothing.

use super::admin::{csrf_matches, current, SessionError};
use super::AppState;
use crate::admin::grants::{GrantError, NewGrants};
use crate::admin::AdminSession;
use crate::grants::{
    GrantFilter, GrantRecord, GrantStatus, MemberQuery, MemberStatus, Role, WriteError,
};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// A problem detail (RFC 9457).
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// A short slug; the `type` URI is `/api/v1/problems/<slug>`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
        }
    }

    fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} in your organisation"),
        )
    }

    fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("/api/v1/problems/{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Problem {
        match e {
            SessionError::None => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not logged in",
                "log in to the admin module first (/admin/login)",
            ),
            SessionError::Store(d) => {
                tracing::error!("api session: {d}");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Session store unavailable",
                    "try again in a few minutes",
                )
            }
        }
    }
}

impl From<crate::admin::members::MemberError> for Problem {
    fn from(e: crate::admin::members::MemberError) -> Problem {
        match e {
            crate::admin::members::MemberError::NotFound => Problem::not_found("such member"),
            crate::admin::members::MemberError::Write(w) => w.into(),
        }
    }
}

/// How a refused write reads over the API.
impl From<WriteError> for Problem {
    fn from(e: WriteError) -> Problem {
        use WriteError as W;
        // A person of another organisation answers as one who does not exist: the same status
        // and words, so that guessing person IDs tells nothing.
        if matches!(e, W::UnknownPerson(_) | W::HolderInOtherOrganisation { .. }) {
            return Problem::not_found("such person");
        }
        let (status, kind, title) = match &e {
            W::NotAllowed { .. } | W::AboveAdminLevel { .. } | W::OperatorOnly { .. } => {
                (StatusCode::FORBIDDEN, "forbidden", "Not allowed")
            }
            W::UnknownGrant(_)
            | W::InvitationUnknown
            | W::UnknownOrganisation(_)
            | W::UnknownPerson(_)
            | W::UnknownGroup { .. }
            | W::LinkRequestUnknown => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            W::DuplicateOrganisation(_)
            | W::DuplicateMember { .. }
            | W::DuplicateGroup { .. }
            | W::DuplicateGroupMember { .. }
            | W::LinkTaken { .. }
            | W::DuplicateGrant { .. }
            | W::DuplicateGrantId(_)
            | W::DuplicateEmail { .. }
            | W::LastHoofdbeheerder(_)
            | W::InvitationUsed
            | W::InvitationWithdrawn
            | W::InvitationExpired
            | W::GrantRevoked(_)
            | W::SharedPerson(_)
            | W::LinkRequestDecided(_)
            | W::LinkRequestExpired => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with the register",
            ),
            W::Database(_) => {
                tracing::error!("api: {e}");
                return Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the register could not be changed; nothing was changed",
                );
            }
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid input"),
        };
        Problem::new(status, kind, title, e.to_string())
    }
}

/// The session for a read.
async fn reader(state: &AppState, headers: &HeaderMap) -> Result<AdminSession, Problem> {
    Ok(current(state, headers).await?)
}

/// The session for a change: it must carry the session's CSRF token in `X-CSRF-Token`.
async fn writer(state: &AppState, headers: &HeaderMap) -> Result<AdminSession, Problem> {
    let session = current(state, headers).await?;
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !csrf_matches(&session, token) {
        return Err(Problem::forbidden(
            "a change needs the session's CSRF token in the X-CSRF-Token header",
        ));
    }
    Ok(session)
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    status: Option<String>,
    /// Search text (members: part of the name or e-mail address).
    q: Option<String>,
}

#[derive(Debug, Serialize)]
struct PageOf<T: Serialize> {
    items: Vec<T>,
    page: usize,
    per_page: usize,
    total: usize,
}

/// The page asked for (from 1) and its size (1 to 500, default 50).
fn page_bounds(q: &PageQuery) -> Result<(usize, usize), Problem> {
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=500).contains(&per_page) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Invalid input",
            "per_page must be between 1 and 500",
        ));
    }
    Ok((q.page.unwrap_or(1).max(1), per_page))
}

/// `GET /api/v1/session`: who is acting, for which organisation, and the CSRF token.
pub async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match reader(&state, &headers).await {
        Ok(s) => Json(json!({
            "person": s.person_id,
            "organisation": s.organisation,
            "roles": s.roles,
            "level": s.level.name(),
            "csrf_token": s.csrf,
        }))
        .into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /api/v1/organisation`: the organisation acted for, with its contact data and counts.
pub async fn organisation(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        organisation_json(&state, &s).await
    };
    run.await.into_response()
}

async fn organisation_json(state: &AppState, s: &AdminSession) -> Result<Json<Value>, Problem> {
    let view = state
        .registry
        .sql()
        .organisation_summary(&s.organisation.kvk)
        .await?;
    Ok(Json(json!({
        "organisation": view.organisation,
        "contact_name": view.contact_name,
        "contact_email": view.contact_email,
        "contact_phone": view.contact_phone,
        "contact_address": view.contact_address,
        "groups": view.groups,
        "grants_active": view.grants_active,
        "grants_revoked": view.grants_revoked,
        "grants_expired": view.grants_expired,
    })))
}

/// `GET /api/v1/members`: the organisation's users (a groepsbeheerder: their groups' only).
pub async fn members(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        let (page, per_page) = page_bounds(&q)?;
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<MemberStatus>().map_err(invalid)?),
        };
        let query = MemberQuery {
            search: q.q.clone(),
            status,
            ..Default::default()
        };
        let (items, total) = state
            .services()
            .list(&s, query, (page - 1).saturating_mul(per_page), per_page)
            .await?;
        Ok::<_, Problem>(Json(PageOf {
            items,
            page,
            per_page,
            total,
        }))
    };
    run.await.into_response()
}

fn grant_json(g: &GrantRecord) -> Value {
    json!({
        "id": g.id,
        "holder": g.holder,
        "scope": g.scope,
        "level": g.level.name(),
        "valid_from": g.valid_from,
        "valid_until": g.valid_until,
        "status": g.status,
        "last_used_at": g.last_used_at,
    })
}

impl From<GrantError> for Problem {
    fn from(e: GrantError) -> Problem {
        match e {
            GrantError::NotFound => Problem::not_found("such grant"),
            GrantError::Write(w) => w.into(),
            GrantError::Rows(mut rows) if rows.len() == 1 => Problem::from(rows.remove(0).1),
            GrantError::Rows(rows) => {
                // The most telling refusal decides the status; every one is in the detail.
                let detail = rows
                    .iter()
                    .map(|(l, e)| format!("scope {l}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p = rows
                    .into_iter()
                    .next()
                    .map(|(_, e)| Problem::from(e))
                    .unwrap_or_else(|| invalid(""));
                p.detail = detail;
                p
            }
        }
    }
}

/// `GET /api/v1/grants?status=active|revoked`: the organisation's grants.
pub async fn grants(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        let status = match q.status.as_deref() {
            None => None,
            Some("active") => Some(GrantStatus::Active),
            Some("revoked") => Some(GrantStatus::Revoked),
            Some(other) => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "Invalid input",
                    format!("status {other:?}: use active or revoked"),
                ))
            }
        };
        let (page, per_page) = page_bounds(&q)?;
        let filter = GrantFilter {
            status,
            ..Default::default()
        };
        let (items, total) = state
            .services()
            .list_grants(&s, filter, (page - 1).saturating_mul(per_page), per_page)
            .await?;
        Ok(Json(PageOf {
            items: items.iter().map(grant_json).collect::<Vec<_>>(),
            page,
            per_page,
            total,
        }))
    };
    run.await.into_response()
}

/// `GET /api/v1/grants/{id}`.
pub async fn grant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        let found = state.services().grant(&s, &id).await?;
        Ok::<_, Problem>(Json(grant_json(&found)))
    };
    run.await.into_response()
}

/// `POST /api/v1/grants/{id}/revoke` and `/reactivate`.
pub async fn grant_status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let status = match action.as_str() {
            "revoke" => GrantStatus::Revoked,
            "reactivate" => GrantStatus::Active,
            _ => return Err(Problem::not_found("such action")),
        };
        let changed = state.services().set_grant_status(&s, &id, status).await?;
        Ok(Json(grant_json(&changed)))
    };
    run.await.into_response()
}

fn invitation_json(i: &crate::grants::Invitation, mail_sent: bool) -> Value {
    json!({
        "id": i.id,
        "person": i.person,
        "name": i.name,
        "email": i.email,
        "language": i.language,
        "expires_at": i.expires_at,
        "mail_sent": mail_sent,
    })
}

/// `POST /api/v1/invitations`: invite a person (name, email, language, phone, roles); the
/// invitation e-mail goes out at once.
pub async fn invite(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let new: crate::grants::NewInvitation = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid input",
                format!("the body is not an invitation: {e}"),
            )
        })?;
        let (invitation, sent) = state.services().invite(&s, &new).await?;
        Ok::<_, Problem>((
            StatusCode::CREATED,
            Json(invitation_json(&invitation, sent)),
        ))
    };
    run.await.into_response()
}

/// `POST /api/v1/invitations/{id}/resend` (a new link, the old one stops) and `/withdraw`.
pub async fn invitation_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let services = state.services();
        match action.as_str() {
            "resend" => {
                let (i, sent) = services.resend_invitation(&s, &id).await?;
                Ok(Json(invitation_json(&i, sent)))
            }
            "withdraw" => {
                services.withdraw_invitation(&s, &id).await?;
                Ok(Json(json!({ "id": id, "withdrawn": true })))
            }
            _ => Err(Problem::not_found("such action")),
        }
    };
    run.await.into_response()
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn audit_entries(
    state: &AppState,
    headers: &HeaderMap,
    q: &AuditQuery,
    page: Option<(usize, usize)>,
) -> Result<(Vec<crate::grants::audit::AuditRecord>, usize), Problem> {
    let s = reader(state, headers).await?;
    // The trail names everyone in the organisation: not a groepsbeheerder's to read.
    if !s.sees_whole_organisation() {
        return Err(Problem::forbidden(
            "the audit trail is for hoofdbeheerders, beheerders and lezers",
        ));
    }
    let time = |v: &Option<String>, name: &str| -> Result<_, Problem> {
        v.as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                crate::grants::exchange::parse_instant(t).map_err(|e| {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        "Invalid input",
                        format!("{name}: {e}"),
                    )
                })
            })
            .transpose()
    };
    let filter = crate::grants::audit::AuditFilter {
        action: q.action.clone().filter(|a| !a.is_empty()),
        actor: q.actor.clone().filter(|a| !a.is_empty()),
        since: time(&q.since, "since")?,
        until: time(&q.until, "until")?,
    };
    let pool = state.registry.sql().pool();
    let kvk = &s.organisation.kvk;
    // A page is read by the database; the CSV export takes all that match.
    let listed = match page {
        Some((offset, limit)) => {
            crate::grants::audit::list_page(pool, kvk, &filter, offset, limit).await
        }
        None => crate::grants::audit::list(pool, kvk, &filter)
            .await
            .map(|all| {
                let n = all.len();
                (all, n)
            }),
    };
    listed.map_err(|e| Problem::from(WriteError::Database(e)))
}

/// `GET /api/v1/audit`: the organisation's audit trail, newest first, filtered by `action`
/// (a prefix), `actor`, `since`, `until`.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let run = async {
        let (page, per_page) = page_bounds(&PageQuery {
            page: q.page,
            per_page: q.per_page,
            status: None,
            q: None,
        })?;
        let offset = (page - 1).saturating_mul(per_page);
        let (items, total) = audit_entries(&state, &headers, &q, Some((offset, per_page))).await?;
        Ok::<_, Problem>(Json(PageOf {
            items,
            page,
            per_page,
            total,
        }))
    };
    run.await.into_response()
}

/// `GET /api/v1/audit.csv`: the same, as CSV (all matching entries).
pub async fn audit_csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let entries = match audit_entries(&state, &headers, &q, None).await {
        Ok((e, _)) => e,
        Err(p) => return p.into_response(),
    };
    let write = || -> Result<Vec<u8>, csv::Error> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(["id", "at", "actor", "action", "before", "after"])?;
        for e in &entries {
            out.write_record([
                e.id.to_string(),
                e.at.to_rfc3339(),
                e.actor.clone(),
                e.action.clone(),
                e.before.clone().unwrap_or_default(),
                e.after.clone().unwrap_or_default(),
            ])?;
        }
        out.into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    };
    match write() {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("audit CSV: {e}");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the CSV could not be written",
            )
            .into_response()
        }
    }
}

/// The body of `POST /api/v1/grants`.
#[derive(Debug, Deserialize)]
pub struct NewGrantBody {
    /// Held by this member (person ID) ...
    person: Option<String>,
    /// ... or by this group.
    group: Option<String>,
    /// `{"all": true}`, `{"provider": "<DV entity ID>"}` or `{"services": ["<ServiceUUID>", ...]}`.
    scope: ScopeBody,
    level: String,
    valid_from: Option<String>,
    /// Either an end, or a number of years (1, 3 or 5) from the start.
    valid_until: Option<String>,
    years: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct ScopeBody {
    #[serde(default)]
    all: bool,
    provider: Option<String>,
    #[serde(default)]
    services: Vec<String>,
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "Invalid input",
        detail,
    )
}

/// `POST /api/v1/grants`: one grant, or one per named service, all or nothing; at most 5
/// years, never above the granting administrator's own level.
pub async fn add_grants(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let b: NewGrantBody = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid input",
                format!("the body is not a grant: {e}"),
            )
        })?;
        let holder = match (b.person, b.group) {
            (Some(p), None) => crate::grants::Holder::Person(p),
            (None, Some(g)) => crate::grants::Holder::Group(g),
            _ => return Err(invalid("name either a person or a group as holder")),
        };
        let level: crate::domain::level::Level = b
            .level
            .parse()
            .map_err(|e: crate::domain::level::LevelError| invalid(e.to_string()))?;
        let instant = |v: &str, name: &str| {
            crate::grants::exchange::parse_instant(v).map_err(|e| invalid(format!("{name}: {e}")))
        };
        let now = chrono::Utc::now();
        let valid_from = match b.valid_from.as_deref() {
            Some(v) => instant(v, "valid_from")?,
            None => now,
        };
        let valid_until = match (b.valid_until.as_deref(), b.years) {
            (Some(v), None) => instant(v, "valid_until")?,
            (None, Some(y @ (1 | 3 | 5))) => valid_from
                .checked_add_months(chrono::Months::new(y * 12))
                .ok_or_else(|| invalid("years: out of range"))?,
            (None, Some(y)) => return Err(invalid(format!("years {y}: choose 1, 3 or 5"))),
            _ => return Err(invalid("give valid_until or years")),
        };
        let scopes: Vec<crate::grants::Scope> =
            match (b.scope.all, b.scope.provider, b.scope.services.is_empty()) {
                (true, None, true) => vec![crate::grants::Scope::AllServices],
                (false, Some(provider), true) => vec![crate::grants::Scope::Provider { provider }],
                (false, None, false) => b
                    .scope
                    .services
                    .into_iter()
                    .map(|uuid| crate::grants::Scope::Service { uuid })
                    .collect(),
                _ => return Err(invalid("scope: all, one provider, or one or more services")),
            };
        let new = NewGrants {
            holder,
            scopes,
            level,
            valid_from,
            valid_until,
        };
        let made: Vec<Value> = state
            .services()
            .add_grants(&s, &new)
            .await?
            .iter()
            .map(grant_json)
            .collect();
        Ok::<_, Problem>((StatusCode::CREATED, Json(json!({ "items": made }))))
    };
    run.await.into_response()
}

/// The body of `POST /api/v1/grants/renew`.
#[derive(Debug, Deserialize)]
pub struct RenewBody {
    ids: Vec<String>,
    years: u32,
}

/// `POST /api/v1/grants/renew`: renews one or many grants by 1, 3 or 5 years, all or nothing.
pub async fn renew_grants(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let b: RenewBody = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid input",
                format!("the body must be {{\"ids\": [...], \"years\": 1|3|5}}: {e}"),
            )
        })?;
        if b.ids.is_empty() {
            return Err(invalid("ids: name at least one grant"));
        }
        let renewed: Vec<Value> = state
            .services()
            .renew_grants(&s, &b.ids, b.years)
            .await?
            .iter()
            .map(grant_json)
            .collect();
        Ok(Json(json!({ "items": renewed })))
    };
    run.await.into_response()
}

#[derive(Debug, Deserialize)]
pub struct RolesBody {
    roles: Vec<Role>,
}

/// A JSON body, or a 400 that says what it should have been.
fn body_as<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Invalid input",
            format!("the body is not {what}: {e}"),
        )
    })
}

/// `GET /api/v1/members/{person}`: one member the session may see.
pub async fn member(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        Ok::<_, Problem>(Json(state.services().member(&s, &person).await?))
    };
    run.await.into_response()
}

/// `PATCH /api/v1/members/{person}`: name, email, phone, language (a person who is also a
/// member elsewhere: 409).
pub async fn update_member(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(person): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let details: crate::grants::MemberDetails =
            body_as(&body, "{\"name\", \"email\", \"phone\", \"language\"}")?;
        Ok::<_, Problem>(Json(state.services().update(&s, &person, &details).await?))
    };
    run.await.into_response()
}

/// `DELETE /api/v1/members/{person}`: removes the member (their grants here and an open
/// invitation go; the audit trail keeps what they were).
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        state.services().remove(&s, &person).await?;
        Ok::<_, Problem>(StatusCode::NO_CONTENT)
    };
    run.await.into_response()
}

/// `POST /api/v1/members/{person}/block`, `/unblock` (the whole organisation; nothing deleted)
/// and `/roles` (`{"roles": [...]}`).
pub async fn member_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((person, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let services = state.services();
        let member = match action.as_str() {
            "block" => services.set_blocked(&s, &person, true).await?,
            "unblock" => services.set_blocked(&s, &person, false).await?,
            "roles" => {
                let RolesBody { roles } = body_as(&body, "{\"roles\": [...]}")?;
                services.set_roles(&s, &person, &roles).await?
            }
            _ => return Err(Problem::not_found("such action")),
        };
        Ok(Json(member))
    };
    run.await.into_response()
}

/// `POST /api/v1/members/{person}/groups/{group}/block` and `/unblock`: for one group only.
pub async fn member_group_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((person, group, action)): Path<(String, String, String)>,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let blocked = match action.as_str() {
            "block" => true,
            "unblock" => false,
            _ => return Err(Problem::not_found("such action")),
        };
        let member = state
            .services()
            .set_blocked_in_group(&s, &person, &group, blocked)
            .await?;
        Ok(Json(member))
    };
    run.await.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    contact_name: Option<String>,
    contact_email: Option<String>,
    contact_phone: Option<String>,
    contact_address: Option<String>,
}

/// `PATCH /api/v1/organisation`: the contact data (fields left out stay; `""` clears one).
pub async fn update_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let body: ContactBody = body_as(
            &body,
            "{\"contact_name\", \"contact_email\", \"contact_phone\", \"contact_address\"}",
        )?;
        let changes = crate::admin::organisation::contact_changes(
            body.contact_name,
            body.contact_email,
            body.contact_phone,
            body.contact_address,
        )
        .map_err(|(field, detail)| invalid(format!("{field}: {detail}")))?;
        state.services().update_contact(&s, &changes).await?;
        organisation_json(&state, &s).await
    };
    run.await.into_response()
}

/// `GET /api/v1/link-requests`: the requests this organisation made, and the open requests of
/// other organisations naming one of its members (managers only: they carry e-mail addresses).
pub async fn link_requests(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let run = async {
        let s = reader(&state, &headers).await?;
        if !s.has_any(&[Role::Hoofdbeheerder, Role::Beheerder]) {
            return Err(Problem::forbidden(
                "link requests are for hoofdbeheerders and beheerders",
            ));
        }
        let (outgoing, incoming) = state.services().link_requests(&s).await?;
        Ok::<_, Problem>(Json(json!({ "outgoing": outgoing, "incoming": incoming })))
    };
    run.await.into_response()
}

/// `POST /api/v1/link-requests`: `{"kvk", "email", "roles"}`: ask the organisation with that
/// KvK number to link its member with that e-mail address to this one.
pub async fn request_link(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let new: crate::grants::NewLinkRequest = body_as(&body, "{\"kvk\", \"email\", \"roles\"}")?;
        let made = state
            .services()
            .request_link(&s, &new)
            .await
            .map_err(|e| match e {
                WriteError::UnknownOrganisation(kvk) => {
                    invalid(format!("no organisation with KvK number {kvk}"))
                }
                other => other.into(),
            })?;
        Ok::<_, Problem>((StatusCode::CREATED, Json(made)))
    };
    run.await.into_response()
}

/// `POST /api/v1/link-requests/{id}/approve`, `/decline` (the other side) and `/withdraw`
/// (the asking side).
pub async fn link_request_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let run = async {
        let s = writer(&state, &headers).await?;
        let Some(answer) = crate::admin::links::LinkAnswer::parse(&action) else {
            return Err(Problem::not_found("such action"));
        };
        let request = state.services().answer_link(&s, &id, answer).await?;
        Ok::<_, Problem>(Json(request))
    };
    run.await.into_response()
}

/// `GET /api/v1/openapi.json`: the OpenAPI 3 document of this API.
pub async fn openapi() -> Response {
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    let errors = json!({
        "401": {"description": "not logged in", "content": {"application/problem+json": {"schema": problem}}},
        "403": {"description": "not allowed, or CSRF token missing", "content": {"application/problem+json": {"schema": problem}}},
        "404": {"description": "not in your organisation", "content": {"application/problem+json": {"schema": problem}}},
    });
    let paged = json!([
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    ]);
    let op = |summary: &str, params: Value| {
        let mut responses = errors.clone();
        responses["200"] = json!({"description": "OK", "content": {"application/json": {}}});
        json!({"summary": summary, "parameters": params, "responses": responses})
    };
    let csrf = json!({"name": "X-CSRF-Token", "in": "header", "required": true, "schema": {"type": "string"}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let person =
        json!({"name": "person", "in": "path", "required": true, "schema": {"type": "string"}});
    let group =
        json!({"name": "group", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut member_params = paged.clone();
    if let Some(list) = member_params.as_array_mut() {
        list.push(json!({"name": "q", "in": "query", "schema": {"type": "string"}, "description": "part of the name or e-mail address"}));
        list.push(json!({"name": "status", "in": "query", "schema": {"type": "string", "enum": ["invited", "active", "blocked"]}}));
    }
    let mut grant_params = paged.clone();
    if let Some(list) = grant_params.as_array_mut() {
        list.push(json!({"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "revoked"]}}));
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": {"title": "poort beheermodule API", "version": "1"},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "poort_admin"}},
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/session": {"get": op("The session: person, organisation, roles, CSRF token", json!([]))},
            "/api/v1/organisation": {
                "get": op("The organisation acted for, with its contact data and counts", json!([])),
                "patch": op("Change the contact data ({\"contact_name\", \"contact_email\", \"contact_phone\", \"contact_address\"}; left out: kept; \"\": cleared)", json!([csrf])),
            },
            "/api/v1/members": {"get": op("Users of the organisation (a groepsbeheerder: of their groups), by name", member_params)},
            "/api/v1/members/{person}": {
                "get": op("One member", json!([person])),
                "patch": op("Correct a member's details ({\"name\", \"email\", \"phone\", \"language\"}); 409 for a person who is also a member elsewhere", json!([person, csrf])),
                "delete": op("Remove a member: their roles, groups and grants here go; the audit trail stays (204)", json!([person, csrf])),
            },
            "/api/v1/members/{person}/groups/{group}/block": {"post": op("Block a member in one group only", json!([person, group, csrf]))},
            "/api/v1/members/{person}/groups/{group}/unblock": {"post": op("Lift a member's block in one group", json!([person, group, csrf]))},
            "/api/v1/link-requests": {
                "get": op("Link requests this organisation made, and open requests of others naming one of its members (hoofdbeheerder, beheerder)", json!([])),
                "post": op("Ask another organisation ({\"kvk\", \"email\", \"roles\"}) to link its member with that address to this one (201)", json!([csrf])),
            },
            "/api/v1/link-requests/{id}/approve": {"post": op("Approve a request naming a member of this organisation: they become a member of the asking one", json!([id, csrf]))},
            "/api/v1/link-requests/{id}/decline": {"post": op("Decline a request naming a member of this organisation", json!([id, csrf]))},
            "/api/v1/link-requests/{id}/withdraw": {"post": op("Withdraw this organisation's open request", json!([id, csrf]))},
            "/api/v1/grants": {
                "get": op("Grants of the organisation", grant_params),
                "post": op("Add a grant: holder (person or group), scope (all, provider, or services), level, validity up to 5 years", json!([csrf])),
            },
            "/api/v1/grants/renew": {"post": op("Renew one or many grants by 1, 3 or 5 years ({\"ids\": [...], \"years\": n}), all or nothing", json!([csrf]))},
            "/api/v1/grants/{id}": {"get": op("One grant", json!([id]))},
            "/api/v1/grants/{id}/revoke": {"post": op("Revoke a grant", json!([id, csrf]))},
            "/api/v1/grants/{id}/reactivate": {"post": op("Reactivate a grant", json!([id, csrf]))},
            "/api/v1/members/{person}/block": {"post": op("Block a member in the whole organisation", json!([person, csrf]))},
            "/api/v1/members/{person}/unblock": {"post": op("Unblock a member", json!([person, csrf]))},
            "/api/v1/members/{person}/roles": {"post": op("Replace a member's roles ({\"roles\": [...]}); an organisation keeps a hoofdbeheerder", json!([person, csrf]))},
            "/api/v1/audit": {"get": op("The organisation's audit trail, newest first (filters: action prefix, actor, since, until)", paged.clone())},
            "/api/v1/audit.csv": {"get": op("The same as CSV", json!([]))},
            "/api/v1/invitations": {"post": op("Invite a person (name, email, language, phone, roles); the e-mail goes out at once", json!([csrf]))},
            "/api/v1/invitations/{id}/resend": {"post": op("A new link for an open invitation", json!([id, csrf]))},
            "/api/v1/invitations/{id}/withdraw": {"post": op("Withdraw an open invitation", json!([id, csrf]))},
        }
    }))
    .into_response()
}

/// Anything else under `/api/`.
pub async fn not_found() -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such endpoint",
    )
    .into_response()
}
