//! The `classification.classify` job: started by a photo's storage event, it reads the photo,
//! decodes it straight to the model's size, and waits for its place in a forward pass. A photo
//! that cannot be classified (corrupt, not an image, too many pixels, gone) ends `failed` with
//! the reason; only passing troubles (the store, the database) are retried, and the last retry
//! that fails says so too, so no photo stays `processing`.

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::QUEUE;
use super::engine::Engine;
use super::entity::photo::PhotoStatus;
use super::preprocess;
use super::rows::{self, Change, Classified};
use crate::images::codec::{self, Limits};
use crate::platform::events::ObjectCreated;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::{Platform, cpu};

/// Work on one photo gives up (and is retried) before the queue's own timeout would cut it
/// off, so the photo's status always says how it ended.
const WORK_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
pub struct ClassifyPhoto {
    pub event: ObjectCreated,
}

impl From<ObjectCreated> for ClassifyPhoto {
    fn from(event: ObjectCreated) -> Self {
        ClassifyPhoto { event }
    }
}

/// Why a photo was not classified.
enum Stop {
    /// It never will be: the photo says why.
    Failed(String),
    /// Try again.
    Transient(anyhow::Error),
}

impl From<sea_orm::DbErr> for Stop {
    fn from(error: sea_orm::DbErr) -> Self {
        Stop::Transient(error.into())
    }
}

impl Job for ClassifyPhoto {
    const KIND: &'static str = "classification.classify";
    const QUEUE: Queue = QUEUE;

    #[tracing::instrument(skip_all, fields(key = %self.event.key))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = &context.platform;
        let key = self.event.key.as_str();
        let Some(photo) = rows::find_by_key(&platform.db, key)
            .await
            .map_err(JobError::retry)?
        else {
            tracing::info!("no meal photo at this key (deleted meanwhile); nothing to do");
            return Ok(());
        };
        if photo.status.is_final() {
            return Ok(());
        }
        let outcome = match tokio::time::timeout(WORK_TIMEOUT, classify(platform, key)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Stop::Transient(anyhow::anyhow!(
                "classifying took longer than {WORK_TIMEOUT:?}"
            ))),
        };
        let from = [
            PhotoStatus::Waiting,
            PhotoStatus::Queued,
            PhotoStatus::Processing,
        ];
        let (change, retry) = match outcome {
            Ok(result) => (
                Change {
                    to: PhotoStatus::Done,
                    result: Some(result),
                    reason: None,
                },
                None,
            ),
            Err(Stop::Failed(reason)) => {
                tracing::info!(%reason, "meal photo refused");
                (failed(reason), None)
            }
            Err(Stop::Transient(error)) if context.is_last_attempt() => {
                (failed(format!("{error:#}")), Some(error))
            }
            Err(Stop::Transient(error)) => {
                rows::change(
                    &platform.db,
                    key,
                    &[PhotoStatus::Processing],
                    Change {
                        to: PhotoStatus::Queued,
                        result: None,
                        reason: None,
                    },
                )
                .await
                .map_err(JobError::retry)?;
                return Err(JobError::retry(error));
            }
        };
        let photo_outcome = if change.to == PhotoStatus::Done {
            "done"
        } else {
            "failed"
        };
        rows::change(&platform.db, key, &from, change)
            .await
            .map_err(JobError::retry)?;
        platform
            .metrics
            .counter(
                "classify_photos_total",
                "Meal photos classified, by how they ended",
                &["outcome"],
            )
            .with_label_values(&[photo_outcome])
            .inc();
        match retry {
            Some(error) => Err(JobError::retry(error)),
            None => Ok(()),
        }
    }
}

fn failed(reason: String) -> Change {
    Change {
        to: PhotoStatus::Failed,
        result: None,
        reason: Some(reason),
    }
}

async fn classify(platform: &Platform, key: &str) -> Result<Classified, Stop> {
    rows::change(
        &platform.db,
        key,
        &[PhotoStatus::Waiting, PhotoStatus::Queued],
        Change {
            to: PhotoStatus::Processing,
            result: None,
            reason: None,
        },
    )
    .await?;
    let engine = Engine::of(platform);
    let batcher = engine
        .batcher(platform)
        .map_err(|reason| Stop::Transient(anyhow::anyhow!(reason)))?;
    let object_key =
        crate::platform::storage::ObjectKey::parse(key).map_err(|e| Stop::Failed(e.to_string()))?;
    let bytes = match platform.store.get(&object_key).await {
        Ok(bytes) => bytes,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Stop::Failed("the photo is not in the store".into()));
        }
        Err(error) => return Err(Stop::Transient(error.into())),
    };
    let images = &platform.settings.images;
    let limits = Limits {
        max_pixels: images.max_pixels,
        max_frames: images.max_frames,
    };
    let input = batcher.config().input.clone();
    let decoded = cpu::run(move || {
        let (rgb, width, height) =
            codec::decode_for_analysis(&bytes, &limits, input.resize_shorter as u32)?;
        Ok::<_, codec::CodecError>(preprocess::preprocess(&rgb, width, height, &input))
    })
    .await
    .map_err(Stop::Transient)?;
    let input = decoded.map_err(|e| Stop::Failed(e.to_string()))?;
    let score = batcher
        .food_probability(input)
        .await
        .map_err(|reason| Stop::Transient(anyhow::anyhow!(reason)))?;
    let model = batcher.config();
    Ok(Classified {
        is_food: score >= model.threshold,
        score: f64::from(score),
        model_name: model.name.clone(),
        model_version: model.version.clone(),
        at: Utc::now(),
    })
}
