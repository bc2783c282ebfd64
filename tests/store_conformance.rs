//! The store conformance suite (pending logins, replay cache) on the in-process store and on a
//! real redis-server.

mod common;

use common::cluster::ThrowawayRedis;
use poort::store::{conformance, FlowStore, MemoryStore, RedisStore};

#[tokio::test]
async fn memory_store_conforms() {
    let store = MemoryStore::default();
    conformance::flow_store(&store, "t:").await;
    conformance::replay_cache(&store, "t:").await;
}

#[tokio::test]
async fn redis_store_conforms() {
    let redis = ThrowawayRedis::start();
    let store = RedisStore::connect(&redis.url(), "poort-test").unwrap();
    conformance::flow_store(&store, "t:").await;
    conformance::replay_cache(&store, "t:").await;
}

#[tokio::test]
async fn two_replicas_share_pending_logins_and_replays() {
    use poort::store::ReplayCache;
    let redis = ThrowawayRedis::start();
    let a = RedisStore::connect(&redis.url(), "shared").unwrap();
    let b = RedisStore::connect(&redis.url(), "shared").unwrap();
    let now = chrono::Utc::now();
    let until = now + chrono::TimeDelta::seconds(60);
    a.put("flow-1", b"pending".to_vec(), until).await.unwrap();
    assert_eq!(
        b.get("flow-1", now).await.unwrap(),
        Some(b"pending".to_vec())
    );
    // Of two replicas taking the same step, exactly one gets it.
    let (x, y) = tokio::join!(a.take("flow-1", now), b.take("flow-1", now));
    let got: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(got, vec![b"pending".to_vec()]);
    // An assertion used at one replica is a replay at the other.
    assert!(a.first_use("assertion-9", until, now).await.unwrap());
    assert!(!b.first_use("assertion-9", until, now).await.unwrap());
    // A store with another prefix does not see them.
    let other = RedisStore::connect(&redis.url(), "other").unwrap();
    assert!(other.first_use("assertion-9", until, now).await.unwrap());
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error() {
    let mut redis = ThrowawayRedis::start();
    let store = RedisStore::connect(&redis.url(), "gone").unwrap();
    redis.kill();
    let now = chrono::Utc::now();
    assert!(store.get("x", now).await.is_err());
}
