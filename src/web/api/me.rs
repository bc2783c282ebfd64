//! A person's own API under `/api/v1/me` (Mijn poort as JSON): their session, their overview,
//! asking (a grant, a link, a renewal), their requests, withdrawing, and signing off what others
//! ask. The session is Mijn poort's (the `poort_mijn` cookie; the admin module's does not open
//! these, nor this one the admin module's operations); a change carries its CSRF token in
//! `X-CSRF-Token`. Every action goes through `selfservice::SelfService`, as the pages do, so the
//! checks and the mails are the same; every refusal is a problem with its reason code
//! (`Problem: From<RequestError>`), and a request the person neither made nor may sign answers
//! as one that does not exist.

use super::access::{PersonReader, PersonWriter};
use super::bodies::{Approval, Body, Decline, NewRequest as Asked, OptionalBody};
use super::paging::Params;
use super::problem::{MeReadProblems, MeWriteProblems, Problem};
use super::wire_me::{self, ApprovalPage, Me, Overview, Request, RequestKind, Requests, Signed};
use crate::domain::level::Level;
use crate::domain::request::{self as domain, Validity, Verdict};
use crate::grants::{NewRequest, WriteError};
use crate::selfservice::{PersonSession, RequestError};
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// The header every change under `/api/v1/me` carries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct MeCsrf {
    /// The Mijn poort session's CSRF token (`csrf_token` of `GET /api/v1/me`).
    #[serde(rename = "X-CSRF-Token")]
    #[allow(dead_code)]
    x_csrf_token: String,
}

/// A refusal as the API answers it; its reason code (never what the person typed) in the log.
fn refused(e: impl Into<RequestError>) -> Problem {
    let e = e.into();
    if !matches!(e, RequestError::Write(WriteError::Database(_))) {
        tracing::info!(reason = e.reason_code(), "api me: refused");
    }
    e.into()
}

/// The person's own session.
///
/// Who they are, the level their login reached, and the CSRF token of their changes.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("mijn_session" = [])),
    responses((status = 200, description = "the person's session", body = Me), MeReadProblems))]
pub async fn get_me(PersonReader(s): PersonReader) -> Result<Json<Me>, Problem> {
    Ok(Json((&s).into()))
}

/// What Mijn poort's start page shows.
///
/// The person's organisations and roles, grants, recent logins, open and recent requests,
/// invitations and link requests naming them, and how many requests wait for their signature.
#[utoipa::path(get, path = "/api/v1/me/overview", tag = "me", security(("mijn_session" = [])),
    responses((status = 200, description = "the overview", body = Overview), MeReadProblems))]
pub async fn get_overview(
    State(state): State<Arc<AppState>>,
    PersonReader(s): PersonReader,
) -> Result<Json<Overview>, Problem> {
    let overview = state
        .self_service()
        .overview(&s, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json((&overview).into()))
}

/// How many of their decided requests a person's list shows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnList {
    /// Besides every open request, this many of the newest (0 to 500, default 10).
    #[param(minimum = 0, maximum = 500)]
    recent: Option<i64>,
}

/// The person's own requests.
///
/// Newest first: every open one and the `recent` newest others.
#[utoipa::path(get, path = "/api/v1/me/requests", tag = "me", security(("mijn_session" = [])),
    params(OwnList),
    responses((status = 200, description = "the person's requests", body = Requests), MeReadProblems))]
pub async fn list_requests(
    State(state): State<Arc<AppState>>,
    PersonReader(s): PersonReader,
    Params(q): Params<OwnList>,
) -> Result<Json<Requests>, Problem> {
    let recent = q.recent.unwrap_or(crate::selfservice::requests::RECENT);
    if !(0..=500).contains(&recent) {
        return Err(Problem::bad_request("recent must be between 0 and 500").because("recent"));
    }
    let views = state
        .registry
        .sql()
        .requests_of(&s.person_id, recent, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json(Requests {
        items: views.iter().map(Into::into).collect(),
    }))
}

/// Ask for grants, a link or a renewal.
///
/// Grants at an organisation the person belongs to (`kind: grant`), to be linked to an
/// organisation (`link`), or the renewal of one of their own grants (`renewal`). Those who may
/// sign it are mailed.
#[utoipa::path(post, path = "/api/v1/me/requests", tag = "me", security(("mijn_session" = [])),
    params(MeCsrf), request_body = NewRequest,
    responses((status = 201, description = "the request made", body = Request), MeWriteProblems))]
pub async fn ask(
    State(state): State<Arc<AppState>>,
    PersonWriter(s): PersonWriter,
    Body(asked): Body<Asked>,
) -> Result<(StatusCode, Json<Request>), Problem> {
    let new = new_request(&state, &s, asked).await?;
    let view = state
        .self_service()
        .ask(&s, &new, Utc::now())
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json((&view).into())))
}

/// A 422 problem with its reason code.
fn invalid(reason: &str, detail: impl Into<String>) -> Problem {
    Problem::invalid(detail).because(reason)
}

fn level(text: &str) -> Result<Level, Problem> {
    text.parse().map_err(|_| {
        invalid(
            "invalid_level",
            format!("level {text:?}: EH2, EH2+, EH3 or EH4"),
        )
    })
}

fn validity(years: u32) -> Result<Validity, Problem> {
    Validity::from_years(years).ok_or_else(|| {
        invalid(
            "invalid_validity",
            format!("validity_years {years}: choose 1, 3 or 5"),
        )
    })
}

/// A field the request's kind needs, or the register's `empty` refusal naming it.
fn needed<T>(value: Option<T>, what: &'static str) -> Result<T, Problem> {
    value.ok_or_else(|| refused(WriteError::Empty { what }))
}

/// The request the body describes: each field its kind needs, none it does not take.
async fn new_request(
    state: &AppState,
    s: &PersonSession,
    asked: Asked,
) -> Result<NewRequest, Problem> {
    let kind = asked.kind;
    let name = match kind {
        RequestKind::Grant => "grant",
        RequestKind::Link => "link",
        RequestKind::Renewal => "renewal",
    };
    let given = [
        ("organisation", asked.organisation.is_some()),
        ("scope", asked.scope.is_some()),
        ("level", asked.level.is_some()),
        ("validity_years", asked.validity_years.is_some()),
        ("grant", asked.grant.is_some()),
    ];
    let takes: &[&str] = match kind {
        RequestKind::Grant => &["organisation", "scope", "level", "validity_years"],
        RequestKind::Link => &["organisation"],
        RequestKind::Renewal => &["grant", "validity_years"],
    };
    if let Some((field, _)) = given.iter().find(|(f, g)| *g && !takes.contains(f)) {
        return Err(invalid(
            "unexpected_field",
            format!("{field}: not part of a request of kind {name}"),
        ));
    }
    let motivation = asked.motivation.filter(|m| !m.trim().is_empty());
    match kind {
        RequestKind::Grant => {
            let scope = needed(asked.scope, "scope")?;
            let scopes = super::grants::scopes(scope).map_err(|p| p.because("scope"))?;
            Ok(NewRequest {
                organisation: needed(asked.organisation, "organisation")?,
                kind: domain::RequestKind::Grant {
                    scopes,
                    level: level(&needed(asked.level, "level")?)?,
                    validity: validity(needed(asked.validity_years, "validity_years")?)?,
                },
                motivation,
            })
        }
        RequestKind::Link => Ok(NewRequest {
            organisation: needed(asked.organisation, "organisation")?,
            kind: domain::RequestKind::Link,
            motivation,
        }),
        RequestKind::Renewal => {
            let id = needed(asked.grant, "grant")?;
            let validity = validity(needed(asked.validity_years, "validity_years")?)?;
            // Only a grant the person holds themselves: another's answers as one that does not
            // exist.
            let grant = state
                .self_service()
                .own_grant(s, &id)
                .await
                .map_err(refused)?
                .ok_or_else(|| refused(WriteError::UnknownGrant(id.clone())))?;
            Ok(NewRequest {
                organisation: grant.organisation.kvk.clone(),
                kind: domain::RequestKind::Renewal {
                    grant_id: grant.id,
                    level: grant.level,
                    validity,
                },
                motivation,
            })
        }
    }
}

/// One request.
///
/// The person's own, or one they may sign (or could have, had it still been open); any other
/// ID is not found.
#[utoipa::path(get, path = "/api/v1/me/requests/{id}", tag = "me", security(("mijn_session" = [])),
    params(("id" = String, Path, description = "the request's ID")),
    responses((status = 200, description = "the request", body = Request), MeReadProblems))]
pub async fn get_request(
    State(state): State<Arc<AppState>>,
    PersonReader(s): PersonReader,
    Path(id): Path<String>,
) -> Result<Json<Request>, Problem> {
    let view = state
        .self_service()
        .request(&s, &id, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json((&view).into()))
}

/// Withdraw one of the person's own open requests.
///
/// Anyone else's, even one they may sign, is not found.
#[utoipa::path(post, path = "/api/v1/me/requests/{id}/withdraw", tag = "me",
    security(("mijn_session" = [])),
    params(("id" = String, Path, description = "the request's ID"), MeCsrf),
    responses((status = 200, description = "the request as withdrawn", body = Request), MeWriteProblems))]
pub async fn withdraw_request(
    State(state): State<Arc<AppState>>,
    PersonWriter(s): PersonWriter,
    Path(id): Path<String>,
) -> Result<Json<Request>, Problem> {
    let view = state
        .self_service()
        .withdraw(&s, &id, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json((&view).into()))
}

/// Which requests waiting for a signature to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalList {
    /// Only those of the organisation with this KvK number.
    organisation: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// How many (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// The requests waiting for the person's signature.
///
/// Oldest first, a page at a time, across their organisations or for one.
#[utoipa::path(get, path = "/api/v1/me/approvals", tag = "me", security(("mijn_session" = [])),
    params(ApprovalList),
    responses((status = 200, description = "a page of requests to sign", body = ApprovalPage), MeReadProblems))]
pub async fn list_approvals(
    State(state): State<Arc<AppState>>,
    PersonReader(s): PersonReader,
    Params(q): Params<ApprovalList>,
) -> Result<Json<ApprovalPage>, Problem> {
    if let Some(kvk) = &q.organisation {
        crate::grants::check::check_kvk(kvk)
            .map_err(|e| Problem::bad_request(e.to_string()).because(e.reason_code()))?;
    }
    let after = match q.after.as_deref() {
        None => None,
        Some(after) => Some(wire_me::read_cursor(after).ok_or_else(|| {
            Problem::bad_request("after: use the `next` of the previous page").because("cursor")
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 500").because("limit"));
    }
    let page = state
        .self_service()
        .to_sign(
            &s,
            q.organisation.as_deref(),
            after.as_ref(),
            limit,
            Utc::now(),
        )
        .await
        .map_err(refused)?;
    Ok(Json(page.into()))
}

async fn sign(
    state: &AppState,
    s: &PersonSession,
    id: &str,
    verdict: Verdict,
) -> Result<Json<Signed>, Problem> {
    let signed = state
        .self_service()
        .sign(s, id, &verdict, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json((&signed).into()))
}

/// Approve a request the person may sign.
///
/// As asked, or lowered (never raised); a director with joint authority may give the first of
/// two signatures.
#[utoipa::path(post, path = "/api/v1/me/approvals/{id}/approve", tag = "me",
    security(("mijn_session" = [])),
    params(("id" = String, Path, description = "the request's ID"), MeCsrf),
    request_body(content = Option<Approval>, description = "lowered level or validity; leave out to approve as asked"),
    responses((status = 200, description = "the request as signed", body = Signed), MeWriteProblems))]
pub async fn approve(
    State(state): State<Arc<AppState>>,
    PersonWriter(s): PersonWriter,
    Path(id): Path<String>,
    OptionalBody(approval): OptionalBody<Approval>,
) -> Result<Json<Signed>, Problem> {
    let verdict = Verdict::Approve {
        level: approval.level.as_deref().map(level).transpose()?,
        validity: approval.validity_years.map(validity).transpose()?,
    };
    sign(&state, &s, &id, verdict).await
}

/// Decline a request the person may sign.
///
/// With the reason the requester is told.
#[utoipa::path(post, path = "/api/v1/me/approvals/{id}/decline", tag = "me",
    security(("mijn_session" = [])),
    params(("id" = String, Path, description = "the request's ID"), MeCsrf),
    request_body = Decline,
    responses((status = 200, description = "the request as declined", body = Signed), MeWriteProblems))]
pub async fn decline(
    State(state): State<Arc<AppState>>,
    PersonWriter(s): PersonWriter,
    Path(id): Path<String>,
    Body(decline): Body<Decline>,
) -> Result<Json<Signed>, Problem> {
    let verdict = Verdict::Decline {
        reason: decline.reason,
    };
    sign(&state, &s, &id, verdict).await
}
