//! The rendering budget: what a URL can cost. Past the renditions a version may keep, a
//! request is served from the nearest stored rendition that satisfies it, or refused; and
//! renders made while a request waits share a fixed number of slots with a short queue, past
//! which requests are turned away at once instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::ImageError;
use super::rows::{self, Image};
use super::transform::{Shape, Variant};
use super::variants::planned;
use crate::platform::Platform;

/// Slots for renders made while a request waits.
#[derive(Debug)]
pub struct RenderSlots {
    permits: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
}

impl RenderSlots {
    pub fn new(slots: usize, queue: usize, wait: Duration) -> Self {
        RenderSlots {
            permits: Semaphore::new(slots),
            waiting: AtomicUsize::new(0),
            queue,
            wait,
        }
    }

    /// A slot: at once, or after a wait in a queue of at most `queue` requests and at most
    /// `wait` long; [`ImageError::Busy`] otherwise.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, ImageError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ImageError::Busy);
        }
        let waited = tokio::time::timeout(self.wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ImageError::Busy),
        }
    }
}

pub fn render_slots(platform: &Platform) -> std::sync::Arc<RenderSlots> {
    platform.state.get_or_init(|| {
        let images = &platform.settings.images;
        RenderSlots::new(images.max_renders, images.render_queue, images.render_wait)
    })
}

/// Whether the version keeps as many asked-for renditions as it may.
pub async fn spent(platform: &Platform, image: &Image) -> Result<bool, ImageError> {
    let kept = rows::count_derived(&platform.db, image.id, &image.version).await?;
    Ok(kept >= u64::from(platform.settings.images.max_derived_variants))
}

/// The smallest stored rendition made ahead (a preset or a ladder rung) in the same format
/// and shape, at least as large as `wanted`.
pub async fn nearest_stored(
    platform: &Platform,
    image: &Image,
    wanted: &Variant,
) -> Result<Option<Variant>, ImageError> {
    if wanted.shape() != Shape::Whole {
        return Ok(None);
    }
    let stored = rows::variants(&platform.db, image.id, &image.version).await?;
    Ok(planned(image, &platform.settings.images)
        .into_iter()
        .map(|(variant, _)| variant)
        .filter(|v| {
            v.format() == wanted.format()
                && v.shape() == Shape::Whole
                && v.width() >= wanted.width()
                && v.height() >= wanted.height()
                && stored.iter().any(|row| row.name == v.name())
        })
        .min_by_key(Variant::pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_then_a_short_queue_then_busy() {
        let slots = RenderSlots::new(1, 1, Duration::from_millis(50));
        let held = slots.acquire().await.unwrap();
        // One may wait; it gives up after `wait`.
        assert!(matches!(slots.acquire().await, Err(ImageError::Busy)));
        let waiting = slots.acquire();
        let refused = async {
            tokio::task::yield_now().await;
            slots.acquire().await
        };
        let (waiting, refused) = tokio::join!(
            async {
                let permit = waiting.await;
                permit.is_ok()
            },
            async {
                let refused = refused.await.is_err();
                drop(held);
                refused
            }
        );
        assert!(refused, "the queue holds one");
        assert!(waiting, "the one waiting got the slot when it was freed");
    }
}
