//! Ads: campaigns with keyword and ingredient targeting, delivered in milliseconds, never
//! broken by the ingredient path.
//!
//! A recipe site sells *jacks*: one advertiser takes every ad slot of a page. A keyword jack
//! fires when the search keyword contains one of its keywords; an ingredient jack fires on a
//! recipe page whose ingredients include its target ingredient, however the recipe's author
//! spelled it (塩, しお, 食塩, ★塩 and 塩（少々） are all salt). Other pages get normal ads.
//!
//! # Pieces
//!
//! - [`submission`]: advertisers, campaigns (dates, slots, priority and weight, daily and total
//!   caps, status, targeting) and creatives (title, link, an image registered through the
//!   images module, the client-facing JSON), checked field by field.
//! - [`ingredients`]: the normalization table (normalized name, written name, concept id) in
//!   the database and mirrored whole into one cache-store hash; CSV import; the sample table
//!   in `assets/ads/ingredients.csv`, loaded on first start when the table is empty.
//! - [`normalize`]: what makes spellings the table never listed match anyway.
//! - [`delivery`]: `GET /v1/ads`, from campaigns held in process (reloaded every
//!   `ads.refresh_every` on every replica) and the recipe's concepts from the cache store,
//!   each cache call bounded and behind a circuit breaker, so an ingredient failure costs at
//!   most a few milliseconds and never the ad.
//! - [`click`]: signed, expiring click URLs; [`counting`]: impressions, clicks and unmatched
//!   names, counted in process, pushed to the cache store, flushed exactly once into hourly
//!   rows; [`stats`]: by hour and day, with the pace of a daily cap.

pub mod api;
pub mod click;
pub mod counting;
pub mod delivery;
pub mod entity;
mod error;
pub mod ingredients;
pub mod normalize;
pub mod settings;
pub mod stats;
pub mod submission;

use actix_web::web;

use crate::config::Settings;
use crate::platform::scheduler::Schedule;

pub use error::AdError;

/// The owner of the images registered for creatives.
pub const IMAGE_OWNER: &str = "ads";

pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
}

/// Every replica reloads campaigns and pushes its counts; the counts are flushed into the
/// database by the scheduler when they live in Redis, and by each process when its cache is
/// its own (an embedded deployment, whose cache dies with it).
pub fn register_tasks(schedule: &mut Schedule, settings: &Settings) {
    let ads = &settings.ads;
    schedule
        .on_each_replica("ads.refresh", ads.refresh_every, delivery::refresh)
        .at_start();
    schedule
        .on_each_replica("ads.count", ads.count_every, delivery::push_counts)
        .at_stop();
    if settings.redis_url.is_some() {
        schedule.every("ads.flush", ads.flush_every, delivery::flush_counts);
    } else {
        schedule
            .on_each_replica("ads.flush", ads.flush_every, delivery::flush_counts)
            .at_stop();
    }
}
