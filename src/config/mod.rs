//! Configuration: a TOML file with `POORT_...` environment overrides (figment).
//!
//! `POORT_SERVER__PUBLIC_URL=https://poort.example` overrides `[server] public_url`: a double
//! underscore separates the levels.

mod login_session;
mod ops;
mod sources;
mod theme;

pub use login_session::LoginSessionConfig;
pub use ops::{LimitsConfig, LogConfig, LogFormat, OpsConfig, OtlpProtocol, TelemetryConfig};
pub use sources::{
    AggregateRole, AggregateSource, CatalogueSource, RequestedAttribute, ServiceConfig,
};
pub use theme::{ThemeConfig, ThemeError, THEME_CLASS};

use crate::domain::level::Level;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: Box<figment::Error>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub server: ServerConfig,
    pub saml: SamlConfig,
    pub keys: KeysConfig,
    #[serde(default)]
    pub register: RegisterConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub state: StateConfig,
    /// The service catalogue.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
    /// Service catalogues in the scheme's signed XML form, besides (or instead of) `[[service]]`.
    #[serde(default, rename = "catalogue", skip_serializing_if = "Vec::is_empty")]
    pub catalogues: Vec<CatalogueSource>,
    /// Signed metadata aggregates, kept fresh in the background, besides the metadata folders.
    #[serde(
        default,
        rename = "metadata_aggregate",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub metadata_aggregates: Vec<AggregateSource>,
    /// Per-DV settings beyond its metadata.
    #[serde(default, rename = "dv")]
    pub dvs: Vec<DvConfig>,
    /// Service providers that use poort as their OpenID Provider.
    #[serde(default, rename = "oidc_client")]
    pub oidc_clients: Vec<OidcClientConfig>,
    #[serde(default)]
    pub oidc: OidcConfig,
    /// The beheermodule (admin module) at `/admin`.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The login session in the browser: single sign-on between services (docs/SESSIONS.md).
    #[serde(default)]
    pub login_session: LoginSessionConfig,
    /// E-mail to people (invitations, notices).
    #[serde(default)]
    pub mail: MailConfig,
    /// Identity providers (ADs) that speak OpenID Connect, upstream of poort.
    #[serde(default, rename = "oidc_provider")]
    pub oidc_providers: Vec<OidcProviderConfig>,
    /// The SOAP back channel on which poort resolves peers' artifacts.
    #[serde(default)]
    pub backchannel: BackChannelConfig,
    /// The ops listener (metrics, health).
    #[serde(default)]
    pub ops: OpsConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Traces over OpenTelemetry (OTLP).
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The supplier's look of the pages: design tokens over the default theme's.
    #[serde(default)]
    pub theme: ThemeConfig,
    /// The operator API (`/api/v1/operator/…`) and who may call it.
    #[serde(default)]
    pub operator: OperatorConfig,
}

/// The operator API: the bearer tokens it accepts, by their SHA-256 (64 hex digits each; `poort
/// operator-token` makes a token and prints its hash). The tokens themselves are never written
/// in the config. No hash: the operator API refuses every call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OperatorConfig {
    #[serde(default)]
    pub api_token_sha256: Vec<String>,
}

impl OperatorConfig {
    /// The hashes of the accepted tokens; an entry that is not 64 hex digits (which `poort
    /// check` names) accepts nothing.
    pub fn token_hashes(&self) -> Vec<[u8; 32]> {
        self.api_token_sha256
            .iter()
            .filter_map(|h| token_hash_of(h).ok())
            .collect()
    }

    /// What is wrong with the entries, by their position (a hash is no secret, but a token
    /// pasted by mistake would be: the text is never repeated).
    pub fn problems(&self) -> Vec<String> {
        self.api_token_sha256
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                token_hash_of(h).err().map(|why| {
                    format!(
                        "[operator] api_token_sha256 entry {}: {why}; write the SHA-256 of the \
                         token (poort operator-token), never the token",
                        i + 1
                    )
                })
            })
            .collect()
    }
}

fn token_hash_of(text: &str) -> Result<[u8; 32], &'static str> {
    let text = text.trim();
    if text.len() != 64 {
        return Err("not 64 hexadecimal digits");
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| "not hexadecimal")?;
    Ok(out)
}

/// The back channel to peers' ArtifactResolutionServices. The afsprakenstelsel's *Web services*
/// page sets its security: TLS 1.2 or newer, poort authenticated by its (PKIoverheid) client
/// certificate, and every SOAP message signed; the peer's server certificate is checked against
/// the system's roots and `ca_certs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackChannelConfig {
    /// PEM certificate (chain) poort presents as TLS client.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// PEM bundle of further CA (or self-signed) certificates trusted for peers' servers.
    #[serde(default)]
    pub ca_certs: Option<PathBuf>,
    /// Whole exchange (connect, send, answer), in seconds.
    #[serde(default = "default_backchannel_timeout")]
    pub timeout_seconds: u64,
    /// Largest answer read from a peer, in bytes.
    #[serde(default = "default_backchannel_max")]
    pub max_response_bytes: usize,
    /// Resolve at `http://` endpoints: for test set-ups and the local demo only; `poort check`
    /// refuses it in production.
    #[serde(default)]
    pub allow_plain_http: bool,
}

fn default_backchannel_timeout() -> u64 {
    5
}
fn default_backchannel_max() -> usize {
    256 * 1024
}

impl Default for BackChannelConfig {
    fn default() -> Self {
        BackChannelConfig {
            client_cert: None,
            client_key: None,
            ca_certs: None,
            timeout_seconds: default_backchannel_timeout(),
            max_response_bytes: default_backchannel_max(),
            allow_plain_http: false,
        }
    }
}

/// Where e-mail goes: SMTP when `smtp_url` is set (`smtp://host:25`, `smtps://user:pass@host`),
/// otherwise `.eml` files in `outbox_dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailConfig {
    #[serde(default = "default_mail_from")]
    pub from: String,
    #[serde(default)]
    pub smtp_url: Option<String>,
    #[serde(default = "default_outbox")]
    pub outbox_dir: PathBuf,
    /// One SMTP delivery (connect, send), in seconds.
    #[serde(default = "default_mail_timeout")]
    pub send_timeout_seconds: u64,
    /// Attempts before a message is given up (with growing pauses between them).
    #[serde(default = "default_mail_attempts")]
    pub max_attempts: u32,
    /// How often the mail worker looks at the register's outbox, in seconds.
    #[serde(default = "default_mail_poll")]
    pub poll_seconds: u64,
}

fn default_mail_timeout() -> u64 {
    10
}
fn default_mail_attempts() -> u32 {
    8
}
fn default_mail_poll() -> u64 {
    2
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: default_mail_from(),
            smtp_url: None,
            outbox_dir: default_outbox(),
            send_timeout_seconds: default_mail_timeout(),
            max_attempts: default_mail_attempts(),
            poll_seconds: default_mail_poll(),
        }
    }
}

fn default_mail_from() -> String {
    "poort <noreply@poort.localhost>".into()
}
fn default_outbox() -> PathBuf {
    PathBuf::from("data/mail-outbox")
}

/// The admin module: a service behind poort itself, with its own level and session timeouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminConfig {
    /// The ServiceUUID the admin module has in the catalogue (what audit and logs name).
    #[serde(default = "default_admin_uuid")]
    pub service_uuid: String,
    /// The level an administrator must log in with.
    #[serde(default = "default_admin_level")]
    pub level: Level,
    /// A session ends after this long without a request, in seconds.
    #[serde(default = "default_admin_idle")]
    pub idle_timeout_seconds: i64,
    /// And after this long in any case, in seconds.
    #[serde(default = "default_admin_absolute")]
    pub absolute_timeout_seconds: i64,
    /// The level a first login through an invitation link must reach to bind the identity.
    #[serde(default = "default_admin_level")]
    pub invitation_level: Level,
    /// How often expiry reminders are looked for, in seconds (also once at start); 0: never
    /// (another replica or a scheduled `poort` does it).
    #[serde(default = "default_reminder_interval")]
    pub reminder_interval_seconds: u64,
}

fn default_reminder_interval() -> u64 {
    3600
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            service_uuid: default_admin_uuid(),
            level: default_admin_level(),
            idle_timeout_seconds: default_admin_idle(),
            absolute_timeout_seconds: default_admin_absolute(),
            invitation_level: default_admin_level(),
            reminder_interval_seconds: default_reminder_interval(),
        }
    }
}

fn default_admin_uuid() -> String {
    "0b7e2c1a-5d3f-4e8a-9c61-a0d000000001".into()
}
fn default_admin_level() -> Level {
    Level::Eh3
}
fn default_admin_idle() -> i64 {
    15 * 60
}
fn default_admin_absolute() -> i64 {
    8 * 3600
}

/// An upstream identity provider (AD) that speaks OpenID Connect; poort is its client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProviderConfig {
    /// The issuer: discovery reads `<issuer>/.well-known/openid-configuration`. It is also the
    /// AD's identity in poort (identity links, the choice page, a SAML DV's IDPList).
    pub issuer: String,
    pub name_nl: String,
    pub name_en: String,
    pub client_id: String,
    /// Secret for the token endpoint; without one poort is a public client (PKCE only).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// ID-token algorithms accepted from this AD; `none` and the HMAC algorithms never are.
    #[serde(default = "default_upstream_algs")]
    pub allowed_algs: Vec<String>,
    /// Scopes asked for besides `openid`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Also call the userinfo endpoint (its `sub` must equal the ID token's).
    #[serde(default)]
    pub userinfo: bool,
    /// The AD's own `acr` values and the level each means (`"3" = "EH3"`). The level URIs of
    /// eHerkenning and eIDAS are always understood.
    #[serde(default)]
    pub acr: std::collections::BTreeMap<String, Level>,
    /// How long discovered metadata (endpoints, keys) is trusted before it is fetched again.
    #[serde(default = "default_discovery_refresh")]
    pub discovery_refresh_seconds: u64,
}

fn default_upstream_algs() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}
fn default_discovery_refresh() -> u64 {
    3600
}

/// An OpenID Connect client (a DV speaking OIDC) and the service it logs people in to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcClientConfig {
    pub client_id: String,
    /// Confidential clients authenticate with this secret (client_secret_basic or
    /// client_secret_post); public clients have none and must use PKCE.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Or, for private_key_jwt (RFC 7523): the client's public key (PEM, RSA for RS256 or
    /// EC P-256 for ES256) that signs its client assertions.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where poort may send the person after an RP-initiated log-out (`post_logout_redirect_uri`
    /// at `/oidc/logout`), matched exactly; none: poort ends the log-out with its own page.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// ServiceID (or ServiceUUID) from the catalogue.
    pub service: String,
    /// `RS256` (default) or `ES256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Let this confidential client leave out PKCE (a legacy client only: RFC 9700 and the
    /// Dutch government OIDC profile require PKCE); `poort check` warns about each.
    #[serde(default)]
    pub allow_without_pkce: bool,
}

impl OidcClientConfig {
    /// The algorithm of this client's ID tokens.
    pub fn id_token_alg(&self) -> &str {
        match self.id_token_signed_response_alg.as_deref() {
            Some("ES256") => "ES256",
            _ => "RS256",
        }
    }
}

/// poort as OpenID Provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcConfig {
    /// Folder with the ID-token signing keys (`current.pem`, `next.pem`): shared by every replica.
    /// Made on first start outside production.
    #[serde(default = "default_oidc_keys_dir")]
    pub keys_dir: PathBuf,
    /// Lifetime of ID and access tokens, in seconds.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    /// How long an authorization code may be redeemed, in seconds (at most 60).
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_seconds: i64,
    /// How often the key folder is checked for a rotation, in seconds.
    #[serde(default = "default_keys_reload")]
    pub keys_reload_seconds: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            keys_dir: default_oidc_keys_dir(),
            token_lifetime_seconds: default_token_lifetime(),
            code_lifetime_seconds: default_code_lifetime(),
            keys_reload_seconds: default_keys_reload(),
        }
    }
}

fn default_oidc_keys_dir() -> PathBuf {
    PathBuf::from("certs-dev/oidc")
}
fn default_keys_reload() -> u64 {
    10
}
fn default_code_lifetime() -> i64 {
    60
}
fn default_token_lifetime() -> i64 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// The URL at which people and peers reach poort; endpoints in metadata derive from it.
    pub public_url: String,
    /// Production mode refuses development keys.
    #[serde(default)]
    pub production: bool,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Serve HTTPS: PEM certificate chain and key, read again when either file changes.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` and `X-Forwarded-Proto` are
    /// believed; from anyone else they are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A client must send its request headers within this time, in seconds.
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout_seconds: u64,
    /// A request must be answered within this time, in seconds (back channels included).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// An idle kept-alive connection is closed after this time, in seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// On SIGTERM: time for requests in flight to finish before poort exits, in seconds.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            production: false,
            max_body_bytes: default_max_body(),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            header_read_timeout_seconds: default_header_timeout(),
            request_timeout_seconds: default_request_timeout(),
            idle_timeout_seconds: default_idle_timeout(),
            shutdown_timeout_seconds: default_shutdown_timeout(),
        }
    }
}

fn default_header_timeout() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    30
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_shutdown_timeout() -> u64 {
    25
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlConfig {
    /// poort's entity ID towards DVs (as identity provider).
    pub idp_entity_id: String,
    /// poort's entity ID towards ADs (as service provider).
    pub sp_entity_id: String,
    /// Folder with trusted DV metadata.
    pub sp_metadata_dir: PathBuf,
    /// Folder with trusted AD metadata.
    pub idp_metadata_dir: PathBuf,
    /// Allowed clock difference with peers, in seconds.
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: i64,
    /// How old an AuthnRequest may be (IssueInstant), in seconds.
    #[serde(default = "default_request_max_age")]
    pub request_max_age_seconds: i64,
    /// Validity of the assertions poort issues, in seconds.
    #[serde(default = "default_assertion_lifetime")]
    pub assertion_lifetime_seconds: i64,
    /// How long a pending login may take, in seconds.
    #[serde(default = "default_flow_lifetime")]
    pub flow_lifetime_seconds: i64,
    /// How long an artifact poort issued may be resolved, in seconds (SAML Core 2.0 §3.5.3:
    /// "the shortest practical time limit"; the peer resolves it as soon as the browser comes).
    #[serde(default = "default_artifact_lifetime")]
    pub artifact_lifetime_seconds: i64,
    /// The version of the afsprakenstelsel poort's published endpoints belong to. The page
    /// *Interface specifications web* requires the URL at which SAML messages are offered to be
    /// tied to a framework version, and never shared by two versions: poort publishes
    /// `/saml/sso/<version>`, `/saml/acs/<version>` and `/saml/artifact/<version>` (the plain
    /// paths keep working). Empty: unversioned URLs.
    #[serde(default = "default_framework_version")]
    pub framework_version: String,
}

fn default_artifact_lifetime() -> i64 {
    60
}
fn default_framework_version() -> String {
    "1.13".to_string()
}

impl SamlConfig {
    /// The path of a SAML endpoint as published, with the framework version when one is set.
    pub fn endpoint_path(&self, base: &str) -> String {
        match self.framework_version.trim() {
            "" => base.to_string(),
            v => format!("{base}/{v}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysConfig {
    /// PEM private key (RSA-2048+ or EC P-256) for signing.
    pub signing_key: PathBuf,
    /// PEM certificate for the signing key.
    pub signing_cert: PathBuf,
    /// PEM private key (RSA) for decrypting assertions from ADs.
    pub encryption_key: PathBuf,
    pub encryption_cert: PathBuf,
    /// File with the secret for pseudonyms (at least 32 bytes).
    pub pseudonym_secret: PathBuf,
    /// Folder where `poort dev-certs` writes development keys; keys found there are refused in
    /// production mode.
    #[serde(default = "default_dev_certs_dir")]
    pub dev_certs_dir: PathBuf,
}

/// Where the register of organisations, persons and grants lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterConfig {
    /// `sqlite://data/register.db` (the embedded default: a file created on first start) or
    /// `postgres://user@host/db`.
    #[serde(default = "default_database")]
    pub database: String,
    /// Grants file imported when the register is empty (development and first start).
    #[serde(default)]
    pub seed: Option<PathBuf>,
    /// Login decisions the database could not take are kept here (JSON lines, this process's
    /// own file) and written to the audit trail when it can again, so none is lost.
    #[serde(default = "default_audit_spool")]
    pub audit_spool: PathBuf,
    /// How often the spool is tried again, in seconds.
    #[serde(default = "default_audit_retry")]
    pub audit_retry_seconds: u64,
}

fn default_audit_spool() -> PathBuf {
    PathBuf::from("data/audit-spool.jsonl")
}

fn default_audit_retry() -> u64 {
    10
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            database: default_database(),
            seed: None,
            audit_spool: default_audit_spool(),
            audit_retry_seconds: default_audit_retry(),
        }
    }
}

/// The cache of resolved grant sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheConfig {
    /// `redis://host:6379/0`: shared by every replica. Without it each process keeps its own
    /// cache and learns of other processes' writes from the database.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so that deployments (and tests) can share a server.
    #[serde(default = "default_cache_prefix")]
    pub prefix: String,
    /// Safety net only: entries are invalidated on every write that touches them.
    #[serde(default = "default_cache_ttl")]
    pub ttl_seconds: u64,
    /// Most grant sets the in-process cache holds.
    #[serde(default = "default_cache_entries")]
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            prefix: default_cache_prefix(),
            ttl_seconds: default_cache_ttl(),
            max_entries: default_cache_entries(),
        }
    }
}

/// Settings for one DV beyond its metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DvConfig {
    pub entity_id: String,
    /// Accept unsigned AuthnRequests from this DV (default: signatures required).
    #[serde(default)]
    pub allow_unsigned_requests: bool,
}

fn default_max_body() -> usize {
    256 * 1024
}
fn default_clock_skew() -> i64 {
    60
}
fn default_request_max_age() -> i64 {
    300
}
fn default_assertion_lifetime() -> i64 {
    300
}
fn default_flow_lifetime() -> i64 {
    900
}
/// Where pending logins and the replay cache live.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateConfig {
    /// `redis://host:6379/0`: shared by every replica, so a login may continue at any replica
    /// and a replayed assertion is refused at all. Without it both stay in the process. Unlike
    /// the grant cache this cannot fall back: with Redis down, logins fail closed.
    #[serde(default)]
    pub redis_url: Option<String>,
    #[serde(default = "default_cache_prefix")]
    pub prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            redis_url: None,
            prefix: default_cache_prefix(),
        }
    }
}

fn default_database() -> String {
    "sqlite://data/register.db".to_string()
}
fn default_cache_prefix() -> String {
    "poort".to_string()
}
fn default_cache_ttl() -> u64 {
    300
}
fn default_cache_entries() -> usize {
    100_000
}
fn default_dev_certs_dir() -> PathBuf {
    PathBuf::from("certs-dev")
}

impl Config {
    /// Reads the TOML file, then applies `POORT_...` environment overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = Self::figment(path)
            .extract()
            .map_err(|e| ConfigError::Read {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
        for service in &mut config.services {
            service.origin = path.display().to_string();
        }
        Ok(config)
    }

    fn figment(path: &Path) -> Figment {
        Figment::new()
            .merge(Toml::file_exact(path))
            .merge(Env::prefixed("POORT_").split("__"))
    }

    /// Builds a config from a value (tests), with the same validation path as files.
    pub fn from_value(value: &Config) -> Result<Config, ConfigError> {
        Figment::from(Serialized::defaults(value))
            .extract()
            .map_err(|e| ConfigError::Read {
                path: PathBuf::from("<memory>"),
                source: Box::new(e),
            })
    }

    /// Top-level sections of the file poort does not know: ignored by loading (environment
    /// overrides must stay free-form), so reported by `poort check` and at start, since a
    /// misspelt or outdated section silently drops its settings.
    pub fn unknown_sections(path: &Path) -> Vec<String> {
        const KNOWN: [&str; 23] = [
            "server",
            "catalogue",
            "metadata_aggregate",
            "saml",
            "keys",
            "register",
            "cache",
            "state",
            "service",
            "dv",
            "oidc",
            "oidc_client",
            "oidc_provider",
            "admin",
            "mail",
            "backchannel",
            "ops",
            "log",
            "telemetry",
            "limits",
            "theme",
            "operator",
            "login_session",
        ];
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            return Vec::new();
        };
        table
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    pub fn service_by_id(&self, id: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn dv(&self, entity_id: &str) -> Option<&DvConfig> {
        self.dvs.iter().find(|d| d.entity_id == entity_id)
    }

    /// A SAML endpoint's published URL (`/saml/sso`, `/saml/acs`, `/saml/artifact`), with the
    /// framework version.
    pub fn saml_url(&self, base: &str) -> String {
        self.url(&self.saml.endpoint_path(base))
    }

    /// poort's issuer as OpenID Provider: its public URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    /// Endpoint URL under the public URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.public_url.trim_end_matches('/'), path)
    }
}
