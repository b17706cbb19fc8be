//! Renditions made ahead of requests, and how any rendition is made and kept.
//!
//! When an image is registered the `images.variants` job makes its presets (the renditions
//! most pages ask for, served as stored) and its ladder (the whole picture at each configured
//! width, JPEG q90 or PNG with transparency): any other size is then resized from the smallest
//! rung large enough instead of from the original, so a thumbnail of a 60 MP upload decodes a
//! few hundred kilopixels. The job is idempotent: it makes only what is not stored yet, and does
//! nothing for a version that was replaced or deleted meanwhile.

use std::collections::HashSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{self, Bitmap, CodecError, SourceFormat};
use super::entity::variant::VariantKind;
use super::error::ImageError;
use super::keys::{self, Version};
use super::rows::{self, Image, Written};
use super::transform::{DEFAULT_QUALITY, OutputFormat, Quality, Shape, Variant, fit_inside};
use crate::config::ImageSettings;
use crate::platform::Platform;
use crate::platform::cpu;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::storage::Uncommitted;

/// Rungs are sources for further resizing: high quality, so a second encoding costs nothing seen.
const LADDER_QUALITY: Quality = Quality::of(90);

/// Makes an image version's presets and ladder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateVariants {
    pub image_id: Uuid,
    pub version: String,
}

impl Job for GenerateVariants {
    const KIND: &'static str = "images.variants";
    const QUEUE: Queue = super::QUEUE;

    #[tracing::instrument(skip_all, fields(image_id = %self.image_id, version = %self.version))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = context.platform;
        let Some(image) = still_current(&platform, self.image_id, &self.version).await? else {
            return Ok(());
        };
        let stored: HashSet<String> = rows::variants(&platform.db, image.id, &image.version)
            .await
            .map_err(JobError::retry)?
            .into_iter()
            .map(|row| row.name)
            .collect();
        let missing: Vec<(Variant, VariantKind)> = planned(&image, &platform.settings.images)
            .into_iter()
            .filter(|(variant, _)| !stored.contains(&variant.name()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let original = match platform
            .store
            .get(&keys::original(image.id, &image.version))
            .await
        {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => {
                tracing::warn!("the original is gone; the image is being deleted");
                return Ok(());
            }
            Err(e) => return Err(JobError::retry(e)),
        };
        let targets: Vec<Variant> = missing.iter().map(|(variant, _)| *variant).collect();
        let (format, size) = (image.format, image.size());
        let rendered = cpu::run(move || render(&original, format, size, &targets))
            .await
            .map_err(JobError::retry)?
            .map_err(JobError::permanent)?;
        let made = rendered.len();
        for ((variant, bytes), (_, kind)) in rendered.into_iter().zip(missing) {
            keep(&platform, &image, &variant, kind, bytes.into())
                .await
                .map_err(|e| JobError::retry(anyhow::Error::new(e)))?;
        }
        tracing::info!(made, "variants made");
        Ok(())
    }
}

/// The image a job was queued for, unless that version was replaced or deleted since (then
/// there is nothing to make).
pub(super) async fn still_current(
    platform: &Platform,
    image_id: Uuid,
    version: &str,
) -> Result<Option<Image>, JobError> {
    let version = Version::parse(version)
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("bad version {version:?}")))?;
    let image = rows::find(&platform.db, image_id)
        .await
        .map_err(JobError::retry)?
        .filter(|image| image.version == version);
    if image.is_none() {
        tracing::info!("the image was replaced or deleted; nothing to make");
    }
    Ok(image)
}

/// What is made ahead for `image`: the ladder's rungs narrower than the picture, then the
/// presets, each once.
pub fn planned(image: &Image, settings: &ImageSettings) -> Vec<(Variant, VariantKind)> {
    let (width, height) = image.size();
    let rung_format = if image.has_alpha {
        OutputFormat::Png
    } else {
        OutputFormat::Jpeg
    };
    let rungs = settings
        .ladder
        .iter()
        .map(|w| w.get())
        .filter(|&w| w < width)
        .map(|w| {
            // A rung is a source, not a delivery: its height is not bound to MAX_DIMENSION.
            let (w, h) = fit_inside((width, height), (w, u32::MAX));
            (
                Variant::whole(w, h, rung_format, LADDER_QUALITY),
                VariantKind::Ladder,
            )
        });
    let presets = settings.presets.iter().map(|preset| {
        (
            preset.resolve(image.size(), image.crop_focus(), settings.default_long_side),
            VariantKind::Preset,
        )
    });
    let mut seen = HashSet::new();
    rungs
        .chain(presets)
        .filter(|(variant, _)| seen.insert(variant.name()))
        .collect()
}

/// Decodes `bytes` (a `size` picture) once, at the scale the largest target needs, and makes
/// every target, largest first; each whole-picture target is resized from the smallest one
/// already made that is large enough. What comes from the decoded picture is converted to
/// sRGB after resizing (see `codec/color.rs`). Results come in the order of `targets`.
pub fn render(
    bytes: &[u8],
    format: SourceFormat,
    size: (u32, u32),
    targets: &[Variant],
) -> Result<Vec<(Variant, Vec<u8>)>, CodecError> {
    // One whole picture from a JPEG, as most requests are: through the Y'CbCr planes, in half
    // the memory (see `codec/planar.rs`).
    if let [variant] = targets
        && format == SourceFormat::Jpeg
        && variant.shape() == Shape::Whole
    {
        let picture = variant.picture_size(size);
        let quality = variant.quality();
        if let Some(bytes) = codec::from_planes(bytes, picture, variant.format(), quality)? {
            return Ok(vec![(*variant, bytes)]);
        }
    }
    let needed = targets
        .iter()
        .map(|variant| needed(variant, size))
        .fold((1, 1), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    let mut decoded = Some(codec::decode(bytes, format, Some(needed))?);
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(u64::from(targets[i].width()) * u64::from(targets[i].height()))
    });
    let mut made: Vec<Bitmap> = Vec::new();
    let mut encoded: Vec<Option<Vec<u8>>> = vec![None; targets.len()];
    let last = order.last().copied();
    for i in order {
        let variant = &targets[i];
        let source_picture = decoded.as_ref().expect("decoded until the last target");
        let picture = variant.picture_size(size);
        let region = variant.region(size);
        // Any target showing the whole picture can be resized from a larger one already made.
        let smaller_source = made
            .iter()
            .filter(|b| b.width() >= picture.0 && b.height() >= picture.1)
            .min_by_key(|b| b.width());
        let (source, to_srgb) = match smaller_source {
            Some(bitmap) if variant.shape() != Shape::Cover => (bitmap, None),
            _ => (&source_picture.bitmap, source_picture.to_srgb.clone()),
        };
        let mut bitmap = codec::resize(source, region, picture);
        if Some(i) == last {
            // Not needed any more: freed before encoding, which is when memory peaks.
            decoded = None;
        }
        if let Some(to_srgb) = to_srgb {
            to_srgb.apply(&mut bitmap);
        }
        if let Some(animated) = animation(bytes, format, variant, picture)? {
            encoded[i] = Some(animated);
            continue;
        }
        let bytes = if variant.shape() == Shape::Contain {
            let canvas = codec::pad(&bitmap, (variant.width(), variant.height()));
            codec::encode(&canvas, variant.format(), variant.quality())?
        } else {
            codec::encode(&bitmap, variant.format(), variant.quality())?
        };
        encoded[i] = Some(bytes);
        if variant.shape() == Shape::Whole {
            made.push(bitmap);
        }
    }
    Ok(targets
        .iter()
        .zip(encoded)
        .map(|(variant, bytes)| (*variant, bytes.expect("every target is made")))
        .collect())
}

/// A GIF or WebP animation as an animated WebP, when `variant` is a whole-picture WebP and the
/// animation fits the output budget; otherwise (a still, or too many frames) `None`, and its
/// first frame is served.
fn animation(
    bytes: &[u8],
    format: SourceFormat,
    variant: &Variant,
    picture: (u32, u32),
) -> Result<Option<Vec<u8>>, CodecError> {
    if variant.format() != OutputFormat::Webp
        || variant.shape() != Shape::Whole
        || !matches!(format, SourceFormat::Gif | SourceFormat::Webp)
    {
        return Ok(None);
    }
    let quality = variant.quality().map_or(DEFAULT_QUALITY, Quality::get);
    // Uploads were held to the frame limit already; the budget is what bounds the output.
    match codec::animated_webp(bytes, format, picture, quality, u32::MAX) {
        Ok(animated) => Ok(animated),
        Err(CodecError::TooManyFrames { .. } | CodecError::TooMuchMemory(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The pixels of the whole picture a rendition needs, so it is never made from fewer.
pub fn needed(variant: &Variant, (width, height): (u32, u32)) -> (u32, u32) {
    let region = variant.region((width, height));
    let picture = variant.picture_size((width, height));
    let side = |out: u32, share: f64, full: u32| ((f64::from(out) / share).ceil() as u32).min(full);
    (
        side(picture.0, region.width, width),
        side(picture.1, region.height, height),
    )
}

/// Stores a rendition and records it, unless it is a client's and the image already keeps as
/// many of those as allowed (it is then served without being kept). A rendition of a version
/// replaced or deleted meanwhile is removed again.
pub async fn keep(
    platform: &Platform,
    image: &Image,
    variant: &Variant,
    kind: VariantKind,
    bytes: Bytes,
) -> Result<(), ImageError> {
    if kind == VariantKind::Derived {
        let kept = rows::count_derived(&platform.db, image.id, &image.version).await?;
        if kept >= u64::from(platform.settings.images.max_derived_variants) {
            return Ok(());
        }
    }
    let size = bytes.len();
    let stored = Uncommitted::put(
        &platform.store,
        keys::variant(image.id, &image.version, variant),
        bytes,
    )
    .await?;
    match rows::insert_variant(&platform.db, image.id, &image.version, variant, kind, size).await? {
        Written::Done => stored.commit(),
        Written::Stale | Written::DuplicateContent => drop(stored),
    }
    Ok(())
}
