//! The sections an operations team sets: the ops listener, logs, traces and the limits on what
//! anonymous clients can start.

use serde::{Deserialize, Serialize};

/// The ops listener: `/metrics`, `/healthz` and `/readyz`, kept off the public port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpsConfig {
    /// Address of the ops listener; empty turns it off.
    #[serde(default = "default_ops_listen")]
    pub listen: String,
    /// Label login metrics with the DV and the AD. Off by default: each label value is a time
    /// series, and a federation has hundreds of DVs.
    #[serde(default)]
    pub per_peer_labels: bool,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: default_ops_listen(),
            per_peer_labels: false,
        }
    }
}

fn default_ops_listen() -> String {
    "127.0.0.1:9090".into()
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event (development).
    #[default]
    Text,
    /// One JSON object per line (log collectors).
    Json,
}

/// `[log]`: `POORT_LOG__FORMAT=json` switches a container to JSON lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter (`info`, `poort=debug,info`); `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: default_log_level(),
        }
    }
}

fn default_log_level() -> String {
    "info".into()
}

/// The OTLP protocol of the trace exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// `[telemetry]`: traces over OTLP. Off unless `enabled` or the standard
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set; the standard `OTEL_*` variables win over this section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelemetryConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The collector: `http://127.0.0.1:4317` for gRPC, `http://127.0.0.1:4318` for HTTP.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// Share of logins traced, 0.0 to 1.0 (parent-based: a login is traced whole or not at all).
    #[serde(default = "default_sampling")]
    pub sampling_ratio: f64,
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Continue a `traceparent` sent by the client. Off by default (anyone can send one); switch
    /// on only behind a trusted edge that sets it, as Keycloak and Zitadel advise.
    #[serde(default)]
    pub trust_incoming_traceparent: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            enabled: false,
            endpoint: None,
            protocol: OtlpProtocol::Grpc,
            sampling_ratio: default_sampling(),
            service_name: default_service_name(),
            trust_incoming_traceparent: false,
        }
    }
}

fn default_sampling() -> f64 {
    1.0
}
fn default_service_name() -> String {
    "poort".into()
}

/// `[limits]`: what one client, or all of them, may make poort hold or do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitsConfig {
    /// Pending logins this process holds at most (each is a few KiB until it ends or expires);
    /// past it a new login start gets a 503 page.
    #[serde(default = "default_max_pending_flows")]
    pub max_pending_flows: usize,
    /// Pending logins one client address may have open at once; past it, 429.
    #[serde(default = "default_flows_per_client")]
    pub max_flows_per_client: usize,
    /// Login starts (`/saml/sso`, `/oidc/authorize`, `/admin/login`) per client address per
    /// minute.
    #[serde(default = "default_login_starts")]
    pub login_starts_per_minute: u32,
    /// Requests at `/oidc/token` per OIDC client per minute.
    #[serde(default = "default_token_requests")]
    pub token_requests_per_minute: u32,
    /// Admin logins (`/admin/login`) per client address per minute.
    #[serde(default = "default_admin_logins")]
    pub admin_logins_per_minute: u32,
    /// Largest answer read from an OIDC AD (discovery, keys, token, userinfo), in bytes.
    #[serde(default = "default_upstream_max")]
    pub upstream_max_response_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_pending_flows: default_max_pending_flows(),
            max_flows_per_client: default_flows_per_client(),
            login_starts_per_minute: default_login_starts(),
            token_requests_per_minute: default_token_requests(),
            admin_logins_per_minute: default_admin_logins(),
            upstream_max_response_bytes: default_upstream_max(),
        }
    }
}

fn default_max_pending_flows() -> usize {
    100_000
}
fn default_flows_per_client() -> usize {
    50
}
fn default_login_starts() -> u32 {
    120
}
fn default_token_requests() -> u32 {
    600
}
fn default_admin_logins() -> u32 {
    30
}
fn default_upstream_max() -> usize {
    1024 * 1024
}
