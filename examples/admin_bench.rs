//! The admin module's list pages for a large organisation (issue 5's benchmark): one organisation
//! with `--members` members and `--grants` grants in a fresh SQLite register, then poort's own
//! router (built from `config/poort.toml` with that register, as `poort serve` would) answers
//! the users and grants pages and their API lists for a signed-in hoofdbeheerder, `--rounds`
//! times each: the server time from request to the last byte of the body (session lookup and
//! role refresh, the register read, rendering), p50 / p99. No network: the load generator does
//! not share the 2 cores with poort here.
//!
//! ```text
//! cargo run --release --example admin_bench -- --members 10000 --grants 100000 --rounds 200
//! ```

use chrono::{TimeDelta, Utc};
use poort::grants::{Actor, NewOrganisation, Pool, SqlRegister};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (members, grants, rounds) = (
        arg("--members", 10_000),
        arg("--grants", 100_000),
        arg("--rounds", 50),
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("admin-bench.db");
    let sql = SqlRegister::connect_sqlite(path.to_str().ok_or("path")?).await?;
    let kvk = "12345678";
    sql.create_organisation(
        &Actor::Operator("bench".into()),
        &NewOrganisation {
            kvk: kvk.into(),
            name: "Groot Bedrijf B.V.".into(),
            ..Default::default()
        },
    )
    .await?;
    let Pool::Sqlite(pool) = sql.pool().clone() else {
        return Err("sqlite expected".into());
    };
    let org_id: String = sqlx::query_scalar("SELECT id FROM organisations WHERE kvk = $1")
        .bind(kvk)
        .fetch_one(&pool)
        .await?;
    let started = Instant::now();
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    for i in 0..members {
        let person = format!("p{i:06}");
        let membership = format!("m{i:06}");
        sqlx::query("INSERT INTO persons (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&person)
            .bind(format!("Persoon {i}"))
            .bind(format!("p{i}@groot.example"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
             VALUES ($1, $2, $3, FALSE, $4)",
        )
        .bind(&membership)
        .bind(&person)
        .bind(&org_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let role = if i == 0 {
            "hoofdbeheerder"
        } else {
            "gebruiker"
        };
        sqlx::query("INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2)")
            .bind(&membership)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    for g in 0..grants {
        let membership = format!("m{:06}", g % members.max(1));
        sqlx::query(
            "INSERT INTO grants (id, organisation_id, membership_id, scope_kind, service_uuid, \
             level, valid_from, valid_until, status, created_by, created_at) \
             VALUES ($1, $2, $3, 'service', $4, 'EH3', $5, $6, 'active', 'bench', $7)",
        )
        .bind(format!("g{g:07}"))
        .bind(&org_id)
        .bind(&membership)
        .bind(format!(
            "00000000-0000-4000-8000-{:012}",
            g / members.max(1)
        ))
        .bind(now - TimeDelta::days(1))
        .bind(now + TimeDelta::days(365))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    println!(
        "generated {members} members and {grants} grants in one organisation in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // poort as `poort serve` runs it, on this register.
    let text = std::fs::read_to_string("config/poort.toml")?;
    let mut config: poort::config::Config = toml::from_str(&text)?;
    config.register.database = format!("sqlite://{}", path.display());
    config.mail.outbox_dir = dir.path().join("outbox");
    config.admin.reminder_interval_seconds = 0;
    poort::app::prepare_embedded_defaults(&config)?;
    let state = std::sync::Arc::new(poort::app::build_state(config).await?);
    let router = poort::web::router(state.clone());
    let session = poort::admin::AdminSession::new(
        "p000000".into(),
        poort::grants::Organisation {
            kvk: kvk.into(),
            rsin: None,
            name: "Groot Bedrijf B.V.".into(),
        },
        vec![poort::grants::Role::Hoofdbeheerder],
        poort::domain::level::Level::Eh3,
        Utc::now(),
    );
    state
        .flows
        .put(
            &poort::admin::AdminSession::store_key(&session.id),
            serde_json::to_vec(&session)?,
            Utc::now() + TimeDelta::hours(1),
        )
        .await?;
    let cookie = format!("poort_admin={}", session.id);
    let last_page = members.div_ceil(50).max(1);
    let last_grant_page = grants.div_ceil(50).max(1);
    let pages = [
        ("users page, first", "/admin/users".to_string()),
        ("users page, last", format!("/admin/users?page={last_page}")),
        (
            "users page, search",
            "/admin/users?q=persoon+12".to_string(),
        ),
        (
            "users API, first",
            "/api/v1/members?per_page=50".to_string(),
        ),
        ("grants page, first", "/admin/grants".to_string()),
        (
            "grants API, first",
            "/api/v1/grants?per_page=50".to_string(),
        ),
        (
            "grants API, last",
            format!("/api/v1/grants?per_page=50&page={last_grant_page}"),
        ),
    ];
    println!(
        "{:<22} {:>8} {:>8} {:>8}  status, bytes",
        "page", "p50 ms", "p99 ms", "max ms"
    );
    for (label, uri) in pages {
        let mut times = Vec::with_capacity(rounds);
        let mut seen = (0, 0);
        for _ in 0..rounds {
            use tower::ServiceExt;
            let request = axum::http::Request::get(&uri)
                .header("cookie", &cookie)
                .body(axum::body::Body::empty())?;
            let t = Instant::now();
            let response = router.clone().oneshot(request).await?;
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            times.push(t.elapsed());
            seen = (status, body.len());
        }
        times.sort();
        println!(
            "{label:<22} {:>8.2} {:>8.2} {:>8.2}  {} {}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
            seen.0,
            seen.1
        );
    }
    println!("goal: p99 under 50 ms for each");
    Ok(())
}
