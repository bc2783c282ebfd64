//! The organisation's grants over the API: list, one grant, add (one per named service, all or
//! nothing), renew in bulk, revoke and reactivate, through `admin::grants`, which keeps another
//! organisation's grants "not found".

use super::access::{Reader, Writer};
use super::bodies::{Body, NewGrant, Renewal, ScopeChoice};
use super::paging::{GrantPage, Params, Window};
use super::problem::{Problem, ReadProblems, WriteProblems};
use super::wire::{Grant, Grants};
// Named only in `#[param(value_type = …)]` (see `bodies`).
#[allow(unused_imports)]
use super::wire::GrantStatus;
use super::Csrf;
use crate::admin::grants::NewGrants;
use crate::domain::level::{Level, LevelError};
use crate::grants::{GrantFilter, Holder, Scope};
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Months, Utc};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// Which grants to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantList {
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<usize>,
    #[param(value_type = Option<GrantStatus>)]
    status: Option<String>,
}

/// The grants of the organisation (a groepsbeheerder: of their groups and their members).
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", params(GrantList),
    responses((status = 200, description = "a page of grants", body = GrantPage), ReadProblems))]
pub async fn list_grants(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Params(q): Params<GrantList>,
) -> Result<Json<GrantPage>, Problem> {
    let status = match q.status.as_deref() {
        None => None,
        Some("active") => Some(crate::grants::GrantStatus::Active),
        Some("revoked") => Some(crate::grants::GrantStatus::Revoked),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "status {other:?}: use active or revoked"
            )))
        }
    };
    let window = Window::new(q.page, q.per_page)?;
    let filter = GrantFilter {
        status,
        ..Default::default()
    };
    let (items, total) = state
        .services()
        .list_grants(&s, filter, window.offset(), window.per_page)
        .await?;
    Ok(Json(window.page(items.iter().collect(), total)))
}

/// One grant.
#[utoipa::path(get, path = "/api/v1/grants/{id}", tag = "grants",
    params(("id" = String, Path, description = "the grant's ID")),
    responses((status = 200, description = "the grant", body = Grant), ReadProblems))]
pub async fn get_grant(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Path(id): Path<String>,
) -> Result<Json<Grant>, Problem> {
    Ok(Json((&state.services().grant(&s, &id).await?).into()))
}

/// Add a grant: a holder (person or group), a scope (all, a provider, or services: one grant
/// each), a level, and a validity of at most 5 years; all or nothing.
#[utoipa::path(post, path = "/api/v1/grants", tag = "grants", params(Csrf),
    request_body = NewGrant,
    responses((status = 201, description = "the grants made", body = Grants), WriteProblems))]
pub async fn add_grants(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Body(b): Body<NewGrant>,
) -> Result<(StatusCode, Json<Grants>), Problem> {
    let new = new_grants(b, Utc::now())?;
    let made = state.services().add_grants(&s, &new).await?;
    Ok((StatusCode::CREATED, Json(Grants::of(&made))))
}

/// The grants a body asks for, or a 422 saying which of its values is refused.
fn new_grants(b: NewGrant, now: DateTime<Utc>) -> Result<NewGrants, Problem> {
    let holder = match (b.person, b.group) {
        (Some(p), None) => Holder::Person(p),
        (None, Some(g)) => Holder::Group(g),
        _ => {
            return Err(Problem::invalid(
                "name either a person or a group as holder",
            ))
        }
    };
    let level: Level = b
        .level
        .parse()
        .map_err(|e: LevelError| Problem::invalid(e.to_string()))?;
    let instant = |v: &str, name: &str| {
        crate::grants::exchange::parse_instant(v)
            .map_err(|e| Problem::invalid(format!("{name}: {e}")))
    };
    let valid_from = match b.valid_from.as_deref() {
        Some(v) => instant(v, "valid_from")?,
        None => now,
    };
    let valid_until = match (b.valid_until.as_deref(), b.years) {
        (Some(v), None) => instant(v, "valid_until")?,
        (None, Some(y @ (1 | 3 | 5))) => valid_from
            .checked_add_months(Months::new(y * 12))
            .ok_or_else(|| Problem::invalid("years: out of range"))?,
        (None, Some(y)) => return Err(Problem::invalid(format!("years {y}: choose 1, 3 or 5"))),
        _ => return Err(Problem::invalid("give valid_until or years")),
    };
    Ok(NewGrants {
        holder,
        scopes: scopes(b.scope)?,
        level,
        valid_from,
        valid_until,
    })
}

/// One scope for `all` or a provider; one per service for `services`.
pub(super) fn scopes(choice: ScopeChoice) -> Result<Vec<Scope>, Problem> {
    match (choice.all, choice.provider, choice.services.is_empty()) {
        (true, None, true) => Ok(vec![Scope::AllServices]),
        (false, Some(provider), true) => Ok(vec![Scope::Provider { provider }]),
        (false, None, false) => Ok(choice
            .services
            .into_iter()
            .map(|uuid| Scope::Service { uuid })
            .collect()),
        _ => Err(Problem::invalid(
            "scope: all, one provider, or one or more services",
        )),
    }
}

/// Renew one or many grants by 1, 3 or 5 years, all or nothing.
#[utoipa::path(post, path = "/api/v1/grants/renew", tag = "grants", params(Csrf),
    request_body = Renewal,
    responses((status = 200, description = "the grants as renewed", body = Grants), WriteProblems))]
pub async fn renew_grants(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Body(b): Body<Renewal>,
) -> Result<Json<Grants>, Problem> {
    if b.ids.is_empty() {
        return Err(Problem::invalid("ids: name at least one grant"));
    }
    let renewed = state.services().renew_grants(&s, &b.ids, b.years).await?;
    Ok(Json(Grants::of(&renewed)))
}

/// Revoke a grant.
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", tag = "grants",
    params(("id" = String, Path, description = "the grant's ID"), Csrf),
    responses((status = 200, description = "the grant as changed", body = Grant), WriteProblems))]
pub async fn revoke_grant(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<Grant>, Problem> {
    set_status(&state, &s, &id, crate::grants::GrantStatus::Revoked).await
}

/// Reactivate a revoked grant.
#[utoipa::path(post, path = "/api/v1/grants/{id}/reactivate", tag = "grants",
    params(("id" = String, Path, description = "the grant's ID"), Csrf),
    responses((status = 200, description = "the grant as changed", body = Grant), WriteProblems))]
pub async fn reactivate_grant(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Path(id): Path<String>,
) -> Result<Json<Grant>, Problem> {
    set_status(&state, &s, &id, crate::grants::GrantStatus::Active).await
}

async fn set_status(
    state: &AppState,
    s: &crate::admin::AdminSession,
    id: &str,
    status: crate::grants::GrantStatus,
) -> Result<Json<Grant>, Problem> {
    let changed = state.services().set_grant_status(s, id, status).await?;
    Ok(Json((&changed).into()))
}
