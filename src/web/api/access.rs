//! Who may call: the admin session of the request as extractors, so a handler names in its
//! arguments whether it reads ([`Reader`]) or changes ([`Writer`]: the session's CSRF token in
//! `X-CSRF-Token` as well), and is refused with a problem before it runs. An operator's bearer
//! token opens none of these routes (they are the operator API's, `operator::access`).

use super::problem::Problem;
use crate::admin::AdminSession;
use crate::web::admin::{csrf_matches, current, SessionError};
use crate::web::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
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
