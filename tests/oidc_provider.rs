//! poort as OpenID Provider for an OIDC client, with the development SAML AD upstream: the code
//! flow with PKCE end to end, the ID token verified with poort's JWKS, and the refusals.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::oidc_rp::{authorize_url, client_config, param, token, verify, walk};
use common::{browser, World};
use poort::config::OidcClientConfig;
use serde_json::Value;

const CONFIDENTIAL: &str = "rp-confidential";
const SECRET: &str = "a-long-client-secret-for-tests";
const RP_CB: &str = "https://rp.example/cb";
const PUBLIC: &str = "rp-public";
const SPA_CB: &str = "https://spa.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(change: impl FnOnce(&mut poort::config::Config)) -> World {
    common::start_prepared(|_, config| {
        change(config);
        config.oidc_clients.extend([
            client_config(CONFIDENTIAL, Some(SECRET), RP_CB),
            OidcClientConfig {
                service: "5a1d3b0e-8c9f-4f5e-9b1a-000000000002".into(),
                ..client_config(PUBLIC, None, SPA_CB)
            },
        ]);
    })
    .await
}

/// A whole login started by an OIDC client; the Location poort finally redirects to.
async fn login(
    w: &World,
    client: &str,
    redirect: &str,
    extra: &str,
    person: &str,
    level: &str,
    org: Option<&str>,
) -> String {
    let (plain, follow) = browser();
    // poort requires PKCE of every client: this one's, unless `extra` brings its own (then the
    // token request sends VERIFIER as `code_verifier`).
    let pkce = if extra.contains("code_challenge") {
        String::new()
    } else {
        format!("&code_challenge={CHALLENGE}&code_challenge_method=S256")
    };
    let url = authorize_url(&w.poort, client, redirect, &format!("{extra}{pkce}"));
    walk((&plain, &follow), &w.poort, &url, (person, level), org).await
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_the_jwks_has_current_and_next_keys() {
    let w = world().await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], w.poort);
    assert_eq!(d["token_endpoint"], format!("{}/oidc/token", w.poort));
    assert_eq!(d["code_challenge_methods_supported"][0], "S256");
    let jwks: Value = reqwest::get(format!("{}/oidc/jwks", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Current and next, for RS256 and for ES256.
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 4);
    assert_eq!(d["id_token_signing_alg_values_supported"][1], "ES256");
}

#[tokio::test]
async fn confidential_client_code_flow_with_pkce_and_organisation_choice() {
    let w = world().await;
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let location = login(
        &w,
        CONFIDENTIAL,
        RP_CB,
        &pkce,
        "anna",
        "EH3",
        Some("12345678"),
    )
    .await;
    assert!(location.starts_with(RP_CB), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    let code = param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&w, &form, Some((CONFIDENTIAL, SECRET))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims = verify(&w, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], w.poort);
    assert_eq!(claims["aud"], CONFIDENTIAL);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["acr"], "urn:etoegang:core:assurance-class:loa3");
    assert_eq!(claims["represents"]["sub"], "12345678");
    // The Logius NL GOV profile's identifier type for a KvK number.
    assert_eq!(
        claims["represents"]["sub_id_type"],
        "urn:nl-eid-gdi:1.0:id:KvKnr"
    );
    assert_eq!(
        claims["represents"]["name"],
        "Bakkerij De Gouden Korst B.V."
    );
    assert_eq!(
        claims["service_id"],
        "urn:etoegang:DV:00000099990000000002:services:1"
    );
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert!(claims["auth_time"].as_i64().is_some());
    let sub = claims["sub"].as_str().unwrap().to_string();
    assert!(
        !sub.contains("anna"),
        "pairwise pseudonym, not the AD's subject"
    );

    // Userinfo with the access token.
    let access = body["access_token"].as_str().unwrap();
    let info: Value = reqwest::Client::new()
        .get(format!("{}/oidc/userinfo", w.poort))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub);
    assert_eq!(info["represents"]["sub"], "12345678");

    // The same code again: refused, and the access token it gave is revoked.
    let (status, body) = token(&w, &form, Some((CONFIDENTIAL, SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = reqwest::Client::new()
        .get(format!("{}/oidc/userinfo", w.poort))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The same person again: the same sub for this client.
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "anna", "EH3", Some("87654321")).await;
    let code = param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("client_id", CONFIDENTIAL),
        ("client_secret", SECRET),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&w, &form, None).await;
    assert_eq!(status, 200, "client_secret_post: {body}");
    let claims = verify(&w, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["represents"]["sub"], "87654321");
}

#[tokio::test]
async fn public_client_gets_its_own_pairwise_sub_and_must_use_pkce() {
    let w = world().await;
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let location = login(&w, PUBLIC, SPA_CB, &pkce, "bram", "EH3", None).await;
    let code = param(&location, "code").unwrap();
    // Wrong verifier, then missing verifier: refused (the first try consumed the code).
    let (status, body) = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("client_id", PUBLIC),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            ),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let location = login(&w, PUBLIC, SPA_CB, &pkce, "bram", "EH3", None).await;
    let code = param(&location, "code").unwrap();
    let (status, body) = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("client_id", PUBLIC),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let location = login(&w, PUBLIC, SPA_CB, &pkce, "bram", "EH3", None).await;
    let code = param(&location, "code").unwrap();
    let (status, body) = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("client_id", PUBLIC),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = verify(&w, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], PUBLIC);
    // Level used: min(EH3 asserted, EH2+ grant).
    assert_eq!(claims["acr"], "urn:etoegang:core:assurance-class:loa2plus");
    assert_eq!(claims["represents"]["sub"], "11223344");

    // Without PKCE a public client is sent back at once.
    let (plain, _) = browser();
    let r = plain
        .get(format!("{}/oidc/authorize?response_type=code&scope=openid&client_id={PUBLIC}&redirect_uri={SPA_CB}&state=s", w.poort))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(SPA_CB));
    assert_eq!(param(location, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(location, "state").as_deref(), Some("s"));
}

#[tokio::test]
async fn refusals_at_the_token_endpoint() {
    let w = world().await;
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "anna", "EH3", Some("12345678")).await;
    let code = param(&location, "code").unwrap();
    // Wrong secret, unknown client, no authentication.
    let f = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&w, &f, Some((CONFIDENTIAL, "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token(&w, &f, Some(("nobody", SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token(&w, &f, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // A wrong redirect URI spends the code.
    let mut wrong = f;
    wrong[2] = ("redirect_uri", "https://rp.example/other");
    let (status, body) = token(&w, &wrong, Some((CONFIDENTIAL, SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = token(&w, &f, Some((CONFIDENTIAL, SECRET))).await;
    assert_eq!(status, 400, "a code is tried once");
    // Another grant type.
    let (status, body) = token(
        &w,
        &[("grant_type", "password")],
        Some((CONFIDENTIAL, SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn refusals_at_authorization() {
    let w = world().await;
    let (plain, _) = browser();
    // An unregistered redirect URI gets a page, never a redirect.
    let r = plain
        .get(format!("{}/oidc/authorize?response_type=code&scope=openid&client_id={CONFIDENTIAL}&redirect_uri=https://evil.example/cb", w.poort))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("location").is_none());
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = plain
        .get(format!("{}/oidc/authorize?response_type=code&scope=openid&client_id=unknown&redirect_uri={RP_CB}", w.poort))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("location").is_none());
    // Wrong response type and scope go back to the client.
    for (q, error) in [
        (
            "response_type=token&scope=openid",
            "unsupported_response_type",
        ),
        ("response_type=code&scope=profile", "invalid_scope"),
        (
            "response_type=code&scope=openid&prompt=none",
            "login_required",
        ),
    ] {
        let r = plain
            .get(format!(
                "{}/oidc/authorize?{q}&client_id={CONFIDENTIAL}&redirect_uri={RP_CB}&state=x\
                 &code_challenge={CHALLENGE}&code_challenge_method=S256",
                w.poort
            ))
            .send()
            .await
            .unwrap();
        let location = r.headers()["location"].to_str().unwrap();
        assert_eq!(param(location, "error").as_deref(), Some(error), "{q}");
    }
    // No grant, and a level too low: access_denied at the redirect URI, with the reason.
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "daan", "EH3", None).await;
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert!(param(&location, "error_description")
        .unwrap()
        .contains("no_grant"));
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "bram", "EH3", None).await;
    assert!(
        param(&location, "error_description")
            .unwrap()
            .contains("grant_level_too_low"),
        "{location}"
    );
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "anna", "EH2", None).await;
    assert!(
        param(&location, "error_description")
            .unwrap()
            .contains("level_too_low"),
        "{location}"
    );
}

#[tokio::test]
async fn a_token_signed_before_a_rotation_still_verifies_with_the_published_keys() {
    let w = world_with(|c| c.oidc.keys_reload_seconds = 1).await;
    // Rotate with the command, as an operator does, on the world's config.
    let config_path = w.dir.path().join("poort.toml");
    std::fs::write(&config_path, toml::to_string(&w.config).unwrap()).unwrap();
    let keys_dir = w.config.oidc.keys_dir.clone();
    let before = poort::oidc::ProviderKeys::load(&keys_dir, false).unwrap();
    let old_token = before
        .sign(&serde_json::json!({"sub": "s"}), "RS256")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_poort"))
        .args(["oidc", "--config"])
        .arg(&config_path)
        .arg("rotate-keys")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = poort::oidc::ProviderKeys::load(&keys_dir, false).unwrap();
    assert_eq!(
        after.rs256.current.kid,
        before.rs256.next.as_ref().unwrap().kid
    );
    assert_eq!(after.rs256.previous[0].kid, before.rs256.current.kid);
    assert_eq!(after.verify(&old_token).unwrap()["sub"], "s");
    // The running poort picks the rotation up from the shared folder, without a restart.
    let new_next = after.rs256.next.as_ref().unwrap().kid.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let jwks: Value = reqwest::get(format!("{}/oidc/jwks", w.poort))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        if kids.contains(&new_next.as_str()) {
            // The old current key is still published for the tokens it signed.
            assert!(kids.contains(&before.rs256.current.kid.as_str()));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rotation not picked up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "anna", "EH3", Some("12345678")).await;
    let code = param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (_, body) = token(&w, &form, Some((CONFIDENTIAL, SECRET))).await;
    let id_token = body["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["kid"],
        after.rs256.current.kid.as_str(),
        "signed with the new key"
    );
    verify(&w, id_token).await;
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains(&after.rs256.current.kid) && listed.contains(&before.rs256.current.kid),
        "{listed}"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let w = world_with(|c| c.oidc.code_lifetime_seconds = 1).await;
    let location = login(&w, CONFIDENTIAL, RP_CB, "", "anna", "EH3", Some("12345678")).await;
    let code = param(&location, "code").unwrap();
    let issued = std::time::Instant::now();
    // Wait out the code's second (a bound on the clock, not on a race).
    tokio::time::sleep(std::time::Duration::from_millis(1100).saturating_sub(issued.elapsed()))
        .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&w, &form, Some((CONFIDENTIAL, SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "refused for its age: {body}"
    );
}

/// A client assertion (RFC 7523) with these claims, signed by `key` with `alg`.
fn assertion(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    alg: &str,
    claims: Value,
) -> String {
    let header = serde_json::json!({"alg": alg, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let der = signer.sign_to_vec().unwrap();
    let sig = if alg == "ES256" {
        let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        raw
    } else {
        der
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    let rsa = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec =
        openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
    let other = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rsa_pub = dir.path().join("rp-rsa.pem");
    let ec_pub = dir.path().join("rp-ec.pem");
    std::fs::write(&rsa_pub, rsa.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(&ec_pub, ec.public_key_to_pem().unwrap()).unwrap();
    let w = world_with(|c| {
        for (id, key) in [("rp-rsa", &rsa_pub), ("rp-ec", &ec_pub)] {
            c.oidc_clients.push(OidcClientConfig {
                public_key: Some(key.clone()),
                ..client_config(id, None, RP_CB)
            });
        }
    })
    .await;
    let token_url = format!("{}/oidc/token", w.poort);
    let now = chrono::Utc::now().timestamp();
    let claims = |client: &str, jti: &str| serde_json::json!({"iss": client, "sub": client, "aud": token_url, "exp": now + 60, "iat": now, "jti": jti});
    async fn redeem(w: &World, client: &str, jwt: &str) -> (u16, Value) {
        let location = login(w, client, RP_CB, "", "anna", "EH3", Some("12345678")).await;
        let code = param(&location, "code").unwrap();
        token(
            w,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", RP_CB),
                ("code_verifier", VERIFIER),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt),
            ],
            None,
        )
        .await
    }
    let good = assertion(&rsa, "RS256", claims("rp-rsa", "j-1"));
    let (status, body) = redeem(&w, "rp-rsa", &good).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string());
    let (status, body) = redeem(
        &w,
        "rp-ec",
        &assertion(&ec, "ES256", claims("rp-ec", "j-2")),
    )
    .await;
    assert_eq!(status, 200, "ES256: {body}");

    // Each of these is refused as invalid_client.
    let mut expired = claims("rp-rsa", "j-4");
    expired["exp"] = serde_json::json!(now - 3600);
    let mut wrong_aud = claims("rp-rsa", "j-5");
    wrong_aud["aud"] = serde_json::json!("https://elsewhere.example/token");
    let unsigned = {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims("rp-rsa", "j-6").to_string());
        format!("{h}.{p}.")
    };
    for (what, jwt) in [
        ("replayed jti", good.clone()),
        (
            "another key",
            assertion(&other, "RS256", claims("rp-rsa", "j-3")),
        ),
        ("expired", assertion(&rsa, "RS256", expired)),
        ("wrong audience", assertion(&rsa, "RS256", wrong_aud)),
        ("alg none", unsigned),
        ("HS256 with the public key as secret", {
            let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
            let p = URL_SAFE_NO_PAD.encode(claims("rp-rsa", "j-7").to_string());
            format!("{h}.{p}.AAAA")
        }),
        (
            "the other client's name",
            assertion(&rsa, "RS256", claims("rp-ec", "j-8")),
        ),
    ] {
        let client = if what == "the other client's name" {
            "rp-ec"
        } else {
            "rp-rsa"
        };
        let (status, body) = redeem(&w, client, &jwt).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {body}"
        );
    }
    // A private_key_jwt client cannot fall back to a secret.
    let location = login(&w, "rp-rsa", RP_CB, "", "anna", "EH3", Some("12345678")).await;
    let code = param(&location, "code").unwrap();
    let (status, _) = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", RP_CB),
            ("client_id", "rp-rsa"),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_client_may_ask_for_es256_id_tokens() {
    let w = world_with(|c| {
        c.oidc_clients.push(OidcClientConfig {
            id_token_signed_response_alg: Some("ES256".into()),
            ..client_config("rp-es", Some(SECRET), RP_CB)
        })
    })
    .await;
    let location = login(&w, "rp-es", RP_CB, "", "anna", "EH3", Some("12345678")).await;
    let code = param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&w, &form, Some(("rp-es", SECRET))).await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    let claims = verify(&w, id_token).await;
    assert_eq!(claims["aud"], "rp-es");
}
