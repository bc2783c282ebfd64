//! What ties a log line to its request and login: the trace ID, the flow and the reference
//! number, kept for the request's task (a `tokio` task-local) so that every log line of the
//! request carries them, and the error page can show the trace ID beside the reference.

use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, TraceState};
use parking_lot::Mutex;
use std::sync::Arc;
use tracing_opentelemetry::OpenTelemetrySpanExt;

tokio::task_local! {
    static CURRENT: Correlation;
}

/// The correlation of one request. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Correlation(Arc<Mutex<Ids>>);

#[derive(Debug, Default)]
struct Ids {
    trace_id: Option<String>,
    flow: Option<String>,
    reference: Option<String>,
    /// The request's span, whose OpenTelemetry parent a continued login sets.
    span: Option<tracing::Span>,
    /// Steps timed before the request knew its login (see [`timed`]).
    deferred: Vec<Deferred>,
}

/// A step measured before the request's span could start (an artifact resolved before the
/// pending login it belongs to is known): exported as a child of the request's span when the
/// request ends.
#[derive(Debug)]
struct Deferred {
    name: &'static str,
    start: std::time::SystemTime,
    end: std::time::SystemTime,
    attributes: Vec<opentelemetry::KeyValue>,
}

/// The identifiers a log line carries.
#[derive(Debug, Default, Clone)]
pub struct LineIds {
    pub trace_id: Option<String>,
    pub flow: Option<String>,
    pub reference: Option<String>,
}

impl Correlation {
    pub fn for_span(span: tracing::Span) -> Correlation {
        Correlation(Arc::new(Mutex::new(Ids {
            span: Some(span),
            ..Ids::default()
        })))
    }

    /// Runs `f` with this correlation as the current one.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

/// Runs `f` on the current request's ids. `f` must not log, nor call into the subscriber (a
/// span's context): the log formatter reads these ids, under the same lock.
fn with_current<T>(f: impl FnOnce(&mut Ids) -> T) -> Option<T> {
    CURRENT.try_with(|c| f(&mut c.0.lock())).ok()
}

/// The request's span, to work on outside the lock.
fn request_span() -> Option<tracing::Span> {
    with_current(|ids| ids.span.clone()).flatten()
}

/// The fields of the current request, for the log formatter. Never waits: a line written while
/// the ids are being changed goes without them rather than stall the request.
pub fn line_ids() -> LineIds {
    CURRENT
        .try_with(|c| {
            c.0.try_lock().map(|ids| LineIds {
                trace_id: ids.trace_id.clone(),
                flow: ids.flow.clone(),
                reference: ids.reference.clone(),
            })
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Names the login (the pending flow's ID) this request belongs to, in its log lines. The ID
/// is no bearer secret: a flow continues only in the browser that holds its cookie.
pub fn note_flow(id: &str) {
    with_current(|ids| ids.flow = Some(id.to_string()));
}

/// Runs `step`, timing it as a span named `name` with the attributes `describe` gives its
/// outcome. Unlike a `tracing` span this does not start the request's span, so a login's trace
/// can still be continued afterwards; the span is exported when the request ends.
pub async fn timed<F: std::future::Future>(
    name: &'static str,
    step: F,
    describe: impl FnOnce(&F::Output) -> Vec<opentelemetry::KeyValue>,
) -> F::Output {
    let start = std::time::SystemTime::now();
    let output = step.await;
    let end = std::time::SystemTime::now();
    let attributes = describe(&output);
    with_current(|ids| {
        ids.deferred.push(Deferred {
            name,
            start,
            end,
            attributes,
        })
    });
    output
}

/// Exports the steps [`timed`] measured, as children of the request's span (the middleware
/// calls this as the request ends).
pub fn export_deferred() {
    use opentelemetry::trace::{Span as _, Tracer as _};
    let deferred = with_current(|ids| std::mem::take(&mut ids.deferred)).unwrap_or_default();
    if deferred.is_empty() {
        return;
    }
    let Some(parent) = request_span().map(|s| s.context()) else {
        return;
    };
    let tracer = opentelemetry::global::tracer("poort");
    for step in deferred {
        let mut span = tracer
            .span_builder(step.name)
            .with_start_time(step.start)
            .with_attributes(step.attributes)
            .start_with_context(&tracer, &parent);
        span.end_with_timestamp(step.end);
    }
}

/// A new reference number: ten hexadecimal digits a person can read out to a help desk, and
/// ops find in the logs.
pub fn new_reference() -> String {
    hex::encode(rand::random::<[u8; 5]>()).to_uppercase()
}

/// The reference number an error page shows, for the log lines after it.
pub fn note_reference(reference: &str) {
    with_current(|ids| ids.reference = Some(reference.to_string()));
}

/// The trace ID of the current request: its span's when traces are exported, else one made
/// up for it (still in every log line and on the error page, so ops can correlate).
pub fn trace_id() -> String {
    if let Some(known) = with_current(|ids| ids.trace_id.clone()).flatten() {
        return known;
    }
    let id = request_span()
        .map(|span| span_trace_id(&span))
        .filter(|id| *id != TraceId::INVALID)
        .unwrap_or_else(random_trace_id)
        .to_string();
    with_current(|ids| ids.trace_id.get_or_insert(id.clone()).clone()).unwrap_or(id)
}

fn span_trace_id(span: &tracing::Span) -> TraceId {
    span.context().span().span_context().trace_id()
}

fn random_trace_id() -> TraceId {
    TraceId::from_bytes(rand::random::<[u8; 16]>())
}

/// The W3C `traceparent` of the current request, to keep in a pending login so that the
/// login's next request (on any replica) continues the same trace. Without exported spans it
/// still carries the request's trace ID, which log lines and error pages show.
pub fn traceparent() -> String {
    let trace_id = trace_id();
    let exported = request_span()
        .map(|span| span.context().span().span_context().clone())
        .filter(|sc| sc.is_valid());
    match exported {
        Some(sc) => format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        ),
        None => format!(
            "00-{trace_id}-{}-00",
            hex::encode(rand::random::<[u8; 8]>())
        ),
    }
}

/// The `traceparent` for a call to a peer (an OIDC AD, an ArtifactResolutionService), once
/// the request knows its trace. Before that (an artifact resolved before its login is found)
/// none: asking would fix the request's trace too early for the login's to be continued.
pub fn outgoing_traceparent() -> Option<String> {
    with_current(|ids| ids.trace_id.is_some())
        .unwrap_or(false)
        .then(traceparent)
}

/// Continues the trace of a login in this request (the AD's answer, the organisation page):
/// the request's span becomes a child of the span that stored `traceparent`, and log lines
/// carry that trace's ID. Call it before any child span of the request exists.
pub fn continue_trace(traceparent: &str) {
    let Some(parent) = parse_traceparent(traceparent) else {
        return;
    };
    with_current(|ids| ids.trace_id = Some(parent.trace_id().to_string()));
    if let Some(span) = request_span() {
        let cx = opentelemetry::Context::new().with_remote_span_context(parent);
        if let Err(e) = span.set_parent(cx) {
            tracing::debug!("the login's trace cannot be continued here: {e}");
        }
    }
}

/// Reads a W3C `traceparent` (version 00).
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = opentelemetry::trace::SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let context = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_read_strictly() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = parse_traceparent(good).unwrap();
        assert_eq!(c.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(c.is_sampled());
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "garbage",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_continued_login_keeps_its_trace_id_without_exporting() {
        let c = Correlation::for_span(tracing::Span::none());
        c.scope(async {
            continue_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            assert_eq!(trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        })
        .await;
        // Outside a request: a fresh ID each time.
        assert_ne!(trace_id(), trace_id());
    }
}
