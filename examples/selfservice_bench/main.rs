//! Mijn poort and the approvals list for a busy person (issue 14's benchmark): a fresh register
//! (`fill.rs`: one person P with 50 organisations and 500 grants, a long audit trail, and one
//! organisation O with 10,000 open requests), then poort's own router, built from
//! `config/poort.toml` on that register as `poort serve` would, answers P's pages `--rounds`
//! times each: the server time from request to the last byte of the body (session lookup and
//! renewal, the register reads, rendering), p50 / p99 / max. No network, no load generator on
//! the same cores. Any answer but 200 ends the run with an error.
//!
//! ```text
//! cargo build --release --example selfservice_bench
//! target/release/examples/selfservice_bench --rounds 200
//! target/release/examples/selfservice_bench --rounds 200 --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! SQLite by default (a file in a temporary folder). With `--postgres` (a server URL), a fresh
//! database is made on that server for the run and dropped after it.
//!
//! `fill.rs` draws the register, `bulk.rs` writes it; this file runs poort on it and measures.

mod bulk;
mod fill;

use chrono::{TimeDelta, Utc};
use clap::Parser;
use fill::{Filled, Service, Sizes};
use poort::grants::SqlRegister;
use poort::selfservice::PersonSession;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Mijn poort's pages for a person with many organisations, grants and requests")]
struct Args {
    /// Requests per page measured.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// A PostgreSQL server (postgres://…) to make a fresh register database on, instead of
    /// SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Refresh SQLite's planner statistics after filling (poort itself never runs ANALYZE;
    /// PostgreSQL is always vacuumed and analysed, as autovacuum would).
    #[arg(long)]
    analyze: bool,
    /// Keep the register after the run (its URL is printed), to look at the queries' plans.
    #[arg(long)]
    keep: bool,
    /// How many pages deep the "deep page" of O's approvals is.
    #[arg(long, default_value_t = 100)]
    depth: usize,
    #[arg(long, default_value = "config/poort.toml")]
    config: PathBuf,
    #[command(flatten)]
    sizes: Sizes,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The fresh register: its URL, and how to drop it after (PostgreSQL).
struct Database {
    url: String,
    drop: Option<(String, String)>,
    dir: tempfile::TempDir,
}

async fn database(args: &Args) -> Result<Database, Error> {
    let dir = tempfile::tempdir()?;
    match &args.postgres {
        None => {
            let path = dir.path().join("selfservice-bench.db");
            Ok(Database {
                url: format!("sqlite://{}", path.display()),
                drop: None,
                dir,
            })
        }
        Some(server) => {
            let name = format!("poort_selfservice_bench_{}", std::process::id());
            let (base, _) = server
                .rsplit_once('/')
                .filter(|(base, _)| base.contains("//") && !base.ends_with('/'))
                .ok_or("--postgres wants a URL with a database, postgres://user@host:port/db")?;
            let admin = sqlx::PgPool::connect(server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await?;
            admin.close().await;
            Ok(Database {
                url: format!("{base}/{name}"),
                drop: Some((server.clone(), name)),
                dir,
            })
        }
    }
}

/// One page as measured.
struct Measured {
    label: String,
    times: Vec<Duration>,
    bytes: usize,
}

/// Sends `uri` through the router `rounds` times (after one unmeasured request); the last
/// answer's body.
async fn measure(
    router: &axum::Router,
    cookie: &str,
    label: &str,
    uri: &str,
    rounds: usize,
) -> Result<(Measured, String), Error> {
    use tower::ServiceExt;
    let mut times = Vec::with_capacity(rounds);
    let mut body = Vec::new();
    for round in 0..=rounds {
        let request = axum::http::Request::get(uri)
            .header("cookie", cookie)
            .body(axum::body::Body::empty())?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let took = started.elapsed();
        if status != axum::http::StatusCode::OK {
            return Err(format!("{label} ({uri}) answered {status}").into());
        }
        if round > 0 {
            times.push(took);
        }
        body = bytes.to_vec();
    }
    times.sort();
    let bytes = body.len();
    let body = String::from_utf8(body)?;
    Ok((
        Measured {
            label: label.to_string(),
            times,
            bytes,
        },
        body,
    ))
}

/// The approvals page's "next" link, as the page gives it.
fn next_link(body: &str) -> Option<String> {
    let end = body.find("\" rel=\"next\"")?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(
        body[start..end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

/// What the approvals page says waits in all, and how many rows it shows.
fn approvals_counts(body: &str) -> (String, usize) {
    let total = body
        .split_once("id=\"total\">")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?")
        .to_string();
    (total, body.matches("data-request=").count())
}

async fn run(args: Args) -> Result<(), Error> {
    let mut config = poort::config::Config::load(&args.config)
        .map_err(|e| format!("{e} (run from the repository, or give --config)"))?;
    let db = database(&args).await?;
    let backend = if db.drop.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let result = bench(&args, &mut config, &db, backend).await;
    if args.keep {
        println!("kept: {}", db.url);
        let _ = db.dir.keep();
        return result;
    }
    if let Some((server, name)) = &db.drop {
        let admin = sqlx::PgPool::connect(server).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
    }
    result
}

async fn bench(
    args: &Args,
    config: &mut poort::config::Config,
    db: &Database,
    backend: &str,
) -> Result<(), Error> {
    // poort makes the schema; the filler writes plain rows into it.
    let sql = poort::grants::registry::connect_database(&db.url).await?;
    let services: Vec<Service> = config
        .services
        .iter()
        .map(|s| Service {
            id: s.id.clone(),
            uuid: s.uuid.clone(),
            provider: s.provider.clone(),
        })
        .collect();
    if services.is_empty() {
        return Err("the config has no [[service]] to name in grants".into());
    }
    let filled: Filled = fill::fill(sql.pool(), &args.sizes, &services).await?;
    let analyzed = Instant::now();
    if db.drop.is_some() || args.analyze {
        analyze(&sql).await?;
    }
    sql.close().await;
    println!(
        "backend: {backend}; rows written in {:.1} s:",
        filled.seconds
    );
    for (table, rows) in &filled.rows {
        println!("  {table:<18} {rows:>8}");
    }
    if db.drop.is_some() || args.analyze {
        println!(
            "ANALYZE (PostgreSQL: VACUUM ANALYZE): {:.1} s",
            analyzed.elapsed().as_secs_f64()
        );
    } else {
        println!("ANALYZE: not run (as poort runs SQLite)");
    }

    // poort as `poort serve` runs it, on this register.
    config.register.database = db.url.clone();
    config.register.seed = None;
    config.mail.outbox_dir = db.dir.path().join("outbox");
    config.admin.reminder_interval_seconds = 0;
    poort::app::prepare_embedded_defaults(config)?;
    let state = std::sync::Arc::new(
        poort::app::build_state(config.clone())
            .await
            .map_err(|e| e.to_string())?,
    );
    let router = poort::web::router(state.clone());
    let session = PersonSession::new(
        filled.person.clone(),
        Some(filled.person_name.clone()),
        poort::domain::level::Level::Eh3,
        Utc::now(),
    );
    state
        .flows
        .put(
            &PersonSession::store_key(&session.id),
            serde_json::to_vec(&session)?,
            Utc::now() + TimeDelta::hours(1),
        )
        .await?;
    let cookie = format!("poort_mijn={}", session.id);
    let rounds = args.rounds.max(1);
    let o = format!("/mijn/approvals?organisation={}", filled.kvk);

    let mut measured = Vec::new();
    let mut notes = Vec::new();
    let (m, _) = measure(&router, &cookie, "start page", "/mijn", rounds).await?;
    measured.push(m);
    let (m, first) = measure(
        &router,
        &cookie,
        "approvals, all",
        "/mijn/approvals",
        rounds,
    )
    .await?;
    let (total, shown) = approvals_counts(&first);
    notes.push(format!("approvals, all: {total} waiting, {shown} shown"));
    measured.push(m);
    let second = next_link(&first).ok_or("the first approvals page has no next link")?;
    let (m, body) = measure(&router, &cookie, "approvals, all, page 2", &second, rounds).await?;
    let (total, shown) = approvals_counts(&body);
    notes.push(format!(
        "approvals, all, page 2: {total} waiting, {shown} shown"
    ));
    measured.push(m);
    let (m, first_o) = measure(&router, &cookie, "approvals, O", &o, rounds).await?;
    let (total, shown) = approvals_counts(&first_o);
    notes.push(format!("approvals, O: {total} waiting, {shown} shown"));
    measured.push(m);
    // Walk O's list to a deep page, the way a reader would: by the next links.
    let mut deep = next_link(&first_o).ok_or("O's first approvals page has no next link")?;
    for _ in 2..args.depth.max(2) {
        let (_, body) = measure(&router, &cookie, "walk", &deep, 0).await?;
        match next_link(&body) {
            Some(next) => deep = next,
            None => break,
        }
    }
    let label = format!("approvals, O, page {}", args.depth.max(2));
    let (m, body) = measure(&router, &cookie, &label, &deep, rounds).await?;
    let (total, shown) = approvals_counts(&body);
    notes.push(format!("{label}: {total} waiting, {shown} shown"));
    measured.push(m);
    let request = format!("/mijn/requests/{}", filled.request);
    let (m, body) = measure(&router, &cookie, "request page (O's)", &request, rounds).await?;
    if !body.contains(&filled.request) || !body.contains("name=\"decision\"") {
        return Err("the request page does not show O's request with its sign-off form".into());
    }
    measured.push(m);

    // The same start page and first approvals page without the web layer: what of their time
    // is the register's.
    let service = state.self_service();
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        service.overview(&session, Utc::now()).await?;
        times.push(started.elapsed());
    }
    times.sort();
    measured.push(Measured {
        label: "start page: reads only".into(),
        times,
        bytes: 0,
    });
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        service
            .to_sign(&session, None, None, 50, Utc::now())
            .await?;
        times.push(started.elapsed());
    }
    times.sort();
    measured.push(Measured {
        label: "approvals, all: reads only".into(),
        times,
        bytes: 0,
    });

    println!(
        "\n{:<26} {:>8} {:>8} {:>8} {:>8}",
        "page (server time)", "p50 ms", "p99 ms", "max ms", "bytes"
    );
    for m in &measured {
        let bytes = match m.bytes {
            0 => "-".to_string(),
            n => n.to_string(),
        };
        println!(
            "{:<26} {:>8.2} {:>8.2} {:>8.2} {:>8}",
            m.label,
            percentile(&m.times, 0.5),
            percentile(&m.times, 0.99),
            percentile(&m.times, 1.0),
            bytes
        );
    }
    for note in notes {
        println!("{note}");
    }
    println!("{rounds} requests each, after one unmeasured; goal: p99 under 50 ms for each");
    Ok(())
}

async fn analyze(sql: &SqlRegister) -> Result<(), Error> {
    match sql.pool() {
        poort::grants::Pool::Sqlite(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ())?,
        // What autovacuum does soon after a bulk load; measuring while it runs would time it.
        poort::grants::Pool::Postgres(p) => {
            sqlx::query("VACUUM ANALYZE").execute(p).await.map(|_| ())?
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selfservice_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
