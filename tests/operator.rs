//! The operator's interfaces (issue 14): every route of the operator API with its token, the
//! 401s without it or with another (`WWW-Authenticate: Bearer`), an admin session refused there
//! and the token refused on the session's routes, each refusal with its reason code; the API
//! closed when no token is configured; and the operator's commands as built (register, list,
//! show, resend the activation, the signature setting, a new token).

mod common;

use common::operator::{call, new_organisation, operator_world, TOKEN};
use poort::grants::{Pool, SqlRegister, WriteError};
use serde_json::{json, Value};

const NEW_KVK: &str = "55667788";

#[tokio::test]
async fn every_operator_route_wants_its_token_and_refuses_with_a_reason() {
    let w = operator_world().await;
    let org = format!("/api/v1/operator/organisations/{NEW_KVK}");
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/api/v1/operator/organisations".into(),
            Some(new_organisation("44556677", "x@y.example")),
        ),
        ("GET", org.clone(), None),
        ("POST", format!("{org}/activation/resend"), None),
        (
            "PUT",
            format!("{org}/joint-signatures"),
            Some(json!({"joint_needs_two": true})),
        ),
        ("GET", format!("{org}/representatives"), None),
        (
            "PUT",
            format!("{org}/representatives"),
            Some(json!({"representatives": []})),
        ),
    ];
    // anna's admin session, with its CSRF token, opens none of them.
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    for (method, path, body) in &routes {
        let (status, challenge, p) = call(&w, None, method, path, None, body.clone()).await;
        assert_eq!(
            (status, p["reason"].as_str()),
            (401, Some("missing_token")),
            "{method} {path}: {p}"
        );
        assert!(challenge.unwrap().starts_with("Bearer"), "{method} {path}");
        let (status, challenge, p) =
            call(&w, None, method, path, Some("not-the-token"), body.clone()).await;
        assert_eq!(
            (status, p["reason"].as_str()),
            (401, Some("invalid_token")),
            "{method} {path}: {p}"
        );
        assert!(challenge.unwrap().contains("error=\"invalid_token\""));
        // The hash itself is no token.
        let hash = poort::grants::token_hash(TOKEN);
        let (status, _, _) = call(&w, None, method, path, Some(&hash), body.clone()).await;
        assert_eq!(status, 401, "{method} {path}");
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = anna
            .request(m, format!("{}{path}", w.poort))
            .header("X-CSRF-Token", &csrf);
        if let Some(b) = body {
            request = request.json(b);
        }
        let r = request.send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "{method} {path}: a session opens nothing here"
        );
    }
    // And the token opens none of the session's routes.
    let (status, _, p) = call(&w, None, "GET", "/api/v1/session", Some(TOKEN), None).await;
    assert_eq!(status, 401, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("bearer token does not open"),
        "{p}"
    );
    let (status, _, _) = call(&w, None, "GET", "/api/v1/members", Some(TOKEN), None).await;
    assert_eq!(status, 401);
    // Nothing was registered by any of it.
    assert!(matches!(
        w.registry.sql().organisation_summary("44556677").await,
        Err(WriteError::UnknownOrganisation(_))
    ));

    // With the token: every route, and each refusal with its reason.
    let post = |body: Value| {
        call(
            &w,
            None,
            "POST",
            "/api/v1/operator/organisations",
            Some(TOKEN),
            Some(body),
        )
    };
    let (status, _, p) = post(json!({"kvk": NEW_KVK})).await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (400, Some("malformed_body")),
        "{p}"
    );
    for (body, expect, reason) in [
        (new_organisation("1234", "x@y.example"), 422, "invalid_kvk"),
        (
            new_organisation(NEW_KVK, "no address"),
            422,
            "invalid_email",
        ),
        (
            new_organisation("12345678", "x@y.example"),
            409,
            "duplicate_organisation",
        ),
        (
            json!({"kvk": NEW_KVK, "name": "X", "hoofdbeheerder": {"name": "Y", "email": "y@x.example", "language": "fr"}}),
            422,
            "invalid_language",
        ),
    ] {
        let (status, _, p) = post(body).await;
        assert_eq!(
            (status, p["reason"].as_str()),
            (expect, Some(reason)),
            "{p}"
        );
    }
    let (status, _, made) = post(new_organisation(NEW_KVK, "hanna@nieuw.example")).await;
    assert_eq!(status, 201, "{made}");
    let (status, _, p) = call(
        &w,
        None,
        "GET",
        "/api/v1/operator/organisations/99999999",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (404, Some("unknown_organisation")),
        "{p}"
    );
    let (status, _, p) = call(
        &w,
        None,
        "POST",
        "/api/v1/operator/organisations/99999999/activation/resend",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (404, Some("unknown_organisation")),
        "{p}"
    );

    // The joint-signature setting.
    let (status, _, changed) = call(
        &w,
        None,
        "PUT",
        &format!("{org}/joint-signatures"),
        Some(TOKEN),
        Some(json!({"joint_needs_two": true})),
    )
    .await;
    assert_eq!(
        (status, changed["joint_needs_two"].as_bool()),
        (200, Some(true)),
        "{changed}"
    );
    let (status, _, p) = call(
        &w,
        None,
        "PUT",
        &format!("{org}/joint-signatures"),
        Some(TOKEN),
        Some(json!({"joint_needs_two": "yes"})),
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (400, Some("malformed_body")),
        "{p}"
    );
    assert!(
        w.registry
            .sql()
            .sign_off_policy(NEW_KVK)
            .await
            .unwrap()
            .joint_needs_two
    );

    // The directors: put, read back without dates of birth; a bad extract changes nothing.
    let extract = json!({"representatives": [
        {"given_names": "Hanna", "family_name": "Testpersoon", "date_of_birth": "1980-01-01", "authority": "sole"},
        {"given_names": "Jan Pieter", "family_name": "Berg, van den", "date_of_birth": "1960-06-15", "authority": "joint"},
    ]});
    let (status, _, applied) = call(
        &w,
        None,
        "PUT",
        &format!("{org}/representatives"),
        Some(TOKEN),
        Some(extract),
    )
    .await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        (
            applied["added"].as_u64(),
            applied["items"].as_array().unwrap().len()
        ),
        (Some(2), 2)
    );
    let (status, _, list) = call(
        &w,
        None,
        "GET",
        &format!("{org}/representatives"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["authority"], "joint", "{list}");
    assert_eq!(list["items"][0]["bound"], false);
    let text = list.to_string();
    assert!(
        !text.contains("date_of_birth") && !text.contains("1960"),
        "{text}"
    );
    let bad = json!({"representatives": [
        {"given_names": "Goed", "family_name": "Persoon", "date_of_birth": "1970-01-01", "authority": "sole"},
        {"given_names": "Fout", "family_name": "Datum", "date_of_birth": "1970-02-30", "authority": "sole"},
        {"given_names": "Fout", "family_name": "Soort", "date_of_birth": "1970-01-01", "authority": "alone"},
    ]});
    let (status, _, p) = call(
        &w,
        None,
        "PUT",
        &format!("{org}/representatives"),
        Some(TOKEN),
        Some(bad),
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (422, Some("invalid_date_of_birth")),
        "{p}"
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("row 2") && detail.contains("row 3: authority"),
        "{detail}"
    );
    let (_, _, after) = call(
        &w,
        None,
        "GET",
        &format!("{org}/representatives"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(after, list, "a refused extract changes nothing");
    let (status, _, p) = call(
        &w,
        None,
        "PUT",
        "/api/v1/operator/organisations/99999999/representatives",
        Some(TOKEN),
        Some(json!({"representatives": []})),
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (404, Some("unknown_organisation")),
        "{p}"
    );
}

#[tokio::test]
async fn without_configured_tokens_the_operator_api_is_closed() {
    let w = common::start().await;
    let (status, challenge, p) = call(
        &w,
        None,
        "GET",
        "/api/v1/operator/organisations/12345678",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (401, Some("invalid_token")),
        "{p}"
    );
    assert!(challenge.is_some());
}

// The operator's commands, as built.

/// A config on a fresh SQLite register (with the development seed) in `dir`.
fn cli_config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(common::repo_file("config/poort.toml")).unwrap();
    let mut config: poort::config::Config = toml::from_str(&text).unwrap();
    config.register.database = format!("sqlite://{}", dir.join("register.db").display());
    config.register.seed = Some(common::repo_file("config/grants-dev.toml"));
    config.register.audit_spool = dir.join("audit-spool.jsonl");
    config.mail.outbox_dir = dir.join("mail");
    let path = dir.join("poort.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

/// `poort GROUP --config CONFIG REST…`: (success, stdout, stderr).
fn poort_cli(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let (group, rest) = args.split_first().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_poort"))
        .arg(group)
        .arg("--config")
        .arg(config)
        .args(rest)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn cli_ok(config: &std::path::Path, args: &[&str]) -> String {
    let (ok, out, err) = poort_cli(config, args);
    assert!(ok, "poort {args:?} failed:\n{out}{err}");
    assert!(!err.contains("hanna"), "no personal data in its log: {err}");
    out
}

#[tokio::test]
async fn the_operators_organisation_commands() {
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(dir.path());
    let out = cli_ok(
        &config,
        &[
            "organisations",
            "register",
            "--kvk",
            NEW_KVK,
            "--name",
            "Nieuw Bedrijf B.V.",
            "--hoofdbeheerder-name",
            "Hanna Testpersoon",
            "--hoofdbeheerder-email",
            "hanna@nieuw.example",
            "--language",
            "en",
        ],
    );
    assert!(
        out.contains(&format!(
            "organisation {NEW_KVK} registered, not yet active"
        )),
        "{out}"
    );
    assert!(
        out.contains("activation mail queued") && out.contains("until 20"),
        "{out}"
    );
    assert!(!out.contains("hanna@nieuw.example"), "{out}");
    // The mail waits in the outbox for a running poort's worker, in English, with the link.
    let register = SqlRegister::connect_sqlite(dir.path().join("register.db").to_str().unwrap())
        .await
        .unwrap();
    let outbox = || async {
        let rows: Vec<(String, String, String)> = match register.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_as("SELECT recipient, subject, body FROM mail_outbox ORDER BY id")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            Pool::Postgres(_) => unreachable!(),
        };
        rows
    };
    let queued = outbox().await;
    assert_eq!(queued.len(), 1);
    let (to, subject, body) = &queued[0];
    assert_eq!(to, "hanna@nieuw.example");
    assert_eq!(subject, "Activate Nieuw Bedrijf B.V. for eHerkenning");
    assert!(
        body.contains("/admin/invitation/") && body.contains("until 20"),
        "{body}"
    );

    // Listed and shown with its status.
    let list = cli_ok(&config, &["org", "list"]);
    let line = list.lines().find(|l| l.starts_with(NEW_KVK)).unwrap();
    assert!(line.contains("pending_activation"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("12345678") && l.contains(" active ")),
        "{list}"
    );
    let active = cli_ok(&config, &["org", "list", "--status", "active"]);
    assert!(
        !active.contains(NEW_KVK) && active.contains("12345678"),
        "{active}"
    );
    let json: Value = serde_json::from_str(&cli_ok(&config, &["org", "list", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    let show = cli_ok(&config, &["org", "show", NEW_KVK]);
    assert!(show.contains("status    pending_activation"), "{show}");
    let show = cli_ok(&config, &["org", "show", "12345678"]);
    assert!(show.contains("status    active since"), "{show}");

    // Sent again: a second mail, with another link.
    let out = cli_ok(&config, &["org", "resend-activation", "--kvk", NEW_KVK]);
    assert!(out.contains("a new activation link"), "{out}");
    let queued = outbox().await;
    assert_eq!(queued.len(), 2);
    assert_ne!(queued[0].2, queued[1].2);
    let (ok, _, err) = poort_cli(&config, &["org", "resend-activation", "--kvk", "12345678"]);
    assert!(!ok && err.contains("already active"), "{err}");

    // The signature setting: one of --two and --one.
    cli_ok(
        &config,
        &["org", "joint-signatures", "--kvk", NEW_KVK, "--two"],
    );
    assert!(
        register
            .sign_off_policy(NEW_KVK)
            .await
            .unwrap()
            .joint_needs_two
    );
    let show = cli_ok(&config, &["org", "show", NEW_KVK]);
    assert!(
        show.contains("joint authority needs a second director"),
        "{show}"
    );
    cli_ok(
        &config,
        &["org", "joint-signatures", "--kvk", NEW_KVK, "--one"],
    );
    assert!(
        !register
            .sign_off_policy(NEW_KVK)
            .await
            .unwrap()
            .joint_needs_two
    );
    let (ok, _, _) = poort_cli(&config, &["org", "joint-signatures", "--kvk", NEW_KVK]);
    assert!(!ok, "--two or --one is needed");

    // A token for the operator API and the hash for the config.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_poort"))
        .arg("operator-token")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let words: Vec<&str> = out.split_whitespace().collect();
    let token = words[words.iter().position(|w| w.ends_with("):")).unwrap() + 1];
    assert_eq!(token.len(), 64);
    assert!(
        out.contains(&format!(
            "api_token_sha256 = [\"{}\"]",
            poort::grants::token_hash(token)
        )),
        "{out}"
    );
}
