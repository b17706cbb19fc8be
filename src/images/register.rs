//! Registering an image (new, or new bytes for an existing one): checked in full before it is
//! kept, stored under its content version, recorded, and its variants queued.

use bytes::Bytes;
use chrono::Utc;
use uuid::Uuid;

use super::attention;
use super::codec::{self, SourceFormat};
use super::error::ImageError;
use super::hot;
use super::keys::{self, Sha256Hex};
use super::objects::PurgeObjects;
use super::placeholder::Placeholder;
use super::rows::{self, Image, Written};
use super::transform::Focus;
use super::variants::GenerateVariants;
use crate::platform::Platform;
use crate::platform::cpu;
use crate::platform::storage::ObjectKey;
use crate::platform::storage::Uncommitted;

/// Where the bytes of an image come from.
#[derive(Debug, Clone)]
pub enum Source {
    Bytes(Bytes),
    /// An object already in the store (a direct upload, a file unpacked by another module); it
    /// is copied, and stays its writer's to delete.
    Object(ObjectKey),
}

/// Registers `owner`'s image: the public entry point for other modules. Registering bytes the
/// owner already registered returns that image again, so a retried call is harmless.
pub async fn register(
    platform: &Platform,
    owner: &str,
    source: Source,
) -> Result<Image, ImageError> {
    Ok(create(platform, owner, source).await?.0)
}

/// As [`register`], and whether the image is new.
pub(super) async fn create(
    platform: &Platform,
    owner: &str,
    source: Source,
) -> Result<(Image, bool), ImageError> {
    let bytes = fetch(platform, source).await?;
    let sha256 = hash(&bytes).await?;
    // Known bytes need no decoding: a retried bulk ingest costs a hash per file.
    if let Some(existing) = rows::find_by_content(&platform.db, owner, &sha256).await? {
        return Ok((existing, false));
    }
    let checked = inspect(platform, bytes.clone(), sha256).await?;
    let image = checked.into_image(Uuid::now_v7(), owner, Utc::now());
    let original = Uncommitted::put(
        &platform.store,
        keys::original(image.id, &image.version),
        bytes,
    )
    .await?;
    match rows::insert(&platform.db, &image).await? {
        Written::Done => original.commit(),
        // Registered by a concurrent call: that one is the image (dropping the guard removes
        // this copy).
        Written::DuplicateContent | Written::Stale => {
            drop(original);
            let existing = rows::find_by_content(&platform.db, owner, &image.sha256)
                .await?
                .ok_or(ImageError::Changed)?;
            return Ok((existing, false));
        }
    }
    queue_variants(platform, &image).await;
    Ok((image, true))
}

/// Gives `image` new bytes: a new version, so a new URL; the old version's objects go, and so
/// does its focus point, which was set for the old picture.
pub(super) async fn replace(
    platform: &Platform,
    image: &Image,
    bytes: Bytes,
) -> Result<Image, ImageError> {
    let sha256 = hash(&bytes).await?;
    if sha256 == image.sha256 {
        return Ok(image.clone());
    }
    let checked = inspect(platform, bytes.clone(), sha256).await?;
    let replaced = Image {
        created_at: image.created_at,
        ..checked.into_image(image.id, &image.owner, Utc::now())
    };
    let original = Uncommitted::put(
        &platform.store,
        keys::original(image.id, &replaced.version),
        bytes,
    )
    .await?;
    match rows::replace(&platform.db, &image.version, &replaced).await? {
        Written::Done => original.commit(),
        Written::DuplicateContent => {
            let other = rows::find_by_content(&platform.db, &image.owner, &replaced.sha256)
                .await?
                .map_or_else(|| "another one".to_string(), |other| other.id.to_string());
            return Err(ImageError::Duplicate(other));
        }
        Written::Stale => return Err(ImageError::Changed),
    }
    hot::forget(image.id).await;
    PurgeObjects {
        image_id: image.id,
        version: Some(image.version.to_string()),
    }
    .now_or_later(platform)
    .await;
    queue_variants(platform, &replaced).await;
    Ok(replaced)
}

/// Deletes the image, its rows first, so it stops being served before its objects go.
pub(super) async fn delete(platform: &Platform, image: &Image) -> Result<(), ImageError> {
    if rows::delete(&platform.db, image.id).await? {
        hot::forget(image.id).await;
        PurgeObjects {
            image_id: image.id,
            version: None,
        }
        .now_or_later(platform)
        .await;
    }
    Ok(())
}

/// The variants are a speed-up, not a condition: without the queue the image is still served,
/// each rendition made on its first request.
async fn queue_variants(platform: &Platform, image: &Image) {
    let job = GenerateVariants {
        image_id: image.id,
        version: image.version.to_string(),
    };
    if let Err(error) = platform.jobs.enqueue(&job).await {
        tracing::warn!(image_id = %image.id, %error, "cannot queue the variants; they will be made on demand");
    }
}

async fn fetch(platform: &Platform, source: Source) -> Result<Bytes, ImageError> {
    let limit = platform.settings.images.max_bytes;
    let bytes = match source {
        Source::Bytes(bytes) => bytes,
        Source::Object(key) => {
            let meta = platform
                .store
                .head(&key)
                .await?
                .ok_or_else(|| ImageError::MissingObject(key.clone()))?;
            if meta.size > limit {
                return Err(ImageError::TooLarge { limit });
            }
            platform.store.get(&key).await.map_err(|e| match e {
                object_store::Error::NotFound { .. } => ImageError::MissingObject(key),
                other => other.into(),
            })?
        }
    };
    if bytes.len() as u64 > limit {
        return Err(ImageError::TooLarge { limit });
    }
    Ok(bytes)
}

async fn hash(bytes: &Bytes) -> Result<Sha256Hex, ImageError> {
    let bytes = bytes.clone();
    Ok(cpu::run(move || Sha256Hex::of(&bytes)).await?)
}

/// What a full check of the bytes found.
struct Checked {
    format: SourceFormat,
    size: (u32, u32),
    has_alpha: bool,
    placeholder: Placeholder,
    attention: Focus,
    sha256: Sha256Hex,
    bytes: u64,
}

impl Checked {
    fn into_image(self, id: Uuid, owner: &str, now: chrono::DateTime<Utc>) -> Image {
        Image {
            id,
            owner: owner.to_string(),
            version: self.sha256.version(),
            sha256: self.sha256,
            format: self.format,
            width: self.size.0,
            height: self.size.1,
            has_alpha: self.has_alpha,
            bytes: self.bytes,
            placeholder: Some(self.placeholder),
            focus: None,
            attention: Some(self.attention),
            created_at: now,
            updated_at: now,
        }
    }
}

/// Probes, then decodes everything, so a truncated or corrupt file is refused now rather than
/// failing on its first view. A JPEG decodes at 1/8 scale, which still reads all of it.
async fn inspect(
    platform: &Platform,
    bytes: Bytes,
    sha256: Sha256Hex,
) -> Result<Checked, ImageError> {
    let settings = &platform.settings.images;
    let limits = settings.limits();
    let checked = cpu::run(move || {
        let probe = codec::probe(&bytes, &limits)?;
        let decoded = codec::decode(&bytes, probe.format, Some((1, 1)))?;
        Ok::<_, ImageError>(Checked {
            format: probe.format,
            size: decoded.full_size,
            has_alpha: decoded.bitmap.has_alpha(),
            placeholder: Placeholder::of(&decoded.bitmap),
            attention: attention::focus(&decoded.bitmap),
            sha256,
            bytes: bytes.len() as u64,
        })
    })
    .await??;
    Ok(checked)
}
