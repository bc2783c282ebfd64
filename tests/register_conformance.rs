//! The register conformance suite on every implementation: in memory, SQLite and PostgreSQL.
//!
//! PostgreSQL runs against a real server: `POORT_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth) is the maintenance database; each
//! run creates a fresh `poort_test_<random>` database there and drops it afterwards, so no run
//! sees another's rows. An unreachable server fails the test: it is never skipped.

use poort::grants::{conformance, MemoryRegister, Register, SqlRegister};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::test]
async fn memory_register_conforms() {
    let register = MemoryRegister::from_grants_file(&conformance::dev_file()).unwrap();
    conformance::dev_file_register(&register).await;
}

#[tokio::test]
async fn sqlite_register_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("register.db");
    let register = SqlRegister::connect_sqlite(path.to_str().unwrap())
        .await
        .unwrap();
    assert!(path.exists(), "the database file is created");
    register.import(&conformance::dev_file()).await.unwrap();
    conformance::dev_file_register(&register).await;
    conformance::sql_import_is_all_or_nothing(&register).await;
    conformance::sql_groups(&register).await;
    register.close().await;
}

#[tokio::test]
async fn postgres_register_conforms() {
    let admin_url =
        std::env::var("POORT_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for this test and is not reachable at {admin_url} ({e}); \
             start a server (user postgres, trust auth on 127.0.0.1:5432) or set \
             POORT_TEST_POSTGRES to the URL of a maintenance database"
        )
    });
    let name = format!("poort_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));

    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let run = tokio::spawn(async move {
        let register = SqlRegister::connect_postgres(url.as_str()).await.unwrap();
        register.import(&conformance::dev_file()).await.unwrap();
        conformance::dev_file_register(&register).await;
        conformance::sql_import_is_all_or_nothing(&register).await;
        conformance::sql_groups(&register).await;
        // Migrations are recorded: connecting again finds nothing to do and keeps the data.
        let again = SqlRegister::connect_postgres(url.as_str()).await.unwrap();
        let anna = again
            .grants_for(conformance::DEV_IDP, "anna")
            .await
            .unwrap();
        assert_eq!(
            anna.grants.len(),
            3,
            "anna's own two grants and the group's"
        );
        again.close().await;
        register.close().await;
    })
    .await;

    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap_or_else(|e| panic!("dropping database {name}: {e}"));
    admin.close().await.ok();
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
