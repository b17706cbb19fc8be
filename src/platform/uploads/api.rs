//! `PUT /uploads/{token}`: the upload URL of local stores. Streams the body into the store,
//! checking type before and size while it reads; a body that fails half-way leaves nothing.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use super::{IntentStatus, entity};
use crate::platform::Platform;
use crate::platform::events::ObjectCreated;
use crate::platform::http::{ApiError, Code};
use crate::platform::storage::{ObjectKey, PutStreamError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/uploads/{token}").put(put_upload));
}

#[derive(Debug, Serialize)]
struct Uploaded {
    key: String,
    bytes: u64,
}

async fn put_upload(
    req: HttpRequest,
    platform: web::Data<Platform>,
    token: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let claims = platform
        .upload_signer
        .verify(&token, Utc::now().timestamp())
        .map_err(|e| ApiError::forbidden(e.to_string()))?;
    let intent = super::find(&platform.db, &claims.intent)
        .await?
        .filter(|i| i.owner == claims.owner && i.key == claims.key)
        .ok_or_else(|| {
            ApiError::forbidden("this upload URL does not match an upload of its owner")
        })?;

    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !claims
        .content_types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&content_type))
    {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "Content-Type {content_type:?} is not accepted here; expected {}",
                claims.content_types.join(" or ")
            ),
        ));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > claims.max_bytes) {
        return Err(too_large(claims.max_bytes));
    }

    claim(&platform, &intent).await?;
    let key = ObjectKey::parse(&claims.key).map_err(|e| ApiError::internal(e.into()))?;
    let written = match platform
        .store
        .put_stream(&key, body, claims.max_bytes)
        .await
    {
        Ok(written) => written,
        Err(error) => {
            release(&platform, &intent.id).await?;
            return Err(match error {
                PutStreamError::TooLarge { limit } => too_large(limit),
                PutStreamError::Body(e) => {
                    ApiError::bad_request(format!("the body could not be read to its end: {e}"))
                }
                PutStreamError::Store(e) => {
                    ApiError::internal(anyhow::Error::new(e).context("failed to store an upload"))
                }
            });
        }
    };

    let event = ObjectCreated {
        bucket: platform.store.bucket().to_string(),
        key: claims.key.clone(),
        version: String::new(),
        size: Some(written),
        content_type: Some(content_type),
    };
    // The object is safe; if its work cannot be queued now, reconciliation raises it later.
    if let Err(error) = super::deliver(&platform, event).await {
        tracing::warn!(key = %claims.key, %error, "upload stored but its work is not queued yet");
    }
    Ok(HttpResponse::Created().json(Uploaded {
        key: claims.key,
        bytes: written,
    }))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        Code::PayloadTooLarge,
        format!("the upload is larger than its limit of {limit} bytes"),
    )
}

/// Takes the intent for this PUT; a finished or concurrent upload answers 409.
async fn claim(platform: &Platform, intent: &entity::Model) -> Result<(), ApiError> {
    use entity::Column;
    let taken = entity::Entity::update_many()
        .col_expr(Column::Status, IntentStatus::Uploading.into())
        .filter(Column::Id.eq(intent.id.as_str()))
        .filter(Column::Status.eq(IntentStatus::Pending))
        .exec(&platform.db)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(());
    }
    let current = super::find(&platform.db, &intent.id)
        .await?
        .map(|i| i.status);
    Err(match current {
        Some(IntentStatus::Received) => ApiError::conflict("this upload is already finished"),
        Some(IntentStatus::Uploading) => ApiError::conflict("this upload is in progress"),
        _ => ApiError::forbidden("this upload has expired"),
    })
}

async fn release(platform: &Platform, intent_id: &str) -> Result<(), ApiError> {
    use entity::Column;
    entity::Entity::update_many()
        .col_expr(Column::Status, IntentStatus::Pending.into())
        .filter(Column::Id.eq(intent_id))
        .filter(Column::Status.eq(IntentStatus::Uploading))
        .exec(&platform.db)
        .await?;
    Ok(())
}
