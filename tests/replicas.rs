//! Stateless replicas: two `poort serve` processes behind one address, with a balancer that sends
//! the first step of every login to one replica and the rest to the other.

mod common;

use common::cluster::{in_redis, login, sqlite_register, start_balanced, Outcome, ThrowawayRedis};
use poort::config::StateConfig;

#[tokio::test]
async fn a_login_continues_at_another_replica_when_state_is_shared() {
    let redis = ThrowawayRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let (cache, state) = in_redis(&redis);
    let cluster = start_balanced(2, sqlite_register(&dir), cache, state).await;
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
    let cluster = start_balanced(2, sqlite_register(&dir), cache, StateConfig::default()).await;
    match login(&cluster.replicas[0].dv, "bram", "EH2+", 2).await {
        Outcome::Refused(status, _) => assert!((400..500).contains(&status), "{status}"),
        other => panic!("a login split over replicas without shared state: {other:?}"),
    }
}
