//! A person's recent logins as Mijn poort shows them (`SqlRegister::own_logins`), on SQLite and on
//! a fresh PostgreSQL database: the newest first across all of the person's identities, login
//! decisions only, nobody else's, at most as many as asked.

mod common;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use poort::grants::{conformance, Pool, SqlRegister};

const DEV_AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

async fn run(register: &SqlRegister, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    match register.pool() {
        Pool::Sqlite(p) => sqlx::query(statement).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(statement).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

async fn suite(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    let start: DateTime<Utc> = Utc::now().trunc_subsecs(0) - TimeDelta::hours(1);
    // Anna logs in with a second identity too.
    run(
        &r,
        &format!(
            "INSERT INTO identity_links (idp, subject, person_id, created_at) \
             VALUES ('urn:other-ad', 'anna-2', 'anna', '{}')",
            start.to_rfc3339()
        ),
    )
    .await;
    let anna = format!("identity:{DEV_AD}#anna");
    let anna_2 = "identity:urn:other-ad#anna-2".to_string();
    let bram = format!("identity:{DEV_AD}#bram");
    // The trail, oldest first: Anna's two identities in turn, Bram's logins in between, and an
    // entry by Anna's identity that is no login.
    let trail: Vec<(&str, &str, &str)> = vec![
        (&anna, "login.allowed", r#"{"service":"s-1"}"#),
        (&bram, "login.allowed", r#"{"service":"s-1"}"#),
        (
            &anna_2,
            "login.refused",
            r#"{"service":"s-2","reason":"no_grant"}"#,
        ),
        (&anna, "admin.login", r#"{"service":"s-admin"}"#),
        (
            &bram,
            "login.refused",
            r#"{"service":"s-1","reason":"level"}"#,
        ),
        (&anna_2, "login.allowed", r#"{"service":"s-2"}"#),
        (&anna, "invitation.accept", "{}"),
        (&anna, "login.allowed", r#"{"service":"s-1"}"#),
        (&bram, "login.allowed", r#"{"service":"s-1"}"#),
    ];
    for (minute, (actor, action, after)) in trail.iter().enumerate() {
        let at = start + TimeDelta::minutes(minute as i64);
        run(
            &r,
            &format!(
                "INSERT INTO audit (at, actor, organisation_id, action, after) \
                 SELECT '{}', '{actor}', o.id, '{action}', '{after}' FROM organisations o \
                 WHERE o.kvk = '12345678'",
                at.to_rfc3339()
            ),
        )
        .await;
    }
    let minute = |m: i64| start + TimeDelta::minutes(m);

    let newest = r.own_logins("anna", 3).await.unwrap();
    let seen: Vec<(DateTime<Utc>, &str)> =
        newest.iter().map(|l| (l.at, l.action.as_str())).collect();
    assert_eq!(
        seen,
        [
            (minute(7), "login.allowed"),
            (minute(5), "login.allowed"),
            (minute(3), "admin.login"),
        ]
    );
    assert_eq!(newest[1].service.as_deref(), Some("s-2"));
    assert_eq!(newest[0].organisation.as_deref(), Some("12345678"));

    // All of them: five logins of hers, the refusal with its reason; nothing of Bram's.
    let all = r.own_logins("anna", 10).await.unwrap();
    let seen: Vec<DateTime<Utc>> = all.iter().map(|l| l.at).collect();
    assert_eq!(
        seen,
        [minute(7), minute(5), minute(3), minute(2), minute(0)]
    );
    assert_eq!(all[3].reason.as_deref(), Some("no_grant"));
    let bram_logins = r.own_logins("bram", 10).await.unwrap();
    assert_eq!(bram_logins.len(), 3);
    assert_eq!(bram_logins[1].reason.as_deref(), Some("level"));
    // Someone who never logged in.
    run(
        &r,
        &format!(
            "INSERT INTO persons (id, name, created_at) VALUES ('new', 'Nieuw', '{}')",
            start.to_rfc3339()
        ),
    )
    .await;
    assert!(r.own_logins("new", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn own_logins_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    suite(
        SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn own_logins_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(register.clone()).await;
    register.close().await;
}
