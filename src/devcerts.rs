//! `poort dev-certs`: development keys and self-signed certificates, never for production.
//!
//! Keys are RSA-2048 from openssl (rcgen cannot generate RSA), certificates are made by rcgen.
//! Every subject says "DEVELOPMENT ONLY" so production mode can refuse them ([`is_dev_cert`]).

use chrono::{Datelike, Utc};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The marker in every development certificate's subject.
pub const DEV_MARKER: &str = "DEVELOPMENT ONLY";
const RSA_BITS: u32 = 2048;
const VALID_YEARS: i32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum DevCertsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating a key: {0}")]
    Key(#[from] openssl::error::ErrorStack),
    #[error("making the certificate {}: {source}", path.display())]
    Certificate {
        path: PathBuf,
        #[source]
        source: rcgen::Error,
    },
    #[error("{} exists but its key {} does not; rerun with --force to replace both", cert.display(), key.display())]
    OrphanCertificate { cert: PathBuf, key: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Signing,
    Encryption,
}

/// (file stem, what the CN names, purpose)
const PAIRS: &[(&str, &str, Purpose)] = &[
    ("poort-signing", "poort signing", Purpose::Signing),
    ("poort-encryption", "poort encryption", Purpose::Encryption),
    ("demo-dv-signing", "demo DV signing", Purpose::Signing),
    (
        "demo-dv-encryption",
        "demo DV encryption",
        Purpose::Encryption,
    ),
    ("dev-ad-signing", "development AD signing", Purpose::Signing),
];

pub const PSEUDONYM_SECRET_FILE: &str = "pseudonym.secret";

/// Writes the development keys, certificates and pseudonym secret into `dir` (created if
/// needed) and returns the files written. Existing files are left alone unless `force`; a key
/// without its certificate gets a new certificate for that key.
pub fn generate(dir: &Path, force: bool) -> Result<Vec<PathBuf>, DevCertsError> {
    std::fs::create_dir_all(dir).map_err(|source| DevCertsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (stem, role, purpose) in PAIRS {
        let key_path = dir.join(format!("{stem}.key"));
        let cert_path = dir.join(format!("{stem}.crt"));
        let (key_exists, cert_exists) = (key_path.exists(), cert_path.exists());
        if !force && key_exists && cert_exists {
            continue;
        }
        if !force && cert_exists {
            return Err(DevCertsError::OrphanCertificate {
                cert: cert_path,
                key: key_path,
            });
        }
        let key_pem = if !force && key_exists {
            read(&key_path)?
        } else {
            let pem = PKey::from_rsa(Rsa::generate(RSA_BITS)?)?.private_key_to_pem_pkcs8()?;
            let pem = String::from_utf8_lossy(&pem).into_owned();
            write(&key_path, pem.as_bytes(), true)?;
            written.push(key_path.clone());
            pem
        };
        let cert_pem =
            certificate(&key_pem, role, *purpose).map_err(|source| DevCertsError::Certificate {
                path: cert_path.clone(),
                source,
            })?;
        write(&cert_path, cert_pem.as_bytes(), false)?;
        written.push(cert_path);
    }
    let secret_path = dir.join(PSEUDONYM_SECRET_FILE);
    if force || !secret_path.exists() {
        let mut secret = [0u8; 32];
        openssl::rand::rand_bytes(&mut secret)?;
        write(
            &secret_path,
            format!("{}\n", hex::encode(secret)).as_bytes(),
            true,
        )?;
        written.push(secret_path);
    }
    Ok(written)
}

fn certificate(key_pem: &str, role: &str, purpose: Purpose) -> Result<String, rcgen::Error> {
    let key = KeyPair::from_pem(key_pem)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{role} ({DEV_MARKER})"));
    dn.push(DnType::OrganizationName, "poort development");
    params.distinguished_name = dn;
    // rcgen takes calendar dates; day 28 at most so the date exists in every year.
    let today = Utc::now().date_naive();
    let (year, month, day) = (today.year(), today.month() as u8, today.day().min(28) as u8);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, month, day);
    params.key_usages = match purpose {
        Purpose::Signing => vec![KeyUsagePurpose::DigitalSignature],
        Purpose::Encryption => vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DataEncipherment,
        ],
    };
    Ok(params.self_signed(&key)?.pem())
}

/// Whether a certificate was made by [`generate`] (its subject carries [`DEV_MARKER`]).
/// Unparseable input is not a development certificate; it fails elsewhere.
pub fn is_dev_cert(cert_der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(cert_der)
        .map(|(_, c)| c.subject().to_string().contains(DEV_MARKER))
        .unwrap_or(false)
}

fn read(path: &Path) -> Result<String, DevCertsError> {
    std::fs::read_to_string(path).map_err(|source| DevCertsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file; secrets get mode 0600 from creation on, so they are never world-readable.
fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), DevCertsError> {
    let io = |source| DevCertsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(io)?;
    // `mode` applies only on creation: tighten an existing file being overwritten.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_keeps_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), false).unwrap();
        assert_eq!(first.len(), 11);
        let before = std::fs::read(dir.path().join("poort-signing.key")).unwrap();
        assert!(generate(dir.path(), false).unwrap().is_empty());
        // A lost certificate is remade for the existing key.
        std::fs::remove_file(dir.path().join("poort-signing.crt")).unwrap();
        let again = generate(dir.path(), false).unwrap();
        assert_eq!(again, vec![dir.path().join("poort-signing.crt")]);
        assert_eq!(
            before,
            std::fs::read(dir.path().join("poort-signing.key")).unwrap()
        );
        // A certificate without its key is refused rather than guessed at.
        std::fs::remove_file(dir.path().join("demo-dv-signing.key")).unwrap();
        assert!(matches!(
            generate(dir.path(), false),
            Err(DevCertsError::OrphanCertificate { .. })
        ));
        assert_eq!(generate(dir.path(), true).unwrap().len(), 11);
        assert_ne!(
            before,
            std::fs::read(dir.path().join("poort-signing.key")).unwrap()
        );
    }
}
