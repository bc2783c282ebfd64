//! The generator's tests: the register as asked, valid, the same for the same seed; and the
//! command line that runs it.

use super::*;
use clap::Parser;
use poort::domain::identifiers::is_kvk;
use poort::grants::Register;

fn small() -> GenerateSpec {
    GenerateSpec {
        organisations: 200,
        persons: 600,
        grants: 2_000,
        seed: 7,
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
    }
}

fn url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

async fn generated(dir: &tempfile::TempDir, name: &str) -> (Pool, GenerateReport) {
    let pool = Pool::open(&url(dir, name)).await.unwrap();
    let report = generate(&pool, &small()).await.unwrap();
    (pool, report)
}

/// Every row of every generated table, as text, in a fixed order.
async fn dump(pool: &Pool) -> Vec<String> {
    let Pool::Sqlite(pool) = pool else {
        unreachable!()
    };
    let mut out = Vec::new();
    for table in [
        "organisations",
        "persons",
        "identity_links",
        "memberships",
        "membership_roles",
        "groups",
        "group_members",
        "grants",
    ] {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT '{table}:' || {row} FROM {table} ORDER BY 1"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        out.extend(rows);
    }
    out
}

#[tokio::test]
async fn small_register_is_as_asked_valid_and_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    let (register, report) = generated(&dir, "a.db").await;
    assert_eq!(report.rows_of("organisations"), 200);
    assert_eq!(report.rows_of("persons"), 600);
    assert_eq!(report.rows_of("identity_links"), 600);
    assert_eq!(report.rows_of("grants"), 2_000);
    assert!(report.rows_of("memberships") > 600);
    assert!(report.rows_of("groups") > 0 && report.rows_of("group_members") > 0);
    for share in [
        report.memberships_blocked,
        report.group_members_blocked,
        report.grants_by_group,
        report.grants_revoked,
        report.grants_expired,
        report.grants_not_yet_valid,
        report.grants_lapsed,
    ] {
        assert!(share > 0, "{report:?}");
    }

    let Pool::Sqlite(sqlite) = &register else {
        unreachable!()
    };
    let counted: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM persons), \
         (SELECT COUNT(*) FROM grants), \
         (SELECT COUNT(*) FROM organisations o WHERE NOT EXISTS \
            (SELECT 1 FROM memberships m WHERE m.organisation_id = o.id))",
    )
    .fetch_one(sqlite)
    .await
    .unwrap();
    assert_eq!(counted, (200, 600, 2_000, 0));
    let numbers: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kvk, rsin FROM organisations")
            .fetch_all(sqlite)
            .await
            .unwrap();
    let mut kvks = std::collections::HashSet::new();
    for (kvk, rsin) in &numbers {
        assert!(is_kvk(kvk), "{kvk}");
        assert!(kvks.insert(kvk.clone()), "duplicate KvK {kvk}");
        if let Some(rsin) = rsin {
            assert!(is_rsin(rsin), "{rsin}");
        }
    }
    assert!(numbers.iter().filter(|(_, r)| r.is_some()).count() > 150);

    // Same seed, another file: the same rows.
    let (again, _) = generated(&dir, "b.db").await;
    let first = dump(&register).await;
    assert!(first.len() > 5_000);
    assert_eq!(first, dump(&again).await);

    // A generated person logs in with their grants.
    let (person, grant): (String, String) = sqlx::query_as(
        "SELECT m.person_id, g.id FROM grants g JOIN memberships m ON m.id = g.membership_id \
         ORDER BY g.id LIMIT 1",
    )
    .fetch_one(sqlite)
    .await
    .unwrap();
    let read = poort::grants::registry::connect_database(&url(&dir, "a.db"))
        .await
        .unwrap();
    let held = read.grants_for(GENERATED_IDP, &person).await.unwrap();
    assert_eq!(held.person_id.as_deref(), Some(person.as_str()));
    assert!(held.grants.iter().any(|g| g.grant_id == grant));

    // The register is no longer empty: a second run refuses.
    assert!(matches!(
        generate(&register, &small()).await,
        Err(GenerateError::NotEmpty(200, 600))
    ));
}

/// As `poort register generate` was tested while it was a command of poort: the same
/// register from the same seed and instant, and a register that is not empty refused.
#[tokio::test]
async fn generate_fills_an_empty_register_repeatably() {
    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }
    let args = |database: &str, sizes: &[&str]| {
        let mut words = vec!["generate", "--database", database];
        words.extend_from_slice(sizes);
        Command::try_parse_from(words).unwrap().args
    };
    let sizes = [
        "--organisations",
        "50",
        "--persons",
        "120",
        "--grants",
        "400",
        "--seed",
        "7",
        "--now",
        "2026-11-01T00:00:00Z",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut dumps = Vec::new();
    for name in ["a", "b"] {
        let report = run(&args(&url(&dir, name), &sizes)).await.unwrap();
        let out = summary(&report);
        assert!(out.contains("grants") && out.contains("400 rows"), "{out}");
        let pool = Pool::open(&url(&dir, name)).await.unwrap();
        let rows = dump(&pool).await;
        let grants = rows.iter().filter(|r| r.starts_with("grants:")).count();
        assert_eq!(grants, 400);
        dumps.push(rows);
    }
    assert_eq!(dumps[0], dumps[1], "same seed and instant, same register");
    // A register that is not empty is refused.
    let again = args(
        &url(&dir, "a"),
        &["--grants", "10", "--organisations", "2", "--persons", "2"],
    );
    assert!(matches!(
        run(&again).await,
        Err(GenerateError::NotEmpty(_, _))
    ));
}
