//! A small key/value cache: Redis when configured (shared by replicas), in-process otherwise.
//!
//! Every Redis call is bounded by a short timeout and reports [`CacheError::Timeout`]; the caller
//! decides what that means (ads, for instance, serve without ingredient targeting).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use moka::ops::compute::Op;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cache is unavailable: {0}")]
    Unavailable(String),
    #[error("cache value at `{0}` has another type")]
    WrongType(String),
}

#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// Stores `value`; `ttl: None` keeps it until evicted.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError>;
    /// Stores `value` only if `key` is absent; true when it was stored.
    async fn set_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>, CacheError>;
    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<(), CacheError>;
    /// Many fields of one hash in one round trip, in the order asked.
    async fn hget_many(&self, key: &str, fields: &[&str])
    -> Result<Vec<Option<Bytes>>, CacheError>;
    /// Sets many fields of one hash in one round trip.
    async fn hset_many(&self, key: &str, entries: &[(String, Bytes)]) -> Result<(), CacheError>;
    /// Sets `field` only if the hash has none; true when it was set.
    async fn hset_if_absent(
        &self,
        key: &str,
        field: &str,
        value: Bytes,
    ) -> Result<bool, CacheError>;
    /// Every field of a hash (none when absent).
    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>, CacheError>;
    /// Adds each amount to its integer field of one hash (0 when absent), in one round trip.
    async fn hincr_many(&self, key: &str, increments: &[(String, i64)]) -> Result<(), CacheError>;
    /// Renames `from` to `to` in one step, only if `to` does not exist; false when `from` does
    /// not exist or `to` does.
    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<bool, CacheError>;
    /// Renames `from` to `to` in one step, replacing `to`; false when `from` does not exist.
    async fn rename(&self, from: &str, to: &str) -> Result<bool, CacheError>;
    /// Adds `by` to the integer at `key` (0 when absent) and returns the new value.
    async fn incr(&self, key: &str, by: i64) -> Result<i64, CacheError>;
    /// Readiness check.
    async fn ping(&self) -> Result<(), CacheError>;
}

/// Redis, with every key under `prefix:` so deployments can share a server.
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisCache {
    pub fn new(conn: ConnectionManager, prefix: &str, timeout: Duration) -> Self {
        RedisCache {
            conn,
            prefix: format!("{prefix}:cache:"),
            timeout,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn call<T, F, Fut>(&self, f: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f(self.conn.clone())).await {
            Err(_) => Err(CacheError::Timeout(self.timeout)),
            Ok(Err(e))
                if e.kind() == redis::ErrorKind::UnexpectedReturnType
                    || e.code() == Some("WRONGTYPE") =>
            {
                Err(CacheError::WrongType(e.to_string()))
            }
            Ok(Err(e)) => Err(CacheError::Unavailable(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let key = self.key(key);
        let value: Option<Vec<u8>> = self.call(|mut c| async move { c.get(key).await }).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        let key = self.key(key);
        self.call(|mut c| async move {
            match ttl {
                Some(ttl) => {
                    c.pset_ex::<_, _, ()>(key, value.as_ref(), ttl.as_millis().max(1) as u64)
                        .await
                }
                None => c.set::<_, _, ()>(key, value.as_ref()).await,
            }
        })
        .await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let key = self.key(key);
        let stored: Option<String> = self
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value.as_ref())
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(stored.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let key = self.key(key);
        self.call(|mut c| async move { c.del::<_, ()>(key).await })
            .await
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>, CacheError> {
        let (key, field) = (self.key(key), field.to_string());
        let value: Option<Vec<u8>> = self
            .call(|mut c| async move { c.hget(key, field).await })
            .await?;
        Ok(value.map(Bytes::from))
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<(), CacheError> {
        let (key, field) = (self.key(key), field.to_string());
        self.call(|mut c| async move { c.hset::<_, _, _, ()>(key, field, value.as_ref()).await })
            .await
    }

    async fn hget_many(
        &self,
        key: &str,
        fields: &[&str],
    ) -> Result<Vec<Option<Bytes>>, CacheError> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.key(key);
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key).arg(fields);
        let values: Vec<Option<Vec<u8>>> = self
            .call(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    async fn hset_many(&self, key: &str, entries: &[(String, Bytes)]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self.key(key);
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (field, value) in entries {
            cmd.arg(field).arg(value.as_ref());
        }
        self.call(|mut c| async move { cmd.query_async::<()>(&mut c).await })
            .await
    }

    async fn hset_if_absent(
        &self,
        key: &str,
        field: &str,
        value: Bytes,
    ) -> Result<bool, CacheError> {
        let (key, field) = (self.key(key), field.to_string());
        self.call(|mut c| async move { c.hset_nx(key, field, value.as_ref()).await })
            .await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>, CacheError> {
        let key = self.key(key);
        let values: Vec<(String, Vec<u8>)> = self
            .call(|mut c| async move { c.hgetall(key).await })
            .await?;
        Ok(values
            .into_iter()
            .map(|(f, v)| (f, Bytes::from(v)))
            .collect())
    }

    async fn hincr_many(&self, key: &str, increments: &[(String, i64)]) -> Result<(), CacheError> {
        if increments.is_empty() {
            return Ok(());
        }
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (field, by) in increments {
            pipe.hincr(&key, field, *by).ignore();
        }
        self.call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        let (from, to) = (self.key(from), self.key(to));
        let renamed = self
            .call(|mut c| async move { c.rename_nx::<_, _, bool>(from, to).await })
            .await;
        no_such_key_is_false(renamed)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        let (from, to) = (self.key(from), self.key(to));
        let renamed = self
            .call(|mut c| async move { c.rename::<_, _, ()>(from, to).await })
            .await
            .map(|()| true);
        no_such_key_is_false(renamed)
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, CacheError> {
        let key = self.key(key);
        self.call(|mut c| async move { c.incr(key, by).await })
            .await
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}

/// Redis answers a rename of a missing key with an error; here it is simply not renamed.
fn no_such_key_is_false(renamed: Result<bool, CacheError>) -> Result<bool, CacheError> {
    match renamed {
        Err(CacheError::Unavailable(message)) if message.contains("no such key") => Ok(false),
        other => other,
    }
}

#[derive(Debug, Clone)]
enum Value {
    Bytes(Bytes),
    Hash(HashMap<String, Bytes>),
    Counter(i64),
}

#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

struct EntryExpiry;

impl Expiry<String, Arc<Entry>> for EntryExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        entry: &Arc<Entry>,
        now: Instant,
    ) -> Option<Duration> {
        entry.expires_at.map(|at| at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Arc<Entry>,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        entry.expires_at.map(|at| at.saturating_duration_since(now))
    }
}

/// In-process cache for a single container; bounded by entry count.
#[derive(Clone, Debug)]
pub struct MemoryCache {
    entries: moka::future::Cache<String, Arc<Entry>>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        MemoryCache {
            entries: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryExpiry)
                .build(),
        }
    }

    /// Reads an entry, treating one past its expiry as absent even before moka evicts it.
    async fn live(&self, key: &str) -> Option<Arc<Entry>> {
        let entry = self.entries.get(key).await?;
        match entry.expires_at {
            Some(at) if at <= Instant::now() => None,
            _ => Some(entry),
        }
    }

    /// Applies `change` to the hash at `key` (empty when absent) in one atomic step; a `None`
    /// from `change` leaves the hash as it was and reports a wrong type.
    async fn update_hash<T>(
        &self,
        key: &str,
        change: impl FnOnce(&mut HashMap<String, Bytes>) -> Option<T>,
    ) -> Result<T, CacheError> {
        let mut outcome = None;
        self.entries
            .entry(key.to_string())
            .and_compute_with(|current| {
                let current = current.map(|e| e.into_value()).filter(|e| is_live(e));
                let (mut hash, expires_at) = match current.as_deref() {
                    None => (HashMap::new(), None),
                    Some(Entry {
                        value: Value::Hash(hash),
                        expires_at,
                    }) => (hash.clone(), *expires_at),
                    Some(_) => return std::future::ready(Op::Nop),
                };
                let op = match change(&mut hash) {
                    Some(result) => {
                        outcome = Some(result);
                        Op::Put(Arc::new(Entry {
                            value: Value::Hash(hash),
                            expires_at,
                        }))
                    }
                    None => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
        outcome.ok_or_else(|| CacheError::WrongType(key.to_string()))
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        MemoryCache::new(100_000)
    }
}

fn is_live(entry: &Entry) -> bool {
    entry.expires_at.is_none_or(|at| at > Instant::now())
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        match self.live(key).await.map(|e| e.value.clone()) {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b)),
            Some(Value::Counter(n)) => Ok(Some(Bytes::from(n.to_string()))),
            Some(Value::Hash(_)) => Err(CacheError::WrongType(key.to_string())),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        let entry = Entry {
            value: Value::Bytes(value),
            expires_at: ttl.map(|t| Instant::now() + t),
        };
        self.entries.insert(key.to_string(), Arc::new(entry)).await;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let result = self
            .entries
            .entry(key.to_string())
            .and_compute_with(|current| {
                let op = match current {
                    Some(existing) if is_live(existing.value()) => Op::Nop,
                    _ => Op::Put(Arc::new(Entry {
                        value: Value::Bytes(value),
                        expires_at: Some(Instant::now() + ttl),
                    })),
                };
                std::future::ready(op)
            })
            .await;
        Ok(matches!(
            result,
            moka::ops::compute::CompResult::Inserted(_)
                | moka::ops::compute::CompResult::ReplacedWith(_)
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(key).await;
        Ok(())
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>, CacheError> {
        let entry = self.live(key).await;
        match entry.as_deref().map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(h.get(field).cloned()),
            Some(_) => Err(CacheError::WrongType(key.to_string())),
        }
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<(), CacheError> {
        self.update_hash(key, |hash| {
            hash.insert(field.to_string(), value);
            Some(())
        })
        .await
    }

    async fn hget_many(
        &self,
        key: &str,
        fields: &[&str],
    ) -> Result<Vec<Option<Bytes>>, CacheError> {
        let entry = self.live(key).await;
        match entry.as_deref().map(|e| &e.value) {
            None => Ok(vec![None; fields.len()]),
            Some(Value::Hash(h)) => Ok(fields.iter().map(|f| h.get(*f).cloned()).collect()),
            Some(_) => Err(CacheError::WrongType(key.to_string())),
        }
    }

    async fn hset_many(&self, key: &str, entries: &[(String, Bytes)]) -> Result<(), CacheError> {
        self.update_hash(key, |hash| {
            for (field, value) in entries {
                hash.insert(field.clone(), value.clone());
            }
            Some(())
        })
        .await
    }

    async fn hset_if_absent(
        &self,
        key: &str,
        field: &str,
        value: Bytes,
    ) -> Result<bool, CacheError> {
        self.update_hash(key, |hash| {
            if hash.contains_key(field) {
                return Some(false);
            }
            hash.insert(field.to_string(), value);
            Some(true)
        })
        .await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>, CacheError> {
        let entry = self.live(key).await;
        match entry.as_deref().map(|e| &e.value) {
            None => Ok(Vec::new()),
            Some(Value::Hash(h)) => Ok(h.iter().map(|(f, v)| (f.clone(), v.clone())).collect()),
            Some(_) => Err(CacheError::WrongType(key.to_string())),
        }
    }

    async fn hincr_many(&self, key: &str, increments: &[(String, i64)]) -> Result<(), CacheError> {
        self.update_hash(key, |hash| {
            let mut updated = Vec::with_capacity(increments.len());
            for (field, by) in increments {
                let current = match hash.get(field) {
                    None => 0,
                    Some(b) => std::str::from_utf8(b).ok()?.parse::<i64>().ok()?,
                };
                updated.push((field.clone(), current.checked_add(*by)?));
            }
            for (field, n) in updated {
                hash.insert(field, Bytes::from(n.to_string()));
            }
            Some(())
        })
        .await
    }

    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        if self.live(to).await.is_some() {
            return Ok(false);
        }
        self.rename(from, to).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        // `remove` takes the entry atomically: writes after it start a new `from`.
        match self.entries.remove(from).await.filter(|e| is_live(e)) {
            None => Ok(false),
            Some(entry) => {
                self.entries.insert(to.to_string(), entry).await;
                Ok(true)
            }
        }
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, CacheError> {
        let mut outcome = Err(CacheError::WrongType(key.to_string()));
        self.entries
            .entry(key.to_string())
            .and_compute_with(|current| {
                let current = current.map(|e| e.into_value()).filter(|e| is_live(e));
                let (base, expires_at) = match current.as_deref() {
                    None => (Some(0), None),
                    Some(Entry {
                        value: Value::Counter(n),
                        expires_at,
                    }) => (Some(*n), *expires_at),
                    Some(Entry {
                        value: Value::Bytes(b),
                        expires_at,
                    }) => (
                        std::str::from_utf8(b)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok()),
                        *expires_at,
                    ),
                    Some(Entry {
                        value: Value::Hash(_),
                        ..
                    }) => (None, None),
                };
                let op = match base.and_then(|n| n.checked_add(by)) {
                    Some(n) => {
                        outcome = Ok(n);
                        Op::Put(Arc::new(Entry {
                            value: Value::Counter(n),
                            expires_at,
                        }))
                    }
                    None => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
        outcome
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
