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
