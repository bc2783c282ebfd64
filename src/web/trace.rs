//! One span per request (the root of that request's part of a login's trace) and the
//! request's correlation (trace ID, flow, reference) for every log line it writes.

use crate::telemetry::correlation::{self, Correlation};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What the request span needs from config.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// Continue an incoming `traceparent` (only behind a trusted edge).
    pub trust_incoming_traceparent: bool,
}

/// Routes whose handler continues the trace of the login the request belongs to
/// ([`correlation::continue_trace`] once the pending login is found): their span must not
/// start before that.
fn continues_a_login(route: &str) -> bool {
    route.starts_with("/saml/acs")
        || route.starts_with("/saml/artifact")
        || route.starts_with("/login/")
        || route == "/oidc/callback"
}

pub async fn request_span(
    State(settings): State<Arc<TraceSettings>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    if settings.trust_incoming_traceparent {
        let incoming = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(correlation::parse_traceparent);
        if let Some(parent) = incoming {
            use opentelemetry::trace::TraceContextExt;
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
        }
    }
    let continued = continues_a_login(&route);
    let correlation = Correlation::for_span(span.clone());
    let response = correlation
        .scope(
            async {
                if !continued {
                    correlation::trace_id();
                }
                let response = next.run(request).await;
                correlation::export_deferred();
                response
            }
            .instrument(span.clone()),
        )
        .await;
    let status = response.status();
    // An integer, as the semantic conventions want (a u64 would arrive as a string).
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
