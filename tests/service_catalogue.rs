//! The service catalogue in the scheme's signed XML form (`esc:ServiceCatalogue`): a signed
//! catalogue of two providers and three services is loaded beside the config file's services and
//! used by a login; a tampered one, one signed by another key, one the schema refuses and
//! ServiceUUIDs defined twice are each refused, naming the file and the problem. Kept current
//! from a local HTTP server: each of those bad editions served at a refresh is refused naming the
//! URL and the problem while the last good one stays in use, a new good edition replaces it, and
//! with the server down poort starts from the last good copy on disk (not from a tampered one).

mod common;

use common::publisher::{start_publisher, Publisher};
use poort::catalogue::{self, LiveCatalogue, Refreshed};
use poort::config::{CatalogueSource, Config};
use poort::demo::DEMO_DV_ENTITY_ID;
use poort::federation::LiveMetadata;
use poort::keys::SigningKey;
use poort::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// poort's HM OIN in the tests' config (`urn:etoegang:HM:00000099990000000001:entities:1`).
const HM: &str = "00000099990000000001";
const OTHER_HM: &str = "00000099990000000077";
/// The demo DV's OIN, and a second DV's.
const DV_OIN: &str = "00000099990000000002";
const DV2_OIN: &str = "00000099990000000005";
const DV2_ENTITY: &str = "urn:etoegang:DV:00000099990000000005:entities:1";

fn sid(oin: &str, index: u16) -> String {
    format!("urn:etoegang:DV:{oin}:services:{index}")
}

/// One service of a test catalogue: definition and instance.
struct Service {
    oin: &'static str,
    index: u16,
    uuid: &'static str,
    name_nl: &'static str,
    name_en: &'static str,
    level: &'static str,
    broker: &'static str,
    ecta: &'static [&'static str],
    attributes: &'static [&'static str],
    sso: bool,
}

const KVK: &str = "urn:etoegang:1.9:EntityConcernedID:KvKnr";
const RSIN: &str = "urn:etoegang:1.9:EntityConcernedID:RSIN";

fn three_services() -> Vec<Service> {
    vec![
        Service {
            oin: DV_OIN,
            index: 1,
            uuid: "0b8e2f3c-1111-4a1d-963a-000000000001",
            name_nl: "Omgevingsvergunning aanvragen",
            name_en: "Apply for an environmental permit",
            level: "urn:etoegang:core:assurance-class:loa3",
            broker: HM,
            ecta: &[KVK, RSIN],
            attributes: &["urn:etoegang:1.11:attribute-represented:CompanyName"],
            sso: true,
        },
        Service {
            oin: DV_OIN,
            index: 2,
            uuid: "0b8e2f3c-1111-4a1d-963a-000000000002",
            name_nl: "Subsidie indienen",
            name_en: "Submit a grant application",
            level: "urn:etoegang:core:assurance-class:loa2plus",
            broker: HM,
            ecta: &[KVK],
            attributes: &[],
            sso: false,
        },
        Service {
            oin: DV2_OIN,
            index: 1,
            uuid: "0b8e2f3c-2222-4a1d-963a-000000000001",
            name_nl: "Aangifte doen",
            name_en: "File a return",
            level: "urn:etoegang:core:assurance-class:loa4",
            broker: HM,
            ecta: &[KVK],
            attributes: &[],
            sso: false,
        },
    ]
}

/// A service of another HM: listed in the scheme's catalogue, not offered through poort.
fn other_brokers_service() -> Service {
    Service {
        oin: DV2_OIN,
        index: 9,
        uuid: "0b8e2f3c-2222-4a1d-963a-000000000009",
        name_nl: "Elders",
        name_en: "Elsewhere",
        level: "urn:etoegang:core:assurance-class:loa3",
        broker: OTHER_HM,
        ecta: &[KVK],
        attributes: &[],
        sso: false,
    }
}

fn provider_xml(oin: &str, name: &str, services: &[&Service]) -> String {
    let mut definitions = String::new();
    let mut instances = String::new();
    for s in services {
        let ecta: String = s
            .ecta
            .iter()
            .map(|t| {
                format!("<esc:EntityConcernedTypesAllowed>{t}</esc:EntityConcernedTypesAllowed>")
            })
            .collect();
        let attributes: String = s
            .attributes
            .iter()
            .map(|a| {
                format!(
                    r#"<esc:RequestedAttribute Name="{a}" isRequired="true"><esc:PurposeStatement xml:lang="nl">Om uw aanvraag te behandelen</esc:PurposeStatement></esc:RequestedAttribute>"#
                )
            })
            .collect();
        definitions.push_str(&format!(
            r#"<esc:ServiceDefinition esc:IsPublic="true"><esc:ServiceUUID>{uuid}</esc:ServiceUUID><esc:ServiceName xml:lang="nl">{nl}</esc:ServiceName><esc:ServiceName xml:lang="en">{en}</esc:ServiceName><esc:ServiceDescription xml:lang="nl">{nl}.</esc:ServiceDescription><saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef><esc:HerkenningsmakelaarId>{HM}</esc:HerkenningsmakelaarId>{ecta}{attributes}</esc:ServiceDefinition>"#,
            uuid = s.uuid,
            nl = s.name_nl,
            en = s.name_en,
            level = s.level,
        ));
        instances.push_str(&format!(
            r#"<esc:ServiceInstance esc:IsPublic="true"><esc:ServiceID>{id}</esc:ServiceID><esc:ServiceUUID>{uuid}-i</esc:ServiceUUID><esc:InstanceOfService>{uuid}</esc:InstanceOfService><esc:ServiceURL xml:lang="nl">https://dv.example/{index}</esc:ServiceURL><esc:PrivacyPolicyURL xml:lang="nl">https://dv.example/privacy</esc:PrivacyPolicyURL><esc:HerkenningsmakelaarId>{broker}</esc:HerkenningsmakelaarId><esc:SSOSupport>{sso}</esc:SSOSupport><esc:Classifiers><esc:Classifier>eIDAS-inbound</esc:Classifier></esc:Classifiers></esc:ServiceInstance>"#,
            id = sid(s.oin, s.index),
            uuid = s.uuid,
            index = s.index,
            broker = s.broker,
            sso = s.sso,
        ));
    }
    format!(
        r#"<esc:ServiceProvider esc:IsPublic="true"><esc:ServiceProviderID>{oin}</esc:ServiceProviderID><esc:OrganizationDisplayName xml:lang="nl">{name}</esc:OrganizationDisplayName>{definitions}{instances}</esc:ServiceProvider>"#
    )
}

/// A catalogue of `providers` (already written), signed with `key`.
fn signed_catalogue(providers: &str, key: &SigningKey) -> String {
    signed_catalogue_issued(providers, key, "2026-12-01T10:00:00Z")
}

/// Like [`signed_catalogue`], issued at `issued`.
fn signed_catalogue_issued(providers: &str, key: &SigningKey, issued: &str) -> String {
    let id = "_catalogue-1";
    let unsigned = format!(
        r#"<esc:ServiceCatalogue xmlns:esc="urn:etoegang:1.13:service-catalog" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" esc:IssueInstant="{issued}" esc:Version="urn:etoegang:1.13:service-catalogue:T:42">{template}{providers}</esc:ServiceCatalogue>"#,
        template = poort::saml::dsig::template(id, key),
    );
    poort::saml::dsig::sign(&unsigned, key).unwrap()
}

fn two_providers(services: &[Service]) -> String {
    let of = |oin: &str| services.iter().filter(|s| s.oin == oin).collect::<Vec<_>>();
    provider_xml(DV_OIN, "Gemeente Demo", &of(DV_OIN))
        + &provider_xml(DV2_OIN, "Belastingdienst Demo", &of(DV2_OIN))
}

/// Keys for the tests: the catalogue's signer (the Beheerorganisatie) and someone else.
struct Keys {
    dir: tempfile::TempDir,
    signer: SigningKey,
    signer_cert: PathBuf,
    stranger: SigningKey,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    poort::devcerts::generate(dir.path(), false).unwrap();
    let load = |stem: &str| {
        SigningKey::load(
            &dir.path().join(format!("{stem}.key")),
            &dir.path().join(format!("{stem}.crt")),
        )
        .unwrap()
    };
    Keys {
        signer: load("dev-ad-signing"),
        signer_cert: dir.path().join("dev-ad-signing.crt"),
        stranger: load("demo-dv-signing"),
        dir,
    }
}

/// A test world's config with `catalogues` (written to files) instead of `[[service]]` entries,
/// and metadata of the second DV naming its service.
fn with_catalogues(
    p: &common::Prepared,
    config: &mut Config,
    keys: &Keys,
    files: &[(&str, String)],
) {
    write_dv2_metadata(&p.sp_dir, &p.certs);
    config.services.clear();
    for (name, text) in files {
        let path = p.dir.join(name);
        std::fs::write(&path, text).unwrap();
        config.catalogues.push(CatalogueSource::new(
            path.display().to_string(),
            &keys.signer_cert,
        ));
    }
}

/// Metadata of the second DV, naming its service, in `sp_dir` (its key from `certs`).
fn write_dv2_metadata(sp_dir: &Path, certs: &Path) {
    let cert = std::fs::read(certs.join("demo-dv-signing.crt")).unwrap();
    let cert = openssl::x509::X509::from_pem(&cert)
        .unwrap()
        .to_der()
        .unwrap();
    let md = poort::demo::metadata::dv_metadata(
        DV2_ENTITY,
        "https://dv2.example/acs",
        None,
        &cert,
        None,
        &[(1, &sid(DV2_OIN, 1), "Aangifte", "Return")],
    );
    std::fs::write(sp_dir.join("dv2.xml"), md).unwrap();
}

async fn effective_of(
    keys: &Keys,
    files: Vec<(&'static str, String)>,
) -> (catalogue::Effective, PathBuf) {
    let (tx, rx) = std::sync::mpsc::channel();
    let w = common::start_prepared(|p, config| {
        with_catalogues(p, config, keys, &files);
        tx.send((config.clone(), p.dir.clone())).unwrap();
    })
    .await;
    let (config, dir): (Config, PathBuf) = rx.recv().unwrap();
    let md = poort::metadata::load(
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        chrono::Utc::now(),
    );
    let effective = catalogue::load(&config, &md).await;
    drop(w);
    (effective, dir)
}

#[tokio::test]
async fn a_signed_catalogue_of_two_providers_and_three_services_is_loaded() {
    let keys = keys();
    let mut services = three_services();
    services.push(other_brokers_service());
    let text = signed_catalogue(&two_providers(&services), &keys.signer);
    let (effective, _) = effective_of(&keys, vec![("catalogue.xml", text)]).await;
    assert!(effective.problems.is_empty(), "{:?}", effective.problems);
    let ids: Vec<&str> = effective.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [sid(DV_OIN, 1), sid(DV_OIN, 2), sid(DV2_OIN, 1)],
        "three services, in catalogue order"
    );
    assert_eq!(
        effective.skipped.len(),
        1,
        "the other HM's service is left out"
    );
    assert_eq!(effective.skipped[0].service_id, sid(DV2_OIN, 9));

    let permit = &effective.services[0];
    assert_eq!(permit.uuid, "0b8e2f3c-1111-4a1d-963a-000000000001");
    assert_eq!(permit.name_nl, "Omgevingsvergunning aanvragen");
    assert_eq!(permit.name_en, "Apply for an environmental permit");
    assert_eq!(permit.level.to_string(), "EH3");
    assert_eq!(
        permit.provider, DEMO_DV_ENTITY_ID,
        "the DV whose metadata names it"
    );
    assert_eq!(permit.acs_index, 1);
    assert_eq!(permit.provider_name.as_deref(), Some("Gemeente Demo"));
    assert_eq!(permit.entity_concerned_types, [KVK, RSIN]);
    assert_eq!(permit.requested_attributes.len(), 1);
    assert!(permit.requested_attributes[0].required);
    assert_eq!(
        permit.requested_attributes[0].purpose.as_deref(),
        Some("Om uw aanvraag te behandelen")
    );
    assert!(permit.sso_support);
    assert!(permit.origin.ends_with("catalogue.xml"));
    assert_eq!(effective.services[1].level.to_string(), "EH2+");
    let aangifte = &effective.services[2];
    assert_eq!(
        (aangifte.provider.as_str(), aangifte.level.to_string()),
        (DV2_ENTITY, "EH4".into())
    );
}

/// The one problem of a catalogue file, which must name the file.
fn only_problem(effective: &catalogue::Effective, file: &str) -> String {
    assert_eq!(effective.problems.len(), 1, "{:?}", effective.problems);
    let p = &effective.problems[0];
    assert!(
        p.origin.ends_with(file),
        "{} does not name {file}",
        p.origin
    );
    p.message.clone()
}

#[tokio::test]
async fn a_tampered_catalogue_is_refused_and_adds_no_service() {
    let keys = keys();
    let text = signed_catalogue(&two_providers(&three_services()), &keys.signer)
        .replace("Aangifte doen", "Aangifte doen bij ons");
    let (effective, _) = effective_of(&keys, vec![("tampered.xml", text)]).await;
    let message = only_problem(&effective, "tampered.xml");
    assert!(message.starts_with("signature refused"), "{message}");
    assert!(effective.services.is_empty());
}

#[tokio::test]
async fn a_catalogue_signed_by_another_key_is_refused() {
    let keys = keys();
    let text = signed_catalogue(&two_providers(&three_services()), &keys.stranger);
    let (effective, _) = effective_of(&keys, vec![("stranger.xml", text)]).await;
    let message = only_problem(&effective, "stranger.xml");
    assert_eq!(
        message,
        "signature refused: it does not verify with the trust certificate (changed after signing, or signed by another key)"
    );
    assert!(effective.services.is_empty());
}

#[tokio::test]
async fn a_signed_catalogue_the_schema_refuses_is_refused_naming_the_element() {
    let keys = keys();
    // Signed as it is, but ServiceProviderID is no OIN (nineteen digits).
    let providers = two_providers(&three_services()).replace(
        &format!("<esc:ServiceProviderID>{DV2_OIN}"),
        "<esc:ServiceProviderID>0000009999000000005",
    );
    let text = signed_catalogue(&providers, &keys.signer);
    let (effective, _) = effective_of(&keys, vec![("invalid.xml", text)]).await;
    let message = only_problem(&effective, "invalid.xml");
    assert!(message.contains("schema"), "{message}");
    assert!(message.contains("ServiceProviderID"), "{message}");
    assert!(effective.services.is_empty());
}

#[tokio::test]
async fn a_service_uuid_defined_twice_is_refused_in_both_places() {
    let keys = keys();
    let mut services = three_services();
    services[2].uuid = services[0].uuid;
    let text = signed_catalogue(&two_providers(&services), &keys.signer);
    let (effective, _) = effective_of(&keys, vec![("twice.xml", text)]).await;
    let message = only_problem(&effective, "twice.xml");
    assert_eq!(
        message,
        format!("ServiceUUID {} is defined 2 times", services[0].uuid)
    );
    let ids: Vec<&str> = effective.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [sid(DV_OIN, 2)],
        "neither definition of the UUID is used"
    );
}

#[tokio::test]
async fn a_catalogue_service_logs_in_under_the_catalogues_name_and_the_cli_shows_it() {
    let keys = keys();
    let text = signed_catalogue(&two_providers(&three_services()), &keys.signer);
    let (tx, rx) = std::sync::mpsc::channel();
    let w = common::start_prepared(|p, config| {
        with_catalogues(p, config, &keys, &[("catalogue.xml", text.clone())]);
        let path = p.dir.join("poort.toml");
        std::fs::write(&path, toml::to_string(config).unwrap()).unwrap();
        tx.send(path).unwrap();
    })
    .await;
    // Bram holds grants for the config file's services only: refused, under the catalogue's name.
    let c = common::client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 1, "redirect").await;
    let answer = common::through_ad(&c, &ad_page, "bram", "EH3").await;
    let page = answer.text().await.unwrap();
    assert!(page.contains("Omgevingsvergunning aanvragen"), "{page}");

    let config_path: PathBuf = rx.recv().unwrap();
    let run = |command: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_poort"))
            .args(["catalogue", "--config"])
            .arg(&config_path)
            .arg(command)
            .output()
            .unwrap()
    };
    let show = run("show");
    let out = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{out}");
    assert!(
        out.contains(&sid(DV2_OIN, 1)) && out.contains("Aangifte doen / File a return"),
        "{out}"
    );
    assert!(out.contains("3 service(s)"), "{out}");
    let check = run("check");
    assert!(check.status.success());

    // The same catalogue tampered with: check names the file and the problem, and fails.
    let catalogue: &Path = &config_path.with_file_name("catalogue.xml");
    std::fs::write(catalogue, text.replace("Subsidie", "Subsidie!")).unwrap();
    let check = run("check");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success());
    assert!(
        out.contains(&format!(
            "error: {}: signature refused",
            catalogue.display()
        )),
        "{out}"
    );
}

#[tokio::test]
async fn a_catalogue_from_a_url_is_read_like_a_file_and_a_failing_url_named() {
    use axum::response::IntoResponse;
    let keys = keys();
    let text = signed_catalogue(&two_providers(&three_services()), &keys.signer);
    let served = text.clone();
    let app = axum::Router::new().route(
        "/servicecatalog.xml",
        axum::routing::get(move || {
            let body = served.clone();
            async move { body.into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/servicecatalog.xml",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (tx, rx) = std::sync::mpsc::channel();
    let w = common::start_prepared(|p, config| {
        with_catalogues(p, config, &keys, &[]);
        config
            .catalogues
            .push(CatalogueSource::new(&url, &keys.signer_cert));
        tx.send(config.clone()).unwrap();
    })
    .await;
    let config: Config = rx.recv().unwrap();
    let md = poort::metadata::load(
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        chrono::Utc::now(),
    );
    let effective = catalogue::load(&config, &md).await;
    assert!(effective.problems.is_empty(), "{:?}", effective.problems);
    assert_eq!(effective.services.len(), 3);
    assert!(effective.services.iter().all(|s| s.origin == url));
    drop(w);

    // A URL that answers with an error is a problem naming the URL.
    let mut broken = config.clone();
    broken.catalogues[0].source = url.replace("servicecatalog.xml", "missing.xml");
    let effective = catalogue::load(&broken, &md).await;
    assert_eq!(effective.problems.len(), 1);
    assert_eq!(effective.problems[0].origin, broken.catalogues[0].source);
    assert!(
        effective.problems[0]
            .message
            .starts_with("cannot be read: HTTP status client error (404"),
        "{}",
        effective.problems[0].message
    );

    // `poort check` warns about a URL without a last good copy on disk.
    let no_copy = |findings: &[poort::check::Finding]| {
        findings.iter().any(|f| {
            !f.error
                && f.file == Path::new(&url)
                && f.message
                    .starts_with("service catalogue from a URL without cache_file")
        })
    };
    let config_path = common::repo_file("config/poort.toml");
    assert!(no_copy(&poort::check::check(&config_path, &config).await));
    let mut kept = config.clone();
    kept.catalogues[0].cache_file = Some(PathBuf::from("data/servicecatalog.xml"));
    assert!(!no_copy(&poort::check::check(&config_path, &kept).await));
}

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
