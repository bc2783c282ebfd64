//! The answer to a login for the admin module: an admin session, kept in the flow store, and
//! its cookie.

use super::super::flow::{Ctx, PendingFlow};
use crate::domain::decision::Candidate;
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::response::Response;
use chrono::Utc;

use crate::admin::AdminSession;

/// The decision allowed the person into the admin module for `candidate`'s organisation.
pub(in crate::web::login) async fn open_session(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Result<Response, LoginError> {
    let person = flow.person_id.clone().ok_or(LoginError::UnknownFlow)?;
    let now = Utc::now();
    let session = AdminSession::new(
        person,
        candidate.organisation.clone(),
        candidate.roles.clone(),
        candidate.level_used,
        now,
    );
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let response = crate::web::sessions::open(state, &session, "/admin")
        .await
        .map_err(|e| internal(&e))?;
    tracing::info!(
        reference = %ctx.reference, person = %session.person_id,
        organisation = %session.organisation.kvk, "admin session opened"
    );
    Ok(response)
}
