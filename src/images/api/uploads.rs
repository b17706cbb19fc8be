//! Direct uploads: a URL to put the file to, and what became of it.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::manage::ImageView;
use crate::images::entity::upload::{self, UploadStatus};
use crate::images::rows;
use crate::images::uploads::{self, CONTENT_TYPES};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, Code, Problem};
use crate::platform::uploads::UploadTicket;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartUpload {
    /// The `Content-Type` the file will be put with: image/jpeg, image/png, image/gif or
    /// image/webp (the bytes decide the format; this is bound into the URL's signature).
    pub content_type: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadView {
    pub id: String,
    pub status: UploadStatus,
    /// Where to put the file, while `waiting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTicket>,
    /// The image it became, once `registered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageView>,
    /// Why it was `refused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UploadView {
    fn new(row: upload::Model) -> Self {
        UploadView {
            id: row.id,
            status: row.status,
            upload: None,
            image: None,
            error: row.error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A URL to put an image file to directly, without passing through the API; the file is then
/// registered as if posted to `/v1/images`. Follow the upload at `Location`.
#[utoipa::path(
    post,
    path = "/v1/images/uploads",
    tag = "images",
    request_body = StartUpload,
    security(("bearer" = [])),
    responses(
        (status = 201, body = UploadView, description = "Put the file to `upload.upload_url`, with `upload.headers`"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not a content type sous reads"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn start(
    principal: Principal,
    platform: web::Data<Platform>,
    body: web::Json<StartUpload>,
) -> Result<HttpResponse, ApiError> {
    let content_type = body.into_inner().content_type.to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::new(
            Code::ImageUnsupported,
            format!(
                "content_type `{content_type}` is not one sous reads: {}",
                CONTENT_TYPES.join(", ")
            ),
        )
        .with_field("content_type", CONTENT_TYPES.join(", ")));
    }
    let (row, ticket) = uploads::start(&platform, &principal.subject, &content_type).await?;
    let location = format!("/v1/images/uploads/{}", row.id);
    let mut view = UploadView::new(row);
    view.upload = Some(ticket);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(view))
}

/// A direct upload: waiting for its file, registered (with the image), or refused (with why).
#[utoipa::path(
    get,
    path = "/v1/images/uploads/{id}",
    tag = "images",
    params(("id" = String, Path, description = "The upload id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = UploadView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such upload, or someone else's"),
    )
)]
pub(super) async fn get(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found(format!("no image upload {id}"));
    let upload_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let row = uploads::find(&platform.db, upload_id)
        .await?
        .filter(|row| principal.is_owner_or_admin(&row.owner))
        .ok_or_else(not_found)?;
    let image_id = row
        .image_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok());
    let mut view = UploadView::new(row);
    if let Some(image_id) = image_id {
        view.image = rows::find(&platform.db, image_id)
            .await?
            .map(|image| ImageView::new(image, &platform));
    }
    Ok(HttpResponse::Ok().json(view))
}
