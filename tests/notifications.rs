//! Notices by e-mail (queued in the register, delivered into the outbox folder here): a revoked
//! grant to its holder, a block to the blocked member, and expiry reminders to the
//! organisation's managers, once per period, and once across replicas (the `reminders` lease).

mod common;

use chrono::{TimeDelta, Utc};
use common::{admin_session as session, execute_sql as execute, World};
use poort::grants::Pool;

/// The mails to `address`, once everything queued has been delivered.
async fn mails_to(w: &World, address: &str) -> Vec<String> {
    common::deliver_mail(w).await;
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
    assert!(mails_to(&w, "eva@bakkerij.example").await.is_empty());
    assert_eq!(
        post(&w, &anna, &csrf, "/api/v1/grants/g-eva-bakkerij/revoke").await,
        200
    );
    let mails = mails_to(&w, "eva@bakkerij.example").await;
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
    let mails = mails_to(&w, "eva@bakkerij.example").await;
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
    at(pool, ENDS, until, "g-anna-bakkerij").await;
    at(pool, STARTS, from, "g-anna-bakkerij").await;
    let mailer = poort::mail::Mailer::new(pool.clone());
    let remind = |now| poort::admin::notify::remind_expiring(pool, &mailer, now);
    // Three months before: nothing due.
    assert_eq!(remind(until - TimeDelta::days(90)).await.unwrap(), 0);
    // A month before: due, one mail to the hoofdbeheerder with an address, naming the grant.
    let reminded = remind(until - TimeDelta::days(30)).await.unwrap();
    assert!(reminded >= 1);
    let mails = mails_to(&w, "anna@bakkerij.example").await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert!(mails[0].contains("g-anna-bakkerij"), "{}", mails[0]);
    // Not again for the same period.
    assert_eq!(remind(until - TimeDelta::days(29)).await.unwrap(), 0);
    assert_eq!(mails_to(&w, "anna@bakkerij.example").await.len(), 1);
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
    assert_eq!(mails_to(&w, "anna@bakkerij.example").await.len(), 2);
}

/// Runs one statement with a time and an ID bound.
async fn at(pool: &Pool, sql: &'static str, time: chrono::DateTime<Utc>, id: &str) {
    match pool {
        Pool::Sqlite(p) => sqlx::query(sql)
            .bind(time)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql)
            .bind(time)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

const ENDS: &str = "UPDATE grants SET valid_until = $1 WHERE id = $2";
const STARTS: &str = "UPDATE grants SET valid_from = $1 WHERE id = $2";

/// The mails delivered into `dir`: (recipient line, body).
fn delivered(dir: &std::path::Path) -> Vec<(String, String)> {
    poort::mail::outbox(dir)
        .into_iter()
        .map(|(_, raw)| {
            let to = raw
                .lines()
                .find(|l| l.starts_with("To:"))
                .unwrap_or_default()
                .to_string();
            (to, raw)
        })
        .collect()
}

/// Delivers what is queued with one mail worker per replica, side by side, into `dir`.
async fn deliver_from_both(a: &Pool, b: &Pool, dir: &std::path::Path) -> usize {
    let config = poort::config::MailConfig {
        outbox_dir: dir.to_path_buf(),
        ..Default::default()
    };
    let metrics = std::sync::Arc::new(poort::metrics::Metrics::default());
    let worker = |pool: &Pool, holder| {
        poort::mail::MailWorker::from_config(pool.clone(), &config, holder, metrics.clone())
            .unwrap()
    };
    let (wa, wb) = (worker(a, "replica-a"), worker(b, "replica-b"));
    let now = Utc::now();
    let (sa, sb) = tokio::join!(wa.deliver_due(now), wb.deliver_due(now));
    assert_eq!(wa.counts().await.unwrap().queued, 0);
    sa.unwrap() + sb.unwrap()
}

/// Two replicas (registers opened independently on one database) both run the reminder job:
/// each grant is reminded once; the lease stays with its holder while it renews, and passes to
/// the other replica when it stops.
async fn reminders_run_once_across_replicas(url: &str) {
    use poort::admin::notify::{remind_expiring, ReminderJob, REMINDER_LEASE};
    use poort::grants::lease::Lease;
    let (a, b) = common::two_replicas(url).await;
    a.import(
        &poort::grants::load_grants_file(common::repo_file("config/grants-dev.toml")).unwrap(),
    )
    .await
    .unwrap();
    let (pa, pb) = (a.pool(), b.pool());
    for (id, domain) in [
        ("anna", "bakkerij"),
        ("bram", "groendak"),
        ("carla", "vandijk"),
    ] {
        execute(
            pa,
            &format!("UPDATE persons SET email = '{id}@{domain}.example' WHERE id = '{id}'"),
        )
        .await;
    }
    let now = Utc::now();
    let ends = now + TimeDelta::days(40);
    for grant in [
        "g-anna-bakkerij",
        "g-bram-groendak-s1",
        "g-bram-groendak-s2",
    ] {
        at(pa, ENDS, ends, grant).await;
    }
    let hour = std::time::Duration::from_secs(3600);
    let job_a = ReminderJob::new(poort::mail::Mailer::new(pa.clone()), "replica-a", hour);
    let job_b = ReminderJob::new(poort::mail::Mailer::new(pb.clone()), "replica-b", hour);

    // Both run for the same period at once: one holds the lease and reminds all three grants.
    let (ra, rb) = tokio::join!(job_a.run_once(now), job_b.run_once(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(
        matches!((ra, rb), (Some(3), None) | (None, Some(3))),
        "exactly one replica runs the job: {ra:?} {rb:?}"
    );
    let (first, second) = if ra.is_some() {
        (&job_a, &job_b)
    } else {
        (&job_b, &job_a)
    };
    let holder = Lease::current(pa, REMINDER_LEASE).await.unwrap().unwrap().0;
    assert_eq!(
        holder,
        if ra.is_some() {
            "replica-a"
        } else {
            "replica-b"
        }
    );
    // One mail per organisation to its manager: the Bakkerij's to anna, Groen Dak's (both of
    // bram's grants) to bram; delivered by both replicas' workers, each mail once.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(deliver_from_both(pa, pb, dir.path()).await, 2);
    let mails = delivered(dir.path());
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let to_bram = mails.iter().find(|(to, _)| to.contains("bram@")).unwrap();
    assert!(to_bram.1.contains("g-bram-groendak-s1") && to_bram.1.contains("g-bram-groendak-s2"));
    assert!(mails.iter().any(|(to, _)| to.contains("anna@")));

    // Within the lease the other replica does not run; the holder renews at its next run.
    assert_eq!(
        second.run_once(now + TimeDelta::hours(1)).await.unwrap(),
        None
    );
    assert_eq!(
        first.run_once(now + TimeDelta::hours(1)).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        second
            .run_once(now + TimeDelta::minutes(150))
            .await
            .unwrap(),
        None
    );
    // The holder stops renewing (its last run at +1 h, the lease two hours): after +3 h the
    // other replica takes over, and reminds a grant that became due meanwhile.
    at(pa, ENDS, now + TimeDelta::days(45), "g-anna-vandijk").await;
    let later = now + TimeDelta::hours(3) + TimeDelta::seconds(1);
    assert_eq!(second.run_once(later).await.unwrap(), Some(1));
    assert_eq!(
        first.run_once(later).await.unwrap(),
        None,
        "the lease moved"
    );
    assert_eq!(deliver_from_both(pa, pb, dir.path()).await, 1);
    let mails = delivered(dir.path());
    assert_eq!(mails.len(), 3);
    assert!(mails
        .iter()
        .any(|(to, raw)| to.contains("carla@") && raw.contains("g-anna-vandijk")));

    // Even without the lease a grant is reminded once: marking it and queueing its mails is one
    // transaction that a second run finds already done.
    at(pa, ENDS, now + TimeDelta::days(50), "g-femke-groendak").await;
    let (ma, mb) = (
        poort::mail::Mailer::new(pa.clone()),
        poort::mail::Mailer::new(pb.clone()),
    );
    let t = now + TimeDelta::hours(4);
    let (x, y) = tokio::join!(remind_expiring(pa, &ma, t), remind_expiring(pb, &mb, t));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(deliver_from_both(pa, pb, dir.path()).await, 1);
    assert_eq!(delivered(dir.path()).len(), 4);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_run_once_across_replicas_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("register.db").display());
    reminders_run_once_across_replicas(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_run_once_across_replicas_on_postgres() {
    let db = common::cluster::FreshPostgres::create();
    reminders_run_once_across_replicas(&db.url).await;
}
