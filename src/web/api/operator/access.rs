//! Who may call the operator API: a bearer token (`Authorization: Bearer <token>`) whose SHA-256
//! is listed in `[operator] api_token_sha256`. The presented token's hash is compared with every
//! listed hash in constant time (`CRYPTO_memcmp`), all of them, so the time taken tells nothing
//! about which or how much matched. Only hashes are configured: the config, its backups and
//! `poort check` never hold a token. Cookies are not looked at, so an admin session opens
//! nothing here.
//!
//! A refusal is a 401 problem with `WWW-Authenticate: Bearer` (RFC 6750), reason
//! `missing_token` or `invalid_token`; the token is in no log line, only the hash's first
//! twelve hex digits name an accepted caller in the audit trail (`operator:api-<…>`).

use crate::grants::Actor;
use crate::web::api::problem::Problem;
use crate::web::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The caller of an operator route, as the register's actor.
pub struct Operator(pub Actor);

/// The bearer token of a request, if it carries one (the scheme's name in any case).
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `token` hashes to one of `hashes`; every hash is compared, in constant time.
pub fn accepted(token: &str, hashes: &[[u8; 32]]) -> bool {
    let presented = openssl::sha::sha256(token.as_bytes());
    hashes
        .iter()
        .fold(false, |found, h| openssl::memcmp::eq(&presented, h) | found)
}

/// A 401 of the operator API.
fn refused(reason: &str, detail: &str, challenge: &'static str) -> Response {
    let problem = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "No operator token",
        detail,
    )
    .because(reason);
    tracing::info!(reference = %problem.reference, reason, "operator API refused");
    let mut response = problem.into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Operator, Response> {
        let Some(token) = bearer_token(parts) else {
            return Err(refused(
                "missing_token",
                "the operator API needs an operator's bearer token (Authorization: Bearer \
                 <token>); an admin session does not open it",
                "Bearer realm=\"poort operator API\"",
            ));
        };
        if !accepted(token, &state.config.operator.token_hashes()) {
            return Err(refused(
                "invalid_token",
                "this bearer token is not one of the operator's ([operator] api_token_sha256)",
                "Bearer realm=\"poort operator API\", error=\"invalid_token\"",
            ));
        }
        let hash = hex::encode(openssl::sha::sha256(token.as_bytes()));
        Ok(Operator(Actor::Operator(format!("api-{}", &hash[..12]))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_by_its_hash_only() {
        let token = "4f1c0e0a9b";
        let hash = openssl::sha::sha256(token.as_bytes());
        let other = openssl::sha::sha256(b"another");
        assert!(accepted(token, &[other, hash]));
        assert!(!accepted(token, &[other]));
        assert!(!accepted(token, &[]));
        assert!(
            !accepted(&hex::encode(hash), &[hash]),
            "the hash is no token"
        );
    }

    #[test]
    fn the_scheme_is_bearer_in_any_case() {
        let parts = |value: &str| {
            let request = axum::http::Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(())
                .unwrap();
            request.into_parts().0
        };
        assert_eq!(bearer_token(&parts("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&parts("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&parts("Basic abc")), None);
        assert_eq!(bearer_token(&parts("Bearer ")), None);
    }
}
