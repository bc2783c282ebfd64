//! Who may call: the session of the request as extractors, so a handler names in its arguments
//! whether it reads ([`Reader`]) or changes ([`Writer`]: the session's CSRF token in
//! `X-CSRF-Token` as well), and is refused with a problem before it runs. The admin session
//! opens the admin module's operations; a person's own Mijn poort session ([`PersonReader`],
//! [`PersonWriter`]) opens those under `/api/v1/me`, and neither opens the other's. An
//! operator's bearer token opens none of these routes (they are the operator API's,
//! `operator::access`).

use super::problem::Problem;
use crate::admin::AdminSession;
use crate::selfservice::PersonSession;
use crate::web::admin::{csrf_matches, current, SessionError};
use crate::web::{mijn, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::sync::Arc;

/// The header a change carries the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session of the request, or the problem: without one, a request that carries a bearer
/// token is told that a token does not open the session's routes.
async fn session(parts: &Parts, state: &AppState) -> Result<AdminSession, Problem> {
    match current(state, &parts.headers).await {
        Ok(s) => Ok(s),
        Err(SessionError::None) if super::operator::access::bearer_token(parts).is_some() => {
            Err(Problem::from(SessionError::None).with_detail(
                "an operator's bearer token does not open the admin session's routes; log in \
                 to the admin module first (/admin/login)",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The session, for a read.
pub struct Reader(pub AdminSession);

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Reader, Problem> {
        Ok(Reader(session(parts, state).await?))
    }
}

/// The session, for a change: it must carry the session's CSRF token.
pub struct Writer(pub AdminSession);

impl FromRequestParts<Arc<AppState>> for Writer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Writer, Problem> {
        let session = session(parts, state).await?;
        let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_matches(&session, token) {
            return Err(Problem::forbidden(
                "a change needs the session's CSRF token in the X-CSRF-Token header",
            ));
        }
        Ok(Writer(session))
    }
}

/// A person's own session (Mijn poort's cookie, never the admin module's), for a read under
/// `/api/v1/me`.
pub struct PersonReader(pub PersonSession);

impl FromRequestParts<Arc<AppState>> for PersonReader {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<PersonReader, Problem> {
        mijn::current(state, &parts.headers)
            .await
            .map(PersonReader)
            .map_err(person_session_problem)
    }
}

/// A person's own session, for a change: it must carry the session's CSRF token.
pub struct PersonWriter(pub PersonSession);

impl FromRequestParts<Arc<AppState>> for PersonWriter {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<PersonWriter, Problem> {
        let session = mijn::current(state, &parts.headers)
            .await
            .map_err(person_session_problem)?;
        let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !mijn::csrf_matches(&session, token) {
            return Err(Problem::forbidden(
                "a change needs the session's CSRF token (csrf_token of GET /api/v1/me) in the \
                 X-CSRF-Token header",
            )
            .because("csrf_token"));
        }
        Ok(PersonWriter(session))
    }
}

fn person_session_problem(e: mijn::SessionError) -> Problem {
    match e {
        mijn::SessionError::None => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Not logged in",
            "log in to Mijn poort first (/mijn/login)",
        )
        .because("not_logged_in"),
        mijn::SessionError::Store(detail) => {
            let p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Session store unavailable",
                "the session could not be read; try again in a few minutes",
            );
            tracing::error!(reference = %p.reference, "api me session: {detail}");
            p
        }
    }
}
