//! Checking an aggregate before any of it is trusted: one enveloped signature on the root
//! `md:EntitiesDescriptor` that verifies with the configured certificate, a `Name` of the scheme's
//! form, a `validUntil` still ahead (and a `cacheDuration` that reads), and the content taken
//! only from the bytes the signature covers.

use super::name::{parse_duration, AggregateName};
use crate::saml::dsig::{self, RootRefusal};
use crate::saml::xml::NS_MD;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The largest aggregate read: the scheme's network metadata is a few megabytes; this leaves
/// room for 10,000 entities and more.
pub const MAX_AGGREGATE_BYTES: usize = 128 * 1024 * 1024;

/// Why an aggregate was refused.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("cannot be read: {0}")]
    Read(String),
    #[error("is larger than {} MiB", MAX_AGGREGATE_BYTES / 1024 / 1024)]
    TooLarge,
    #[error(transparent)]
    TrustCert(#[from] crate::trust::TrustCertError),
    #[error("is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the root element is not md:EntitiesDescriptor")]
    NotAnAggregate,
    #[error("is not signed (no ds:Signature in the md:EntitiesDescriptor)")]
    Unsigned,
    #[error("signature refused: {0}")]
    Signature(dsig::DsigError),
    #[error("signature refused: it does not verify with the trust certificate (changed after signing, or signed by another key)")]
    NotTrusted,
    #[error("Name {0:?} is not of the form urn:etoegang:<version>:<P|T>:<sequence>")]
    Name(String),
    #[error("has no validUntil")]
    NoValidUntil,
    #[error("validUntil {0:?} is not a time")]
    BadValidUntil(String),
    #[error("expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("cacheDuration {0:?} is not a duration of days, hours, minutes and seconds")]
    CacheDuration(String),
    #[error("edition {found} is older than edition {current}, which is in use")]
    Older { found: String, current: String },
}

/// An aggregate whose signature, name and dates passed.
#[derive(Debug, Clone)]
pub struct Verified {
    pub name: AggregateName,
    pub valid_until: DateTime<Utc>,
    pub cache_duration: Option<Duration>,
    /// The signed `md:EntitiesDescriptor`, as the signature covers it (its signature removed).
    pub signed: String,
}

/// Checks `bytes` against `trust` (DER certificates) at `now`.
pub fn verify(
    bytes: &[u8],
    trust: &[Vec<u8>],
    now: DateTime<Utc>,
) -> Result<Verified, AggregateError> {
    if bytes.len() > MAX_AGGREGATE_BYTES {
        return Err(AggregateError::TooLarge);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| AggregateError::Malformed("not UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let signed = dsig::verify_signed_root(text, (NS_MD, "EntitiesDescriptor"), trust).map_err(
        |refusal| match refusal {
            RootRefusal::Malformed(e) => AggregateError::Malformed(e),
            RootRefusal::Root => AggregateError::NotAnAggregate,
            RootRefusal::Unsigned => AggregateError::Unsigned,
            RootRefusal::Shape(e) => AggregateError::Signature(e),
            RootRefusal::NotTrusted => AggregateError::NotTrusted,
        },
    )?;
    // Everything below is read from the signed bytes.
    let doc = crate::saml::xml::parse_signed_document(&signed)
        .map_err(|e| AggregateError::Malformed(e.to_string()))?;
    let root = doc.root_element();
    let name = root.attribute("Name").unwrap_or_default();
    let name = AggregateName::parse(name).ok_or_else(|| AggregateError::Name(name.to_string()))?;
    let valid_until = root
        .attribute("validUntil")
        .ok_or(AggregateError::NoValidUntil)?;
    let valid_until = crate::saml::xml::parse_instant(valid_until)
        .ok_or_else(|| AggregateError::BadValidUntil(valid_until.to_string()))?;
    if valid_until <= now {
        return Err(AggregateError::Expired(valid_until));
    }
    let cache_duration = match root.attribute("cacheDuration") {
        Some(d) => {
            Some(parse_duration(d).ok_or_else(|| AggregateError::CacheDuration(d.to_string()))?)
        }
        None => None,
    };
    drop(doc);
    Ok(Verified {
        name,
        valid_until,
        cache_duration,
        signed,
    })
}
