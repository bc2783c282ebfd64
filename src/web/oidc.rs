//! poort as OpenID Provider: discovery, JWKS, the token and userinfo endpoints, and the
//! authorization code a finished login turns into (the authorization endpoint is part of the
//! login flow, `login::oidc`).
//!
//! Codes and access tokens live in the flow store (so any replica redeems them): a code for at
//! most 60 seconds, taken once; a redeemed code leaves a marker, so that a second use is refused
//! and revokes the access token the first use issued (RFC 6749 4.1.2).

use super::AppState;
use crate::domain::level::Level;
use crate::oidc::code::CodeGrant;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn discovery(State(state): State<Arc<AppState>>) -> Response {
    let cfg = &state.config;
    let levels: Vec<&str> = [Level::Eh2, Level::Eh2Plus, Level::Eh3, Level::Eh4]
        .iter()
        .map(|l| l.uri())
        .collect();
    Json(json!({
        "issuer": cfg.issuer(),
        "authorization_endpoint": cfg.url("/oidc/authorize"),
        "token_endpoint": cfg.url("/oidc/token"),
        "userinfo_endpoint": cfg.url("/oidc/userinfo"),
        "end_session_endpoint": cfg.url("/oidc/logout"),
        "jwks_uri": cfg.url("/oidc/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": crate::oidc::SUPPORTED_SCOPES,
        "acr_values_supported": levels,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr",
            "represents", "service_id", "service_uuid", "roles"],
        "claims_parameter_supported": false,
        // Request objects by value, signed with the client's registered key (OIDC Core 6.1,
        // RFC 9101); by reference not, so no URL of a client's choosing is ever fetched.
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["RS256", "ES256"],
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        state.oidc_keys.get().jwks().to_string(),
    )
        .into_response()
}

/// What the token endpoint answers is never cached: `Cache-Control: no-store` and, for HTTP/1.0
/// caches, `Pragma: no-cache` (RFC 6749 5.1).
fn never_cached(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
}

/// An OAuth error from the token endpoint (RFC 6749 5.2), never cached.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    never_cached(&mut response);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"poort\""),
        );
    }
    response
}

/// A client past `token_requests_per_minute`: 429 with `Retry-After` and the OAuth error
/// `slow_down`, registered for the token endpoint by RFC 8628 3.5 ("keep asking, but more
/// slowly"). It names what happened, where `invalid_request` would tell the client its request
/// was malformed, and a client that does not know it still sees a 4xx refusal.
fn slow_down(retry_after: u64) -> Response {
    let mut response = token_error(
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
        &format!("too many token requests for this client; retry after {retry_after} seconds"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    response
}

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `sub` of a client assertion, read before verification only to find the client's key.
fn assertion_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_string)
}

/// Client credentials from HTTP Basic (RFC 6749 2.3.1: each part form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

pub async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(request): Form<TokenRequest>,
) -> Result<Response, Response> {
    // Who is asking: a client assertion (private_key_jwt), Basic, or client_id (+ secret) in
    // the body; one method only.
    let basic = basic_credentials(&headers);
    let now = Utc::now();
    // `token_requests_per_minute` per configured client, counted before authentication so that
    // guessing a client's secret is slowed down too. Only configured clients are counted, so
    // the limiter holds at most one key per client.
    let named = basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| request.client_id.clone())
        .or_else(|| {
            request
                .client_assertion
                .as_deref()
                .and_then(assertion_subject)
        });
    if let Some(client) = named.and_then(|id| known_client(&state, &id).ok()) {
        if let Err(wait) = state.limits.token_request(&client.client_id) {
            tracing::info!(client = %client.client_id, "token request refused: rate limit");
            state.metrics.limit_refused("token_rate_limit");
            return Err(slow_down(super::limits::retry_seconds(wait)));
        }
    }
    let client = match &request.client_assertion {
        Some(assertion) => by_assertion(&state, basic.is_some(), &request, assertion, now).await?,
        None => by_secret(&state, basic, &request)?,
    };
    Ok(redeem(&state, client, &request, now).await?)
}

/// Why the token endpoint answers with an OAuth error (RFC 6749 5.2) instead of tokens.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl From<TokenError> for Response {
    fn from(e: TokenError) -> Response {
        token_error(e.status, e.error, &e.description)
    }
}

fn unauthorized(description: &str) -> TokenError {
    TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: description.to_string(),
    }
}

fn bad(error: &'static str, description: &str) -> TokenError {
    TokenError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.to_string(),
    }
}

/// A failure that is not the client's (logged where it happens).
fn server_error() -> TokenError {
    TokenError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: "try again".to_string(),
    }
}

/// The configured client with this ID.
fn known_client<'a>(
    state: &'a AppState,
    client_id: &str,
) -> Result<&'a crate::config::OidcClientConfig, TokenError> {
    let clients = &state.config.oidc_clients;
    let client = clients.iter().find(|c| c.client_id == client_id);
    client.ok_or_else(|| unauthorized("unknown client"))
}

/// The client a signed client assertion (private_key_jwt, RFC 7523) authenticates, each
/// assertion once.
async fn by_assertion<'a>(
    state: &'a AppState,
    with_basic: bool,
    request: &TokenRequest,
    assertion: &str,
    now: chrono::DateTime<Utc>,
) -> Result<&'a crate::config::OidcClientConfig, TokenError> {
    if with_basic || request.client_secret.is_some() {
        return Err(bad(
            "invalid_request",
            "use one client authentication method",
        ));
    }
    if request.client_assertion_type.as_deref() != Some(JWT_BEARER) {
        return Err(bad(
            "invalid_request",
            "client_assertion_type must be jwt-bearer",
        ));
    }
    let client_id = request
        .client_id
        .clone()
        .or_else(|| assertion_subject(assertion))
        .ok_or_else(|| unauthorized("the client assertion names no client"))?;
    let client = known_client(state, &client_id)?;
    let Some(key_path) = &client.public_key else {
        return Err(unauthorized(
            "this client does not authenticate with private_key_jwt",
        ));
    };
    let key = crate::oidc::read_client_key(key_path).ok_or_else(|| {
            tracing::error!(client = %client.client_id, key = %key_path.display(), "cannot read the client's public key");
            server_error()
        })?;
    let audiences = vec![
        state.config.url("/oidc/token"),
        state.config.issuer().to_string(),
    ];
    let skew = state.config.saml.clock_skew_seconds;
    let checked = crate::oidc::verify_client_assertion(
        assertion,
        &key,
        &client.client_id,
        &audiences,
        now.timestamp(),
        skew,
    )
    .map_err(|why| {
        tracing::warn!(client = %client.client_id, "client assertion refused: {why}");
        unauthorized(&format!("client assertion refused: {why}"))
    })?;
    let until = chrono::DateTime::from_timestamp(checked.expires + skew, 0)
        .unwrap_or(now + Duration::seconds(skew));
    let first = state
        .replay
        .first_use(
            &format!("client-assertion:{}:{}", client.client_id, checked.jti),
            until.max(now + Duration::seconds(1)),
            now,
        )
        .await
        .map_err(|e| {
            tracing::error!("token endpoint: {e}");
            server_error()
        })?;
    if !first {
        return Err(unauthorized("the client assertion was used before"));
    }
    Ok(client)
}

/// The client HTTP Basic or the body's client_id (and secret) names, its secret checked.
fn by_secret<'a>(
    state: &'a AppState,
    basic: Option<(String, String)>,
    request: &TokenRequest,
) -> Result<&'a crate::config::OidcClientConfig, TokenError> {
    let (client_id, secret) = match (basic, &request.client_id, &request.client_secret) {
        (Some(_), _, Some(_)) => {
            return Err(bad(
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.as_ref().is_some_and(|b| *b != id) {
                return Err(bad(
                    "invalid_request",
                    "client_id does not match the credentials",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(id), secret) => (id.clone(), secret.clone()),
        (None, None, _) => return Err(unauthorized("client authentication required")),
    };
    let client = known_client(state, &client_id)?;
    if client.public_key.is_some() {
        return Err(unauthorized(
            "this client authenticates with private_key_jwt",
        ));
    }
    match (&client.client_secret, &secret) {
        (Some(expected), Some(given)) if crate::oidc::secret_matches(given, expected) => {}
        (Some(_), _) => return Err(unauthorized("wrong client credentials")),
        (None, None) => {}
        (None, Some(_)) => return Err(unauthorized("a public client has no secret")),
    }
    Ok(client)
}

/// Redeems an authorization code for an authenticated client.
async fn redeem(
    state: &AppState,
    client: &crate::config::OidcClientConfig,
    request: &TokenRequest,
    now: chrono::DateTime<Utc>,
) -> Result<Response, TokenError> {
    if request.grant_type.as_deref() != Some("authorization_code") {
        return Err(bad(
            "unsupported_grant_type",
            "only authorization_code is supported",
        ));
    }
    let Some(code) = request.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(bad("invalid_request", "code is missing"));
    };
    let used_key = format!("oidc-used:{code}");
    let taken = match state.flows.take(&format!("oidc-code:{code}"), now).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("token endpoint: {e}");
            return Err(server_error());
        }
    };
    let Some(bytes) = taken else {
        // A code used before: revoke what it issued.
        if let Ok(Some(issued)) = state.flows.take(&used_key, now).await {
            let access = String::from_utf8_lossy(&issued).to_string();
            let _ = state.flows.take(&format!("oidc-at:{access}"), now).await;
            tracing::warn!(client = %client.client_id, "authorization code used twice; its access token is revoked");
        }
        return Err(bad(
            "invalid_grant",
            "the code is unknown, expired or already used",
        ));
    };
    let Ok(grant) = serde_json::from_slice::<CodeGrant>(&bytes) else {
        return Err(server_error());
    };
    if grant.client_id != client.client_id {
        return Err(bad(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(bad(
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&grant.code_challenge, request.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier))
            if crate::oidc::pkce_s256_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(bad("invalid_grant", "code_verifier is missing")),
        (None, Some(_)) => {
            return Err(bad(
                "invalid_grant",
                "no code_challenge was sent for this code",
            ))
        }
        (None, None) => {}
    }
    let lifetime = state.config.oidc.token_lifetime_seconds;
    let mut claims = grant.claims.clone();
    claims["iat"] = json!(now.timestamp());
    claims["exp"] = json!(now.timestamp() + lifetime);
    let id_token = match state.oidc_keys.get().sign(&claims, client.id_token_alg()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("signing an ID token: {e}");
            return Err(server_error());
        }
    };
    let access_token = hex::encode(rand::random::<[u8; 32]>());
    let expires = now + Duration::seconds(lifetime);
    let stored = state
        .flows
        .put(
            &format!("oidc-at:{access_token}"),
            grant.claims.to_string().into_bytes(),
            expires,
        )
        .await
        .and(
            state
                .flows
                .put(&used_key, access_token.clone().into_bytes(), expires)
                .await,
        );
    if let Err(e) = stored {
        tracing::error!("token endpoint: {e}");
        return Err(server_error());
    }
    let mut response = Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "id_token": id_token,
        "scope": grant.scope,
    }))
    .into_response();
    never_cached(&mut response);
    Ok(response)
}

pub async fn userinfo(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let challenge = |value: &'static str| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, value)],
        )
            .into_response()
    };
    let invalid = || {
        challenge(
            "Bearer realm=\"poort\", error=\"invalid_token\", \
             error_description=\"the access token is unknown or expired\"",
        )
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        // No token at all: the challenge names no error (RFC 6750 3.1).
        return challenge("Bearer realm=\"poort\"");
    };
    match state
        .flows
        .get(&format!("oidc-at:{}", token.trim()), Utc::now())
        .await
    {
        Ok(Some(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut claims) => {
                // Userinfo carries the person's claims, not the token's.
                if let Some(map) = claims.as_object_mut() {
                    for k in ["iss", "aud", "nonce", "auth_time"] {
                        map.remove(k);
                    }
                }
                Json(claims).into_response()
            }
            Err(_) => invalid(),
        },
        _ => invalid(),
    }
}
