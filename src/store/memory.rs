//! The embedded, in-process store: a map with expiry, swept as it grows.

use super::{FlowStore, ReplayCache, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (Vec<u8>, DateTime<Utc>)>,
    /// Sweep expired entries when the map doubles since the last sweep.
    swept_at_len: usize,
}

impl Inner {
    fn sweep_if_grown(&mut self, now: DateTime<Utc>) {
        if self.entries.len() >= 2 * self.swept_at_len.max(1024) {
            self.entries.retain(|_, (_, exp)| *exp > now);
            self.swept_at_len = self.entries.len();
        }
    }

    fn live(&self, key: &str, now: DateTime<Utc>) -> Option<&Vec<u8>> {
        self.entries
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v)
    }
}

impl MemoryStore {
    /// Number of entries held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    // FlowStore's signatures, restated as a trait impl must; only the bodies are this store's.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        inner.sweep_if_grown(Utc::now());
        inner.entries.insert(key.to_string(), (value, expires_at));
        Ok(())
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.lock().live(key, now).cloned())
    }

    async fn take(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        let mut inner = self.inner.lock();
        Ok(inner
            .entries
            .remove(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v))
    }
}

#[async_trait]
impl ReplayCache for MemoryStore {
    async fn first_use(
        &self,
        key: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock();
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.sweep_if_grown(now);
        inner.entries.insert(key.to_string(), (Vec::new(), until));
        Ok(true)
    }
}
