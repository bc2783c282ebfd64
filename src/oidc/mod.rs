//! poort as OpenID Provider: its ID-token signing keys, the JWKS, signed tokens, PKCE.
//!
//! Tokens are compact JWS signed with RS256 by openssl, the same library that signs poort's
//! SAML; the header and payload are plain JSON. Keys live in one folder shared by the replicas:
//! `current.pem` signs, `next.pem` is published ahead of a rotation so that clients already
//! know it, and `previous-*.pem` stay published after a rotation until the tokens they signed
//! have expired.

pub mod code;
pub mod request_object;
pub mod upstream;

pub use code::{authorization_response, granted_scope, redirect_with, SUPPORTED_SCOPES};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::{Signer, Verifier};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OidcKeyError {
    #[error("OIDC signing key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("OIDC signing keys: {0}")]
    Io(#[from] std::io::Error),
    #[error("signing a token: {0}")]
    Sign(#[from] openssl::error::ErrorStack),
}

/// One RSA signing key with its key ID (the RFC 7638 thumbprint of its public key).
pub struct OidcKey {
    pub kid: String,
    key: PKey<Private>,
    /// `RS256` (RSA key) or `ES256` (EC P-256 key).
    pub alg: &'static str,
    jwk: Value,
}

impl std::fmt::Debug for OidcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcKey").field("kid", &self.kid).finish()
    }
}

impl OidcKey {
    fn load(path: &Path) -> Result<OidcKey, OidcKeyError> {
        let bad = |message: String| OidcKeyError::Key {
            path: path.to_path_buf(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let key = PKey::private_key_from_pem(&pem).map_err(|e| bad(e.to_string()))?;
        // RFC 7638 thumbprints: SHA-256 over the required members in lexicographic order.
        let (alg, canonical, mut jwk) = match key.id() {
            Id::RSA if key.bits() >= 2048 => {
                let rsa = key.rsa().map_err(|e| bad(e.to_string()))?;
                let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
                let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
                (
                    "RS256",
                    format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                    json!({"kty": "RSA", "n": n, "e": e}),
                )
            }
            Id::EC => {
                let ec = key.ec_key().map_err(|e| bad(e.to_string()))?;
                if ec.group().curve_name() != Some(openssl::nid::Nid::X9_62_PRIME256V1) {
                    return Err(bad("an EC key must be on P-256".into()));
                }
                let mut ctx = openssl::bn::BigNumContext::new().map_err(|e| bad(e.to_string()))?;
                let mut x = openssl::bn::BigNum::new().map_err(|e| bad(e.to_string()))?;
                let mut y = openssl::bn::BigNum::new().map_err(|e| bad(e.to_string()))?;
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                    .map_err(|e| bad(e.to_string()))?;
                let pad =
                    |b: &openssl::bn::BigNum| b.to_vec_padded(32).map_err(|e| bad(e.to_string()));
                let x = URL_SAFE_NO_PAD.encode(pad(&x)?);
                let y = URL_SAFE_NO_PAD.encode(pad(&y)?);
                (
                    "ES256",
                    format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
            _ => return Err(bad("must be RSA (2048 bits or more) or EC P-256".into())),
        };
        let kid = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(canonical.as_bytes()));
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg);
        jwk["kid"] = json!(kid);
        Ok(OidcKey { kid, key, alg, jwk })
    }

    fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// Signs `input`: the JWS signature bytes (r || s for ES256, RFC 7518 3.4).
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, OidcKeyError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(input)?;
        let der = signer.sign_to_vec()?;
        if self.alg != "ES256" {
            return Ok(der);
        }
        Ok(es256_from_der(&der)?)
    }

    fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        let der = if self.alg == "ES256" {
            match es256_to_der(signature) {
                Some(der) => der,
                None => return false,
            }
        } else {
            signature.to_vec()
        };
        Verifier::new(MessageDigest::sha256(), &self.key)
            .and_then(|mut v| {
                v.update(input)?;
                v.verify(&der)
            })
            .unwrap_or(false)
    }
}

/// The signing keys of poort as OpenID Provider.
#[derive(Debug)]
pub struct OidcKeys {
    pub current: OidcKey,
    pub next: Option<OidcKey>,
    pub previous: Vec<OidcKey>,
}

fn new_key_pem(alg: &str) -> Result<Vec<u8>, OidcKeyError> {
    let key = if alg == "ES256" {
        let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?;
        PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)?
    } else {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?
    };
    Ok(key.private_key_to_pem_pkcs8()?)
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), OidcKeyError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    Ok(())
}

impl OidcKeys {
    /// Loads the keys in `dir`; with `create`, makes `current.pem` and `next.pem` when missing
    /// (development and first start).
    pub fn load(dir: &Path, create: bool, alg: &str) -> Result<OidcKeys, OidcKeyError> {
        if create {
            std::fs::create_dir_all(dir)?;
            for name in ["current.pem", "next.pem"] {
                let path = dir.join(name);
                if !path.exists() {
                    write_secret(&path, &new_key_pem(alg)?)?;
                }
            }
        }
        let current = OidcKey::load(&dir.join("current.pem"))?;
        let next_path = dir.join("next.pem");
        let next = if next_path.exists() {
            Some(OidcKey::load(&next_path)?)
        } else {
            None
        };
        let mut previous = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("previous-") && n.ends_with(".pem"))
                })
                .collect();
            paths.sort();
            for p in paths {
                previous.push(OidcKey::load(&p)?);
            }
        }
        Ok(OidcKeys {
            current,
            next,
            previous,
        })
    }

    /// Rotates the keys in `dir`: the current key becomes `previous-<unix time>.pem` (still
    /// published, so tokens it signed verify until they expire), the next key becomes current,
    /// and a new next key is made. Replicas pick the change up when they restart.
    pub fn rotate(dir: &Path, alg: &str) -> Result<OidcKeys, OidcKeyError> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let current = dir.join("current.pem");
        let next = dir.join("next.pem");
        if !next.exists() {
            write_secret(&next, &new_key_pem(alg)?)?;
        }
        std::fs::rename(&current, dir.join(format!("previous-{stamp}.pem")))?;
        std::fs::rename(&next, &current)?;
        write_secret(&next, &new_key_pem(alg)?)?;
        Self::load(dir, false, alg)
    }

    /// The JSON Web Key Set: every key a client may meet.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(self.next.iter())
            .chain(self.previous.iter())
            .map(OidcKey::jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// A compact JWS over `claims`, signed with the current key.
    pub fn sign(&self, claims: &Value) -> Result<String, OidcKeyError> {
        let header = json!({"alg": self.current.alg, "typ": "JWT", "kid": self.current.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.current.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn all(&self) -> impl Iterator<Item = &OidcKey> {
        std::iter::once(&self.current)
            .chain(self.next.iter())
            .chain(self.previous.iter())
    }

    /// Verifies a token signed with one of these keys and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let (input, signature) = token.rsplit_once('.')?;
        let (header, payload) = input.split_once('.')?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let key = self.all().find(|k| header["kid"] == k.kid.as_str())?;
        // The key decides the algorithm, never the token.
        if header["alg"] != key.alg {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if !key.verifies(input.as_bytes(), &signature) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// poort's ID-token keys: an RS256 set (in the keys folder) and an ES256 set (in its `es256`
/// subfolder), each with current, next and previous keys, rotated together.
#[derive(Debug)]
pub struct ProviderKeys {
    pub rs256: OidcKeys,
    pub es256: OidcKeys,
}

impl ProviderKeys {
    pub fn load(dir: &Path, create: bool) -> Result<ProviderKeys, OidcKeyError> {
        Ok(ProviderKeys {
            rs256: OidcKeys::load(dir, create, "RS256")?,
            es256: OidcKeys::load(&dir.join("es256"), create, "ES256")?,
        })
    }

    pub fn rotate(dir: &Path) -> Result<ProviderKeys, OidcKeyError> {
        Ok(ProviderKeys {
            rs256: OidcKeys::rotate(dir, "RS256")?,
            es256: OidcKeys::rotate(&dir.join("es256"), "ES256")?,
        })
    }

    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .rs256
            .all()
            .chain(self.es256.all())
            .map(OidcKey::jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// Signs with the current key of the algorithm (`RS256` unless `ES256` is asked).
    pub fn sign(&self, claims: &Value, alg: &str) -> Result<String, OidcKeyError> {
        if alg == "ES256" {
            self.es256.sign(claims)
        } else {
            self.rs256.sign(claims)
        }
    }

    pub fn verify(&self, token: &str) -> Option<Value> {
        self.rs256
            .verify(token)
            .or_else(|| self.es256.verify(token))
    }
}

/// The provider keys as a running poort holds them: shared by the handlers, reloaded from the
/// key folder when it changes, so that a rotation done on one machine (`poort oidc
/// rotate-keys` on the shared folder) reaches every replica without a restart.
#[derive(Debug)]
pub struct LiveKeys {
    dir: PathBuf,
    keys: parking_lot::RwLock<(String, std::sync::Arc<ProviderKeys>)>,
}

/// A fingerprint of the key folder: names, sizes and modification times of its files.
fn fingerprint(dir: &Path) -> String {
    let mut parts = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("es256")] {
        if let Ok(entries) = std::fs::read_dir(&sub) {
            for e in entries.filter_map(Result::ok) {
                let meta = e.metadata().ok();
                let modified = meta
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                parts.push(format!(
                    "{}:{}:{modified}",
                    e.path().display(),
                    meta.map(|m| m.len()).unwrap_or_default()
                ));
            }
        }
    }
    parts.sort();
    parts.join("|")
}

impl LiveKeys {
    pub fn load(dir: &Path, create: bool) -> Result<LiveKeys, OidcKeyError> {
        let keys = ProviderKeys::load(dir, create)?;
        Ok(LiveKeys {
            dir: dir.to_path_buf(),
            keys: parking_lot::RwLock::new((fingerprint(dir), std::sync::Arc::new(keys))),
        })
    }

    /// The keys now.
    pub fn get(&self) -> std::sync::Arc<ProviderKeys> {
        self.keys.read().1.clone()
    }

    /// Reloads when the folder changed; keeps the keys it has when the new ones do not load
    /// (a rotation half done), and says so.
    pub fn refresh(&self) -> bool {
        let now = fingerprint(&self.dir);
        if self.keys.read().0 == now {
            return false;
        }
        match ProviderKeys::load(&self.dir, false) {
            Ok(keys) => {
                *self.keys.write() = (now, std::sync::Arc::new(keys));
                tracing::info!(dir = %self.dir.display(), "OIDC signing keys reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(
                    "OIDC signing keys changed but do not load ({e}); keeping the old ones"
                );
                false
            }
        }
    }
}

/// PKCE S256 (RFC 7636): BASE64URL(SHA256(verifier)) == challenge, verifier 43–128 characters
/// of the unreserved set.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed || challenge.len() != 43 {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    // Both are 43 characters here: memcmp::eq requires equal lengths.
    computed.len() == challenge.len()
        && openssl::memcmp::eq(computed.as_bytes(), challenge.as_bytes())
}

/// A client's registered public key (PEM), read when it is used so that a replaced file takes
/// effect at once; `None` when it cannot be read (the caller logs it: an operator's mistake).
pub fn read_client_key(path: &Path) -> Option<PKey<openssl::pkey::Public>> {
    std::fs::read(path)
        .ok()
        .and_then(|pem| PKey::public_key_from_pem(&pem).ok())
}

/// The claims of a compact JWS signed by `key`: RS256 for an RSA key, ES256 for an EC key. A
/// JWS with `alg: none`, another algorithm, or a signature that does not verify is refused,
/// each with its own message.
pub fn verify_jws(jwt: &str, key: &PKey<openssl::pkey::Public>) -> Result<Value, String> {
    let (input, signature) = jwt.rsplit_once('.').ok_or("not a compact JWS")?;
    let (header, payload) = input.split_once('.').ok_or("not a compact JWS")?;
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "not base64url".to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_string())
    };
    let header = decode(header)?;
    let claims = decode(payload)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "signature is not base64url")?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let der = match (alg, key.id()) {
        ("RS256", Id::RSA) => signature,
        ("ES256", Id::EC) if signature.len() == 64 => {
            es256_to_der(&signature).ok_or("not an ES256 signature")?
        }
        (alg, _) => {
            return Err(format!(
                "algorithm {alg:?} is not accepted for this client's key"
            ))
        }
    };
    let mut verifier = Verifier::new(MessageDigest::sha256(), key).map_err(|e| e.to_string())?;
    verifier
        .update(input.as_bytes())
        .map_err(|e| e.to_string())?;
    if !verifier.verify(&der).unwrap_or(false) {
        return Err("signature does not verify with the client's key".into());
    }
    Ok(claims)
}

/// What a verified client assertion (private_key_jwt) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    pub client_id: String,
    /// The assertion's ID, single-use until `expires`.
    pub jti: String,
    pub expires: i64,
}

/// Verifies a client assertion (RFC 7523 section 3, OIDC Core 9): signed RS256 or ES256 by the
/// client's registered key, `iss` = `sub` = the client, `aud` one of `audiences` (the token
/// endpoint or the issuer), not expired (with `skew` seconds), `jti` present. Every failure
/// has its own message; `alg: none` and algorithms that do not fit the key are refused.
pub fn verify_client_assertion(
    jwt: &str,
    key: &PKey<openssl::pkey::Public>,
    client_id: &str,
    audiences: &[String],
    now: i64,
    skew: i64,
) -> Result<ClientAssertion, String> {
    let claims = verify_jws(jwt, key)?;
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err("iss and sub must both be the client_id".into());
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audiences.contains(a),
        Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    if !aud_ok {
        return Err("aud is not poort's token endpoint or issuer".into());
    }
    let exp = claims["exp"].as_i64().ok_or("exp is missing")?;
    if exp + skew < now {
        return Err("the assertion has expired".into());
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + skew) {
        return Err("the assertion is not valid yet".into());
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or("jti is missing")?;
    Ok(ClientAssertion {
        client_id: client_id.to_string(),
        jti: jti.to_string(),
        expires: exp,
    })
}

/// Compares secrets in constant time.
pub fn secret_matches(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && openssl::memcmp::eq(given.as_bytes(), expected.as_bytes())
}

/// An ES256 signature as JWS carries it (r ‖ s, 32 bytes each, RFC 7518 §3.4) in the DER form
/// openssl verifies; `None` when it is not 64 bytes.
fn es256_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let r = openssl::bn::BigNum::from_slice(&raw[..32]).ok()?;
    let s = openssl::bn::BigNum::from_slice(&raw[32..]).ok()?;
    openssl::ecdsa::EcdsaSig::from_private_components(r, s)
        .and_then(|sig| sig.to_der())
        .ok()
}

/// openssl's DER ECDSA signature as JWS carries it: r ‖ s, each padded to 32 bytes.
fn es256_from_der(der: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let sig = openssl::ecdsa::EcdsaSig::from_der(der)?;
    let mut raw = sig.r().to_vec_padded(32)?;
    raw.extend(sig.s().to_vec_padded(32)?);
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let keys = OidcKeys::load(dir.path(), true, "RS256").unwrap();
        let token = keys.sign(&json!({"sub": "x"})).unwrap();
        assert_eq!(keys.verify(&token).unwrap()["sub"], "x");
        // A changed payload does not verify.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"y"}"#);
        parts[1] = &forged;
        assert!(keys.verify(&parts.join(".")).is_none());
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);

        let next_kid = keys.next.as_ref().unwrap().kid.clone();
        let rotated = OidcKeys::rotate(dir.path(), "RS256").unwrap();
        assert_eq!(rotated.current.kid, next_kid, "the announced key signs now");
        assert_eq!(rotated.previous.len(), 1);
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 3);
        // A token signed before the rotation still verifies.
        assert_eq!(rotated.verify(&token).unwrap()["sub"], "x");
        let after = rotated.sign(&json!({"sub": "z"})).unwrap();
        assert!(after.contains('.') && rotated.verify(&after).is_some());
    }

    #[test]
    fn es256_and_rs256_keys_sign_and_verify_and_the_key_decides_the_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ProviderKeys::load(dir.path(), true).unwrap();
        let es = keys.sign(&json!({"sub": "e"}), "ES256").unwrap();
        let rs = keys.sign(&json!({"sub": "r"}), "RS256").unwrap();
        assert_eq!(keys.verify(&es).unwrap()["sub"], "e");
        assert_eq!(keys.verify(&rs).unwrap()["sub"], "r");
        let jwks = keys.jwks();
        let kinds: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kty"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["RSA", "RSA", "EC", "EC"]);
        // The ES256 token's header claiming RS256 with the same kid does not verify.
        let (header, rest) = es.split_once('.').unwrap();
        let mut h: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        h["alg"] = json!("RS256");
        let swapped = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(h.to_string()));
        assert!(keys.verify(&swapped).is_none());
        let rotated = ProviderKeys::rotate(dir.path()).unwrap();
        assert!(rotated.verify(&es).is_some() && rotated.verify(&rs).is_some());
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_s256_matches("short", challenge));
        assert!(!pkce_s256_matches(verifier, ""));
    }
}
