//! The Redis grant cache against a real redis-server: the shared conformance suite (version
//! stamps keep a slow reader from putting back a grant set that a write made stale), lost keys
//! only ever cause misses, and an unreachable server is an error, not a hang.

mod common;

use common::cluster::ThrowawayRedis;
use poort::grants::cache::{CacheLookup, GrantCache, RedisGrantCache};
use poort::grants::{IdentityKey, PersonGrants};
use std::time::Duration;

fn set(person: &str) -> PersonGrants {
    PersonGrants {
        person_id: Some(person.to_string()),
        grants: vec![],
    }
}

fn cache(redis: &ThrowawayRedis) -> RedisGrantCache {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    RedisGrantCache::connect(&redis.url(), &prefix, Duration::from_secs(60)).unwrap()
}

async fn miss_stamp(cache: &RedisGrantCache, key: &IdentityKey) -> poort::grants::cache::Stamp {
    match cache.get(key).await.unwrap() {
        CacheLookup::Miss(Some(stamp)) => stamp,
        other => panic!("expected a miss with a stamp, got {other:?}"),
    }
}

#[tokio::test]
async fn redis_cache_passes_the_conformance_suite() {
    let redis = ThrowawayRedis::start();
    poort::grants::cache::conformance::all(&cache(&redis)).await;
}

#[tokio::test]
async fn losing_every_key_only_causes_misses() {
    let redis = ThrowawayRedis::start();
    let cache = cache(&redis);
    let anna = IdentityKey::new("ad", "anna");
    let stamp = miss_stamp(&cache, &anna).await;
    // Redis loses its keys (eviction, restart without data) while a reader is in the database.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    cache.put(&anna, stamp, &set("stale")).await.unwrap();
    assert!(matches!(
        cache.get(&anna).await.unwrap(),
        CacheLookup::Miss(_)
    ));
}

#[tokio::test]
async fn keys_are_per_prefix_and_hashed() {
    let redis = ThrowawayRedis::start();
    let a = cache(&redis);
    let b = cache(&redis);
    let key = IdentityKey::new("ad", "anna");
    let stamp = miss_stamp(&a, &key).await;
    a.put(&key, stamp, &set("a")).await.unwrap();
    assert!(matches!(b.get(&key).await.unwrap(), CacheLookup::Miss(_)));
    let entry = a.entry_key_of(&key);
    assert!(!entry.contains("anna"), "{entry}");
    // A subject that contains the separator cannot reach another link's key.
    let tricky = IdentityKey::new("ad\0anna", "");
    assert_ne!(a.entry_key_of(&tricky), entry);
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_hang() {
    let mut redis = ThrowawayRedis::start();
    let cache = cache(&redis);
    redis.kill();
    let started = std::time::Instant::now();
    assert!(cache.get(&IdentityKey::new("ad", "anna")).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}
