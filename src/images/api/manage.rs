//! Registering, replacing, reading, listing and deleting images.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::body_within;
use crate::images::entity::variant::{self, VariantKind};
use crate::images::placeholder::Placeholder;
use crate::images::register::{self, Source};
use crate::images::rows::{self, Image, Written};
use crate::images::transform::Focus;
use crate::images::{ImageError, hot};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, Code, ListQuery, Page, Problem, page_limit};

/// An image as its owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImageView {
    pub id: String,
    pub owner: String,
    /// Changes with the bytes, and so does `url`.
    pub version: String,
    /// Where it is served, for ever: add `?w=…&h=…&fit=…&format=…&q=…` to transform it.
    pub url: String,
    /// As uploaded: jpeg, png, gif or webp.
    pub format: String,
    /// Upright, after any EXIF rotation.
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    /// Size of the upload.
    pub bytes: u64,
    /// A BlurHash and the dominant colour, to paint before the picture arrives (absent on
    /// images registered before placeholders existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
    /// The point `fit=cover` crops keep in view.
    pub focus: FocusView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Renditions stored for this version (on `GET /v1/images/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantView>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FocusView {
    /// Across, from 0 (the left edge) to 1 (the right edge).
    pub x: f64,
    /// Down, from 0 (the top) to 1 (the bottom).
    pub y: f64,
    /// `set` through `PATCH`, `found` in the picture at registration, or `default` (the
    /// centre, until an older image's picture is looked at).
    pub source: FocusSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FocusSource {
    Set,
    Found,
    Default,
}

impl FocusView {
    fn of(image: &Image) -> Self {
        let source = match (image.focus, image.attention) {
            (Some(_), _) => FocusSource::Set,
            (None, Some(_)) => FocusSource::Found,
            (None, None) => FocusSource::Default,
        };
        let focus = image.crop_focus();
        FocusView {
            x: focus.x(),
            y: focus.y(),
            source,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VariantView {
    /// `{width}x{height}[-cover[-at{x}x{y}]][-q{quality}].{extension}`
    pub name: String,
    pub kind: VariantKind,
    pub format: String,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
}

impl ImageView {
    pub(super) fn new(image: Image, platform: &Platform) -> Self {
        let base = platform.settings.public_url.as_str().trim_end_matches('/');
        ImageView {
            url: format!("{base}{}", image.path()),
            focus: FocusView::of(&image),
            id: image.id.to_string(),
            owner: image.owner,
            version: image.version.to_string(),
            format: image.format.as_str().to_string(),
            width: image.width,
            height: image.height,
            has_alpha: image.has_alpha,
            bytes: image.bytes,
            placeholder: image.placeholder,
            created_at: image.created_at,
            updated_at: image.updated_at,
            variants: None,
        }
    }
}

impl From<variant::Model> for VariantView {
    fn from(row: variant::Model) -> Self {
        VariantView {
            name: row.name,
            kind: row.kind,
            format: row.format,
            width: row.width,
            height: row.height,
            bytes: row.bytes,
        }
    }
}

fn created(image: Image, new: bool, platform: &Platform) -> HttpResponse {
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/v1/images/{}", image.id)))
        .json(ImageView::new(image, platform))
}

/// Registers an image: the body is the file (JPEG, PNG, GIF or WebP, recognised by its bytes;
/// `Content-Type` is not trusted). The same bytes again answer 200 with the image they are.
#[utoipa::path(
    post,
    path = "/v1/images",
    tag = "images",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The image file"),
    security(("bearer" = [])),
    responses(
        (status = 201, body = ImageView, description = "Registered; its presets and ladder are being made"),
        (status = 200, body = ImageView, description = "You registered these bytes before: that image"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Corrupt or truncated"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Too many bytes, pixels or frames"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not JPEG, PNG, GIF, WebP, AVIF or HEIC (SVG is refused)"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn create(
    principal: Principal,
    platform: web::Data<Platform>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body_within(&req, body, platform.settings.images.max_bytes).await?;
    let (image, new) =
        register::create(&platform, &principal.subject, Source::Bytes(bytes)).await?;
    Ok(created(image, new, &platform))
}

/// Gives an image new bytes: a new version, and so a new URL; the old URL redirects to it.
#[utoipa::path(
    put,
    path = "/v1/images/{id}",
    tag = "images",
    params(("id" = String, Path, description = "The image id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The new image file"),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or someone else's"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "You have these bytes as another image, or the image changed meanwhile"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn replace(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let image = owned(&platform, &principal, &id).await?;
    let bytes = body_within(&req, body, platform.settings.images.max_bytes).await?;
    let image = register::replace(&platform, &image, bytes).await?;
    Ok(HttpResponse::Ok().json(ImageView::new(image, &platform)))
}

/// An image and the renditions stored for it.
#[utoipa::path(
    get,
    path = "/v1/images/{id}",
    tag = "images",
    params(("id" = String, Path, description = "The image id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImageView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or someone else's"),
    )
)]
pub(super) async fn get(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let image = owned(&platform, &principal, &id).await?;
    let variants = rows::variants(&platform.db, image.id, &image.version).await?;
    let mut view = ImageView::new(image, &platform);
    view.variants = Some(variants.into_iter().map(VariantView::from).collect());
    Ok(HttpResponse::Ok().json(view))
}

/// Largest `PATCH` body: one focus point and room for whitespace.
const PATCH_LIMIT: u64 = 4 * 1024;

/// Changes an image's settings, as a JSON merge patch: `{"focus": {"x": 0.3, "y": 0.25}}` sets
/// the point `fit=cover` crops keep in view (from 0 to 1 across and down, kept to hundredths);
/// `{"focus": null}` goes back to the one found in the picture. A crop without `fp` follows
/// the change within a day in caches (see `GET /i/…`); new bytes (`PUT`) clear it.
#[utoipa::path(
    patch,
    path = "/v1/images/{id}",
    tag = "images",
    params(("id" = String, Path, description = "The image id")),
    request_body(content = serde_json::Value, content_type = "application/merge-patch+json", description = "`{\"focus\": {\"x\": 0.3, \"y\": 0.25}}` or `{\"focus\": null}`"),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImageView, description = "Changed"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Not a valid patch: `errors` names the field"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or someone else's"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn patch(
    req: HttpRequest,
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let image = owned(&platform, &principal, &id).await?;
    let body = crate::platform::http::body_within(&req, body, PATCH_LIMIT, || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("a patch is at most {PATCH_LIMIT} bytes"),
        )
    })
    .await?;
    let focus = patched_focus(&body)?;
    let Some(focus) = focus else {
        return Ok(HttpResponse::Ok().json(ImageView::new(image, &platform)));
    };
    match rows::set_focus(&platform.db, image.id, &image.version, focus).await? {
        Written::Done => {}
        _ => return Err(ImageError::Changed.into()),
    }
    hot::forget(image.id).await;
    let image = owned(&platform, &principal, &id).await?;
    Ok(HttpResponse::Ok().json(ImageView::new(image, &platform)))
}

/// The focus a patch asks for: `None` when it leaves the focus alone, `Some(None)` to clear it.
fn patched_focus(body: &[u8]) -> Result<Option<Option<Focus>>, ApiError> {
    let invalid = |field: &str, message: String| {
        ApiError::bad_request(message.clone()).with_field(field.to_string(), message)
    };
    let patch: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| invalid("/", format!("the body must be a JSON object: {e}")))?;
    let mut focus = None;
    for (field, value) in patch {
        match (field.as_str(), value) {
            ("focus", serde_json::Value::Null) => focus = Some(None),
            ("focus", serde_json::Value::Object(point)) => {
                let part = |name: &str| {
                    let field = format!("/focus/{name}");
                    match point.get(name).and_then(serde_json::Value::as_f64) {
                        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
                        Some(v) => Err(invalid(&field, format!("must be from 0 to 1, got {v}"))),
                        None => Err(invalid(&field, "must be a number from 0 to 1".into())),
                    }
                };
                if let Some(other) = point.keys().find(|k| !matches!(k.as_str(), "x" | "y")) {
                    return Err(invalid(
                        &format!("/focus/{other}"),
                        "a focus point has only x and y".into(),
                    ));
                }
                focus = Some(Some(Focus::at(part("x")?, part("y")?)));
            }
            ("focus", _) => {
                return Err(invalid(
                    "/focus",
                    "must be an object {\"x\": …, \"y\": …} or null".into(),
                ));
            }
            (other, _) => {
                return Err(invalid(
                    &format!("/{other}"),
                    format!("`{other}` cannot be changed; only focus can"),
                ));
            }
        }
    }
    Ok(focus)
}

/// Deletes an image: its URLs answer 404 at once (a CDN may keep its copies until they expire).
#[utoipa::path(
    delete,
    path = "/v1/images/{id}",
    tag = "images",
    params(("id" = String, Path, description = "The image id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or someone else's"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn delete(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let image = owned(&platform, &principal, &id).await?;
    register::delete(&platform, &image).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's images, newest first (an admin's: everyone's, or one owner's).
#[utoipa::path(
    get,
    path = "/v1/images",
    tag = "images",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ImageView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`owner` names someone else and the caller is not an admin"),
    )
)]
pub(super) async fn list(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let owner = principal.listing_scope(query.owner.as_deref())?;
    let images = rows::list(
        &platform.db,
        owner.as_deref(),
        query.after_id().as_deref(),
        limit,
    )
    .await?;
    let page = Page::new(images, limit, |image| image.id.to_string())
        .map(|image| ImageView::new(image, &platform));
    Ok(HttpResponse::Ok().json(page))
}

/// The image, if the caller owns it or is an admin; 404 otherwise, as for a missing one.
async fn owned(platform: &Platform, principal: &Principal, id: &str) -> Result<Image, ApiError> {
    let not_found = || ApiError::not_found(format!("no image {id}"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    rows::find(&platform.db, id)
        .await?
        .filter(|image| principal.is_owner_or_admin(&image.owner))
        .ok_or_else(not_found)
}
