//! A client generated from poort's OpenAPI document by a generator that is not poort's
//! (openapi-python-client, pinned in `tests/api-client/requirements.txt`) lists members and
//! adds a grant against a running poort, and reads a refusal as a typed problem; and, as a
//! person in their own API (`/api/v1/me`), asks for a grant and has it approved.
//!
//! Run by `tests/api-client/run.sh`, which fills the generator's venv and names its Python in
//! `API_CLIENT_PYTHON`; ignored by a plain `cargo test`, which has no such venv.

mod common;

use serde_json::Value;
use std::sync::Arc;

async fn json(c: &reqwest::Client, url: &str) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
#[ignore = "needs the generator's venv: run tests/api-client/run.sh"]
async fn a_generated_client_lists_members_and_adds_a_grant() {
    let python =
        std::env::var("API_CLIENT_PYTHON").expect("API_CLIENT_PYTHON: run tests/api-client/run.sh");
    let w = common::start().await;

    // anna's admin session, in a jar of our own: the Python client sends its cookie.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let anna = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let landed = common::admin_login(&w, &anna, "anna", "EH3").await;
    assert_eq!(landed.url().path(), "/admin");
    let session = json(&anna, &format!("{}/api/v1/session", w.poort)).await;
    let url: url::Url = w.poort.parse().unwrap();
    let cookie = reqwest::cookie::CookieStore::cookies(jar.as_ref(), &url).unwrap();

    // The document as poort serves it, for the generator.
    let document = common::page(&anna, format!("{}/api/v1/openapi.json", w.poort)).await;
    let doc_path = w.dir.path().join("openapi.json");
    std::fs::write(&doc_path, document).unwrap();

    let service = common::service(2, "EH3").uuid;
    let script = common::repo_file("tests/api-client/test_client.py");
    let (doc, into) = (doc_path.clone(), w.dir.path().join("api-client"));
    let (poort, cookie) = (w.poort.clone(), cookie.to_str().unwrap().to_string());
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let uuid = service.clone();
    // Blocking, off the runtime that serves poort to the client.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&script)
            .arg(&doc)
            .arg(&into)
            .env("POORT_URL", poort)
            .env("POORT_COOKIE", cookie)
            .env("POORT_CSRF", csrf)
            .env("API_SERVICE", uuid)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "the generated client failed");

    // The grant the client made is in the register, as it said.
    let id = stdout.lines().last().unwrap_or_default().trim();
    let grant = json(&anna, &format!("{}/api/v1/grants/{id}", w.poort)).await;
    assert_eq!(grant["holder"]["person"], "eva", "{stdout}\n{grant}");
    assert_eq!(grant["scope"]["uuid"], service.as_str());
    assert_eq!(grant["status"], "active");
}

/// A Mijn poort session of `person` at EH3 in a jar of our own: its Cookie header and its CSRF
/// token, for the Python client.
async fn mijn_cookie(w: &common::World, person: &str) -> (String, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let c = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let landed = common::mijn_login(w, &c, person, "EH3").await;
    assert_eq!(landed.url().path(), "/mijn");
    let me = json(&c, &format!("{}/api/v1/me", w.poort)).await;
    let url: url::Url = w.poort.parse().unwrap();
    let cookie = reqwest::cookie::CookieStore::cookies(jar.as_ref(), &url).unwrap();
    (
        cookie.to_str().unwrap().to_string(),
        me["csrf_token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
#[ignore = "needs the generator's venv: run tests/api-client/run.sh"]
async fn a_generated_client_asks_as_a_person_and_an_administrator_approves() {
    let python =
        std::env::var("API_CLIENT_PYTHON").expect("API_CLIENT_PYTHON: run tests/api-client/run.sh");
    let w = common::start().await;
    let (eva_cookie, eva_csrf) = mijn_cookie(&w, "eva").await;
    let (anna_cookie, anna_csrf) = mijn_cookie(&w, "anna").await;

    let document = common::page(
        &common::client(),
        format!("{}/api/v1/openapi.json", w.poort),
    )
    .await;
    let doc_path = w.dir.path().join("openapi.json");
    std::fs::write(&doc_path, document).unwrap();

    let service = common::service(1, "EH3").uuid;
    let script = common::repo_file("tests/api-client/test_me.py");
    let into = w.dir.path().join("api-client");
    let poort = w.poort.clone();
    let uuid = service.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&script)
            .arg(&doc_path)
            .arg(&into)
            .env("POORT_URL", poort)
            .env("POORT_EVA_COOKIE", eva_cookie)
            .env("POORT_EVA_CSRF", eva_csrf)
            .env("POORT_ANNA_COOKIE", anna_cookie)
            .env("POORT_ANNA_CSRF", anna_csrf)
            .env("API_SERVICE", uuid)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "the generated client failed");

    // The grant the approval made is eva's, in the register, at the lowered level.
    let id = stdout.lines().last().unwrap_or_default().trim();
    let filter = poort::grants::GrantFilter {
        id: Some(id.to_string()),
        ..Default::default()
    };
    let found = w.registry.sql().list_grants(&filter).await.unwrap();
    assert_eq!(found.len(), 1, "{stdout}");
    assert_eq!(found[0].holder, poort::grants::Holder::Person("eva".into()));
    assert_eq!(found[0].level, poort::domain::level::Level::Eh2Plus);
    assert_eq!(
        found[0].scope,
        poort::grants::Scope::Service { uuid: service }
    );
}
