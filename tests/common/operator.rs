//! The operator's side of a test world: a world whose operator API accepts [`TOKEN`], requests
//! with or without it, and what the hoofdbeheerder meets (the mails, a link followed through the
//! development AD).

use super::World;
use serde_json::{json, Value};

pub const TOKEN: &str = "0f3c9d2a7b6e41d8a5c0e9f7b3d2a1c4e5f60718293a4b5c6d7e8f9012345678";

/// A world whose operator API accepts [`TOKEN`].
pub async fn operator_world() -> World {
    super::start_prepared(|_, config| {
        config.operator.api_token_sha256 = vec![poort::grants::token_hash(TOKEN)];
    })
    .await
}

/// A request to poort by `c` (a fresh client when `None`), with a bearer token and a JSON
/// body when given: status, `WWW-Authenticate`, the answer as JSON (`null` when none).
pub async fn call(
    w: &World,
    c: Option<&reqwest::Client>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let fresh = super::client();
    let c = c.unwrap_or(&fresh);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = c.request(method, format!("{}{path}", w.poort));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, challenge, json)
}

pub fn new_organisation(kvk: &str, email: &str) -> Value {
    json!({"kvk": kvk, "name": "Nieuw Bedrijf B.V.",
           "hoofdbeheerder": {"name": "Hanna Testpersoon", "email": email, "language": "nl"}})
}

/// The mails in the world's outbox (delivered first) as the development mailbox shows them.
pub async fn mails(w: &World) -> Vec<String> {
    super::deliver_mail(w).await;
    let page = super::page(&super::client(), format!("{}/dev/mailbox", w.poort)).await;
    page.split("<section class=\"poort-mail\"")
        .skip(1)
        .map(super::unescape)
        .collect()
}

/// Follows a link in a fresh browser, logging in at the AD as `subject` when it starts a
/// login: the final response.
pub async fn follow(link: &str, subject: &str) -> reqwest::Response {
    let c = super::client();
    let r = c.get(link).send().await.unwrap();
    let status = r.status();
    let page = r.text().await.unwrap();
    if !page.contains("name=\"pending\"") {
        assert_ne!(status, 200, "{page}");
        return c.get(link).send().await.unwrap();
    }
    super::through_ad(&c, &page, subject, "EH3").await
}
