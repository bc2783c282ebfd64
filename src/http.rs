//! Reading answers from peers (back channels, OIDC ADs) without letting a peer decide how much
//! poort buffers.

/// Reads an HTTP answer's body as it arrives, up to `max` bytes: `Ok(None)` when the answer
/// is, or announces it will be, larger.
pub async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// How long fetching a document (a catalogue, a metadata aggregate) from a URL may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot be read: {0}")]
    Read(String),
    #[error("is larger than {0} bytes")]
    TooLarge(usize),
}

/// The bytes of a document poort reads from a file or an `http(s)://` URL, at most `max` of them.
pub async fn fetch_document(source: &str, max: usize) -> Result<Vec<u8>, FetchError> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let read_error = |e: reqwest::Error| FetchError::Read(e.without_url().to_string());
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(read_error)?;
        let mut response = client
            .get(source)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(read_error)?;
        return read_capped(&mut response, max)
            .await
            .map_err(read_error)?
            .ok_or(FetchError::TooLarge(max));
    }
    let size = tokio::fs::metadata(source)
        .await
        .map_err(|e| FetchError::Read(e.to_string()))?
        .len();
    if size > max as u64 {
        return Err(FetchError::TooLarge(max));
    }
    tokio::fs::read(source)
        .await
        .map_err(|e| FetchError::Read(e.to_string()))
}
