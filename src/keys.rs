//! poort's own key material: the signing key (with its certificate), the decryption key, and the
//! pseudonym secret. Loaded once at start; files come from config.

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a PEM private key: {source}")]
    BadKey {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{path} is not a PEM certificate: {source}")]
    BadCert {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{path}: the certificate does not belong to the private key")]
    Mismatch { path: PathBuf },
    #[error("{path}: only RSA (2048 bits or more) and EC P-256 keys are supported")]
    Unsupported { path: PathBuf },
    #[error("pseudonym secret {path} must hold at least 32 bytes")]
    ShortSecret { path: PathBuf },
    #[error("crypto error: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// The signature algorithms poort uses and accepts. SHA-1 is refused everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    RsaSha256,
    EcdsaSha256,
}

impl SigAlg {
    pub fn uri(self) -> &'static str {
        match self {
            SigAlg::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SigAlg::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }

    pub fn from_uri(uri: &str) -> Option<SigAlg> {
        match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(SigAlg::RsaSha256),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Some(SigAlg::EcdsaSha256),
            _ => None,
        }
    }

    fn for_key<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> Option<SigAlg> {
        match key.id() {
            Id::RSA if key.bits() >= 2048 => Some(SigAlg::RsaSha256),
            Id::EC if key.bits() == 256 => Some(SigAlg::EcdsaSha256),
            _ => None,
        }
    }
}

/// A private key with its certificate, ready to sign XML and redirect-binding queries.
pub struct SigningKey {
    pub key: PKey<Private>,
    /// DER of the private key, as xmlsec loads it.
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub alg: SigAlg,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// When a certificate (DER) stops being valid; `None` when it cannot be read.
pub fn not_after(cert_der: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The PEM private key read from `path`.
fn private_key(pem: &[u8], path: &Path) -> Result<PKey<Private>, KeyError> {
    PKey::private_key_from_pem(pem).map_err(|source| KeyError::BadKey {
        path: path.to_path_buf(),
        source,
    })
}

/// The PEM certificate read from `path`, which must be `key`'s.
fn certificate_of(
    key: &PKey<Private>,
    pem: &[u8],
    path: &Path,
) -> Result<openssl::x509::X509, KeyError> {
    let cert = openssl::x509::X509::from_pem(pem).map_err(|source| KeyError::BadCert {
        path: path.to_path_buf(),
        source,
    })?;
    if !cert.public_key()?.public_eq(key) {
        return Err(KeyError::Mismatch {
            path: path.to_path_buf(),
        });
    }
    Ok(cert)
}

impl SigningKey {
    pub fn load(key_path: &Path, cert_path: &Path) -> Result<SigningKey, KeyError> {
        Self::from_pem(&read(key_path)?, &read(cert_path)?, key_path, cert_path)
    }

    pub fn from_pem(
        key_pem: &[u8],
        cert_pem: &[u8],
        key_path: &Path,
        cert_path: &Path,
    ) -> Result<SigningKey, KeyError> {
        let key = private_key(key_pem, key_path)?;
        let cert = certificate_of(&key, cert_pem, cert_path)?;
        let alg = SigAlg::for_key(&key).ok_or_else(|| KeyError::Unsupported {
            path: key_path.to_path_buf(),
        })?;
        Ok(SigningKey {
            key_der: key.private_key_to_der()?,
            cert_der: cert.to_der()?,
            key,
            alg,
        })
    }

    /// Signs bytes (for the HTTP-Redirect binding). ECDSA signatures are DER-encoded here.
    pub fn sign_bytes(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(data)?;
        Ok(signer.sign_to_vec()?)
    }
}

/// Verifies a detached signature made with `alg` over `data`. ECDSA signatures are accepted both
/// DER-encoded and as XML-DSig's raw r||s.
pub fn verify_bytes(
    key: &PKey<Public>,
    alg: SigAlg,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, KeyError> {
    if SigAlg::for_key(key) != Some(alg) {
        return Ok(false);
    }
    let der;
    let signature = match alg {
        SigAlg::EcdsaSha256 if signature.len() == 64 => {
            let r = openssl::bn::BigNum::from_slice(&signature[..32])?;
            let s = openssl::bn::BigNum::from_slice(&signature[32..])?;
            der = openssl::ecdsa::EcdsaSig::from_private_components(r, s)?.to_der()?;
            &der[..]
        }
        _ => signature,
    };
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    verifier.update(data)?;
    // A malformed signature is an ordinary "does not verify", not an error.
    Ok(verifier.verify(signature).unwrap_or(false))
}

/// The RSA key with which poort decrypts assertions encrypted to it.
pub struct DecryptionKey {
    pub key: PKey<Private>,
    pub cert_der: Vec<u8>,
}

impl DecryptionKey {
    pub fn load(key_path: &Path, cert_path: &Path) -> Result<DecryptionKey, KeyError> {
        let key = private_key(&read(key_path)?, key_path)?;
        if key.id() != Id::RSA || key.bits() < 2048 {
            return Err(KeyError::Unsupported {
                path: key_path.to_path_buf(),
            });
        }
        let cert = certificate_of(&key, &read(cert_path)?, cert_path)?;
        Ok(DecryptionKey {
            key,
            cert_der: cert.to_der()?,
        })
    }
}

/// The secret behind pseudonyms: without it nobody links a person's pseudonyms across DVs.
pub struct PseudonymSecret(Vec<u8>);

impl PseudonymSecret {
    pub fn load(path: &Path) -> Result<PseudonymSecret, KeyError> {
        let raw = read(path)?;
        let text = String::from_utf8_lossy(&raw);
        let bytes = hex::decode(text.trim()).unwrap_or(raw);
        Self::new(bytes).ok_or_else(|| KeyError::ShortSecret {
            path: path.to_path_buf(),
        })
    }

    pub fn new(bytes: Vec<u8>) -> Option<PseudonymSecret> {
        (bytes.len() >= 32).then_some(PseudonymSecret(bytes))
    }

    /// A pseudonym of `subject` at `idp`, specific to `audience`: stable across logins, and
    /// unlinkable between audiences without the secret (HMAC-SHA256).
    pub fn pseudonym(&self, audience: &str, idp: &str, subject: &str) -> Result<String, KeyError> {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        let mut input = Vec::with_capacity(audience.len() + idp.len() + subject.len() + 24);
        for part in [audience, idp, subject] {
            input.extend_from_slice(&(part.len() as u64).to_be_bytes());
            input.extend_from_slice(part.as_bytes());
        }
        let key = PKey::hmac(&self.0)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(&input)?;
        Ok(hex::encode(signer.sign_to_vec()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_and_audience_specific() {
        let secret = PseudonymSecret::new(vec![7u8; 32]).unwrap();
        let p = |s: &PseudonymSecret, a: &str, i: &str, x: &str| s.pseudonym(a, i, x).unwrap();
        let a1 = p(&secret, "dv-a", "ad", "anna");
        assert_eq!(a1, p(&secret, "dv-a", "ad", "anna"));
        assert_eq!(a1.len(), 64);
        assert_ne!(a1, p(&secret, "dv-b", "ad", "anna"));
        assert_ne!(a1, p(&secret, "dv-a", "ad", "bram"));
        assert_ne!(p(&secret, "ab", "c", "x"), p(&secret, "a", "bc", "x"));
        let other = PseudonymSecret::new(vec![8u8; 32]).unwrap();
        assert_ne!(a1, p(&other, "dv-a", "ad", "anna"));
        assert!(PseudonymSecret::new(vec![1u8; 31]).is_none());
    }
}
