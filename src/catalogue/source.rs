//! Where catalogues come from: a file, or an `https://` URL (read with a time limit and a size cap).

use super::{read, CatalogueDocument, CatalogueError, MAX_CATALOGUE_BYTES};
use crate::config::CatalogueSource;
use crate::http::FetchError;

/// Reads and checks one configured catalogue.
pub async fn load(source: &CatalogueSource) -> Result<CatalogueDocument, CatalogueError> {
    let bytes = fetch(source).await?;
    check(source, &bytes)
}

/// The bytes of a configured catalogue as its source gives them, unchecked.
pub async fn fetch(source: &CatalogueSource) -> Result<Vec<u8>, CatalogueError> {
    crate::http::fetch_document(&source.source, MAX_CATALOGUE_BYTES)
        .await
        .map_err(|e| match e {
            FetchError::TooLarge(_) => CatalogueError::TooLarge,
            FetchError::Read(e) => CatalogueError::Read(e),
        })
}

/// `bytes` checked against the source's trust certificate: signature, schema, content.
pub fn check(source: &CatalogueSource, bytes: &[u8]) -> Result<CatalogueDocument, CatalogueError> {
    let trust = crate::trust::certificates(&source.trust_cert)?;
    read(bytes, &trust)
}
