//! The bytes of a rendition: from memory, as stored, or made now from the smallest ladder rung
//! large enough (else the original) and kept for the next request. Identical requests that
//! arrive together make it once: the others wait for the first one's result.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::budget;
use super::codec::SourceFormat;
use super::entity::variant::VariantKind;
use super::error::ImageError;
use super::hot;
use super::keys;
use super::rows::{self, Image};
use super::transform::{OutputFormat, Variant};
use super::variants::{self, keep, planned};
use crate::platform::Platform;
use crate::platform::cpu;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::storage::ObjectKey;

/// Who waits for a rendition: a request is held to the rendering budget (see `budget.rs`), a
/// background job to its queue's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    Request,
    Job,
}

/// The bytes of `variant`, or for a request past the budget those of the nearest stored
/// rendition that satisfies it: returned with the variant they are.
#[tracing::instrument(skip_all, fields(image_id = %image.id, variant = %variant.name()))]
pub async fn rendition(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
    asker: Asker,
) -> Result<(Bytes, Variant), ImageError> {
    match stored_or_made(platform, image, variant, asker).await {
        Err(ImageError::BudgetSpent) => {
            let Some(nearest) = budget::nearest_stored(platform, image, variant).await? else {
                return Err(ImageError::BudgetSpent);
            };
            let bytes = stored_or_made(platform, image, &nearest, asker).await?;
            Ok((bytes, nearest))
        }
        result => Ok((result?, *variant)),
    }
}

async fn stored_or_made(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
    asker: Asker,
) -> Result<Bytes, ImageError> {
    let key = keys::variant(image.id, &image.version, variant);
    hot::rendition_or(key.clone(), async {
        match platform.store.get(&key).await {
            Ok(bytes) => Ok(bytes),
            Err(object_store::Error::NotFound { .. }) => {
                make(platform, image, variant, asker).await
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
    .map_err(unshare)
}

/// The error of a rendition another request was making: the same for the request that made
/// it, a copy of its message for those that waited.
fn unshare(error: Arc<ImageError>) -> ImageError {
    Arc::try_unwrap(error).unwrap_or_else(|shared| match *shared {
        ImageError::Changed => ImageError::Changed,
        ImageError::BudgetSpent => ImageError::BudgetSpent,
        ImageError::Busy => ImageError::Busy,
        ref other => ImageError::Unexpected(anyhow::anyhow!("{other}")),
    })
}

/// Whether the rendition can be served without making it.
pub async fn is_ready(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
) -> Result<bool, ImageError> {
    let key = keys::variant(image.id, &image.version, variant);
    Ok(hot::has_rendition(&key).await || platform.store.head(&key).await?.is_some())
}

/// Counts a rendition made, in `sous_image_renditions_total` and its duration histogram.
fn rendition_made(platform: &Platform, format: &str, elapsed: std::time::Duration) {
    renditions(platform).with_label_values(&[format]).inc();
    platform
        .metrics
        .histogram(
            "image_rendition_duration_seconds",
            "Time to make an image rendition",
            &["format"],
            &[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )
        .with_label_values(&[format])
        .observe(elapsed.as_secs_f64());
}

fn renditions(platform: &Platform) -> prometheus::IntCounterVec {
    platform.metrics.counter(
        "image_renditions_total",
        "Image renditions made (decoded, resized and encoded), by format",
        &["format"],
    )
}

/// Renditions in `format` this process has made.
pub fn renditions_made(platform: &Platform, format: &str) -> u64 {
    renditions(platform).with_label_values(&[format]).get()
}

/// Makes a rendition from the best source there is, and keeps it; for a request, within the
/// budget.
async fn make(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
    asker: Asker,
) -> Result<Bytes, ImageError> {
    let kind = planned(image, &platform.settings.images)
        .into_iter()
        .find(|(planned, _)| planned == variant)
        .map_or(VariantKind::Derived, |(_, kind)| kind);
    let slots = budget::render_slots(platform);
    let _slot = match asker {
        Asker::Request => {
            if kind == VariantKind::Derived && budget::spent(platform, image).await? {
                return Err(ImageError::BudgetSpent);
            }
            Some(slots.acquire().await?)
        }
        Asker::Job => None,
    };
    let (key, format, size) = source(platform, image, variant).await?;
    let bytes = platform.store.get(&key).await.map_err(|e| match e {
        // Replaced or deleted while this request ran.
        object_store::Error::NotFound { .. } => ImageError::Changed,
        other => other.into(),
    })?;
    let target = *variant;
    let started = Instant::now();
    let (_, encoded) = cpu::run(move || variants::render(&bytes, format, size, &[target]))
        .await??
        .pop()
        .expect("one target, one rendition");
    rendition_made(platform, variant.format().as_str(), started.elapsed());
    let encoded = Bytes::from(encoded);
    // Kept for the next request; failing to keep it is no reason to fail this one.
    if let Err(error) = keep(platform, image, variant, kind, encoded.clone()).await {
        tracing::warn!(%error, "cannot keep a rendition");
    }
    Ok(encoded)
}

/// Makes one rendition in the background: an AVIF that a request could not wait for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MakeRendition {
    pub image_id: Uuid,
    pub version: String,
    pub variant: Variant,
}

impl MakeRendition {
    /// Queues the rendition once per process for a while: the requests that keep asking for it
    /// until it exists queue nothing more.
    pub async fn queue(platform: &Platform, image: &Image, variant: Variant) {
        let key = keys::variant(image.id, &image.version, &variant);
        if !hot::first_queueing(key.clone()).await {
            return;
        }
        let job = MakeRendition {
            image_id: image.id,
            version: image.version.to_string(),
            variant,
        };
        if let Err(error) = platform.jobs.enqueue(&job).await {
            // The next request tries again.
            hot::forget_queueing(&key).await;
            tracing::warn!(image_id = %image.id, %error, "cannot queue a rendition");
        }
    }
}

impl Job for MakeRendition {
    const KIND: &'static str = "images.rendition";
    const QUEUE: Queue = super::QUEUE;

    #[tracing::instrument(skip_all, fields(image_id = %self.image_id, variant = %self.variant.name()))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = context.platform;
        let Some(image) = variants::still_current(&platform, self.image_id, &self.version).await?
        else {
            return Ok(());
        };
        if is_ready(&platform, &image, &self.variant)
            .await
            .map_err(|e| JobError::retry(anyhow::Error::new(e)))?
        {
            return Ok(());
        }
        match rendition(&platform, &image, &self.variant, Asker::Job).await {
            Ok(_) | Err(ImageError::Changed) => Ok(()),
            Err(e) if e.is_the_bytes_fault() => Err(JobError::permanent(anyhow::Error::new(e))),
            Err(e) => Err(JobError::retry(anyhow::Error::new(e))),
        }
    }
}

/// What to make `variant` from: the smallest stored rung with enough pixels, else the original.
/// A WebP of a GIF or WebP original is made from the original, which may be an animation.
async fn source(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
) -> Result<(ObjectKey, SourceFormat, (u32, u32)), ImageError> {
    let original = (
        keys::original(image.id, &image.version),
        image.format,
        image.size(),
    );
    if variant.format() == OutputFormat::Webp
        && matches!(image.format, SourceFormat::Gif | SourceFormat::Webp)
    {
        return Ok(original);
    }
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
        .min_by_key(|rung| rung.width());
    Ok(match rung {
        Some(rung) => (
            keys::variant(image.id, &image.version, &rung),
            SourceFormat::of(rung.format()),
            (rung.width(), rung.height()),
        ),
        None => original,
    })
}
