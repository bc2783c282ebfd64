//! Notices by e-mail (into the outbox folder here): a revoked grant to its holder, a block to
//! the blocked member, and expiry reminders to the organisation's managers, once per period.

mod common;

use chrono::{TimeDelta, Utc};
use common::{admin_session as session, execute_sql as execute, World};
use poort::grants::Pool;

fn mails_to(w: &World, address: &str) -> Vec<String> {
    poort::mail::outbox(&w.config.mail.outbox_dir)
        .into_iter()
        .map(|(_, raw)| raw)
        .filter(|raw| {
            raw.lines()
                .any(|l| l.starts_with("To:") && l.contains(address))
        })
        .collect()
}

async fn post(w: &World, c: &reqwest::Client, csrf: &str, path: &str) -> u16 {
    c.post(format!("{}{path}", w.poort))
        .header("X-CSRF-Token", csrf)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn revocation_and_block_notices_reach_the_person() {
    let w = common::start().await;
    let pool = w.registry.sql().pool();
    execute(
        pool,
        "UPDATE persons SET email = 'eva@bakkerij.example', language = 'en' WHERE id = 'eva'",
    )
    .await;
    let (anna, csrf) = session(&w, "anna").await;
    assert_eq!(
        post(&w, &anna, &csrf, "/api/v1/grants/g-eva-bakkerij/reactivate").await,
        200
    );
    assert!(mails_to(&w, "eva@bakkerij.example").is_empty());
    assert_eq!(
        post(&w, &anna, &csrf, "/api/v1/grants/g-eva-bakkerij/revoke").await,
        200
    );
    let mails = mails_to(&w, "eva@bakkerij.example");
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("Subject: Authorisation revoked"),
        "{}",
        mails[0]
    );
    assert_eq!(
        post(&w, &anna, &csrf, "/api/v1/members/eva/block").await,
        200
    );
    let mails = mails_to(&w, "eva@bakkerij.example");
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| m.contains("Subject: Access blocked")));
}

#[tokio::test]
async fn expiry_reminders_go_to_the_managers_once_per_period() {
    let w = common::start().await;
    let pool = w.registry.sql().pool();
    execute(
        pool,
        "UPDATE persons SET email = 'anna@bakkerij.example' WHERE id = 'anna'",
    )
    .await;
    // The Bakkerij's grant ends in 40 days.
    let until = Utc::now() + TimeDelta::days(40);
    let from = Utc::now() - TimeDelta::days(365);
    let sql = "UPDATE grants SET valid_from = $1, valid_until = $2 WHERE id = 'g-anna-bakkerij'";
    match pool {
        Pool::Sqlite(p) => sqlx::query(sql)
            .bind(from)
            .bind(until)
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql)
            .bind(from)
            .bind(until)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    let mailer = poort::mail::Mailer::from_config(&w.config.mail).unwrap();
    let remind = |now| poort::admin::notify::remind_expiring(pool, &mailer, now);
    // Three months before: nothing due.
    assert_eq!(remind(until - TimeDelta::days(90)).await.unwrap(), 0);
    // A month before: due, one mail to the hoofdbeheerder with an address, naming the grant.
    let reminded = remind(until - TimeDelta::days(30)).await.unwrap();
    assert!(reminded >= 1);
    let mails = mails_to(&w, "anna@bakkerij.example");
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert!(mails[0].contains("g-anna-bakkerij"), "{}", mails[0]);
    // Not again for the same period.
    assert_eq!(remind(until - TimeDelta::days(29)).await.unwrap(), 0);
    assert_eq!(mails_to(&w, "anna@bakkerij.example").len(), 1);
    // Renewed, the new period gets its own reminder.
    let (anna, csrf) = session(&w, "anna").await;
    let r = anna
        .post(format!("{}/api/v1/grants/renew", w.poort))
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({"ids": ["g-anna-bakkerij"], "years": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let new_until = until + TimeDelta::days(365);
    assert!(remind(new_until - TimeDelta::days(20)).await.unwrap() >= 1);
    assert_eq!(mails_to(&w, "anna@bakkerij.example").len(), 2);
}
