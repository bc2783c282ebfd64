//! A local OTLP/HTTP receiver for poort's traces: `POST /v1/traces` answered 200 with an empty
//! `ExportTraceServiceResponse`, counting requests, bytes, spans (by name) and distinct trace
//! IDs, read from the protobuf with a small wire-format walker (the OTLP messages' field numbers
//! from opentelemetry-proto's `trace.proto` and `trace_service.proto`). Its work is the load
//! generator's CPU, not poort's: what the exporter costs is measured in poort.

use crate::Error;
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::Arc;

#[derive(Default)]
pub struct Receiver {
    now: parking_lot::Mutex<Received>,
}

/// What arrived since the last [`Receiver::take`].
#[derive(Default, Debug, Clone)]
pub struct Received {
    /// Export requests (batches) and their bytes as sent (compressed if they were).
    pub requests: u64,
    pub bytes: u64,
    pub spans: u64,
    /// Distinct trace IDs among the spans.
    pub traces: usize,
    trace_ids: HashSet<[u8; 16]>,
    /// Spans by name.
    pub names: BTreeMap<String, u64>,
    /// Root spans (no parent: each begins a trace) by name.
    pub roots: BTreeMap<String, u64>,
    /// Requests that could not be read as an `ExportTraceServiceRequest`.
    pub undecodable: u64,
}

impl Receiver {
    /// Everything received since the last call; counting starts again.
    pub fn take(&self) -> Received {
        let mut r = std::mem::take(&mut *self.now.lock());
        r.traces = r.trace_ids.len();
        r.trace_ids.clear();
        r
    }

    fn record(&self, body: &[u8], gzip: bool) {
        let mut inflated = Vec::new();
        let message = if gzip {
            if flate2::read::GzDecoder::new(body)
                .read_to_end(&mut inflated)
                .is_err()
            {
                inflated.clear();
            }
            &inflated[..]
        } else {
            body
        };
        let mut spans = Vec::new();
        let ok = export_request(message, &mut spans).is_some();
        let mut now = self.now.lock();
        now.requests += 1;
        now.bytes += body.len() as u64;
        if !ok {
            now.undecodable += 1;
            return;
        }
        now.spans += spans.len() as u64;
        for span in spans {
            if let Ok(id) = <[u8; 16]>::try_from(span.trace_id) {
                now.trace_ids.insert(id);
            }
            let name = String::from_utf8_lossy(span.name).into_owned();
            if span.parent.is_empty() {
                *now.roots.entry(name.clone()).or_default() += 1;
            }
            *now.names.entry(name).or_default() += 1;
        }
    }
}

/// Serves the receiver on a free 127.0.0.1 port for the rest of the run; returns the endpoint
/// to configure (`http://127.0.0.1:PORT`, to which poort adds `/v1/traces`).
pub async fn serve() -> Result<(String, Arc<Receiver>), Error> {
    let receiver = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(receiver.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("loadgen: the OTLP receiver stopped: {e}");
        }
    });
    Ok((endpoint, receiver))
}

async fn traces(
    axum::extract::State(receiver): axum::extract::State<Arc<Receiver>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> impl axum::response::IntoResponse {
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    receiver.record(&body, gzip);
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::<u8>::new(),
    )
}

/// What is read of a span.
struct SpanHead<'a> {
    trace_id: &'a [u8],
    /// Empty for a root span.
    parent: &'a [u8],
    name: &'a [u8],
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format, just enough for spans' trace IDs and names.

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The length-delimited fields of a message, as (field number, bytes); other wire types are
/// skipped. `None` if the bytes are not a well-formed message.
fn len_fields(mut b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            2 => {
                let n = usize::try_from(varint(&mut b)?).ok()?;
                out.push((field, b.get(..n)?));
                b = &b[n..];
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

/// `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`,
/// `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }`,
/// `ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }`,
/// `Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes
/// parent_span_id = 4; string name = 5; … }`: what is read of every span.
fn export_request<'a>(b: &'a [u8], spans: &mut Vec<SpanHead<'a>>) -> Option<()> {
    for (f, resource_spans) in len_fields(b)? {
        if f != 1 {
            continue;
        }
        for (f, scope_spans) in len_fields(resource_spans)? {
            if f != 2 {
                continue;
            }
            for (f, span) in len_fields(scope_spans)? {
                if f != 2 {
                    continue;
                }
                let fields = len_fields(span)?;
                let get = |n| fields.iter().find(|(f, _)| *f == n).map(|(_, v)| *v);
                spans.push(SpanHead {
                    trace_id: get(1).unwrap_or_default(),
                    parent: get(4).unwrap_or_default(),
                    name: get(5).unwrap_or_default(),
                });
            }
        }
    }
    Some(())
}
