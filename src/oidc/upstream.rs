//! poort as OpenID Connect client of upstream identity providers (ADs), with the openidconnect
//! crate: discovery, the authorization code flow with PKCE, state and nonce, ID-token
//! validation, optional userinfo, and each AD's `acr` values mapped to levels.
//!
//! Discovered metadata (endpoints and keys) is kept per AD and fetched again after
//! `discovery_refresh_seconds`, or sooner when an ID token names a key poort does not have yet
//! (the AD rotated its keys).

use crate::config::OidcProviderConfig;
use crate::domain::level::Level;
use chrono::{DateTime, TimeZone, Utc};
use openidconnect::core::{
    CoreAuthPrompt, CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreUserInfoClaims,
};
use openidconnect::{
    AsyncHttpClient, AuthType, AuthenticationContextClass, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    UserInfoError,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The openidconnect client type for a discovered provider.
type AdClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Algorithms that are never accepted for an ID token, whatever the configuration says:
/// `none` has no signature, and HMAC would make the client secret a signing key.
const NEVER: [&str; 4] = ["none", "HS256", "HS384", "HS512"];

/// Keys are fetched again for an unknown key at most this often, so that a stream of forged
/// tokens cannot make poort hammer the AD.
const KEY_REFRESH_MIN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("identity provider {issuer} is not configured correctly: {reason}")]
    Config { issuer: String, reason: String },
    #[error("identity provider {issuer} could not be reached: {reason}")]
    Unreachable { issuer: String, reason: String },
    #[error("the token request was refused: {0}")]
    Token(String),
    #[error("the token response has no ID token")]
    NoIdToken,
    #[error("ID token refused ({code}): {detail}")]
    IdToken { code: &'static str, detail: String },
    #[error("userinfo refused: {0}")]
    UserInfo(String),
    #[error("the identity provider asserted no level poort knows (acr {0:?})")]
    UnknownAcr(Option<String>),
}

/// Why an HTTP exchange with an AD failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request failed: {0}")]
    Request(#[source] openidconnect::reqwest::Error),
    #[error("the answer is larger than {max} bytes ([limits] upstream_max_response_bytes)")]
    TooLarge { max: usize },
    #[error("unreadable answer: {0}")]
    Answer(#[source] openidconnect::http::Error),
}

/// The HTTP client of every call to an AD (discovery, keys, token, userinfo): reqwest, with the
/// answer read chunk by chunk and refused as soon as it passes `max_bytes`, so that an AD cannot
/// make poort buffer an answer of any size.
#[derive(Debug, Clone)]
struct CappedHttp {
    client: openidconnect::reqwest::Client,
    max_bytes: usize,
}

impl<'c> AsyncHttpClient<'c> for CappedHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, mut request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            // The AD may continue the login's trace (W3C Trace Context).
            if let Some(Ok(value)) = crate::telemetry::outgoing_traceparent().map(|t| t.parse()) {
                request.headers_mut().insert("traceparent", value);
            }
            let request =
                openidconnect::reqwest::Request::try_from(request).map_err(HttpError::Request)?;
            let mut response = self
                .client
                .execute(request)
                .await
                .map_err(HttpError::Request)?;
            let mut builder = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = crate::http::read_capped(&mut response, self.max_bytes)
                .await
                .map_err(HttpError::Request)?
                .ok_or(HttpError::TooLarge {
                    max: self.max_bytes,
                })?;
            builder.body(body).map_err(HttpError::Answer)
        })
    }
}

/// What the browser is sent to, and the secrets the callback needs (kept in the pending flow).
#[derive(Debug)]
pub struct UpstreamRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The AD's verified answer.
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    pub subject: String,
    pub level: Level,
    pub auth_time: DateTime<Utc>,
}

struct Discovered {
    client: Arc<AdClient>,
    at: Instant,
}

/// One upstream OIDC AD.
pub struct UpstreamProvider {
    pub config: OidcProviderConfig,
    algs: Vec<CoreJwsSigningAlgorithm>,
    redirect: RedirectUrl,
    clock_skew: chrono::Duration,
    http: CappedHttp,
    discovered: RwLock<Option<Discovered>>,
    /// When an unknown key last made poort fetch the keys again.
    key_refresh: parking_lot::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for UpstreamProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamProvider")
            .field("issuer", &self.config.issuer)
            .finish()
    }
}

/// Checks one provider's configuration; the parsed algorithms.
pub fn check_config(config: &OidcProviderConfig) -> Result<Vec<CoreJwsSigningAlgorithm>, String> {
    IssuerUrl::new(config.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
    if config.allowed_algs.is_empty() {
        return Err("allowed_algs is empty".into());
    }
    let mut algs = Vec::new();
    for name in &config.allowed_algs {
        if NEVER.contains(&name.as_str()) {
            return Err(format!("ID-token algorithm {name} is never accepted"));
        }
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| format!("unknown ID-token algorithm {name}"))?;
        algs.push(alg);
    }
    match config.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") | Some("client_secret_post") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other} is not supported"
            ))
        }
    }
    if config.token_endpoint_auth_method.is_some() && config.client_secret.is_none() {
        return Err("token_endpoint_auth_method needs a client_secret".into());
    }
    Ok(algs)
}

impl UpstreamProvider {
    pub fn new(
        config: OidcProviderConfig,
        callback_url: &str,
        clock_skew_seconds: i64,
    ) -> Result<UpstreamProvider, UpstreamError> {
        let bad = |reason: String| UpstreamError::Config {
            issuer: config.issuer.clone(),
            reason,
        };
        let algs = check_config(&config).map_err(bad)?;
        let redirect = RedirectUrl::new(callback_url.to_string())
            .map_err(|e| bad(format!("callback URL: {e}")))?;
        // Following redirects would let a discovery document steer poort's requests (SSRF).
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| bad(format!("HTTP client: {e}")))?;
        Ok(UpstreamProvider {
            algs,
            redirect,
            clock_skew: chrono::Duration::seconds(clock_skew_seconds),
            http: CappedHttp {
                client: http,
                max_bytes: crate::config::LimitsConfig::default().upstream_max_response_bytes,
            },
            discovered: RwLock::new(None),
            key_refresh: parking_lot::Mutex::new(None),
            config,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The name shown on the choice page.
    pub fn display_name(&self, lang: &str) -> &str {
        if lang == "en" {
            &self.config.name_en
        } else {
            &self.config.name_nl
        }
    }

    /// The client for the discovered provider; discovery runs when nothing is known yet, when
    /// what is known is older than `max_age`.
    async fn client(&self, max_age: Duration) -> Result<Arc<AdClient>, UpstreamError> {
        if let Some(d) = self.discovered.read().await.as_ref() {
            if d.at.elapsed() < max_age {
                return Ok(d.client.clone());
            }
        }
        let mut slot = self.discovered.write().await;
        // Another request may have refreshed it while this one waited.
        if let Some(d) = slot.as_ref() {
            if d.at.elapsed() < max_age {
                return Ok(d.client.clone());
            }
        }
        let unreachable = |reason: String| UpstreamError::Unreachable {
            issuer: self.config.issuer.clone(),
            reason,
        };
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|e| UpstreamError::Config {
                issuer: self.config.issuer.clone(),
                reason: e.to_string(),
            })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let mut client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone());
        if self.config.token_endpoint_auth_method.as_deref() == Some("client_secret_post") {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        let client = Arc::new(client);
        *slot = Some(Discovered {
            client: client.clone(),
            at: Instant::now(),
        });
        tracing::info!(issuer = %self.config.issuer, "discovered OpenID provider");
        Ok(client)
    }

    fn refresh_age(&self) -> Duration {
        Duration::from_secs(self.config.discovery_refresh_seconds)
    }

    /// The `acr_values` to ask for: this AD's own values for the required level and above,
    /// lowest first (the preferred one), or the level URI when the AD has no table.
    pub fn acr_values(&self, required: Level) -> Vec<String> {
        let mut own: Vec<(Level, &String)> = self
            .config
            .acr
            .iter()
            .filter(|(_, l)| **l >= required)
            .map(|(v, l)| (*l, v))
            .collect();
        own.sort();
        if own.is_empty() {
            vec![required.uri().to_string()]
        } else {
            own.into_iter().map(|(_, v)| v.clone()).collect()
        }
    }

    /// The level an `acr` value means at this AD.
    pub fn level_of(&self, acr: &str) -> Option<Level> {
        self.config
            .acr
            .get(acr)
            .copied()
            .or_else(|| Level::from_uri(acr).ok())
    }

    /// The authorization request for a login that needs `required`.
    pub async fn authorization_request(
        &self,
        required: Level,
        force_authn: bool,
    ) -> Result<UpstreamRequest, UpstreamError> {
        let client = self.client(self.refresh_age()).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for value in self.acr_values(required) {
            request = request.add_auth_context_value(AuthenticationContextClass::new(value));
        }
        if force_authn {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        Ok(UpstreamRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the code from the callback and verifies what comes back.
    pub async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let client = self.client(self.refresh_age()).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| UpstreamError::Config {
                issuer: self.config.issuer.clone(),
                reason: e.to_string(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| UpstreamError::Token(error_chain(&e)))?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or(UpstreamError::NoIdToken)?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&self.verifier(&client), &nonce) {
            Ok(c) => c.clone(),
            // A key poort does not know yet: the AD may have rotated. Fetch its keys again (not
            // too often) and verify once more.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.keys_may_refresh() => {
                tracing::info!(issuer = %self.config.issuer, "ID token under an unknown key: fetching the keys again");
                let fresh = self.client(Duration::ZERO).await?;
                let verifier = self.verifier(&fresh);
                let claims = id_token
                    .claims(&verifier, &nonce)
                    .map_err(|e| id_token_error(&e))?
                    .clone();
                claims
            }
            Err(e) => return Err(id_token_error(&e)),
        };
        let acr = claims.auth_context_ref().map(|a| a.as_str().to_string());
        let level = acr
            .as_deref()
            .and_then(|a| self.level_of(a))
            .ok_or(UpstreamError::UnknownAcr(acr.clone()))?;
        let subject = claims.subject().as_str().to_string();
        if self.config.userinfo {
            let _info: CoreUserInfoClaims = client
                .user_info(
                    response.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(|e| UpstreamError::UserInfo(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| UpstreamError::UserInfo(userinfo_error(&e)))?;
        }
        let auth_time = claims
            .auth_time()
            .or_else(|| Some(claims.issue_time()))
            .and_then(|t| Utc.timestamp_opt(t.timestamp(), 0).single())
            .unwrap_or_else(Utc::now);
        Ok(UpstreamIdentity {
            subject,
            level,
            auth_time,
        })
    }

    fn verifier<'a>(&self, client: &'a AdClient) -> CoreIdTokenVerifier<'a> {
        let skew = self.clock_skew;
        client
            .id_token_verifier()
            .set_allowed_algs(self.algs.clone())
            .set_time_fn(move || Utc::now() - skew)
    }

    /// Whether an unknown key may make poort fetch the keys now; taking the turn if so.
    fn keys_may_refresh(&self) -> bool {
        let mut last = self.key_refresh.lock();
        if last.is_some_and(|t| t.elapsed() < KEY_REFRESH_MIN) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// Why an ID token was refused, as a short code (for the requester and the logs) and the detail.
fn id_token_error(e: &ClaimsVerificationError) -> UpstreamError {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    let code = match e {
        C::SignatureVerification(S::NoSignature) => "id_token_unsigned",
        C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_)) => {
            "id_token_algorithm"
        }
        C::SignatureVerification(S::NoMatchingKey) => "id_token_unknown_key",
        C::SignatureVerification(_) => "id_token_signature",
        C::InvalidIssuer(_) => "id_token_issuer",
        C::InvalidAudience(_) => "id_token_audience",
        C::InvalidNonce(_) => "id_token_nonce",
        C::Expired(_) => "id_token_expired",
        _ => "id_token_invalid",
    };
    UpstreamError::IdToken {
        code,
        detail: error_chain(e),
    }
}

/// Why userinfo was refused, for logs and refusals, without what the AD says of the person:
/// openidconnect's text for a `sub` that is not the ID token's names both subjects, and a parse
/// error may quote a claim's value.
fn userinfo_error<RE: std::error::Error + 'static>(e: &UserInfoError<RE>) -> String {
    match e {
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            "its sub is not the ID token's".to_string()
        }
        UserInfoError::Parse(p) => format!("unreadable answer (at {})", p.path()),
        other => error_chain(other),
    }
}

/// An error with its causes, for logs and refusals.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// All configured upstream OIDC ADs.
#[derive(Debug, Default)]
pub struct UpstreamProviders {
    providers: Vec<UpstreamProvider>,
}

impl UpstreamProviders {
    pub fn new(
        configs: &[OidcProviderConfig],
        callback_url: &str,
        clock_skew_seconds: i64,
    ) -> Result<UpstreamProviders, UpstreamError> {
        let providers = configs
            .iter()
            .map(|c| UpstreamProvider::new(c.clone(), callback_url, clock_skew_seconds))
            .collect::<Result<_, _>>()?;
        Ok(UpstreamProviders { providers })
    }

    /// Caps every answer read from these ADs at `max` bytes (`[limits]
    /// upstream_max_response_bytes`; 1 MiB unless set).
    pub fn with_max_response_bytes(mut self, max: usize) -> UpstreamProviders {
        for p in &mut self.providers {
            p.http.max_bytes = max;
        }
        self
    }

    pub fn get(&self, issuer: &str) -> Option<&UpstreamProvider> {
        self.providers.iter().find(|p| p.issuer() == issuer)
    }

    pub fn iter(&self) -> impl Iterator<Item = &UpstreamProvider> {
        self.providers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(acr: &[(&str, Level)]) -> OidcProviderConfig {
        OidcProviderConfig {
            issuer: "https://ad.example".into(),
            name_nl: "AD".into(),
            name_en: "AD".into(),
            client_id: "poort".into(),
            client_secret: Some("s".into()),
            token_endpoint_auth_method: None,
            allowed_algs: vec!["RS256".into()],
            scopes: vec![],
            userinfo: false,
            acr: acr.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            discovery_refresh_seconds: 3600,
        }
    }

    fn provider(acr: &[(&str, Level)]) -> UpstreamProvider {
        UpstreamProvider::new(config(acr), "https://poort.example/oidc/callback", 60).unwrap()
    }

    /// Serves one answer: `head`, then 16 KiB chunks of `{`... for as long as it is read.
    async fn server(head: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("4000\r\n{}\r\n", "{".repeat(0x4000));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        url
    }

    #[tokio::test]
    async fn answers_past_the_cap_are_refused_as_they_are_read() {
        let http = CappedHttp {
            client: openidconnect::reqwest::Client::new(),
            max_bytes: 100_000,
        };
        let get = |url: String| {
            openidconnect::http::Request::get(url)
                .body(Vec::new())
                .expect("request")
        };
        // Announced too large: refused before the body is read.
        let url = server("HTTP/1.1 200 OK\r\ncontent-length: 50000000\r\n\r\n").await;
        let e = http.call(get(url)).await.expect_err("too large");
        assert!(matches!(e, HttpError::TooLarge { max: 100_000 }), "{e}");
        // Chunked without end: refused once the cap is passed, not at the timeout.
        let url = server("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let e = http.call(get(url)).await.expect_err("too large");
        assert!(matches!(e, HttpError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("upstream_max_response_bytes"));
    }

    #[test]
    fn proprietary_acr_values_map_to_levels_and_uris_are_always_understood() {
        let p = provider(&[("3", Level::Eh3), ("30", Level::Eh3), ("4", Level::Eh4)]);
        assert_eq!(p.level_of("3"), Some(Level::Eh3));
        assert_eq!(p.level_of("30"), Some(Level::Eh3));
        assert_eq!(
            p.level_of("http://eidas.europa.eu/LoA/high"),
            Some(Level::Eh4)
        );
        assert_eq!(p.level_of("2"), None);
        assert_eq!(p.level_of("urn:etoegang:core:assurance-class:loa1"), None);
    }

    #[test]
    fn acr_values_ask_for_the_required_level_first() {
        let p = provider(&[("2", Level::Eh2), ("3", Level::Eh3), ("4", Level::Eh4)]);
        assert_eq!(p.acr_values(Level::Eh3), vec!["3", "4"]);
        assert_eq!(provider(&[]).acr_values(Level::Eh3), vec![Level::Eh3.uri()]);
    }

    #[test]
    fn none_and_hmac_are_refused_in_configuration() {
        for alg in ["none", "HS256"] {
            let mut c = config(&[]);
            c.allowed_algs = vec![alg.into()];
            assert!(check_config(&c).unwrap_err().contains("never accepted"));
        }
        let mut c = config(&[]);
        c.allowed_algs = vec!["XX1".into()];
        assert!(check_config(&c).unwrap_err().contains("unknown"));
        c.allowed_algs = vec!["ES256".into(), "PS256".into()];
        assert_eq!(check_config(&c).unwrap().len(), 2);
    }
}
