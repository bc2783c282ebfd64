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
