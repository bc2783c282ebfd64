//! Invitations over the API: invite a person (the e-mail goes out at once), send a new link,
//! withdraw an open invitation; through `admin::members`, as the pages do.

use super::access::Writer;
use super::bodies::{Body, NewInvitation};
use super::problem::{Problem, WriteProblems};
use super::wire::{Invitation, Withdrawn};
use super::Csrf;
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

/// Invite a person (name, email, language, phone, roles, groups); the e-mail goes out at once.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "invitations", params(Csrf),
    request_body = NewInvitation,
    responses((status = 201, description = "the invitation made", body = Invitation), WriteProblems))]
pub async fn invite(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Body(new): Body<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), Problem> {
    let (invitation, sent) = state.services().invite(&s, &new.into()).await?;
    Ok((StatusCode::CREATED, Json(Invitation::of(&invitation, sent))))
}

/// A new link for an open invitation; the old link stops working.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/resend", tag = "invitations",
    params(("id" = String, Path, description = "the invitation's ID"), Csrf),
    responses((status = 200, description = "the invitation renewed", body = Invitation), WriteProblems))]
pub async fn resend_invitation(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<Invitation>, Problem> {
    let (invitation, sent) = state.services().resend_invitation(&s, &id).await?;
    Ok(Json(Invitation::of(&invitation, sent)))
}

/// Withdraw an open invitation.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/withdraw", tag = "invitations",
    params(("id" = String, Path, description = "the invitation's ID"), Csrf),
    responses((status = 200, description = "withdrawn", body = Withdrawn), WriteProblems))]
pub async fn withdraw_invitation(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<Withdrawn>, Problem> {
    state.services().withdraw_invitation(&s, &id).await?;
    Ok(Json(Withdrawn {
        id,
        withdrawn: true,
    }))
}
