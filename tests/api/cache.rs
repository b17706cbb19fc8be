//! One suite, run against the in-process cache and against Redis.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sous::platform::cache::{Cache, CacheError, MemoryCache, RedisCache};

use crate::helpers::service_url;

async fn caches() -> Vec<Arc<dyn Cache>> {
    let mut caches: Vec<Arc<dyn Cache>> = vec![Arc::new(MemoryCache::new(1000))];
    if let Some(url) = service_url("SOUS_TEST_REDIS_URL") {
        let conn = sous::platform::redis_connection(&url, Duration::from_secs(1))
            .await
            .unwrap();
        let prefix = format!("sous-test-{}", uuid::Uuid::now_v7().simple());
        caches.push(Arc::new(RedisCache::new(
            conn,
            &prefix,
            Duration::from_millis(500),
        )));
    }
    caches
}

#[tokio::test]
async fn get_set_and_expiry() {
    for cache in caches().await {
        assert_eq!(cache.get("k").await.unwrap(), None, "{cache:?}");
        cache
            .set("k", Bytes::from_static(b"v1"), None)
            .await
            .unwrap();
        assert_eq!(
            cache.get("k").await.unwrap(),
            Some(Bytes::from_static(b"v1"))
        );
        cache
            .set(
                "k",
                Bytes::from_static(b"v2"),
                Some(Duration::from_millis(150)),
            )
            .await
            .unwrap();
        assert_eq!(
            cache.get("k").await.unwrap(),
            Some(Bytes::from_static(b"v2"))
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(cache.get("k").await.unwrap(), None, "{cache:?}: expired");
        cache
            .set("gone", Bytes::from_static(b"x"), None)
            .await
            .unwrap();
        cache.delete("gone").await.unwrap();
        assert_eq!(cache.get("gone").await.unwrap(), None);
    }
}

#[tokio::test]
async fn set_if_absent_takes_once_until_expiry() {
    for cache in caches().await {
        assert!(
            cache
                .set_if_absent("lock", Bytes::from_static(b"a"), Duration::from_millis(200))
                .await
                .unwrap()
        );
        assert!(
            !cache
                .set_if_absent("lock", Bytes::from_static(b"b"), Duration::from_millis(200))
                .await
                .unwrap()
        );
        assert_eq!(
            cache.get("lock").await.unwrap(),
            Some(Bytes::from_static(b"a"))
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(
            cache
                .set_if_absent("lock", Bytes::from_static(b"c"), Duration::from_secs(1))
                .await
                .unwrap(),
            "{cache:?}"
        );
    }
}

#[tokio::test]
async fn hashes() {
    for cache in caches().await {
        assert_eq!(cache.hget("h", "a").await.unwrap(), None);
        cache
            .hset("h", "a", Bytes::from_static(b"1"))
            .await
            .unwrap();
        cache
            .hset("h", "b", Bytes::from_static(b"2"))
            .await
            .unwrap();
        cache
            .hset("h", "a", Bytes::from_static(b"3"))
            .await
            .unwrap();
        assert_eq!(
            cache.hget("h", "a").await.unwrap(),
            Some(Bytes::from_static(b"3"))
        );
        assert_eq!(
            cache.hget("h", "b").await.unwrap(),
            Some(Bytes::from_static(b"2"))
        );
        assert_eq!(cache.hget("h", "c").await.unwrap(), None);
        cache
            .set("plain", Bytes::from_static(b"x"), None)
            .await
            .unwrap();
        assert!(
            matches!(
                cache.hget("plain", "a").await,
                Err(CacheError::WrongType(_))
            ),
            "{cache:?}"
        );
    }
}

#[tokio::test]
async fn counters_are_atomic() {
    for cache in caches().await {
        assert_eq!(cache.incr("n", 5).await.unwrap(), 5);
        assert_eq!(cache.incr("n", -2).await.unwrap(), 3);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.incr("n", 1).await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(cache.incr("n", 0).await.unwrap(), 53, "{cache:?}");
        assert_eq!(
            cache.get("n").await.unwrap(),
            Some(Bytes::from_static(b"53"))
        );
        cache
            .hset("hash", "f", Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(cache.incr("hash", 1).await.is_err());
    }
}

#[tokio::test]
async fn a_dead_redis_times_out_quickly() {
    // Nothing listens on this port: calls fail fast instead of hanging the caller.
    let port = crate::helpers::free_port();
    let started = std::time::Instant::now();
    let connected = sous::platform::redis_connection(
        &format!("redis://127.0.0.1:{port}"),
        Duration::from_millis(200),
    )
    .await;
    assert!(connected.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn renames_and_conditional_deletes_of_hashes() {
    for cache in caches().await {
        let one = [("f".to_string(), Bytes::from_static(b"1"))];
        assert!(
            !cache.rename_if_absent("from", "to").await.unwrap(),
            "{cache:?}: nothing to move"
        );
        cache.hset_many("from", &one).await.unwrap();
        assert!(cache.rename_if_absent("from", "to").await.unwrap());
        assert!(cache.hgetall("from").await.unwrap().is_empty());
        cache.hset_many("from", &one).await.unwrap();
        assert!(
            !cache.rename_if_absent("from", "to").await.unwrap(),
            "`to` is taken"
        );
        assert!(cache.rename("from", "to").await.unwrap(), "replaced");

        cache
            .hset("to", "id", Bytes::from_static(b"a"))
            .await
            .unwrap();
        assert!(
            !cache.delete_hash_if("to", "id", "b").await.unwrap(),
            "{cache:?}: another id"
        );
        assert_eq!(cache.hgetall("to").await.unwrap().len(), 2);
        assert!(cache.delete_hash_if("to", "id", "a").await.unwrap());
        assert!(cache.hgetall("to").await.unwrap().is_empty());

        cache
            .set("value", Bytes::from_static(b"v"), None)
            .await
            .unwrap();
        assert!(
            matches!(cache.hgetall("value").await, Err(CacheError::WrongType(_))),
            "{cache:?}"
        );
    }
}
