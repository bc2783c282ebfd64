//! The audit trail's hash chain on SQLite and PostgreSQL: intact after ordinary and concurrent
//! writes; an edited entry and a removed entry are each found, by the library and by
//! `poort audit verify`.

mod common;

use common::execute_sql as execute;

use poort::config::Config;
use poort::grants::audit::{verify, ChainBreak, GENESIS};
use poort::grants::{Actor, NewOrganisation, Pool, SqlRegister};
use std::path::Path;
use std::process::Command;

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

fn op() -> Actor {
    Actor::Operator("test".into())
}

async fn hashes(pool: &Pool) -> Vec<(i64, String)> {
    let sql = "SELECT id, hash FROM audit ORDER BY id";
    match pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// Some ordinary writes, then 16 at once.
async fn fill(register: &SqlRegister) {
    for (kvk, name) in [("12345678", "Bakkerij"), ("87654321", "Van Dijk")] {
        let new = NewOrganisation {
            kvk: kvk.into(),
            rsin: None,
            name: name.into(),
            contact_name: None,
            contact_email: None,
            contact_phone: None,
        };
        register.create_organisation(&op(), &new).await.unwrap();
    }
    let writes = (0..16).map(|i| {
        let register = register.clone();
        tokio::spawn(async move {
            let person = format!("p{i}");
            register
                .link_person(&op(), &person, Some("P"), IDP, &person)
                .await
                .unwrap();
        })
    });
    for w in writes {
        w.await.unwrap();
    }
}

async fn suite(register: SqlRegister, drop_triggers: &[&str]) {
    let pool = register.pool().clone();
    // An empty trail verifies, with the genesis hash as head.
    let report = verify(&pool).await.unwrap();
    assert_eq!((report.entries, report.head.as_str()), (0, GENESIS));

    fill(&register).await;
    let report = verify(&pool).await.unwrap();
    let stored = hashes(&pool).await;
    assert_eq!(report.entries, 18);
    assert_eq!(report.broken, None, "concurrent appends forked the chain");
    assert_eq!(report.head, stored.last().unwrap().1);

    // Someone with database rights drops the append-only triggers and edits an entry.
    for sql in drop_triggers {
        execute(&pool, sql).await;
    }
    let (second, third) = (stored[1].0, stored[2].0);
    execute(
        &pool,
        &format!("UPDATE audit SET actor = 'operator:someone-else' WHERE id = {second}"),
    )
    .await;
    let report = verify(&pool).await.unwrap();
    assert_eq!(report.broken, Some(ChainBreak::Edited { id: second }));
    // Put back, it verifies again (the chain, not the row count, is what is checked).
    execute(
        &pool,
        &format!("UPDATE audit SET actor = 'operator:test' WHERE id = {second}"),
    )
    .await;
    assert_eq!(verify(&pool).await.unwrap().broken, None);
    // An entry removed from the middle.
    execute(&pool, &format!("DELETE FROM audit WHERE id = {third}")).await;
    let report = verify(&pool).await.unwrap();
    assert_eq!(
        report.broken,
        Some(ChainBreak::Missing {
            id: stored[3].0,
            after: Some(second)
        })
    );
    // The first entry removed.
    execute(
        &pool,
        &format!("DELETE FROM audit WHERE id = {}", stored[0].0),
    )
    .await;
    let report = verify(&pool).await.unwrap();
    assert_eq!(
        report.broken,
        Some(ChainBreak::Missing {
            id: second,
            after: None
        })
    );
}

#[tokio::test]
async fn chain_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    let register = SqlRegister::connect_sqlite(path.to_str().unwrap())
        .await
        .unwrap();
    suite(
        register,
        &[
            "DROP TRIGGER audit_no_update",
            "DROP TRIGGER audit_no_delete",
        ],
    )
    .await;
}

#[tokio::test]
async fn chain_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(
        register.clone(),
        &["DROP TRIGGER audit_append_only ON audit"],
    )
    .await;
    register.close().await;
}

fn verify_command(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_poort"))
        .args(["audit", "--config"])
        .arg(config)
        .arg("verify")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn poort_audit_verify_reports_intact_and_broken() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("register.db");
    let text = std::fs::read_to_string(common::repo_file("config/poort.toml")).unwrap();
    let mut config: Config = toml::from_str(&text).unwrap();
    config.register.database = format!("sqlite://{}", db.display());
    config.register.seed = None;
    let config_path = dir.path().join("poort.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();

    let register = SqlRegister::connect_sqlite(db.to_str().unwrap())
        .await
        .unwrap();
    fill(&register).await;
    let head = hashes(register.pool()).await.last().unwrap().1.clone();
    let (ok, out) = verify_command(&config_path);
    assert!(ok, "{out}");
    assert!(
        out.contains("intact: 18 entries") && out.contains(&head),
        "{out}"
    );

    execute(register.pool(), "DROP TRIGGER audit_no_update").await;
    execute(
        register.pool(),
        "UPDATE audit SET after = '{\"forged\":true}' WHERE id = 5",
    )
    .await;
    let (ok, out) = verify_command(&config_path);
    assert!(!ok, "{out}");
    assert!(
        out.contains("entry 5 was changed after it was written"),
        "{out}"
    );
}

/// Two PostgreSQL transactions appending at the same time: the second waits for the first to
/// commit and chains onto its entry (without the advisory lock it would read the old head, under
/// READ COMMITTED, and fork the chain).
#[tokio::test]
async fn concurrent_postgres_appends_chain_in_commit_order() {
    use poort::grants::audit::{AuditEntry, AuditLog};
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    let Pool::Postgres(pool) = register.pool().clone() else {
        unreachable!()
    };
    let entry = |action: &'static str| AuditEntry {
        at: chrono::Utc::now(),
        actor: "operator:test",
        organisation_id: None,
        action,
        before: None,
        after: None,
    };
    let mut first = pool.begin().await.unwrap();
    first.append_audit(entry("first")).await.unwrap();
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            tx.append_audit(entry("second")).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    // Commit the first only once the second has either finished (no lock: it read the old head)
    // or is seen waiting for the advisory lock.
    let waiting = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
    let started = std::time::Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(waiting).fetch_one(&pool).await.unwrap();
        if n > 0 || second.is_finished() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "the second append neither waited nor ended"
        );
        tokio::task::yield_now().await;
    }
    first.commit().await.unwrap();
    second.await.unwrap();
    let report = verify(register.pool()).await.unwrap();
    assert_eq!((report.entries, report.broken), (2, None));
    register.close().await;
}
