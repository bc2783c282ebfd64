//! The HTTP-Redirect and HTTP-POST bindings: encoding, decoding, and the detached signature of
//! the redirect binding, which is verified over the raw query bytes exactly as received.

use super::xml::{self, MAX_MESSAGE_BYTES};
use crate::keys::{verify_bytes, KeyError, SigAlg, SigningKey};
use base64::Engine;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::pkey::{PKey, Public};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::io::{Read, Write};

/// RelayState may be at most 80 bytes (SAML bindings, 3.4.3).
pub const MAX_RELAY_STATE: usize = 80;

/// Characters left alone in query values: the unreserved set of RFC 3986.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("no SAML message in the request")]
    Missing,
    #[error("parameter {0} appears more than once")]
    Duplicate(&'static str),
    #[error("the message is not valid base64")]
    Base64,
    #[error("the message is not valid DEFLATE data")]
    Deflate,
    #[error("the message is too large")]
    TooLarge,
    #[error("the message is not valid UTF-8")]
    NotUtf8,
    #[error("RelayState is longer than {MAX_RELAY_STATE} bytes")]
    RelayStateTooLong,
    #[error("the message carries a Signature but no SigAlg")]
    NoSigAlg,
    #[error("signature algorithm {0} is not accepted (use RSA-SHA256 or ECDSA-SHA256)")]
    SigAlg(String),
    #[error("the signature is not valid base64")]
    SignatureEncoding,
    #[error("the signature does not verify with any key in the sender's metadata")]
    BadSignature,
    #[error("crypto: {0}")]
    Key(#[from] KeyError),
}

/// A message received over the HTTP-Redirect binding, decoded, with its detached signature (if
/// any) still to be checked against the sender's keys with [`RedirectMessage::verify`].
#[derive(Debug)]
pub struct RedirectMessage {
    pub xml: String,
    pub relay_state: Option<String>,
    /// The exact bytes that were signed, and the signature: `None` when unsigned.
    signed: Option<(String, SigAlg, Vec<u8>)>,
}

impl RedirectMessage {
    /// Decodes a raw query string (as received, not re-encoded). `param` is `SAMLRequest` or
    /// `SAMLResponse`.
    pub fn decode(raw_query: &str, param: &'static str) -> Result<RedirectMessage, BindingError> {
        let mut message = None;
        let mut relay = None;
        let mut sig_alg = None;
        let mut signature = None;
        for pair in raw_query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                n if n == param => (&mut message, param),
                "RelayState" => (&mut relay, "RelayState"),
                "SigAlg" => (&mut sig_alg, "SigAlg"),
                "Signature" => (&mut signature, "Signature"),
                _ => continue,
            };
            if slot.0.replace(value).is_some() {
                return Err(BindingError::Duplicate(slot.1));
            }
        }
        let raw_message = message.ok_or(BindingError::Missing)?;
        let decoded = query_decode(raw_message)?;
        let xml = inflate(&base64_decode(&decoded)?)?;
        let relay_state = relay.map(query_decode).transpose()?;
        if relay_state
            .as_ref()
            .is_some_and(|r| r.len() > MAX_RELAY_STATE)
        {
            return Err(BindingError::RelayStateTooLong);
        }
        let signed = match (signature, sig_alg) {
            (None, _) => None,
            (Some(_), None) => return Err(BindingError::NoSigAlg),
            (Some(sig), Some(raw_alg)) => {
                let alg_uri = query_decode(raw_alg)?;
                let alg = SigAlg::from_uri(&alg_uri).ok_or(BindingError::SigAlg(alg_uri))?;
                // The signed octets are the raw parameters in this fixed order (bindings 3.4.4.1).
                let mut octets = format!("{param}={raw_message}");
                if let Some(r) = relay {
                    octets.push_str("&RelayState=");
                    octets.push_str(r);
                }
                octets.push_str("&SigAlg=");
                octets.push_str(raw_alg);
                let sig = base64::engine::general_purpose::STANDARD
                    .decode(query_decode(sig)?.replace(['\r', '\n', ' '], ""))
                    .map_err(|_| BindingError::SignatureEncoding)?;
                Some((octets, alg, sig))
            }
        };
        Ok(RedirectMessage {
            xml,
            relay_state,
            signed,
        })
    }

    pub fn is_signed(&self) -> bool {
        self.signed.is_some()
    }

    /// Verifies the detached signature with one of the sender's keys.
    pub fn verify(&self, keys: &[PKey<Public>]) -> Result<(), BindingError> {
        let (octets, alg, sig) = self.signed.as_ref().ok_or(BindingError::BadSignature)?;
        for key in keys {
            if verify_bytes(key, *alg, octets.as_bytes(), sig)? {
                return Ok(());
            }
        }
        Err(BindingError::BadSignature)
    }
}

/// Builds a signed HTTP-Redirect URL for `xml` at `endpoint`.
pub fn redirect_url(
    endpoint: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
) -> Result<String, BindingError> {
    let mut deflater = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|_| BindingError::Deflate)?;
    let deflated = deflater.finish().map_err(|_| BindingError::Deflate)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut query = format!("{param}={}", utf8_percent_encode(&encoded, QUERY_VALUE));
    if let Some(r) = relay_state {
        query.push_str("&RelayState=");
        query.extend(utf8_percent_encode(r, QUERY_VALUE));
    }
    query.push_str("&SigAlg=");
    query.extend(utf8_percent_encode(key.alg.uri(), QUERY_VALUE));
    let signature =
        base64::engine::general_purpose::STANDARD.encode(key.sign_bytes(query.as_bytes())?);
    query.push_str("&Signature=");
    query.extend(utf8_percent_encode(&signature, QUERY_VALUE));
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{query}"))
}

/// Decodes a message received over the HTTP-POST binding (base64 of the XML, no deflate).
pub fn decode_post(value: &str) -> Result<String, BindingError> {
    let bytes = base64_decode(value)?;
    xml::utf8(&bytes)
        .map(str::to_string)
        .map_err(|_| BindingError::NotUtf8)
}

/// Encodes a message for the HTTP-POST binding.
pub fn encode_post(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml.as_bytes())
}

fn query_decode(value: &str) -> Result<String, BindingError> {
    // In a query string '+' stands for a space.
    let value = value.replace('+', " ");
    percent_decode_str(&value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| BindingError::NotUtf8)
}

fn base64_decode(value: &str) -> Result<Vec<u8>, BindingError> {
    // Line breaks and spaces (a '+' decoded as space by a sloppy sender is not repaired).
    let cleaned: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if cleaned.len() > MAX_MESSAGE_BYTES * 4 / 3 + 4 {
        return Err(BindingError::TooLarge);
    }
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| BindingError::Base64)
}

/// Inflates with a hard output limit, so a small deflate bomb cannot exhaust memory.
fn inflate(data: &[u8]) -> Result<String, BindingError> {
    let mut out = Vec::new();
    let limit = MAX_MESSAGE_BYTES as u64 + 1;
    DeflateDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| BindingError::Deflate)?;
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(BindingError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| BindingError::NotUtf8)
}
