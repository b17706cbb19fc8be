//! The cache in process, for a single container. Values and counters live in a bounded moka
//! cache with per-entry expiry; hashes (what counts and tables are kept in, which must not be
//! evicted) live in one map behind one lock, so every hash operation and every rename is one
//! step, as it is on Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};

use super::{Cache, CacheError};

#[derive(Debug, Clone)]
enum Value {
    Bytes(Bytes),
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

type Hash = HashMap<String, Bytes>;

/// In-process cache; values bounded by entry count, hashes kept until deleted.
#[derive(Clone, Debug)]
pub struct MemoryCache {
    entries: moka::future::Cache<String, Arc<Entry>>,
    hashes: Arc<Mutex<HashMap<String, Hash>>>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        MemoryCache {
            entries: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryExpiry)
                .build(),
            hashes: Arc::default(),
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

    fn hashes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Hash>> {
        self.hashes.lock().expect("hash lock")
    }

    fn is_hash(&self, key: &str) -> bool {
        self.hashes().contains_key(key)
    }

    /// Refuses a hash operation on a key that holds a value.
    async fn not_a_value(&self, key: &str) -> Result<(), CacheError> {
        match self.live(key).await {
            Some(_) => Err(CacheError::WrongType(key.to_string())),
            None => Ok(()),
        }
    }

    /// Applies `change` to the hash at `key` (created empty when absent; dropped when left
    /// empty, as Redis does).
    async fn with_hash<T>(
        &self,
        key: &str,
        change: impl FnOnce(&mut Hash) -> T,
    ) -> Result<T, CacheError> {
        self.not_a_value(key).await?;
        let mut hashes = self.hashes();
        let hash = hashes.entry(key.to_string()).or_default();
        let result = change(hash);
        if hash.is_empty() {
            hashes.remove(key);
        }
        Ok(result)
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

fn parse_counter(value: &Bytes) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        if self.is_hash(key) {
            return Err(CacheError::WrongType(key.to_string()));
        }
        Ok(self.live(key).await.map(|e| match &e.value {
            Value::Bytes(b) => b.clone(),
            Value::Counter(n) => Bytes::from(n.to_string()),
        }))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        // Like Redis's SET, whatever the key held before.
        self.hashes().remove(key);
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
        if self.is_hash(key) {
            return Ok(false);
        }
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
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.hashes().remove(key);
        self.entries.invalidate(key).await;
        Ok(())
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(self.hget_many(key, &[field]).await?.pop().flatten())
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<(), CacheError> {
        self.with_hash(key, |hash| {
            hash.insert(field.to_string(), value);
        })
        .await
    }

    async fn hget_many(
        &self,
        key: &str,
        fields: &[&str],
    ) -> Result<Vec<Option<Bytes>>, CacheError> {
        self.not_a_value(key).await?;
        let hashes = self.hashes();
        let hash = hashes.get(key);
        Ok(fields
            .iter()
            .map(|f| hash.and_then(|h| h.get(*f).cloned()))
            .collect())
    }

    async fn hset_many(&self, key: &str, entries: &[(String, Bytes)]) -> Result<(), CacheError> {
        self.with_hash(key, |hash| {
            for (field, value) in entries {
                hash.insert(field.clone(), value.clone());
            }
        })
        .await
    }

    async fn hset_if_absent(
        &self,
        key: &str,
        field: &str,
        value: Bytes,
    ) -> Result<bool, CacheError> {
        self.with_hash(key, |hash| {
            if hash.contains_key(field) {
                return false;
            }
            hash.insert(field.to_string(), value);
            true
        })
        .await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>, CacheError> {
        self.not_a_value(key).await?;
        Ok(self
            .hashes()
            .get(key)
            .map(|h| h.iter().map(|(f, v)| (f.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn hincr_many(&self, key: &str, increments: &[(String, i64)]) -> Result<(), CacheError> {
        let applied = self
            .with_hash(key, |hash| {
                let mut updated = Vec::with_capacity(increments.len());
                for (field, by) in increments {
                    let current = match hash.get(field) {
                        None => 0,
                        Some(value) => parse_counter(value)?,
                    };
                    updated.push((field.clone(), current.checked_add(*by)?));
                }
                for (field, n) in updated {
                    hash.insert(field, Bytes::from(n.to_string()));
                }
                Some(())
            })
            .await?;
        applied.ok_or_else(|| CacheError::WrongType(key.to_string()))
    }

    async fn hincr_many_once(
        &self,
        key: &str,
        batch: &str,
        increments: &[(String, i64)],
        remember: Duration,
    ) -> Result<bool, CacheError> {
        let mark = format!("once:{batch}");
        if !self
            .set_if_absent(&mark, Bytes::from_static(b"1"), remember)
            .await?
        {
            return Ok(false);
        }
        self.hincr_many(key, increments).await?;
        Ok(true)
    }

    async fn delete_hash_if(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, CacheError> {
        let mut hashes = self.hashes();
        let matches = hashes
            .get(key)
            .and_then(|h| h.get(field))
            .is_some_and(|v| v.as_ref() == value.as_bytes());
        if matches {
            hashes.remove(key);
        }
        Ok(matches)
    }

    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        if self.live(to).await.is_some() {
            return Ok(false);
        }
        let mut hashes = self.hashes();
        if hashes.contains_key(to) {
            return Ok(false);
        }
        match hashes.remove(from) {
            Some(hash) => {
                hashes.insert(to.to_string(), hash);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        let moved = {
            let mut hashes = self.hashes();
            match hashes.remove(from) {
                Some(hash) => {
                    hashes.insert(to.to_string(), hash);
                    true
                }
                None => false,
            }
        };
        if moved {
            self.entries.invalidate(to).await;
            return Ok(true);
        }
        match self.entries.remove(from).await.filter(|e| is_live(e)) {
            Some(entry) => {
                self.hashes().remove(to);
                self.entries.insert(to.to_string(), entry).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, CacheError> {
        if self.is_hash(key) {
            return Err(CacheError::WrongType(key.to_string()));
        }
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
                    }) => (parse_counter(b), *expires_at),
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
