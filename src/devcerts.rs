//! `poort dev-certs`: development keys and self-signed certificates. Never for production: the
//! certificates say so in their subject, and production mode refuses them.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};

const MARK: &str = "DEVELOPMENT ONLY";

#[derive(Debug, thiserror::Error)]
pub enum DevCertsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key generation: {0}")]
    Key(#[from] openssl::error::ErrorStack),
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

/// (file stem, common name, is a signing key)
const KEYS: [(&str, &str, bool); 5] = [
    ("poort-signing", "poort signing", true),
    ("poort-encryption", "poort encryption", false),
    ("demo-dv-signing", "demo DV signing", true),
    ("demo-dv-encryption", "demo DV encryption", false),
    ("dev-ad-signing", "development AD signing", true),
];

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), DevCertsError> {
    let io = |source| DevCertsError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, bytes).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Makes the missing development keys in `dir` (all of them with `force`); returns what it wrote.
pub fn generate(dir: &Path, force: bool) -> Result<Vec<PathBuf>, DevCertsError> {
    std::fs::create_dir_all(dir).map_err(|source| DevCertsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (stem, cn, signing) in KEYS {
        let key_path = dir.join(format!("{stem}.key"));
        let cert_path = dir.join(format!("{stem}.crt"));
        if !force && key_path.exists() && cert_path.exists() {
            continue;
        }
        // rcgen cannot generate RSA keys; openssl makes the key, rcgen the certificate.
        let rsa = openssl::rsa::Rsa::generate(2048)?;
        let pkcs8 = openssl::pkey::PKey::from_rsa(rsa)?.private_key_to_pem_pkcs8()?;
        let pem = String::from_utf8_lossy(&pkcs8).into_owned();
        let key_pair = KeyPair::from_pem(&pem)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, format!("{cn} ({MARK})"));
        name.push(DnType::OrganizationName, "poort");
        params.distinguished_name = name;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(5 * 365);
        params.key_usages = if signing {
            vec![KeyUsagePurpose::DigitalSignature]
        } else {
            vec![
                KeyUsagePurpose::KeyEncipherment,
                KeyUsagePurpose::DataEncipherment,
            ]
        };
        let cert = params.self_signed(&key_pair)?;
        write(&key_path, pem.as_bytes(), true)?;
        write(&cert_path, cert.pem().as_bytes(), false)?;
        written.push(key_path);
        written.push(cert_path);
    }
    let secret = dir.join("pseudonym.secret");
    if force || !secret.exists() {
        write(
            &secret,
            hex::encode(rand::random::<[u8; 32]>()).as_bytes(),
            true,
        )?;
        written.push(secret);
    }
    Ok(written)
}

/// Was this certificate made by `poort dev-certs`?
pub fn is_dev_cert(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string().contains(MARK))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_usable_marked_keys_once() {
        let dir = tempfile::tempdir().unwrap();
        let made = generate(dir.path(), false).unwrap();
        assert_eq!(made.len(), 11);
        assert!(generate(dir.path(), false).unwrap().is_empty());
        let key = crate::keys::SigningKey::load(
            &dir.path().join("poort-signing.key"),
            &dir.path().join("poort-signing.crt"),
        )
        .unwrap();
        assert!(is_dev_cert(&key.cert_der));
        let (_, cert) = x509_parser::parse_x509_certificate(&key.cert_der).unwrap();
        assert!(cert.key_usage().unwrap().unwrap().value.digital_signature());
        crate::keys::DecryptionKey::load(
            &dir.path().join("poort-encryption.key"),
            &dir.path().join("poort-encryption.crt"),
        )
        .unwrap();
        crate::keys::PseudonymSecret::load(&dir.path().join("pseudonym.secret")).unwrap();
    }
}
