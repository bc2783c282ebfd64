//! Who may call: the admin session of the request as extractors, so a handler names in its
//! arguments whether it reads ([`Reader`]) or changes ([`Writer`]: the session's CSRF token in
//! `X-CSRF-Token` as well), and is refused with a problem before it runs.

use super::problem::Problem;
use crate::admin::AdminSession;
use crate::web::admin::{csrf_matches, current};
use crate::web::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;

/// The header a change carries the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session, for a read.
pub struct Reader(pub AdminSession);

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Reader, Problem> {
        Ok(Reader(current(state, &parts.headers).await?))
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
        let session = current(state, &parts.headers).await?;
        let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_matches(&session, token) {
            return Err(Problem::forbidden(
                "a change needs the session's CSRF token in the X-CSRF-Token header",
            ));
        }
        Ok(Writer(session))
    }
}
