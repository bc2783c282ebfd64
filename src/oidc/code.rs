//! Authorization codes: what a code stands for while it waits to be redeemed, and the redirect
//! that carries it (or an error) to the client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest an authorization code may be redeemed, whatever the config says.
pub const MAX_CODE_LIFETIME_SECONDS: i64 = 60;

/// What a code stands for, kept until it is redeemed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    /// The ID token's claims, without the times of issue.
    pub claims: Value,
    /// The scopes granted, as the token response states them.
    #[serde(default = "openid")]
    pub scope: String,
}

fn openid() -> String {
    "openid".into()
}

/// The scopes poort grants; any other a client asks for is dropped (RFC 6749 3.3), and the
/// token response says which were granted.
pub const SUPPORTED_SCOPES: &[&str] = &["openid"];

/// The scopes of a `scope` parameter poort grants, space-separated in its order of
/// [`SUPPORTED_SCOPES`]; `None` when `openid` is not among them.
pub fn granted_scope(requested: &str) -> Option<String> {
    let asked: Vec<&str> = requested.split_whitespace().collect();
    if !asked.contains(&"openid") {
        return None;
    }
    let granted: Vec<&str> = SUPPORTED_SCOPES
        .iter()
        .copied()
        .filter(|s| asked.contains(s))
        .collect();
    Some(granted.join(" "))
}

/// An authorization response (success or error) at the client's redirect URI: `params` and
/// `iss`, poort's issuer, so that a client can tell which provider answered (RFC 9207 2).
pub fn authorization_response(redirect_uri: &str, issuer: &str, params: &[(&str, &str)]) -> String {
    let mut all = params.to_vec();
    all.push(("iss", issuer));
    redirect_with(redirect_uri, &all)
}

/// `redirect_uri` with these query parameters added (empty values left out).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_string(),
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
            pairs.append_pair(k, v);
        }
    }
    url.to_string()
}
