//! The invitation journey: an administrator invites a colleague over the API, the e-mail lands
//! in the outbox (shown on the development mailbox page), the first login through its link
//! binds the colleague's identity, and after that they log in directly. A used, expired,
//! withdrawn or replaced link gets a clear page; bad input a specific problem.

mod common;

use common::{admin_session as admin, client, World};
use poort::grants::Pool;
use serde_json::{json, Value};

async fn invite(w: &World, c: &reqwest::Client, csrf: &str, body: Value) -> (u16, Value) {
    let r = c
        .post(format!("{}/api/v1/invitations", w.poort))
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Follows an invitation link in a fresh browser and logs in at the AD as `subject`.
async fn follow(link: &str, subject: &str, level: &str) -> reqwest::Response {
    let c = client();
    let r = c.get(link).send().await.unwrap();
    let status = r.status();
    let page = r.text().await.unwrap();
    if !page.contains("name=\"pending\"") {
        // No login: a page about the link. Fetch again for the response.
        assert_ne!(status, 200, "{page}");
        return c.get(link).send().await.unwrap();
    }
    common::through_ad(&c, &page, subject, level).await
}

fn gijs() -> Value {
    json!({"name": "Gijs de Boer", "email": "gijs@bakkerij.example", "language": "nl",
           "roles": ["beheerder", "gebruiker"]})
}

#[tokio::test]
async fn invite_accept_through_the_link_then_log_in_directly() {
    let w = common::start().await;
    let (anna, csrf) = admin(&w, "anna").await;
    let (status, made) = invite(&w, &anna, &csrf, gijs()).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["mail_sent"], true);
    // The member exists at once, without an identity.
    let (_, members) = {
        let r = anna
            .get(format!("{}/api/v1/members", w.poort))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(members["total"], 3, "{members}");

    let link = common::invitation_link(&w, "gijs@bakkerij.example").await;
    assert!(
        link.starts_with(&format!("{}/admin/invitation/", w.poort)),
        "{link}"
    );
    let r = follow(&link, "gijs", "EH3").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Bakkerij De Gouden Korst B.V."), "{page}");

    // Used once: the link now says so.
    let r = follow(&link, "gijs", "EH3").await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("al gebruikt"));

    // gijs logs in to the admin module directly, as beheerder of the Bakkerij.
    let (gijs_client, gijs_csrf) = admin(&w, "gijs").await;
    let s: Value = gijs_client
        .get(format!("{}/api/v1/session", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["organisation"]["kvk"], "12345678");
    // A beheerder may invite users, not appoint administrators.
    let body =
        json!({"name": "Hanna", "email": "hanna@bakkerij.example", "roles": ["hoofdbeheerder"]});
    let (status, p) = invite(&w, &gijs_client, &gijs_csrf, body).await;
    assert_eq!(status, 403, "{p}");
    let body = json!({"name": "Hanna", "email": "hanna@bakkerij.example", "roles": ["gebruiker"]});
    let (status, p) = invite(&w, &gijs_client, &gijs_csrf, body).await;
    assert_eq!(status, 201, "{p}");
}

#[tokio::test]
async fn bad_invitations_get_a_specific_problem_and_change_nothing() {
    let w = common::start().await;
    let (anna, csrf) = admin(&w, "anna").await;
    assert_eq!(invite(&w, &anna, &csrf, gijs()).await.0, 201);
    let again = json!({"name": "Other", "email": "GIJS@bakkerij.example", "roles": []});
    let (status, p) = invite(&w, &anna, &csrf, again).await;
    assert_eq!(status, 409, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("already the e-mail address"),
        "{p}"
    );
    let (status, p) = invite(
        &w,
        &anna,
        &csrf,
        json!({"name": "X", "email": "not an address"}),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let (status, p) = invite(
        &w,
        &anna,
        &csrf,
        json!({"name": " ", "email": "x@y.example"}),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let (status, p) = invite(&w, &anna, &csrf, json!({"email": 3})).await;
    assert_eq!(status, 400, "{p}");
    let (status, _) = invite(&w, &anna, "forged", gijs()).await;
    assert_eq!(status, 403);
    let members: Value = anna
        .get(format!("{}/api/v1/members", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["total"], 3, "only gijs was added");
}

async fn expire(pool: &Pool) {
    let sql = "UPDATE invitations SET expires_at = $1";
    let past = chrono::Utc::now() - chrono::TimeDelta::hours(25);
    match pool {
        Pool::Sqlite(p) => sqlx::query(sql).bind(past).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).bind(past).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

#[tokio::test]
async fn expired_withdrawn_and_replaced_links_get_a_clear_page() {
    let w = common::start().await;
    let (anna, csrf) = admin(&w, "anna").await;
    let (_, made) = invite(&w, &anna, &csrf, gijs()).await;
    let link = common::invitation_link(&w, "gijs@bakkerij.example").await;
    // Resent: a new link; the old one is no longer known.
    let id = made["id"].as_str().unwrap();
    let r = anna
        .post(format!("{}/api/v1/invitations/{id}/resend", w.poort))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new_link = common::invitation_link(&w, "gijs@bakkerij.example").await;
    assert_ne!(new_link, link);
    let r = follow(&link, "gijs", "EH3").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("niet bekend"));
    // Expired (24 hours passed).
    expire(w.registry.sql().pool()).await;
    let r = follow(&new_link, "gijs", "EH3").await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("verlopen"));
    // Withdrawn.
    let body = json!({"name": "Hanna", "email": "hanna@bakkerij.example", "roles": ["gebruiker"]});
    let (_, made) = invite(&w, &anna, &csrf, body).await;
    let hanna_link = common::invitation_link(&w, "hanna@bakkerij.example").await;
    let id = made["id"].as_str().unwrap();
    let r = anna
        .post(format!("{}/api/v1/invitations/{id}/withdraw", w.poort))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = follow(&hanna_link, "hanna", "EH3").await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("ingetrokken"));
}

#[tokio::test]
async fn a_link_cannot_bind_a_means_that_belongs_to_someone_else_or_is_too_weak() {
    let w = common::start().await;
    let (anna, csrf) = admin(&w, "anna").await;
    invite(&w, &anna, &csrf, gijs()).await;
    let link = common::invitation_link(&w, "gijs@bakkerij.example").await;
    // Too low a level: refused, and the link stays usable.
    let r = follow(&link, "gijs", "EH2").await;
    assert_eq!(r.status(), 403);
    // eva's means is hers: it cannot become gijs's.
    let r = follow(&link, "eva", "EH3").await;
    assert_eq!(r.status(), 409);
    // The link still works for gijs himself.
    let r = follow(&link, "gijs", "EH3").await;
    assert_eq!(r.status(), 200);
}
