//! The cache on Redis, shared by replicas.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{Cache, CacheError};

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

    async fn hincr_many_once(
        &self,
        key: &str,
        batch: &str,
        increments: &[(String, i64)],
        remember: Duration,
    ) -> Result<bool, CacheError> {
        // One script: the batch's mark and its increments happen together or not at all.
        const SCRIPT: &str = r"
            if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
            for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
            return 1";
        let script = redis::Script::new(SCRIPT);
        let mut invocation = script.key(self.key(key));
        invocation
            .key(self.key(&format!("once:{batch}")))
            .arg(remember.as_millis().max(1) as u64);
        for (field, by) in increments {
            invocation.arg(field).arg(*by);
        }
        let added: i64 = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(added == 1)
    }

    async fn delete_hash_if(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, CacheError> {
        const SCRIPT: &str = r"
            if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
                return redis.call('DEL', KEYS[1])
            end
            return 0";
        let script = redis::Script::new(SCRIPT);
        let mut invocation = script.key(self.key(key));
        invocation.arg(field).arg(value);
        let deleted: i64 = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(deleted == 1)
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
