//! Cache coherence across processes: two `poort serve` processes share one register and one
//! Redis; a third process changes the register; the very next login on either replica obeys
//! the change. Then the same without Redis (each process its own cache, fed by the database).
//! The third process is the operator's `poort` command (`grants revoke`, `member block`, ...).

mod common;

use common::cluster::{login, start_cluster, Cluster, FreshPostgres, Outcome, ThrowawayRedis};
use poort::config::{CacheConfig, Config, RegisterConfig, StateConfig};
use poort::grants::{outbox, Registry};

fn register_at(url: String) -> RegisterConfig {
    RegisterConfig {
        database: url,
        seed: Some(common::repo_file("config/grants-dev.toml")),
        audit_spool: std::env::temp_dir()
            .join(format!("poort-spool-{}.jsonl", uuid::Uuid::new_v4())),
        ..RegisterConfig::default()
    }
}

fn redis_cache(redis: &ThrowawayRedis) -> CacheConfig {
    CacheConfig {
        redis_url: Some(redis.url()),
        prefix: format!("poort-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    }
}

/// The register as another process sees it (to read the outbox).
async fn other_process(cluster: &Cluster) -> Registry {
    let text = std::fs::read_to_string(cluster.config(cluster.replicas.len() - 1)).unwrap();
    let config: Config = toml::from_str(&text).unwrap();
    Registry::open(&config).await.unwrap()
}

/// Runs a `poort` register command as another process, on replica `i`'s config: the way an
/// operator changes the register while the replicas serve.
async fn poort_cli(cluster: &Cluster, args: &[&str]) {
    let (group, rest) = args.split_first().expect("a command");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_poort"));
    cmd.arg(group)
        .arg("--config")
        .arg(cluster.config(cluster.replicas.len() - 1))
        .args(rest)
        .current_dir(cluster.dir.path());
    let shown = format!("poort {args:?}");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{shown} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn refused_because(outcome: &Outcome, words: &str) {
    match outcome {
        Outcome::Refused(403, page) => assert!(page.contains(words), "{words:?} in {page}"),
        other => panic!("expected a refusal ({words}), got {other:?}"),
    }
}

/// Bram may use service 2 for Stichting Groen Dak; both replicas have his grant set cached.
/// Three logins: the first one's use of the grant is written (last_used_at, kept to the day),
/// which invalidates the set once; from then on it is served from the cache.
async fn warm_bram(cluster: &Cluster) {
    for replica in &cluster.replicas {
        for _ in 0..3 {
            assert_eq!(
                login(&replica.dv, "bram", "EH2+", 2).await,
                Outcome::Allowed("11223344".into())
            );
        }
        assert!(
            replica.counter("poort_grant_cache_hits_total").await >= 1,
            "a login was served from the cache"
        );
    }
}

async fn revoke_then_refused_everywhere(cluster: &Cluster) {
    warm_bram(cluster).await;
    poort_cli(cluster, &["grants", "revoke", "g-bram-groendak-s2"]).await;
    for replica in &cluster.replicas {
        refused_because(
            &login(&replica.dv, "bram", "EH2+", 2).await,
            "is ingetrokken",
        );
    }
}

#[tokio::test]
async fn revocation_is_refused_at_once_on_both_replicas_sqlite_and_redis() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(2, register_at(db), redis_cache(&redis), Default::default()).await;
    revoke_then_refused_everywhere(&cluster).await;
}

#[tokio::test]
async fn revocation_is_refused_at_once_on_both_replicas_postgres_and_redis() {
    let redis = ThrowawayRedis::start();
    let pg = FreshPostgres::create();
    // Pending logins and replays in the same Redis, as a deployment of several replicas has them.
    let state = StateConfig {
        redis_url: Some(redis.url()),
        prefix: format!("poort-state-{}", uuid::Uuid::new_v4().simple()),
    };
    let cluster = start_cluster(2, register_at(pg.url.clone()), redis_cache(&redis), state).await;
    revoke_then_refused_everywhere(&cluster).await;
    drop(cluster);
}

#[tokio::test]
async fn blocking_a_member_is_refused_at_once() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(2, register_at(db), redis_cache(&redis), Default::default()).await;
    warm_bram(&cluster).await;
    let member = ["--org", "11223344", "--person", "bram"];
    poort_cli(&cluster, &[&["member", "block"][..], &member].concat()).await;
    for replica in &cluster.replicas {
        refused_because(
            &login(&replica.dv, "bram", "EH2+", 2).await,
            "is geblokkeerd",
        );
    }
    // Unblocked: allowed again at once, everywhere.
    poort_cli(&cluster, &[&["member", "unblock"][..], &member].concat()).await;
    for replica in &cluster.replicas {
        assert_eq!(
            login(&replica.dv, "bram", "EH2+", 2).await,
            Outcome::Allowed("11223344".into())
        );
    }
}

/// Eva's only usable grant is held by a group; `valid_until` lets the caller make it expire.
async fn eva_in_group(cluster: &Cluster, valid_until: chrono::DateTime<chrono::Utc>) {
    let org = ["--org", "12345678"];
    poort_cli(
        cluster,
        &[&["group", "create", "--name", "Boekhouding"][..], &org].concat(),
    )
    .await;
    poort_cli(
        cluster,
        &[
            &["group", "add", "--group", "Boekhouding", "--person", "eva"][..],
            &org,
        ]
        .concat(),
    )
    .await;
    let from = (chrono::Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339();
    let until = valid_until.to_rfc3339();
    poort_cli(
        cluster,
        &[
            &[
                "grants",
                "add",
                "--group",
                "Boekhouding",
                "--scope",
                "all",
                "--level",
                "EH3",
            ][..],
            &[
                "--from",
                &from,
                "--until",
                &until,
                "--id",
                "g-group-boekhouding",
            ],
            &org,
        ]
        .concat(),
    )
    .await;
}

#[tokio::test]
async fn blocking_a_member_in_a_group_is_refused_at_once() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(2, register_at(db), redis_cache(&redis), Default::default()).await;
    let far = chrono::Utc::now() + chrono::TimeDelta::days(365);
    eva_in_group(&cluster, far).await;
    for replica in &cluster.replicas {
        for _ in 0..2 {
            assert_eq!(
                login(&replica.dv, "eva", "EH3", 1).await,
                Outcome::Allowed("12345678".into())
            );
        }
    }
    poort_cli(
        &cluster,
        &[
            "group",
            "block",
            "--org",
            "12345678",
            "--group",
            "Boekhouding",
            "--person",
            "eva",
        ],
    )
    .await;
    for replica in &cluster.replicas {
        refused_because(&login(&replica.dv, "eva", "EH3", 1).await, "is geblokkeerd");
    }
}

#[tokio::test]
async fn an_expired_grant_is_refused_although_cached() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(1, register_at(db), redis_cache(&redis), Default::default()).await;
    let until = chrono::Utc::now() + chrono::TimeDelta::seconds(8);
    eva_in_group(&cluster, until).await;
    let replica = &cluster.replicas[0];
    // The first login's use of the grant is written (and invalidates the set once); wait for
    // that, then log in until Eva's grant set is served from the cache.
    assert_eq!(
        login(&replica.dv, "eva", "EH3", 1).await,
        Outcome::Allowed("12345678".into())
    );
    while replica.counter("poort_grant_uses_recorded_total").await == 0 {
        assert!(chrono::Utc::now() < until, "the use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    loop {
        assert!(chrono::Utc::now() < until, "never served from the cache");
        assert_eq!(
            login(&replica.dv, "eva", "EH3", 1).await,
            Outcome::Allowed("12345678".into())
        );
        if replica.counter("poort_grant_cache_hits_total").await >= 1 {
            break;
        }
    }
    // Wait for the instant itself: the cache still holds the grant set, and validity is
    // checked at every login against the clock.
    while chrono::Utc::now() <= until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let hits = replica.counter("poort_grant_cache_hits_total").await;
    refused_because(&login(&replica.dv, "eva", "EH3", 1).await, "is verlopen");
    assert!(
        replica.counter("poort_grant_cache_hits_total").await > hits,
        "the refusal came from the cached grant set"
    );
}

#[tokio::test]
async fn without_redis_each_process_learns_of_writes_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(
        2,
        register_at(db),
        CacheConfig::default(),
        Default::default(),
    )
    .await;
    revoke_then_refused_everywhere(&cluster).await;
}

#[tokio::test]
async fn without_redis_on_postgres_too() {
    let pg = FreshPostgres::create();
    let cluster = start_cluster(
        2,
        register_at(pg.url.clone()),
        CacheConfig::default(),
        Default::default(),
    )
    .await;
    revoke_then_refused_everywhere(&cluster).await;
    drop(cluster);
}

#[tokio::test]
async fn a_write_redis_missed_waits_in_the_outbox_and_is_never_served_stale() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(1, register_at(db), redis_cache(&redis), Default::default()).await;
    let replica = &cluster.replicas[0];
    warm_bram(&cluster).await;

    // Redis stops answering but keeps what it holds, Bram's cached grant set included.
    redis.freeze();
    // The operator's command cannot reach Redis either: its invalidation waits in the outbox.
    poort_cli(&cluster, &["grants", "revoke", "g-bram-groendak-s2"]).await;
    let b = other_process(&cluster).await;
    assert_eq!(outbox::pending(b.sql().pool()).await.unwrap(), 1);
    refused_because(
        &login(&replica.dv, "bram", "EH2+", 2).await,
        "is ingetrokken",
    );
    assert!(replica.counter("poort_grant_cache_errors_total").await >= 1);

    // Redis is back, still holding the stale set: poort drains the outbox before it trusts
    // the cache again, so every login in between is refused too.
    redis.thaw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while outbox::pending(b.sql().pool()).await.unwrap() > 0 {
        refused_because(
            &login(&replica.dv, "bram", "EH2+", 2).await,
            "is ingetrokken",
        );
        assert!(std::time::Instant::now() < deadline, "outbox never drained");
    }
    refused_until_the_cache_is_used_again(replica, "bram", "EH2+", 2, "is ingetrokken").await;
}

/// Logs in (always refused, for `words`) until the replica serves from its cache again; a
/// bounded number of tries, since recovery takes one upkeep round (a second).
async fn refused_until_the_cache_is_used_again(
    replica: &common::cluster::Replica,
    person: &str,
    level: &str,
    service: u16,
    words: &str,
) {
    let hits = replica.counter("poort_grant_cache_hits_total").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        refused_because(&login(&replica.dv, person, level, service).await, words);
        if replica.counter("poort_grant_cache_hits_total").await > hits {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache was not used again"
        );
    }
}

#[tokio::test]
async fn redis_killed_mid_run_logins_resolve_from_the_database_then_use_it_again() {
    let mut redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("register.db").display());
    let cluster = start_cluster(1, register_at(db), redis_cache(&redis), Default::default()).await;
    let replica = &cluster.replicas[0];
    warm_bram(&cluster).await;

    redis.kill();
    let errors = replica.counter("poort_grant_cache_errors_total").await;
    assert_eq!(
        login(&replica.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    refused_because(
        &login(&replica.dv, "femke", "EH3", 1).await,
        "is geblokkeerd",
    );
    refused_because(&login(&replica.dv, "eva", "EH3", 1).await, "is ingetrokken");
    assert!(replica.counter("poort_grant_cache_errors_total").await > errors);
    assert!(replica.counter("poort_grant_cache_bypassed_total").await >= 3);

    // Redis back (empty, on the same port): the cache fills and serves again.
    let _redis = ThrowawayRedis::start_on(redis.port);
    refused_until_the_cache_is_used_again(replica, "femke", "EH3", 1, "is geblokkeerd").await;
    assert_eq!(
        login(&replica.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
}
