//! Certificates from `ds:X509Certificate`: decoding and the checks poort applies to them.

use super::{MetadataError, PeerCert, Severity};
use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::nid::Nid;
use openssl::pkey::Id;

/// Smallest RSA modulus accepted from peers.
pub const MIN_RSA_BITS: u32 = 2048;
/// Smallest EC field accepted (P-256).
const MIN_EC_BITS: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyUse {
    Signing,
    Encryption,
}

/// A decoded certificate and the key usage extension's relevant bits, if it has one.
pub(crate) struct Decoded {
    pub cert: PeerCert,
    /// (digitalSignature, keyEncipherment); None when the extension is absent (any use).
    key_usage: Option<(bool, bool)>,
}

/// Decodes the base64 text of a `ds:X509Certificate` (whitespace allowed) and checks its key.
/// A key too weak or of an unknown type is an error: the certificate must not be used at all.
pub(crate) fn decode(text: &str, element: &str) -> Result<Decoded, MetadataError> {
    let unparseable = |reason: String| MetadataError::CertificateUnparseable {
        element: element.to_string(),
        reason,
    };
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| unparseable(format!("invalid base64: {e}")))?;
    let (rest, x509) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| unparseable(format!("invalid DER: {e}")))?;
    if !rest.is_empty() {
        return Err(unparseable(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    let to_utc =
        |t: &x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
    let (Some(not_before), Some(not_after)) = (
        to_utc(&x509.validity().not_before),
        to_utc(&x509.validity().not_after),
    ) else {
        return Err(unparseable("validity dates out of range".into()));
    };
    let key_usage = x509
        .key_usage()
        .map_err(|e| unparseable(format!("key usage extension: {e}")))?
        .map(|ku| (ku.value.digital_signature(), ku.value.key_encipherment()));
    let subject = x509.subject().to_string();

    // x509-parser's RSA key_size misreads moduli without a leading zero: let openssl measure.
    // The key is read from the SubjectPublicKeyInfo alone (an RSA key through the PKCS#1
    // reader): going through a whole openssl X509 cost an aggregate of 10,000 entities most of
    // its read time in OpenSSL 3's decoders.
    let spki = x509.public_key();
    let public_key = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(_)) => {
            openssl::rsa::Rsa::public_key_from_der_pkcs1(&spki.subject_public_key.data)
                .and_then(openssl::pkey::PKey::from_rsa)
        }
        _ => openssl::pkey::PKey::public_key_from_der(spki.raw),
    }
    .map_err(|e| unparseable(format!("public key: {e}")))?;
    let bits = public_key.bits();
    let weak = |algorithm: &'static str, minimum: u32| MetadataError::WeakKey {
        element: element.to_string(),
        algorithm,
        bits,
        minimum,
    };
    match public_key.id() {
        Id::RSA if bits < MIN_RSA_BITS => return Err(weak("RSA", MIN_RSA_BITS)),
        Id::EC if bits < MIN_EC_BITS => return Err(weak("EC", MIN_EC_BITS)),
        Id::RSA | Id::EC => {}
        other => {
            let algorithm = Nid::from_raw(other.as_raw())
                .short_name()
                .map(str::to_string)
                .unwrap_or_else(|_| format!("#{}", other.as_raw()));
            return Err(MetadataError::UnsupportedKey {
                element: element.to_string(),
                algorithm,
            });
        }
    }
    Ok(Decoded {
        cert: PeerCert {
            der,
            subject,
            not_before,
            not_after,
            public_key,
        },
        key_usage,
    })
}

impl Decoded {
    /// Expired or not yet valid is only a warning: SAML peers pin keys through metadata, and
    /// the caller decides whether dates matter.
    pub(crate) fn validity_findings(
        &self,
        element: &str,
        now: DateTime<Utc>,
    ) -> Vec<(Severity, MetadataError)> {
        let mut out = Vec::new();
        if self.cert.not_after < now {
            out.push((
                Severity::Warning,
                MetadataError::CertificateExpired {
                    element: element.to_string(),
                    not_after: self.cert.not_after,
                },
            ));
        }
        if self.cert.not_before > now {
            out.push((
                Severity::Warning,
                MetadataError::CertificateNotYetValid {
                    element: element.to_string(),
                    not_before: self.cert.not_before,
                },
            ));
        }
        out
    }

    /// Whether the key usage extension (if any) allows `key_use`.
    pub(crate) fn fit_for(&self, key_use: KeyUse, element: &str) -> Result<(), MetadataError> {
        let Some((digital_signature, key_encipherment)) = self.key_usage else {
            return Ok(());
        };
        let (ok, required) = match key_use {
            KeyUse::Signing => (digital_signature, "digitalSignature"),
            KeyUse::Encryption => (key_encipherment, "keyEncipherment"),
        };
        if ok {
            Ok(())
        } else {
            Err(MetadataError::KeyUsageMismatch {
                element: element.to_string(),
                required,
            })
        }
    }
}
