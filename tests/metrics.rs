//! `/metrics` as Prometheus reads it: parsed by the Prometheus project's own OpenMetrics parser
//! (python3-prometheus-client, installed by `scripts/setup.sh --test`), with counters equal to
//! the logins the test performed.

mod common;

use common::cluster::{login, Outcome};
use std::io::Write;
use std::process::{Command, Stdio};

/// One sample of the exposition.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;

/// The world's `/metrics`, through the strict OpenMetrics parser (which refuses what
/// Prometheus would refuse).
async fn scrape(w: &common::World) -> Vec<Sample> {
    let text = reqwest::get(format!("{}/metrics", w.ops))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Debian's python3 has the package from apt; another python3 on PATH may not.
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (run scripts/setup.sh --test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics (python3-prometheus-client comes with \
         scripts/setup.sh --test): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

#[tokio::test]
async fn metrics_parse_and_count_the_logins_performed() {
    let w = common::start().await;
    for _ in 0..3 {
        assert_eq!(
            login(&w.dv, "bram", "EH2+", 2).await,
            Outcome::Allowed("11223344".into())
        );
    }
    for _ in 0..2 {
        assert!(matches!(
            login(&w.dv, "daan", "EH2+", 2).await,
            Outcome::Refused(..)
        ));
    }
    let samples = scrape(&w).await;
    let allowed = [("outcome", "allowed"), ("protocols", "saml-saml")];
    assert_eq!(value(&samples, "poort_logins_total", &allowed), 3.0);
    let refused = [("outcome", "refused"), ("protocols", "saml-saml")];
    assert_eq!(value(&samples, "poort_logins_total", &refused), 2.0);
    let reasons: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "poort_logins_total" && s.labels["outcome"] == "refused")
        .map(|s| s.labels["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().all(|r| !r.is_empty()),
        "a refusal says why: {reasons:?}"
    );
    // No DV or AD labels unless switched on.
    assert!(samples
        .iter()
        .filter(|s| s.name == "poort_logins_total")
        .all(|s| !s.labels.contains_key("dv") && !s.labels.contains_key("ad")));
    let protocols = [("protocols", "saml-saml")];
    assert_eq!(
        value(&samples, "poort_login_duration_seconds_count", &protocols),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "poort_login_step_duration_seconds_count",
            &[("step", "grants_resolve")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "poort_login_step_duration_seconds_count",
            &[("step", "ad_answer_verify")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "poort_login_step_duration_seconds_count",
            &[("step", "answer_sign")]
        ),
        3.0
    );
    let signing = [("owner", "poort"), ("use", "signing")];
    assert!(value(&samples, "poort_certificate_expiry_seconds", &signing) > 86_400.0);
    let dv_signing = [
        ("owner", poort::demo::DEMO_DV_ENTITY_ID),
        ("use", "signing"),
    ];
    assert!(value(&samples, "poort_certificate_expiry_seconds", &dv_signing) > 86_400.0);
    assert!(samples.iter().any(|s| s.name == "poort_pending_flows"));
    assert_eq!(value(&samples, "poort_audit_queue", &[]), 0.0);
}

#[tokio::test]
async fn per_peer_labels_name_the_dv_and_the_ad_when_switched_on() {
    let w = common::start_prepared(|_, config| config.ops.per_peer_labels = true).await;
    assert_eq!(
        login(&w.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    let samples = scrape(&w).await;
    let labelled = [
        ("outcome", "allowed"),
        ("dv", poort::demo::DEMO_DV_ENTITY_ID),
        ("ad", poort::demo::DEV_AD_ENTITY_ID),
    ];
    assert_eq!(value(&samples, "poort_logins_total", &labelled), 1.0);
}
