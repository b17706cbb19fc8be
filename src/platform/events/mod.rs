//! Storage events: "an object was created" reaches sous from S3 (directly or through SNS), from
//! GCS through Pub/Sub push, or from the local upload handler, and is routed by key prefix to the
//! module that owns the prefix. Each object version starts work once, however often it is
//! delivered: a unique row per (bucket, key, version) decides.

pub mod api;
mod parse;
pub mod sns;

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::Platform;
use super::jobs::{Job, JobError, Queue};
use super::storage::ObjectKey;

pub use parse::{Incoming, Notification, ParseError, parse};

/// An object that now exists in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectCreated {
    pub bucket: String,
    /// The key inside sous's store (any store prefix removed).
    pub key: String,
    /// What makes this delivery the same as another: the upload intent, S3 version or
    /// sequencer, GCS generation.
    pub version: String,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

impl ObjectCreated {
    pub fn key(&self) -> Result<ObjectKey, super::storage::InvalidKey> {
        ObjectKey::parse(&self.key)
    }
}

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "storage_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub bucket: String,
        pub key: String,
        pub version: String,
        pub received_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

type Handler =
    Arc<dyn Fn(Platform, ObjectCreated) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// Key prefixes and the module handler of each, assembled once in `lib.rs`.
#[derive(Clone, Default)]
pub struct EventRoutes {
    routes: Vec<(String, Handler)>,
}

impl std::fmt::Debug for EventRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(p, _)| p))
            .finish()
    }
}

impl EventRoutes {
    /// Routes objects created under `prefix` (e.g. `meal-photos/`) to `handler`, which runs as
    /// a job: it must be idempotent and return `JobError::Retry` for transient failures.
    pub fn on_created<F, Fut>(&mut self, prefix: &str, handler: F) -> &mut Self
    where
        F: Fn(Platform, ObjectCreated) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        assert!(
            prefix.ends_with('/'),
            "event prefix {prefix} must end with /"
        );
        assert!(
            self.routes
                .iter()
                .all(|(p, _)| !p.starts_with(prefix) && !prefix.starts_with(p.as_str())),
            "event prefix {prefix} overlaps another"
        );
        self.routes.push((
            prefix.to_string(),
            Arc::new(move |p, e| Box::pin(handler(p, e))),
        ));
        self
    }

    fn route(&self, key: &str) -> Option<&Handler> {
        self.routes
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix.as_str()))
            .map(|(_, h)| h)
    }

    pub fn owns(&self, key: &str) -> bool {
        self.route(key).is_some()
    }
}

/// What happened to one delivered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// New: work was queued.
    Queued { key: String },
    /// Delivered before: nothing to do.
    Duplicate { key: String },
    /// No module owns the key's prefix: acknowledged and logged.
    Unrouted { key: String },
    /// The upload broke its intent's terms (too large): deleted, no work queued.
    Rejected { key: String },
}

/// The job that hands an event to its module, so the HTTP answer never waits for module work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleObjectCreated {
    pub event: ObjectCreated,
}

impl Job for HandleObjectCreated {
    const KIND: &'static str = "platform.object-created";
    const QUEUE: Queue = Queue::System;

    async fn run(self, platform: Platform) -> Result<(), JobError> {
        let Some(handler) = platform.event_routes.route(&self.event.key).cloned() else {
            return Err(JobError::permanent(anyhow::anyhow!(
                "no module owns {}",
                self.event.key
            )));
        };
        handler(platform, self.event).await
    }
}

/// Records the delivery and, the first time this version is seen, queues its module's work.
/// Work is queued after the record commits; if queueing fails the record is removed again so a
/// redelivery can succeed.
pub async fn ingest(platform: &Platform, mut event: ObjectCreated) -> Result<Outcome, IngestError> {
    let key = event.key.clone();
    if !platform.event_routes.owns(&key) {
        tracing::info!(%key, bucket = %event.bucket, "storage event for a prefix no module owns; ignored");
        return Ok(Outcome::Unrouted { key });
    }
    // An upload is one piece of work however it is reported: event, local PUT, reconciliation.
    let intent = super::uploads::settle(&platform.db, &key).await?;
    if let Some(intent) = &intent {
        if intent.status == super::uploads::status::REJECTED {
            return Ok(Outcome::Rejected { key });
        }
        let limit = u64::try_from(intent.max_bytes).unwrap_or(u64::MAX);
        if event.size.is_some_and(|size| size > limit) {
            tracing::warn!(%key, size = ?event.size, limit, "upload larger than its intent allows; deleted");
            super::uploads::reject(platform, intent)
                .await
                .map_err(IngestError::Reject)?;
            return Ok(Outcome::Rejected { key });
        }
        event.version = format!("intent:{}", intent.id);
    }
    let id = uuid::Uuid::now_v7().to_string();
    if !record_first_delivery(&platform.db, &id, &event).await? {
        tracing::info!(%key, version = %event.version, "storage event delivered again; ignored");
        return Ok(Outcome::Duplicate { key });
    }
    if let Err(error) = platform.jobs.enqueue(&HandleObjectCreated { event }).await {
        entity::Entity::delete_by_id(id).exec(&platform.db).await?;
        if let Some(intent) = intent {
            super::uploads::unsettle(&platform.db, &intent.id).await?;
        }
        return Err(IngestError::Queue(error));
    }
    tracing::info!(%key, "storage event queued");
    Ok(Outcome::Queued { key })
}

async fn record_first_delivery(
    db: &DatabaseConnection,
    id: &str,
    event: &ObjectCreated,
) -> Result<bool, sea_orm::DbErr> {
    use entity::Column;
    entity::Entity::insert(entity::ActiveModel {
        id: Set(id.to_string()),
        bucket: Set(event.bucket.clone()),
        key: Set(event.key.clone()),
        version: Set(event.version.clone()),
        received_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([Column::Bucket, Column::Key, Column::Version])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    // Whether the row now there is ours tells first delivery from a repeat, on every database.
    let stored = entity::Entity::find()
        .filter(Column::Bucket.eq(event.bucket.as_str()))
        .filter(Column::Key.eq(event.key.as_str()))
        .filter(Column::Version.eq(event.version.as_str()))
        .one(db)
        .await?;
    Ok(stored.is_some_and(|row| row.id == id))
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Queue(#[from] super::jobs::JobBackendError),
    #[error("cannot remove a refused upload: {0:#}")]
    Reject(anyhow::Error),
}
