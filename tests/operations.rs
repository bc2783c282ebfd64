//! Running poort as operations do: readiness that tells the truth about its dependencies, slow
//! clients cut off, and a SIGTERM under load that loses no login decision.

mod common;

use common::cluster::{
    finish, fresh_client, in_redis, login, sqlite_register, start_cluster, Cluster, FreshPostgres,
    Outcome, ThrowawayRedis,
};
use poort::config::{CacheConfig, RegisterConfig, StateConfig};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    let (cache, state) = in_redis(&redis);
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

/// A fresh PostgreSQL database and a proxy to it: the database, the proxy, and the database's
/// URL through the proxy.
async fn postgres_behind_proxy() -> (FreshPostgres, CuttableProxy, String) {
    let pg = FreshPostgres::create();
    let url = url::Url::parse(&pg.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = CuttableProxy::start(target).await;
    let mut through = url;
    through.set_port(Some(proxy.port)).unwrap();
    through.set_host(Some("127.0.0.1")).unwrap();
    (pg, proxy, through.to_string())
}

/// One replica whose register is on a fresh PostgreSQL database behind a proxy: the database,
/// the proxy, the replica's cluster and the folder of its other files.
async fn replica_behind_proxy() -> (FreshPostgres, CuttableProxy, Cluster, tempfile::TempDir) {
    let (pg, proxy, through) = postgres_behind_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let register = RegisterConfig {
        database: through,
        ..sqlite_register(&dir)
    };
    let cluster = start_cluster(1, register, CacheConfig::default(), StateConfig::default()).await;
    (pg, proxy, cluster, dir)
}

// The proxy runs in this test's runtime while starting poort blocks a thread: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_postgres_down_and_back() {
    let (_pg, mut proxy, cluster, _dir) = replica_behind_proxy().await;
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
        .split("Trace-ID: <code class=\"utrecht-code\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no trace ID on the page: {page}"));
    assert_eq!(trace.len(), 32, "{trace}");
    assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()), "{trace}");
    assert_ne!(trace, "0".repeat(32));
}

#[tokio::test]
async fn a_replica_killed_mid_login_leaves_the_login_to_the_other() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let (cache, state) = in_redis(&redis);
    // Behind the balancer the DV's request goes to replica 0, every later step to replica 1.
    let mut cluster = common::cluster::start_balanced(2, sqlite_register(&dir), cache, state).await;
    let dv = cluster.replicas[0].dv.clone();
    let c = fresh_client();
    let ad_page = common::dv_to_ad(&c, &dv, 2, "redirect").await;

    // The replica that began the login dies without a goodbye.
    cluster.replicas[0].kill();

    // The other replica answers (200) and the DV accepts the answer for bram's organisation.
    assert_eq!(
        finish(&c, &ad_page, "bram", "EH2+").await,
        Outcome::Allowed("11223344".into()),
        "the other replica finishes the login"
    );
}

// The proxy runs in this test's runtime while starting poort blocks a thread: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_under_load_refuses_what_it_must_and_loses_nothing() {
    let (pg, mut proxy, cluster, _dir) = replica_behind_proxy().await;
    let replica = &cluster.replicas[0];
    let dv = replica.dv.clone();
    readiness_becomes(replica, 200, Duration::from_secs(10)).await;

    // Load: bram may log in to service 2; daan has no grant and must never be let in.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for person in ["bram", "daan", "bram"] {
        let (dv, stop) = (dv.clone(), stop.clone());
        load.spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                outcomes.push((person, login(&dv, person, "EH2+", 2).await));
            }
            outcomes
        });
    }
    proxy.cut().await;
    readiness_becomes(replica, 503, Duration::from_secs(5)).await;
    proxy.restore().await;
    readiness_becomes(replica, 200, Duration::from_secs(15)).await;
    // Service is back without a restart: a fresh login after the outage is allowed.
    assert_eq!(
        login(&dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut allowed = 1;
    while let Some(outcomes) = load.join_next().await {
        for (person, outcome) in outcomes.unwrap() {
            match (person, outcome) {
                ("bram", Outcome::Allowed(kvk)) => {
                    assert_eq!(kvk, "11223344");
                    allowed += 1;
                }
                ("daan", Outcome::Allowed(kvk)) => {
                    panic!("daan has no grant and was let in for {kvk}")
                }
                // Refused: for daan always; for bram while the register was away.
                (_, Outcome::Refused(..)) => {}
                (person, other) => panic!("{person}: unexpected {other:?}"),
            }
        }
    }

    // Every allowed login reaches the trail (decisions spooled during the outage are written
    // once the database is back), and the chain is whole.
    let pool = poort::grants::registry::connect_database(&pg.url)
        .await
        .unwrap();
    let pool = pool.pool();
    let start = Instant::now();
    while count_allowed(pool).await < allowed {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "audit trail has {} of {allowed} allowed logins",
            count_allowed(pool).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count_allowed(pool).await, allowed);
    let report = poort::grants::audit::verify(pool).await.unwrap();
    assert_eq!(report.broken, None, "the audit chain is whole");
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM.
fn tls_pair() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    (made.cert.pem(), made.signing_key.serialize_pem())
}

/// The certificate the server presented for a GET of `url`, with `pem` as the only trusted root.
async fn presented(url: &str, pem: &str) -> Result<Vec<u8>, reqwest::Error> {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .tls_info(true)
        .build()
        .unwrap();
    let r = client.get(url).send().await?;
    assert_eq!(r.status(), 200);
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    Ok(info.peer_certificate().unwrap().to_vec())
}

fn der(pem: &str) -> Vec<u8> {
    openssl::x509::X509::from_pem(pem.as_bytes())
        .unwrap()
        .to_der()
        .unwrap()
}

#[tokio::test]
async fn https_is_served_and_a_renewed_certificate_is_taken_without_a_restart() {
    let tls = tempfile::tempdir().unwrap();
    let (cert, key) = (tls.path().join("tls.crt"), tls.path().join("tls.key"));
    let (first_cert, first_key) = tls_pair();
    std::fs::write(&cert, &first_cert).unwrap();
    std::fs::write(&key, &first_key).unwrap();
    let (c, k) = (cert.clone(), key.clone());
    let w = common::start_prepared(move |_, config| {
        config.server.tls_cert = Some(c);
        config.server.tls_key = Some(k);
    })
    .await;
    let https = w.poort.replacen("http://", "https://", 1) + "/saml/metadata";
    assert_eq!(
        presented(&https, &first_cert).await.unwrap(),
        der(&first_cert)
    );
    // Plain HTTP on the TLS port gets no answer.
    assert!(reqwest::get(format!("{}/saml/metadata", w.poort))
        .await
        .is_err());

    let (second_cert, second_key) = tls_pair();
    std::fs::write(&key, &second_key).unwrap();
    std::fs::write(&cert, &second_cert).unwrap();
    let start = Instant::now();
    loop {
        if let Ok(seen) = presented(&https, &second_cert).await {
            assert_eq!(seen, der(&second_cert));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the renewed certificate was not taken"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_flush_writes_every_queued_grant_use_before_it_returns() {
    let w = common::start().await;
    let grant = "g-bram-groendak-s2";
    let read = || async {
        use poort::grants::Register;
        w.registry
            .sql()
            .grants_for("urn:etoegang:AD:00000099990000000003:entities:1", "bram")
            .await
            .unwrap()
            .grants
            .into_iter()
            .find(|g| g.grant_id == grant)
            .unwrap()
            .last_used_at
    };
    let seeded = read().await.unwrap();
    let now = chrono::Utc::now();
    assert!(now - seeded > chrono::TimeDelta::days(1), "seeded long ago");
    // A writer of its own, as the shutdown path uses it: queued, then flushed.
    let uses = w.registry.spawn_background();
    uses.used(grant, now);
    uses.flush().await;
    let written = read().await.unwrap();
    assert!(
        (written - now).num_seconds().abs() <= 1,
        "the use is in the register when flush returns: {written} vs {now}"
    );
}

// The proxy runs in this test's runtime: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_write_while_postgres_is_away_is_refused_whole_and_done_once_it_is_back() {
    let (pg, mut proxy, through) = postgres_behind_proxy().await;
    let w = common::start_prepared(move |_, config| {
        config.register.database = through;
    })
    .await;
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    let path = format!("{}/api/v1/grants/g-eva-bakkerij", w.poort);
    let status = |c: &reqwest::Client| {
        let path = path.clone();
        let c = c.clone();
        async move {
            let g: serde_json::Value = c.get(&path).send().await.unwrap().json().await.unwrap();
            g["status"].as_str().unwrap().to_string()
        }
    };
    let before = status(&anna).await;
    let action = if before == "active" {
        "revoke"
    } else {
        "reactivate"
    };

    proxy.cut().await;
    let r = anna
        .post(format!("{path}/{action}"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_server_error(),
        "refused while the register is away: {}",
        r.status()
    );
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "application/problem+json");
    proxy.restore().await;

    // Nothing of the refused write happened.
    let start = Instant::now();
    let after = loop {
        if let Ok(r) = anna.get(&path).send().await {
            if r.status() == 200 {
                let g: serde_json::Value = r.json().await.unwrap();
                break g["status"].as_str().unwrap().to_string();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the register did not come back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(after, before, "the refused write left nothing behind");
    // The same write, now that the register is back, is done once.
    let r = anna
        .post(format!("{path}/{action}"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(status(&anna).await, before);
    let pool = poort::grants::registry::connect_database(&pg.url)
        .await
        .unwrap();
    let report = poort::grants::audit::verify(pool.pool()).await.unwrap();
    assert_eq!(report.broken, None, "the audit chain is whole");
}
