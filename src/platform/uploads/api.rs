//! `PUT /uploads/{token}`: the upload URL of local stores. Streams the body into the store,
//! checking type before and size while it reads; a body that fails half-way leaves nothing.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use super::{IntentStatus, TokenError, UploadError, entity};
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
        .verify(&token, Utc::now().timestamp())?;
    let intent = super::find(&platform.db, &claims.intent)
        .await?
        .filter(|i| i.owner == claims.owner && i.key == claims.key)
        .ok_or_else(|| {
            ApiError::forbidden("this upload URL does not match an upload of its owner")
        })?;
    // The intent's terms, not the token's: a renewal may have changed them since this URL
    // was signed.
    let content_types: Vec<String> =
        serde_json::from_str(&intent.content_types).map_err(|e| ApiError::internal(e.into()))?;
    let max_bytes = u64::try_from(intent.max_bytes).unwrap_or(0);

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
    if !content_types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&content_type))
    {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "Content-Type {content_type:?} is not accepted here; expected {}",
                content_types.join(" or ")
            ),
        ));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes) {
        return Err(too_large(max_bytes));
    }

    claim(&platform, &intent).await?;
    let key = ObjectKey::parse(&claims.key).map_err(|e| ApiError::internal(e.into()))?;
    let written = match platform.store.put_stream(&key, body, max_bytes).await {
        Ok(written) => written,
        Err(error) => {
            release(&platform, &intent.id).await?;
            return Err(match error {
                PutStreamError::TooLarge { limit } => too_large(limit),
                PutStreamError::Body(e) => {
                    ApiError::bad_request(format!("the body could not be read to its end: {e}"))
                }
                PutStreamError::Store(e) => e.into(),
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
        Some(IntentStatus::Received) => {
            ApiError::new(Code::UploadFinished, "this upload is already finished")
        }
        Some(IntentStatus::Rejected) => ApiError::new(
            Code::UploadFinished,
            "this upload already came, and was refused",
        ),
        // Pending again: a concurrent PUT failed and let go of it between the two reads.
        Some(IntentStatus::Uploading | IntentStatus::Pending) => {
            ApiError::new(Code::UploadInProgress, "this upload is in progress")
        }
        Some(IntentStatus::Expired) | None => {
            ApiError::new(Code::UploadExpired, "this upload has expired")
        }
    })
}

/// The token of an upload URL: only expiry is worth telling apart, the rest is refused alike.
impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Expired => ApiError::new(Code::UploadExpired, error.to_string()),
            TokenError::Malformed | TokenError::Forged => ApiError::forbidden(error.to_string()),
        }
    }
}

/// What a module asking for an upload can be answered. Unrouted keys and incomplete requests
/// are the module's mistakes, not the client's.
impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::KeyTaken(_) => {
                ApiError::conflict("an upload for this object exists already")
            }
            UploadError::Received(_) => ApiError::new(Code::UploadFinished, error.to_string()),
            UploadError::InProgress(_) => ApiError::new(Code::UploadInProgress, error.to_string()),
            UploadError::Unrouted(_) | UploadError::Invalid(_) => {
                ApiError::internal(anyhow::Error::new(error).context("cannot start an upload"))
            }
            UploadError::Database(e) => e.into(),
            UploadError::Signing(e) => e.into(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_have_their_codes() {
        for error in [
            TokenError::Malformed,
            TokenError::Forged,
            TokenError::Expired,
        ] {
            let expected = match error {
                TokenError::Expired => Code::UploadExpired,
                TokenError::Malformed | TokenError::Forged => Code::Forbidden,
            };
            let detail = error.to_string();
            let api = ApiError::from(error);
            assert_eq!((api.code(), api.detail()), (expected, detail.as_str()));
        }
    }

    #[test]
    fn upload_errors_have_their_codes() {
        let store = || object_store::Error::Generic {
            store: "S3",
            source: "signing credentials timed out".into(),
        };
        for error in [
            UploadError::Unrouted("elsewhere/x".into()),
            UploadError::KeyTaken("images/uploads/x".into()),
            UploadError::Received("meal-photos/x".into()),
            UploadError::InProgress("meal-photos/x".into()),
            UploadError::Invalid("no content type".into()),
            UploadError::Database(sea_orm::DbErr::Custom("boom".into())),
            UploadError::Signing(store()),
        ] {
            let expected = match &error {
                UploadError::KeyTaken(_) => Code::Conflict,
                UploadError::Received(_) => Code::UploadFinished,
                UploadError::InProgress(_) => Code::UploadInProgress,
                UploadError::Unrouted(_) | UploadError::Invalid(_) | UploadError::Database(_) => {
                    Code::Internal
                }
                UploadError::Signing(_) => Code::ServiceUnavailable,
            };
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{api}");
            assert!(!api.detail().contains("images/uploads"), "{api}");
            assert!(!api.detail().contains("credentials"), "{api}");
        }
    }
}
