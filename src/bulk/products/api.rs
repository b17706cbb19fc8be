//! `POST /v1/bulk/products` (a CSV), its kept report and failed rows, and the products.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::csv::{FileError, RowError};
use super::{ImportError, ProductImage};
use crate::bulk::entity::{product, product_import};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, Code, Page, Problem, body_within, page_limit};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/bulk/products").post(import))
        .service(web::resource("/v1/bulk/product-imports/{id}").get(report))
        .service(web::resource("/v1/bulk/product-imports/{id}/failed-rows.csv").get(failed_rows))
        .service(web::resource("/v1/products").get(list))
        .service(web::resource("/v1/products/{sku}").get(get));
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        let detail = error.to_string();
        match error {
            ImportError::File(FileError::Unreadable(_)) => ApiError::new(Code::CsvInvalid, detail),
            ImportError::File(FileError::TooManyRows { .. }) => {
                ApiError::new(Code::CsvInvalid, detail)
            }
            ImportError::Database(e) => e.into(),
            ImportError::Unexpected(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub id: String,
    /// Checked only: nothing was applied.
    pub dry_run: bool,
    /// `utf-8`, `utf-8-bom` or `cp932`, as detected.
    pub encoding: String,
    /// Rows read (blank ones not counted).
    pub rows: i32,
    /// Products created or updated.
    pub applied: i32,
    /// Rows with problems, each in `errors` (by line, the header being line 1, and column).
    pub failed: i32,
    pub errors: Vec<RowError>,
    /// Where the failed rows are, as a CSV with an `error` column, to fix and upload again.
    pub failed_rows_url: String,
    pub created_at: DateTime<Utc>,
}

impl ImportReport {
    fn new(row: product_import::Model) -> Self {
        ImportReport {
            failed_rows_url: format!("/v1/bulk/product-imports/{}/failed-rows.csv", row.id),
            errors: serde_json::from_str(&row.errors).unwrap_or_default(),
            id: row.id,
            dry_run: row.dry_run,
            encoding: row.encoding,
            rows: row.rows,
            applied: row.applied,
            failed: row.failed,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check the file and report, without applying anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports products from a CSV (UTF-8, with or without a BOM, or CP932 as Excel writes it):
/// columns `sku`, `name`, `price` (whole yen), and optionally `description` and `image_1` to
/// `image_10` (file names from your archives, see `GET /v1/bulk/images`). Good rows apply (a
/// known SKU is updated), bad ones are reported by line and column.
#[utoipa::path(
    post,
    path = "/v1/bulk/products",
    tag = "bulk",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The product CSV, at most 10 MB and 10,000 rows"),
    security(("bearer" = [])),
    responses(
        (status = 201, body = ImportReport, description = "Imported (or checked, with dry_run); `failed` rows are in `errors`"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The file cannot be read as a product table: encoding, header, too many rows"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn import(
    req: HttpRequest,
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ImportQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = platform.settings.bulk.max_csv_bytes;
    let bytes = body_within(&req, body, limit, || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("the CSV is larger than the limit of {limit} bytes"),
        )
    })
    .await?;
    let report = super::import(&platform, &principal.subject, bytes, query.dry_run).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/bulk/product-imports/{}", report.id),
        ))
        .json(ImportReport::new(report)))
}

async fn owned_report(
    platform: &Platform,
    principal: &Principal,
    id: &str,
) -> Result<product_import::Model, ApiError> {
    super::find_import(&platform.db, id)
        .await?
        .filter(|row| principal.is_owner_or_admin(&row.owner))
        .ok_or_else(|| ApiError::not_found(format!("no product import {id}")))
}

/// An import's report, again.
#[utoipa::path(
    get,
    path = "/v1/bulk/product-imports/{id}",
    tag = "bulk",
    params(("id" = String, Path, description = "The import id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImportReport),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn report(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = owned_report(&platform, &principal, &id).await?;
    Ok(HttpResponse::Ok().json(ImportReport::new(row)))
}

/// An import's failed rows as a CSV (UTF-8 with a BOM, so Excel reads it), with an `error`
/// column: fix them and upload that file again.
#[utoipa::path(
    get,
    path = "/v1/bulk/product-imports/{id}/failed-rows.csv",
    tag = "bulk",
    params(("id" = String, Path, description = "The import id")),
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn failed_rows(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = owned_report(&platform, &principal, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"failed-rows-{}.csv\"", row.id),
        ))
        .body(row.failed_rows))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    /// Yen.
    pub price: i64,
    pub description: String,
    pub images: Vec<ProductImageView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductImageView {
    /// The file name the CSV gave.
    pub name: String,
    pub image_id: String,
    /// Where it is served; absent when the image was deleted since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

async fn product_view(platform: &Platform, row: product::Model) -> Result<ProductView, ApiError> {
    let stored: Vec<ProductImage> = serde_json::from_str(&row.images).unwrap_or_default();
    let mut images = Vec::with_capacity(stored.len());
    for image in stored {
        images.push(ProductImageView {
            url: crate::images::url_of(platform, &image.image_id).await?,
            name: image.name,
            image_id: image.image_id,
        });
    }
    Ok(ProductView {
        sku: row.sku,
        name: row.name,
        price: row.price,
        description: row.description,
        images,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    /// Cursor: the `next` of the previous page (a SKU).
    pub after: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// The caller's products, by SKU.
#[utoipa::path(
    get,
    path = "/v1/products",
    tag = "bulk",
    params(ProductsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ProductView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ProductsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = super::list(
        &platform.db,
        &principal.subject,
        query.after.as_deref(),
        limit,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(product_view(&platform, row).await?);
    }
    Ok(HttpResponse::Ok().json(Page::new(items, limit, |p| p.sku.clone())))
}

/// One of the caller's products, with its images' URLs.
#[utoipa::path(
    get,
    path = "/v1/products/{sku}",
    tag = "bulk",
    params(("sku" = String, Path, description = "The product's SKU")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProductView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get(
    principal: Principal,
    platform: web::Data<Platform>,
    sku: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = super::find(&platform.db, &principal.subject, &sku)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no product {sku}")))?;
    Ok(HttpResponse::Ok().json(product_view(&platform, row).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(import, report, failed_rows, list, get),
    components(schemas(ImportReport, RowError, ProductView, ProductImageView))
)]
pub struct ProductsApi;
