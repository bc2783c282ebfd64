//! The admin module's JSON API: problem+json errors, pagination, CSRF on changes, roles, and
//! that an administrator of one organisation can neither see nor change another's grants by
//! guessing their IDs.

mod common;

use common::{admin_session as session, client, World};
use poort::grants::{Actor, Role};
use serde_json::Value;

async fn get(w: &World, c: &reqwest::Client, path: &str) -> (u16, Value) {
    let r = c.get(format!("{}{path}", w.poort)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn post(
    w: &World,
    c: &reqwest::Client,
    path: &str,
    csrf: Option<&str>,
) -> (u16, String, Value) {
    let mut req = c.post(format!("{}{path}", w.poort));
    if let Some(t) = csrf {
        req = req.header("X-CSRF-Token", t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, r.json().await.unwrap())
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn without_a_session_every_endpoint_answers_401_problem_json() {
    let w = common::start().await;
    for path in [
        "/api/v1/session",
        "/api/v1/members",
        "/api/v1/grants",
        "/api/v1/grants/g-anna-bakkerij",
    ] {
        let r = client()
            .get(format!("{}{path}", w.poort))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], 401);
        assert_eq!(p["type"], "/api/v1/problems/unauthenticated");
    }
    let (status, _, _) = post(&w, &client(), "/api/v1/grants/g-anna-bakkerij/revoke", None).await;
    assert_eq!(status, 401);
    let r = client()
        .get(format!("{}/api/v1/nothing", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn members_and_grants_of_the_own_organisation_paginated() {
    let w = common::start().await;
    let (anna, _) = session(&w, "anna").await;
    let (status, org) = get(&w, &anna, "/api/v1/organisation").await;
    assert_eq!(status, 200);
    assert_eq!(org["organisation"]["kvk"], "12345678");
    let (_, members) = get(&w, &anna, "/api/v1/members").await;
    assert_eq!(members["total"], 2, "{members}");
    let (_, first) = get(&w, &anna, "/api/v1/members?per_page=1").await;
    let (_, second) = get(&w, &anna, "/api/v1/members?per_page=1&page=2").await;
    assert_eq!(
        (
            first["items"].as_array().unwrap().len(),
            first["total"].clone()
        ),
        (1, 2.into())
    );
    assert_ne!(first["items"][0]["person"], second["items"][0]["person"]);
    let (status, p) = get(&w, &anna, "/api/v1/members?per_page=0").await;
    assert_eq!(
        (status, p["type"].as_str()),
        (400, Some("/api/v1/problems/invalid"))
    );
    // Only the Bakkerij's grants, not anna's own grant at Van Dijk.
    let (_, grants) = get(&w, &anna, "/api/v1/grants").await;
    let mut got = ids(&grants);
    got.sort();
    assert_eq!(got, ["g-anna-bakkerij", "g-eva-bakkerij"]);
    // Paged by the database: one per page, the total counted.
    let (_, one) = get(&w, &anna, "/api/v1/grants?per_page=1").await;
    let (_, two) = get(&w, &anna, "/api/v1/grants?per_page=1&page=2").await;
    assert_eq!(
        (one["total"].clone(), two["total"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(ids(&one).len() + ids(&two).len(), 2);
    assert_ne!(ids(&one), ids(&two));
    let (_, active) = get(&w, &anna, "/api/v1/grants?status=active").await;
    assert_eq!(ids(&active), ["g-anna-bakkerij"], "{active}");
    let (status, p) = get(&w, &anna, "/api/v1/grants?status=nonsense").await;
    assert_eq!(status, 400, "{p}");
}

#[tokio::test]
async fn another_organisations_grant_cannot_be_seen_or_changed_by_its_id() {
    let w = common::start().await;
    let (anna, anna_csrf) = session(&w, "anna").await;
    let (carla, _) = session(&w, "carla").await;
    let (_, theirs) = get(&w, &carla, "/api/v1/grants").await;
    assert!(ids(&theirs).contains(&"g-carla-vandijk".to_string()));
    // anna (Bakkerij) guesses Van Dijk's grant IDs, including her own grant there.
    for id in ["g-carla-vandijk", "g-anna-vandijk", "no-such-grant"] {
        let (status, p) = get(&w, &anna, &format!("/api/v1/grants/{id}")).await;
        assert_eq!(status, 404, "{id}: {p}");
        let (status, kind, _) = post(
            &w,
            &anna,
            &format!("/api/v1/grants/{id}/revoke"),
            Some(&anna_csrf),
        )
        .await;
        assert_eq!(
            (status, kind.as_str()),
            (404, "application/problem+json"),
            "{id}"
        );
    }
    let (_, grant) = get(&w, &carla, "/api/v1/grants/g-carla-vandijk").await;
    assert_eq!(grant["status"], "active", "nothing changed at Van Dijk");
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_an_administering_role() {
    let w = common::start().await;
    let (anna, csrf) = session(&w, "anna").await;
    let path = "/api/v1/grants/g-eva-bakkerij";
    let (status, _, p) = post(&w, &anna, &format!("{path}/revoke"), None).await;
    assert_eq!(status, 403, "{p}");
    let (status, _, p) = post(&w, &anna, &format!("{path}/revoke"), Some("forged")).await;
    assert_eq!(status, 403, "{p}");
    let (_, unchanged) = get(&w, &anna, path).await;
    let before = unchanged["status"].clone();
    let target = if before == "active" {
        "revoke"
    } else {
        "reactivate"
    };
    let (status, _, changed) = post(&w, &anna, &format!("{path}/{target}"), Some(&csrf)).await;
    assert_eq!(status, 200, "{changed}");
    assert_ne!(changed["status"], before);
    // eva becomes a lezer of the Bakkerij: she may read, not change.
    let sql = w.registry.sql();
    w.registry
        .write(sql.set_roles(
            &Actor::Operator("test".into()),
            "12345678",
            "eva",
            &[Role::Lezer, Role::Gebruiker],
        ))
        .await
        .unwrap();
    let (eva, eva_csrf) = session(&w, "eva").await;
    let (status, _) = get(&w, &eva, "/api/v1/grants").await;
    assert_eq!(status, 200);
    let (status, _, p) = post(
        &w,
        &eva,
        "/api/v1/grants/g-anna-bakkerij/revoke",
        Some(&eva_csrf),
    )
    .await;
    assert_eq!(status, 403, "{p}");
    let (_, g) = get(&w, &eva, "/api/v1/grants/g-anna-bakkerij").await;
    assert_eq!(g["status"], "active");
}

#[tokio::test]
async fn the_openapi_document_names_every_endpoint() {
    let w = common::start().await;
    let (status, doc) = get(&w, &client(), "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/api/v1/session",
        "/api/v1/organisation",
        "/api/v1/members",
        "/api/v1/members/{person}",
        "/api/v1/link-requests",
        "/api/v1/grants",
        "/api/v1/grants/{id}",
        "/api/v1/grants/{id}/revoke",
        "/api/v1/grants/{id}/reactivate",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    // Every documented operation exists: without a session it answers 401, never 404 or 405.
    let c = client();
    let mut operations = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "x")
            .replace("{person}", "x")
            .replace("{group}", "x")
            .replace("{kvk}", "12345678");
        for method in methods.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = c
                .request(method.clone(), format!("{}{concrete}", w.poort))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401, "{method} {path}");
            operations += 1;
        }
    }
    assert!(operations >= 28, "{operations}");
}

async fn post_json(
    w: &World,
    c: &reqwest::Client,
    path: &str,
    csrf: &str,
    body: Value,
) -> (u16, Value) {
    let r = c
        .post(format!("{}{path}", w.poort))
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn block_unblock_and_roles_keep_a_hoofdbeheerder_and_stay_in_the_organisation() {
    let w = common::start().await;
    let (anna, csrf) = session(&w, "anna").await;
    let (status, _, eva) = post(&w, &anna, "/api/v1/members/eva/block", Some(&csrf)).await;
    assert_eq!(
        (status, eva["blocked"].clone()),
        (200, true.into()),
        "{eva}"
    );
    let (status, _, eva) = post(&w, &anna, "/api/v1/members/eva/unblock", Some(&csrf)).await;
    assert_eq!(
        (status, eva["blocked"].clone()),
        (200, false.into()),
        "{eva}"
    );
    // anna is the Bakkerij's only hoofdbeheerder: she can neither block herself nor drop the role.
    let (status, _, p) = post(&w, &anna, "/api/v1/members/anna/block", Some(&csrf)).await;
    assert_eq!(status, 409, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("at least one hoofdbeheerder"),
        "{p}"
    );
    let (status, p) = post_json(
        &w,
        &anna,
        "/api/v1/members/anna/roles",
        &csrf,
        json_roles(&["gebruiker"]),
    )
    .await;
    assert_eq!(status, 409, "{p}");
    // With a second hoofdbeheerder she can.
    let (status, eva) = post_json(
        &w,
        &anna,
        "/api/v1/members/eva/roles",
        &csrf,
        json_roles(&["hoofdbeheerder", "gebruiker"]),
    )
    .await;
    assert_eq!(status, 200, "{eva}");
    let (status, p) = post_json(
        &w,
        &anna,
        "/api/v1/members/anna/roles",
        &csrf,
        json_roles(&["beheerder"]),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    // carla is of Van Dijk: not a member here, whatever the session tries.
    for action in ["block", "unblock"] {
        let (status, _, _) = post(
            &w,
            &anna,
            &format!("/api/v1/members/carla/{action}"),
            Some(&csrf),
        )
        .await;
        assert_eq!(status, 404);
    }
    let (carla, _) = session(&w, "carla").await;
    let (_, members) = get(&w, &carla, "/api/v1/members").await;
    let c = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["person"] == "carla")
        .cloned()
        .unwrap();
    assert_eq!(c["blocked"], false);
}

fn json_roles(roles: &[&str]) -> Value {
    serde_json::json!({ "roles": roles })
}

#[tokio::test]
async fn the_audit_trail_of_the_own_organisation_filtered_and_as_csv() {
    let w = common::start().await;
    let (anna, csrf) = session(&w, "anna").await;
    post(&w, &anna, "/api/v1/members/eva/block", Some(&csrf)).await;
    post(
        &w,
        &anna,
        "/api/v1/grants/g-eva-bakkerij/reactivate",
        Some(&csrf),
    )
    .await;
    // carla's organisation has its own trail: her admin login, nothing of the Bakkerij's.
    let (carla, carla_csrf) = session(&w, "carla").await;
    post(&w, &carla, "/api/v1/members/carla/block", Some(&carla_csrf)).await;

    // The admin logins reach the trail through the background writer: wait (bounded) for it.
    let start = std::time::Instant::now();
    let all = loop {
        let (status, all) = get(&w, &anna, "/api/v1/audit").await;
        assert_eq!(status, 200, "{all}");
        let actions: Vec<String> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        if actions.iter().any(|a| a == "admin.login") || start.elapsed().as_secs() > 10 {
            break all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let actions: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"member.block"), "{actions:?}");
    assert!(
        actions.contains(&"grant.status") || actions.iter().any(|a| a.starts_with("grant.")),
        "{actions:?}"
    );
    assert!(actions.contains(&"admin.login"), "{actions:?}");
    // Newest first; the block is anna's.
    let block = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "member.block")
        .unwrap();
    assert_eq!(block["actor"], "person:anna");
    // Filters.
    let (_, grants_only) = get(&w, &anna, "/api/v1/audit?action=grant.").await;
    assert!(grants_only["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"].as_str().unwrap().starts_with("grant.")));
    assert!(grants_only["total"].as_u64().unwrap() >= 1);
    let (_, future) = get(&w, &anna, "/api/v1/audit?since=2999-01-01").await;
    assert_eq!(future["total"], 0);
    let (status, p) = get(&w, &anna, "/api/v1/audit?since=yesterday-ish").await;
    assert_eq!(status, 400, "{p}");
    // Nothing of Van Dijk's trail.
    let (_, mine) = get(&w, &anna, "/api/v1/audit?per_page=500").await;
    assert!(!mine.to_string().contains("carla"), "{mine}");
    // CSV: a header and one line per entry.
    let r = anna
        .get(format!("{}/api/v1/audit.csv", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "at", "actor", "action", "before", "after"]
    );
    assert_eq!(
        reader.records().count() as u64,
        mine["total"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn grants_are_added_per_service_and_renewed_in_bulk_within_the_rules() {
    let w = common::start().await;
    let (anna, csrf) = session(&w, "anna").await;
    let s1 = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
    let s2 = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";
    let body = serde_json::json!({"person": "eva", "scope": {"services": [s1, s2]}, "level": "EH3", "years": 1});
    let (status, made) = post_json(&w, &anna, "/api/v1/grants", &csrf, body).await;
    assert_eq!(status, 201, "{made}");
    let ids: Vec<String> = made["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    // Above anna's own level (EH3), over 5 years, a bad renewal period, a mixed-up scope.
    for (body, status) in [
        (
            serde_json::json!({"person": "eva", "scope": {"all": true}, "level": "EH4", "years": 1}),
            403,
        ),
        (
            serde_json::json!({"person": "eva", "scope": {"all": true}, "level": "EH2", "valid_until": "2040-01-01"}),
            422,
        ),
        (
            serde_json::json!({"person": "eva", "scope": {"all": true}, "level": "EH2", "years": 2}),
            422,
        ),
        (
            serde_json::json!({"person": "eva", "scope": {"all": true, "services": [s1]}, "level": "EH2", "years": 1}),
            422,
        ),
        (
            serde_json::json!({"person": "carla", "scope": {"all": true}, "level": "EH2", "years": 1}),
            404,
        ),
    ] {
        let (got, p) = post_json(&w, &anna, "/api/v1/grants", &csrf, body.clone()).await;
        assert_eq!(got, status, "{body} -> {p}");
    }
    // Both renewed by 3 years at once.
    let before = made["items"][0]["valid_until"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, renewed) = post_json(
        &w,
        &anna,
        "/api/v1/grants/renew",
        &csrf,
        serde_json::json!({"ids": ids, "years": 3}),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let after = renewed["items"][0]["valid_until"].as_str().unwrap();
    assert!(after > before.as_str(), "{before} -> {after}");
    // A grant of Van Dijk in the list: nothing renewed.
    let (status, p) = post_json(
        &w,
        &anna,
        "/api/v1/grants/renew",
        &csrf,
        serde_json::json!({"ids": [ids[0].clone(), "g-carla-vandijk"], "years": 1}),
    )
    .await;
    assert_eq!(status, 404, "{p}");
    let (_, again) = get(&w, &anna, &format!("/api/v1/grants/{}", ids[0])).await;
    assert_eq!(again["valid_until"], renewed["items"][0]["valid_until"]);
}

/// The operations of a document: (METHOD, path).
fn operations_of(doc: &Value) -> std::collections::BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                match (k.as_str(), inner) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_and_the_router_agree_and_every_body_and_error_has_a_schema() {
    let contract = poort::web::api::contract();
    let served: std::collections::BTreeSet<(String, String)> = contract
        .served()
        .iter()
        .map(|(m, p)| (m.to_string(), p.clone()))
        .collect();
    let doc = serde_json::to_value(contract.document()).unwrap();
    assert_eq!(served, operations_of(&doc), "router and document differ");

    // The document served is that document.
    let w = common::start().await;
    let (status, live) = get(&w, &client(), "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(live, doc);

    // A documented path answers no method the document does not name.
    let c = client();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "x")
            .replace("{person}", "x")
            .replace("{group}", "x")
            .replace("{kvk}", "12345678");
        for method in ["GET", "POST", "PATCH", "DELETE", "PUT"] {
            if methods.get(method.to_lowercase()).is_some() {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r = c
                .request(m, format!("{}{concrete}", w.poort))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        }
    }

    // Every reference resolves; every answer and request body has a schema; every error is a
    // problem.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in &found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail", "reference"] {
        assert!(problem["properties"][field].is_object(), "Problem.{field}");
    }
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            if let Some(body) = op.get("requestBody") {
                assert!(
                    body["content"]["application/json"]["schema"].is_object(),
                    "{method} {path}: request body without a schema"
                );
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
            for (status, response) in responses {
                if status == "204" {
                    continue;
                }
                let content = response["content"].as_object().unwrap();
                let schemas: Vec<&Value> = content.values().map(|c| &c["schema"]).collect();
                assert!(
                    !schemas.is_empty() && schemas.iter().all(|s| s.is_object()),
                    "{method} {path} {status}: no schema"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
