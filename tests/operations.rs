//! Running poort as operations do: readiness that tells the truth about its dependencies, slow
//! clients cut off, and a SIGTERM under load that loses no login decision.

mod common;

use common::cluster::{login, start_cluster, FreshPostgres, Outcome, ThrowawayRedis};
use poort::config::{CacheConfig, RegisterConfig, StateConfig};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sqlite_register(dir: &tempfile::TempDir) -> RegisterConfig {
    RegisterConfig {
        database: format!("sqlite://{}", dir.path().join("register.db").display()),
        seed: Some(common::repo_file("config/grants-dev.toml")),
        audit_spool: dir.path().join("audit-spool.jsonl"),
        ..RegisterConfig::default()
    }
}

fn check<'a>(readiness: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    readiness["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {readiness}"))
}

/// Polls `/readyz` until it answers `want`, at most `limit`; returns how long that took.
async fn readiness_becomes(
    replica: &common::cluster::Replica,
    want: u16,
    limit: Duration,
) -> (Duration, serde_json::Value) {
    let start = Instant::now();
    loop {
        let (status, body) = replica.readiness().await;
        if status == want {
            return (start.elapsed(), body);
        }
        assert!(
            start.elapsed() < limit,
            "readiness still {status} after {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn readiness_follows_redis_down_and_back() {
    let mut redis = ThrowawayRedis::start();
    let port = redis.port;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("poort-test-{}", uuid::Uuid::new_v4().simple());
    let cache = CacheConfig {
        redis_url: Some(redis.url()),
        prefix: prefix.clone(),
        ..CacheConfig::default()
    };
    let state = StateConfig {
        redis_url: Some(redis.url()),
        prefix,
    };
    let cluster = start_cluster(1, sqlite_register(&dir), cache, state).await;
    let replica = &cluster.replicas[0];
    let (_, ready) = readiness_becomes(replica, 200, Duration::from_secs(10)).await;
    assert_eq!(check(&ready, "state_redis")["ok"], true, "{ready}");

    redis.kill();
    let (took, down) = readiness_becomes(replica, 503, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "503 only after {took:?}");
    assert_eq!(down["ready"], false);
    let state_check = check(&down, "state_redis");
    assert_eq!(state_check["ok"], false, "{down}");
    assert_eq!(state_check["critical"], true);
    // The grant cache is reported but not critical: logins fall back to the database.
    assert_eq!(check(&down, "grant_cache_redis")["ok"], false, "{down}");
    assert_eq!(check(&down, "grant_cache_redis")["critical"], false);
    assert_eq!(check(&down, "register_database")["ok"], true, "{down}");

    let _redis = ThrowawayRedis::start_on(port);
    let (_, back) = readiness_becomes(replica, 200, Duration::from_secs(15)).await;
    assert_eq!(check(&back, "state_redis")["ok"], true, "{back}");
    // And it serves logins again without a restart.
    assert_eq!(
        login(&replica.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored on the same port: PostgreSQL going away, as poort sees it.
struct CuttableProxy {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CuttableProxy {
    async fn start(target: String) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = CuttableProxy {
            port,
            target,
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops the listener and every connection (aborting the task drops its JoinSet).
    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(listener);
    }
}

// The proxy runs in this test's runtime while starting poort blocks a thread: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_postgres_down_and_back() {
    let pg = FreshPostgres::create();
    let url = url::Url::parse(&pg.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let mut proxy = CuttableProxy::start(target).await;
    let mut through = url.clone();
    through.set_port(Some(proxy.port)).unwrap();
    through.set_host(Some("127.0.0.1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let register = RegisterConfig {
        database: through.to_string(),
        ..sqlite_register(&dir)
    };
    let cluster = start_cluster(1, register, CacheConfig::default(), StateConfig::default()).await;
    let replica = &cluster.replicas[0];
    readiness_becomes(replica, 200, Duration::from_secs(10)).await;

    proxy.cut().await;
    let (took, down) = readiness_becomes(replica, 503, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "503 only after {took:?}");
    assert_eq!(check(&down, "register_database")["ok"], false, "{down}");
    assert!(
        check(&down, "register_database")["detail"].is_string(),
        "the check says what failed: {down}"
    );

    proxy.restore().await;
    readiness_becomes(replica, 200, Duration::from_secs(15)).await;
    assert_eq!(
        login(&replica.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let w = common::start_prepared(|_, config| {
        config.server.header_read_timeout_seconds = 2;
    })
    .await;
    let address = w.poort.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let start = Instant::now();
    let request = b"GET /saml/metadata HTTP/1.1\r\nHost: poort\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n";
    let mut closed_after = None;
    for byte in request {
        // One byte a second: the pace of a slowloris client.
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(start.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                // hyper may answer 408 before closing: that is a refusal too.
                let answer = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
            }
            Err(_) => {}
        }
    }
    let closed_after = closed_after.expect("the connection stayed open for the whole request");
    assert!(
        closed_after < Duration::from_secs(4),
        "closed only after {closed_after:?}"
    );
    // Others are still served.
    let r = reqwest::get(format!("{}/saml/metadata", w.poort))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn sigterm_under_load_loses_no_login_decision() {
    let dir = tempfile::tempdir().unwrap();
    let register = sqlite_register(&dir);
    let database = register.database.clone();
    let mut cluster =
        start_cluster(1, register, CacheConfig::default(), StateConfig::default()).await;
    let dv = cluster.replicas[0].dv.clone();
    let allowed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (dv, allowed) = (dv.clone(), allowed.clone());
        load.spawn(async move {
            loop {
                // A login cut off by the shutdown panics inside its own task (connection
                // refused); it made no decision the trail could miss.
                let one = tokio::spawn(login_owned(dv.clone()));
                match one.await {
                    Ok(Outcome::Allowed(_)) => {
                        allowed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok(other) => panic!("unexpected outcome under load: {other:?}"),
                    Err(_) => return,
                }
            }
        });
    }
    let start = Instant::now();
    while allowed.load(std::sync::atomic::Ordering::SeqCst) < 10 {
        assert!(start.elapsed() < Duration::from_secs(60), "no load");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.replicas[0].terminate();
    let status = cluster.replicas[0].wait_exit(Duration::from_secs(30));
    assert!(status.success(), "poort exits 0 after SIGTERM: {status:?}");
    while load.join_next().await.is_some() {}
    let seen = allowed.load(std::sync::atomic::Ordering::SeqCst);

    let pool = poort::grants::registry::connect_database(&database)
        .await
        .unwrap();
    let pool = pool.pool();
    let audited = count_allowed(pool).await;
    assert_eq!(
        audited, seen,
        "every login the DV accepted is in the audit trail"
    );
    let report = poort::grants::audit::verify(pool).await.unwrap();
    assert_eq!(report.broken, None, "the audit chain is whole");
}

async fn login_owned(dv: String) -> Outcome {
    login(&dv, "bram", "EH2+", 2).await
}

async fn count_allowed(pool: &poort::grants::Pool) -> usize {
    let sql = "SELECT COUNT(*) FROM audit WHERE action = 'login.allowed'";
    let n: i64 = match pool {
        poort::grants::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        poort::grants::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    };
    n as usize
}

#[tokio::test]
async fn an_error_page_shows_the_trace_id_beside_the_reference() {
    let w = common::start().await;
    let r = reqwest::get(format!("{}/saml/sso?SAMLRequest=garbage", w.poort))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("Referentienummer"), "{page}");
    let trace = page
        .split("Trace-ID: <code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no trace ID on the page: {page}"));
    assert_eq!(trace.len(), 32, "{trace}");
    assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()), "{trace}");
    assert_ne!(trace, "0".repeat(32));
}
