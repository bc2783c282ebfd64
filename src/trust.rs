//! Trust anchors for signed documents of the scheme (service catalogues, metadata aggregates):
//! the certificates a document's signature must verify with, read from a PEM file.

use std::path::Path;

/// A trust certificate file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the trust certificate {path} cannot be used: {reason}")]
pub struct TrustCertError {
    pub path: String,
    pub reason: String,
}

/// The DER certificates of a PEM file: one, or more during a rollover of the signer's key.
pub fn certificates(path: &Path) -> Result<Vec<Vec<u8>>, TrustCertError> {
    let error = |reason: String| TrustCertError {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let certs = openssl::x509::X509::stack_from_pem(&pem).map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("no certificate in the file".into()));
    }
    certs
        .iter()
        .map(|c| c.to_der().map_err(|e| error(e.to_string())))
        .collect()
}
