//! The service catalogue in the scheme's signed XML form (`esc:ServiceCatalogue`): a signed
//! catalogue of two providers and three services is loaded beside the config file's services and
//! used by a login; a tampered one, one signed by another key, one the schema refuses and
//! ServiceUUIDs defined twice are each refused, naming the file and the problem
//! (`service_catalogue_refresh.rs`: the same kept current, the last good one kept).

mod common;

use common::catalogue::*;
use poort::catalogue;
use poort::config::{CatalogueSource, Config};
use poort::demo::DEMO_DV_ENTITY_ID;
use std::path::{Path, PathBuf};

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
