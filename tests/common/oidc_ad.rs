//! A small OpenID Provider playing an upstream AD, built only from public libraries (axum for
//! HTTP, jsonwebtoken for the ID tokens, openssl for keys and PKCE): discovery, authorize, token
//! (with client authentication, single-use codes and PKCE checked), JWKS and userinfo. A test
//! sets who logs in, at which `acr`, and what the AD does wrong.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "poort-at-test-ad";
pub const CLIENT_SECRET: &str = "secret-poort-shares-with-the-test-ad";
const KID: &str = "test-ad-key-1";

/// What the AD gets wrong in its ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// `alg: none`, no signature.
    AlgNone,
    /// Signed by another RSA key under the published key's kid.
    WrongKey,
    /// HS256 with the client secret as key.
    Hmac,
    WrongIssuer,
    WrongAudience,
    WrongNonce,
    Expired,
    /// Signed by the second key (published once `publish_rotated` is set).
    RotatedKey,
    /// Signed by a key under a kid the AD never publishes.
    UnknownKid,
}

/// What the test controls and what the AD saw.
#[derive(Debug)]
pub struct Control {
    pub subject: String,
    pub acr: Option<String>,
    pub fault: Fault,
    /// Answer the authorization request with this error instead of a code.
    pub error: Option<String>,
    /// The `sub` userinfo returns (default: the ID token's).
    pub userinfo_subject: Option<String>,
    /// Authorization requests received (their query).
    pub authorize_requests: Vec<HashMap<String, String>>,
    pub token_requests: usize,
    pub userinfo_requests: usize,
    pub jwks_requests: usize,
    codes: HashMap<String, Issued>,
    /// Once set, the JWKS also publishes the rotated key.
    pub publish_rotated: bool,
}

#[derive(Debug, Clone)]
struct Issued {
    nonce: Option<String>,
    challenge: Option<String>,
    redirect_uri: String,
    used: bool,
}

struct Keys {
    pem: Vec<u8>,
    jwk: Value,
    other_pem: Vec<u8>,
    rotated_pem: Vec<u8>,
    rotated_jwk: Value,
}

#[derive(Clone)]
struct Ad {
    issuer: String,
    keys: Arc<Keys>,
    control: Arc<Mutex<Control>>,
}

pub struct TestAd {
    pub issuer: String,
    pub control: Arc<Mutex<Control>>,
}

impl TestAd {
    /// Starts the AD on a free port.
    pub async fn start() -> TestAd {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let (pem, jwk) = rsa_key(KID);
        let (other_pem, _) = rsa_key(KID);
        let (rotated_pem, rotated_jwk) = rsa_key("test-ad-key-2");
        let control = Arc::new(Mutex::new(Control {
            subject: "ad-subject-anna".into(),
            acr: Some("urn:etoegang:core:assurance-class:loa3".into()),
            fault: Fault::None,
            error: None,
            userinfo_subject: None,
            authorize_requests: Vec::new(),
            token_requests: 0,
            userinfo_requests: 0,
            jwks_requests: 0,
            codes: HashMap::new(),
            publish_rotated: false,
        }));
        let ad = Ad {
            issuer: issuer.clone(),
            keys: Arc::new(Keys {
                pem,
                jwk,
                other_pem,
                rotated_pem,
                rotated_jwk,
            }),
            control: control.clone(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .route("/userinfo", get(userinfo))
            .with_state(ad);
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestAd { issuer, control }
    }

    pub fn set(&self, change: impl FnOnce(&mut Control)) {
        change(&mut self.control.lock().unwrap());
    }

    pub fn last_authorize(&self) -> HashMap<String, String> {
        self.control
            .lock()
            .unwrap()
            .authorize_requests
            .last()
            .cloned()
            .expect("an authorization request reached the AD")
    }

    /// poort's configuration for this AD.
    pub fn config(&self) -> poort::config::OidcProviderConfig {
        poort::config::OidcProviderConfig {
            issuer: self.issuer.clone(),
            name_nl: "Test-AD (OIDC)".into(),
            name_en: "Test AD (OIDC)".into(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            token_endpoint_auth_method: None,
            allowed_algs: vec!["RS256".into()],
            scopes: vec![],
            userinfo: false,
            acr: [
                ("30".to_string(), "EH3".parse().unwrap()),
                ("40".to_string(), "EH4".parse().unwrap()),
                ("20".to_string(), "EH2".parse().unwrap()),
            ]
            .into_iter()
            .collect(),
            discovery_refresh_seconds: 3600,
        }
    }
}

fn rsa_key(kid: &str) -> (Vec<u8>, Value) {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let pem = rsa.private_key_to_pem().unwrap();
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
        "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
    });
    (pem, jwk)
}

async fn discovery(State(ad): State<Ad>) -> Json<Value> {
    let i = &ad.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": ["20", "30", "40"],
    }))
}

async fn jwks(State(ad): State<Ad>) -> Json<Value> {
    let mut c = ad.control.lock().unwrap();
    c.jwks_requests += 1;
    let mut keys = vec![ad.keys.jwk.clone()];
    if c.publish_rotated {
        keys.push(ad.keys.rotated_jwk.clone());
    }
    Json(json!({ "keys": keys }))
}

async fn authorize(State(ad): State<Ad>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut c = ad.control.lock().unwrap();
    c.authorize_requests.push(q.clone());
    let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri and state required").into_response();
    };
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return (StatusCode::BAD_REQUEST, "unknown client or response type").into_response();
    }
    let mut url = url::Url::parse(redirect_uri).unwrap();
    if let Some(error) = c.error.clone() {
        url.query_pairs_mut()
            .append_pair("error", &error)
            .append_pair("state", state);
        return Redirect::to(url.as_str()).into_response();
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = hex::encode(rand::random::<[u8; 16]>());
    c.codes.insert(
        code.clone(),
        Issued {
            nonce: q.get("nonce").cloned(),
            challenge: q.get("code_challenge").cloned(),
            redirect_uri: redirect_uri.clone(),
            used: false,
        },
    );
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    Redirect::to(url.as_str()).into_response()
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(ad): State<Ad>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut c = ad.control.lock().unwrap();
    c.token_requests += 1;
    // client_secret_basic (or client_secret_post).
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic.as_deref().and_then(|b| b.split_once(':')) {
        Some((i, s)) => (i.to_string(), s.to_string()),
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    let decode = |s: &str| {
        url::form_urlencoded::parse(s.as_bytes())
            .map(|(k, _)| k.into_owned())
            .next()
            .unwrap_or_default()
    };
    if decode(&id) != CLIENT_ID || decode(&secret) != CLIENT_SECRET {
        return token_error("invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    let Some(issued) = form.get("code").and_then(|code| c.codes.get_mut(code)) else {
        return token_error("invalid_grant");
    };
    if issued.used || form.get("redirect_uri") != Some(&issued.redirect_uri) {
        return token_error("invalid_grant");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    if issued.challenge.as_deref() != Some(computed.as_str()) {
        return token_error("invalid_grant");
    }
    issued.used = true;
    let nonce = issued.nonce.clone();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": ad.issuer,
        "sub": c.subject,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "auth_time": now - 5,
        "nonce": nonce,
    });
    if let Some(acr) = &c.acr {
        claims["acr"] = json!(acr);
    }
    match c.fault {
        Fault::WrongIssuer => claims["iss"] = json!("https://impostor.example"),
        Fault::WrongAudience => claims["aud"] = json!("another-client"),
        Fault::WrongNonce => claims["nonce"] = json!("not-the-nonce-poort-sent"),
        Fault::Expired => {
            claims["iat"] = json!(now - 900);
            claims["exp"] = json!(now - 600);
        }
        _ => {}
    }
    let rs256 = |kid: &str, pem: &[u8]| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    };
    let id_token = match c.fault {
        Fault::AlgNone => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
        Fault::WrongKey => rs256(KID, &ad.keys.other_pem),
        Fault::RotatedKey => rs256("test-ad-key-2", &ad.keys.rotated_pem),
        Fault::UnknownKid => rs256("nobody-knows-this-key", &ad.keys.other_pem),
        Fault::Hmac => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(KID.to_string());
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            )
            .unwrap()
        }
        _ => rs256(KID, &ad.keys.pem),
    };
    let access_token = format!("at-{}", c.subject);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(ad): State<Ad>, headers: HeaderMap) -> Response {
    let mut c = ad.control.lock().unwrap();
    c.userinfo_requests += 1;
    let expected = format!("Bearer at-{}", c.subject);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad access token").into_response();
    }
    let sub = c.userinfo_subject.clone().unwrap_or(c.subject.clone());
    Json(json!({ "sub": sub })).into_response()
}
