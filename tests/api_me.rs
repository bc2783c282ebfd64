//! A person's own API, `/api/v1/me` (Mijn poort as JSON), against a running poort, logged in
//! through the development AD: the session and the overview, asking (grant, link, renewal),
//! withdrawing, the approvals list with its cursor, approving (lowered) and declining, and every
//! refusal by its reason code; another person's or organisation's request answers exactly as
//! one that does not exist; the admin module's session does not open these operations, nor
//! Mijn poort's the admin module's. The whole journey runs on SQLite and on PostgreSQL.

mod common;

use common::World;
use serde_json::{json, Value};

const BAKKERIJ: &str = "12345678";
const VAN_DIJK: &str = "87654321";
const GROEN_DAK: &str = "11223344";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const S2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";

/// A person logged in to Mijn poort.
struct Person {
    c: reqwest::Client,
    csrf: String,
    poort: String,
}

async fn log_in(w: &World, person: &str, level: &str) -> Person {
    let (c, csrf) = common::mijn_session(w, person, level).await;
    Person {
        c,
        csrf,
        poort: w.poort.clone(),
    }
}

async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let problem = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    let text = r.text().await.unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    assert_eq!(problem, status >= 400, "{status}: {value}");
    (status, value)
}

impl Person {
    async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.c.get(format!("{}{path}", self.poort))).await
    }

    /// A change with the session's CSRF token; `body` as JSON unless `Null` (no body).
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_with(path, body, Some(&self.csrf.clone())).await
    }

    async fn post_with(&self, path: &str, body: Value, csrf: Option<&str>) -> (u16, Value) {
        let mut r = self.c.post(format!("{}{path}", self.poort));
        if let Some(t) = csrf {
            r = r.header("X-CSRF-Token", t);
        }
        if !body.is_null() {
            r = r.json(&body);
        }
        answer(r).await
    }

    async fn ask(&self, body: Value) -> String {
        let (status, made) = self.post("/api/v1/me/requests", body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_string()
    }
}

/// The answer is a problem with this status and reason code.
#[track_caller]
fn refused(answer: &(u16, Value), status: u16, reason: &str) {
    let (got, p) = answer;
    assert_eq!((*got, p["reason"].as_str()), (status, Some(reason)), "{p}");
    assert_eq!(p["status"], *got, "{p}");
    assert!(
        p["reference"].as_str().is_some_and(|r| !r.is_empty()),
        "{p}"
    );
}

/// A problem without its reference number (which differs every time).
fn without_reference(p: &Value) -> Value {
    let mut p = p.clone();
    p.as_object_mut().unwrap().remove("reference");
    p
}

fn grant_body(kvk: &str, scope: Value, level: &str, years: u32) -> Value {
    json!({"kind": "grant", "organisation": kvk, "scope": scope, "level": level,
           "validity_years": years, "motivation": "Voor de btw-aangifte"})
}

fn service(uuid: &str) -> Value {
    json!({"services": [uuid]})
}

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

#[tokio::test]
async fn every_refusal_of_asking_names_its_reason() {
    let w = common::start().await;
    let eva = log_in(&w, "eva", "EH3").await;
    let anna = log_in(&w, "anna", "EH3").await;
    let ask = "/api/v1/me/requests";

    // A link to Van Dijk, once; not to her own organisation.
    let link = json!({"kind": "link", "organisation": VAN_DIJK, "motivation": "Ik werk ook daar"});
    let (status, made) = eva.post(ask, link.clone()).await;
    assert_eq!((status, &made["kind"]), (201, &json!("link")), "{made}");
    refused(&eva.post(ask, link).await, 409, "duplicate_request");
    refused(
        &eva.post(ask, json!({"kind": "link", "organisation": BAKKERIJ}))
            .await,
        409,
        "duplicate_member",
    );
    // Grants only where she belongs.
    refused(
        &eva.post(ask, grant_body(VAN_DIJK, service(S1), "EH2", 1))
            .await,
        422,
        "holder_in_other_organisation",
    );
    // An organisation whose hoofdbeheerder has not logged in yet.
    common::execute_sql(
        w.registry.sql().pool(),
        &format!("UPDATE organisations SET activated_at = NULL WHERE kvk = '{GROEN_DAK}'"),
    )
    .await;
    refused(
        &eva.post(ask, json!({"kind": "link", "organisation": GROEN_DAK}))
            .await,
        409,
        "organisation_not_active",
    );
    // What the catalogue does not hold, organisations that do not exist, numbers that are none.
    let other_service = "5a1d3b0e-8c9f-4f5e-9b1a-00000000ffff";
    for (body, status, reason) in [
        (
            grant_body(BAKKERIJ, service(other_service), "EH2", 1),
            422,
            "unknown_service",
        ),
        (
            grant_body(BAKKERIJ, json!({"provider": "urn:nobody"}), "EH2", 1),
            422,
            "unknown_provider",
        ),
        (
            json!({"kind": "link", "organisation": "99999999"}),
            422,
            "unknown_organisation",
        ),
        (
            json!({"kind": "link", "organisation": "1234"}),
            422,
            "invalid_kvk",
        ),
        (json!({"kind": "link"}), 422, "empty"),
        (
            json!({"kind": "grant", "organisation": BAKKERIJ, "level": "EH2", "validity_years": 1}),
            422,
            "empty",
        ),
        (
            grant_body(BAKKERIJ, json!({"all": true, "services": [S1]}), "EH2", 1),
            422,
            "scope",
        ),
        (
            grant_body(BAKKERIJ, json!({"services": []}), "EH2", 1),
            422,
            "scope",
        ),
        (
            grant_body(BAKKERIJ, service(S1), "EH1", 1),
            422,
            "invalid_level",
        ),
        (
            grant_body(BAKKERIJ, service(S1), "EH2", 2),
            422,
            "invalid_validity",
        ),
        (
            json!({"kind": "link", "organisation": VAN_DIJK, "level": "EH2"}),
            422,
            "unexpected_field",
        ),
        (
            json!({"kind": "renewal", "grant": "g-eva-bakkerij", "validity_years": 1, "organisation": BAKKERIJ}),
            422,
            "unexpected_field",
        ),
        // Renewal: of her own grant only (anna's answers as one that does not exist), and not
        // of a revoked one.
        (
            json!({"kind": "renewal", "grant": "g-anna-bakkerij", "validity_years": 1}),
            422,
            "unknown_grant",
        ),
        (
            json!({"kind": "renewal", "grant": "no-such-grant", "validity_years": 1}),
            422,
            "unknown_grant",
        ),
        (
            json!({"kind": "renewal", "grant": "g-eva-bakkerij", "validity_years": 1}),
            409,
            "grant_revoked",
        ),
        (
            json!({"kind": "renewal", "grant": "g-eva-bakkerij"}),
            422,
            "empty",
        ),
    ] {
        let got = eva.post(ask, body.clone()).await;
        assert_eq!(
            (got.0, got.1["reason"].as_str()),
            (status, Some(reason)),
            "{body} -> {}",
            got.1
        );
    }
    // Bodies that are not of the shape: 400.
    for body in [
        json!({"kind": "gift"}),
        json!([1, 2]),
        json!({"organisation": BAKKERIJ}),
    ] {
        let (status, p) = eva.post(ask, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {p}");
    }
    // Without the CSRF token nothing is asked.
    refused(
        &eva.post_with(
            ask,
            json!({"kind": "link", "organisation": GROEN_DAK}),
            None,
        )
        .await,
        403,
        "csrf_token",
    );
    let (_, mine) = eva.get(ask).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");

    // anna renews her own grant at its level, once.
    let renewal = json!({"kind": "renewal", "grant": "g-anna-bakkerij", "validity_years": 3});
    let (status, r) = anna.post(ask, renewal.clone()).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(
        (&r["kind"], &r["grant"], &r["level"], &r["validity_years"]),
        (
            &json!("renewal"),
            &json!("g-anna-bakkerij"),
            &json!("EH3"),
            &json!(3)
        )
    );
    refused(&anna.post(ask, renewal).await, 409, "duplicate_request");
    let (status, p) = anna.get("/api/v1/me/requests?recent=501").await;
    assert_eq!((status, p["reason"].as_str()), (400, Some("recent")));
}

#[tokio::test]
async fn approvals_come_a_page_at_a_time_and_others_requests_are_not_found() {
    let w = common::start().await;
    let eva = log_in(&w, "eva", "EH3").await;
    let anna = log_in(&w, "anna", "EH3").await;
    let carla = log_in(&w, "carla", "EH3").await;
    let mut ids = Vec::new();
    for years in [1, 3, 5] {
        ids.push(
            eva.ask(grant_body(BAKKERIJ, json!({"all": true}), "EH2", years))
                .await,
        );
    }
    // Oldest first, two at a time.
    let (status, first) = anna.get("/api/v1/me/approvals?limit=2").await;
    assert_eq!(status, 200, "{first}");
    let next = first["next"].as_str().unwrap().to_string();
    let (status, second) = anna
        .get(&format!(
            "/api/v1/me/approvals?limit=2&after={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(status, 200, "{second}");
    let listed: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "{first}\n{second}");
    assert_eq!((&first["total"], &second["total"]), (&json!(3), &json!(3)));
    assert!(second["next"].is_null(), "{second}");
    // For one organisation; none of Van Dijk's wait for anna (a gebruiker there).
    let (_, bakkerij) = anna
        .get(&format!("/api/v1/me/approvals?organisation={BAKKERIJ}"))
        .await;
    assert_eq!(bakkerij["total"], 3);
    let (_, van_dijk) = anna
        .get(&format!("/api/v1/me/approvals?organisation={VAN_DIJK}"))
        .await;
    assert_eq!(van_dijk["total"], 0, "{van_dijk}");
    // Nothing waits for a gebruiker.
    let (_, none) = eva.get("/api/v1/me/approvals").await;
    assert_eq!((&none["total"], &none["items"]), (&json!(0), &json!([])));
    for (query, reason) in [
        ("organisation=1234", "invalid_kvk"),
        ("after=yesterday", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        refused(
            &anna.get(&format!("/api/v1/me/approvals?{query}")).await,
            400,
            reason,
        );
    }
    let (status, _) = anna.get("/api/v1/me/approvals?limit=many").await;
    assert_eq!(status, 400);

    // Van Dijk's request (carla's, its hoofdbeheerder) and a made-up ID: the same answer to
    // eva, and to anna, who is only a gebruiker there; one anna may sign is still not eva's.
    let theirs = carla
        .ask(grant_body(VAN_DIJK, json!({"all": true}), "EH2", 1))
        .await;
    for person in [&eva, &anna] {
        let mut bodies = Vec::new();
        for id in [theirs.as_str(), "no-such-request"] {
            let answers = [
                person.get(&format!("/api/v1/me/requests/{id}")).await,
                person
                    .post(&format!("/api/v1/me/approvals/{id}/approve"), Value::Null)
                    .await,
                person
                    .post(
                        &format!("/api/v1/me/approvals/{id}/decline"),
                        json!({"reason": "nee"}),
                    )
                    .await,
                person
                    .post(&format!("/api/v1/me/requests/{id}/withdraw"), Value::Null)
                    .await,
            ];
            for a in &answers {
                refused(a, 404, "request_unknown");
            }
            bodies.push(answers.map(|(_, p)| without_reference(&p)));
        }
        assert_eq!(
            bodies[0], bodies[1],
            "another's request tells more than none"
        );
    }
    for id in &ids {
        refused(
            &eva.post(&format!("/api/v1/me/approvals/{id}/approve"), Value::Null)
                .await,
            403,
            "own_request",
        );
    }
    let (status, _) = carla.get(&format!("/api/v1/me/requests/{theirs}")).await;
    assert_eq!(status, 200);
    let (_, seen) = carla.get(&format!("/api/v1/me/requests/{}", ids[0])).await;
    assert_eq!(seen["reason"], "request_unknown", "{seen}");
}

/// Gives the Bakkerij two directors with joint authority (bram and carla, by their register
/// IDs) and the setting that a joint director needs a second.
async fn two_joint_directors(w: &World) {
    let pool = w.registry.sql().pool();
    common::execute_sql(
        pool,
        &format!("UPDATE organisations SET joint_needs_two = TRUE WHERE kvk = '{BAKKERIJ}'"),
    )
    .await;
    for (id, person) in [("rep-1", "bram"), ("rep-2", "carla")] {
        common::execute_sql(
            pool,
            &format!(
                "INSERT INTO representatives (id, organisation_id, given_names, family_name, \
                 date_of_birth, authority, person_id, imported_at) SELECT '{id}', o.id, 'X', \
                 'Y', '1970-01-01', 'joint', '{person}', o.created_at FROM organisations o \
                 WHERE o.kvk = '{BAKKERIJ}'"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn directors_sign_at_eh3_and_jointly_and_a_groepsbeheerder_within_their_groups() {
    let w = common::start().await;
    two_joint_directors(&w).await;
    let eva = log_in(&w, "eva", "EH3").await;
    let id = eva.ask(grant_body(BAKKERIJ, service(S1), "EH3", 5)).await;
    let approve = format!("/api/v1/me/approvals/{id}/approve");

    // A director who logged in below EH3 does not sign as one.
    let bram_low = log_in(&w, "bram", "EH2+").await;
    refused(
        &bram_low.post(&approve, Value::Null).await,
        403,
        "representative_level",
    );
    // At EH3, the first of two signatures; not twice by the same director.
    let bram = log_in(&w, "bram", "EH3").await;
    let (status, first) = bram.post(&approve, Value::Null).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            &first["outcome"],
            &first["request"]["state"],
            &first["request"]["first_signer"]
        ),
        (
            &json!("first_of_two"),
            &json!("awaiting_second"),
            &json!("bram")
        )
    );
    refused(
        &bram.post(&approve, Value::Null).await,
        403,
        "same_director",
    );
    // Nor by an administrator: the second signature is a director's.
    let anna = log_in(&w, "anna", "EH3").await;
    refused(
        &anna.post(&approve, Value::Null).await,
        403,
        "same_director",
    );
    let carla = log_in(&w, "carla", "EH3").await;
    let (status, done) = carla.post(&approve, Value::Null).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["outcome"], &done["request"]["granted_level"]),
        (&json!("approved"), &json!("EH3"))
    );

    // daan, groepsbeheerder of Winkel (eva is not in it) with a grant of his own at EH3: not
    // for eva's grants, never links.
    let sql = w.registry.sql();
    let op = poort::grants::Actor::Operator("test".into());
    w.registry
        .write(sql.create_group(&op, BAKKERIJ, "Winkel"))
        .await
        .unwrap();
    w.registry
        .write(sql.add_member(
            &op,
            BAKKERIJ,
            "daan",
            &[poort::grants::Role::Groepsbeheerder],
        ))
        .await
        .unwrap();
    w.registry
        .write(sql.add_to_group(&op, BAKKERIJ, "Winkel", "daan", true))
        .await
        .unwrap();
    let own = poort::grants::GrantRequest {
        id: None,
        organisation: BAKKERIJ.into(),
        holder: poort::grants::Holder::Person("daan".into()),
        scope: poort::grants::Scope::AllServices,
        level: poort::domain::level::Level::Eh3,
        valid_from: chrono::Utc::now() - chrono::TimeDelta::days(1),
        valid_until: chrono::Utc::now() + chrono::TimeDelta::days(365),
    };
    w.registry
        .write(sql.add_grant(&op, &w.config.services, &own))
        .await
        .unwrap();
    let theirs = eva.ask(grant_body(BAKKERIJ, service(S2), "EH2", 1)).await;
    let femke_link = log_in(&w, "femke", "EH3")
        .await
        .ask(json!({"kind": "link", "organisation": BAKKERIJ}))
        .await;
    let daan = log_in(&w, "daan", "EH3").await;
    refused(
        &daan
            .post(
                &format!("/api/v1/me/approvals/{theirs}/approve"),
                Value::Null,
            )
            .await,
        403,
        "not_their_group",
    );
    refused(
        &daan
            .post(
                &format!("/api/v1/me/approvals/{femke_link}/approve"),
                Value::Null,
            )
            .await,
        403,
        "link_needs_beheerder",
    );
    // anna links femke.
    let (status, linked) = anna
        .post(
            &format!("/api/v1/me/approvals/{femke_link}/approve"),
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, &linked["outcome"]),
        (200, &json!("approved")),
        "{linked}"
    );
}
