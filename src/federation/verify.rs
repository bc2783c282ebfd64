//! Checking an aggregate before any of it is trusted: one enveloped signature on the root
//! `md:EntitiesDescriptor` that verifies with the configured certificate, a `Name` of the scheme's
//! form, a `validUntil` still ahead (and a `cacheDuration` that reads), and the content taken
//! only from the bytes the signature covers.

use super::name::{parse_duration, AggregateName};
use crate::saml::xml::NS_MD;
use crate::saml::{c14n, dsig};
use chrono::{DateTime, Utc};
use roxmltree::{Document, ParsingOptions};
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
    let options = || ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::MAX,
        ..ParsingOptions::default()
    };
    let received = Document::parse_with_options(text, options())
        .map_err(|e| AggregateError::Malformed(e.to_string()))?;
    let root = received.root_element();
    if !(root.tag_name().namespace() == Some(NS_MD)
        && root.tag_name().name() == "EntitiesDescriptor")
    {
        return Err(AggregateError::NotAnAggregate);
    }
    let signature = c14n::enveloped_signature(root).ok_or(AggregateError::Unsigned)?;
    dsig::check_shape(signature, root.attribute("ID").unwrap_or_default())
        .map_err(AggregateError::Signature)?;
    let signed = dsig::verify(text, trust).map_err(|e| match e {
        dsig::DsigError::Invalid => AggregateError::NotTrusted,
        other => AggregateError::Signature(other),
    })?;
    // Everything below is read from the signed bytes.
    let doc = Document::parse_with_options(&signed, options())
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
