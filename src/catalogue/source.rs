//! Where catalogues come from: a file, or an `https://` URL (read with a time limit and a size cap).

use super::{read, trust_certificates, CatalogueDocument, CatalogueError, MAX_CATALOGUE_BYTES};
use crate::config::CatalogueSource;
use std::time::Duration;

/// How long fetching a catalogue from a URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes of a catalogue source.
pub async fn fetch(source: &str) -> Result<Vec<u8>, CatalogueError> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| CatalogueError::Read(e.to_string()))?;
        let mut response = client
            .get(source)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| CatalogueError::Read(e.without_url().to_string()))?;
        return crate::http::read_capped(&mut response, MAX_CATALOGUE_BYTES)
            .await
            .map_err(|e| CatalogueError::Read(e.without_url().to_string()))?
            .ok_or(CatalogueError::TooLarge);
    }
    let size = std::fs::metadata(source)
        .map_err(|e| CatalogueError::Read(e.to_string()))?
        .len();
    if size > MAX_CATALOGUE_BYTES as u64 {
        return Err(CatalogueError::TooLarge);
    }
    std::fs::read(source).map_err(|e| CatalogueError::Read(e.to_string()))
}

/// Reads and checks one configured catalogue.
pub async fn load(source: &CatalogueSource) -> Result<CatalogueDocument, CatalogueError> {
    let trust = trust_certificates(&source.trust_cert)?;
    let bytes = fetch(&source.source).await?;
    read(&bytes, &trust)
}
