//! Pending logins and the replay cache in Redis, so that any replica can continue a login any
//! other replica started, and an assertion replayed at another replica is still refused.
//!
//! Expiry follows the `now` the caller passes (as the traits define it): each value carries its
//! own expiry instant, checked on every read. Redis TTLs only clean up.

use super::{FlowStore, ReplayCache, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

/// Milliseconds from the real clock until `at`, at least 1: the cleanup TTL.
fn ttl_ms(at: DateTime<Utc>) -> i64 {
    (at - Utc::now()).num_milliseconds().max(1)
}

/// Replay check and record in one step: a stored ID still valid at `now` is a replay; anything
/// else (absent, or expired by the caller's clock) is recorded anew.
const FIRST_USE: &str = r"
local seen = redis.call('GET', KEYS[1])
if seen and tonumber(seen) > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

impl RedisStore {
    /// Prepares a connection to `url` without waiting for it; calls time out quickly.
    pub fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(unavailable)?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn flow_key(&self, key: &str) -> String {
        format!("{}:flow:{key}", self.prefix)
    }

    fn replay_key(&self, key: &str) -> String {
        format!("{}:seen:{key}", self.prefix)
    }

    /// Value layout: the expiry instant (milliseconds since the epoch, 8 bytes big-endian),
    /// then the value.
    fn encode(value: &[u8], expires_at: DateTime<Utc>) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + value.len());
        out.extend_from_slice(&expires_at.timestamp_millis().to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    fn decode(stored: Vec<u8>, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((head, value)) = stored.split_first_chunk::<8>() else {
            return Err(StoreError::Corrupt(
                "flow value shorter than its header".into(),
            ));
        };
        let expires_ms = i64::from_be_bytes(*head);
        if expires_ms <= now.timestamp_millis() {
            return Ok(None);
        }
        Ok(Some(value.to_vec()))
    }
}

#[async_trait]
impl FlowStore for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn is_shared(&self) -> bool {
        true
    }

    // FlowStore's signatures, restated as a trait impl must; only the bodies are this store's.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let () = redis::cmd("SET")
            .arg(self.flow_key(key))
            .arg(Self::encode(&value, expires_at))
            .arg("PX")
            .arg(ttl_ms(expires_at))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        let stored: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.flow_key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        stored.map_or(Ok(None), |s| Self::decode(s, now))
    }

    async fn take(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        // GETDEL is atomic: of two replicas taking the same flow, one gets it.
        let stored: Option<Vec<u8>> = redis::cmd("GETDEL")
            .arg(self.flow_key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        stored.map_or(Ok(None), |s| Self::decode(s, now))
    }
}

#[async_trait]
impl ReplayCache for RedisStore {
    async fn first_use(
        &self,
        key: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let first: i64 = redis::Script::new(FIRST_USE)
            .key(self.replay_key(key))
            .arg(now.timestamp_millis())
            .arg(until.timestamp_millis())
            .arg(ttl_ms(until))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(first == 1)
    }
}
