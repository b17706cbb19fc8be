//! Meal photos: a cooking-diary app uploads photos from the phone's camera roll, and sous tells
//! which are meals, so the diary fills itself.
//!
//! # Pieces
//!
//! - [`api`]: `POST /v1/meal-photos` for upload URLs (a batch at a time, idempotent by the
//!   device's photo id), then the results by polling a change cursor.
//! - `job.rs`: the `classification.classify` job on the `classify` queue, started by a photo's
//!   storage event: fetch, decode straight to the model's size, preprocess, classify.
//! - `engine.rs`: the model loaded once per worker process, and the batcher that puts photos
//!   ready together through one forward pass.
//! - [`model`]: MobileNetV2 on candle, its hot layers as custom kernels ([`model`]'s
//!   `kernels`); [`preprocess`]: resize, crop and normalize as the model was trained.
//! - [`evaluate`]: `sous classify-dir`, scores for a folder of photos and, for `food/` and
//!   `nonfood/` subfolders, accuracy, precision and recall.
//!
//! Without weights sous still starts: `/readyz` names classification unavailable, the
//! `classify` queue is not worked on, and photos wait `queued` until a worker with the
//! weights starts.

pub mod api;
mod engine;
pub mod entity;
pub mod evaluate;
mod job;
pub mod model;
pub mod preprocess;
mod rows;
pub mod settings;

use std::time::Duration;

use actix_web::web;
use futures::future::BoxFuture;

use crate::platform::Platform;
use crate::platform::events::{EventRoutes, Notice};
use crate::platform::http::OptionalPart;
use crate::platform::jobs::{JobRegistry, Queue};
use entity::photo::PhotoStatus;

pub use engine::load;
pub use job::ClassifyPhoto;

pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
}

/// Enough photos in flight per worker to fill a forward pass while others are being fetched
/// and decoded; the passes themselves run one at a time.
const QUEUE: Queue = Queue::new("classify")
    .with_concurrency(32)
    .with_timeout(Duration::from_secs(90))
    .with_max_attempts(5)
    .with_backoff(Duration::from_secs(2));

pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register::<ClassifyPhoto>()
        .hold_unless(QUEUE, model_loads);
}

/// Photos land under `meal-photos/`; their storage events start the classification. The photo
/// shows `queued` as soon as its job is, and `failed` when its upload broke its terms.
pub fn register_events(routes: &mut EventRoutes) {
    routes.on_created_then::<ClassifyPhoto>(api::PHOTOS, noticed);
}

fn noticed(platform: Platform, notice: Notice) -> BoxFuture<'static, anyhow::Result<()>> {
    Box::pin(async move {
        let (key, change) = match notice {
            Notice::Queued(event) => (event.key, rows::Change::to(PhotoStatus::Queued)),
            Notice::Refused { key, reason } => (key, rows::Change::failed(reason)),
        };
        rows::change(&platform.db, &key, &[PhotoStatus::Waiting], change).await?;
        Ok(())
    })
}

/// A worker takes `classify` jobs only once it has the model.
fn model_loads(platform: &Platform) -> Result<(), String> {
    engine::Engine::of(platform).batcher(platform).map(|_| ())
}

/// `/readyz` says whether this replica can classify: the model it loaded, or, where nothing
/// loaded it (an api replica), whether the weights are there to load.
pub fn optional_part() -> OptionalPart {
    OptionalPart {
        name: "classification",
        check: |platform| {
            let engine = engine::Engine::of(platform);
            if let Some(loaded) = engine.loaded() {
                return loaded;
            }
            let dir = &platform.settings.model_dir;
            let weights = engine::weights_path(dir, engine.config(dir)?);
            if weights.is_file() {
                Ok(())
            } else {
                Err(format!("no weights at {}", weights.display()))
            }
        },
    }
}
