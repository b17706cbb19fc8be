//! The `classification.classify` job: started by a photo's storage event, it reads the photo,
//! decodes it straight to the model's size, and waits for its place in a forward pass. A photo
//! that cannot be classified (corrupt, not an image, too many pixels, gone) ends `failed` with
//! the reason; only passing troubles (the store, the database) are retried, and the last retry
//! that fails says so too, so no photo stays `processing`.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::QUEUE;
use super::engine::Engine;
use super::entity::photo::PhotoStatus;
use super::model::InputConfig;
use super::preprocess::{self, Preprocessed};
use super::rows::{self, Change, Classified};
use crate::images::codec::{self, CodecError, Limits};
use crate::platform::events::ObjectCreated;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::storage::ObjectKey;
use crate::platform::{Platform, cpu};

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
            // Deleted meanwhile: an upload that came after the delete is not kept.
            tracing::info!("no meal photo at this key; its object is removed");
            let object = ObjectKey::parse(key).map_err(JobError::permanent)?;
            return match platform.store.delete(&object).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(JobError::retry(error)),
            };
        };
        if photo.status.is_final() {
            return Ok(());
        }
        // Gives up, and says so on the photo, before the queue's own timeout cuts it off.
        let budget = platform.jobs.registry().settings(QUEUE).timeout * 2 / 3;
        let outcome = match tokio::time::timeout(budget, classify(platform, key)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Stop::Transient(anyhow::anyhow!(
                "classifying took longer than {budget:?}"
            ))),
        };
        let (change, retry) = match outcome {
            Ok(result) => (Change::done(result), None),
            Err(Stop::Failed(reason)) => {
                tracing::info!(%reason, "meal photo refused");
                (Change::failed(reason), None)
            }
            Err(Stop::Transient(error)) if context.is_last_attempt() => {
                let reason = format!(
                    "could not be classified in {} attempts (the store, the database or the \
                     classifier failed); the server log has the details",
                    context.attempt
                );
                (Change::failed(reason), Some(error))
            }
            Err(Stop::Transient(error)) => {
                rows::change(
                    &platform.db,
                    key,
                    &[PhotoStatus::Processing],
                    Change::to(PhotoStatus::Queued),
                )
                .await
                .map_err(JobError::retry)?;
                return Err(JobError::retry(error));
            }
        };
        let ended = if change.to == PhotoStatus::Done {
            "done"
        } else {
            "failed"
        };
        let from = [
            PhotoStatus::Waiting,
            PhotoStatus::Queued,
            PhotoStatus::Processing,
        ];
        if rows::change(&platform.db, key, &from, change)
            .await
            .map_err(JobError::retry)?
        {
            platform
                .metrics
                .counter(
                    "classify_photos_total",
                    "Meal photos classified, by how they ended",
                    &["outcome"],
                )
                .with_label_values(&[ended])
                .inc();
        }
        match retry {
            Some(error) => Err(JobError::retry(error)),
            None => Ok(()),
        }
    }
}

/// A photo's bytes ready for the model: decoded through the images module's safe decoding,
/// straight to the size the model needs, then preprocessed as it was trained.
pub(super) fn prepare(
    bytes: &[u8],
    limits: &Limits,
    input: &InputConfig,
) -> Result<Preprocessed, CodecError> {
    let shorter = u32::try_from(input.resize_shorter).unwrap_or(u32::MAX);
    let (rgb, width, height) = codec::decode_for_analysis(bytes, limits, shorter)?;
    Ok(preprocess::preprocess(&rgb, width, height, input))
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
    let limits = platform.settings.images.limits();
    let input = batcher.config().input.clone();
    let decoded = cpu::run(move || prepare(&bytes, &limits, &input))
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
