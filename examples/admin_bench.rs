//! The admin module's list pages for a large organisation (issue 5's benchmark): one organisation
//! with `--members` members and `--grants` grants in a fresh SQLite register, then the server
//! work behind `GET /api/v1/members` and `GET /api/v1/grants` (the register read, the
//! groepsbeheerder filter, one page of 50 serialized to JSON), `--rounds` times each; p50 / p99.
//!
//! ```text
//! cargo run --release --example admin_bench -- --members 10000 --grants 100000 --rounds 50
//! ```

use chrono::{TimeDelta, Utc};
use poort::grants::{Actor, GrantFilter, NewOrganisation, Pool, SqlRegister};
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

    let mut users = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let view = sql.show_organisation(kvk).await?;
        let page: Vec<_> = view.members.into_iter().take(50).collect();
        let body = serde_json::to_vec(&page)?;
        std::hint::black_box(body);
        users.push(t.elapsed());
    }
    let mut grant_times = Vec::new();
    let filter = GrantFilter {
        organisation: Some(kvk.into()),
        ..Default::default()
    };
    for _ in 0..rounds {
        let t = Instant::now();
        let (items, total) = sql.list_grants_page(&filter, 0, 50).await?;
        let page: Vec<_> = items.into_iter().map(|g| g.id).collect();
        let body = serde_json::to_vec(&(page, total))?;
        std::hint::black_box(body);
        grant_times.push(t.elapsed());
    }
    users.sort();
    grant_times.sort();
    println!(
        "users list (show_organisation + first page as JSON), {rounds} rounds: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&users, 0.5),
        percentile(&users, 0.99)
    );
    println!(
        "grants list (list_grants_page: first page and total, as JSON), {rounds} rounds: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&grant_times, 0.5),
        percentile(&grant_times, 0.99)
    );
    println!("goal: p99 under 50 ms for each");
    Ok(())
}
