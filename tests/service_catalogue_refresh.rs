//! The service catalogue kept current from a local HTTP server: each bad edition served at a
//! refresh (tampered, signed by another key, refused by the schema, a ServiceUUID defined twice,
//! older) is refused naming the URL and the problem while the last good one stays in use; a new
//! good edition replaces it; with the server down poort starts from the last good copy on disk,
//! not from a tampered one; the services are built again when the DV metadata changes; a running
//! poort logs in to a service a refresh added.

mod common;

use common::catalogue::*;
use common::publisher::{start_publisher, Publisher};
use poort::catalogue::{LiveCatalogue, Refreshed};
use poort::config::{CatalogueSource, Config};
use poort::federation::LiveMetadata;
use poort::metrics::Metrics;
use std::path::PathBuf;
use std::sync::Arc;

/// A poort's live catalogue without the rest of poort: the tests' config (no `[[service]]`),
/// the demo DV's and the second DV's metadata, one catalogue at `url` with its last good copy.
struct LiveWorld {
    keys: Keys,
    config: Config,
    metadata: Arc<LiveMetadata>,
    metrics: Arc<Metrics>,
    url: String,
    copy: PathBuf,
}

fn live_world(url: &str) -> LiveWorld {
    let keys = keys();
    let root = keys.dir.path();
    let (sp, idp) = (root.join("sp"), root.join("idp"));
    std::fs::create_dir_all(&sp).unwrap();
    std::fs::create_dir_all(&idp).unwrap();
    poort::demo::metadata::write_demo_metadata(
        root,
        &sp,
        &idp,
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
    )
    .unwrap();
    write_dv2_metadata(&sp, root);
    let mut config = Config::load(&common::repo_file("config/poort.toml")).unwrap();
    config.services.clear();
    config.saml.sp_metadata_dir = sp.clone();
    config.saml.idp_metadata_dir = idp.clone();
    let copy = root.join("cache/servicecatalog.xml");
    let mut source = CatalogueSource::new(url, &keys.signer_cert);
    source.cache_file = Some(copy.clone());
    config.catalogues = vec![source];
    let set = poort::metadata::load(&sp, &idp, chrono::Utc::now());
    LiveWorld {
        keys,
        config,
        metadata: Arc::new(LiveMetadata::fixed(set)),
        metrics: Arc::new(Metrics::default()),
        url: url.to_string(),
        copy,
    }
}

impl LiveWorld {
    /// The catalogue as poort starts with it.
    async fn start(&self) -> LiveCatalogue {
        LiveCatalogue::start(&self.config, self.metadata.clone(), self.metrics.clone()).await
    }

    /// The catalogue of the three services, signed by the trusted key.
    fn good(&self) -> String {
        signed_catalogue(&two_providers(&three_services()), &self.keys.signer)
    }

    /// A metric line's value, 0 when it is absent.
    fn metric(&self, name: &str, outcome: Option<&str>) -> f64 {
        let mut start = format!("{name}{{catalogue=\"{}\"", self.url);
        if let Some(outcome) = outcome {
            start.push_str(&format!(",outcome=\"{outcome}\""));
        }
        self.metrics
            .render()
            .lines()
            .find(|l| l.starts_with(&start))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    }
}

fn ids(services: &[poort::config::ServiceConfig]) -> Vec<String> {
    services.iter().map(|s| s.id.clone()).collect()
}

fn the_three() -> Vec<String> {
    vec![sid(DV_OIN, 1), sid(DV_OIN, 2), sid(DV2_OIN, 1)]
}

#[tokio::test]
async fn each_bad_edition_served_at_a_refresh_is_refused_naming_the_url_and_the_good_one_stays() {
    let (publisher, url) = start_publisher("/servicecatalog.xml").await;
    let w = live_world(&url);
    let good = w.good();
    publisher.publish(&good);
    let live = w.start().await;
    assert_eq!(ids(&live.services()), the_three());
    assert!(live.problems().is_empty(), "{:?}", live.problems());

    let keys = &w.keys;
    let mut twice = three_services();
    twice[2].uuid = twice[0].uuid;
    let schema_refuses = two_providers(&three_services()).replace(
        &format!("<esc:ServiceProviderID>{DV2_OIN}"),
        "<esc:ServiceProviderID>0000009999000000005",
    );
    let of_dv = three_services();
    let bad = [
        (
            good.replace("Aangifte doen", "Aangifte doen bij ons"),
            "bad_signature",
            "signature refused".to_string(),
        ),
        (
            signed_catalogue(&two_providers(&three_services()), &keys.stranger),
            "bad_signature",
            "signature refused: it does not verify with the trust certificate (changed after \
             signing, or signed by another key)"
                .to_string(),
        ),
        (
            signed_catalogue(&schema_refuses, &keys.signer),
            "schema",
            "is not valid against the service catalogue schema: line 1:".to_string(),
        ),
        (
            signed_catalogue(&two_providers(&twice), &keys.signer),
            "defined_twice",
            format!(
                "ServiceUUID {} is defined 2 times (in {url}, {url})",
                twice[0].uuid
            ),
        ),
        (
            signed_catalogue_issued(
                &provider_xml(DV_OIN, "Gemeente Demo", &[&of_dv[0]]),
                &keys.signer,
                "2026-11-30T10:00:00Z",
            ),
            "older",
            "issued at 2026-11-30 10:00:00 UTC, before the edition in use (issued at \
             2026-12-01 10:00:00 UTC)"
                .to_string(),
        ),
    ];
    for (text, code, problem) in &bad {
        publisher.publish(text);
        let err = live.refresh(0).await.unwrap_err();
        let message = err.to_string();
        assert_eq!(err.origin, url);
        assert!(
            message.starts_with(&format!("{url}: {problem}")),
            "{message}"
        );
        assert_eq!(err.reason.reason_code(), *code, "{message}");
        assert_eq!(
            ids(&live.services()),
            the_three(),
            "the good edition stays in use after: {message}"
        );
        let problems = live.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].to_string(), message);
    }
    assert_eq!(
        w.metric("poort_catalogue_refreshes_total", Some("bad_signature")),
        2.0
    );
    for code in ["schema", "defined_twice", "older"] {
        assert_eq!(w.metric("poort_catalogue_refreshes_total", Some(code)), 1.0);
    }
    assert_eq!(w.metric("poort_catalogue_in_use", None), 1.0);
    assert_eq!(
        std::fs::read_to_string(&w.copy).unwrap(),
        good,
        "only the good edition is kept on disk"
    );

    // The good edition again: in use as before, and the refusals are behind it.
    publisher.publish(&good);
    assert_eq!(live.refresh(0).await.unwrap(), Refreshed::Unchanged);
    assert!(live.problems().is_empty(), "{:?}", live.problems());
}

#[tokio::test]
async fn a_new_good_edition_replaces_the_one_in_use_and_a_snapshot_keeps_its_services() {
    let (publisher, url) = start_publisher("/servicecatalog.xml").await;
    let w = live_world(&url);
    let services = three_services();
    publisher.publish(&signed_catalogue(
        &provider_xml(DV_OIN, "Gemeente Demo", &[&services[0]]),
        &w.keys.signer,
    ));
    let live = w.start().await;
    let before = live.services();
    assert_eq!(ids(&before), [sid(DV_OIN, 1)]);

    let newer = signed_catalogue_issued(
        &two_providers(&services),
        &w.keys.signer,
        "2026-12-02T10:00:00Z",
    );
    publisher.publish(&newer);
    assert_eq!(live.refresh(0).await.unwrap(), Refreshed::Updated);
    assert_eq!(
        ids(&live.services()),
        the_three(),
        "the services added are in use"
    );
    let added = live
        .services()
        .iter()
        .find(|s| s.id == sid(DV2_OIN, 1))
        .map(|s| (s.name_nl.clone(), s.provider.clone()));
    assert_eq!(
        added,
        Some(("Aangifte doen".to_string(), DV2_ENTITY.to_string()))
    );
    assert_eq!(
        ids(&before),
        [sid(DV_OIN, 1)],
        "a request's snapshot is not changed under it"
    );
    assert_eq!(live.refresh(0).await.unwrap(), Refreshed::Unchanged);
    assert_eq!(std::fs::read_to_string(&w.copy).unwrap(), newer);
    assert!(w
        .metrics
        .render()
        .lines()
        .any(|l| l == "poort_catalogue_services 3"));
}

#[tokio::test]
async fn with_the_server_down_poort_starts_from_the_last_good_copy_but_not_from_a_tampered_one() {
    let (publisher, url) = start_publisher("/servicecatalog.xml").await;
    let w = live_world(&url);
    let good = w.good();
    publisher.publish(&good);
    drop(w.start().await); // keeps the last good copy

    publisher.go_down();
    let restarted = w.start().await;
    assert_eq!(ids(&restarted.services()), the_three(), "from the copy");
    assert!(restarted.problems().is_empty());

    // A bad edition at start: the last good copy is used instead.
    publisher.publish(&good.replace("Subsidie", "Subsidie!"));
    let restarted = w.start().await;
    assert_eq!(ids(&restarted.services()), the_three(), "from the copy");
    assert_eq!(std::fs::read_to_string(&w.copy).unwrap(), good);

    // A copy changed on disk is checked again and refused: nothing of it is used.
    publisher.go_down();
    std::fs::write(
        &w.copy,
        good.replace("Aangifte doen", "Aangifte doen bij ons"),
    )
    .unwrap();
    let refused = w.start().await;
    assert!(refused.services().is_empty());
    let problems = refused.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].origin, url);
    let message = &problems[0].message;
    assert!(
        message.starts_with("fetching: cannot be read: HTTP status server error (503"),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "; the last good copy in {} is refused too: signature refused: it does not verify \
             with the trust certificate (changed after signing, or signed by another key)",
            w.copy.display()
        )),
        "{message}"
    );
    assert_eq!(w.metric("poort_catalogue_in_use", None), 0.0);
}

#[tokio::test]
async fn the_services_are_built_again_when_the_dv_metadata_changes() {
    use poort::config::{AggregateRole, AggregateSource};
    let (publisher, url) = start_publisher("/servicecatalog.xml").await;
    let (aggregates, aggregate_url) = start_publisher("/dv-metadata.xml").await;
    let mut w = live_world(&url);
    // The second DV's metadata comes from a signed aggregate instead of the folder: edition 1
    // names another of its services, edition 2 the one of the catalogue.
    let sp = w.config.saml.sp_metadata_dir.clone();
    let dv2 = std::fs::read_to_string(sp.join("dv2.xml")).unwrap();
    std::fs::remove_file(sp.join("dv2.xml")).unwrap();
    let dv2 = poort::saml::dsig::strip_declaration(&dv2).to_string();
    let dv2_other_service = dv2.replace(&sid(DV2_OIN, 1), &sid(DV2_OIN, 7));
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::days(7);
    let publish = |sequence, entity: &str| {
        let signed =
            common::publisher::signed_aggregate(sequence, until, "PT1H", &[entity], &w.keys.signer);
        aggregates.publish(&signed);
    };
    publish(1, &dv2_other_service);
    let source = AggregateSource {
        source: aggregate_url,
        trust_cert: w.keys.signer_cert.clone(),
        role: AggregateRole::Dv,
        cache_file: w.keys.dir.path().join("cache/dv-metadata.xml"),
        refresh_seconds: 3600,
        retry_seconds: 30,
        max_age_seconds: 86_400,
    };
    let idp = w.config.saml.idp_metadata_dir.clone();
    let metadata = LiveMetadata::start(&sp, &idp, &[source], w.metrics.clone(), now).await;
    w.metadata = Arc::new(metadata);
    publisher.publish(&w.good());
    let live = w.start().await;
    assert_eq!(ids(&live.services()), [sid(DV_OIN, 1), sid(DV_OIN, 2)]);
    let problems: Vec<String> = live.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        [format!(
            "{url}: ServiceInstance {}: no trusted DV metadata names it (an \
             md:AttributeConsumingService with <md:RequestedAttribute Name=\"{}\"/>)",
            sid(DV2_OIN, 1),
            sid(DV2_OIN, 1)
        )]
    );
    assert!(!live.follow_metadata(), "the metadata did not change");

    publish(2, &dv2);
    w.metadata.refresh(0, now).await.unwrap();
    assert!(live.follow_metadata(), "built again from the new metadata");
    assert_eq!(ids(&live.services()), the_three());
    assert!(live.problems().is_empty(), "{:?}", live.problems());
}

#[tokio::test]
async fn a_running_poort_logs_in_to_a_service_a_refresh_added() {
    let (publisher, url): (Publisher, String) = start_publisher("/servicecatalog.xml").await;
    let keys = keys();
    let services = three_services();
    publisher.publish(&signed_catalogue(
        &provider_xml(DV_OIN, "Gemeente Demo", &[&services[0]]),
        &keys.signer,
    ));
    let w = common::start_prepared(|p, config| {
        with_catalogues(p, config, &keys, &[]);
        let mut source = CatalogueSource::new(&url, &keys.signer_cert);
        // Refreshed every second, so the test need not wait long for the next edition.
        source.refresh_seconds = 1;
        source.cache_file = Some(p.dir.join("servicecatalog.xml"));
        config.catalogues.push(source);
    })
    .await;
    // Service 2 of the demo DV is in no edition yet: its login is refused at once.
    let c = common::client();
    let refused = common::page(&c, format!("{}/login?service=2&binding=redirect", w.dv)).await;
    let v = common::to_dv(&c, &refused).await;
    assert_eq!(
        v["status_message"], "AttributeConsumingServiceIndex names no service in the catalogue",
        "{v}"
    );

    publisher.publish(&signed_catalogue_issued(
        &two_providers(&services),
        &keys.signer,
        "2026-12-02T10:00:00Z",
    ));
    let updated =
        format!("poort_catalogue_refreshes_total{{catalogue=\"{url}\",outcome=\"updated\"}}");
    common::await_metric(
        &w.ops,
        &updated,
        2.0,
        "the new edition was never put in use",
    )
    .await;
    assert_eq!(
        common::metric(&w.ops, "poort_catalogue_services ").await,
        3.0
    );
    let ad_page = common::dv_to_ad(&c, &w.dv, 2, "redirect").await;
    let answer = common::through_ad(&c, &ad_page, "bram", "EH3").await;
    let page = answer.text().await.unwrap();
    assert!(page.contains("Subsidie indienen"), "{page}");
    publisher.go_down();
}
