//! A person's own API, `/api/v1/me` (Mijn poort as JSON), against a running poort, logged in
//! through the development AD: the session and the overview, and the journey (asking,
//! withdrawing, the approvals list, approving lowered, declining, expiry) with the refusals on
//! its way by their reason codes, on SQLite and on PostgreSQL; the admin module's session does
//! not open these operations, nor Mijn poort's the admin module's. Asking's refusals, the
//! approvals' pages, others' requests and who signs: tests/api_me_signing.rs.

mod common;

use common::me_api::*;
use common::World;
use serde_json::{json, Value};

/// The world on a fresh PostgreSQL database (dropped with the guard).
async fn world_on_postgres() -> (World, common::cluster::FreshPostgres) {
    let pg = common::cluster::FreshPostgres::create();
    let url = pg.url.clone();
    let w = common::start_prepared(move |_, config| config.register.database = url).await;
    (w, pg)
}

#[tokio::test]
async fn without_a_mijn_session_every_operation_answers_401_and_sessions_do_not_cross() {
    let w = common::start().await;
    let doc: Value = common::client()
        .get(format!("{}/api/v1/openapi.json", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["mijn_session"],
        json!({"type": "apiKey", "in": "cookie", "name": "poort_mijn"})
    );
    let mine: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| *p == "/api/v1/me" || p.starts_with("/api/v1/me/"))
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .iter()
                .map(|(m, op)| {
                    assert_eq!(op["security"], json!([{"mijn_session": []}]), "{m} {p}");
                    (m.to_uppercase(), p.replace("{id}", "x"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(mine.len(), 9, "{mine:?}");

    // The admin module's session: anna, hoofdbeheerder of the Bakkerij, in the admin module.
    let (admin, admin_csrf) = common::admin_session(&w, "anna").await;
    // Mijn poort's session of eva.
    let eva = log_in(&w, "eva", "EH3").await;
    for (method, path) in &mine {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = format!("{}{path}", w.poort);
        let anonymous = answer(common::client().request(method.clone(), &url)).await;
        refused(&anonymous, 401, "not_logged_in");
        assert_eq!(anonymous.1["type"], "/api/v1/problems/unauthenticated");
        let with_admin_cookie = answer(
            admin
                .request(method.clone(), &url)
                .header("X-CSRF-Token", &admin_csrf),
        )
        .await;
        refused(&with_admin_cookie, 401, "not_logged_in");
    }
    // And the other way: Mijn poort's session opens nothing of the admin module.
    for path in ["/api/v1/session", "/api/v1/members", "/api/v1/grants"] {
        let (status, p) = eva.get(path).await;
        assert_eq!(
            (status, p["type"].as_str()),
            (401, Some("/api/v1/problems/unauthenticated")),
            "{path}: {p}"
        );
    }
    let (status, _) = eva
        .post_with(
            "/api/v1/grants/g-anna-bakkerij/revoke",
            Value::Null,
            Some(&eva.csrf),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_person_sees_their_session_and_overview() {
    let w = common::start().await;
    let eva = log_in(&w, "eva", "EH2+").await;
    let (status, me) = eva.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&me["person"], &me["name"], &me["level"]),
        (&json!("eva"), &json!("Eva Smit"), &json!("EH2+")),
        "{me}"
    );
    assert_eq!(me["csrf_token"], eva.csrf.as_str());

    let id = eva.ask(grant_body(BAKKERIJ, service(S1), "EH2+", 1)).await;
    let (status, o) = eva.get("/api/v1/me/overview").await;
    assert_eq!(status, 200, "{o}");
    let memberships = o["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1, "{o}");
    assert_eq!(memberships[0]["organisation"]["kvk"], BAKKERIJ);
    assert_eq!(memberships[0]["roles"], json!(["gebruiker"]));
    assert_eq!(memberships[0]["active"], true);
    let grants = o["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{o}");
    assert_eq!(
        (
            &grants[0]["id"],
            &grants[0]["status"],
            &grants[0]["organisation"]["kvk"]
        ),
        (
            &json!("g-eva-bakkerij"),
            &json!("revoked"),
            &json!(BAKKERIJ)
        )
    );
    assert_eq!(o["requests"][0]["id"], id.as_str(), "{o}");
    assert_eq!(o["to_sign"], 0);
    assert!(o["logins"].is_array() && o["concerning"].is_array());

    // anna sees the request waiting for her.
    let anna = log_in(&w, "anna", "EH3").await;
    let (_, o) = anna.get("/api/v1/me/overview").await;
    assert_eq!(o["to_sign"], 1, "{o}");
    let kvks: Vec<&str> = o["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["organisation"]["kvk"].as_str().unwrap())
        .collect();
    assert_eq!(kvks, [BAKKERIJ, VAN_DIJK]);
}

/// Ask, see, withdraw, approve lowered, decline, expire: each step and each refusal.
async fn journey(w: &World) {
    common::execute_sql(
        w.registry.sql().pool(),
        "UPDATE persons SET email = id || '@bakkerij.example', language = 'nl'",
    )
    .await;
    let eva = log_in(w, "eva", "EH3").await;
    let anna = log_in(w, "anna", "EH3").await;

    // eva asks for service 1 at EH3 for a year.
    let (status, asked) = eva
        .post(
            "/api/v1/me/requests",
            grant_body(BAKKERIJ, service(S1), "EH3", 1),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().unwrap().to_string();
    assert_eq!(
        (
            &asked["kind"],
            &asked["state"],
            &asked["level"],
            &asked["validity_years"]
        ),
        (&json!("grant"), &json!("open"), &json!("EH3"), &json!(1)),
        "{asked}"
    );
    assert_eq!(asked["scopes"], json!([{"kind": "service", "uuid": S1}]));
    assert_eq!(asked["organisation"]["kvk"], BAKKERIJ);
    assert_eq!(asked["requester"], "eva");
    assert_eq!(asked["motivation"], "Voor de btw-aangifte");
    // Those who may sign are mailed, as when asked on the page.
    common::deliver_mail(w).await;
    let mailbox = common::page(&common::client(), format!("{}/dev/mailbox", w.poort)).await;
    assert!(mailbox.contains("Aanvraag om te tekenen"), "{mailbox}");
    assert!(mailbox.contains("anna@bakkerij.example"), "{mailbox}");

    let (_, mine) = eva.get("/api/v1/me/requests").await;
    assert_eq!(mine["items"][0]["id"], id.as_str(), "{mine}");
    let (status, one) = eva.get(&format!("/api/v1/me/requests/{id}")).await;
    assert_eq!((status, &one["id"]), (200, &json!(id)));

    // Nobody signs their own.
    let approve = format!("/api/v1/me/approvals/{id}/approve");
    let decline = format!("/api/v1/me/approvals/{id}/decline");
    refused(&eva.post(&approve, Value::Null).await, 403, "own_request");
    refused(
        &eva.post(&decline, json!({"reason": "toch niet"})).await,
        403,
        "own_request",
    );

    // anna, hoofdbeheerder at EH3, sees it to sign.
    let (status, page) = anna.get("/api/v1/me/approvals").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (&page["total"], &page["items"][0]["id"]),
        (&json!(1), &json!(id))
    );
    assert!(page["next"].is_null(), "{page}");
    let (status, seen) = anna.get(&format!("/api/v1/me/requests/{id}")).await;
    assert_eq!((status, &seen["requester_name"]), (200, &json!("Eva Smit")));
    // Above her own level, raised, values that are no level or validity, no reason: refused,
    // the request still open.
    refused(
        &anna.post(&approve, json!({"level": "EH4"})).await,
        403,
        "above_own_level",
    );
    refused(
        &anna.post(&approve, json!({"validity_years": 3})).await,
        422,
        "raised",
    );
    refused(
        &anna.post(&approve, json!({"level": "EH9"})).await,
        422,
        "invalid_level",
    );
    refused(
        &anna.post(&approve, json!({"validity_years": 2})).await,
        422,
        "invalid_validity",
    );
    refused(&anna.post(&decline, json!({})).await, 422, "no_reason");
    refused(
        &anna.post(&decline, json!({"reason": "  "})).await,
        422,
        "no_reason",
    );
    let (status, p) = anna.post(&approve, json!({"levle": "EH2"})).await;
    assert_eq!(
        (status, &p["type"]),
        (400, &json!("/api/v1/problems/invalid"))
    );
    // Without the CSRF token, or with another: refused before anything is looked at.
    refused(
        &anna.post_with(&approve, Value::Null, None).await,
        403,
        "csrf_token",
    );
    refused(
        &anna.post_with(&approve, Value::Null, Some(&eva.csrf)).await,
        403,
        "csrf_token",
    );
    let (_, still) = anna.get(&format!("/api/v1/me/requests/{id}")).await;
    assert_eq!(still["state"], "open", "{still}");

    // Approved, lowered to EH2+: the grant is made.
    let (status, signed) = anna.post(&approve, json!({"level": "EH2+"})).await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["outcome"], "approved");
    assert_eq!(
        (
            &signed["request"]["state"],
            &signed["request"]["granted_level"],
            &signed["request"]["granted_validity_years"],
            &signed["request"]["decided_by"]
        ),
        (
            &json!("approved"),
            &json!("EH2+"),
            &json!(1),
            &json!("person:anna")
        ),
        "{signed}"
    );
    let made = signed["grants"][0].as_str().unwrap().to_string();
    let (_, o) = eva.get("/api/v1/me/overview").await;
    let grant = o["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == made.as_str())
        .unwrap_or_else(|| panic!("{made} not among eva's grants: {o}"));
    assert_eq!(
        (&grant["level"], &grant["status"], &grant["scope"]["uuid"]),
        (&json!("EH2+"), &json!("active"), &json!(S1))
    );
    // Decided once.
    refused(
        &anna.post(&approve, Value::Null).await,
        409,
        "request_not_pending",
    );
    refused(
        &eva.post(&format!("/api/v1/me/requests/{id}/withdraw"), Value::Null)
            .await,
        409,
        "request_not_pending",
    );

    // The same grant again: approving it would give what she holds.
    let again = eva.ask(grant_body(BAKKERIJ, service(S1), "EH2+", 1)).await;
    refused(
        &anna
            .post(
                &format!("/api/v1/me/approvals/{again}/approve"),
                Value::Null,
            )
            .await,
        409,
        "duplicate_grant",
    );

    // Withdrawn by eva; not by anna, for whom it is not among her own.
    let second = eva
        .ask(grant_body(BAKKERIJ, json!({"all": true}), "EH2", 5))
        .await;
    let withdraw = format!("/api/v1/me/requests/{second}/withdraw");
    refused(
        &anna.post(&withdraw, Value::Null).await,
        404,
        "request_unknown",
    );
    let (status, w2) = eva.post(&withdraw, Value::Null).await;
    assert_eq!((status, &w2["state"]), (200, &json!("withdrawn")), "{w2}");
    refused(
        &eva.post(&withdraw, Value::Null).await,
        409,
        "request_not_pending",
    );

    // Declined with a reason, which eva reads.
    let third = eva.ask(grant_body(BAKKERIJ, service(S2), "EH2", 3)).await;
    let (status, d) = anna
        .post(
            &format!("/api/v1/me/approvals/{third}/decline"),
            json!({"reason": "Niet nodig voor uw functie"}),
        )
        .await;
    assert_eq!((status, &d["outcome"]), (200, &json!("declined")), "{d}");
    let (_, seen) = eva.get(&format!("/api/v1/me/requests/{third}")).await;
    assert_eq!(
        (&seen["state"], &seen["reason"]),
        (&json!("declined"), &json!("Niet nodig voor uw functie"))
    );

    // A request made 31 days ago has expired: neither signed nor withdrawn.
    let new = poort::grants::NewRequest {
        organisation: BAKKERIJ.into(),
        kind: poort::domain::request::RequestKind::Grant {
            scopes: vec![poort::grants::Scope::AllServices],
            level: poort::domain::level::Level::Eh2,
            validity: poort::domain::request::Validity::OneYear,
        },
        motivation: None,
    };
    let then = chrono::Utc::now() - chrono::TimeDelta::days(31);
    let (old, _) = w
        .registry
        .sql()
        .ask("eva", &new, &w.config.services, then)
        .await
        .unwrap();
    let old = old.request.id;
    let (_, seen) = eva.get(&format!("/api/v1/me/requests/{old}")).await;
    assert_eq!(seen["state"], "expired", "{seen}");
    refused(
        &anna
            .post(&format!("/api/v1/me/approvals/{old}/approve"), Value::Null)
            .await,
        409,
        "request_expired",
    );
    refused(
        &eva.post(&format!("/api/v1/me/requests/{old}/withdraw"), Value::Null)
            .await,
        409,
        "request_expired",
    );
    let (_, page) = anna.get("/api/v1/me/approvals").await;
    let waiting: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(waiting, [again.as_str()], "{page}");
}

#[tokio::test]
async fn asking_withdrawing_and_signing_off_on_sqlite() {
    let w = common::start().await;
    journey(&w).await;
}

#[tokio::test]
async fn asking_withdrawing_and_signing_off_on_postgres() {
    let (w, _pg) = world_on_postgres().await;
    journey(&w).await;
}
