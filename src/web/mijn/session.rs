//! The Mijn poort session of a request: read from the shared store by its cookie, its idle
//! timeout restarted; and the [`Person`] extractor the pages take (the API has its own, which
//! answers with problems instead of pages).

use crate::selfservice::PersonSession;
use crate::web::i18n::Lang;
use crate::web::sessions;
use crate::web::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

pub use crate::web::sessions::SessionError;

/// The session of this request, with its idle timeout restarted.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<PersonSession, SessionError> {
    sessions::current(state, headers).await
}

/// Whether a submitted CSRF token is the session's (constant time).
pub fn csrf_matches(session: &PersonSession, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| crate::oidc::secret_matches(s, &session.csrf))
}

/// The signed-in person of a page request and the page's language. Without a session, the
/// page answers with the login, which comes back to the page asked for.
pub struct Person {
    pub session: PersonSession,
    pub lang: Lang,
    pub state: Arc<AppState>,
}

impl axum::extract::FromRequestParts<Arc<AppState>> for Person {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        match current(state, &parts.headers).await {
            Ok(session) => Ok(Person {
                session,
                lang,
                state: state.clone(),
            }),
            Err(SessionError::None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/mijn");
                let mut to = url::form_urlencoded::Serializer::new(String::new());
                to.append_pair("next", &crate::selfservice::safe_next(Some(next)));
                Err(Redirect::to(&format!("/mijn/login?{}", to.finish())).into_response())
            }
            Err(SessionError::Store(detail)) => {
                tracing::error!("mijn session: {detail}");
                Err(state.pages.admin_message(
                    lang,
                    StatusCode::SERVICE_UNAVAILABLE,
                    ("Mijn poort niet beschikbaar", "Mijn poort unavailable"),
                    (
                        "Mijn poort kan uw sessie nu niet lezen. Probeer het over enkele minuten opnieuw.",
                        "Mijn poort cannot read your session now. Try again in a few minutes.",
                    ),
                ))
            }
        }
    }
}
