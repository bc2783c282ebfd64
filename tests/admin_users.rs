//! The admin module's users, organisation and link-request pages: the list searched, filtered
//! and paged by the database with status and last login; a member's details, roles, blocks
//! and removal, each refusal next to its field with what was typed kept and nothing changed;
//! the organisation's contact data; and a request to link a person known at another
//! organisation, approved by that organisation's administrator.

mod common;

use common::{admin_session, execute_sql, World};
use poort::grants::{Actor, NewInvitation, Pool};
use std::time::{Duration, Instant};

async fn get(w: &World, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(format!("{}{path}", w.poort)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form with the page's CSRF token (redirects followed): status, final path and query,
/// and the page.
async fn post(
    w: &World,
    c: &reqwest::Client,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    let r = c
        .post(format!("{}{path}", w.poort))
        .form(&all)
        .send()
        .await
        .unwrap();
    let at = format!("{}?{}", r.url().path(), r.url().query().unwrap_or(""));
    (r.status().as_u16(), at, r.text().await.unwrap())
}

/// The CSRF field of a page's forms.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF field") + marker.len();
    page[start..start + 64].to_string()
}

fn error_after(page: &str, field: &str) -> String {
    let marker = format!("id=\"{field}-error\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no error next to {field}: {page}"))
        + marker.len();
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

async fn member_json(w: &World, c: &reqwest::Client, person: &str) -> serde_json::Value {
    c.get(format!("{}/api/v1/members/{person}", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn count(pool: &Pool, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap()
}

async fn invite(w: &World, name: &str, email: &str) {
    let sql = w.registry.sql();
    let new = NewInvitation {
        name: name.into(),
        email: email.into(),
        ..Default::default()
    };
    w.registry
        .write(sql.invite(
            &Actor::Operator("test".into()),
            "12345678",
            &new,
            chrono::Utc::now(),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_users_list_searches_filters_pages_and_shows_the_last_login() {
    let w = common::start().await;
    for i in 0..60 {
        invite(
            &w,
            &format!("Lid {i:02}"),
            &format!("lid{i:02}@bakkerij.example"),
        )
        .await;
    }
    let (c, _) = admin_session(&w, "anna").await;

    // anna, eva and the 60 invited: two pages of 50, by name.
    let (status, page) = get(&w, &c, "/admin/users").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("62 gebruikers") && page.contains("1 / 2"),
        "{page}"
    );
    assert!(page.contains("rel=\"next\"") && !page.contains("rel=\"prev\""));
    assert!(page.contains("Anna de Vries") && page.contains("Lid 47"));
    assert!(!page.contains("Lid 48"), "the third name of page 2");
    let (_, second) = get(&w, &c, "/admin/users?page=2").await;
    assert!(second.contains("Lid 48") && second.contains("Lid 59") && !second.contains("Lid 47"));

    // Search by part of the e-mail address or name, any case; status filters.
    let (_, found) = get(&w, &c, "/admin/users?q=LID05").await;
    assert!(
        found.contains("1 gebruikers") && found.contains("Lid 05"),
        "{found}"
    );
    let (_, found) = get(&w, &c, "/admin/users?q=de+vries").await;
    assert!(found.contains("Anna de Vries") && !found.contains("Eva Smit"));
    let (_, invited) = get(&w, &c, "/admin/users?status=invited").await;
    assert!(invited.contains("60 gebruikers") && !invited.contains("Anna de Vries"));
    let (_, active) = get(&w, &c, "/admin/users?status=active").await;
    assert!(active.contains("2 gebruikers") && active.contains("Eva Smit"));
    // A search text is data, not a pattern: "%" matches only a literal percent sign.
    let (_, none) = get(&w, &c, "/admin/users?q=%25").await;
    assert!(none.contains("0 gebruikers"), "{none}");

    // anna's admin login is her last login (written by the background writer: bounded wait).
    let start = Instant::now();
    loop {
        let anna = member_json(&w, &c, "anna").await;
        if anna["last_login"].is_string() {
            assert_eq!(anna["status"], "active");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{anna}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, page) = get(&w, &c, "/admin/users?q=anna").await;
    assert!(!page.contains("nog nooit"), "{page}");
    let (_, page) = get(&w, &c, "/admin/users?q=eva").await;
    assert!(page.contains("nog nooit"), "eva never logged in: {page}");
    // The API lists the same, with the same filters.
    let api: serde_json::Value = c
        .get(format!(
            "{}/api/v1/members?status=invited&per_page=10",
            w.poort
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["total"], 60);
    assert_eq!(api["items"].as_array().unwrap().len(), 10);
    let bad = c
        .get(format!("{}/api/v1/members?status=sleeping", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn a_members_details_roles_blocks_and_removal_through_the_pages() {
    let w = common::start().await;
    let pool = w.registry.sql().pool();
    execute_sql(
        pool,
        "UPDATE persons SET email = 'eva@bakkerij.example' WHERE id = 'eva'",
    )
    .await;
    invite(&w, "Gijs de Boer", "gijs@bakkerij.example").await;
    let gijs: String = {
        let sql = "SELECT id FROM persons WHERE email = 'gijs@bakkerij.example'";
        match pool {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        }
        .unwrap()
    };
    let (c, _) = admin_session(&w, "anna").await;
    let (status, page) = get(&w, &c, &format!("/admin/users/{gijs}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("uitgenodigd") && page.contains("de link is geldig tot"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let details = format!("/admin/users/{gijs}/details");

    // Details: a bad address and a taken one come back next to the field, typed text kept.
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        &details,
        &[
            ("name", "Gijs B."),
            ("email", "gijs@"),
            ("phone", "06 1234 5678"),
            ("language", "en"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "email").contains("geen geldig e-mailadres"));
    assert!(page.contains("value=\"Gijs B.\"") && page.contains("value=\"gijs@\""));
    assert!(page.contains("value=\"06 1234 5678\""), "phone kept");
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        &details,
        &[
            ("name", "Gijs B."),
            ("email", "EVA@bakkerij.example"),
            ("language", "nl"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "email").contains("al een gebruiker met dit e-mailadres"));
    assert_eq!(
        member_json(&w, &c, &gijs).await["name"],
        "Gijs de Boer",
        "unchanged"
    );
    let (status, at, page) = post(
        &w,
        &c,
        &csrf,
        &details,
        &[
            ("name", "Gijs Boer"),
            ("email", "g.boer@bakkerij.example"),
            ("language", "en"),
        ],
    )
    .await;
    assert_eq!(
        (status, at.as_str()),
        (200, format!("/admin/users/{gijs}?notice=saved").as_str())
    );
    assert!(page.contains("De wijzigingen zijn opgeslagen."));
    let m = member_json(&w, &c, &gijs).await;
    assert_eq!(
        (
            m["name"].as_str(),
            m["email"].as_str(),
            m["language"].as_str()
        ),
        (
            Some("Gijs Boer"),
            Some("g.boer@bakkerij.example"),
            Some("en")
        )
    );
    // anna is also a member of Van Dijk: her details are not the Bakkerij's to change.
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        "/admin/users/anna/details",
        &[("name", "Anna"), ("email", "anna@bakkerij.example")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "name").contains("ook lid van een andere organisatie"));

    // Roles: the last hoofdbeheerder cannot drop the role; the boxes as ticked stay.
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        "/admin/users/anna/roles",
        &[("role", "beheerder")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "roles").contains("minstens één hoofdbeheerder"));
    assert!(page.contains("value=\"beheerder\" checked"));
    assert!(
        !page.contains("value=\"hoofdbeheerder\" checked"),
        "as typed, not as stored"
    );
    assert_eq!(
        member_json(&w, &c, "anna").await["roles"][0],
        "hoofdbeheerder"
    );
    let (status, _, _) = post(
        &w,
        &c,
        &csrf,
        "/admin/users/eva/roles",
        &[("role", "lezer"), ("role", "gebruiker")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        member_json(&w, &c, "eva").await["roles"],
        serde_json::json!(["gebruiker", "lezer"])
    );

    // Block in one group only, then for the whole organisation, and lift both.
    let sql = w.registry.sql();
    let op = Actor::Operator("test".into());
    w.registry
        .write(sql.create_group(&op, "12345678", "Winkel"))
        .await
        .unwrap();
    w.registry
        .write(sql.add_to_group(&op, "12345678", "Winkel", "eva", false))
        .await
        .unwrap();
    let (status, at, _) = post(&w, &c, &csrf, "/admin/users/eva/groups/Winkel/block", &[]).await;
    assert_eq!(
        (status, at.as_str()),
        (200, "/admin/users/eva?notice=blocked")
    );
    assert_eq!(
        member_json(&w, &c, "eva").await["groups"],
        serde_json::json!([["Winkel", true]])
    );
    assert_eq!(member_json(&w, &c, "eva").await["status"], "active");
    let (status, _, _) = post(&w, &c, &csrf, "/admin/users/eva/groups/Nergens/block", &[]).await;
    assert_eq!(status, 404, "a group eva is not in");
    let (_, _, page) = post(&w, &c, &csrf, "/admin/users/eva/block", &[]).await;
    assert!(page.contains("De gebruiker is geblokkeerd"));
    assert_eq!(member_json(&w, &c, "eva").await["status"], "blocked");
    post(&w, &c, &csrf, "/admin/users/eva/unblock", &[]).await;
    post(&w, &c, &csrf, "/admin/users/eva/groups/Winkel/unblock", &[]).await;
    let m = member_json(&w, &c, "eva").await;
    assert_eq!(
        (m["status"].as_str(), &m["groups"]),
        (Some("active"), &serde_json::json!([["Winkel", false]]))
    );

    // Removal asks first; removing oneself is refused; removing eva takes her grant with her
    // and leaves the trail.
    let (status, page) = get(&w, &c, "/admin/users/eva/remove").await;
    assert_eq!(status, 200);
    assert!(page.contains("Eva Smit verwijderen uit") && page.contains("Ja, verwijderen"));
    let (status, _, page) = post(&w, &c, &csrf, "/admin/users/anna/remove", &[]).await;
    assert_eq!(status, 422);
    assert!(page.contains("U kunt uzelf niet verwijderen."), "{page}");
    let (status, at, page) = post(&w, &c, &csrf, "/admin/users/eva/remove", &[]).await;
    assert_eq!((status, at.as_str()), (200, "/admin/users?notice=removed"));
    assert!(!page.contains("Eva Smit"));
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM grants WHERE id = 'g-eva-bakkerij'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM audit WHERE action = 'member.remove'"
        )
        .await,
        1
    );
    assert_eq!(
        count(pool, "SELECT COUNT(*) FROM persons WHERE id = 'eva'").await,
        1
    );
    let (status, _) = get(&w, &c, "/admin/users/eva").await;
    assert_eq!(status, 404);

    // The invitation: withdrawn, it can no longer be sent again.
    let (_, page) = get(&w, &c, &format!("/admin/users/{gijs}")).await;
    let marker = "name=\"invitation\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let invitation = page[at..at + 36].to_string();
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        &format!("/admin/users/{gijs}/invitation/withdraw"),
        &[("invitation", invitation.as_str())],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("De uitnodiging is ingetrokken."), "{page}");
    assert!(!page.contains("Opnieuw versturen"));
    let (status, _, _) = post(
        &w,
        &c,
        &csrf,
        &format!("/admin/users/{gijs}/invitation/resend"),
        &[("invitation", invitation.as_str())],
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_organisations_contact_data() {
    let w = common::start().await;
    let (c, _) = admin_session(&w, "anna").await;
    let (status, page) = get(&w, &c, "/admin/organisation").await;
    assert_eq!(status, 200);
    assert!(page.contains("805123453") && page.contains("Handelsregister"));
    let csrf = csrf_of(&page);
    let (status, _, page) = post(
        &w,
        &c,
        &csrf,
        "/admin/organisation",
        &[
            ("contact_name", "Piet"),
            ("contact_email", "info@"),
            ("contact_phone", "bel maar"),
            ("contact_address", "Dorpsstraat 1\n1234 AB Ergens"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "contact_email").contains("geen geldig e-mailadres"));
    assert!(page.contains("value=\"bel maar\"") && page.contains("Dorpsstraat 1\n1234 AB Ergens"));
    let (status, at, _) = post(
        &w,
        &c,
        &csrf,
        "/admin/organisation",
        &[
            ("contact_name", "Piet"),
            ("contact_email", "info@bakkerij.example"),
            ("contact_phone", "+31 20 123 4567"),
            ("contact_address", "Dorpsstraat 1\n1234 AB Ergens"),
        ],
    )
    .await;
    assert_eq!(
        (status, at.as_str()),
        (200, "/admin/organisation?notice=contact-saved")
    );
    let org: serde_json::Value = c
        .get(format!("{}/api/v1/organisation", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["contact_address"], "Dorpsstraat 1\n1234 AB Ergens");
    assert_eq!(org["contact_phone"], "+31 20 123 4567");
}

#[tokio::test]
async fn a_person_known_elsewhere_is_linked_when_the_other_side_approves() {
    let w = common::start().await;
    let pool = w.registry.sql().pool();
    execute_sql(
        pool,
        "UPDATE persons SET email = 'eva@bakkerij.example' WHERE id = 'eva'",
    )
    .await;
    // carla (hoofdbeheerder of Van Dijk) asks the Bakkerij for eva.
    let (carla, _) = admin_session(&w, "carla").await;
    let (status, page) = get(&w, &carla, "/admin/links").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    for (kvk, expected) in [
        ("1234567", "precies 8 cijfers"),
        ("87654321", "uw eigen organisatie"),
        ("99999999", "geen organisatie met dit KvK-nummer"),
    ] {
        let (status, _, page) = post(
            &w,
            &carla,
            &csrf,
            "/admin/links",
            &[
                ("kvk", kvk),
                ("email", "eva@bakkerij.example"),
                ("role", "gebruiker"),
            ],
        )
        .await;
        assert_eq!(status, 422, "{kvk}");
        assert!(
            error_after(&page, "kvk").contains(expected),
            "{kvk}: {page}"
        );
        assert!(
            page.contains(&format!("value=\"{kvk}\""))
                && page.contains("value=\"eva@bakkerij.example\"")
        );
    }
    // An address nobody has at the Bakkerij is accepted alike: the asking side learns nothing.
    for email in ["eva@bakkerij.example", "nobody@elders.example"] {
        let (status, at, _) = post(
            &w,
            &carla,
            &csrf,
            "/admin/links",
            &[("kvk", "12345678"), ("email", email), ("role", "gebruiker")],
        )
        .await;
        assert_eq!(
            (status, at.as_str()),
            (200, "/admin/links?notice=link-requested"),
            "{email}"
        );
    }
    let requests: serde_json::Value = carla
        .get(format!("{}/api/v1/link-requests", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outgoing = requests["outgoing"].as_array().unwrap();
    assert_eq!(outgoing.len(), 2);
    assert!(outgoing
        .iter()
        .all(|r| r["status"] == "pending" && r["person"].is_null()));
    let to_eva = outgoing
        .iter()
        .find(|r| r["email"] == "eva@bakkerij.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let to_nobody = outgoing
        .iter()
        .find(|r| r["email"] != "eva@bakkerij.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // carla cannot answer her own request; she can withdraw the one nobody will see.
    let (status, _, _) = post(
        &w,
        &carla,
        &csrf,
        &format!("/admin/links/{to_eva}/approve"),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post(
        &w,
        &carla,
        &csrf,
        &format!("/admin/links/{to_nobody}/withdraw"),
        &[],
    )
    .await;
    assert_eq!(status, 200);

    // anna sees only the request naming eva, with eva's name, and approves it.
    let (anna, _) = admin_session(&w, "anna").await;
    let (_, page) = get(&w, &anna, "/admin/links").await;
    assert!(
        page.contains("Installatiebedrijf Van Dijk") && page.contains("Eva Smit"),
        "{page}"
    );
    assert!(!page.contains("nobody@elders.example"));
    let anna_csrf = csrf_of(&page);
    let (status, _, _) = post(
        &w,
        &anna,
        &anna_csrf,
        &format!("/admin/links/{to_eva}/withdraw"),
        &[],
    )
    .await;
    assert_eq!(status, 404, "not anna's request to withdraw");
    let (status, at, page) = post(
        &w,
        &anna,
        &anna_csrf,
        &format!("/admin/links/{to_eva}/approve"),
        &[],
    )
    .await;
    assert_eq!(
        (status, at.as_str()),
        (200, "/admin/links?notice=link-approved")
    );
    assert!(page.contains("Geen open verzoeken."));
    let van_dijk = w
        .registry
        .sql()
        .show_organisation("87654321")
        .await
        .unwrap();
    let eva = van_dijk.members.iter().find(|m| m.person == "eva").unwrap();
    assert_eq!(eva.roles, vec![poort::grants::Role::Gebruiker]);
    // Answered once only.
    let (status, _, page) = post(
        &w,
        &anna,
        &anna_csrf,
        &format!("/admin/links/{to_eva}/decline"),
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("al gereageerd"), "{page}");
    let (_, page) = get(&w, &carla, "/admin/links").await;
    assert!(
        page.contains("goedgekeurd") && page.contains("ingetrokken"),
        "{page}"
    );
    // Both organisations' trails record the answer.
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM audit WHERE action = 'link.approve'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_groepsbeheerder_invites_into_their_own_group_and_sees_only_its_members() {
    let w = common::start().await;
    let sql = w.registry.sql();
    let op = Actor::Operator("test".into());
    for group in ["Winkel", "Bakkerij"] {
        w.registry
            .write(sql.create_group(&op, "12345678", group))
            .await
            .unwrap();
    }
    w.registry
        .write(sql.set_roles(
            &op,
            "12345678",
            "eva",
            &[
                poort::grants::Role::Groepsbeheerder,
                poort::grants::Role::Gebruiker,
            ],
        ))
        .await
        .unwrap();
    w.registry
        .write(sql.add_to_group(&op, "12345678", "Winkel", "eva", true))
        .await
        .unwrap();
    let (eva, _) = admin_session(&w, "eva").await;
    let (status, page) = get(&w, &eva, "/admin/users/new").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("value=\"Winkel\"") && !page.contains("value=\"Bakkerij\""),
        "{page}"
    );
    assert!(
        !page.contains("value=\"beheerder\""),
        "a groepsbeheerder appoints nobody"
    );
    let csrf = csrf_of(&page);
    // No group: refused next to the groups, what was typed kept.
    let (status, _, page) = post(
        &w,
        &eva,
        &csrf,
        "/admin/users/new",
        &[
            ("name", "Jan"),
            ("email", "jan@bakkerij.example"),
            ("role", "gebruiker"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(error_after(&page, "groups").contains("groepen die u beheert"));
    assert!(page.contains("value=\"jan@bakkerij.example\""));
    // A group eva does not administer, or a role above gebruiker: refused alike, nothing made.
    for fields in [
        [("group", "Bakkerij"), ("role", "gebruiker")],
        [("group", "Winkel"), ("role", "lezer")],
    ] {
        let mut all = vec![("name", "Jan"), ("email", "jan@bakkerij.example")];
        all.extend_from_slice(&fields);
        let (status, _, _) = post(&w, &eva, &csrf, "/admin/users/new", &all).await;
        assert_eq!(status, 422, "{fields:?}");
    }
    let (status, at, _) = post(
        &w,
        &eva,
        &csrf,
        "/admin/users/new",
        &[
            ("name", "Jan"),
            ("email", "jan@bakkerij.example"),
            ("role", "gebruiker"),
            ("group", "Winkel"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(at.ends_with("?notice=invited"), "{at}");
    // eva's list: the members of her group (herself and Jan), not anna.
    let (_, page) = get(&w, &eva, "/admin/users").await;
    assert!(
        page.contains("2 gebruikers") && page.contains("Jan") && !page.contains("Anna"),
        "{page}"
    );
    let (status, _) = get(&w, &eva, "/admin/users/anna").await;
    assert_eq!(status, 404, "outside her groups: not found");
}
