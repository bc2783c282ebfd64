//! The organisation's users over the API: list, one member, correct details, remove, block
//! (the whole organisation or one group) and roles. Each calls the service layer the pages
//! call (`admin::members`), which keeps members outside the session's view "not found".

use super::access::{Reader, Writer};
use super::bodies::{Body, MemberDetails, Roles};
use super::paging::{MemberPage, Params, Window};
use super::problem::{Problem, ReadProblems, WriteProblems};
use super::wire::{self, Member};
// Named only in `#[param(value_type = …)]` (see `bodies`).
#[allow(unused_imports)]
use super::wire::MemberStatus;
use super::Csrf;
use crate::grants::MemberQuery;
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// Which members to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberList {
    /// From 1.
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<usize>,
    /// Part of the name or e-mail address.
    q: Option<String>,
    #[param(value_type = Option<MemberStatus>)]
    status: Option<String>,
}

/// The users of the organisation (a groepsbeheerder: of their groups), by name.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(MemberList),
    responses((status = 200, description = "a page of members", body = MemberPage), ReadProblems))]
pub async fn list_members(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Params(q): Params<MemberList>,
) -> Result<Json<MemberPage>, Problem> {
    let window = Window::new(q.page, q.per_page)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<crate::grants::MemberStatus>()
                .map_err(Problem::invalid)?,
        ),
    };
    let query = MemberQuery {
        search: q.q,
        status,
        ..Default::default()
    };
    let (items, total) = state
        .services()
        .list(&s, query, window.offset(), window.per_page)
        .await?;
    Ok(Json(window.page(items, total)))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{person}", tag = "members",
    params(("person" = String, Path, description = "the person's ID")),
    responses((status = 200, description = "the member", body = Member), ReadProblems))]
pub async fn get_member(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Path(person): Path<String>,
) -> Result<Json<Member>, Problem> {
    Ok(Json(state.services().member(&s, &person).await?.into()))
}

/// Correct a member's details; 409 for a person who is also a member elsewhere.
#[utoipa::path(patch, path = "/api/v1/members/{person}", tag = "members",
    params(("person" = String, Path, description = "the person's ID"), Csrf),
    request_body = MemberDetails,
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn update_member(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(person): Path<String>,
    Body(details): Body<MemberDetails>,
) -> Result<Json<Member>, Problem> {
    let details = details.into();
    Ok(Json(
        state.services().update(&s, &person, &details).await?.into(),
    ))
}

/// Remove a member: their roles, groups and grants here go; the audit trail keeps what they
/// were.
#[utoipa::path(delete, path = "/api/v1/members/{person}", tag = "members",
    params(("person" = String, Path, description = "the person's ID"), Csrf),
    responses((status = 204, description = "removed"), WriteProblems))]
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(person): Path<String>,
) -> Result<StatusCode, Problem> {
    state.services().remove(&s, &person).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Block a member in the whole organisation (nothing is deleted).
#[utoipa::path(post, path = "/api/v1/members/{person}/block", tag = "members",
    params(("person" = String, Path, description = "the person's ID"), Csrf),
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn block_member(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(person): Path<String>,
) -> Result<Json<Member>, Problem> {
    let member = state.services().set_blocked(&s, &person, true).await?;
    Ok(Json(member.into()))
}

/// Unblock a member.
#[utoipa::path(post, path = "/api/v1/members/{person}/unblock", tag = "members",
    params(("person" = String, Path, description = "the person's ID"), Csrf),
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn unblock_member(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(person): Path<String>,
) -> Result<Json<Member>, Problem> {
    let member = state.services().set_blocked(&s, &person, false).await?;
    Ok(Json(member.into()))
}

/// Replace a member's roles; an organisation keeps a hoofdbeheerder.
#[utoipa::path(post, path = "/api/v1/members/{person}/roles", tag = "members",
    params(("person" = String, Path, description = "the person's ID"), Csrf),
    request_body = Roles,
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn set_roles(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(person): Path<String>,
    Body(Roles { roles }): Body<Roles>,
) -> Result<Json<Member>, Problem> {
    let roles: Vec<crate::grants::Role> = wire::roles(&roles);
    let member = state.services().set_roles(&s, &person, &roles).await?;
    Ok(Json(member.into()))
}

/// Block a member in one group only.
#[utoipa::path(post, path = "/api/v1/members/{person}/groups/{group}/block", tag = "members",
    params(("person" = String, Path, description = "the person's ID"),
        ("group" = String, Path, description = "the group's name"), Csrf),
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn block_in_group(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path((person, group)): Path<(String, String)>,
) -> Result<Json<Member>, Problem> {
    in_group(&state, &s, &person, &group, true).await
}

/// Lift a member's block in one group.
#[utoipa::path(post, path = "/api/v1/members/{person}/groups/{group}/unblock", tag = "members",
    params(("person" = String, Path, description = "the person's ID"),
        ("group" = String, Path, description = "the group's name"), Csrf),
    responses((status = 200, description = "the member as changed", body = Member), WriteProblems))]
pub async fn unblock_in_group(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path((person, group)): Path<(String, String)>,
) -> Result<Json<Member>, Problem> {
    in_group(&state, &s, &person, &group, false).await
}

/// Blocks or unblocks a member in one group.
async fn in_group(
    state: &AppState,
    s: &crate::admin::AdminSession,
    person: &str,
    group: &str,
    blocked: bool,
) -> Result<Json<Member>, Problem> {
    let services = state.services();
    let member = services
        .set_blocked_in_group(s, person, group, blocked)
        .await?;
    Ok(Json(member.into()))
}
