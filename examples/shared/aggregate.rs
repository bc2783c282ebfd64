//! A signed metadata aggregate of N ADs in the shape of the Beheerorganisatie's network metadata,
//! for the examples that measure aggregates (`aggregate_bench`, `loadgen --aggregate-refresh`).
//! Included by `#[path]`: an example cannot import another's modules.
//!
//! The entities are one AD's `md:EntityDescriptor` under N entity IDs,
//! `urn:etoegang:AD:00000099990000000003:entities:<i>` for i in 0..N; entity 1 is the
//! development AD's own ID, so that AD, with its key and endpoints, is in every aggregate of two
//! or more entities.

use chrono::{Duration, Utc};
use poort::demo::DEV_AD_ENTITY_ID;
use poort::keys::SigningKey;
use std::path::{Path, PathBuf};

/// The entity ID of the `i`th AD of an aggregate.
pub fn entity_id(i: usize) -> String {
    format!("urn:etoegang:AD:{:020}:entities:{i}", 99990000000003u64)
}

/// The AD metadata `ad` (an `md:EntityDescriptor` of [`DEV_AD_ENTITY_ID`], with or without an
/// XML declaration) under `n` entity IDs, one after the other.
pub fn entities(ad: &str, n: usize) -> String {
    let ad = poort::saml::dsig::strip_declaration(ad).trim();
    let mut out = String::with_capacity(ad.len() * n);
    for i in 0..n {
        out.push_str(&ad.replace(DEV_AD_ENTITY_ID, &entity_id(i)));
    }
    out
}

/// What signs the aggregates: a key with its certificate, and their files (for `xmlsec1`).
pub struct Signer {
    pub key: SigningKey,
    pub key_file: PathBuf,
    pub cert_file: PathBuf,
}

impl Signer {
    fn load(key_file: &Path, cert_file: &Path) -> anyhow::Result<Signer> {
        Ok(Signer {
            key: SigningKey::load(key_file, cert_file)?,
            key_file: key_file.to_path_buf(),
            cert_file: cert_file.to_path_buf(),
        })
    }

    /// A throwaway federation key: RSA-2048 and a self-signed certificate (valid for a year)
    /// in `dir/federation.key` and `dir/federation.crt`.
    pub fn throwaway(dir: &Path) -> anyhow::Result<Signer> {
        let rsa = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        let pem = String::from_utf8(rsa.private_key_to_pem_pkcs8()?)?;
        let pair = rcgen::KeyPair::from_pem(&pem)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "throwaway federation metadata signer",
        );
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
        let cert = params.self_signed(&pair)?;
        std::fs::create_dir_all(dir)?;
        let (key_file, cert_file) = (dir.join("federation.key"), dir.join("federation.crt"));
        std::fs::write(&key_file, pem)?;
        std::fs::write(&cert_file, cert.pem())?;
        Signer::load(&key_file, &cert_file)
    }

    /// The aggregate of `entities` (as [`entities`] writes them) with `Name`
    /// `urn:etoegang:1.13:metadata:P:<sequence>`, valid for a week, `cacheDuration="P7D"`, the
    /// ADs inside a `urn:etoegang:role:Authenticatiediensten` group, signed.
    pub fn aggregate(&self, entities: &str, sequence: u64) -> anyhow::Result<String> {
        let id = format!("_bench-aggregate-{sequence}");
        let until = (Utc::now() + Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ");
        let unsigned = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" Name="urn:etoegang:1.13:metadata:P:{sequence}" validUntil="{until}" cacheDuration="P7D">{}<md:EntitiesDescriptor Name="urn:etoegang:role:Authenticatiediensten">{entities}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#,
            poort::saml::dsig::template(&id, &self.key)
        );
        self.sign_large(&unsigned)
    }

    /// Signs a document larger than poort's own messages may be: `dsig::sign` reads through the
    /// message parser, whose size limit suits SAML messages, not aggregates; so a large
    /// aggregate is signed by the xmlsec1 tool, as a Beheerorganisatie's tooling would.
    fn sign_large(&self, unsigned: &str) -> anyhow::Result<String> {
        if let Ok(signed) = poort::saml::dsig::sign(unsigned, &self.key) {
            return Ok(signed);
        }
        let dir = tempfile::tempdir()?;
        let (input, output) = (dir.path().join("in.xml"), dir.path().join("out.xml"));
        std::fs::write(&input, unsigned)?;
        let keys = format!("{},{}", self.key_file.display(), self.cert_file.display());
        // Its complaints about the self-signed certificate do not stop the signing: shown only
        // when it fails.
        let run = std::process::Command::new("xmlsec1")
            .args(["--sign", "--privkey-pem", &keys])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
            ])
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()?;
        anyhow::ensure!(
            run.status.success(),
            "xmlsec1 could not sign the aggregate: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        Ok(std::fs::read_to_string(output)?)
    }
}
