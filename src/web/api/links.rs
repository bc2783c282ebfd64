//! Link requests over the API: the requests an organisation made and those naming one of its
//! members (managers only: they carry e-mail addresses), asking, and the three answers.

use super::access::{Reader, Writer};
use super::bodies::{Body, NewLinkRequest};
use super::problem::{Problem, ReadProblems, WriteProblems};
use super::wire::{LinkRequest, LinkRequests};
use super::Csrf;
use crate::admin::links::LinkAnswer;
use crate::admin::AdminSession;
use crate::grants::{Role, WriteError};
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

/// The requests this organisation made, and the open requests of others naming one of its
/// members (hoofdbeheerders and beheerders).
#[utoipa::path(get, path = "/api/v1/link-requests", tag = "link-requests",
    responses((status = 200, description = "outgoing and incoming requests", body = LinkRequests), ReadProblems))]
pub async fn list_link_requests(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
) -> Result<Json<LinkRequests>, Problem> {
    if !s.has_any(&[Role::Hoofdbeheerder, Role::Beheerder]) {
        return Err(Problem::forbidden(
            "link requests are for hoofdbeheerders and beheerders",
        ));
    }
    let (outgoing, incoming) = state.services().link_requests(&s).await?;
    Ok(Json(LinkRequests {
        outgoing: outgoing.into_iter().map(Into::into).collect(),
        incoming: incoming.into_iter().map(Into::into).collect(),
    }))
}

/// Ask another organisation to link its member with that e-mail address to this one.
#[utoipa::path(post, path = "/api/v1/link-requests", tag = "link-requests", params(Csrf),
    request_body = NewLinkRequest,
    responses((status = 201, description = "the request made", body = LinkRequest), WriteProblems))]
pub async fn request_link(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Body(new): Body<NewLinkRequest>,
) -> Result<(StatusCode, Json<LinkRequest>), Problem> {
    let made = state
        .services()
        .request_link(&s, &new.into())
        .await
        .map_err(|e| match e {
            // The organisation named in the body, not a thing looked up by the URL: 422.
            WriteError::UnknownOrganisation(kvk) => {
                Problem::invalid(format!("no organisation with KvK number {kvk}"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

async fn answer(
    state: &AppState,
    s: &AdminSession,
    id: &str,
    answer: LinkAnswer,
) -> Result<Json<LinkRequest>, Problem> {
    let request = state.services().answer_link(s, id, answer).await?;
    Ok(Json(request.into()))
}

/// Approve a request naming a member of this organisation: they become a member of the
/// asking one.
#[utoipa::path(post, path = "/api/v1/link-requests/{id}/approve", tag = "link-requests",
    params(("id" = String, Path, description = "the request's ID"), Csrf),
    responses((status = 200, description = "the request as decided", body = LinkRequest), WriteProblems))]
pub async fn approve_link_request(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<LinkRequest>, Problem> {
    answer(&state, &s, &id, LinkAnswer::Approve).await
}

/// Decline a request naming a member of this organisation.
#[utoipa::path(post, path = "/api/v1/link-requests/{id}/decline", tag = "link-requests",
    params(("id" = String, Path, description = "the request's ID"), Csrf),
    responses((status = 200, description = "the request as decided", body = LinkRequest), WriteProblems))]
pub async fn decline_link_request(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<LinkRequest>, Problem> {
    answer(&state, &s, &id, LinkAnswer::Decline).await
}

/// Withdraw this organisation's open request.
#[utoipa::path(post, path = "/api/v1/link-requests/{id}/withdraw", tag = "link-requests",
    params(("id" = String, Path, description = "the request's ID"), Csrf),
    responses((status = 200, description = "the request as withdrawn", body = LinkRequest), WriteProblems))]
pub async fn withdraw_link_request(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<LinkRequest>, Problem> {
    answer(&state, &s, &id, LinkAnswer::Withdraw).await
}
