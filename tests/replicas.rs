//! Stateless replicas: two `poort serve` processes behind one address, with a balancer that sends
//! the first step of every login to one replica and the rest to the other.

mod common;

use common::cluster::{login, start_balanced, Outcome, ThrowawayRedis};
use poort::config::{CacheConfig, RegisterConfig, StateConfig};

fn register(dir: &tempfile::TempDir) -> RegisterConfig {
    RegisterConfig {
        database: format!("sqlite://{}", dir.path().join("register.db").display()),
        seed: Some(common::repo_file("config/grants-dev.toml")),
        audit_spool: dir.path().join("audit-spool.jsonl"),
        ..RegisterConfig::default()
    }
}

fn in_redis(redis: &ThrowawayRedis) -> (CacheConfig, StateConfig) {
    let prefix = format!("poort-test-{}", uuid::Uuid::new_v4().simple());
    (
        CacheConfig {
            redis_url: Some(redis.url()),
            prefix: prefix.clone(),
            ..CacheConfig::default()
        },
        StateConfig {
            redis_url: Some(redis.url()),
            prefix,
        },
    )
}

#[tokio::test]
async fn a_login_continues_at_another_replica_when_state_is_shared() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let (cache, state) = in_redis(&redis);
    let cluster = start_balanced(2, register(&dir), cache, state).await;
    let dv = &cluster.replicas[0].dv;
    for _ in 0..3 {
        assert_eq!(
            login(dv, "bram", "EH2+", 2).await,
            Outcome::Allowed("11223344".into())
        );
    }
    // The first replica only ever saw the DV's requests; the other resolved every grant set.
    let mut resolved = Vec::new();
    for replica in &cluster.replicas {
        resolved.push(
            replica.counter("poort_grant_cache_hits_total").await
                + replica.counter("poort_grant_cache_misses_total").await,
        );
    }
    assert_eq!(resolved, [0, 3]);
}

#[tokio::test]
async fn without_shared_state_the_other_replica_does_not_know_the_login() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = in_redis(&redis);
    let cluster = start_balanced(2, register(&dir), cache, StateConfig::default()).await;
    match login(&cluster.replicas[0].dv, "bram", "EH2+", 2).await {
        Outcome::Refused(status, _) => assert!((400..500).contains(&status), "{status}"),
        other => panic!("a login split over replicas without shared state: {other:?}"),
    }
}
