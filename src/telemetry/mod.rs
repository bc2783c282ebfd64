//! Logs and traces: the subscriber poort runs with (text or JSON lines, the request's trace ID
//! in each), and, when switched on, spans exported over OTLP (gRPC or HTTP/protobuf) through
//! tracing-opentelemetry. One trace per login: the pending login keeps its `traceparent`
//! ([`correlation::traceparent`]) and the login's later requests continue it
//! ([`correlation::continue_trace`]), on whichever replica they arrive.

pub mod correlation;
mod format;

use crate::config::{LogConfig, LogFormat, OtlpProtocol, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use correlation::{
    continue_trace, new_reference, note_flow, note_reference, outgoing_traceparent, timed,
    trace_id, traceparent,
};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("[log] level {0:?}: {1}")]
    Filter(String, String),
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Keeps the trace exporter; [`Telemetry::shutdown`] sends the spans still queued.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter (at exit, so the last logins' spans are not lost).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                tracing::warn!("traces: the exporter did not shut down cleanly: {e}");
            }
        }
    }
}

/// Where log lines go: standard output for a server, standard error for commands whose
/// standard output is their result (CSV, JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

/// Whether traces are to be exported: `[telemetry] enabled`, or the standard
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces variant) set, unless `OTEL_SDK_DISABLED=true`.
pub fn tracing_wanted(config: &TelemetryConfig) -> bool {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    config.enabled || env_endpoint_set()
}

/// A standard variable, when set to something.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_endpoint_set() -> bool {
    env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
}

/// Installs the global subscriber. With `traces`, spans go to the OTLP exporter too; this needs
/// a Tokio runtime (the exporter's batches run on it).
pub fn init(
    log: &LogConfig,
    traces: Option<&TelemetryConfig>,
    target: LogTarget,
) -> Result<Telemetry, TelemetryError> {
    let filter = match std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()) {
        Some(from_env) => EnvFilter::try_new(&from_env)
            .map_err(|e| TelemetryError::Filter(from_env.clone(), e.to_string()))?,
        None => EnvFilter::try_new(&log.level)
            .map_err(|e| TelemetryError::Filter(log.level.clone(), e.to_string()))?,
    };
    let lines = tracing_subscriber::fmt::layer()
        .event_format(format::LineFormat {
            json: log.format == LogFormat::Json,
        })
        .with_ansi(false);
    let lines = match target {
        LogTarget::Stdout => lines.with_writer(std::io::stdout).boxed(),
        LogTarget::Stderr => lines.with_writer(std::io::stderr).boxed(),
    };
    let provider = match traces.filter(|c| tracing_wanted(c)) {
        Some(config) => Some(provider(config)?),
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("poort"))
            // Spans start when first used, not when first entered: a continued login sets
            // its request span's parent after the request began (correlation::continue_trace).
            .with_context_activation(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_level(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(otel)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    if let Some(p) = &provider {
        // Spans made through the OpenTelemetry API itself (correlation::timed) use it too.
        opentelemetry::global::set_tracer_provider(p.clone());
        tracing::info!("traces are exported over OTLP");
    }
    Ok(Telemetry { provider })
}

/// The tracer provider: the OTLP exporter in batches on the Tokio runtime, a parent-based
/// ratio sampler (a login is sampled whole or not at all), the service's name. The standard
/// `OTEL_*` variables win over the config.
pub fn provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let endpoint = config.endpoint.clone().filter(|_| !env_endpoint_set());
    let exporter = match config.protocol {
        OtlpProtocol::Grpc => {
            let builder = SpanExporter::builder().with_tonic();
            match endpoint {
                Some(e) => builder.with_endpoint(e).build(),
                None => builder.build(),
            }
        }
        OtlpProtocol::HttpProtobuf => {
            let builder = SpanExporter::builder().with_http();
            match endpoint {
                Some(e) => builder.with_endpoint(http_traces_url(&e)).build(),
                None => builder.build(),
            }
        }
    }
    .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let mut builder = SdkTracerProvider::builder().with_span_processor(processor);
    if env("OTEL_TRACES_SAMPLER").is_none() {
        let ratio = config.sampling_ratio.clamp(0.0, 1.0);
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))));
    }
    let mut resource = opentelemetry_sdk::Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(config.service_name.clone());
    }
    // Which replica a span comes from: the host (a pod's name under Kubernetes) and process,
    // unless the deployment names the instance itself.
    let named = env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.instance.id"));
    if !named {
        resource = resource.with_attribute(opentelemetry::KeyValue::new(
            "service.instance.id",
            instance_id(),
        ));
    }
    Ok(builder.with_resource(resource.build()).build())
}

/// `host-pid`: unique among the replicas of a deployment.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("{host}-{}", std::process::id())
}

/// The HTTP exporter takes a configured endpoint as the full URL: add the traces path to a
/// bare collector address, as the standard variable's handling does.
fn http_traces_url(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(u) if u.path() == "/" || u.path().is_empty() => {
            format!("{}/v1/traces", endpoint.trim_end_matches('/'))
        }
        _ => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_http_collector_gets_the_traces_path() {
        assert_eq!(
            http_traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("http://collector/otlp/v1/traces"),
            "http://collector/otlp/v1/traces"
        );
    }
}
