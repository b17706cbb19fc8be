//! The bytes of a rendition: from memory, as stored, or made now from the smallest ladder rung
//! large enough (else the original) and kept for the next request.

use bytes::Bytes;

use super::codec::SourceFormat;
use super::entity::variant::VariantKind;
use super::error::ImageError;
use super::hot;
use super::keys;
use super::pool;
use super::rows::{self, Image};
use super::transform::{OutputFormat, Variant};
use super::variants::{self, keep, planned};
use crate::platform::Platform;
use crate::platform::storage::ObjectKey;

#[tracing::instrument(skip_all, fields(image_id = %image.id, variant = %variant.name()))]
pub async fn rendition(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
) -> Result<Bytes, ImageError> {
    let key = keys::variant(image.id, &image.version, variant);
    if let Some(bytes) = hot::rendition(&key).await {
        return Ok(bytes);
    }
    match platform.store.get(&key).await {
        Ok(bytes) => {
            hot::keep_rendition(key, bytes.clone()).await;
            return Ok(bytes);
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let (key, format, size) = source(platform, image, variant).await?;
    let bytes = platform.store.get(&key).await.map_err(|e| match e {
        // Replaced or deleted while this request ran.
        object_store::Error::NotFound { .. } => ImageError::Changed,
        other => other.into(),
    })?;
    let target = *variant;
    let (_, encoded) = pool::run(move || variants::render(&bytes, format, size, &[target]))
        .await??
        .pop()
        .expect("one target, one rendition");
    let encoded = Bytes::from(encoded);
    let kind = planned(image, &platform.settings.images)
        .into_iter()
        .find(|(planned, _)| planned == variant)
        .map_or(VariantKind::Derived, |(_, kind)| kind);
    // Kept for the next request; failing to keep it is no reason to fail this one.
    if let Err(error) = keep(platform, image, variant, kind, encoded.clone()).await {
        tracing::warn!(%error, "cannot keep a rendition");
    }
    hot::keep_rendition(key, encoded.clone()).await;
    Ok(encoded)
}

/// What to make `variant` from: the smallest stored rung with enough pixels, else the original.
async fn source(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
) -> Result<(ObjectKey, SourceFormat, (u32, u32)), ImageError> {
    let needed = variants::needed(variant, image.size());
    let stored = rows::variants(&platform.db, image.id, &image.version).await?;
    let rung = planned(image, &platform.settings.images)
        .into_iter()
        .filter(|(rung, kind)| {
            *kind == VariantKind::Ladder
                && rung.width() >= needed.0
                && rung.height() >= needed.1
                && stored.iter().any(|row| row.name == rung.name())
        })
        .map(|(rung, _)| rung)
        .min_by_key(Variant::width);
    Ok(match rung {
        Some(rung) => (
            keys::variant(image.id, &image.version, &rung),
            match rung.format() {
                OutputFormat::Jpeg => SourceFormat::Jpeg,
                OutputFormat::Png => SourceFormat::Png,
                OutputFormat::Webp => SourceFormat::Webp,
            },
            (rung.width(), rung.height()),
        ),
        None => (
            keys::original(image.id, &image.version),
            image.format,
            image.size(),
        ),
    })
}
