//! Caps on the pending logins anonymous clients can make poort hold.
//!
//! Every login start stores a pending flow before anyone has authenticated, so without a cap a
//! client could fill the store. [`FlowCaps`] counts the flows this process started that are
//! still open, each with the client address that started it and its expiry, and admits a new one
//! only below both caps: the whole process's (`[limits] max_pending_flows`) and one client's
//! (`max_flows_per_client`). A slot is freed when its flow is taken from the store (the login
//! goes on or ends), when it expires, or when the start fails before anything was stored.
//!
//! [`LimitedFlowStore`] wraps the real store and tells the caps what happens to admitted keys;
//! other keys pass through untouched. The caps' own memory is bounded by `max_pending_flows`.
//!
//! With a store shared by replicas (Redis) each process counts the flows it started; a flow
//! finished at another replica keeps its slot here until it expires, so behind a balancer without
//! session affinity `max_flows_per_client` should allow for that.

use super::{FlowStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Why a new flow was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapRefusal {
    /// The process holds `max_pending_flows` open flows.
    #[error("this process holds the most pending logins it may ({0})")]
    Busy(usize),
    /// This client has `max_flows_per_client` open flows.
    #[error("this client address has the most open logins it may ({0})")]
    ClientFull(usize),
}

/// The caps are not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[limits] {0} must be at least 1")]
pub struct CapConfigError(pub &'static str);

struct Slot {
    client: IpAddr,
    expires_at: DateTime<Utc>,
    /// Set once the flow is in the store; until then the slot is only reserved.
    stored: bool,
}

/// The slots, by key, by expiry and counted per client. A key is allocated once, at admission,
/// and shared by the maps and the [`Admission`].
#[derive(Default)]
struct Slots {
    by_key: HashMap<Arc<str>, Slot>,
    by_expiry: BTreeSet<(DateTime<Utc>, Arc<str>)>,
    per_client: HashMap<IpAddr, usize>,
}

impl Slots {
    fn remove(&mut self, key: &str) {
        if let Some((key, slot)) = self.by_key.remove_entry(key) {
            self.by_expiry.remove(&(slot.expires_at, key));
            self.forget(slot.client);
        }
    }

    fn purge_expired(&mut self, now: DateTime<Utc>) {
        while self.by_expiry.first().is_some_and(|(at, _)| *at <= now) {
            if let Some(slot) = self
                .by_expiry
                .pop_first()
                .and_then(|(_, key)| self.by_key.remove(&key))
            {
                self.forget(slot.client);
            }
        }
    }

    /// One slot of `client`'s is gone.
    fn forget(&mut self, client: IpAddr) {
        if let Some(n) = self.per_client.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&client);
            }
        }
    }
}

/// The open flows this process started, per client and in all.
pub struct FlowCaps {
    max_total: usize,
    max_per_client: usize,
    slots: Mutex<Slots>,
}

impl FlowCaps {
    pub fn new(max_total: usize, max_per_client: usize) -> Result<FlowCaps, CapConfigError> {
        if max_total == 0 {
            return Err(CapConfigError("max_pending_flows"));
        }
        if max_per_client == 0 {
            return Err(CapConfigError("max_flows_per_client"));
        }
        Ok(FlowCaps {
            max_total,
            max_per_client,
            slots: Mutex::new(Slots::default()),
        })
    }

    /// Reserves a slot for the flow to be stored under `key`, started by `client`, open until
    /// `expires_at`. The slot is held until the key is taken from the store or expires; if the
    /// key is never stored, [`Admission`] gives it back when dropped.
    pub fn admit(
        self: &Arc<Self>,
        key: &str,
        client: IpAddr,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Admission, CapRefusal> {
        let mut slots = self.slots.lock();
        slots.purge_expired(now);
        // The process cap first: when poort is full, that is what every client should hear.
        if slots.by_key.len() >= self.max_total {
            return Err(CapRefusal::Busy(self.max_total));
        }
        let held = slots.per_client.get(&client).copied().unwrap_or(0);
        if held >= self.max_per_client {
            return Err(CapRefusal::ClientFull(self.max_per_client));
        }
        slots.remove(key);
        let key: Arc<str> = key.into();
        slots.by_key.insert(
            key.clone(),
            Slot {
                client,
                expires_at,
                stored: false,
            },
        );
        slots.by_expiry.insert((expires_at, key.clone()));
        *slots.per_client.entry(client).or_insert(0) += 1;
        Ok(Admission {
            caps: self.clone(),
            key,
        })
    }

    /// The key of an admitted flow was stored (again) with this expiry.
    fn stored(&self, key: &str, expires_at: DateTime<Utc>) {
        let mut slots = self.slots.lock();
        let Some(slot) = slots.by_key.get_mut(key) else {
            return;
        };
        slot.stored = true;
        let before = std::mem::replace(&mut slot.expires_at, expires_at);
        if before != expires_at {
            // Stored again with another expiry: its entry in the expiry index moves.
            if let Some((key, _)) = slots.by_key.get_key_value(key) {
                let key = key.clone();
                slots.by_expiry.remove(&(before, key.clone()));
                slots.by_expiry.insert((expires_at, key));
            }
        }
    }

    /// The flow under `key` was taken from the store, or will never be stored: its slot is free.
    fn release(&self, key: &str) {
        self.slots.lock().remove(key);
    }

    /// Open flows this process holds (expired ones are counted until the next admission).
    pub fn held(&self) -> usize {
        self.slots.lock().by_key.len()
    }

    /// Open flows one client holds.
    pub fn held_by(&self, client: IpAddr) -> usize {
        self.slots
            .lock()
            .per_client
            .get(&client)
            .copied()
            .unwrap_or(0)
    }

    /// Clients with open flows: what the per-client counters take in memory.
    pub fn clients(&self) -> usize {
        self.slots.lock().per_client.len()
    }
}

/// A reserved slot. Dropping it frees the slot unless its key was stored meanwhile, so a login
/// start that fails before storing anything (an AD that cannot be reached) does not keep it.
pub struct Admission {
    caps: Arc<FlowCaps>,
    key: Arc<str>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut slots = self.caps.slots.lock();
        if slots.by_key.get(&self.key).is_some_and(|s| !s.stored) {
            slots.remove(&self.key);
        }
    }
}

/// The flow store with the caps told what happens to the keys they admitted.
pub struct LimitedFlowStore {
    inner: Arc<dyn FlowStore>,
    caps: Arc<FlowCaps>,
}

impl LimitedFlowStore {
    pub fn new(inner: Arc<dyn FlowStore>, caps: Arc<FlowCaps>) -> LimitedFlowStore {
        LimitedFlowStore { inner, caps }
    }
}

#[async_trait]
impl FlowStore for LimitedFlowStore {
    // FlowStore's signatures, restated as a trait impl must; only the bodies are this store's.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.put(key, value, expires_at).await?;
        self.caps.stored(key, expires_at);
        Ok(())
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key, now).await
    }

    async fn take(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        let taken = self.inner.take(key, now).await?;
        self.caps.release(key);
        Ok(taken)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use chrono::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[tokio::test]
    async fn the_wrapped_store_conforms() {
        let caps = Arc::new(FlowCaps::new(10, 10).expect("caps"));
        let store = LimitedFlowStore::new(Arc::new(MemoryStore::default()), caps);
        crate::store::conformance::flow_store(&store, "t:").await;
    }

    #[test]
    fn zero_caps_are_refused_by_name() {
        assert_eq!(
            FlowCaps::new(0, 5).err(),
            Some(CapConfigError("max_pending_flows"))
        );
        assert_eq!(
            FlowCaps::new(5, 0).err().map(|e| e.to_string()),
            Some("[limits] max_flows_per_client must be at least 1".into())
        );
    }

    /// A login start: a slot for `key`, then its flow stored.
    async fn start(
        caps: &Arc<FlowCaps>,
        store: &LimitedFlowStore,
        key: &str,
        client: IpAddr,
        until: DateTime<Utc>,
    ) -> Result<Admission, CapRefusal> {
        let admission = caps.admit(key, client, until, Utc::now())?;
        store.put(key, b"x".to_vec(), until).await.expect("put");
        Ok(admission)
    }

    #[tokio::test]
    async fn per_client_then_process_cap_and_slots_come_back() {
        let caps = Arc::new(FlowCaps::new(3, 2).expect("caps"));
        let store = LimitedFlowStore::new(Arc::new(MemoryStore::default()), caps.clone());
        let now = Utc::now();
        let until = now + Duration::seconds(60);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let mut open = Vec::new();
        for i in 0..2 {
            let key = format!("flow:a{i}");
            open.push(
                start(&caps, &store, &key, a, until)
                    .await
                    .expect("below the caps"),
            );
        }
        assert_eq!(
            caps.admit("flow:a2", a, until, now).err(),
            Some(CapRefusal::ClientFull(2))
        );
        let _b0 = start(&caps, &store, "flow:b0", b, until)
            .await
            .expect("another client");
        assert_eq!(
            caps.admit("flow:b1", b, until, now).err(),
            Some(CapRefusal::Busy(3))
        );
        // Dropping the admission of a stored flow keeps the slot: the flow is still pending.
        drop(open);
        assert_eq!(caps.held(), 3);
        // Taking a flow (the login goes on) frees its slot for anyone.
        store.take("flow:a0", now).await.expect("take");
        assert_eq!((caps.held(), caps.held_by(a)), (2, 1));
        let _b1 = start(&caps, &store, "flow:b1", b, until)
            .await
            .expect("a slot came free");
        assert_eq!(caps.held_by(b), 2);
    }

    #[test]
    fn a_start_that_stored_nothing_gives_its_slot_back() {
        let caps = Arc::new(FlowCaps::new(1, 1).expect("caps"));
        let now = Utc::now();
        let until = now + Duration::seconds(60);
        let admission = caps.admit("flow:1", ip("192.0.2.1"), until, now);
        assert!(admission.is_ok());
        drop(admission);
        assert_eq!((caps.held(), caps.clients()), (0, 0));
        assert!(caps.admit("flow:2", ip("192.0.2.1"), until, now).is_ok());
    }

    #[test]
    fn expired_flows_free_their_slots() {
        let caps = Arc::new(FlowCaps::new(2, 2).expect("caps"));
        let now = Utc::now();
        let soon = now + Duration::seconds(5);
        let later = now + Duration::seconds(60);
        let a = ip("192.0.2.1");
        let _x = caps.admit("flow:x", a, soon, now).expect("first");
        caps.stored("flow:x", soon);
        let _y = caps.admit("flow:y", a, later, now).expect("second");
        caps.stored("flow:y", later);
        assert_eq!(
            caps.admit("flow:z", a, later, now).err(),
            Some(CapRefusal::Busy(2))
        );
        // Past the first flow's expiry its slot is free again, and only that one.
        let after = soon + Duration::seconds(1);
        let _z = caps.admit("flow:z", a, later, after).expect("x expired");
        assert_eq!(caps.held(), 2);
        assert_eq!(
            caps.admit("flow:w", a, later, after).err(),
            Some(CapRefusal::Busy(2))
        );
    }

    #[test]
    fn counters_hold_only_clients_with_open_flows() {
        let caps = Arc::new(FlowCaps::new(100, 1).expect("caps"));
        let now = Utc::now();
        let soon = now + Duration::seconds(1);
        for i in 0..100u8 {
            let key = format!("flow:{i}");
            let _a = caps.admit(&key, IpAddr::from([192, 0, 2, i]), soon, now);
            caps.stored(&key, soon);
        }
        assert_eq!(caps.clients(), 100);
        let later = soon + Duration::seconds(1);
        let _a = caps.admit("flow:new", ip("198.51.100.1"), later, later);
        assert_eq!((caps.held(), caps.clients()), (1, 1));
    }
}
