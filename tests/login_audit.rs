//! Every login decision lands in the audit trail (allowed with organisation, grant and level;
//! refused with its reason), written off the hot path, on the same hash chain.

mod common;

use common::{client, submit_at, World};
use poort::grants::Pool;
use std::time::{Duration, Instant};

async fn at_poort(w: &World, person: &str) -> String {
    let c = client();
    let ad_page = common::dv_to_ad(&c, &w.dv, 1, "redirect").await;
    let r = common::through_ad(&c, &ad_page, person, "EH3").await;
    let page = r.text().await.unwrap();
    if page.contains("name=\"organisation\"") {
        return submit_at(&c, &w.poort, &page, &[("organisation", "12345678")])
            .await
            .text()
            .await
            .unwrap();
    }
    page
}

type AuditRow = (String, String, Option<String>, Option<String>);

async fn login_rows(pool: &Pool) -> Vec<AuditRow> {
    let sql = "SELECT a.action, a.actor, o.kvk, a.after FROM audit a \
               LEFT JOIN organisations o ON o.id = a.organisation_id \
               WHERE a.action LIKE 'login.%' ORDER BY a.id";
    match pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// The rows once the background writer has written `n` of them (bounded wait).
async fn wait_for(pool: &Pool, n: usize) -> Vec<AuditRow> {
    let start = Instant::now();
    loop {
        let rows = login_rows(pool).await;
        if rows.len() >= n {
            return rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "only {} of {n} login decisions audited: {rows:?}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn allowed_and_refused_logins_are_audited_on_the_chain() {
    let w = common::start().await;
    let allowed = at_poort(&w, "anna").await;
    assert!(allowed.contains("SAMLResponse"), "{allowed}");
    let refused = at_poort(&w, "daan").await;
    assert!(!refused.contains("name=\"organisation\""));
    let pool = w.registry.sql().pool();
    let rows = wait_for(pool, 2).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (action, actor, kvk, after) = &rows[0];
    assert_eq!(action, "login.allowed");
    assert_eq!(
        actor,
        &format!("identity:{}#anna", poort::demo::DEV_AD_ENTITY_ID)
    );
    assert_eq!(kvk.as_deref(), Some("12345678"));
    let detail: serde_json::Value = serde_json::from_str(after.as_deref().unwrap()).unwrap();
    assert_eq!(detail["grant"], "g-anna-bakkerij");
    assert_eq!(detail["level"], "EH3");
    assert_eq!(
        detail["service"],
        "urn:etoegang:DV:00000099990000000002:services:1"
    );
    let (action, actor, kvk, after) = &rows[1];
    assert_eq!(action, "login.refused");
    assert!(actor.ends_with("#daan"), "{actor}");
    assert_eq!(kvk, &None);
    let detail: serde_json::Value = serde_json::from_str(after.as_deref().unwrap()).unwrap();
    assert_eq!(detail["reason"], "no_grant");
    // The decisions are on the chain, which verifies.
    let report = poort::grants::audit::verify(pool).await.unwrap();
    assert_eq!((report.entries, report.broken), (2, None));
}

#[tokio::test]
async fn decisions_the_database_refuses_wait_in_the_spool_and_none_is_lost() {
    let w = common::start().await;
    let pool = w.registry.sql().pool();
    // The trail's table is away: appends fail, logins go on.
    common::execute_sql(pool, "ALTER TABLE audit RENAME TO audit_away").await;
    let allowed = at_poort(&w, "anna").await;
    assert!(
        allowed.contains("SAMLResponse"),
        "a login does not wait for the trail"
    );
    at_poort(&w, "daan").await;
    let spool = &w.config.register.audit_spool;
    let start = Instant::now();
    while std::fs::read_to_string(spool).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "not spooled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Back: the spool is written (retried every second here) and then removed.
    common::execute_sql(pool, "ALTER TABLE audit_away RENAME TO audit").await;
    let rows = wait_for(pool, 2).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["login.allowed", "login.refused"]);
    let start = Instant::now();
    while spool.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "spool kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = poort::grants::audit::verify(pool).await.unwrap();
    assert_eq!((report.entries, report.broken), (2, None));
    // Nothing counted lost.
    let metrics = client()
        .get(format!("{}/metrics", w.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("poort_login_decisions_spooled_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("poort_login_decisions_lost_total 0"),
        "{metrics}"
    );
}
