//! Short-lived shared state: pending logins and the replay cache.
//!
//! Everything a second replica would need lives behind these traits, so that replicas stay
//! stateless. The embedded implementation keeps it in-process; with `[state] redis_url` set it
//! lives in Redis. Both must pass [`conformance`].

mod limited;
mod memory;
mod redis;

pub use self::redis::RedisStore;
pub use limited::{Admission, CapConfigError, CapRefusal, FlowCaps, LimitedFlowStore};
pub use memory::MemoryStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

/// Values that expire, by key.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores `value` under `key` until `expires_at`, replacing any earlier value.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes and returns the value under `key`: at most one caller ever gets it.
    async fn take(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether the store answers at all (readiness). In-process stores always do.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether replicas share this store (Redis) or it is this process's own.
    fn is_shared(&self) -> bool {
        false
    }
}

/// Remembers identifiers that may be used only once (assertion IDs, request IDs).
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` until `until`. Returns `true` the first time, `false` when already seen.
    async fn first_use(
        &self,
        key: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The shared conformance suite: every implementation of the store traits must pass it.
pub mod conformance {
    use super::*;
    use chrono::Duration;

    pub async fn flow_store(store: &dyn FlowStore, prefix: &str) {
        let now = Utc::now();
        let k = |s: &str| format!("{prefix}{s}");
        store
            .put(&k("a"), b"one".to_vec(), now + Duration::seconds(60))
            .await
            .ok();
        assert_eq!(
            store.get(&k("a"), now).await.ok().flatten(),
            Some(b"one".to_vec())
        );
        // Replacing keeps the latest value.
        store
            .put(&k("a"), b"two".to_vec(), now + Duration::seconds(60))
            .await
            .ok();
        assert_eq!(
            store.get(&k("a"), now).await.ok().flatten(),
            Some(b"two".to_vec())
        );
        // Take is single-use.
        assert_eq!(
            store.take(&k("a"), now).await.ok().flatten(),
            Some(b"two".to_vec())
        );
        assert_eq!(store.take(&k("a"), now).await.ok().flatten(), None);
        assert_eq!(store.get(&k("a"), now).await.ok().flatten(), None);
        // Expired values are gone.
        store
            .put(&k("b"), b"x".to_vec(), now + Duration::seconds(1))
            .await
            .ok();
        let later = now + Duration::seconds(2);
        assert_eq!(store.get(&k("b"), later).await.ok().flatten(), None);
        assert_eq!(store.take(&k("b"), later).await.ok().flatten(), None);
        assert_eq!(store.get(&k("missing"), now).await.ok().flatten(), None);
    }

    pub async fn replay_cache(cache: &dyn ReplayCache, prefix: &str) {
        let now = Utc::now();
        let k = format!("{prefix}assertion-1");
        assert_eq!(
            cache
                .first_use(&k, now + Duration::seconds(60), now)
                .await
                .ok(),
            Some(true)
        );
        assert_eq!(
            cache
                .first_use(&k, now + Duration::seconds(60), now)
                .await
                .ok(),
            Some(false)
        );
        // After expiry the ID is forgotten (its assertion has expired too).
        let later = now + Duration::seconds(61);
        assert_eq!(
            cache
                .first_use(&k, later + Duration::seconds(60), later)
                .await
                .ok(),
            Some(true)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_conforms() {
        let store = MemoryStore::default();
        conformance::flow_store(&store, "t:").await;
        conformance::replay_cache(&store, "t:").await;
    }
}
