//! The operator's submission API (admin scope): advertisers, campaigns, creatives.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ads::entity::campaign;
use crate::ads::entity::{advertiser, creative};
use crate::ads::submission::{self, AdvertiserInput, CampaignInput, CreativeInput};
use crate::ads::{AdError, delivery};
use crate::platform::Platform;
use crate::platform::auth::Admin;
use crate::platform::http::{ApiError, Page, Problem, page_limit};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdvertiserView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<advertiser::Model> for AdvertiserView {
    fn from(row: advertiser::Model) -> Self {
        AdvertiserView {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    pub id: String,
    #[serde(flatten)]
    pub input: CampaignInput,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<campaign::Model> for CampaignView {
    fn from(row: campaign::Model) -> Self {
        CampaignView {
            input: submission::as_input(&row),
            id: row.id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreativeView {
    pub id: String,
    pub campaign_id: String,
    pub title: String,
    pub link: String,
    pub image_id: Option<String>,
    pub image_url: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CreativeView {
    async fn new(platform: &Platform, row: creative::Model) -> Result<Self, ApiError> {
        let image_url = match &row.image_id {
            Some(id) => crate::images::url_of(platform, id).await?,
            None => None,
        };
        Ok(CreativeView {
            image_url,
            payload: serde_json::from_str(&row.payload).unwrap_or_default(),
            id: row.id,
            campaign_id: row.campaign_id,
            title: row.title,
            link: row.link,
            image_id: row.image_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdListQuery {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// Campaigns of one advertiser.
    pub advertiser_id: Option<String>,
}

fn created(location: String, body: impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// Changes reach this replica's delivery at once, the others' within `ads.refresh_every`.
async fn reload_here(platform: &Platform) {
    if let Err(error) = delivery::runtime(platform).reload(platform).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "cannot reload campaigns after a change"
        );
    }
}

#[utoipa::path(post, path = "/v1/ads/advertisers", tag = "ads", request_body = AdvertiserInput,
    security(("bearer" = [])),
    responses((status = 201, body = AdvertiserView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn create_advertiser(
    _admin: Admin,
    platform: web::Data<Platform>,
    input: web::Json<AdvertiserInput>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::create_advertiser(&platform.db, input.into_inner()).await?;
    Ok(created(
        format!("/v1/ads/advertisers/{}", row.id),
        AdvertiserView::from(row),
    ))
}

#[utoipa::path(get, path = "/v1/ads/advertisers", tag = "ads", params(AdListQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<AdvertiserView>)))]
pub(super) async fn list_advertisers(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<AdListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = submission::list_advertisers(&platform.db, query.after.clone(), limit).await?;
    let page = Page::new(rows, limit, |r| r.id.clone()).map(AdvertiserView::from);
    Ok(HttpResponse::Ok().json(page))
}

#[utoipa::path(get, path = "/v1/ads/advertisers/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 200, body = AdvertiserView),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn get_advertiser(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::advertiser(&platform.db, &id).await?;
    Ok(HttpResponse::Ok().json(AdvertiserView::from(row)))
}

#[utoipa::path(delete, path = "/v1/ads/advertisers/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 204),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "It still has campaigns")))]
pub(super) async fn delete_advertiser(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    submission::delete_advertiser(&platform.db, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/v1/ads/campaigns", tag = "ads", request_body = CampaignInput,
    security(("bearer" = [])),
    responses((status = 201, body = CampaignView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`errors` names each field at fault")))]
pub(super) async fn create_campaign(
    _admin: Admin,
    platform: web::Data<Platform>,
    input: web::Json<CampaignInput>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::save_campaign(&platform, None, input.into_inner()).await?;
    reload_here(&platform).await;
    Ok(created(
        format!("/v1/ads/campaigns/{}", row.id),
        CampaignView::from(row),
    ))
}

#[utoipa::path(get, path = "/v1/ads/campaigns", tag = "ads", params(AdListQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<CampaignView>)))]
pub(super) async fn list_campaigns(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<AdListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = submission::list_campaigns(
        &platform.db,
        query.advertiser_id.as_deref(),
        query.after.clone(),
        limit,
    )
    .await?;
    let page = Page::new(rows, limit, |r| r.id.clone()).map(CampaignView::from);
    Ok(HttpResponse::Ok().json(page))
}

#[utoipa::path(get, path = "/v1/ads/campaigns/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 200, body = CampaignView),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn get_campaign(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::campaign(&platform.db, &id).await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(row)))
}

#[utoipa::path(put, path = "/v1/ads/campaigns/{id}", tag = "ads", request_body = CampaignInput,
    security(("bearer" = [])), responses((status = 200, body = CampaignView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn replace_campaign(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    input: web::Json<CampaignInput>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::save_campaign(&platform, Some(&id), input.into_inner()).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::Ok().json(CampaignView::from(row)))
}

/// Changes some fields (a JSON merge patch: `{"status": "paused"}` pauses it).
#[utoipa::path(patch, path = "/v1/ads/campaigns/{id}", tag = "ads",
    request_body(content = Object, content_type = "application/json"),
    security(("bearer" = [])), responses((status = 200, body = CampaignView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn patch_campaign(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    patch: web::Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::campaign(&platform.db, &id).await?;
    let mut merged = serde_json::to_value(submission::as_input(&row))
        .map_err(|e| ApiError::internal(e.into()))?;
    for (field, value) in patch.into_inner() {
        merged[field] = value;
    }
    let input: CampaignInput = serde_json::from_value(merged)
        .map_err(|e| AdError::field("/", format!("the merged campaign is not valid: {e}")))?;
    let row = submission::save_campaign(&platform, Some(&id), input).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::Ok().json(CampaignView::from(row)))
}

#[utoipa::path(delete, path = "/v1/ads/campaigns/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn delete_campaign(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    submission::delete_campaign(&platform.db, &id).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/v1/ads/campaigns/{id}/creatives", tag = "ads", request_body = CreativeInput,
    security(("bearer" = [])), responses((status = 201, body = CreativeView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn create_creative(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    input: web::Json<CreativeInput>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::create_creative(&platform.db, &id, input.into_inner()).await?;
    reload_here(&platform).await;
    let location = format!("/v1/ads/creatives/{}", row.id);
    Ok(created(location, CreativeView::new(&platform, row).await?))
}

#[utoipa::path(get, path = "/v1/ads/campaigns/{id}/creatives", tag = "ads",
    security(("bearer" = [])), responses((status = 200, body = Vec<CreativeView>)))]
pub(super) async fn list_creatives(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    submission::campaign(&platform.db, &id).await?;
    let mut views = Vec::new();
    for row in submission::creatives_of(&platform.db, &id).await? {
        views.push(CreativeView::new(&platform, row).await?);
    }
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(get, path = "/v1/ads/creatives/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 200, body = CreativeView),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn get_creative(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::creative(&platform.db, &id).await?;
    Ok(HttpResponse::Ok().json(CreativeView::new(&platform, row).await?))
}

#[utoipa::path(put, path = "/v1/ads/creatives/{id}", tag = "ads", request_body = CreativeInput,
    security(("bearer" = [])), responses((status = 200, body = CreativeView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn replace_creative(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    input: web::Json<CreativeInput>,
) -> Result<HttpResponse, ApiError> {
    let row = submission::update_creative(&platform.db, &id, input.into_inner()).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::Ok().json(CreativeView::new(&platform, row).await?))
}

/// The creative's picture: the body is the image file, registered through the images module
/// (JPEG, PNG, GIF, WebP, AVIF or HEIC) and served from `/i/…`.
#[utoipa::path(put, path = "/v1/ads/creatives/{id}/image", tag = "ads",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])), responses((status = 200, body = CreativeView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn put_creative_image(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = platform.settings.images.max_bytes;
    let bytes = crate::platform::http::body_within(&req, body, limit, || {
        AdError::Image(crate::images::ImageError::TooLarge { limit }).into()
    })
    .await?;
    let row = submission::set_creative_image(&platform, &id, bytes).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::Ok().json(CreativeView::new(&platform, row).await?))
}

#[utoipa::path(delete, path = "/v1/ads/creatives/{id}", tag = "ads",
    security(("bearer" = [])), responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn delete_creative(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    submission::delete_creative(&platform.db, &id).await?;
    reload_here(&platform).await;
    Ok(HttpResponse::NoContent().finish())
}
