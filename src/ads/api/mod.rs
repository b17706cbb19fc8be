//! The ads HTTP API: submission, the ingredient table, the switch and stats under `/v1/ads`
//! (admin scope); delivery and clicks (public).

mod delivery;
mod ingredients;
mod manage;

use actix_web::web;

pub use delivery::{INGREDIENTS_HEADER, TRUNCATED_HEADER, WARNING_HEADER};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/ads").get(delivery::deliver))
        .service(web::resource("/v1/ads/click/{token}").get(delivery::click_through))
        .service(
            web::resource("/v1/ads/advertisers")
                .get(manage::list_advertisers)
                .post(manage::create_advertiser),
        )
        .service(
            web::resource("/v1/ads/advertisers/{id}")
                .get(manage::get_advertiser)
                .delete(manage::delete_advertiser),
        )
        .service(
            web::resource("/v1/ads/campaigns")
                .get(manage::list_campaigns)
                .post(manage::create_campaign),
        )
        .service(
            web::resource("/v1/ads/campaigns/{id}")
                .get(manage::get_campaign)
                .put(manage::replace_campaign)
                .patch(manage::patch_campaign)
                .delete(manage::delete_campaign),
        )
        .service(
            web::resource("/v1/ads/campaigns/{id}/creatives")
                .get(manage::list_creatives)
                .post(manage::create_creative),
        )
        .service(web::resource("/v1/ads/campaigns/{id}/stats").get(delivery::campaign_stats))
        .service(
            web::resource("/v1/ads/creatives/{id}")
                .get(manage::get_creative)
                .put(manage::replace_creative)
                .delete(manage::delete_creative),
        )
        .service(web::resource("/v1/ads/creatives/{id}/image").put(manage::put_creative_image))
        .service(web::resource("/v1/ads/ingredients").get(ingredients::list))
        .service(web::resource("/v1/ads/ingredients/import").post(ingredients::import))
        .service(web::resource("/v1/ads/ingredients/resolve").get(ingredients::resolve))
        .service(web::resource("/v1/ads/ingredients/unmatched").get(ingredients::unmatched))
        .service(
            web::resource("/v1/ads/switches/ingredient-jack")
                .get(delivery::get_switch)
                .put(delivery::put_switch),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        delivery::deliver,
        delivery::click_through,
        delivery::get_switch,
        delivery::put_switch,
        delivery::campaign_stats,
        manage::create_advertiser,
        manage::list_advertisers,
        manage::get_advertiser,
        manage::delete_advertiser,
        manage::create_campaign,
        manage::list_campaigns,
        manage::get_campaign,
        manage::replace_campaign,
        manage::patch_campaign,
        manage::delete_campaign,
        manage::create_creative,
        manage::list_creatives,
        manage::get_creative,
        manage::replace_creative,
        manage::put_creative_image,
        manage::delete_creative,
        ingredients::import,
        ingredients::list,
        ingredients::resolve,
        ingredients::unmatched,
    ),
    components(schemas(
        crate::ads::entity::campaign::Status,
        crate::ads::entity::campaign::Targeting,
        crate::ads::delivery::Skipped,
        crate::platform::text::TextEncoding,
    )),
    tags((name = "ads", description = "Campaigns with keyword and ingredient targeting, delivery, clicks and counts"))
)]
pub struct AdsApi;
