//! How long a signed metadata aggregate of many entities takes to verify, read and put in use,
//! what a lookup costs among them, and the memory each thousand entities adds.
//!
//!     cargo run --release --example aggregate_bench -- 1000 10000
//!
//! For each size N it writes an aggregate of N ADs (the development AD's metadata under N entity
//! IDs, `examples/shared/aggregate.rs`), signed with a throwaway RSA-2048 key like the
//! Beheerorganisatie's network metadata, then times `federation::verify` (xmlsec over the whole
//! document), the read of the signed bytes (`metadata::parse_aggregate`: every entity and
//! certificate checked) and `metadata::assemble`, and looks up every entity by ID and by artifact
//! SourceID. RSS is read from /proc/self/status before and after the set is held.

#[path = "shared/aggregate.rs"]
mod aggregate;

use aggregate::Signer;
use chrono::Utc;
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
    let signer = Signer::throwaway(&dir.path().join("federation"))?;
    let trust = poort::trust::certificates(&signer.cert_file)?;
    println!("entities  bytes  verify_ms  read_ms  assemble_ms  total_ms  lookup_ns  rss_kib_added  rss_kib_per_1000");
    for n in sizes {
        let signed = signer.aggregate(&aggregate::entities(&ad, n), 1)?;
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
        let ids: Vec<String> = (0..n).map(aggregate::entity_id).collect();
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
