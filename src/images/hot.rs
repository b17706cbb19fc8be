//! In-process caches on the path of `/i/…`, shared by everything in the process: image rows
//! for a few seconds, and rendition bytes bounded by size. Renditions never change (their key
//! holds the image version), so only rows can go stale: a replace or delete shows at once in
//! this process and within [`ROW_TTL`] in the others.

use std::sync::LazyLock;
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

pub async fn rendition(key: &ObjectKey) -> Option<Bytes> {
    RENDITIONS.get(key).await
}

pub async fn keep_rendition(key: ObjectKey, bytes: Bytes) {
    RENDITIONS.insert(key, bytes).await;
}
