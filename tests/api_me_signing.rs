//! A person's own API, `/api/v1/me`, against a running poort: every refusal of asking by its
//! reason code; the requests waiting for a signature a page at a time; another person's or
//! organisation's request answering exactly as one that does not exist; directors signing at
//! EH3 and jointly, a groepsbeheerder within their groups.

mod common;

use common::me_api::*;
use common::World;
use serde_json::{json, Value};

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
