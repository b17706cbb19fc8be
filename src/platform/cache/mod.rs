//! A small key/value cache: Redis when configured (shared by replicas), in-process otherwise.
//!
//! Every Redis call is bounded by a short timeout and reports [`CacheError::Timeout`]; the caller
//! decides what that means (ads, for instance, serve without ingredient targeting).

mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use self::redis::RedisCache;
pub use memory::MemoryCache;

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
    /// [`Cache::hincr_many`] at most once per `batch` within `remember`: a batch sent again
    /// (because the first answer never came) is not added twice. True when it was added.
    async fn hincr_many_once(
        &self,
        key: &str,
        batch: &str,
        increments: &[(String, i64)],
        remember: Duration,
    ) -> Result<bool, CacheError>;
    /// Deletes the hash at `key` only while its `field` is `value`; true when deleted.
    async fn delete_hash_if(&self, key: &str, field: &str, value: &str)
    -> Result<bool, CacheError>;
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
