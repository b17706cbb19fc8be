//! Images registered before placeholders and focus points existed get them: the scheduler
//! decodes each such original once, small, and records what it found.

use uuid::Uuid;

use super::attention;
use super::codec;
use super::keys;
use super::placeholder::Placeholder;
use super::rows;
use crate::platform::Platform;
use crate::platform::cpu;

/// Images read from the database at a time.
const BATCH: u64 = 20;
/// Images one run fills at most, so that a run ends well within its lease; the next run goes on.
const PER_RUN: usize = 500;

/// Fills placeholders and focus points of images lacking them; returns how many it filled.
/// Idempotent, and safe beside registrations and replacements: a row is filled only at the
/// version that was decoded.
pub async fn backfill(platform: &Platform) -> anyhow::Result<usize> {
    let mut after: Option<Uuid> = None;
    let mut filled = 0;
    let mut seen = 0;
    while seen < PER_RUN {
        let batch = rows::lacking_extras(&platform.db, after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        seen += batch.len();
        for image in batch {
            let original = keys::original(image.id, &image.version);
            let bytes = match platform.store.get(&original).await {
                Ok(bytes) => bytes,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let format = image.format;
            let found = cpu::run(move || {
                let decoded = codec::decode(&bytes, format, Some((1, 1)))?;
                Ok::<_, codec::CodecError>((
                    Placeholder::of(&decoded.bitmap),
                    attention::focus(&decoded.bitmap),
                ))
            })
            .await?;
            match found {
                Ok((placeholder, focus)) => {
                    rows::fill_extras(&platform.db, image.id, &image.version, &placeholder, focus)
                        .await?;
                    filled += 1;
                }
                Err(error) => {
                    tracing::warn!(image_id = %image.id, %error, "cannot decode the original to find its placeholder");
                }
            }
        }
    }
    if filled > 0 {
        tracing::info!(
            filled,
            "placeholders and focus points found for older images"
        );
    }
    Ok(filled)
}

/// The scheduler's entry point.
pub async fn run(platform: Platform) -> anyhow::Result<()> {
    backfill(&platform).await.map(drop)
}
