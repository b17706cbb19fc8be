//! The ingredient table (admin scope): import, rows, how a name resolves, what went unmatched.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ads::AdError;
use crate::ads::ingredients::{self, ImportReport};
use crate::ads::normalize::MatchedBy;
use crate::platform::Platform;
use crate::platform::auth::Admin;
use crate::platform::http::{ApiError, Page, Problem, page_limit};

/// Largest table file: 20,000 rows are about 1 MB.
pub const MAX_CSV_BYTES: u64 = 10 * 1024 * 1024;

/// Adds or changes the rows of a CSV with the columns `normalized_name`, `written_name` and
/// `concept_id` (UTF-8 with or without BOM, or CP932 as Excel writes it). Rows are keyed by
/// their written name, normalized: rows already there are replaced, others are kept. Bad rows
/// are reported by line and column; the good rows apply.
#[utoipa::path(post, path = "/v1/ads/ingredients/import", tag = "ads",
    request_body(content = String, content_type = "text/csv"),
    security(("bearer" = [])),
    responses((status = 200, body = ImportReport),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Not a CSV of that header, or neither UTF-8 nor CP932"),
        (status = 413, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn import(
    _admin: Admin,
    platform: web::Data<Platform>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = crate::platform::http::body_within(&req, body, MAX_CSV_BYTES, || {
        AdError::CsvTooLarge {
            limit: MAX_CSV_BYTES,
        }
        .into()
    })
    .await?;
    let report = ingredients::import(&platform, bytes).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngredientQuery {
    /// Rows of one concept.
    pub concept: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngredientRow {
    pub key: String,
    pub written_name: String,
    pub normalized_name: String,
    pub concept_id: String,
    pub updated_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/ads/ingredients", tag = "ads", params(IngredientQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<IngredientRow>)))]
pub(super) async fn list(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<IngredientQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = ingredients::list(
        &platform.db,
        query.concept.as_deref(),
        query.after.as_deref(),
        limit,
    )
    .await?;
    let page = Page::new(rows, limit, |r| r.key.clone()).map(|r| IngredientRow {
        key: r.key,
        written_name: r.written_name,
        normalized_name: r.normalized_name,
        concept_id: r.concept_id,
        updated_at: r.updated_at,
    });
    Ok(HttpResponse::Ok().json(page))
}

/// How one written name resolves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResolutionView {
    pub name: String,
    pub keys_tried: Vec<String>,
    pub concepts: Vec<String>,
    /// `table` (the name's key is a row), `honorific` (without its お/ご), `compound` (its
    /// parts), or absent when nothing matched.
    #[schema(value_type = Option<String>)]
    pub matched_by: Option<MatchedBy>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// A name as a recipe writes it, such as `★塩（少々）`.
    pub name: String,
}

/// How delivery resolves one written name: the keys tried, the concepts, and whether the
/// table or a rule matched.
#[utoipa::path(get, path = "/v1/ads/ingredients/resolve", tag = "ads", params(ResolveQuery),
    security(("bearer" = [])), responses((status = 200, body = ResolutionView),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn resolve(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<ResolveQuery>,
) -> Result<HttpResponse, ApiError> {
    let max = platform.settings.ads.max_ingredient_bytes;
    if query.name.len() > max {
        return Err(
            ApiError::bad_request(format!("the name is longer than {max} bytes"))
                .with_field("name", format!("at most {max} bytes")),
        );
    }
    let resolution = ingredients::resolve_one(&platform, &query.name).await?;
    Ok(HttpResponse::Ok().json(ResolutionView {
        name: query.name.clone(),
        keys_tried: resolution.keys_tried,
        concepts: resolution.concepts,
        matched_by: resolution.matched_by,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnmatchedQuery {
    /// 1 to 500 (default 50).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnmatchedName {
    pub key: String,
    /// One way a recipe wrote it.
    pub example: String,
    /// Recipes it was seen in (each recipe at most once per `ads.recipe_ttl`).
    pub count: i64,
    pub last_seen: DateTime<Utc>,
}

/// Names that resolved to nothing, most frequent first: what to add to the table next.
#[utoipa::path(get, path = "/v1/ads/ingredients/unmatched", tag = "ads", params(UnmatchedQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<UnmatchedName>)))]
pub(super) async fn unmatched(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<UnmatchedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = ingredients::unmatched(&platform.db, limit).await?;
    let names: Vec<UnmatchedName> = rows
        .into_iter()
        .map(|r| UnmatchedName {
            key: r.key,
            example: r.example,
            count: r.count,
            last_seen: r.last_seen,
        })
        .collect();
    Ok(HttpResponse::Ok().json(names))
}
