//! No personal data in any log line, error texts included. poort's own log lines (JSON, as
//! `poort::telemetry::init` writes them to standard output in production) are captured over
//! whole test worlds while people log in (SAML by redirect and POST, SAML by artifact, refused,
//! with the organisation choice, as an OIDC client's login, and through an OIDC AD whose
//! userinfo names another subject), administrators change contact data, invite, block and
//! revoke (mail delivered, and mail failing at an unreachable SMTP server), a register write is
//! refused because the identity is already linked, a person asks for a grant in their own API
//! and an administrator signs it off, and bad requests arrive. Then:
//! - every line is one JSON object with time, level, target and message;
//! - no line holds a test person's name, e-mail address or AD subject (the lists come from
//!   `config/grants-dev.toml`, the development AD's `TEST_PERSONS`, the OIDC AD's subjects and
//!   what this test types), any e-mail address at all, or a raw SAML message;
//! - the lines that say what happened are there, so the test cannot pass by capturing nothing.
//!
//! The worlds' register is seeded from a copy of `config/grants-dev.toml` whose person and grant
//! IDs are UUIDs, as in production: the development file's person IDs equal the persons' AD
//! subjects, so a register ID in a log line (allowed) could not be told from a subject (not).

mod actions;
mod capture;
#[path = "../common/mod.rs"]
mod common;
mod personal;
mod worlds;

use common::oidc_ad::TestAd;
use common::{client, submit_at, World};
use poort::config::{Config, LogConfig, LogFormat, OidcClientConfig};
use poort::telemetry::LogTarget;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actions::*;
use capture::*;
use personal::*;
use worlds::*;

// ---------------------------------------------------------------------------------------------
// The scenario.

/// The SAML world (redirect and POST bindings, the demo peers the harness uses), with an OIDC
/// client: logins, refusals, the admin module and its mail, bad requests.
async fn saml_world(typed: &mut Personal) {
    let mut ids = Ids::default();
    let w = common::start_prepared(|p, config| {
        ids = on_uuid_seed(p, config);
        config.oidc_clients = vec![oidc_client()];
    })
    .await;

    // Logins: the organisation choice (anna), allowed at once (bram, service 2), refused
    // (carla: expired; daan: no grant; femke: blocked).
    let c = client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 1, "redirect").await;
    let r = common::through_ad(&c, &ad_page, "anna", "EH3").await;
    assert!(
        r.url().path().starts_with("/login/organisation"),
        "{}",
        r.url()
    );
    let choice = r.text().await.unwrap();
    let answer = submit_at(&c, &w.poort, &choice, &[("organisation", "12345678")]).await;
    let v = common::to_dv(&c, &answer.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    let c = client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 2, "post").await;
    let r = common::through_ad(&c, &ad_page, "bram", "EH2+").await;
    let v = common::to_dv(&c, &r.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    // bram logs out at the DV: DV -> poort -> AD -> poort -> DV (single log-out).
    let logout = format!(
        "{}/logout?name_id={}&session_index={}",
        w.dv,
        v["name_id"].as_str().unwrap(),
        v["session_index"].as_str().unwrap()
    );
    let page = c.get(logout).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Uitgelogd"), "{page}");
    for person in ["carla", "daan", "femke"] {
        let (status, _) = saml_login(&w, person, 1, "redirect").await;
        assert!(status >= 400, "{person} was not refused: {status}");
    }

    // An OIDC client's login (anna, the organisation chosen), its code redeemed, userinfo read.
    let (plain, follow) = common::browser();
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let url = common::oidc_rp::authorize_url(&w.poort, RP, RP_CB, &pkce);
    let location = common::oidc_rp::walk(
        (&plain, &follow),
        &w.poort,
        &url,
        ("anna", "EH3"),
        Some("87654321"),
    )
    .await;
    let code = common::oidc_rp::param(&location, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = common::oidc_rp::token(&w, &form, Some((RP, RP_SECRET))).await;
    assert_eq!(status, 200, "{tokens}");
    let info = reqwest::Client::new()
        .get(format!("{}/oidc/userinfo", w.poort))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    // The same code again: refused.
    let (status, _) = common::oidc_rp::token(&w, &form, Some((RP, RP_SECRET))).await;
    assert_eq!(status, 400);
    // anna logs out at the client (RP-initiated, with her ID token): through the AD.
    let out = format!(
        "{}/oidc/logout?id_token_hint={}",
        w.poort,
        tokens["id_token"].as_str().unwrap()
    );
    let page = follow.get(out).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("U bent uitgelogd"), "{page}");

    // The admin module: anna, hoofdbeheerder of the Bakkerij.
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    let admin = Admin {
        w: &w,
        c: &anna,
        csrf: &csrf,
    };
    let put = |typed: &mut Personal, name: &str, email: &str| {
        typed.names.push(name.to_string());
        typed.emails.push(email.to_string());
    };
    // Contact data of the organisation: a person's name and address.
    put(
        typed,
        "Annemarie Contactpersoon",
        "contact.persoon@bakkerij.example",
    );
    let body = json!({"contact_name": "Annemarie Contactpersoon",
                      "contact_email": "contact.persoon@bakkerij.example"});
    let (status, p) = api(&admin, Method::PATCH, "/api/v1/organisation", Some(body)).await;
    assert_eq!(status, 200, "{p}");
    // eva gets an e-mail address, is blocked (a notice) and unblocked; her revoked grant is
    // reactivated and revoked again (a notice).
    let eva = ids.of("eva");
    put(typed, "Eva Smit", "eva.smit@bakkerij.example");
    let body = json!({"name": "Eva Smit", "email": "eva.smit@bakkerij.example"});
    let path = format!("/api/v1/members/{eva}");
    let (status, p) = api(&admin, Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 200, "{p}");
    for action in ["block", "unblock"] {
        let path = format!("/api/v1/members/{eva}/{action}");
        let (status, p) = api(&admin, Method::POST, &path, None).await;
        assert_eq!(status, 200, "{action}: {p}");
    }
    let grant = ids.of("g-eva-bakkerij");
    for action in ["reactivate", "revoke"] {
        let path = format!("/api/v1/grants/{grant}/{action}");
        let (status, p) = api(&admin, Method::POST, &path, None).await;
        assert_eq!(status, 200, "{action}: {p}");
    }
    // Bad input: an address that is none, a body that is no JSON, a duplicate address.
    put(typed, "Eva Smit-de Wit", "eva smit at bakkerij");
    let body = json!({"name": "Eva Smit-de Wit", "email": "eva smit at bakkerij"});
    let (status, p) = api(&admin, Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 422, "{p}");
    let r = anna
        .post(format!("{}/api/v1/invitations", w.poort))
        .header("X-CSRF-Token", &csrf)
        .header("Content-Type", "application/json")
        .body(r#"{"name": "Eva Smit", "email": "eva.smit@bakkerij.example""#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    put(typed, "Gijs de Boer", "gijs.deboer@bakkerij.example");
    let gijs = json!({"name": "Gijs de Boer", "email": "gijs.deboer@bakkerij.example",
                      "language": "nl", "roles": ["gebruiker"]});
    let (status, p) = api(&admin, Method::POST, "/api/v1/invitations", Some(gijs)).await;
    assert_eq!(status, 201, "{p}");
    let again = json!({"name": "Gijs de Boer", "email": "GIJS.DEBOER@bakkerij.example",
                       "roles": ["gebruiker"]});
    let (status, p) = api(&admin, Method::POST, "/api/v1/invitations", Some(again)).await;
    assert_eq!(status, 409, "{p}");
    // The same through the admin pages: an invitation form with a bad address, the users list,
    // eva's page.
    let form = common::page(&anna, format!("{}/admin/users/new", w.poort)).await;
    let page_csrf = common::form(&form).1["csrf"].clone();
    put(typed, "Hanna Hendriks", "hanna.hendriks@@bakkerij");
    let r = anna
        .post(format!("{}/admin/users/new", w.poort))
        .form(&[
            ("csrf", page_csrf.as_str()),
            ("name", "Hanna Hendriks"),
            ("email", "hanna.hendriks@@bakkerij"),
            ("role", "gebruiker"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    for page in ["/admin/users", &format!("/admin/users/{eva}")] {
        let r = anna.get(format!("{}{page}", w.poort)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
    }

    // The invitation link: anna's identity is already linked to her (the register refuses),
    // then gijs accepts it.
    let link = common::invitation_link(&w, "gijs.deboer@bakkerij.example").await;
    let (status, page) = follow_invitation(&link, "anna").await;
    assert_eq!(status, 409, "{page}");
    let (status, page) = follow_invitation(&link, "gijs").await;
    assert_eq!(status, 200, "{page}");

    // Bad requests: no SAMLRequest, a SAMLRequest that is none, an unknown OIDC client, an
    // invitation link that is none.
    for path in [
        "/saml/sso".to_string(),
        "/saml/sso?SAMLRequest=bm90IGEgcmVxdWVzdA%3D%3D".to_string(),
        format!("/oidc/authorize?client_id=nobody&redirect_uri={RP_CB}&response_type=code"),
        "/admin/invitation/not-a-token".to_string(),
    ] {
        let r = client()
            .get(format!("{}{path}", w.poort))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }

    // A person's own API (/api/v1/me): eva asks twice (her motivation names someone else), may
    // not sign her own and may not ask where she is no member; anna approves one, lowered, and
    // declines the other with a reason naming someone.
    let (eva_mijn, eva_csrf) = common::mijn_session(&w, "eva", "EH3").await;
    let (anna_mijn, anna_csrf) = common::mijn_session(&w, "anna", "EH3").await;
    let eva_me = Admin {
        w: &w,
        c: &eva_mijn,
        csrf: &eva_csrf,
    };
    let anna_me = Admin {
        w: &w,
        c: &anna_mijn,
        csrf: &anna_csrf,
    };
    put(typed, "Joost Motivatie", "joost.motivatie@bakkerij.example");
    let ask = |kvk: &str| {
        json!({"kind": "grant", "organisation": kvk, "scope": {"all": true}, "level": "EH3",
               "validity_years": 1,
               "motivation": "Zoals Joost Motivatie (joost.motivatie@bakkerij.example) vroeg"})
    };
    let mut asked = Vec::new();
    for _ in 0..2 {
        let (status, p) = api(
            &eva_me,
            Method::POST,
            "/api/v1/me/requests",
            Some(ask("12345678")),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        asked.push(p["id"].as_str().unwrap().to_string());
    }
    let (status, p) = api(
        &eva_me,
        Method::POST,
        "/api/v1/me/requests",
        Some(ask("87654321")),
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (422, Some("holder_in_other_organisation")),
        "{p}"
    );
    let approve = format!("/api/v1/me/approvals/{}/approve", asked[0]);
    let (status, p) = api(&eva_me, Method::POST, &approve, None).await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (403, Some("own_request")),
        "{p}"
    );
    let (status, p) = api(
        &anna_me,
        Method::POST,
        &approve,
        Some(json!({"level": "EH2+"})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    let decline = format!("/api/v1/me/approvals/{}/decline", asked[1]);
    let reason = json!({"reason": "Vraag het Joost Motivatie"});
    let (status, p) = api(&anna_me, Method::POST, &decline, Some(reason)).await;
    assert_eq!(status, 200, "{p}");
    let (status, p) = api(&eva_me, Method::GET, "/api/v1/me/overview", None).await;
    assert_eq!(status, 200, "{p}");

    // Logging out.
    let r = anna
        .post(format!("{}/admin/logout", w.poort))
        .form(&[("csrf", page_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    common::deliver_mail(&w).await;
}

/// The world whose demo peers speak the Artifact binding: an allowed login (with the
/// organisation choice) and a refused one.
async fn artifact_world() {
    let w = common::start_with_bindings(poort::demo::DemoBindings::Artifact, |p, config| {
        on_uuid_seed(p, config);
    })
    .await;
    let (c, r) = artifact_login(&w, "anna").await;
    assert_eq!(r.url().path(), "/login/organisation");
    let choice = r.text().await.unwrap();
    let r = submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")]).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], true, "{v}");
    let (_, r) = artifact_login(&w, "carla").await;
    assert!(!r.status().is_server_error(), "{}", r.status());
}

/// In the Artifact world a new browser, asking for JSON, logs in to service 1 as `person` at
/// EH3: the browser, and where the AD's answer led it.
async fn artifact_login(w: &World, person: &str) -> (reqwest::Client, reqwest::Response) {
    let c = common::asking_json().build().unwrap();
    let ad_page = common::dv_to_ad(&c, &w.dv, 1, "artifact").await;
    let r = common::log_in_at_ad(&c, &ad_page, person, "EH3").await;
    (c, r)
}

/// The world with an OIDC AD beside the development AD (userinfo asked): a SAML DV's login
/// through it, then one whose userinfo names another subject.
async fn oidc_ad_world() {
    let ad = TestAd::start().await;
    let mut provider = ad.config();
    provider.userinfo = true;
    let mut ids = Ids::default();
    let w = common::start_prepared(|p, config| {
        ids = on_uuid_seed(p, config);
        config.oidc_providers = vec![provider];
    })
    .await;
    let operator = poort::grants::Actor::Operator("test".into());
    for person in ["anna", "daan"] {
        let sql = w.registry.sql();
        w.registry
            .write(sql.link_person(
                &operator,
                ids.of(person),
                None,
                &ad.issuer,
                &oidc_subject(person),
            ))
            .await
            .unwrap();
    }
    let (c, r) = via_oidc_ad(&w, &ad).await;
    assert!(
        r.url().path().starts_with("/login/organisation"),
        "{}",
        r.url()
    );
    let choice = r.text().await.unwrap();
    let answer = submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")]).await;
    let v = common::to_dv(&c, &answer.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    ad.set(|c| c.userinfo_subject = Some(oidc_subject("daan")));
    let (_, r) = via_oidc_ad(&w, &ad).await;
    assert!(!r.status().is_success(), "{}", r.status());
}

/// A SAML DV's login (service 1) with the OIDC AD chosen: poort's page after the AD's answer.
async fn via_oidc_ad(w: &World, ad: &TestAd) -> (reqwest::Client, reqwest::Response) {
    let c = client();
    let page = common::page(&c, format!("{}/login?service=1&binding=redirect", w.dv)).await;
    assert!(
        page.contains("name=\"idp\""),
        "choice page expected: {page}"
    );
    let r = submit_at(&c, &w.poort, &page, &[("idp", ad.issuer.as_str())]).await;
    (c, r)
}

/// Mail to an SMTP server nobody listens on: the attempt fails, the mail waits.
async fn failing_mail(typed: &mut Personal) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("register.db").display());
    let register = poort::grants::registry::connect_database(&url)
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = poort::config::MailConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        send_timeout_seconds: 5,
        outbox_dir: dir.path().join("mail"),
        ..Default::default()
    };
    let mailer = poort::mail::Mailer::new(register.pool().clone());
    let metrics = std::sync::Arc::new(poort::metrics::Metrics::default());
    let worker = mailer.worker(&config, "privacy-worker", metrics).unwrap();
    typed.names.push("Bram Jansen".into());
    typed.emails.push("bram.jansen@groendak.example".into());
    mailer
        .enqueue(&poort::mail::Mail {
            to_name: Some("Bram Jansen".into()),
            to: "bram.jansen@groendak.example".into(),
            subject: "Toegang geblokkeerd".into(),
            body: "Beste Bram Jansen, …".into(),
        })
        .await
        .unwrap();
    assert_eq!(worker.deliver_due(chrono::Utc::now()).await.unwrap(), 0);
    assert_eq!(worker.counts().await.unwrap().queued, 1);
}

async fn scenario() -> Personal {
    let mut typed = Personal::default();
    saml_world(&mut typed).await;
    artifact_world().await;
    oidc_ad_world().await;
    failing_mail(&mut typed).await;
    // Log lines of work still under way (audit writes, grant uses) get a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    typed
}

// ---------------------------------------------------------------------------------------------
// The test.

#[test]
fn no_personal_data_in_any_log_line() {
    // poort's level, not the caller's: the lines this test expects are at info and below.
    std::env::remove_var("RUST_LOG");
    let dir = tempfile::tempdir().unwrap();
    let capture = Captured::start(dir.path());
    // Every level of poort's own (telemetry's debug lines included: they once waited for the
    // request's correlation while holding it).
    let log = LogConfig {
        format: LogFormat::Json,
        level: "info,poort=trace".into(),
    };
    let installed = poort::telemetry::init(&log, None, LogTarget::Stdout);
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        installed.expect("the only subscriber of this test binary");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let typed = runtime.block_on(scenario());
        runtime.shutdown_timeout(Duration::from_secs(5));
        typed
    }));
    let text = capture.stop();
    let typed = match ran {
        Ok(typed) => typed,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let mut personal = Personal::of_the_worlds();
    personal.names.extend(typed.names);
    personal.emails.extend(typed.emails);

    // Every line is one JSON object in poort's shape.
    let started = Instant::now();
    let mut lines = Vec::new();
    // The test harness's own notes ("test … has been running for over 60 seconds") share the
    // descriptor.
    let harness = |l: &str| l.starts_with("test ") && l.ends_with(" seconds");
    for line in text.lines().filter(|l| !l.trim().is_empty() && !harness(l)) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for key in ["time", "level", "target", "message"] {
            assert!(v.get(key).is_some(), "no {key}: {line}");
        }
        lines.push((line, v));
    }

    // None holds personal data.
    let offending: Vec<String> = lines
        .iter()
        .filter_map(|(line, _)| {
            let why = personal.offences(line);
            (!why.is_empty()).then(|| format!("{}:\n    {line}", why.join(", ")))
        })
        .collect();
    assert!(
        offending.is_empty(),
        "{} of {} log lines hold personal data:\n{}",
        offending.len(),
        lines.len(),
        offending.join("\n")
    );

    // And what happened is there.
    let has = |message: &str, field: Option<(&str, &str)>| {
        lines.iter().any(|(_, v)| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
                && field.is_none_or(|(k, want)| {
                    v["fields"][k]
                        .as_str()
                        .is_some_and(|got| got.contains(want))
                })
        })
    };
    let expected: &[(&str, Option<(&str, &str)>)] = &[
        ("login started", Some(("service", "services:1"))),
        ("login allowed", Some(("pseudonym", ""))),
        ("login refused", Some(("reason", "grant_expired"))),
        ("login refused", Some(("reason", "no_grant"))),
        ("login refused", Some(("reason", "holder_blocked"))),
        ("login allowed (OpenID Connect)", None),
        ("login stopped", Some(("error", "userinfo"))),
        ("login stopped", Some(("error", "malformed"))),
        ("artifact resolved", None),
        ("admin session opened", Some(("organisation", "12345678"))),
        ("invitation not accepted", Some(("reason", "link_taken"))),
        ("invitation accepted", None),
        ("admin session closed", None),
        ("request made", Some(("organisation", "12345678"))),
        ("request signed", Some(("outcome", "approved"))),
        ("request signed", Some(("outcome", "declined"))),
        ("api me: refused", Some(("reason", "own_request"))),
        ("mail not sent, will try again", None),
    ];
    let missing: Vec<String> = expected
        .iter()
        .filter(|(m, f)| !has(m, *f))
        .map(|(m, f)| format!("{m:?} {f:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "expected log lines are missing: {missing:?}\nof {} lines:\n{text}",
        lines.len()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
