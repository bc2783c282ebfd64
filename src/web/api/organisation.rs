//! The session and the organisation acted for: who is acting (with the CSRF token), the
//! organisation's contact data and counts, and changing that contact data.

use super::access::{Reader, Writer};
use super::bodies::{Body, Contact};
use super::problem::{Problem, ReadProblems, WriteProblems};
use super::wire::{OrganisationSummary, Session};
use super::Csrf;
use crate::admin::AdminSession;
use crate::web::AppState;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

/// The session: person, organisation, roles, level and the CSRF token.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, description = "the session", body = Session), ReadProblems))]
pub async fn get_session(Reader(s): Reader) -> Result<Json<Session>, Problem> {
    Ok(Json((&s).into()))
}

/// The organisation acted for, with its contact data and counts.
#[utoipa::path(get, path = "/api/v1/organisation", tag = "organisation",
    responses((status = 200, description = "the organisation", body = OrganisationSummary), ReadProblems))]
pub async fn get_organisation(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
) -> Result<Json<OrganisationSummary>, Problem> {
    summary(&state, &s).await
}

async fn summary(state: &AppState, s: &AdminSession) -> Result<Json<OrganisationSummary>, Problem> {
    let sql = state.registry.sql();
    Ok(Json(
        sql.organisation_summary(&s.organisation.kvk).await?.into(),
    ))
}

/// Change the contact data: a field left out stays, `""` clears it.
#[utoipa::path(patch, path = "/api/v1/organisation", tag = "organisation", params(Csrf),
    request_body = Contact,
    responses((status = 200, description = "the organisation as changed", body = OrganisationSummary), WriteProblems))]
pub async fn update_organisation(
    State(state): State<Arc<AppState>>,
    Writer(s): Writer,
    Body(body): Body<Contact>,
) -> Result<Json<OrganisationSummary>, Problem> {
    let changes = crate::admin::organisation::contact_changes(
        body.contact_name,
        body.contact_email,
        body.contact_phone,
        body.contact_address,
    )
    .map_err(|(field, detail)| Problem::invalid(format!("{field}: {detail}")))?;
    state.services().update_contact(&s, &changes).await?;
    summary(&state, &s).await
}
