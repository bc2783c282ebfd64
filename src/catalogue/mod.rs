//! The service catalogue in the scheme's own form: the signed `esc:ServiceCatalogue`
//! (namespace `urn:etoegang:1.13:service-catalog`, afsprakenstelsel page *Service catalog*),
//! read beside the `[[service]]` entries of the config file into one effective catalogue.
//!
//! A catalogue is used only when it is whole: its enveloped signature verifies with the
//! configured trust certificate, it is valid against `schemas/service-catalogue-1.13.xsd`, and
//! its content is read only from the bytes the signature covers (never from the document as
//! received, so nothing unsigned can slip in). A catalogue that fails is a [`Problem`] naming
//! its file and what is wrong, and adds no service.

mod build;
mod live;
mod parse;
mod schema;
mod source;

pub use build::{effective, Effective, Skipped};
pub use live::{spawn_refresh, LiveCatalogue, RefreshError, Refreshed, Refusal};
pub use parse::{in_language, CatalogueDocument, Definition, Instance, Provider};

use crate::config::Config;
use crate::metadata::MetadataSet;
use crate::saml::dsig::{self, RootRefusal};
use crate::saml::xml;
use std::fmt;

pub const NS_ESC: &str = "urn:etoegang:1.13:service-catalog";

/// The largest catalogue read. The scheme's whole catalogue is a few megabytes.
pub const MAX_CATALOGUE_BYTES: usize = 64 * 1024 * 1024;

/// Why a catalogue was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot be read: {0}")]
    Read(String),
    #[error("is larger than {} MiB", MAX_CATALOGUE_BYTES / 1024 / 1024)]
    TooLarge,
    #[error(transparent)]
    TrustCert(#[from] crate::trust::TrustCertError),
    #[error("is not well-formed XML: {0}")]
    Malformed(String),
    #[error("is not signed (no ds:Signature in esc:ServiceCatalogue)")]
    Unsigned,
    #[error("signature refused: {0}")]
    Signature(dsig::DsigError),
    #[error("signature refused: it does not verify with the trust certificate (changed after signing, or signed by another key)")]
    NotTrusted,
    #[error("is not valid against the service catalogue schema: {}", .0.join("; "))]
    Schema(Vec<String>),
    #[error("{0}")]
    Content(#[from] parse::ContentError),
}

/// A finding about the catalogue: where (a file, a URL or the config file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: String,
    pub message: String,
    pub kind: ProblemKind,
}

/// What a [`Problem`] leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A whole catalogue: it cannot be had, or it failed its signature, schema or content.
    Refused,
    /// One service, which cannot be used as it is (no definition, no DV metadata names it, …).
    Service,
    /// A ServiceID or ServiceUUID defined in these places (catalogues, the config file): every
    /// definition of it.
    DefinedTwice(Vec<String>),
}

impl Problem {
    /// Whether this problem is a ServiceID or ServiceUUID that `origin` defines too.
    pub fn defined_twice_by(&self, origin: &str) -> bool {
        matches!(&self.kind, ProblemKind::DefinedTwice(places) if places.iter().any(|p| p == origin))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Reads a signed catalogue: signature (against `trust`, DER certificates), schema, content.
pub fn read(bytes: &[u8], trust: &[Vec<u8>]) -> Result<CatalogueDocument, CatalogueError> {
    if bytes.len() > MAX_CATALOGUE_BYTES {
        return Err(CatalogueError::TooLarge);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| CatalogueError::Malformed("not UTF-8".into()))?;
    let signed =
        dsig::verify_signed_root(text, (NS_ESC, "ServiceCatalogue"), trust).map_err(|refusal| {
            match refusal {
                RootRefusal::Malformed(e) => CatalogueError::Malformed(e),
                RootRefusal::Root => CatalogueError::Content(parse::ContentError(
                    "the root element is not esc:ServiceCatalogue".into(),
                )),
                RootRefusal::Unsigned => CatalogueError::Unsigned,
                RootRefusal::Shape(e) => CatalogueError::Signature(e),
                RootRefusal::NotTrusted => CatalogueError::NotTrusted,
            }
        })?;
    schema::validate(text).map_err(CatalogueError::Schema)?;
    let signed = xml::parse_signed_document(&signed)
        .map_err(|e| CatalogueError::Malformed(e.to_string()))?;
    Ok(parse::document(signed.root_element())?)
}

/// The effective catalogue of `config`: its `[[service]]` entries and every `[[catalogue]]`,
/// each catalogue read and checked; one that fails is a problem and adds nothing.
pub async fn load(config: &Config, metadata: &MetadataSet) -> Effective {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for source in &config.catalogues {
        match source::load(source).await {
            Ok(document) => documents.push((source.source.as_str(), document)),
            Err(e) => problems.push(Problem {
                origin: source.source.clone(),
                message: e.to_string(),
                kind: ProblemKind::Refused,
            }),
        }
    }
    let hm = broker_oin(&config.saml.idp_entity_id).unwrap_or_default();
    let documents: Vec<(&str, &CatalogueDocument)> =
        documents.iter().map(|(o, d)| (*o, d)).collect();
    let mut effective = effective(&config.services, &documents, metadata, hm);
    problems.append(&mut effective.problems);
    effective.problems = problems;
    effective
}

/// The OIN in an HM's entity ID (`urn:etoegang:HM:<OIN>:entities:<index>`).
pub fn broker_oin(entity_id: &str) -> Option<&str> {
    let rest = entity_id.strip_prefix("urn:etoegang:HM:")?;
    let (oin, _) = rest.split_once(':')?;
    (oin.len() == 20 && oin.bytes().all(|b| b.is_ascii_digit())).then_some(oin)
}
