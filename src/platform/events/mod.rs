//! Storage events: "an object was created" reaches sous from S3 (directly or through SNS), from
//! GCS through Pub/Sub push, or from the local upload handler, and is routed by key prefix to the
//! module that owns the prefix: one job on the module's own queue. Each object version starts
//! work once, however often it is delivered: a unique row per (bucket, key, version) decides.
//! Upload intents are settled before routing, by `uploads`, which receives the notifications.

mod parse;
pub mod sns;

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::Platform;
use super::jobs::{Job, JobBackendError, JobContext, JobError, Jobs, Queue};
use super::storage::ObjectKey;

pub use parse::{Incoming, Notification, ParseError, parse, parse_s3};

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

type Enqueue = Arc<
    dyn Fn(&Jobs, ObjectCreated) -> BoxFuture<'_, Result<uuid::Uuid, JobBackendError>>
        + Send
        + Sync,
>;

/// What a module that asked to be told hears about an object under its prefix.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Its job is queued.
    Queued(ObjectCreated),
    /// It broke its upload's terms and was deleted; no job runs for it.
    Refused { key: String, reason: String },
}

/// Told of a [`Notice`], so the module can show where the object stands.
pub type Notify = fn(Platform, Notice) -> BoxFuture<'static, anyhow::Result<()>>;

struct Route {
    prefix: String,
    enqueue: Enqueue,
    notify: Option<Notify>,
}

/// Key prefixes and the module job each starts, assembled once in `lib.rs`.
#[derive(Clone, Default)]
pub struct EventRoutes {
    routes: Vec<Arc<Route>>,
}

impl std::fmt::Debug for EventRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| &r.prefix))
            .finish()
    }
}

impl EventRoutes {
    /// Objects created under `prefix` (e.g. `meal-photos/`) start job `J`, queued straight onto
    /// the module's own queue. `J` must be idempotent: a version is routed once, but any job
    /// may run more than once.
    pub fn on_created<J: Job + From<ObjectCreated>>(&mut self, prefix: &str) -> &mut Self {
        self.add::<J>(prefix, None)
    }

    /// As [`EventRoutes::on_created`], and `notify` is told once the job is queued, or when an
    /// upload is refused before routing (its failure is logged: the job runs anyway).
    pub fn on_created_then<J: Job + From<ObjectCreated>>(
        &mut self,
        prefix: &str,
        notify: Notify,
    ) -> &mut Self {
        self.add::<J>(prefix, Some(notify))
    }

    fn add<J: Job + From<ObjectCreated>>(
        &mut self,
        prefix: &str,
        notify: Option<Notify>,
    ) -> &mut Self {
        assert!(
            prefix.ends_with('/'),
            "event prefix {prefix} must end with /"
        );
        assert!(
            self.routes
                .iter()
                .all(|r| !r.prefix.starts_with(prefix) && !prefix.starts_with(r.prefix.as_str())),
            "event prefix {prefix} overlaps another"
        );
        self.routes.push(Arc::new(Route {
            prefix: prefix.to_string(),
            enqueue: Arc::new(|jobs, event| Box::pin(jobs.enqueue(&J::from(event)))),
            notify,
        }));
        self
    }

    fn route(&self, key: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|route| key.starts_with(route.prefix.as_str()))
            .map(Arc::as_ref)
    }

    pub fn owns(&self, key: &str) -> bool {
        self.route(key).is_some()
    }

    /// Tells the module owning the notice's key, if it asked to be told; a failure is logged.
    pub async fn notify(&self, platform: &Platform, notice: Notice) {
        let key = match &notice {
            Notice::Queued(event) => event.key.clone(),
            Notice::Refused { key, .. } => key.clone(),
        };
        let Some(notify) = self.route(&key).and_then(|route| route.notify) else {
            return;
        };
        if let Err(error) = notify(platform.clone(), notice).await {
            tracing::warn!(%key, error = format!("{error:#}"), "cannot tell the module where the object stands");
        }
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
    /// Refused before routing: the upload broke its intent's terms (too large) and was deleted.
    Rejected { key: String },
}

/// The job versions before one-hop routing queued on `system` for every storage event. Still
/// handled, so that an upgrade loses none queued before it: it queues the module's job. Remove
/// once no deployment can hold one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedBeforeOneHop {
    pub event: ObjectCreated,
}

impl Job for QueuedBeforeOneHop {
    const KIND: &'static str = "platform.object-created";
    const QUEUE: Queue = Queue::SYSTEM;

    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = &context.platform;
        let Some(route) = platform.event_routes.route(&self.event.key) else {
            return Err(JobError::permanent(anyhow::anyhow!(
                "no module owns {}",
                self.event.key
            )));
        };
        (route.enqueue)(&platform.jobs, self.event)
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }
}

/// Records the delivery and, the first time this version is seen, queues the owning module's
/// job. The job is queued after the record commits; if queueing fails the record is removed
/// again so a redelivery can succeed.
pub async fn route(platform: &Platform, event: ObjectCreated) -> Result<Outcome, RouteError> {
    let key = event.key.clone();
    let Some(route) = platform.event_routes.route(&key) else {
        tracing::info!(%key, bucket = %event.bucket, "storage event for a prefix no module owns; ignored");
        return Ok(Outcome::Unrouted { key });
    };
    let id = uuid::Uuid::now_v7().to_string();
    if !record_first_delivery(&platform.db, &id, &event).await? {
        tracing::info!(%key, version = %event.version, "storage event delivered again; ignored");
        return Ok(Outcome::Duplicate { key });
    }
    if let Err(error) = (route.enqueue)(&platform.jobs, event.clone()).await {
        entity::Entity::delete_by_id(id).exec(&platform.db).await?;
        return Err(RouteError::Queue(error));
    }
    tracing::info!(%key, "storage event queued");
    platform
        .event_routes
        .notify(platform, Notice::Queued(event))
        .await;
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
pub enum RouteError {
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Queue(#[from] JobBackendError),
}
