//! The admin module's grant and audit pages, used as a browser posts forms (cookies and the
//! CSRF form field): the list and its filters; adding grants for one or several services;
//! every kind of bad input answered next to its field with what was typed kept and nothing
//! changed; renewing many at once; revoking (after confirmation) refused at the gateway from the
//! next login on, and reactivating; a lezer sees no forms and is refused; another
//! organisation's grant is not found; the audit trail's filters and CSV link.

mod common;

use chrono::{Months, Utc};
use common::{admin_session, client, submit, World};
use poort::grants::{Actor, GrantFilter, GrantRecord, GrantStatus, Role, Scope};

const BAKKERIJ: &str = "12345678";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const S2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";

async fn get(w: &World, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(format!("{}{path}", w.poort)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form (the client follows the redirect after a change).
async fn post(
    w: &World,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = c
        .post(format!("{}{path}", w.poort))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// poort with its register in a fresh PostgreSQL database (seeded from the dev register): the
/// list's SQL (filters, groups) runs on both backends.
async fn on_postgres(pg: &common::cluster::FreshPostgres) -> World {
    let url = pg.url.clone();
    let w = common::start_prepared(move |_, config| config.register.database = url).await;
    assert!(matches!(
        w.registry.sql().pool(),
        poort::grants::Pool::Postgres(_)
    ));
    w
}

/// The Bakkerij's grants as the register has them.
async fn bakkerij_grants(w: &World) -> Vec<GrantRecord> {
    w.registry
        .sql()
        .list_grants(&GrantFilter {
            organisation: Some(BAKKERIJ.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The rows (`data-grant`) a list page shows.
fn listed(page: &str) -> Vec<String> {
    page.split("data-grant=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

fn error_of(page: &str, field: &str) -> String {
    let marker = format!("id=\"{field}-error\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no error next to {field}: {page}"))
        + marker.len();
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

fn day(months: u32) -> String {
    (Utc::now().date_naive() + Months::new(months)).to_string()
}

/// A login to demo service 1 as `person` at EH3: 200 with the answer for the DV, or the
/// refusal's status and page.
async fn gateway(w: &World, person: &str) -> (u16, String) {
    let c = client();
    let ad_page = c
        .get(format!("{}/login?service=1&binding=redirect", w.dv))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_poort = submit(
        &c,
        &ad_page,
        &[("person", person), ("level", "EH3"), ("action", "login")],
    )
    .await
    .text()
    .await
    .unwrap();
    let r = submit(&c, &to_poort, &[]).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Adds grants for eva through the form; the IDs of the ones made.
async fn add_for_eva(w: &World, c: &reqwest::Client, csrf: &str, services: &[&str]) -> Vec<String> {
    let before: Vec<String> = bakkerij_grants(w).await.into_iter().map(|g| g.id).collect();
    let (from, until) = (day(0), day(12));
    let mut fields = vec![
        ("csrf", csrf),
        ("holder", "person:eva"),
        ("scope", "services"),
        ("level", "EH3"),
        ("valid_from", from.as_str()),
        ("valid_until", until.as_str()),
    ];
    for s in services {
        fields.push(("service", s));
    }
    let (status, page) = post(w, c, "/admin/grants/new", &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("De machtiging is toegevoegd"), "{page}");
    // In the order of `services`.
    let made: Vec<GrantRecord> = bakkerij_grants(w)
        .await
        .into_iter()
        .filter(|g| !before.contains(&g.id))
        .collect();
    services
        .iter()
        .map(|s| {
            made.iter()
                .find(|g| {
                    g.scope
                        == Scope::Service {
                            uuid: s.to_string(),
                        }
                })
                .map(|g| g.id.clone())
                .unwrap_or_else(|| panic!("no grant for {s}"))
        })
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_status_person_service_and_holder_name() {
    list_filters(common::start().await).await;
}

#[tokio::test]
async fn the_list_filters_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    list_filters(on_postgres(&pg).await).await;
}

async fn list_filters(w: World) {
    let (anna, _) = admin_session(&w, "anna").await;
    let (status, page) = get(&w, &anna, "/admin/grants").await;
    assert_eq!(status, 200, "{page}");
    let all = listed(&page);
    assert!(all.contains(&"g-anna-bakkerij".to_string()), "{page}");
    assert!(all.contains(&"g-eva-bakkerij".to_string()), "{page}");
    assert!(
        !all.contains(&"g-anna-vandijk".to_string()),
        "only the Bakkerij's: {page}"
    );
    assert!(
        page.contains("Anna de Vries") && page.contains("alle diensten"),
        "{page}"
    );
    for (query, expect) in [
        ("status=active", vec!["g-anna-bakkerij"]),
        ("status=inactive", vec!["g-eva-bakkerij"]),
        ("person=eva", vec!["g-eva-bakkerij"]),
        ("q=anna", vec!["g-anna-bakkerij"]),
        ("q=smit&status=active", vec![]),
        (
            &format!("service={S2}&status=active") as &str,
            vec!["g-anna-bakkerij"],
        ),
    ] {
        let (status, page) = get(&w, &anna, &format!("/admin/grants?{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(listed(&page), expect, "{query}");
    }
    // A grant added for one service is found by that service, not by the other.
    let (anna, csrf) = admin_session(&w, "anna").await;
    let ids = add_for_eva(&w, &anna, &csrf, &[S1]).await;
    let (_, page) = get(
        &w,
        &anna,
        &format!("/admin/grants?service={S1}&person=eva&status=active"),
    )
    .await;
    assert_eq!(listed(&page), ids);
    assert!(
        page.contains("Dienst 1") || page.contains("Service 1"),
        "catalogue name: {page}"
    );
    let (_, page) = get(
        &w,
        &anna,
        &format!("/admin/grants?service={S2}&person=eva&status=active"),
    )
    .await;
    assert!(listed(&page).is_empty(), "{page}");
}

#[tokio::test]
async fn grants_are_added_for_one_or_several_services_and_bad_input_stays_next_to_its_field() {
    let w = common::start().await;
    let (anna, csrf) = admin_session(&w, "anna").await;
    let (status, form) = get(&w, &anna, "/admin/grants/new?person=eva").await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("value=\"person:eva\" selected"), "{form}");
    assert!(
        form.contains(&format!("value=\"{}\"", day(0))),
        "today by default: {form}"
    );
    assert!(
        form.contains(&format!("value=\"{}\"", day(12))),
        "a year by default: {form}"
    );
    let one = add_for_eva(&w, &anna, &csrf, &[S2]).await;
    assert_eq!(one.len(), 1);
    let two = add_for_eva(&w, &anna, &csrf, &[S1]).await;
    assert_eq!(two.len(), 1);
    let grants = bakkerij_grants(&w).await;
    let made = grants.iter().find(|g| g.id == two[0]).unwrap();
    assert_eq!(made.scope, Scope::Service { uuid: S1.into() });
    assert_eq!(made.level.name(), "EH3");
    assert_eq!(made.status, GrantStatus::Active);

    let before = bakkerij_grants(&w).await;
    let (today, year, too_long) = (day(0), day(12), day(61));
    let past = (Utc::now().date_naive() - chrono::TimeDelta::days(30)).to_string();
    // (fields, the field with the error, its words, what stays typed)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str, String);
    let cases: Vec<Case> = vec![
        // Over 5 years.
        (
            vec![
                ("holder", "person:eva"),
                ("service", S1),
                ("level", "EH2"),
                ("valid_from", &today),
                ("valid_until", &too_long),
            ],
            "valid_until",
            "hoogstens 5 jaar",
            format!("value=\"{too_long}\""),
        ),
        // Ends before it starts.
        (
            vec![
                ("holder", "person:eva"),
                ("service", S1),
                ("level", "EH2"),
                ("valid_from", &today),
                ("valid_until", &past),
            ],
            "valid_until",
            "voor de begindatum",
            format!("value=\"{past}\""),
        ),
        // Above anna's own level (EH3).
        (
            vec![
                ("holder", "person:eva"),
                ("service", S1),
                ("level", "EH4"),
                ("valid_from", &today),
                ("valid_until", &year),
            ],
            "level",
            "hoger dan uw eigen niveau",
            "value=\"EH4\" selected".to_string(),
        ),
        // A service the catalogue does not know, with a good one: nothing added.
        (
            vec![
                ("holder", "person:eva"),
                ("service", S2),
                ("service", "no-such-service"),
                ("level", "EH2"),
                ("valid_from", &today),
                ("valid_until", &year),
            ],
            "scope",
            "niet in de dienstencatalogus",
            "value=\"no-such-service\" checked".to_string(),
        ),
        // The same as the grant just added.
        (
            vec![
                ("holder", "person:eva"),
                ("service", S1),
                ("level", "EH3"),
                ("valid_from", &today),
                ("valid_until", &year),
            ],
            "scope",
            "al een machtiging",
            format!("value=\"{S1}\" checked"),
        ),
        // No holder.
        (
            vec![
                ("holder", ""),
                ("service", S1),
                ("level", "EH2"),
                ("valid_from", &today),
                ("valid_until", &year),
            ],
            "holder",
            "Kies een gebruiker of groep",
            format!("value=\"{year}\""),
        ),
    ];
    for (mut fields, field, words, kept) in cases {
        fields.push(("csrf", &csrf));
        fields.push(("scope", "services"));
        let (status, page) = post(&w, &anna, "/admin/grants/new", &fields).await;
        assert_eq!(status, 422, "{field}: {page}");
        assert!(
            error_of(&page, field).contains(words),
            "{field}: {}",
            error_of(&page, field)
        );
        assert!(page.contains(&kept), "{field}: {kept} kept in {page}");
        assert_eq!(
            bakkerij_grants(&w).await,
            before,
            "{field}: nothing changed"
        );
    }
}

#[tokio::test]
async fn many_renewed_at_once_then_revoked_is_refused_at_the_gateway_and_reactivated() {
    let w = common::start().await;
    let (anna, csrf) = admin_session(&w, "anna").await;
    let ids = add_for_eva(&w, &anna, &csrf, &[S1, S2]).await;
    assert_eq!(ids.len(), 2);
    let until =
        |grants: &[GrantRecord], id: &str| grants.iter().find(|g| g.id == id).unwrap().valid_until;
    let before = bakkerij_grants(&w).await;
    let (status, page) = post(
        &w,
        &anna,
        "/admin/grants/renew",
        &[
            ("csrf", &csrf),
            ("grant", &ids[0]),
            ("grant", &ids[1]),
            ("years", "3"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("verlengd"), "{page}");
    let after = bakkerij_grants(&w).await;
    for id in &ids {
        assert!(
            until(&after, id) > until(&before, id) + chrono::TimeDelta::days(3 * 365 - 2),
            "{id}"
        );
    }
    // All or nothing: a bad period renews neither.
    let (status, _) = post(
        &w,
        &anna,
        "/admin/grants/renew",
        &[
            ("csrf", &csrf),
            ("grant", &ids[0]),
            ("grant", &ids[1]),
            ("years", "2"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(bakkerij_grants(&w).await, after);

    // eva logs in with her new grant for service 1.
    let (status, page) = gateway(&w, "eva").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("SAMLResponse"), "{page}");
    // Revoked after confirmation: her next login is refused.
    let (status, confirm) = get(&w, &anna, &format!("/admin/grants/{}/revoke", ids[0])).await;
    assert_eq!(status, 200, "{confirm}");
    assert!(
        confirm.contains("Eva Smit") && confirm.contains("Ja, intrekken"),
        "{confirm}"
    );
    let r = common::submit_at(
        &anna,
        &w.poort,
        &confirm[confirm.find("<main").unwrap()..],
        &[],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("ingetrokken"));
    let revoked = bakkerij_grants(&w).await;
    assert_eq!(
        revoked.iter().find(|g| g.id == ids[0]).unwrap().status,
        GrantStatus::Revoked
    );
    let (status, page) = gateway(&w, "eva").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("ingetrokken"), "{page}");
    // The list offers reactivation; reactivated, she logs in again.
    let (_, list) = get(&w, &anna, "/admin/grants?status=inactive&person=eva").await;
    assert!(
        list.contains(&format!("/admin/grants/{}/reactivate", ids[0])),
        "{list}"
    );
    let (status, page) = post(
        &w,
        &anna,
        &format!("/admin/grants/{}/reactivate", ids[0]),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("weer actief"), "{page}");
    let (status, page) = gateway(&w, "eva").await;
    assert_eq!(status, 200, "{page}");
    // A form without the session's token changes nothing.
    let (status, _) = post(
        &w,
        &anna,
        &format!("/admin/grants/{}/revoke", ids[0]),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        bakkerij_grants(&w)
            .await
            .iter()
            .find(|g| g.id == ids[0])
            .unwrap()
            .status,
        GrantStatus::Active
    );
}

#[tokio::test]
async fn a_lezer_sees_no_forms_and_is_refused_and_other_organisations_grants_are_not_found() {
    let w = common::start().await;
    let sql = w.registry.sql();
    w.registry
        .write(sql.set_roles(
            &Actor::Operator("test".into()),
            BAKKERIJ,
            "eva",
            &[Role::Lezer, Role::Gebruiker],
        ))
        .await
        .unwrap();
    let (eva, csrf) = admin_session(&w, "eva").await;
    let (status, page) = get(&w, &eva, "/admin/grants").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        listed(&page).contains(&"g-anna-bakkerij".to_string()),
        "{page}"
    );
    for form in [
        "/admin/grants/renew",
        "/admin/grants/new",
        "/revoke",
        "/reactivate",
        "type=\"checkbox\" name=\"grant\"",
    ] {
        assert!(!page.contains(form), "a lezer sees no {form}: {page}");
    }
    let (status, _) = get(&w, &eva, "/admin/grants/new").await;
    assert_eq!(status, 403);
    let before = bakkerij_grants(&w).await;
    let year = day(12);
    let today = day(0);
    for (path, fields) in [
        (
            "/admin/grants/renew",
            vec![
                ("csrf", csrf.as_str()),
                ("grant", "g-anna-bakkerij"),
                ("years", "1"),
            ],
        ),
        (
            "/admin/grants/g-anna-bakkerij/revoke",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "/admin/grants/g-eva-bakkerij/reactivate",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "/admin/grants/new",
            vec![
                ("csrf", csrf.as_str()),
                ("holder", "person:eva"),
                ("scope", "all"),
                ("level", "EH2"),
                ("valid_from", today.as_str()),
                ("valid_until", year.as_str()),
            ],
        ),
    ] {
        let (status, page) = post(&w, &eva, path, &fields).await;
        assert_eq!(status, 403, "{path}: {page}");
    }
    assert_eq!(bakkerij_grants(&w).await, before, "nothing changed");

    // anna acts for the Bakkerij: Van Dijk's grants (hers included) are not found.
    let (anna, csrf) = admin_session(&w, "anna").await;
    let (status, _) = get(&w, &anna, "/admin/grants/g-carla-vandijk/revoke").await;
    assert_eq!(status, 404);
    for (path, fields) in [
        (
            "/admin/grants/g-anna-vandijk/revoke",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "/admin/grants/g-carla-vandijk/reactivate",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "/admin/grants/renew",
            vec![
                ("csrf", csrf.as_str()),
                ("grant", "g-anna-vandijk"),
                ("years", "1"),
            ],
        ),
    ] {
        let (status, page) = post(&w, &anna, path, &fields).await;
        assert_eq!(status, 404, "{path}: {page}");
    }
    let vandijk = w
        .registry
        .sql()
        .list_grants(&GrantFilter {
            organisation: Some("87654321".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(vandijk.iter().all(|g| g.status == GrantStatus::Active));
    let carla = vandijk.iter().find(|g| g.id == "g-carla-vandijk").unwrap();
    assert!(carla.valid_until < Utc::now(), "still expired");
}

#[tokio::test]
async fn the_audit_page_filters_and_links_its_csv() {
    let w = common::start().await;
    let (anna, csrf) = admin_session(&w, "anna").await;
    let (status, _) = post(
        &w,
        &anna,
        "/admin/grants/g-eva-bakkerij/reactivate",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, page) = get(&w, &anna, "/admin/audit?action=grant.").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("grant.reactivate"), "{page}");
    assert!(
        page.contains("g-eva-bakkerij, revoked") && page.contains("g-eva-bakkerij, active"),
        "readable before/after: {page}"
    );
    assert!(!page.contains(">admin.login</td>"), "{page}");
    let (_, page) = get(&w, &anna, "/admin/audit?actor=person:anna").await;
    assert!(page.contains("grant.reactivate"), "{page}");
    let (_, page) = get(&w, &anna, "/admin/audit?actor=person:nobody").await;
    assert!(page.contains("Geen regels gevonden"), "{page}");
    let tomorrow = (Utc::now().date_naive() + chrono::TimeDelta::days(1)).to_string();
    let today = Utc::now().date_naive().to_string();
    let (_, page) = get(
        &w,
        &anna,
        &format!("/admin/audit?action=grant.&from={tomorrow}"),
    )
    .await;
    assert!(!page.contains("grant.reactivate"), "{page}");
    let (_, page) = get(
        &w,
        &anna,
        &format!("/admin/audit?action=grant.&from={today}&to={today}"),
    )
    .await;
    assert!(page.contains("grant.reactivate"), "{page}");
    // A date that is not one: said next to it, typed text kept.
    let (status, page) = get(&w, &anna, "/admin/audit?from=31-12-2026").await;
    assert_eq!(status, 422);
    assert!(error_of(&page, "from").contains("JJJJ-MM-DD"));
    assert!(page.contains("value=\"31-12-2026\""), "{page}");
    // The CSV link carries the same filters.
    let (_, page) = get(
        &w,
        &anna,
        &format!("/admin/audit?action=grant.&from={today}"),
    )
    .await;
    let end = page.find("\" class=\"csv ").expect("a CSV link");
    let start = page[..end].rfind("href=\"").unwrap() + 6;
    let link = common::unescape(&page[start..end]);
    assert!(
        link.contains("action=grant.") && link.contains("since="),
        "{link}"
    );
    let (status, csv) = get(&w, &anna, &link).await;
    assert_eq!(status, 200, "{csv}");
    assert!(csv.contains("grant.reactivate"), "{csv}");
    assert!(!csv.contains("admin.login"), "{csv}");
}

#[tokio::test]
async fn a_groepsbeheerder_sees_and_grants_within_their_groups_only() {
    group_scope(common::start().await).await;
}

#[tokio::test]
async fn a_groepsbeheerder_sees_within_their_groups_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    group_scope(on_postgres(&pg).await).await;
}

async fn group_scope(w: World) {
    let sql = w.registry.sql();
    let operator = Actor::Operator("test".into());
    // eva administers the group Kassa, which the Bakkerij grants service 1 at EH3.
    w.registry
        .write(sql.create_group(&operator, BAKKERIJ, "Kassa"))
        .await
        .unwrap();
    w.registry
        .write(sql.add_to_group(&operator, BAKKERIJ, "Kassa", "eva", true))
        .await
        .unwrap();
    w.registry
        .write(sql.set_roles(
            &operator,
            BAKKERIJ,
            "eva",
            &[Role::Groepsbeheerder, Role::Gebruiker],
        ))
        .await
        .unwrap();
    let (anna, anna_csrf) = admin_session(&w, "anna").await;
    let (today, year) = (day(0), day(12));
    let group_grant = |level: &'static str, service: &'static str| {
        vec![
            ("holder", "group:Kassa"),
            ("scope", "services"),
            ("service", service),
            ("level", level),
        ]
    };
    let mut fields = group_grant("EH3", S1);
    fields.extend([
        ("csrf", anna_csrf.as_str()),
        ("valid_from", today.as_str()),
        ("valid_until", year.as_str()),
    ]);
    let (status, page) = post(&w, &anna, "/admin/grants/new", &fields).await;
    assert_eq!(status, 200, "{page}");

    let (eva, csrf) = admin_session(&w, "eva").await;
    let (_, page) = get(&w, &eva, "/admin/grants").await;
    let seen = listed(&page);
    assert!(seen.contains(&"g-eva-bakkerij".to_string()), "{page}");
    assert!(!seen.contains(&"g-anna-bakkerij".to_string()), "{page}");
    assert!(page.contains("groep Kassa"), "{page}");
    // The form offers her group, not anna.
    let (_, form) = get(&w, &eva, "/admin/grants/new").await;
    assert!(form.contains("value=\"group:Kassa\""), "{form}");
    assert!(!form.contains("value=\"person:anna\""), "{form}");
    // anna's grant does not exist for her.
    let (status, _) = get(&w, &eva, "/admin/grants/g-anna-bakkerij/revoke").await;
    assert_eq!(status, 404);
    let (status, _) = post(
        &w,
        &eva,
        "/admin/grants/renew",
        &[
            ("csrf", &csrf),
            ("grant", "g-anna-bakkerij"),
            ("years", "1"),
        ],
    )
    .await;
    assert_eq!(status, 404);
    // She grants her group service 2, within her own level (EH3 through the group).
    let before = bakkerij_grants(&w).await.len();
    let mut fields = group_grant("EH2+", S2);
    fields.extend([
        ("csrf", csrf.as_str()),
        ("valid_from", today.as_str()),
        ("valid_until", year.as_str()),
    ]);
    let (status, page) = post(&w, &eva, "/admin/grants/new", &fields).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(bakkerij_grants(&w).await.len(), before + 1);
    let (_, page) = get(
        &w,
        &eva,
        &format!("/admin/grants?service={S2}&status=active"),
    )
    .await;
    assert_eq!(listed(&page).len(), 1, "{page}");
}

#[tokio::test]
async fn long_lists_and_trails_come_50_a_page() {
    let w = common::start().await;
    let sql = w.registry.sql();
    // 55 grants for eva, one month apart (so none overlaps another).
    let start = chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let rows: Vec<poort::grants::ImportRow> = (0..55)
        .map(|i| {
            let from = start + Months::new(i);
            poort::grants::ImportRow {
                line: i as usize + 1,
                request: poort::grants::GrantRequest {
                    id: Some(format!("g-many-{i:02}")),
                    organisation: BAKKERIJ.into(),
                    holder: poort::grants::Holder::Person("eva".into()),
                    scope: Scope::Service { uuid: S1.into() },
                    level: "EH2".parse().unwrap(),
                    valid_from: from,
                    valid_until: from + chrono::TimeDelta::days(27),
                },
                status: GrantStatus::Active,
            }
        })
        .collect();
    w.registry
        .write(sql.import_grants(&Actor::Operator("test".into()), &w.config.services, &rows))
        .await
        .unwrap();
    let (anna, _) = admin_session(&w, "anna").await;
    let (_, first) = get(&w, &anna, "/admin/grants?q=eva").await;
    assert_eq!(listed(&first).len(), 50, "{first}");
    assert!(first.contains("rel=\"next\""), "{first}");
    let (_, second) = get(&w, &anna, "/admin/grants?q=eva&page=2").await;
    let rest = listed(&second);
    assert_eq!(rest.len(), 6, "5 more and g-eva-bakkerij: {second}");
    assert!(rest.iter().all(|id| !listed(&first).contains(id)));
    // The trail has an entry per imported grant.
    let (_, first) = get(&w, &anna, "/admin/audit?action=grant.add").await;
    assert_eq!(first.matches("class=\"entry\"").count(), 50, "{first}");
    let (_, second) = get(&w, &anna, "/admin/audit?action=grant.add&page=2").await;
    assert_eq!(second.matches("class=\"entry\"").count(), 5, "{second}");
}
