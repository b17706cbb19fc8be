//! In-process caches on the path of `/i/…`, shared by everything in the process: image rows
//! for a few seconds, rendition bytes bounded by size (which also makes concurrent requests
//! for one rendition share a single making of it), and which renditions were queued.
//! Renditions never change (their key holds the image version), so only rows can go stale: a
//! replace or delete shows at once in this process and within [`ROW_TTL`] in the others.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use super::rows::{self, Image};
use crate::platform::storage::ObjectKey;

pub const ROW_TTL: Duration = Duration::from_secs(10);
/// Memory for rendition bytes: a few thousand thumbnails.
pub const RENDITION_BYTES: u64 = 64 * 1024 * 1024;

static ROWS: LazyLock<Cache<Uuid, Image>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(ROW_TTL)
        .build()
});

/// How long a rendition queued for the background is not queued again.
pub const QUEUED_TTL: Duration = Duration::from_secs(600);

static QUEUED: LazyLock<Cache<ObjectKey, ()>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(QUEUED_TTL)
        .build()
});

static RENDITIONS: LazyLock<Cache<ObjectKey, Bytes>> = LazyLock::new(|| {
    Cache::builder()
        .weigher(|_, bytes: &Bytes| u32::try_from(bytes.len()).unwrap_or(u32::MAX))
        .max_capacity(RENDITION_BYTES)
        .build()
});

/// The image with `id`, from the cache or the database (a missing one is not remembered, so
/// a new image is served at once everywhere).
pub async fn image(db: &DatabaseConnection, id: Uuid) -> Result<Option<Image>, DbErr> {
    if let Some(image) = ROWS.get(&id).await {
        return Ok(Some(image));
    }
    let found = rows::find(db, id).await?;
    if let Some(image) = &found {
        ROWS.insert(id, image.clone()).await;
    }
    Ok(found)
}

/// Stops serving the cached row of an image that was replaced or deleted here.
pub async fn forget(id: Uuid) {
    ROWS.invalidate(&id).await;
}

/// The rendition at `key` from memory, else from `fetch`, whose result is kept. Concurrent
/// calls for one key run `fetch` once and share its result.
pub async fn rendition_or<E: Send + Sync + 'static>(
    key: ObjectKey,
    fetch: impl Future<Output = Result<Bytes, E>>,
) -> Result<Bytes, Arc<E>> {
    RENDITIONS.try_get_with(key, fetch).await
}

pub async fn has_rendition(key: &ObjectKey) -> bool {
    RENDITIONS.contains_key(key)
}

/// Whether this is the first call for `key` in [`QUEUED_TTL`]: a rendition queued for the
/// background is queued once, however many requests ask for it meanwhile.
pub async fn first_queueing(key: ObjectKey) -> bool {
    QUEUED.entry(key).or_insert(()).await.is_fresh()
}

pub async fn forget_queueing(key: &ObjectKey) {
    QUEUED.invalidate(key).await;
}
