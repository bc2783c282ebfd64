//! Request objects (OpenID Connect Core 6.1, RFC 9101): the authorization request's parameters
//! as a JWT signed by the client's registered key, so that they reach poort unaltered through
//! the browser. By value only: poort fetches no `request_uri` (a URL of the client's choosing
//! would make poort an HTTP client of anyone's), and discovery says so.

use openssl::pkey::{PKey, Public};
use serde_json::{Map, Value};

/// The parameters of a request object, checked: signed by the client's key (RS256 or ES256,
/// never `none`), for poort (`aud` names the issuer), by this client (`iss` and `client_id`,
/// when present, are it), not expired (`exp` required, `skew` seconds allowed), not valid yet
/// (`nbf`), and without a request object of its own. Every refusal says which check failed.
pub fn verify_request_object(
    jwt: &str,
    key: &PKey<Public>,
    client_id: &str,
    issuer: &str,
    now: i64,
    skew: i64,
) -> Result<Map<String, Value>, String> {
    let claims = super::verify_jws(jwt, key)?;
    let Value::Object(claims) = claims else {
        return Err("the request object's payload is not a JSON object".into());
    };
    for name in ["iss", "client_id"] {
        if claims.get(name).is_some_and(|v| v != client_id) {
            return Err(format!("the request object's {name} is not the client_id"));
        }
    }
    let for_poort = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(list)) => list.iter().any(|a| a == issuer),
        _ => false,
    };
    if !for_poort {
        return Err("the request object's aud is not poort's issuer".into());
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("the request object has no exp")?;
    if exp + skew < now {
        return Err("the request object has expired".into());
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + skew)
    {
        return Err("the request object is not valid yet".into());
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err("a request object may not hold request or request_uri".into());
    }
    Ok(claims)
}

/// The authorization request's parameters with the request object's: where both name a
/// parameter, the request object's value is used (OIDC Core 6.3.3). Strings and numbers are
/// taken (as text); other values (objects, such as `claims`) are parameters poort does not
/// support and are left out.
pub fn merged(query: Map<String, Value>, object: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = query;
    merged.remove("request");
    merged.remove("request_uri");
    for (name, value) in object {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        merged.insert(name.clone(), Value::String(text));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use serde_json::json;

    const ISSUER: &str = "https://poort.example";

    fn signed(key: &PKey<openssl::pkey::Private>, alg: &str, claims: &Value) -> String {
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "oauth-authz-req+jwt"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
        signer.update(input.as_bytes()).unwrap();
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
        )
    }

    fn keys() -> (PKey<openssl::pkey::Private>, PKey<Public>) {
        let private = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
        (private, public)
    }

    fn refusal(jwt: &str, key: &PKey<Public>) -> String {
        verify_request_object(jwt, key, "rp", ISSUER, 1_000, 30).unwrap_err()
    }

    #[test]
    fn a_request_object_signed_for_poort_by_the_client_is_read_and_each_flaw_named() {
        let (private, public) = keys();
        let good = json!({"iss": "rp", "aud": ISSUER, "exp": 1_100, "client_id": "rp",
            "scope": "openid", "max_age": 0, "claims": {"userinfo": {}}});
        let claims = verify_request_object(
            &signed(&private, "RS256", &good),
            &public,
            "rp",
            ISSUER,
            1_000,
            30,
        )
        .unwrap();
        assert_eq!(claims["scope"], "openid");

        let with = |change: Value| {
            let mut c = good.clone();
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            signed(&private, "RS256", &c)
        };
        assert_eq!(
            refusal(&with(json!({"iss": "other"})), &public),
            "the request object's iss is not the client_id"
        );
        assert_eq!(
            refusal(&with(json!({"client_id": "other"})), &public),
            "the request object's client_id is not the client_id"
        );
        assert_eq!(
            refusal(&with(json!({"aud": "https://elsewhere"})), &public),
            "the request object's aud is not poort's issuer"
        );
        assert_eq!(
            refusal(&with(json!({"aud": null})), &public),
            "the request object's aud is not poort's issuer"
        );
        assert_eq!(
            refusal(&with(json!({"exp": null})), &public),
            "the request object has no exp"
        );
        assert_eq!(
            refusal(&with(json!({"exp": 900})), &public),
            "the request object has expired"
        );
        assert_eq!(
            refusal(&with(json!({"nbf": 1_100})), &public),
            "the request object is not valid yet"
        );
        assert_eq!(
            refusal(&with(json!({"request_uri": "https://rp/x"})), &public),
            "a request object may not hold request or request_uri"
        );
        // Unsigned, or signed by another key.
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(good.to_string())
        );
        assert!(
            refusal(&unsigned, &public).contains("\"none\" is not accepted"),
            "{}",
            refusal(&unsigned, &public)
        );
        let (other, _) = keys();
        assert_eq!(
            refusal(&signed(&other, "RS256", &good), &public),
            "signature does not verify with the client's key"
        );
    }

    #[test]
    fn the_request_objects_values_win_and_unsupported_shapes_are_left_out() {
        let query =
            json!({"client_id": "rp", "scope": "openid profile", "state": "q", "request": "x"});
        let object = json!({"scope": "openid", "max_age": 0, "claims": {"id_token": {}}});
        let merged = merged(
            query.as_object().unwrap().clone(),
            object.as_object().unwrap(),
        );
        assert_eq!(
            Value::Object(merged),
            json!({"client_id": "rp", "scope": "openid", "state": "q", "max_age": "0"})
        );
    }
}
