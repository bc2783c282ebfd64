//! A register made by an earlier release opens with today's binary: the first migration's comment
//! changed after release (it named a file outside the repository), and sqlx refuses a changed
//! migration unless poort accepts exactly the released text. Any other change is still refused.

mod common;

use poort::grants::SqlRegister;
use sqlx::migrate::Migrator;
use std::path::{Path, PathBuf};

const FIRST: &str = "20261122000000_register.sql";

/// A copy of the backend's migrations whose first file starts with `first_line` instead of
/// today's first line, as a release before the change shipped them (or as a tampered copy).
fn migrations_with_first_line(backend: &str, first_line: &str, into: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let to = into.join(backend);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        let mut text = std::fs::read_to_string(entry.path()).unwrap();
        if entry.file_name() == FIRST {
            let rest = text.split_once('\n').unwrap().1.to_string();
            text = format!("{first_line}\n{rest}");
        }
        std::fs::write(to.join(entry.file_name()), text).unwrap();
    }
    to
}

const SQLITE_RELEASED: &str =
    "-- The register (DESIGN.md, \"Grants\"). Timestamps are UTC, stored as RFC 3339 text.";
const POSTGRES_RELEASED: &str =
    "-- The register (DESIGN.md, \"Grants\"). Timestamps are UTC (timestamptz).";

async fn sqlite_made_with(first_line: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let migrations = migrations_with_first_line("sqlite", first_line, dir.path());
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("register.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    Migrator::new(migrations)
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;
    let path = dir.path().join("register.db").display().to_string();
    (dir, path)
}

#[tokio::test]
async fn a_sqlite_register_of_the_released_text_opens_and_stays_usable() {
    let (_dir, path) = sqlite_made_with(SQLITE_RELEASED).await;
    let register = SqlRegister::connect_sqlite(&path).await.unwrap();
    register.ping().await.unwrap();
    register.close().await;
    // Accepted once, it opens again like any register of today.
    SqlRegister::connect_sqlite(&path).await.unwrap();
}

#[tokio::test]
async fn a_sqlite_register_whose_migration_was_changed_otherwise_is_refused() {
    let (_dir, path) = sqlite_made_with("-- someone else's comment").await;
    let err = SqlRegister::connect_sqlite(&path).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("register migrations") && text.contains("20261122000000"),
        "{text}"
    );
    assert!(text.contains("modified"), "{text}");
}

#[tokio::test]
async fn a_postgres_register_of_the_released_text_opens_and_another_change_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (first_line, accepted) in [(POSTGRES_RELEASED, true), ("-- changed", false)] {
        let pg = common::cluster::FreshPostgres::create();
        let sub = dir
            .path()
            .join(if accepted { "released" } else { "changed" });
        let migrations = migrations_with_first_line("postgres", first_line, &sub);
        let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
        Migrator::new(migrations)
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        pool.close().await;
        match SqlRegister::connect_postgres(&pg.url).await {
            Ok(register) => {
                assert!(accepted, "a changed migration was accepted");
                register.ping().await.unwrap();
                register.close().await;
            }
            Err(err) => {
                assert!(!accepted, "the released text was refused: {err}");
                assert!(err.to_string().contains("modified"), "{err}");
            }
        }
    }
}
