//! Direct uploads: the client asks `POST /v1/images/uploads` for a URL and puts the file
//! straight into object storage (`images/uploads/{id}`), never through the API process; the
//! storage event then registers it. The upload's row says what became of it: the image, or
//! why the bytes were refused.

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::upload::{self, UploadStatus};
use super::keys;
use super::register::{Source, register};
use crate::platform::Platform;
use crate::platform::events::ObjectCreated;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::uploads::{
    self as platform_uploads, UploadError, UploadRequest, UploadTicket,
};

/// What a direct upload may declare as its `Content-Type`.
pub const CONTENT_TYPES: [&str; 7] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
];

/// Records an upload for `owner` and returns it with the URL to put the file to.
pub async fn start(
    platform: &Platform,
    owner: &str,
    content_type: &str,
) -> Result<(upload::Model, UploadTicket), UploadError> {
    let id = Uuid::now_v7();
    // The URL first: without it nothing can be uploaded, so a row that fails after it leaves
    // only an intent that expires unused.
    let ticket = platform_uploads::create(
        platform,
        UploadRequest {
            owner: owner.to_string(),
            key: keys::upload(id),
            content_types: vec![content_type.to_string()],
            max_bytes: platform.settings.images.max_bytes,
            expires_in: None,
        },
    )
    .await?;
    let now = Utc::now();
    let row = upload::Model {
        id: id.to_string(),
        owner: owner.to_string(),
        status: UploadStatus::Waiting,
        image_id: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    upload::Entity::insert(upload::ActiveModel::from(row.clone()))
        .exec_without_returning(&platform.db)
        .await?;
    Ok((row, ticket))
}

pub async fn find(db: &DatabaseConnection, id: Uuid) -> Result<Option<upload::Model>, DbErr> {
    upload::Entity::find_by_id(id.to_string()).one(db).await
}

/// Registers a direct upload once its object is in the store, however often its event comes,
/// then removes the upload object: the image keeps its own copy.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegisterUpload {
    pub event: ObjectCreated,
}

impl From<ObjectCreated> for RegisterUpload {
    fn from(event: ObjectCreated) -> Self {
        RegisterUpload { event }
    }
}

impl Job for RegisterUpload {
    const KIND: &'static str = "images.register-upload";
    const QUEUE: Queue = super::QUEUE;

    #[tracing::instrument(skip_all, fields(key = %self.event.key))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        registered(&context.platform, self.event).await
    }
}

async fn registered(platform: &Platform, event: ObjectCreated) -> Result<(), JobError> {
    let key = event.key().map_err(JobError::permanent)?;
    let id = event
        .key
        .strip_prefix(keys::UPLOADS)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("{key} is not an upload key")))?;
    let upload = find(&platform.db, id)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("no image upload {id}")))?;
    if upload.status != UploadStatus::Waiting {
        return Ok(());
    }
    let (status, image_id, error) =
        match register(platform, &upload.owner, Source::Object(key.clone())).await {
            Ok(image) => (UploadStatus::Registered, Some(image.id.to_string()), None),
            Err(e) if e.is_the_bytes_fault() => (UploadStatus::Refused, None, Some(e.to_string())),
            Err(e) => return Err(JobError::retry(anyhow::Error::new(e))),
        };
    use upload::Column;
    upload::Entity::update_many()
        .col_expr(Column::Status, status.into())
        .col_expr(Column::ImageId, image_id.into())
        .col_expr(Column::Error, error.into())
        .col_expr(Column::UpdatedAt, Utc::now().into())
        .filter(Column::Id.eq(upload.id.as_str()))
        .filter(Column::Status.eq(UploadStatus::Waiting))
        .exec(&platform.db)
        .await
        .map_err(JobError::retry)?;
    if let Err(error) = platform.store.delete(&key).await {
        tracing::warn!(%key, %error, "cannot remove a registered upload");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_content_type_is_a_format_sous_reads() {
        for content_type in CONTENT_TYPES {
            // HEIF is HEIC's container, whichever codec is inside; libheif reads both.
            let name = match content_type.trim_start_matches("image/") {
                "heif" => "heic",
                other => other,
            };
            assert!(
                crate::images::codec::SourceFormat::parse(name).is_some(),
                "{content_type}"
            );
        }
    }
}
