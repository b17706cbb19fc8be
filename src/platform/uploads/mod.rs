//! Direct uploads: a module asks for an upload intent and gives its client the URL; the bytes
//! go straight to object storage (a presigned PUT on S3/GCS, `PUT /uploads/{token}` served by
//! sous on local stores), and the storage event starts the module's work. The scheduler
//! reconciles intents whose event never came, so a missed notification delays work but never
//! loses it.

pub mod api;
pub mod notifications;
mod token;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderValue, Method};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::Serialize;

use super::Platform;
use super::events::{self, ObjectCreated, Outcome};
use super::storage::ObjectKey;
pub use token::{TokenError, UploadClaims, UploadSigner};

pub use entity::IntentStatus;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upload_intents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub owner: String,
        #[sea_orm(unique)]
        pub key: String,
        /// JSON array of the accepted content types.
        pub content_types: String,
        pub max_bytes: i64,
        pub status: IntentStatus,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub received_at: Option<DateTimeUtc>,
    }

    /// Where an intent stands: `pending` → `uploading` (local PUT in progress) → `received`;
    /// `expired` when its object never came, `rejected` when it came too large.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    pub enum IntentStatus {
        #[sea_orm(string_value = "pending")]
        Pending,
        #[sea_orm(string_value = "uploading")]
        Uploading,
        #[sea_orm(string_value = "received")]
        Received,
        #[sea_orm(string_value = "expired")]
        Expired,
        /// The object broke the intent's terms (too large) and was deleted.
        #[sea_orm(string_value = "rejected")]
        Rejected,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a module asks for.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub owner: String,
    /// Under a prefix the module registered for storage events.
    pub key: ObjectKey,
    /// Content types the upload may have; with exactly one, S3 binds it into the signature.
    pub content_types: Vec<String>,
    /// Enforced while streaming on local stores. A presigned S3/GCS PUT cannot bound the size,
    /// so there an oversize object is deleted when its event arrives, before any module sees it.
    pub max_bytes: u64,
    /// Defaults to the configured upload expiry.
    pub expires_in: Option<Duration>,
}

/// What the client needs to upload.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    pub intent_id: String,
    pub upload_url: String,
    pub method: String,
    /// Headers the PUT must carry exactly.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no module handles storage events for {0}")]
    Unrouted(String),
    #[error("an upload for {0} already exists")]
    KeyTaken(String),
    #[error("{0} has been uploaded already")]
    Received(String),
    #[error("{0} is being uploaded")]
    InProgress(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot sign the upload URL: {0}")]
    Signing(#[from] object_store::Error),
}

/// Records the intent and returns the URL to put the object to.
#[tracing::instrument(skip_all, fields(key = %request.key, owner = %request.owner))]
pub async fn create(
    platform: &Platform,
    request: UploadRequest,
) -> Result<UploadTicket, UploadError> {
    let key = request.key.to_string();
    if !platform.event_routes.owns(&key) {
        return Err(UploadError::Unrouted(key));
    }
    if request.content_types.is_empty() || request.max_bytes == 0 {
        return Err(UploadError::Invalid(
            "an upload needs a content type and a maximum size".into(),
        ));
    }
    let expires_in = request
        .expires_in
        .unwrap_or(platform.settings.uploads.expiry);
    let now = Utc::now();
    let expires_at =
        now + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::days(7));
    let id = uuid::Uuid::now_v7().to_string();
    let row = entity::ActiveModel {
        id: Set(id.clone()),
        owner: Set(request.owner.clone()),
        key: Set(key.clone()),
        content_types: Set(
            serde_json::to_string(&request.content_types).expect("strings serialize")
        ),
        max_bytes: Set(i64::try_from(request.max_bytes).unwrap_or(i64::MAX)),
        status: Set(IntentStatus::Pending),
        created_at: Set(now),
        expires_at: Set(expires_at),
        received_at: Set(None),
    };
    entity::Entity::insert(row)
        .exec_without_returning(&platform.db)
        .await
        .map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                UploadError::KeyTaken(key.clone())
            }
            _ => UploadError::Database(e),
        })?;
    ticket(platform, &request, id, expires_in, expires_at).await
}

/// The URL for `request.key`: a new intent, or the existing one renewed (see [`renew`]), so a
/// client asking again for the same object gets a fresh URL to the same place.
pub async fn issue(
    platform: &Platform,
    request: UploadRequest,
) -> Result<UploadTicket, UploadError> {
    match create(platform, request.clone()).await {
        Err(UploadError::KeyTaken(_)) => renew(platform, request).await,
        other => other,
    }
}

/// A fresh URL for the intent already made for `request.key`, with the terms of `request`, as
/// long as nothing has been uploaded to it: a client that lost its URL, or let it expire, asks
/// again for the same object.
#[tracing::instrument(skip_all, fields(key = %request.key, owner = %request.owner))]
pub async fn renew(
    platform: &Platform,
    request: UploadRequest,
) -> Result<UploadTicket, UploadError> {
    use entity::Column;
    let key = request.key.to_string();
    let intent = entity::Entity::find()
        .filter(Column::Key.eq(key.as_str()))
        .filter(Column::Owner.eq(request.owner.as_str()))
        .one(&platform.db)
        .await?
        .ok_or_else(|| UploadError::Invalid(format!("no upload to renew for {key}")))?;
    let expires_in = request
        .expires_in
        .unwrap_or(platform.settings.uploads.expiry);
    let expires_at =
        Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::days(7));
    let renewed = entity::Entity::update_many()
        .col_expr(
            Column::ContentTypes,
            serde_json::to_string(&request.content_types)
                .expect("strings serialize")
                .into(),
        )
        .col_expr(
            Column::MaxBytes,
            i64::try_from(request.max_bytes).unwrap_or(i64::MAX).into(),
        )
        .col_expr(Column::Status, IntentStatus::Pending.into())
        .col_expr(Column::ExpiresAt, expires_at.into())
        .filter(Column::Id.eq(intent.id.as_str()))
        // A rejected upload's object is gone: it may be tried again.
        .filter(Column::Status.is_in([
            IntentStatus::Pending,
            IntentStatus::Expired,
            IntentStatus::Rejected,
        ]))
        .exec(&platform.db)
        .await?
        .rows_affected;
    if renewed == 0 {
        return Err(match intent.status {
            IntentStatus::Uploading => UploadError::InProgress(key),
            _ => UploadError::Received(key),
        });
    }
    ticket(platform, &request, intent.id, expires_in, expires_at).await
}

/// Signs the URL for intent `id`: the store's own presigned PUT, or sous's upload endpoint.
async fn ticket(
    platform: &Platform,
    request: &UploadRequest,
    id: String,
    expires_in: Duration,
    expires_at: DateTime<Utc>,
) -> Result<UploadTicket, UploadError> {
    let key = request.key.to_string();
    let mut headers = BTreeMap::new();
    let mut signed_headers = Vec::new();
    if let [content_type] = request.content_types.as_slice() {
        headers.insert("Content-Type".to_string(), content_type.clone());
        if let Ok(value) = HeaderValue::from_str(content_type) {
            signed_headers.push((http::header::CONTENT_TYPE, value));
        }
    }
    let upload_url = match platform
        .store
        .signed_url(Method::PUT, &request.key, expires_in, &signed_headers)
        .await
    {
        Some(signed) => signed?.to_string(),
        None => {
            let token = platform.upload_signer.sign(&UploadClaims {
                intent: id.clone(),
                key: key.clone(),
                owner: request.owner.clone(),
                content_types: request.content_types.clone(),
                max_bytes: request.max_bytes,
                expires_at: expires_at.timestamp(),
            });
            let base = platform.settings.public_url.as_str().trim_end_matches('/');
            format!("{base}/uploads/{token}")
        }
    };
    Ok(UploadTicket {
        intent_id: id,
        upload_url,
        method: "PUT".into(),
        headers,
        expires_at,
    })
}

/// Ends the intent for `key` unless its object has arrived: URLs signed for it stop working.
/// For a module deleting what the upload was for.
pub async fn cancel(db: &DatabaseConnection, key: &str) -> Result<(), sea_orm::DbErr> {
    use entity::Column;
    entity::Entity::update_many()
        .col_expr(Column::Status, IntentStatus::Expired.into())
        .filter(Column::Key.eq(key))
        .filter(Column::Status.is_in([IntentStatus::Pending, IntentStatus::Uploading]))
        .exec(db)
        .await?;
    Ok(())
}

/// What happened to one delivered event, however it was reported: a notification, the local
/// PUT, reconciliation.
pub async fn deliver(
    platform: &Platform,
    mut event: ObjectCreated,
) -> Result<Outcome, DeliverError> {
    let key = event.key.clone();
    if !platform.event_routes.owns(&key) {
        return Ok(events::route(platform, event).await?);
    }
    // An upload is one piece of work however it is reported.
    let intent = settle(&platform.db, &key).await?;
    if let Some(intent) = &intent {
        if intent.status == IntentStatus::Rejected {
            return Ok(Outcome::Rejected { key });
        }
        let limit = u64::try_from(intent.max_bytes).unwrap_or(u64::MAX);
        if event.size.is_some_and(|size| size > limit) {
            tracing::warn!(%key, size = ?event.size, limit, "upload larger than its intent allows; deleted");
            reject(platform, intent)
                .await
                .map_err(DeliverError::Reject)?;
            let reason = format!("the upload was larger than the {limit} bytes it was allowed");
            platform
                .event_routes
                .notify(
                    platform,
                    events::Notice::Refused {
                        key: key.clone(),
                        reason,
                    },
                )
                .await;
            return Ok(Outcome::Rejected { key });
        }
        event.version = format!("intent:{}", intent.id);
    }
    match events::route(platform, event).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            if let Some(intent) = intent {
                unsettle(&platform.db, &intent.id).await?;
            }
            Err(error.into())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Queue(#[from] super::jobs::JobBackendError),
    #[error("cannot remove a refused upload: {0:#}")]
    Reject(anyhow::Error),
}

impl From<events::RouteError> for DeliverError {
    fn from(error: events::RouteError) -> Self {
        match error {
            events::RouteError::Database(e) => DeliverError::Database(e),
            events::RouteError::Queue(e) => DeliverError::Queue(e),
        }
    }
}

/// If `key` belongs to an upload intent, marks the intent received and returns it: the
/// intent, not the sender's version, is then what makes a delivery the same as another.
async fn settle(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<entity::Model>, sea_orm::DbErr> {
    use entity::Column;
    let Some(intent) = entity::Entity::find()
        .filter(Column::Key.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if !matches!(
        intent.status,
        IntentStatus::Received | IntentStatus::Rejected
    ) {
        entity::Entity::update_many()
            .col_expr(Column::Status, IntentStatus::Received.into())
            .col_expr(Column::ReceivedAt, Some(Utc::now()).into())
            .filter(Column::Id.eq(intent.id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(Some(intent))
}

/// Refuses an upload that broke its intent's terms (only possible where the store signed the
/// URL and could not bound the size): the object is deleted and the intent says why.
async fn reject(platform: &Platform, intent: &entity::Model) -> anyhow::Result<()> {
    use entity::Column;
    platform
        .store
        .delete(&ObjectKey::parse(&intent.key)?)
        .await?;
    entity::Entity::update_many()
        .col_expr(Column::Status, IntentStatus::Rejected.into())
        .filter(Column::Id.eq(intent.id.as_str()))
        .exec(&platform.db)
        .await?;
    Ok(())
}

/// Puts an intent back to pending when its event could not be queued, so reconciliation
/// raises it again later.
async fn unsettle(db: &DatabaseConnection, intent_id: &str) -> Result<(), sea_orm::DbErr> {
    use entity::Column;
    entity::Entity::update_many()
        .col_expr(Column::Status, IntentStatus::Pending.into())
        .col_expr(Column::ReceivedAt, Option::<DateTime<Utc>>::None.into())
        .filter(Column::Id.eq(intent_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Intents looked at per reconciliation run.
const RECONCILE_BATCH: u64 = 200;

/// Raises the event for objects that arrived without one, and expires intents whose object
/// never came. Safe to run anywhere, any number of times: delivery is deduplicated.
pub async fn reconcile(platform: Platform) -> anyhow::Result<()> {
    use entity::Column;
    let now = Utc::now();
    let waited = now
        - chrono::Duration::from_std(platform.settings.uploads.reconcile_after).unwrap_or_default();
    let stale = entity::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::Status.eq(IntentStatus::Pending))
                        .add(Column::CreatedAt.lt(waited)),
                )
                // A local upload whose process died mid-body stays `uploading`.
                .add(
                    Condition::all()
                        .add(Column::Status.eq(IntentStatus::Uploading))
                        .add(Column::ExpiresAt.lt(now)),
                ),
        )
        .limit(RECONCILE_BATCH)
        .all(&platform.db)
        .await?;
    for intent in stale {
        let key = ObjectKey::parse(&intent.key)?;
        match platform.store.head(&key).await? {
            Some(meta) => {
                tracing::info!(key = %intent.key, "upload arrived without its storage event; raising it");
                let event = ObjectCreated {
                    bucket: platform.store.bucket().to_string(),
                    key: intent.key.clone(),
                    version: String::new(),
                    size: Some(meta.size),
                    content_type: None,
                };
                deliver(&platform, event).await?;
            }
            None if intent.expires_at < now => {
                tracing::info!(key = %intent.key, "upload never came; expiring its intent");
                entity::Entity::update_many()
                    .col_expr(Column::Status, IntentStatus::Expired.into())
                    .filter(Column::Id.eq(intent.id.as_str()))
                    .filter(Column::Status.eq(intent.status))
                    .exec(&platform.db)
                    .await?;
            }
            None => {}
        }
    }
    Ok(())
}

/// The intent with `id`, for modules that show upload state.
pub async fn find(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<entity::Model>, sea_orm::DbErr> {
    entity::Entity::find_by_id(id.to_string()).one(db).await
}
