//! Delivery (public), clicks (public), the ingredient-jack switch and stats (admin scope).

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;
use sea_orm::sea_query::OnConflict;
use serde::{Deserialize, Serialize};

use crate::ads::delivery::snapshot::{INGREDIENT_JACK, ingredient_jack_switch};
use crate::ads::delivery::{self, AdRequest, Delivery};
use crate::ads::entity::switch;
use crate::ads::settings::AdSettings;
use crate::ads::stats::{self, CampaignStats};
use crate::ads::{AdError, click, counting::Counted, normalize, submission};
use crate::platform::Platform;
use crate::platform::auth::Admin;
use crate::platform::http::{ApiError, Problem};

/// The recipe's ingredient names: percent-encoded UTF-8, comma-separated.
pub const INGREDIENTS_HEADER: &str = "x-recipe-ingredients";
/// Set when only the first names of the header were used: `used=N; given=M`.
pub const TRUNCATED_HEADER: &str = "ads-ingredients-truncated";
/// Problems with optional inputs that delivery ignored, in words.
pub const WARNING_HEADER: &str = "ads-warning";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdQuery {
    /// One slot or several, comma-separated: a jack takes every slot of the page it runs in.
    pub slot: String,
    /// The search keyword (keyword jack).
    pub keyword: Option<String>,
    /// The recipe shown (ingredient jack); send its names in `X-Recipe-Ingredients`.
    pub recipe_id: Option<String>,
}

/// What the request's optional parts turned out to be.
#[derive(Debug, Default)]
struct Read {
    request: AdRequest,
    truncated: Option<(usize, usize)>,
    warnings: Vec<String>,
}

fn read(query: AdQuery, headers: &HeaderMap, settings: &AdSettings) -> Result<Read, AdError> {
    let mut read = Read::default();
    for slot in query.slot.split(',').map(str::trim) {
        if !settings.slots.iter().any(|s| s == slot) {
            return Err(AdError::UnknownSlot(slot.to_string()));
        }
        if !read.request.slots.iter().any(|s| s == slot) {
            read.request.slots.push(slot.to_string());
        }
    }
    match query.keyword {
        Some(keyword) if keyword.len() > settings.max_keyword_bytes => read.warnings.push(format!(
            "keyword ignored: longer than {} bytes",
            settings.max_keyword_bytes
        )),
        Some(keyword) => {
            read.request.keyword = Some(normalize::key(&keyword)).filter(|k| !k.is_empty());
        }
        None => {}
    }
    match query.recipe_id {
        Some(id) if is_recipe_id(&id) => read.request.recipe_id = Some(id),
        Some(_) => read
            .warnings
            .push("recipe_id ignored: 1 to 64 of A-Z, a-z, 0-9, _ and -".into()),
        None => {}
    }
    if let Some(value) = headers.get(INGREDIENTS_HEADER) {
        match ingredient_names(value.as_bytes(), settings) {
            Ok((names, given)) => {
                if names.len() < given {
                    read.truncated = Some((names.len(), given));
                }
                read.request.ingredient_names = names;
            }
            Err(problem) => read
                .warnings
                .push(format!("X-Recipe-Ingredients ignored: {problem}")),
        }
    }
    Ok(read)
}

fn is_recipe_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The first names within `max_ingredient_names` and `max_ingredient_bytes` (of decoded
/// UTF-8), and how many the header gave.
fn ingredient_names(raw: &[u8], settings: &AdSettings) -> Result<(Vec<String>, usize), String> {
    let raw = std::str::from_utf8(raw).map_err(|_| "not ASCII text".to_string())?;
    let mut names = Vec::new();
    let mut given = 0;
    let mut bytes = 0;
    for part in raw.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        given += 1;
        let name = percent_decode(part)?;
        bytes += name.len() + usize::from(!names.is_empty());
        if names.len() < settings.max_ingredient_names && bytes <= settings.max_ingredient_bytes {
            names.push(name);
        } else {
            bytes = settings.max_ingredient_bytes + 1;
        }
    }
    Ok((names, given))
}

fn percent_decode(part: &str) -> Result<String, String> {
    let malformed = part.match_indices('%').any(|(at, _)| {
        part.as_bytes()
            .get(at + 1..at + 3)
            .is_none_or(|hex| !hex.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(format!("`{part}` has a malformed percent escape"));
    }
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|name| name.into_owned())
        .map_err(|_| format!("`{part}` is not percent-encoded UTF-8"))
}

/// Ads for the slots of one page. Never fails on optional inputs: a bad keyword, recipe id or
/// ingredient header is ignored (named in `Ads-Warning`) and normal ads are served; only an
/// unknown slot is a 400.
#[utoipa::path(get, path = "/v1/ads", tag = "ads", params(AdQuery,
        ("X-Recipe-Ingredients" = Option<String>, Header, description = "The recipe's ingredient names, percent-encoded UTF-8, comma-separated; the first 20 names within 350 bytes are used")),
    responses((status = 200, body = Delivery, headers(
            ("Ads-Ingredients-Truncated" = String, description = "`used=N; given=M` when only the first names were used"),
            ("Ads-Warning" = String, description = "Optional inputs that were ignored, and why"))),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "A slot that is not configured")))]
pub(super) async fn deliver(
    platform: web::Data<Platform>,
    req: HttpRequest,
    query: web::Query<AdQuery>,
) -> Result<HttpResponse, ApiError> {
    let read = read(query.into_inner(), req.headers(), &platform.settings.ads)?;
    for warning in &read.warnings {
        tracing::info!(warning, "ad request input ignored");
    }
    let delivery = delivery::deliver(&platform, read.request).await;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some((used, given)) = read.truncated {
        response.insert_header((TRUNCATED_HEADER, format!("used={used}; given={given}")));
    }
    if !read.warnings.is_empty() {
        response.insert_header((WARNING_HEADER, read.warnings.join("; ")));
    }
    Ok(response.json(delivery))
}

/// Counts the click (once per delivered URL) and redirects to the creative's link.
#[utoipa::path(get, path = "/v1/ads/click/{token}", tag = "ads",
    responses((status = 302, description = "To the advertiser's link"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Not a click URL of this deployment, or altered"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "The creative is gone"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "Expired")))]
pub(super) async fn click_through(
    platform: web::Data<Platform>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let runtime = delivery::runtime(&platform);
    let now = Utc::now();
    let claims = click::verify(&runtime.clicks, &token, now)?;
    let snapshot = runtime.snapshot();
    let live_link = snapshot
        .campaign(&claims.campaign_id)
        .and_then(|c| c.creatives.iter().find(|r| r.id == claims.creative_id))
        .map(|r| r.link.clone());
    let link = match live_link {
        Some(link) => link,
        None => {
            submission::creative(&platform.db, &claims.creative_id)
                .await?
                .link
        }
    };
    let seen_key = format!("ads:click:{}:{}", claims.creative_id, claims.nonce);
    let ttl = platform.settings.ads.click_ttl;
    let first = tokio::time::timeout(
        platform.settings.ads.cache_timeout * 10,
        platform.cache.set_if_absent(&seen_key, "1".into(), ttl),
    )
    .await;
    // When the cache cannot tell, the click counts: losing clicks costs more than a repeat.
    if !matches!(first, Ok(Ok(false))) {
        runtime
            .counts
            .add(Counted::click(&claims.campaign_id, now), 1);
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, link))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SwitchView {
    /// Whether ingredient targeting runs: the setting and the switch both on.
    pub enabled: bool,
    /// `ads.ingredient_jack`.
    pub setting: bool,
    /// The switch operators flip (`PUT /v1/ads/switches/ingredient-jack`).
    pub switch: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchInput {
    pub enabled: bool,
}

async fn switch_view(platform: &Platform) -> Result<SwitchView, ApiError> {
    let switch = ingredient_jack_switch(&platform.db).await?;
    let setting = platform.settings.ads.ingredient_jack;
    Ok(SwitchView {
        enabled: setting && switch,
        setting,
        switch,
    })
}

#[utoipa::path(get, path = "/v1/ads/switches/ingredient-jack", tag = "ads",
    security(("bearer" = [])), responses((status = 200, body = SwitchView)))]
pub(super) async fn get_switch(
    _admin: Admin,
    platform: web::Data<Platform>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(switch_view(&platform).await?))
}

/// The kill switch: turns ingredient targeting off (or on) on every replica, at once here and
/// within `ads.refresh_every` elsewhere; nothing else about delivery changes.
#[utoipa::path(put, path = "/v1/ads/switches/ingredient-jack", tag = "ads", request_body = SwitchInput,
    security(("bearer" = [])), responses((status = 200, body = SwitchView)))]
pub(super) async fn put_switch(
    admin: Admin,
    platform: web::Data<Platform>,
    input: web::Json<SwitchInput>,
) -> Result<HttpResponse, ApiError> {
    switch::Entity::insert(switch::ActiveModel {
        name: Set(INGREDIENT_JACK.to_string()),
        enabled: Set(input.enabled),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(switch::Column::Name)
            .update_columns([switch::Column::Enabled, switch::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(&platform.db)
    .await?;
    tracing::warn!(by = %admin.0.subject, enabled = input.enabled, "ingredient jack switched");
    delivery::runtime(&platform)
        .reload(&platform)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(switch_view(&platform).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Default: 7 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
}

/// Impressions and clicks by hour and by day, with the daily cap's pace; as of the last flush
/// (`ads.flush_every`).
#[utoipa::path(get, path = "/v1/ads/campaigns/{id}/stats", tag = "ads", params(StatsQuery),
    security(("bearer" = [])), responses((status = 200, body = CampaignStats),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(super) async fn campaign_stats(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = submission::campaign(&platform.db, &id).await?;
    let to = query.to.unwrap_or_else(Utc::now);
    let from = query.from.unwrap_or(to - TimeDelta::days(7));
    if from >= to || to - from > TimeDelta::days(400) {
        return Err(
            ApiError::bad_request("from must be before to, at most 400 days apart")
                .with_field("from", "before `to`, within 400 days"),
        );
    }
    let stats = stats::campaign_stats(&platform, &campaign, from, to).await?;
    Ok(HttpResponse::Ok().json(stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static(INGREDIENTS_HEADER),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    fn query(slot: &str) -> AdQuery {
        AdQuery {
            slot: slot.into(),
            keyword: None,
            recipe_id: Some("r1".into()),
        }
    }

    fn encode(name: &str) -> String {
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn names_are_decoded_and_bounded() {
        let settings = AdSettings::default();
        let header = ["★塩", "しょうゆ", "a,b"].map(encode).join(",");
        let read = read(query("recipe_top"), &headers(&header), &settings).unwrap();
        assert_eq!(read.request.ingredient_names, ["★塩", "しょうゆ", "a,b"]);
        assert_eq!(read.truncated, None);

        let many: Vec<String> = (0..25).map(|i| encode(&format!("n{i}"))).collect();
        let read = super::read(query("recipe_top"), &headers(&many.join(",")), &settings).unwrap();
        assert_eq!(read.request.ingredient_names.len(), 20);
        assert_eq!(read.truncated, Some((20, 25)));

        // 3-byte characters: 350 bytes hold 116 of them with no separators.
        let long = "塩".repeat(100);
        let header = [&long, &long, "酢"].map(encode).join(",");
        let read = super::read(query("recipe_top"), &headers(&header), &settings).unwrap();
        assert_eq!(read.request.ingredient_names, vec![long.clone()]);
        assert_eq!(read.truncated, Some((1, 3)));
    }

    #[test]
    fn limits_hold_at_and_past_them() {
        let settings = AdSettings::default();
        // 347 + the separator + 2 = 350 bytes: both names; one byte more drops the second.
        let first = "a".repeat(347);
        for (second, kept) in [("bb", 2), ("bbb", 1)] {
            let header = format!("{first},{second}");
            let read = read(query("recipe_top"), &headers(&header), &settings).unwrap();
            assert_eq!(read.request.ingredient_names.len(), kept, "{second}");
        }
        for (bytes, kept) in [(256, true), (257, false)] {
            let mut asked = query("recipe_top");
            asked.keyword = Some("k".repeat(bytes));
            let read = read(asked, &HeaderMap::new(), &settings).unwrap();
            assert_eq!(
                read.request.keyword.is_some(),
                kept,
                "a keyword of {bytes} bytes"
            );
        }
        for (length, kept) in [(64, true), (65, false)] {
            let mut asked = query("recipe_top");
            asked.recipe_id = Some("r".repeat(length));
            let read = read(asked, &HeaderMap::new(), &settings).unwrap();
            assert_eq!(
                read.request.recipe_id.is_some(),
                kept,
                "a recipe id of {length}"
            );
        }
    }

    #[test]
    fn bad_optional_inputs_are_ignored_with_a_warning() {
        let settings = AdSettings::default();
        for bad in ["%E5%A1", "%zz", "abc%"] {
            let read = read(query("recipe_top"), &headers(bad), &settings).unwrap();
            assert!(read.request.ingredient_names.is_empty(), "{bad}");
            assert_eq!(read.warnings.len(), 1, "{bad}: {:?}", read.warnings);
        }
        let mut long = query("recipe_top");
        long.keyword = Some("あ".repeat(4000));
        long.recipe_id = Some("../etc".into());
        let read = read(long, &HeaderMap::new(), &settings).unwrap();
        assert_eq!(read.request.keyword, None);
        assert_eq!(read.request.recipe_id, None);
        assert_eq!(read.warnings.len(), 2, "{:?}", read.warnings);
    }

    #[test]
    fn slots_must_be_configured() {
        let settings = AdSettings::default();
        let read = read(
            query("recipe_top,recipe_bottom,recipe_top"),
            &HeaderMap::new(),
            &settings,
        )
        .unwrap();
        assert_eq!(read.request.slots, ["recipe_top", "recipe_bottom"]);
        assert!(matches!(
            super::read(query("recipe_top,sidebar"), &HeaderMap::new(), &settings),
            Err(AdError::UnknownSlot(slot)) if slot == "sidebar"
        ));
    }
}
