//! Signed metadata aggregates (`md:EntitiesDescriptor`) served by a local HTTP server and kept
//! fresh: a new entity is usable from the next refresh, a rolled-over key replaces the old one,
//! an expired or badly signed edition is refused (the edition in use kept), an older edition is
//! refused, and with the server down poort starts from the last good copy on disk. One login
//! runs end to end with the AD known only from an aggregate.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::publisher::{signed_aggregate, start_publisher, Publisher};
use poort::config::{AggregateRole, AggregateSource};
use poort::federation::{LiveMetadata, RefreshError, Refreshed};
use poort::keys::SigningKey;
use poort::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

/// The test's keys and the development AD's metadata (one EntityDescriptor).
struct World {
    dir: tempfile::TempDir,
    /// Signs the aggregates (the Beheerorganisatie).
    publisher_key: SigningKey,
    publisher_cert: PathBuf,
    /// Signs nothing the test trusts.
    stranger: SigningKey,
    /// The AD's EntityDescriptor, with its signing certificate (base64) to swap for rollover.
    ad_entity: String,
    ad_cert_b64: String,
    other_cert_b64: String,
}

fn cert_b64(path: &Path) -> String {
    use base64::Engine;
    let pem = std::fs::read(path).unwrap();
    let der = openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    poort::devcerts::generate(&certs, false).unwrap();
    let (sp, idp) = (dir.path().join("sp"), dir.path().join("idp"));
    std::fs::create_dir_all(&sp).unwrap();
    std::fs::create_dir_all(&idp).unwrap();
    poort::demo::metadata::write_demo_metadata(
        &certs,
        &sp,
        &idp,
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
    )
    .unwrap();
    let ad_entity = std::fs::read_to_string(idp.join("dev-ad.xml")).unwrap();
    std::fs::remove_file(idp.join("dev-ad.xml")).unwrap();
    let load = |stem: &str| {
        SigningKey::load(
            &certs.join(format!("{stem}.key")),
            &certs.join(format!("{stem}.crt")),
        )
        .unwrap()
    };
    World {
        publisher_key: load("poort-encryption"),
        publisher_cert: certs.join("poort-encryption.crt"),
        stranger: load("demo-dv-signing"),
        ad_entity: poort::saml::dsig::strip_declaration(&ad_entity).to_string(),
        ad_cert_b64: cert_b64(&certs.join("dev-ad-signing.crt")),
        other_cert_b64: cert_b64(&certs.join("demo-dv-signing.crt")),
        dir,
    }
}

/// A signed aggregate: edition `sequence`, valid until `valid_until`, of `entities`.
fn aggregate(
    sequence: u64,
    valid_until: DateTime<Utc>,
    entities: &[&str],
    key: &SigningKey,
) -> String {
    signed_aggregate(sequence, valid_until, "PT1H", entities, key)
}

fn source(w: &World, url: &str) -> AggregateSource {
    AggregateSource {
        source: url.to_string(),
        trust_cert: w.publisher_cert.clone(),
        role: AggregateRole::Ad,
        cache_file: w.dir.path().join("cache/aggregate.xml"),
        refresh_seconds: 3600,
        retry_seconds: 30,
        max_age_seconds: 14 * 86_400,
    }
}

async fn live(w: &World, url: &str, now: DateTime<Utc>) -> LiveMetadata {
    LiveMetadata::start(
        &w.dir.path().join("sp"),
        &w.dir.path().join("idp"),
        &[source(w, url)],
        Arc::new(Metrics::default()),
        now,
    )
    .await
}

fn ad_keys(live: &LiveMetadata) -> Option<Vec<Vec<u8>>> {
    live.now()
        .idp(AD)
        .map(|ad| ad.signing_keys.iter().map(|k| k.der.clone()).collect())
}

fn der(b64: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// Another AD: the development AD's metadata under another entity ID.
fn second_ad(w: &World) -> String {
    w.ad_entity
        .replace(AD, "urn:etoegang:AD:00000099990000000004:entities:1")
}

#[tokio::test]
async fn a_new_entity_is_usable_from_the_next_refresh_and_a_snapshot_keeps_its_set() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    let until = now + Duration::days(7);
    publisher.publish(&aggregate(1, until, &[&second_ad(&w)], &w.publisher_key));
    let live = live(&w, &url, now).await;
    assert!(live.now().idp(AD).is_none(), "not in the first edition");
    let before = live.now();

    publisher.publish(&aggregate(
        2,
        until,
        &[&second_ad(&w), &w.ad_entity],
        &w.publisher_key,
    ));
    assert_eq!(live.refresh(0, now).await.unwrap(), Refreshed::Updated);
    assert!(live.now().idp(AD).is_some(), "usable from the next refresh");
    assert!(
        before.idp(AD).is_none(),
        "a step's snapshot is not changed under it"
    );
    assert_eq!(live.refresh(0, now).await.unwrap(), Refreshed::Unchanged);
}

#[tokio::test]
async fn a_rolled_over_key_replaces_the_old_one_from_the_next_refresh() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    let until = now + Duration::days(7);
    publisher.publish(&aggregate(1, until, &[&w.ad_entity], &w.publisher_key));
    let live = live(&w, &url, now).await;
    assert_eq!(ad_keys(&live), Some(vec![der(&w.ad_cert_b64)]));

    // Edition 2 announces the new key beside the old one; edition 3 drops the old one.
    let both = w.ad_entity.replacen(
        "</md:KeyDescriptor>",
        &format!(
            r#"</md:KeyDescriptor><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            w.other_cert_b64
        ),
        1,
    );
    let only_new = w.ad_entity.replace(&w.ad_cert_b64, &w.other_cert_b64);
    publisher.publish(&aggregate(2, until, &[&both], &w.publisher_key));
    live.refresh(0, now).await.unwrap();
    let keys = ad_keys(&live).unwrap();
    assert!(keys.contains(&der(&w.ad_cert_b64)) && keys.contains(&der(&w.other_cert_b64)));

    publisher.publish(&aggregate(3, until, &[&only_new], &w.publisher_key));
    live.refresh(0, now).await.unwrap();
    assert_eq!(
        ad_keys(&live),
        Some(vec![der(&w.other_cert_b64)]),
        "the removed key is refused from this refresh on, the new one accepted"
    );
}

#[tokio::test]
async fn an_expired_edition_is_refused_and_one_in_use_is_dropped_when_it_expires() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    publisher.publish(&aggregate(
        1,
        now - Duration::minutes(1),
        &[&w.ad_entity],
        &w.publisher_key,
    ));
    let live = live(&w, &url, now).await;
    assert!(
        live.now().idp(AD).is_none(),
        "an expired edition is never used"
    );
    let err = live.refresh(0, now).await.unwrap_err();
    assert_eq!(err.reason_code(), "expired", "{err}");

    publisher.publish(&aggregate(
        2,
        now + Duration::minutes(10),
        &[&w.ad_entity],
        &w.publisher_key,
    ));
    live.refresh(0, now).await.unwrap();
    assert!(live.now().idp(AD).is_some());
    assert!(live.next_refresh(0, now) <= std::time::Duration::from_secs(600));
    live.rebuild(now + Duration::minutes(11));
    assert!(
        live.now().idp(AD).is_none(),
        "dropped at its validUntil, not used stale"
    );
}

#[tokio::test]
async fn a_bad_signature_or_an_older_edition_is_refused_and_the_edition_in_use_kept() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    let until = now + Duration::days(7);
    publisher.publish(&aggregate(5, until, &[&w.ad_entity], &w.publisher_key));
    let live = live(&w, &url, now).await;
    assert!(live.now().idp(AD).is_some());

    publisher.publish(&aggregate(6, until, &[&second_ad(&w)], &w.stranger));
    let err = live.refresh(0, now).await.unwrap_err();
    assert_eq!(err.reason_code(), "bad_signature", "{err}");
    let tampered = aggregate(6, until, &[&w.ad_entity], &w.publisher_key)
        .replace("entities:1\"", "entities:9\"");
    publisher.publish(&tampered);
    let err = live.refresh(0, now).await.unwrap_err();
    assert_eq!(err.reason_code(), "bad_signature", "{err}");

    publisher.publish(&aggregate(4, until, &[&second_ad(&w)], &w.publisher_key));
    let err = live.refresh(0, now).await.unwrap_err();
    assert!(
        matches!(err, RefreshError::Refused(_)) && err.reason_code() == "older",
        "{err}"
    );
    assert!(
        live.now().idp(AD).is_some(),
        "edition 5 stays in use after every refusal"
    );
}

#[tokio::test]
async fn with_the_source_down_poort_starts_from_the_last_good_copy() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    publisher.publish(&aggregate(
        1,
        now + Duration::days(7),
        &[&w.ad_entity],
        &w.publisher_key,
    ));
    drop(live(&w, &url, now).await);
    publisher.go_down();
    let restarted = live(&w, &url, now).await;
    assert!(restarted.now().idp(AD).is_some(), "from the copy on disk");

    // A copy on disk is verified again: one changed on disk is not used.
    let copy = w.dir.path().join("cache/aggregate.xml");
    let text = std::fs::read_to_string(&copy).unwrap();
    std::fs::write(&copy, text.replace("entities:1\"", "entities:9\"")).unwrap();
    let again = live(&w, &url, now).await;
    assert!(again.now().idp(AD).is_none());
    assert!(again
        .now()
        .idp("urn:etoegang:AD:00000099990000000003:entities:9")
        .is_none());
}

/// A running poort whose AD is known only from an aggregate the local server publishes
/// (edition 1, with `cache_duration`; refreshed at most `refresh_seconds` apart), and the key
/// that signs the aggregate.
async fn poort_with_ad_in_aggregate(
    publisher: &Publisher,
    url: &str,
    cache_duration: &'static str,
    refresh_seconds: u64,
) -> (common::World, SigningKey) {
    let (publisher, url) = (publisher.clone(), url.to_string());
    let key = Arc::new(Mutex::new(None));
    let kept = key.clone();
    let w = common::start_prepared(move |p, config| {
        let ad_file = p.idp_dir.join("dev-ad.xml");
        let ad_entity = std::fs::read_to_string(&ad_file).unwrap();
        std::fs::remove_file(&ad_file).unwrap();
        let key = SigningKey::load(
            &p.certs.join("poort-encryption.key"),
            &p.certs.join("poort-encryption.crt"),
        )
        .unwrap();
        let entity = poort::saml::dsig::strip_declaration(&ad_entity).to_string();
        let until = Utc::now() + Duration::days(7);
        publisher.publish(&signed_aggregate(
            1,
            until,
            cache_duration,
            &[&entity],
            &key,
        ));
        *kept.lock().unwrap() = Some(key);
        config.metadata_aggregates.push(AggregateSource {
            source: url,
            trust_cert: p.certs.join("poort-encryption.crt"),
            role: AggregateRole::Ad,
            cache_file: p.dir.join("aggregate-copy.xml"),
            refresh_seconds,
            retry_seconds: 1,
            max_age_seconds: 86_400,
        });
    })
    .await;
    let key = key.lock().unwrap().take().unwrap();
    (w, key)
}

#[tokio::test]
async fn a_login_succeeds_with_the_ad_known_only_from_an_aggregate() {
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let (w, _) = poort_with_ad_in_aggregate(&publisher, &url, "PT1H", 3600).await;
    let c = common::client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 2, "redirect").await;
    let answer = common::through_ad(&c, &ad_page, "bram", "EH3").await;
    let v = common::to_dv(&c, &answer.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["legal_subject_id"], "11223344");
    publisher.go_down();
}

#[tokio::test]
async fn a_login_whose_ad_is_withdrawn_by_a_refresh_ends_cleanly_at_its_service() {
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    // Refreshed every second, so the test need not wait long for the next edition.
    let (w, key) = poort_with_ad_in_aggregate(&publisher, &url, "PT1S", 1).await;
    let ops = w.ops.clone();
    let c = common::client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 2, "redirect").await;

    // Edition 2 no longer lists the AD; wait (bounded) until poort has put it in use.
    let other = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"urn:etoegang:AD:00000099990000000004:entities:1\"/>";
    publisher.publish(&signed_aggregate(
        2,
        Utc::now() + Duration::days(7),
        "PT1S",
        &[other],
        &key,
    ));
    let updated = format!(
        "poort_metadata_aggregate_refreshes_total{{aggregate=\"{url}\",outcome=\"updated\"}}"
    );
    common::await_metric(&ops, &updated, 2.0, "edition 2 never put in use").await;
    assert_eq!(
        common::metric(&ops, "poort_metadata_aggregate_in_use{").await,
        1.0,
        "edition 2 is in use"
    );

    let answer = common::through_ad(&c, &ad_page, "bram", "EH3").await;
    let page = answer.text().await.unwrap();
    let v = common::to_dv(&c, &page).await;
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(
        v["status"], "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "{v}"
    );
    assert_eq!(
        v["second_status"], "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
        "{v}"
    );
    assert_eq!(
        v["status_message"], "The identity provider's answer was not accepted",
        "{v}"
    );
    publisher.go_down();
}

#[tokio::test]
async fn poort_check_says_whether_an_aggregate_can_be_had_and_from_where() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    // How `poort check` reads: without writing a copy.
    let had = |w: &World, url: &str| {
        let (sp, idp) = (w.dir.path().join("sp"), w.dir.path().join("idp"));
        let sources = [source(w, url)];
        async move {
            let live = LiveMetadata::inspect(&sp, &idp, &sources, now).await;
            live.at_start()[0].clone()
        }
    };
    publisher.go_down();
    let err = had(&w, &url).await.unwrap_err();
    assert!(
        err.contains("503") && err.ends_with("and there is no last good copy"),
        "{err}"
    );

    publisher.publish(&aggregate(
        1,
        now + Duration::days(7),
        &[&w.ad_entity],
        &w.publisher_key,
    ));
    assert_eq!(had(&w, &url).await, Ok(None));
    drop(live(&w, &url, now).await); // keeps the last good copy

    publisher.publish(&aggregate(
        2,
        now + Duration::days(7),
        &[&w.ad_entity],
        &w.stranger,
    ));
    let warning = had(&w, &url).await.unwrap().unwrap();
    assert!(
        warning.starts_with("signature refused") && warning.ends_with("is used"),
        "{warning}"
    );
}

#[tokio::test]
async fn poort_check_counts_the_ads_of_an_aggregate_and_writes_nothing() {
    let w = world();
    let (publisher, url) = start_publisher("/aggregate.xml").await;
    let now = Utc::now();
    publisher.publish(&aggregate(
        1,
        now + Duration::days(7),
        &[&w.ad_entity],
        &w.publisher_key,
    ));
    let path = common::repo_file("config/poort.toml");
    let mut config = poort::config::Config::load(&path).unwrap();
    config.saml.sp_metadata_dir = w.dir.path().join("sp");
    config.saml.idp_metadata_dir = w.dir.path().join("idp");
    let no_ad = |findings: &[poort::check::Finding]| {
        findings
            .iter()
            .any(|f| f.message == "no identity provider metadata")
    };
    let findings = poort::check::check(&path, &config).await;
    assert!(no_ad(&findings), "the folder alone has no AD");

    config.metadata_aggregates.push(source(&w, &url));
    let findings = poort::check::check(&path, &config).await;
    assert!(!no_ad(&findings), "the aggregate's AD counts: {findings:?}");
    assert!(
        !w.dir.path().join("cache/aggregate.xml").exists(),
        "checking writes no copy"
    );
}
