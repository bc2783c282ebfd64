//! An OIDC relying party's side of the tests: reading redirects, the token request, and ID
//! tokens verified with poort's JWKS (openssl, not poort's code).

use super::World;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// A client of poort's (PKCE required, ID tokens signed as poort chooses) for the demo DV's
/// service 1, with one redirect URI; `secret` for a confidential client.
pub fn client_config(
    client_id: &str,
    secret: Option<&str>,
    redirect: &str,
) -> poort::config::OidcClientConfig {
    poort::config::OidcClientConfig {
        client_id: client_id.into(),
        client_secret: secret.map(str::to_string),
        public_key: None,
        id_token_signed_response_alg: None,
        allow_without_pkce: false,
        redirect_uris: vec![redirect.into()],
        post_logout_redirect_uris: Vec::new(),
        service: "urn:etoegang:DV:00000099990000000002:services:1".into(),
    }
}

pub fn query(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(location: &str, name: &str) -> Option<String> {
    query(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub async fn token(w: &World, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/oidc/token", w.poort))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Verifies a JWS with the key named by its kid in poort's JWKS; the claims.
pub async fn verify(w: &World, jwt: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{}/oidc/jwks", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is in the JWKS");
    assert_eq!(header["alg"], jwk["alg"]);
    let b = |v: &Value| {
        openssl::bn::BigNum::from_slice(&URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap())
            .unwrap()
    };
    let mut signature = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let key = if header["alg"] == "ES256" {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = openssl::ec::EcKey::from_public_key_affine_coordinates(
            &group,
            &b(&jwk["x"]),
            &b(&jwk["y"]),
        )
        .unwrap();
        let (r, s) = signature.split_at(32);
        let der = openssl::ecdsa::EcdsaSig::from_private_components(
            openssl::bn::BigNum::from_slice(r).unwrap(),
            openssl::bn::BigNum::from_slice(s).unwrap(),
        )
        .unwrap()
        .to_der()
        .unwrap();
        signature = der;
        openssl::pkey::PKey::from_ec_key(ec).unwrap()
    } else {
        assert_eq!(header["alg"], "RS256");
        let rsa = openssl::rsa::Rsa::from_public_components(b(&jwk["n"]), b(&jwk["e"])).unwrap();
        openssl::pkey::PKey::from_rsa(rsa).unwrap()
    };
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    verifier.update(input.as_bytes()).unwrap();
    assert!(verifier.verify(&signature).unwrap(), "signature");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// poort's authorization endpoint, asked by `client` for a code sent to `redirect` (state
/// `st-1`, nonce `n-1`), with `extra` parameters appended.
pub fn authorize_url(poort: &str, client: &str, redirect: &str, extra: &str) -> String {
    format!(
        "{poort}/oidc/authorize?response_type=code&scope=openid&client_id={client}&redirect_uri={}&state=st-1&nonce=n-1{extra}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    )
}

/// A login an OIDC client started at `authorize`, walked by a browser (`plain` follows no
/// redirects, `follow` does; one cookie jar): `person` logs in at `level` on the development AD
/// and chooses organisation `org` when poort (at `poort`) asks. The Location poort finally
/// redirects to.
pub async fn walk(
    (plain, follow): (&reqwest::Client, &reqwest::Client),
    poort: &str,
    authorize: &str,
    (person, level): (&str, &str),
    org: Option<&str>,
) -> String {
    let ad_page = super::page(follow, authorize).await;
    super::assert_ad_page(&ad_page);
    let to_poort = super::ad_answer(follow, &ad_page, person, level).await;
    let mut r = super::submit(plain, &to_poort, &[]).await;
    if let Some(org) = org {
        // poort asks which organisation: a redirect to its choice page.
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let choice = format!("{poort}{}", r.headers()["location"].to_str().unwrap());
        let page = super::page(plain, &choice).await;
        r = super::submit_at(plain, poort, &page, &[("organisation", org)]).await;
    }
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    r.headers()["location"].to_str().unwrap().to_string()
}
