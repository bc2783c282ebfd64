//! poort's OpenID Provider as a careful relying party sees it (issue 15), driven by libraries
//! that are not poort's: the `openidconnect` crate as the client (discovery, the authorization
//! URL with PKCE and nonce, the code exchange, the ID token verified with poort's JWKS) and
//! `jsonwebtoken` signing request objects. What each test checks: RFC 9207 (`iss` in every
//! authorization response), OIDC Core 3.1.2.1 (POST to the authorization endpoint), Core 6.1 /
//! RFC 9101 (request objects by value, verified with the client's key; `request_uri` refused),
//! RFC 6749 3.3 and 5.1 (the granted scope, `Pragma: no-cache`), RFC 6750 3.1 (no error code
//! when no token was sent).

mod common;

use common::oidc_rp::{client_config, param, walk};
use common::{browser, World};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use poort::config::OidcClientConfig;
use serde_json::{json, Value};

const CLIENT: &str = "rp-careful";
const SECRET: &str = "a-long-client-secret-for-conformance";
const SIGNING: &str = "rp-signing";
const RP_CB: &str = "https://rp.example/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// poort with a confidential client, and one that signs request objects with `key` (PEM of
/// its public key in `dir`).
async fn world(key: &openssl::pkey::PKey<openssl::pkey::Private>, dir: &std::path::Path) -> World {
    let public = dir.join("rp-signing.pem");
    std::fs::write(&public, key.public_key_to_pem().unwrap()).unwrap();
    common::start_prepared(|_, config| {
        config.oidc_clients.extend([
            client_config(CLIENT, Some(SECRET), RP_CB),
            OidcClientConfig {
                public_key: Some(public),
                ..client_config(SIGNING, None, RP_CB)
            },
        ]);
    })
    .await
}

fn rsa() -> openssl::pkey::PKey<openssl::pkey::Private> {
    openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
}

/// A request object signed RS256 with `key` by `jsonwebtoken`.
fn request_object(key: &openssl::pkey::PKey<openssl::pkey::Private>, claims: &Value) -> String {
    let pem = key.private_key_to_pem_pkcs8().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("oauth-authz-req+jwt".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

/// The openidconnect crate's HTTP client, following no redirects (as its documentation asks).
fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `/oidc/authorize` with `params`, by GET or as a form POST; poort's answer (status, Location).
async fn authorize(
    w: &World,
    c: &reqwest::Client,
    post: bool,
    params: &[(&str, &str)],
) -> (u16, String) {
    let url = format!("{}/oidc/authorize", w.poort);
    let r = if post {
        c.post(&url).form(params).send().await.unwrap()
    } else {
        c.get(&url).query(params).send().await.unwrap()
    };
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

#[tokio::test]
async fn a_client_library_logs_in_checks_iss_and_is_told_the_scope_granted() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(&rsa(), dir.path()).await;
    let http = http();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(w.poort.clone()).unwrap(), &http)
            .await
            .unwrap();
    // Discovery says what a client may rely on.
    let raw: Value = reqwest::get(format!("{}/.well-known/openid-configuration", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["authorization_response_iss_parameter_supported"], true);
    assert_eq!(raw["request_parameter_supported"], true);
    assert_eq!(raw["request_uri_parameter_supported"], false);
    assert_eq!(raw["scopes_supported"], json!(["openid"]));
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(CLIENT.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(RP_CB.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        // Not a scope poort knows: dropped, and the token response says so.
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (plain, follow) = browser();
    let location = walk(
        (&plain, &follow),
        &w.poort,
        url.as_str(),
        ("anna", "EH3"),
        Some("12345678"),
    )
    .await;
    // RFC 9207 2.4: the client compares iss with the issuer it sent the person to.
    assert_eq!(param(&location, "iss").as_deref(), Some(w.poort.as_str()));
    assert_eq!(
        param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = param(&location, "code").unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let granted: Vec<&str> = token
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(granted, ["openid"]);
    let id_token = token.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.issuer().as_str(), w.poort);
}

#[tokio::test]
async fn the_authorization_endpoint_takes_a_form_post_as_it_takes_a_get() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(&rsa(), dir.path()).await;
    let base = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", RP_CB),
        ("state", "st-post"),
        ("nonce", "n-post"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    // A refusal answers alike, with iss, by either method.
    for post in [false, true] {
        let (plain, _) = browser();
        let mut params = base.to_vec();
        params.push(("scope", "profile"));
        let (status, location) = authorize(&w, &plain, post, &params).await;
        assert_eq!(status, 303, "post {post}");
        assert_eq!(param(&location, "error").as_deref(), Some("invalid_scope"));
        assert_eq!(param(&location, "state").as_deref(), Some("st-post"));
        assert_eq!(param(&location, "iss").as_deref(), Some(w.poort.as_str()));
    }
    // A whole login begun by POST.
    let (plain, follow) = browser();
    let mut params = base.to_vec();
    params.push(("scope", "openid"));
    let (status, to_ad) = authorize(&w, &plain, true, &params).await;
    assert_eq!(status, 303, "{to_ad}");
    let location = walk(
        (&plain, &follow),
        &w.poort,
        &to_ad,
        ("anna", "EH3"),
        Some("12345678"),
    )
    .await;
    assert!(param(&location, "code").is_some(), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-post"));
    assert_eq!(param(&location, "iss").as_deref(), Some(w.poort.as_str()));
}

#[tokio::test]
async fn request_objects_are_verified_with_the_clients_key_and_request_uri_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa();
    let w = world(&key, dir.path()).await;
    let now = chrono::Utc::now().timestamp();
    let good = json!({
        "iss": SIGNING, "aud": w.poort, "exp": now + 300, "client_id": SIGNING,
        "response_type": "code", "scope": "openid", "redirect_uri": RP_CB, "state": "st-object",
        "nonce": "n-object", "code_challenge": CHALLENGE, "code_challenge_method": "S256",
    });
    // The parameters travel in the signed object only; the query carries what OAuth requires.
    let (plain, follow) = browser();
    let object = request_object(&key, &good);
    let query = [
        ("response_type", "code"),
        ("client_id", SIGNING),
        ("scope", "openid"),
        ("request", object.as_str()),
    ];
    let (status, to_ad) = authorize(&w, &plain, false, &query).await;
    assert_eq!(status, 303, "{to_ad}");
    let location = walk(
        (&plain, &follow),
        &w.poort,
        &to_ad,
        ("anna", "EH3"),
        Some("12345678"),
    )
    .await;
    assert!(param(&location, "code").is_some(), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-object"));

    // Each refusal at the query's redirect URI, with iss, saying which check failed.
    let refused = |object: String, expect: &'static str| {
        let w = &w;
        async move {
            let (plain, _) = browser();
            let query = [
                ("response_type", "code"),
                ("client_id", SIGNING),
                ("scope", "openid"),
                ("redirect_uri", RP_CB),
                ("state", "st-query"),
                ("request", object.as_str()),
            ];
            let (status, location) = authorize(w, &plain, false, &query).await;
            assert_eq!(status, 303, "{expect}");
            assert_eq!(
                param(&location, "error").as_deref(),
                Some("invalid_request_object"),
                "{location}"
            );
            assert_eq!(param(&location, "iss").as_deref(), Some(w.poort.as_str()));
            let description = param(&location, "error_description").unwrap();
            assert!(description.contains(expect), "{description} lacks {expect}");
        }
    };
    refused(
        request_object(&rsa(), &good),
        "signature does not verify with the client's key",
    )
    .await;
    let mut other_aud = good.clone();
    other_aud["aud"] = json!("https://another-op.example");
    refused(
        request_object(&key, &other_aud),
        "aud is not poort's issuer",
    )
    .await;
    let mut expired = good.clone();
    expired["exp"] = json!(now - 3600);
    refused(request_object(&key, &expired), "has expired").await;
    let unsigned = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none"}"#),
        base64_url(good.to_string().as_bytes())
    );
    refused(unsigned, "\"none\" is not accepted").await;

    // A client with no registered key cannot have its objects verified.
    let (plain, _) = browser();
    let (_, location) = authorize(
        &w,
        &plain,
        false,
        &[
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("scope", "openid"),
            ("redirect_uri", RP_CB),
            ("request", &request_object(&key, &good)),
        ],
    )
    .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request_object")
    );
    assert!(param(&location, "error_description")
        .unwrap()
        .contains("no registered key"));

    // By reference: refused, whatever the URI.
    let (_, location) = authorize(
        &w,
        &plain,
        false,
        &[
            ("response_type", "code"),
            ("client_id", SIGNING),
            ("scope", "openid"),
            ("redirect_uri", RP_CB),
            ("state", "st-uri"),
            ("request_uri", "https://rp.example/request.jwt"),
        ],
    )
    .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("request_uri_not_supported")
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st-uri"));
    assert_eq!(param(&location, "iss").as_deref(), Some(w.poort.as_str()));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn token_answers_are_never_cached_and_userinfo_challenges_as_rfc_6750_says() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(&rsa(), dir.path()).await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/oidc/token", w.poort))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let cache = r.headers()["cache-control"].to_str().unwrap();
    assert!(cache.split(", ").any(|d| d == "no-store"), "{cache}");
    assert_eq!(r.headers()["pragma"], "no-cache");
    // No token at all: a challenge without an error code (RFC 6750 3.1).
    let r = c
        .get(format!("{}/oidc/userinfo", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error"), "{challenge}");
    // A token poort does not know: invalid_token.
    let r = c
        .get(format!("{}/oidc/userinfo", w.poort))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}
