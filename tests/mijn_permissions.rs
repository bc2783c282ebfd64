//! The permission matrix of Mijn poort and `/api/v1/me` (issue 14): every page, form and API
//! operation, for a plain gebruiker (eva at the Bakkerij) and an administrator (anna,
//! hoofdbeheerder of the Bakkerij), with the status each gets, and the register unchanged after
//! every refusal and every change without the CSRF token (machinery in tests/common/matrix.rs,
//! shared with tests/admin_permissions.rs).
//!
//! eva may do exactly this: see her own session, overview and requests, ask (for grants where
//! she belongs, to be linked elsewhere, for a renewal of her own grant), withdraw her own
//! requests; signing anything is refused (her own request: `own_request`; anyone else's: not
//! found). anna may besides see and sign the Bakkerij's requests, within her level. Another
//! organisation's request, or another person's that one may not sign, answers exactly as an ID
//! that does not exist. The tables must name every route of `src/web/mijn/` (and `/mijn/login`)
//! and every operation under `/api/v1/me` of the OpenAPI document: a new one without a row fails
//! here.

mod common;

use common::matrix::{self, assert_routes_covered, send, write, Ids, Kind, Session};
use common::World;
use poort::domain::level::Level;
use poort::domain::request::{RequestKind, Validity};
use poort::grants::{Actor, GrantRequest, Holder, NewRequest, Role, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const A: &str = "12345678";
const B: &str = "87654321";
const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";

/// The actors, in the order of a row's statuses: who, and as what at A.
const ACTORS: [(&str, &str); 2] = [("gebruiker", "eva"), ("hoofdbeheerder", "anna")];

type Row = matrix::Row<2>;

const fn row(
    method: &'static str,
    route: &'static str,
    args: &'static [&'static str],
    body: &'static str,
    expect: [u16; 2],
) -> Row {
    matrix::row(method, route, args, body, expect)
}

const BOTH: [u16; 2] = [200, 200];
const NOT_FOUND: [u16; 2] = [404, 404];

/// Every operation of `/api/v1/me` × actor, with the Bakkerij's requests.
#[rustfmt::skip]
const API: &[Row] = &[
    row("GET", "/api/v1/me", &[], "", BOTH),
    row("GET", "/api/v1/me/overview", &[], "", BOTH),
    row("GET", "/api/v1/me/requests", &[], "", BOTH),
    // Her own request; another's she may not sign (anna may).
    row("GET", "/api/v1/me/requests/{id}", &["$eva_req"], "", BOTH),
    row("GET", "/api/v1/me/requests/{id}", &["$piet_req"], "", [404, 200]),
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"grant","organisation":"12345678","scope":{"all":true},"level":"EH2","validity_years":1}"#, [201, 201]),
    // A grant where she is no member (anna is a gebruiker at B).
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"grant","organisation":"87654321","scope":{"services":["5a1d3b0e-8c9f-4f5e-9b1a-000000000001"]},"level":"EH2","validity_years":1}"#, [422, 201]),
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"link","organisation":"87654321"}"#, [201, 409]),
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"link","organisation":"12345678"}"#, [409, 409]),
    // Her own grant (eva's is revoked); another's.
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"renewal","grant":"$own_grant","validity_years":1}"#, [409, 201]),
    row("POST", "/api/v1/me/requests", &[], r#"{"kind":"renewal","grant":"$g_piet","validity_years":1}"#, [422, 422]),
    row("POST", "/api/v1/me/requests/{id}/withdraw", &["$own_w"], "", BOTH),
    // eva's, withdrawn by her; anna may sign it, but it is not hers to withdraw.
    row("POST", "/api/v1/me/requests/{id}/withdraw", &["$eva_w"], "", [200, 404]),
    row("GET", "/api/v1/me/approvals", &[], "", BOTH),
    row("POST", "/api/v1/me/approvals/{id}/approve", &["$eva_sign"], "", [403, 200]),
    // Above anna's own level (EH3).
    row("POST", "/api/v1/me/approvals/{id}/approve", &["$eva_high"], "", [403, 403]),
    row("POST", "/api/v1/me/approvals/{id}/approve", &["$piet_req"], r#"{"level":"EH2"}"#, [404, 200]),
    row("POST", "/api/v1/me/approvals/{id}/decline", &["$eva_decl"], r#"{"reason":"Niet nodig"}"#, [403, 200]),
    row("POST", "/api/v1/me/approvals/{id}/decline", &["$piet_decl"], r#"{"reason":"Niet nodig"}"#, [404, 200]),
];

/// Another organisation's request (wim's at B, where anna is a gebruiker) and a made-up ID.
#[rustfmt::skip]
const API_CROSS: &[Row] = &[
    row("GET", "/api/v1/me/requests/{id}", &["$wim_req"], "", NOT_FOUND),
    row("POST", "/api/v1/me/requests/{id}/withdraw", &["$wim_req"], "", NOT_FOUND),
    row("POST", "/api/v1/me/approvals/{id}/approve", &["$wim_req"], "", NOT_FOUND),
    row("POST", "/api/v1/me/approvals/{id}/decline", &["$wim_req"], r#"{"reason":"Nee"}"#, NOT_FOUND),
    row("GET", "/api/v1/me/requests/{id}", &["$none"], "", NOT_FOUND),
    row("POST", "/api/v1/me/requests/{id}/withdraw", &["$none"], "", NOT_FOUND),
    row("POST", "/api/v1/me/approvals/{id}/approve", &["$none"], "", NOT_FOUND),
    row("POST", "/api/v1/me/approvals/{id}/decline", &["$none"], r#"{"reason":"Nee"}"#, NOT_FOUND),
];

/// Every page and form × actor (redirects not followed: a change answers 303, a refused form
/// 422 with the reason on the page). Logout last.
#[rustfmt::skip]
const PAGES: &[Row] = &[
    row("GET", "/mijn", &[], "", BOTH),
    row("GET", "/mijn/requests/new", &[], "", BOTH),
    row("POST", "/mijn/requests/new", &[], "kind=grant&organisation=12345678&scope=all&level=EH2&validity=1", [303, 303]),
    row("POST", "/mijn/requests/new", &[], "kind=grant&organisation=87654321&scope=all&level=EH2&validity=1", [422, 303]),
    row("POST", "/mijn/requests/new", &[], "kind=link&kvk=87654321", [303, 422]),
    row("GET", "/mijn/renew/{grant}", &["$own_grant"], "", BOTH),
    row("GET", "/mijn/renew/{grant}", &["$g_piet"], "", NOT_FOUND),
    row("POST", "/mijn/renew/{grant}", &["$own_grant"], "validity=1", [422, 303]),
    row("POST", "/mijn/renew/{grant}", &["$g_piet"], "validity=1", NOT_FOUND),
    row("GET", "/mijn/requests/{id}", &["$eva_req"], "", BOTH),
    row("GET", "/mijn/requests/{id}", &["$piet_req"], "", [404, 200]),
    row("POST", "/mijn/requests/{id}/withdraw", &["$own_w"], "", [303, 303]),
    row("POST", "/mijn/requests/{id}/withdraw", &["$eva_w"], "", [303, 404]),
    row("GET", "/mijn/approvals", &[], "", BOTH),
    row("POST", "/mijn/requests/{id}/sign", &["$eva_sign"], "decision=approve", [422, 303]),
    row("POST", "/mijn/requests/{id}/sign", &["$eva_high"], "decision=approve", [422, 422]),
    row("POST", "/mijn/requests/{id}/sign", &["$piet_req"], "decision=approve&level=EH2", [404, 303]),
    row("POST", "/mijn/requests/{id}/sign", &["$eva_decl"], "decision=decline&reason=Niet+nodig", [422, 303]),
    row("POST", "/mijn/requests/{id}/sign", &["$piet_decl"], "decision=decline&reason=Niet+nodig", [404, 303]),
    // A new login, whoever asks: on to the AD.
    row("GET", "/mijn/login", &[], "", [303, 303]),
    row("POST", "/mijn/logout", &[], "", BOTH),
];

/// Another organisation's request and a made-up ID in the pages.
#[rustfmt::skip]
const PAGES_CROSS: &[Row] = &[
    row("GET", "/mijn/requests/{id}", &["$wim_req"], "", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/withdraw", &["$wim_req"], "", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/sign", &["$wim_req"], "decision=approve", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/sign", &["$wim_req"], "decision=decline&reason=Nee", NOT_FOUND),
    row("GET", "/mijn/requests/{id}", &["$none"], "", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/withdraw", &["$none"], "", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/sign", &["$none"], "decision=approve", NOT_FOUND),
    row("POST", "/mijn/requests/{id}/sign", &["$none"], "decision=decline&reason=Nee", NOT_FOUND),
];

fn op() -> Actor {
    Actor::Operator("test".into())
}

/// A person with an identity at the dev AD (subject = id), a gebruiker of `kvk`.
async fn gebruiker(w: &World, kvk: &str, id: &str, name: &str) {
    let sql = w.registry.sql();
    write(w, sql.link_person(&op(), id, Some(name), IDP, id)).await;
    write(w, sql.add_member(&op(), kvk, id, &[Role::Gebruiker])).await;
}

/// `person` asks `kvk` for all services at `level` for a year: the request's ID.
async fn asks(w: &World, person: &str, kvk: &str, level: Level) -> String {
    let new = NewRequest {
        organisation: kvk.into(),
        kind: RequestKind::Grant {
            scopes: vec![Scope::AllServices],
            level,
            validity: Validity::OneYear,
        },
        motivation: None,
    };
    let sql = w.registry.sql();
    write(
        w,
        sql.ask(person, &new, &w.config.services, chrono::Utc::now()),
    )
    .await
    .request
    .id
}

/// The development register, everyone with an e-mail address; piet, a gebruiker of A with a
/// grant of his own, and wim, a gebruiker of B; open requests of eva, piet, anna and wim.
async fn world() -> (World, Ids<2>) {
    let w = common::start().await;
    common::execute_sql(
        w.registry.sql().pool(),
        "UPDATE persons SET email = id || '@example.nl'",
    )
    .await;
    gebruiker(&w, A, "piet", "Piet Bakker").await;
    gebruiker(&w, B, "wim", "Wim de Monteur").await;
    let sql = w.registry.sql();
    let g_piet = GrantRequest {
        id: None,
        organisation: A.into(),
        holder: Holder::Person("piet".into()),
        scope: Scope::Service { uuid: S1.into() },
        level: Level::Eh2,
        valid_from: chrono::Utc::now() - chrono::TimeDelta::days(1),
        valid_until: chrono::Utc::now() + chrono::TimeDelta::days(365),
    };
    let g_piet = write(&w, sql.add_grant(&op(), &w.config.services, &g_piet)).await;
    let mut shared = BTreeMap::new();
    for (name, value) in [
        ("eva_req", asks(&w, "eva", A, Level::Eh2).await),
        ("eva_w", asks(&w, "eva", A, Level::Eh2).await),
        ("eva_sign", asks(&w, "eva", A, Level::Eh2Plus).await),
        ("eva_decl", asks(&w, "eva", A, Level::Eh2).await),
        ("eva_high", asks(&w, "eva", A, Level::Eh4).await),
        ("piet_req", asks(&w, "piet", A, Level::Eh2).await),
        ("piet_decl", asks(&w, "piet", A, Level::Eh2).await),
        ("wim_req", asks(&w, "wim", B, Level::Eh2).await),
        ("none", "no-such-request".to_string()),
        ("g_piet", g_piet),
    ] {
        shared.insert(name.to_string(), value);
    }
    let per_role = [
        BTreeMap::from([
            ("own_w".to_string(), asks(&w, "eva", A, Level::Eh2).await),
            ("own_grant".to_string(), "g-eva-bakkerij".to_string()),
        ]),
        BTreeMap::from([
            ("own_w".to_string(), asks(&w, "anna", B, Level::Eh2).await),
            ("own_grant".to_string(), "g-anna-bakkerij".to_string()),
        ]),
    ];
    (w, Ids { shared, per_role })
}

/// Each actor's Mijn poort session, at EH3.
async fn sessions(w: &World) -> [(&'static str, Session); 2] {
    let mut out = Vec::new();
    for (role, person) in ACTORS {
        let (client, csrf) = common::mijn_session(w, person, "EH3").await;
        out.push((role, Session { client, csrf }));
    }
    out.try_into()
        .unwrap_or_else(|_| panic!("a session for each actor"))
}

/// Whether a documented path is one of `/api/v1/me`.
fn is_me(path: &str) -> bool {
    path == "/api/v1/me" || path.starts_with("/api/v1/me/")
}

#[tokio::test]
async fn every_me_operation_answers_each_actor_its_part_and_a_refusal_changes_nothing() {
    let (w, ids) = world().await;
    // The tables name every operation of `/api/v1/me` the document names, and no other.
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| is_me(path))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = API
        .iter()
        .chain(API_CROSS)
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    assert_eq!(documented, tabled, "documented operations and rows differ");
    // (The router serves exactly the document's operations: tests/admin_api.rs.)

    let actors = sessions(&w).await;
    let bodies = matrix::run(&w, &ids, Kind::Api, API, &actors).await;
    // Why each refusal: signing is not eva's, whatever she tries.
    let reasons: Vec<Option<String>> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["reason"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let of = |actor: usize, method: &str, route: &str, arg: &str| {
        let i = API
            .iter()
            .position(|r| r.method == method && r.route == route && r.args.first() == Some(&arg))
            .unwrap();
        reasons[actor * API.len() + i].clone()
    };
    let approve = "/api/v1/me/approvals/{id}/approve";
    let decline = "/api/v1/me/approvals/{id}/decline";
    for (actor, method, route, arg, reason) in [
        (0, "POST", approve, "$eva_sign", "own_request"),
        (0, "POST", approve, "$eva_high", "own_request"),
        (0, "POST", decline, "$eva_decl", "own_request"),
        (0, "POST", approve, "$piet_req", "request_unknown"),
        (0, "POST", decline, "$piet_decl", "request_unknown"),
        (
            0,
            "GET",
            "/api/v1/me/requests/{id}",
            "$piet_req",
            "request_unknown",
        ),
        (1, "POST", approve, "$eva_high", "above_own_level"),
        (
            1,
            "POST",
            "/api/v1/me/requests/{id}/withdraw",
            "$eva_w",
            "request_unknown",
        ),
    ] {
        assert_eq!(
            of(actor, method, route, arg).as_deref(),
            Some(reason),
            "{} {method} {route} {arg}",
            ACTORS[actor].1
        );
    }
    // Nothing waits for eva's signature; what waits for anna's is the Bakkerij's only.
    let (_, page) = send(
        &w,
        &actors[0].1,
        Kind::Api,
        "GET",
        "/api/v1/me/approvals",
        "",
        None,
    )
    .await;
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["total"], 0, "{page}");
    let (_, page) = send(
        &w,
        &actors[1].1,
        Kind::Api,
        "GET",
        "/api/v1/me/approvals?limit=500",
        "",
        None,
    )
    .await;
    let page: Value = serde_json::from_str(&page).unwrap();
    let organisations: BTreeSet<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["organisation"]["kvk"].as_str().unwrap())
        .collect();
    assert_eq!(organisations, BTreeSet::from([A]), "{page}");
}

#[tokio::test]
async fn every_mijn_page_and_form_answers_each_actor_its_part_and_needs_the_csrf_field() {
    let (w, ids) = world().await;
    assert_routes_covered(
        &["src/web/mijn/mod.rs", "src/web/mod.rs"],
        &["/mijn"],
        &[PAGES, PAGES_CROSS],
    );
    let actors = sessions(&w).await;
    let bodies = matrix::run(&w, &ids, Kind::Page, PAGES, &actors).await;
    // eva's attempt to sign her own request is refused on the page, saying why; anna's above
    // her level likewise.
    let at = |arg: &str| {
        PAGES
            .iter()
            .position(|r| r.route == "/mijn/requests/{id}/sign" && r.args == [arg])
            .unwrap()
    };
    let own = &bodies[at("$eva_sign")];
    assert!(
        own.contains("U kunt uw eigen aanvraag niet tekenen."),
        "{own}"
    );
    let high = &bodies[PAGES.len() + at("$eva_high")];
    assert!(high.contains("boven uw eigen niveau"), "{high}");
}

#[tokio::test]
async fn another_organisations_request_is_not_found_as_one_that_does_not_exist() {
    let (w, ids) = world().await;
    // wim's request is real: B's hoofdbeheerder, carla, sees it.
    let (carla, _) = common::mijn_session(&w, "carla", "EH3").await;
    let carla = Session {
        client: carla,
        csrf: String::new(),
    };
    let path = ids.fill(0, "/api/v1/me/requests/$wim_req");
    let (status, text) = send(&w, &carla, Kind::Api, "GET", &path, "", None).await;
    assert_eq!(status, 200, "{text}");

    let before = matrix::snapshot(&w).await;
    let actors = sessions(&w).await;
    let api = matrix::run(&w, &ids, Kind::Api, API_CROSS, &actors).await;
    let pages = matrix::run(&w, &ids, Kind::Page, PAGES_CROSS, &actors).await;
    assert_eq!(matrix::snapshot(&w).await, before, "B's request changed");
    // Row by row, wim's request answers each actor exactly as the made-up ID: the same
    // problem (but its reference number), the same page (which may repeat the ID asked for,
    // in its language switch).
    let (wim_req, none) = (ids.fill(0, "$wim_req"), ids.fill(0, "$none"));
    let api: Vec<String> = api.iter().map(|b| b.replace(&wim_req, "ID")).collect();
    let pages: Vec<String> = pages
        .iter()
        .map(|b| b.replace(&wim_req, "ID").replace(&none, "ID"))
        .collect();
    for (bodies, rows) in [(&api, API_CROSS), (&pages, PAGES_CROSS)] {
        let half = rows.len() / 2;
        for actor in 0..ACTORS.len() {
            for i in 0..half {
                let (theirs, none) = (
                    &bodies[actor * rows.len() + i],
                    &bodies[actor * rows.len() + half + i],
                );
                assert_eq!(rows[i].route, rows[half + i].route);
                let same = match serde_json::from_str::<Value>(theirs) {
                    Ok(mut p) => {
                        let mut q: Value = serde_json::from_str(none).unwrap();
                        assert_eq!(p["reason"], "request_unknown", "{p}");
                        p.as_object_mut().unwrap().remove("reference");
                        q.as_object_mut().unwrap().remove("reference");
                        p == q
                    }
                    Err(_) => theirs == none,
                };
                assert!(
                    same,
                    "{} {} {}: wim's request tells more than none:\n{theirs}\n{none}",
                    ACTORS[actor].1, rows[i].method, rows[i].route
                );
            }
        }
    }
    // Nothing of B's request in any answer.
    for body in api.iter().chain(&pages) {
        for secret in [
            "Wim de Monteur",
            "wim@example.nl",
            "Installatiebedrijf Van Dijk",
            B,
        ] {
            assert!(!body.contains(secret), "{secret} shown: {body}");
        }
    }
}

#[tokio::test]
async fn a_sign_off_form_poort_did_not_write_is_refused_saying_what_and_signs_nothing() {
    let (w, ids) = world().await;
    let [_, (_, anna)] = sessions(&w).await;
    let path = ids.fill(1, "/mijn/requests/$piet_req/sign");
    let before = matrix::snapshot(&w).await;
    for (body, says) in [
        // A level the form never offers is not read as "as asked".
        ("decision=approve&level=EH9", "Dit niveau bestaat niet."),
        (
            "decision=approve&level=EH2&validity=2",
            "Kies een geldigheid van 1, 3 of 5 jaar.",
        ),
        (
            "decision=approve&validity=jaar",
            "Kies een geldigheid van 1, 3 of 5 jaar.",
        ),
        ("decision=misschien", "Kies goedkeuren of afwijzen."),
        ("level=EH2", "Kies goedkeuren of afwijzen."),
    ] {
        let (status, page) =
            send(&w, &anna, Kind::Page, "POST", &path, body, Some(&anna.csrf)).await;
        assert_eq!(status, 422, "{body}: {page}");
        assert!(page.contains(says), "{body}: {page}");
    }
    // A renewal for a validity the form never offers is not read as the ticked 3 years.
    let renew = ids.fill(1, "/mijn/renew/$own_grant");
    let (status, page) = send(
        &w,
        &anna,
        Kind::Page,
        "POST",
        &renew,
        "validity=2",
        Some(&anna.csrf),
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("Kies een geldigheid van 1, 3 of 5 jaar."),
        "{page}"
    );
    assert_eq!(
        matrix::snapshot(&w).await,
        before,
        "a form not understood changed the register"
    );
    // The same form, well filled, signs.
    let (status, page) = send(
        &w,
        &anna,
        Kind::Page,
        "POST",
        &path,
        "decision=approve&level=EH2&validity=1",
        Some(&anna.csrf),
    )
    .await;
    assert_eq!(status, 303, "{page}");
}
