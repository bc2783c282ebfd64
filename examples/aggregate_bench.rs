//! How long a signed metadata aggregate of many entities takes to verify, read and put in use,
//! what a lookup costs among them, and the memory each thousand entities adds.
//!
//!     cargo run --release --example aggregate_bench -- 1000 10000
//!
//! For each size N it writes an aggregate of N ADs (the development AD's metadata under N entity
//! IDs, each with its own ArtifactResolutionService and key), signed like the Beheerorganisatie's
//! network metadata, then times `federation::verify` (xmlsec over the whole document), the read
//! of the signed bytes (`metadata::parse_aggregate`: every entity and certificate checked) and
//! `metadata::assemble`, and looks up every entity by ID and by artifact SourceID. RSS is read
//! from /proc/self/status before and after the set is held.

use chrono::{Duration, Utc};
use poort::keys::SigningKey;
use poort::metadata::{self, Role};
use std::path::Path;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    };
    let dir = tempfile::tempdir()?;
    let certs = dir.path().join("certs");
    poort::devcerts::generate(&certs, false)?;
    let (sp, idp) = (dir.path().join("sp"), dir.path().join("idp"));
    std::fs::create_dir_all(&sp)?;
    std::fs::create_dir_all(&idp)?;
    poort::demo::metadata::write_demo_metadata(
        &certs,
        &sp,
        &idp,
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
    )?;
    let ad = std::fs::read_to_string(idp.join("dev-ad.xml"))?;
    let ad = poort::saml::dsig::strip_declaration(&ad).to_string();
    const AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
    let key = SigningKey::load(
        &certs.join("poort-signing.key"),
        &certs.join("poort-signing.crt"),
    )?;
    let trust = poort::trust::certificates(&certs.join("poort-signing.crt"))?;
    println!("entities  bytes  verify_ms  read_ms  assemble_ms  total_ms  lookup_ns  rss_kib_added  rss_kib_per_1000");
    for n in sizes {
        let mut entities = String::with_capacity(ad.len() * n);
        for i in 0..n {
            let id = format!("urn:etoegang:AD:{:020}:entities:{i}", 99990000000003u64);
            entities.push_str(&ad.replace(AD, &id));
        }
        let id = "_bench-aggregate";
        let until = (Utc::now() + Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ");
        let unsigned = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" Name="urn:etoegang:1.13:metadata:P:1" validUntil="{until}" cacheDuration="P7D">{}<md:EntitiesDescriptor Name="urn:etoegang:role:Authenticatiediensten">{entities}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#,
            poort::saml::dsig::template(id, &key)
        );
        drop(entities);
        let signed = sign_large(&unsigned, &key, &certs)?;
        drop(unsigned);
        let bytes = signed.into_bytes();
        let rss_before = rss_kib();
        let now = Utc::now();
        let t0 = Instant::now();
        let verified = poort::federation::verify(&bytes, &trust, now)?;
        let t1 = Instant::now();
        let parsed =
            metadata::parse_aggregate(&verified.signed, Path::new("bench"), Role::Idp, now);
        let t2 = Instant::now();
        let errors = parsed
            .problems
            .iter()
            .filter(|p| p.severity == metadata::Severity::Error)
            .count();
        let set = metadata::assemble(Vec::new(), vec![parsed]);
        let t3 = Instant::now();
        drop(verified);
        anyhow::ensure!(
            set.idps.len() == n && errors == 0,
            "{} of {n} entities read, {errors} errors",
            set.idps.len()
        );
        let rss_added = rss_kib().saturating_sub(rss_before);
        let ids: Vec<String> = (0..n)
            .map(|i| format!("urn:etoegang:AD:{:020}:entities:{i}", 99990000000003u64))
            .collect();
        let sources: Vec<[u8; 20]> = ids
            .iter()
            .map(|e| poort::saml::artifact::source_id(e))
            .collect();
        let rounds = 20;
        let t4 = Instant::now();
        let mut found = 0usize;
        for _ in 0..rounds {
            for (id, source) in ids.iter().zip(&sources) {
                found += usize::from(set.idp(id).is_some());
                found += usize::from(set.idp_by_source_id(source).is_some());
            }
        }
        let lookup_ns = t4.elapsed().as_nanos() as f64 / (rounds * n * 2) as f64;
        anyhow::ensure!(found == rounds * n * 2, "lookups missed");
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        println!(
            "{n:>8}  {:>5.1}M  {:>9.0}  {:>7.0}  {:>11.0}  {:>8.0}  {:>9.0}  {:>13}  {:>16.0}",
            bytes.len() as f64 / 1e6,
            ms(t0, t1),
            ms(t1, t2),
            ms(t2, t3),
            ms(t0, t3),
            lookup_ns,
            rss_added,
            rss_added as f64 * 1000.0 / n as f64
        );
        drop(set);
    }
    Ok(())
}

/// Signs a document larger than poort's own messages may be: `dsig::sign` reads through the
/// message parser, whose size limit suits SAML messages, not aggregates; so a large aggregate is
/// signed by the xmlsec1 tool, as a Beheerorganisatie's tooling would.
fn sign_large(unsigned: &str, key: &SigningKey, certs: &Path) -> anyhow::Result<String> {
    if let Ok(signed) = poort::saml::dsig::sign(unsigned, key) {
        return Ok(signed);
    }
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in.xml"), dir.path().join("out.xml"));
    std::fs::write(&input, unsigned)?;
    let keys = format!(
        "{},{}",
        certs.join("poort-signing.key").display(),
        certs.join("poort-signing.crt").display()
    );
    let status = std::process::Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem", &keys])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
        ])
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .status()?;
    anyhow::ensure!(status.success(), "xmlsec1 could not sign the aggregate");
    Ok(std::fs::read_to_string(output)?)
}
