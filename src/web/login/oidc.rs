//! An OpenID Connect client's authorization request: checked, then the same login as a SAML
//! DV's (AD choice, upstream request, decision), answered with a code at its redirect URI.
//!
//! Until the client and its redirect URI are verified, problems get a page (never a redirect to
//! an unverified URI); after that, errors go to the redirect URI (RFC 6749 4.1.2.1).

use super::flow::{all_idps, Ctx, PendingFlow};
use super::refusal::fail;
use super::start::begin;
use crate::domain::level::{Comparison, Level};
use crate::domain::login::{AnswerTo, AuthnIntent};
use crate::grants::ServiceRef;
use crate::oidc::{authorization_response, granted_scope, request_object};
use crate::web::client::Client;
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;
use tracing::Instrument;

/// The parameters of `/oidc/authorize`: the query of a GET, the form of a POST (OIDC Core
/// 3.1.2.1), merged with a request object's.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    acr_values: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
}

fn oauth_error(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    Redirect::to(&authorization_response(
        redirect_uri,
        issuer,
        &[
            ("error", error),
            ("error_description", description),
            ("state", state.unwrap_or_default()),
        ],
    ))
    .into_response()
}

/// The level to require: the highest level named in `acr_values` that the service allows, or
/// the service's own level when none is named (unknown values are ignored, as OIDC Core says
/// for voluntary claims).
fn required_level(acr_values: Option<&str>, service_level: Level) -> Level {
    acr_values
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse::<Level>().ok())
        .filter(|l| *l <= service_level)
        .max()
        .unwrap_or(service_level)
}

/// `GET /oidc/authorize`.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    client_addr: Client,
    headers: HeaderMap,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    authorization_request(state, client_addr, headers, q).await
}

/// `POST /oidc/authorize`: the same request, form-encoded (OIDC Core 3.1.2.1).
pub async fn authorize_form(
    State(state): State<Arc<AppState>>,
    client_addr: Client,
    headers: HeaderMap,
    Form(q): Form<AuthorizeQuery>,
) -> Response {
    authorization_request(state, client_addr, headers, q).await
}

/// The parameters with those of the request object `jwt`, verified with the client's key.
fn with_request_object(
    state: &AppState,
    client: &crate::config::OidcClientConfig,
    q: AuthorizeQuery,
    jwt: &str,
) -> Result<AuthorizeQuery, String> {
    let path = client
        .public_key
        .as_ref()
        .ok_or("the client has no registered key to verify a request object with")?;
    let key = crate::oidc::read_client_key(path).ok_or_else(|| {
        tracing::error!(client = %client.client_id, key = %path.display(), "cannot read the client's public key");
        "the client's registered key cannot be read"
    })?;
    let object = request_object::verify_request_object(
        jwt,
        &key,
        &client.client_id,
        state.config.issuer(),
        Utc::now().timestamp(),
        state.config.saml.clock_skew_seconds,
    )?;
    let serde_json::Value::Object(query) = serde_json::to_value(q).map_err(|e| e.to_string())?
    else {
        return Err("the parameters are not an object".into());
    };
    serde_json::from_value(serde_json::Value::Object(request_object::merged(
        query, &object,
    )))
    .map_err(|e| format!("the request object's parameters: {e}"))
}

async fn authorization_request(
    state: Arc<AppState>,
    client_addr: Client,
    headers: HeaderMap,
    q: AuthorizeQuery,
) -> Response {
    let ctx = Ctx::start(&headers, client_addr);
    let cfg = &state.config;
    let Some(client) = q
        .client_id
        .as_deref()
        .and_then(|id| cfg.oidc_clients.iter().find(|c| c.client_id == id))
    else {
        let id = q.client_id.clone().unwrap_or_default();
        return fail(&state, &ctx, LoginError::UnknownRequester(id), None).await;
    };
    let registered = |uri: Option<&str>| {
        uri.filter(|r| client.redirect_uris.iter().any(|u| u == r))
            .map(str::to_string)
    };
    let issuer = cfg.issuer();
    // A refusal before the parameters are settled goes to the query's redirect URI when that
    // is registered, and is a page otherwise.
    let query_redirect = registered(q.redirect_uri.as_deref());
    let query_state = q.state.clone();
    let (at, context, back, back_state) = (&state, &ctx, &query_redirect, &query_state);
    let early = |code: &'static str, problem: String| async move {
        tracing::warn!(reference = %context.reference, client = %client.client_id, error = code, "authorization request refused: {problem}");
        match back {
            Some(uri) => oauth_error(issuer, uri, back_state.as_deref(), code, &problem),
            None => fail(at, context, LoginError::Unverifiable(problem), None).await,
        }
    };
    if q.request_uri.is_some() {
        return early(
            "request_uri_not_supported",
            "poort takes request objects by value (request), not by reference (request_uri)".into(),
        )
        .await;
    }
    // A request object's parameters take the place of the query's (OIDC Core 6.3.3).
    let q = match q.request.clone() {
        None => q,
        Some(jwt) => match with_request_object(&state, client, q, &jwt) {
            Ok(merged) => merged,
            Err(problem) => return early("invalid_request_object", problem).await,
        },
    };
    let Some(redirect_uri) = registered(q.redirect_uri.as_deref()) else {
        let e = LoginError::Unverifiable(format!(
            "redirect_uri is not registered for client {}",
            client.client_id
        ));
        return fail(&state, &ctx, e, None).await;
    };
    let redirect_uri = redirect_uri.as_str();
    // From here on errors go back to the client, with poort's issuer (RFC 9207).
    let refused = |state: Option<&str>, code: &str, description: &str| {
        tracing::warn!(reference = %ctx.reference, client = %client.client_id, error = code, "authorization request refused: {description}");
        oauth_error(issuer, redirect_uri, state, code, description)
    };
    let client_state = q.state.as_deref();
    let err = |code: &str, description: &str| refused(client_state, code, description);
    if q.response_type.as_deref() != Some("code") {
        return err(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        );
    }
    // Unknown scopes are dropped; the token response names those granted.
    let Some(scope) = granted_scope(q.scope.as_deref().unwrap_or_default()) else {
        return err("invalid_scope", "the scope must include openid");
    };
    // PKCE for every client (RFC 9700 2.1.1, OAuth 2.1, the NL GOV OIDC profile). Only a
    // confidential client (one that authenticates at the token endpoint) may be let off, as a
    // legacy client, by `allow_without_pkce`.
    let confidential = client.client_secret.is_some() || client.public_key.is_some();
    match (&q.code_challenge, q.code_challenge_method.as_deref()) {
        (Some(_), Some("S256")) => {}
        (None, None) if client.allow_without_pkce && confidential => {}
        (None, None) => return err("invalid_request", "code_challenge is required (PKCE, S256)"),
        (Some(_), _) => return err("invalid_request", "code_challenge_method must be S256"),
        (None, Some(_)) => {
            return err(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
    }
    if let Some(c) = &q.code_challenge {
        if c.len() != 43 {
            return err(
                "invalid_request",
                "code_challenge must be a base64url SHA-256 (43 characters)",
            );
        }
    }
    let prompts: Vec<&str> = q
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return err(
            "invalid_request",
            "prompt=none cannot be combined with another prompt value",
        );
    }
    let max_age = match q.max_age.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) => Some(i64::from(seconds)),
        Some(Err(_)) => return err("invalid_request", "max_age must be a number of seconds"),
    };
    let catalogue = state.catalogue();
    let Some(service) = catalogue
        .iter()
        .find(|s| s.id == client.service || s.uuid == client.service)
    else {
        return err(
            "server_error",
            "the client's service is not in the catalogue",
        );
    };
    // prompt=login: a new authentication at the AD, never the login session; prompt=none:
    // answered from the login session, or login_required; max_age: a session (or the AD's own)
    // at most that old.
    let force_authn = prompts.contains(&"login");
    let mut flow = PendingFlow::new(
        &state,
        &ctx,
        AuthnIntent {
            requester: client.client_id.clone(),
            service_id: service.id.clone(),
            required_level: required_level(q.acr_values.as_deref(), service.level),
            comparison: Comparison::Minimum,
            answer: AnswerTo::Oidc {
                client_id: client.client_id.clone(),
                redirect_uri: redirect_uri.to_string(),
                state: q.state.clone(),
                nonce: q.nonce.clone(),
                code_challenge: q.code_challenge.clone(),
                scope,
            },
            force_authn,
            is_passive: prompts.contains(&"none"),
            allowed_idps: all_idps(&state),
            // An OIDC client is told the organisation by its KvK number (the `represents`
            // claim), and no identity provider attributes go into its tokens: none are asked.
            requested_attributes: Vec::new(),
            identifiers: Vec::new(),
        },
        ServiceRef {
            service_id: service.id.clone(),
            uuid: service.uuid.clone(),
            provider: service.provider.clone(),
            level: service.level,
        },
        (service.name_nl.clone(), service.name_en.clone()),
    );
    flow.max_age_seconds = max_age;
    if flow.intent.allowed_idps.is_empty() {
        return err(
            "temporarily_unavailable",
            "no identity provider is available",
        );
    }
    tracing::info!(
        reference = %ctx.reference, flow = %flow.id, client = %client.client_id,
        service = %flow.service.service_id, level = %flow.intent.required_level,
        "login started (OpenID Connect)"
    );
    let span = tracing::info_span!("login.start", dv = %client.client_id, protocol = "oidc");
    begin(&state, ctx, flow).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_values_pick_the_highest_level_the_service_allows() {
        let eh3 = Level::Eh3;
        assert_eq!(required_level(None, eh3), Level::Eh3);
        assert_eq!(
            required_level(Some("urn:etoegang:core:assurance-class:loa2"), eh3),
            Level::Eh2
        );
        assert_eq!(
            required_level(
                Some("urn:etoegang:core:assurance-class:loa2 urn:etoegang:core:assurance-class:loa3 urn:etoegang:core:assurance-class:loa4"),
                eh3
            ),
            Level::Eh3
        );
        assert_eq!(
            required_level(Some("http://eidas.europa.eu/LoA/substantial"), Level::Eh4),
            Level::Eh3
        );
        assert_eq!(required_level(Some("nonsense"), eh3), Level::Eh3);
    }

    #[test]
    fn redirect_keeps_the_registered_query() {
        use crate::oidc::redirect_with;
        assert_eq!(
            redirect_with(
                "https://rp.example/cb?x=1",
                &[("code", "a b"), ("state", "")]
            ),
            "https://rp.example/cb?x=1&code=a+b"
        );
    }
}
