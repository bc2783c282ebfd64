//! Caches of resolved grant sets, keyed by identity link: in Redis (shared by every replica) or
//! in-process (one process, the embedded default).
//!
//! Correctness rests on version stamps. Each identity link has a version; a reader takes the
//! version *before* it reads the database and stores the grant set under that stamp; a writer
//! commits to the database and *then* deletes the version. An entry is served only while its
//! stamp equals the current version, so a slow reader that puts back a set it read before a
//! write stores it under a version that no longer exists: it is never served. A version that
//! vanished (deleted, evicted, expired, Redis restarted) matches no stamp, so losing keys can
//! only cause misses, never stale hits. The TTL is a safety net, not the mechanism.

use crate::domain::grant::{IdentityKey, PersonGrants};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cache entry: {0}")]
    Encoding(#[from] serde_json::Error),
}

/// The version a reader saw before reading the database; opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(String);

/// What the cache holds for an identity link.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheLookup {
    /// A grant set no write has touched since it was read.
    Hit(PersonGrants),
    /// Nothing usable: read the database, then [`GrantCache::put`] under this stamp. `None`
    /// when no stamp could be taken (a write raced the reader): do not store the result.
    Miss(Option<Stamp>),
}

#[async_trait]
pub trait GrantCache: Send + Sync {
    async fn get(&self, key: &IdentityKey) -> Result<CacheLookup, CacheError>;
    /// Stores a grant set read after `stamp` was taken.
    async fn put(
        &self,
        key: &IdentityKey,
        stamp: Stamp,
        grants: &PersonGrants,
    ) -> Result<(), CacheError>;
    /// Makes every entry of these identity links unusable, at once.
    async fn invalidate(&self, links: &BTreeSet<IdentityKey>) -> Result<(), CacheError>;
    /// Whether other processes share this cache (Redis) or it is this process's own.
    fn is_shared(&self) -> bool;
    /// Whether the cache answers at all (a Redis PING).
    async fn ping(&self) -> Result<(), CacheError>;
}

/// In-process cache for one process. A single epoch stands in for per-link versions: any
/// invalidation moves it, so a set read before an invalidation is never stored. Coarser than
/// per-link versions, and exact.
#[derive(Debug)]
pub struct MemoryGrantCache {
    inner: Mutex<MemoryInner>,
    ttl: Duration,
    max_entries: usize,
}

#[derive(Debug, Default)]
struct MemoryInner {
    epoch: u64,
    entries: HashMap<IdentityKey, (Instant, PersonGrants)>,
}

impl MemoryGrantCache {
    pub fn new(ttl: Duration, max_entries: usize) -> MemoryGrantCache {
        MemoryGrantCache {
            inner: Mutex::new(MemoryInner::default()),
            ttl,
            max_entries,
        }
    }

    /// Forgets everything (used when this process may have missed invalidations).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.epoch += 1;
        inner.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl GrantCache for MemoryGrantCache {
    async fn get(&self, key: &IdentityKey) -> Result<CacheLookup, CacheError> {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        match inner.entries.get(key) {
            Some((stored, grants)) if now.duration_since(*stored) < self.ttl => {
                Ok(CacheLookup::Hit(grants.clone()))
            }
            Some(_) => {
                inner.entries.remove(key);
                Ok(CacheLookup::Miss(Some(Stamp(inner.epoch.to_string()))))
            }
            None => Ok(CacheLookup::Miss(Some(Stamp(inner.epoch.to_string())))),
        }
    }

    async fn put(
        &self,
        key: &IdentityKey,
        stamp: Stamp,
        grants: &PersonGrants,
    ) -> Result<(), CacheError> {
        let mut inner = self.inner.lock();
        if stamp.0 != inner.epoch.to_string() {
            return Ok(());
        }
        if inner.entries.len() >= self.max_entries && !inner.entries.contains_key(key) {
            // Full: drop what has expired; if nothing has, start over rather than grow.
            let ttl = self.ttl;
            let now = Instant::now();
            inner
                .entries
                .retain(|_, (stored, _)| now.duration_since(*stored) < ttl);
            if inner.entries.len() >= self.max_entries {
                inner.entries.clear();
            }
        }
        inner
            .entries
            .insert(key.clone(), (Instant::now(), grants.clone()));
        Ok(())
    }

    async fn invalidate(&self, links: &BTreeSet<IdentityKey>) -> Result<(), CacheError> {
        let mut inner = self.inner.lock();
        inner.epoch += 1;
        for key in links {
            inner.entries.remove(key);
        }
        Ok(())
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}

/// The cache in Redis, shared by every replica.
///
/// Keys (under a configurable prefix, so that tests and deployments can share a server):
/// `<prefix>:ver:<link>` holds the link's current version, a random token; `<prefix>:grants:<link>`
/// holds `<stamp>\n<grant set as JSON>`. `<link>` is a SHA-256 of the identity link, so keys
/// are short and no subject can forge another's key.
#[derive(Clone)]
pub struct RedisGrantCache {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    ttl_seconds: u64,
}

impl std::fmt::Debug for RedisGrantCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGrantCache")
            .field("prefix", &self.prefix)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

impl RedisGrantCache {
    /// Prepares a connection to `url` without waiting for it: poort starts, and resolves from
    /// the database, while Redis is down. Calls time out quickly so a hung Redis cannot hold up
    /// logins.
    pub fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<RedisGrantCache, CacheError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_millis(250)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisGrantCache {
            conn,
            prefix: prefix.to_string(),
            ttl_seconds: ttl.as_secs().max(1),
        })
    }

    fn link_id(key: &IdentityKey) -> String {
        let mut input = Vec::with_capacity(key.idp.len() + key.subject.len() + 1);
        input.extend_from_slice(key.idp.as_bytes());
        input.push(0);
        input.extend_from_slice(key.subject.as_bytes());
        hex::encode(&openssl::sha::sha256(&input)[..16])
    }

    fn version_key(&self, key: &IdentityKey) -> String {
        format!("{}:ver:{}", self.prefix, Self::link_id(key))
    }

    fn entry_key(&self, key: &IdentityKey) -> String {
        format!("{}:grants:{}", self.prefix, Self::link_id(key))
    }

    /// The Redis key of a link's grant set (benchmarks measure its size).
    pub fn entry_key_of(&self, key: &IdentityKey) -> String {
        self.entry_key(key)
    }

    fn fresh_token() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

#[async_trait]
impl GrantCache for RedisGrantCache {
    async fn get(&self, key: &IdentityKey) -> Result<CacheLookup, CacheError> {
        let version_key = self.version_key(key);
        let mut conn = self.conn.clone();
        // One round trip for a hit.
        let (entry, version): (Option<String>, Option<String>) = redis::pipe()
            .get(self.entry_key(key))
            .get(&version_key)
            .query_async(&mut conn)
            .await?;
        if let (Some(entry), Some(version)) = (&entry, &version) {
            if let Some((stamp, json)) = entry.split_once('\n') {
                if stamp == version {
                    return Ok(CacheLookup::Hit(serde_json::from_str(json)?));
                }
            }
        }
        // Take a version before the caller reads the database: the current one, or a new one
        // when there is none. Versions outlive entries so that a late put cannot revive one.
        let (version,): (Option<String>,) = redis::pipe()
            .cmd("SET")
            .arg(&version_key)
            .arg(Self::fresh_token())
            .arg("NX")
            .arg("EX")
            .arg(self.ttl_seconds * 4)
            .ignore()
            .get(&version_key)
            .query_async(&mut conn)
            .await?;
        Ok(CacheLookup::Miss(version.map(Stamp)))
    }

    // The trait's signature, as in `MemoryGrantCache`: the two caches differ only below it.
    async fn put(
        &self,
        key: &IdentityKey,
        stamp: Stamp,
        grants: &PersonGrants,
    ) -> Result<(), CacheError> {
        let value = format!("{}\n{}", stamp.0, serde_json::to_string(grants)?);
        let mut conn = self.conn.clone();
        let () = redis::cmd("SET")
            .arg(self.entry_key(key))
            .arg(value)
            .arg("EX")
            .arg(self.ttl_seconds)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn invalidate(&self, links: &BTreeSet<IdentityKey>) -> Result<(), CacheError> {
        if links.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for key in links {
            pipe.del(self.version_key(key)).ignore();
            pipe.del(self.entry_key(key)).ignore();
        }
        let mut conn = self.conn.clone();
        let () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// The shared conformance suite: every [`GrantCache`] must pass it (run on the in-process
/// cache in unit tests and on a real redis-server in `tests/grant_cache.rs`).
pub mod conformance {
    use super::*;

    fn set(person: &str) -> PersonGrants {
        PersonGrants {
            person_id: Some(person.to_string()),
            grants: vec![],
        }
    }

    async fn stamp(cache: &dyn GrantCache, key: &IdentityKey) -> Stamp {
        match cache.get(key).await.expect("cache answers") {
            CacheLookup::Miss(Some(stamp)) => stamp,
            other => panic!("expected a miss with a stamp, got {other:?}"),
        }
    }

    fn one(key: &IdentityKey) -> BTreeSet<IdentityKey> {
        BTreeSet::from([key.clone()])
    }

    /// Miss, put, hit; an invalidation makes the entry unusable at once.
    pub async fn put_hit_invalidate(cache: &dyn GrantCache) {
        let anna = IdentityKey::new("ad", "anna");
        let s = stamp(cache, &anna).await;
        cache.put(&anna, s, &set("anna")).await.expect("put");
        assert_eq!(
            cache.get(&anna).await.expect("get"),
            CacheLookup::Hit(set("anna"))
        );
        cache.invalidate(&one(&anna)).await.expect("invalidate");
        assert!(matches!(
            cache.get(&anna).await.expect("get"),
            CacheLookup::Miss(_)
        ));
    }

    /// A reader that took its stamp before a write and puts its set back after the write (and
    /// after a fresh reader stored the new set) is never served.
    pub async fn slow_reader_never_puts_back_a_stale_set(cache: &dyn GrantCache) {
        let anna = IdentityKey::new("ad", "anna-slow");
        let slow = stamp(cache, &anna).await;
        cache.invalidate(&one(&anna)).await.expect("invalidate");
        let fresh = stamp(cache, &anna).await;
        cache.put(&anna, fresh, &set("after")).await.expect("put");
        cache.put(&anna, slow, &set("stale")).await.expect("put");
        // Either the fresh set is served, or nothing is and the next reader stores it again.
        match cache.get(&anna).await.expect("get") {
            CacheLookup::Hit(grants) => assert_eq!(grants, set("after"), "stale set served"),
            CacheLookup::Miss(Some(s)) => {
                cache.put(&anna, s, &set("after")).await.expect("put");
                assert_eq!(
                    cache.get(&anna).await.expect("get"),
                    CacheLookup::Hit(set("after"))
                );
            }
            CacheLookup::Miss(None) => panic!("no stamp without a concurrent write"),
        }
    }

    /// An invalidation of one person leaves another's entry usable.
    pub async fn invalidation_is_per_link(cache: &dyn GrantCache) {
        let anna = IdentityKey::new("ad", "anna-own");
        let bram = IdentityKey::new("ad", "bram-own");
        let s = stamp(cache, &bram).await;
        cache.put(&bram, s, &set("bram")).await.expect("put");
        cache.invalidate(&one(&anna)).await.expect("invalidate");
        assert_eq!(
            cache.get(&bram).await.expect("get"),
            CacheLookup::Hit(set("bram"))
        );
    }

    /// Everything above.
    pub async fn all(cache: &dyn GrantCache) {
        put_hit_invalidate(cache).await;
        slow_reader_never_puts_back_a_stale_set(cache).await;
        invalidation_is_per_link(cache).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(person: &str) -> PersonGrants {
        PersonGrants {
            person_id: Some(person.to_string()),
            grants: vec![],
        }
    }

    #[tokio::test]
    async fn memory_cache_passes_the_conformance_suite() {
        let cache = MemoryGrantCache::new(Duration::from_secs(60), 100);
        conformance::all(&cache).await;
    }

    #[tokio::test]
    async fn memory_cache_never_stores_a_set_read_before_an_invalidation() {
        let cache = MemoryGrantCache::new(Duration::from_secs(60), 10);
        let anna = IdentityKey::new("ad", "anna");
        let CacheLookup::Miss(Some(stamp)) = cache.get(&anna).await.unwrap() else {
            panic!("empty cache must miss with a stamp")
        };
        // A write lands while the reader is in the database.
        cache
            .invalidate(&BTreeSet::from([IdentityKey::new("ad", "bram")]))
            .await
            .unwrap();
        cache.put(&anna, stamp, &grants("anna")).await.unwrap();
        assert!(matches!(
            cache.get(&anna).await.unwrap(),
            CacheLookup::Miss(_)
        ));
        // Without a write in between the set is stored and served.
        let CacheLookup::Miss(Some(stamp)) = cache.get(&anna).await.unwrap() else {
            panic!()
        };
        cache.put(&anna, stamp, &grants("anna")).await.unwrap();
        assert_eq!(
            cache.get(&anna).await.unwrap(),
            CacheLookup::Hit(grants("anna"))
        );
        cache
            .invalidate(&BTreeSet::from([anna.clone()]))
            .await
            .unwrap();
        assert!(matches!(
            cache.get(&anna).await.unwrap(),
            CacheLookup::Miss(_)
        ));
    }

    #[tokio::test]
    async fn memory_cache_expires_and_stays_bounded() {
        let cache = MemoryGrantCache::new(Duration::ZERO, 2);
        let anna = IdentityKey::new("ad", "anna");
        let CacheLookup::Miss(Some(stamp)) = cache.get(&anna).await.unwrap() else {
            panic!()
        };
        cache.put(&anna, stamp, &grants("anna")).await.unwrap();
        assert!(matches!(
            cache.get(&anna).await.unwrap(),
            CacheLookup::Miss(_)
        ));
        let cache = MemoryGrantCache::new(Duration::from_secs(60), 2);
        for p in ["a", "b", "c", "d", "e"] {
            let key = IdentityKey::new("ad", p);
            let CacheLookup::Miss(Some(stamp)) = cache.get(&key).await.unwrap() else {
                panic!()
            };
            cache.put(&key, stamp, &grants(p)).await.unwrap();
            assert!(cache.len() <= 2);
        }
    }
}
