//! `/v1/bulk`: image archives (a URL to upload one to, then its progress and per-entry results)
//! and the seller's images by file name.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::archive::{ArchiveStatus, Model as ArchiveRow};
use super::entity::entry::{EntryStatus, Model as EntryRow};
use super::rows;
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, ListQuery, Page, Problem, page_limit};
use crate::platform::storage::ObjectKey;
use crate::platform::uploads::{self, UploadRequest, UploadTicket};

/// Where archives are uploaded; their storage events start the ingest.
pub const ARCHIVES: &str = "bulk/archives/";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/bulk/image-archives")
            .get(list_archives)
            .post(start),
    )
    .service(web::resource("/v1/bulk/image-archives/{id}").get(get_archive))
    .service(web::resource("/v1/bulk/images").get(list_images));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArchiveView {
    pub id: String,
    /// `waiting` (for the upload), `queued`, `running`, `done` or `failed`.
    pub status: ArchiveStatus,
    pub counts: CountsView,
    /// Why it failed as a whole (not a ZIP, truncated, encrypted, too many images, replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Size of the archive, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    /// Where to put the archive (on creation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTicket>,
    /// Each entry's outcome, in archive order (on `GET /v1/bulk/image-archives/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Page<EntryView>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountsView {
    /// Images in the archive: folders and system files are not counted.
    pub total: i32,
    pub registered: i32,
    /// Folders, `__MACOSX/`, `.DS_Store`, `Thumbs.db`.
    pub skipped: i32,
    pub refused: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    /// The entry's place in the archive's directory, from 0.
    pub index: i32,
    pub name: String,
    /// `registered` or `refused`.
    pub status: EntryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Where the image is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ArchiveView {
    async fn new(platform: &Platform, row: ArchiveRow) -> Result<Self, ApiError> {
        // Uploaded, and waiting for a worker.
        let status = if row.status == ArchiveStatus::Waiting {
            let key = ObjectKey::parse(&row.key)
                .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
            match platform.store.head(&key).await? {
                Some(_) => ArchiveStatus::Queued,
                None => ArchiveStatus::Waiting,
            }
        } else {
            row.status
        };
        Ok(ArchiveView {
            id: row.id,
            status,
            counts: CountsView {
                total: row.total,
                registered: row.registered,
                skipped: row.skipped,
                refused: row.refused,
            },
            reason: row.reason,
            bytes: row.bytes,
            upload: None,
            entries: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

async fn url_of(platform: &Platform, image_id: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(id) = image_id else { return Ok(None) };
    Ok(crate::images::url_of(platform, id).await?)
}

/// A URL to upload a ZIP of images to (`application/zip`, at most `bulk.max_archive_bytes`);
/// once it is there, its images are registered in the background. Follow it at `Location`.
#[utoipa::path(
    post,
    path = "/v1/bulk/image-archives",
    tag = "bulk",
    security(("bearer" = [])),
    responses(
        (status = 201, body = ArchiveView, description = "Put the ZIP to `upload.upload_url`, with `upload.headers`"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn start(
    principal: Principal,
    platform: web::Data<Platform>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::now_v7().to_string();
    let key = ObjectKey::parse(&format!("{ARCHIVES}{id}.zip")).expect("a UUID makes a valid key");
    // The URL first: without it nothing can be uploaded, so a row that fails after it leaves
    // only an intent that expires unused.
    let ticket = uploads::create(
        &platform,
        UploadRequest {
            owner: principal.subject.clone(),
            key: key.clone(),
            content_types: vec!["application/zip".into()],
            max_bytes: platform.settings.bulk.max_archive_bytes,
            expires_in: None,
        },
    )
    .await?;
    let row = rows::insert_archive(&platform.db, &id, &principal.subject, key.as_str()).await?;
    let mut view = ArchiveView::new(&platform, row).await?;
    view.upload = Some(ticket);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/bulk/image-archives/{id}")))
        .json(view))
}

/// The caller's archives, newest first (an admin's: everyone's, or one owner's).
#[utoipa::path(
    get,
    path = "/v1/bulk/image-archives",
    tag = "bulk",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ArchiveView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list_archives(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let owner = principal.listing_scope(query.owner.as_deref())?;
    let rows = rows::list_archives(
        &platform.db,
        owner.as_deref(),
        query.after_id().as_deref(),
        limit,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(ArchiveView::new(&platform, row).await?);
    }
    Ok(HttpResponse::Ok().json(Page::new(items, limit, |a| a.id.clone())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Cursor: the `next` of the previous page of entries.
    pub after: Option<u32>,
    /// Entries per page, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// An archive: its status, counts, and a page of its entries' outcomes.
#[utoipa::path(
    get,
    path = "/v1/bulk/image-archives/{id}",
    tag = "bulk",
    params(("id" = String, Path, description = "The archive id"), EntriesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ArchiveView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such archive, or someone else's"),
    )
)]
pub(super) async fn get_archive(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found(format!("no archive {id}"));
    let row = rows::find_archive(&platform.db, &id)
        .await?
        .filter(|row| principal.is_owner_or_admin(&row.owner))
        .ok_or_else(not_found)?;
    let limit = page_limit(query.limit)?;
    let entries = rows::entries(&platform.db, &row.id, query.after, limit).await?;
    let mut items = Vec::with_capacity(entries.len());
    for entry in entries {
        items.push(entry_view(&platform, entry).await?);
    }
    let mut view = ArchiveView::new(&platform, row).await?;
    view.entries = Some(Page::new(items, limit, |e| e.index.to_string()));
    Ok(HttpResponse::Ok().json(view))
}

async fn entry_view(platform: &Platform, row: EntryRow) -> Result<EntryView, ApiError> {
    Ok(EntryView {
        url: url_of(platform, row.image_id.as_deref()).await?,
        index: row.entry_index,
        name: row.name,
        status: row.status,
        image_id: row.image_id,
        reason: row.reason,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NamedImage {
    /// The file name in the archive, as product CSVs refer to it.
    pub name: String,
    pub image_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The latest archive that had the name.
    pub archive_id: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImagesQuery {
    /// Cursor: the `next` of the previous page (a name).
    pub after: Option<String>,
    /// Only the image of this name.
    pub name: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// The caller's images from archives, by file name: a later archive's image of a name stands
/// for that name.
#[utoipa::path(
    get,
    path = "/v1/bulk/images",
    tag = "bulk",
    params(ImagesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<NamedImage>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list_images(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ImagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = rows::images(
        &platform.db,
        &principal.subject,
        query.name.as_deref(),
        query.after.as_deref(),
        limit,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(NamedImage {
            url: url_of(&platform, Some(&row.image_id)).await?,
            name: row.name,
            image_id: row.image_id,
            archive_id: row.archive_id,
        });
    }
    Ok(HttpResponse::Ok().json(Page::new(items, limit, |image| image.name.clone())))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(start, list_archives, get_archive, list_images),
    components(schemas(
        ArchiveView,
        CountsView,
        EntryView,
        NamedImage,
        ArchiveStatus,
        EntryStatus
    )),
    tags((name = "bulk", description = "Bulk ingest: ZIPs of a seller's images, read back by ranged reads"))
)]
pub struct BulkApi;
