//! `/v1/meal-photos`: a device asks for upload URLs for a batch of photos, puts the bytes
//! there, and polls what changed since its cursor.

use std::collections::HashSet;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::photo::{Model as Photo, PhotoStatus};
use super::rows::{self, NewPhoto};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, Code, MAX_PAGE, Problem};
use crate::platform::storage::ObjectKey;
use crate::platform::uploads::{self, UploadError, UploadRequest, UploadTicket};

/// Where photos are uploaded; their storage events start the classification.
pub const PHOTOS: &str = "meal-photos/";

/// What a device may upload.
pub const CONTENT_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/heic"];

const MAX_DEVICE_PHOTO_ID: usize = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/meal-photos")
            .get(changed_since)
            .post(create),
    )
    .service(
        web::resource("/v1/meal-photos/{id}")
            .get(get_photo)
            .delete(delete_photo),
    );
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePhotos {
    /// Up to `classification.max_photos_per_request` (100) photos.
    pub photos: Vec<PhotoToUpload>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoToUpload {
    /// The device's own id for the photo: asking again for it returns the same photo.
    pub device_photo_id: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/heic`.
    pub content_type: String,
    /// Bytes the device will upload: the upload may be no larger.
    pub size: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    pub id: String,
    pub device_photo_id: String,
    /// `waiting` (for the upload), `queued`, `processing`, `done` or `failed`.
    pub status: PhotoStatus,
    /// When done: whether it shows a meal.
    pub is_food: Option<bool>,
    /// When done: the food probability, 0 to 1.
    pub score: Option<f64>,
    /// When done: the model that decided.
    pub model: Option<ModelView>,
    pub classified_at: Option<DateTime<Utc>>,
    /// When failed: why.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// While waiting, on `POST` only: where to put the photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTicket>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelView {
    pub name: String,
    pub version: String,
}

impl From<Photo> for PhotoView {
    fn from(row: Photo) -> Self {
        let model = match (row.model_name, row.model_version) {
            (Some(name), Some(version)) => Some(ModelView { name, version }),
            _ => None,
        };
        PhotoView {
            id: row.id,
            device_photo_id: row.device_photo_id,
            status: row.status,
            is_food: row.is_food,
            score: row.score,
            model,
            classified_at: row.classified_at,
            reason: row.reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            upload: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedPhotos {
    /// In the order asked.
    pub photos: Vec<PhotoView>,
}

/// Checks the whole batch before anything is created: a 413 when the only trouble is sizes,
/// else a 400 naming every bad field.
fn check(photos: &[PhotoToUpload], platform: &Platform) -> Result<(), ApiError> {
    let settings = &platform.settings.classification;
    if photos.is_empty() {
        return Err(ApiError::bad_request("`photos` is empty"));
    }
    if photos.len() > settings.max_photos_per_request {
        return Err(ApiError::bad_request(format!(
            "{} photos asked for; at most {} per request",
            photos.len(),
            settings.max_photos_per_request
        )));
    }
    let mut problems = Vec::new();
    let mut too_large = 0;
    let mut seen = HashSet::new();
    for (i, photo) in photos.iter().enumerate() {
        let id = photo.device_photo_id.as_str();
        if id.is_empty() || id.len() > MAX_DEVICE_PHOTO_ID || id.chars().any(char::is_control) {
            problems.push((
                format!("photos[{i}].device_photo_id"),
                format!("must be 1 to {MAX_DEVICE_PHOTO_ID} bytes without control characters"),
            ));
        } else if !seen.insert(id) {
            problems.push((
                format!("photos[{i}].device_photo_id"),
                format!("`{id}` is asked for twice"),
            ));
        }
        if !CONTENT_TYPES.contains(&photo.content_type.as_str()) {
            problems.push((
                format!("photos[{i}].content_type"),
                format!(
                    "`{}` is not accepted: one of {}",
                    photo.content_type,
                    CONTENT_TYPES.join(", ")
                ),
            ));
        }
        if photo.size == 0 || photo.size > settings.max_photo_bytes {
            if photo.size > 0 {
                too_large += 1;
            }
            problems.push((
                format!("photos[{i}].size"),
                format!(
                    "{} bytes: a photo is 1 to {} bytes",
                    photo.size, settings.max_photo_bytes
                ),
            ));
        }
    }
    let Some((field, message)) = problems.first() else {
        return Ok(());
    };
    let mut error = if too_large == problems.len() {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("a photo is too large: {field} {message}"),
        )
    } else {
        ApiError::bad_request(format!("{field} {message}"))
    };
    for (field, message) in problems {
        error = error.with_field(field, message);
    }
    Err(error)
}

/// Upload URLs for a batch of photos. Asking again for a device photo returns the same photo,
/// with a fresh URL while it still waits for its upload.
#[utoipa::path(
    post,
    path = "/v1/meal-photos",
    tag = "meal-photos",
    request_body = CreatePhotos,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CreatedPhotos, description = "PUT each photo to its `upload.upload_url` with `upload.headers`"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "A photo is larger than allowed"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn create(
    principal: Principal,
    platform: web::Data<Platform>,
    body: web::Json<CreatePhotos>,
) -> Result<HttpResponse, ApiError> {
    let photos = body.into_inner().photos;
    check(&photos, &platform)?;
    let mut created = Vec::with_capacity(photos.len());
    for photo in photos {
        created.push(create_one(&platform, &principal.subject, photo).await?);
    }
    Ok(HttpResponse::Ok().json(CreatedPhotos { photos: created }))
}

async fn create_one(
    platform: &Platform,
    owner: &str,
    photo: PhotoToUpload,
) -> Result<PhotoView, ApiError> {
    let id = Uuid::now_v7().to_string();
    let key = format!("{PHOTOS}{id}");
    let bytes = i64::try_from(photo.size).unwrap_or(i64::MAX);
    let row = rows::insert_or_find(
        &platform.db,
        NewPhoto {
            id: &id,
            owner,
            device_photo_id: &photo.device_photo_id,
            key: &key,
            content_type: &photo.content_type,
            bytes,
        },
    )
    .await?;
    if row.status != PhotoStatus::Waiting {
        return Ok(row.into());
    }
    if row.id != id && (row.content_type != photo.content_type || row.bytes != bytes) {
        rows::set_upload(&platform.db, &row.id, &photo.content_type, bytes).await?;
    }
    let key = ObjectKey::parse(&row.key).map_err(|e| ApiError::internal(e.into()))?;
    let ticket = uploads::issue(
        platform,
        UploadRequest {
            owner: owner.to_string(),
            key,
            content_types: vec![photo.content_type],
            max_bytes: photo.size,
            expires_in: None,
        },
    )
    .await;
    let mut view = PhotoView::from(row);
    match ticket {
        Ok(ticket) => view.upload = Some(ticket),
        // Being uploaded, or uploaded with its event on its way: no new URL.
        Err(UploadError::Received(_) | UploadError::InProgress(_)) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(view)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// The `next_cursor` of the previous poll; omit it the first time.
    pub changed_since: Option<String>,
    /// Only photos now in this status.
    pub status: Option<PhotoStatus>,
    /// Photos per page, 1 to 500 (default 500).
    pub limit: Option<u64>,
    /// Admins only: one owner's photos (default: everyone's).
    pub owner: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changes {
    /// Photos in the order of their last change; each appears once, as it is now.
    pub items: Vec<PhotoView>,
    /// Pass as `changed_since` next time: never skips a change, never repeats one.
    pub next_cursor: String,
    /// Whether more changes wait: poll again at once.
    pub has_more: bool,
}

/// What changed since the cursor: what the app polls. The cursor is over a change sequence
/// whose values become visible in order, so no result is missed or repeated between polls.
#[utoipa::path(
    get,
    path = "/v1/meal-photos",
    tag = "meal-photos",
    params(ChangesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Changes),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn changed_since(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let after = match query.changed_since.as_deref() {
        None | Some("") => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|c| *c >= 0)
            .ok_or_else(|| {
                ApiError::new(
                    Code::InvalidQuery,
                    format!(
                        "`{cursor}` is not a cursor: pass the `next_cursor` of a previous poll"
                    ),
                )
            })?,
    };
    let limit = match query.limit {
        None => MAX_PAGE,
        Some(limit @ 1..=MAX_PAGE) => limit,
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidQuery,
                format!("limit {other}: pass 1 to {MAX_PAGE}"),
            ));
        }
    };
    let owner = principal.listing_scope(query.owner.as_deref())?;
    let rows =
        rows::changed_since(&platform.db, owner.as_deref(), after, query.status, limit).await?;
    let next = rows.last().map_or(after, |row| row.change_seq);
    Ok(HttpResponse::Ok().json(Changes {
        has_more: rows.len() as u64 == limit,
        items: rows.into_iter().map(PhotoView::from).collect(),
        next_cursor: next.to_string(),
    }))
}

async fn owned(platform: &Platform, principal: &Principal, id: &str) -> Result<Photo, ApiError> {
    rows::find(&platform.db, id)
        .await?
        .filter(|row| principal.is_owner_or_admin(&row.owner))
        .ok_or_else(|| ApiError::not_found(format!("no meal photo {id}")))
}

/// One photo: its status, and its decision once done.
#[utoipa::path(
    get,
    path = "/v1/meal-photos/{id}",
    tag = "meal-photos",
    params(("id" = String, Path, description = "The photo id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PhotoView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such photo, or someone else's"),
    )
)]
pub(super) async fn get_photo(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&platform, &principal, &id).await?;
    Ok(HttpResponse::Ok().json(PhotoView::from(row)))
}

/// Deletes the photo: its upload URLs stop working, then its object and its row go.
#[utoipa::path(
    delete,
    path = "/v1/meal-photos/{id}",
    tag = "meal-photos",
    params(("id" = String, Path, description = "The photo id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such photo, or someone else's"),
    )
)]
pub(super) async fn delete_photo(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&platform, &principal, &id).await?;
    uploads::cancel(&platform.db, &row.key).await?;
    let key = ObjectKey::parse(&row.key).map_err(|e| ApiError::internal(e.into()))?;
    match platform.store.delete(&key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    rows::delete(&platform.db, &row.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, changed_since, get_photo, delete_photo),
    components(schemas(
        CreatePhotos,
        PhotoToUpload,
        CreatedPhotos,
        PhotoView,
        ModelView,
        Changes,
        PhotoStatus
    )),
    tags((name = "meal-photos", description = "Meal photos: direct upload, food / not-food classification, results by polling"))
)]
pub struct MealPhotosApi;
