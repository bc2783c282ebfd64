//! A request that takes longer than `[server] request_timeout_seconds` is answered, not cut
//! off: a page (or, under `/api/`, a problem document) that says so, with its reference number.

use super::api::Problem;
use super::i18n::Lang;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

pub async fn bounded(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.config.server.request_timeout_seconds.max(1));
    let api = request.uri().path().starts_with("/api/");
    let lang = Lang::from_headers(request.headers());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let reference = crate::telemetry::new_reference();
            tracing::warn!(
                reference = %reference,
                seconds = limit.as_secs(),
                "request not answered in time"
            );
            if api {
                let detail = format!(
                    "poort could not answer within {} seconds; try again (reference {reference})",
                    limit.as_secs()
                );
                let status = StatusCode::SERVICE_UNAVAILABLE;
                let title = "Not answered in time";
                return Problem::with_reference(status, "timeout", title, detail, reference)
                    .into_response();
            }
            state
                .pages
                .error(lang, &super::errors::request_timeout(), &reference, None)
        }
    }
}
