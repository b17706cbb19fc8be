//! Images: registered once, served for ever at a URL that changes with their bytes, resized,
//! cropped and encoded on request, in the format each client takes.
//!
//! # Registering
//!
//! [`register`] (what other modules call; `POST /v1/images` over HTTP) takes bytes or an object
//! already in the store. The format is recognised by its magic number (JPEG, PNG, GIF, WebP;
//! a ZIP, an SVG or anything else is refused with a 415), the header is checked against the
//! byte, pixel and frame limits before anything is decoded (413), and the whole file is then
//! decoded, so a truncated or corrupt one is a 400 now rather than a broken picture later.
//! The original is stored under `images/{id}/{version}/original`, where the version is the
//! start of its SHA-256, and removed again if its row does not commit. Registering bytes the
//! owner already registered returns that image. The `images.variants` job then makes the
//! presets and the ladder (see [`variants`]).
//!
//! A direct upload (`POST /v1/images/uploads`) gives the client a URL to put the file to under
//! `images/uploads/`; its storage event registers it (see `uploads.rs`).
//!
//! # Serving
//!
//! `GET /i/{id}/{version}?w=&h=&fit=&format=&q=` (see [`transform`] for the parameters and
//! [`negotiate`] for `Accept`): the request resolves to one rendition, which is read from the
//! store, or made from the smallest stored rung large enough and kept (up to
//! `images.max_derived_variants` client-asked renditions per version). Responses are
//! `Cache-Control: immutable`. Without `w` and `h` the long side is at most
//! `images.default_long_side`, so a 20000 px upload is never sent whole by accident. CMYK JPEGs
//! become RGB, 16-bit PNGs 8-bit, EXIF orientation is applied, transparency survives into PNG
//! and WebP and is flattened on white in JPEG; GIF and WebP animations show their first frame.
//!
//! `fit=cover` crops keep a focus point in view: `fp=x,y` in the URL, else the image's own,
//! set with `PATCH /v1/images/{id}`, else the one found in the picture at registration (see
//! `attention.rs`).
//!
//! Image rows and rendition bytes are also cached in process (`hot.rs`). Decoding, resizing and
//! encoding run on the blocking pool behind one permit per core (`platform/cpu.rs`).

pub mod api;
mod attention;
mod backfill;
mod budget;
pub mod codec;
mod deliver;
pub mod entity;
mod error;
mod hot;
pub mod keys;
pub mod negotiate;
mod objects;
pub mod placeholder;
mod register;
mod rows;
pub mod settings;
pub mod signing;
pub mod transform;
mod uploads;
pub mod variants;

use std::time::Duration;

use actix_web::web;

use crate::config::Settings;
use crate::platform::events::EventRoutes;
use crate::platform::jobs::{JobRegistry, Queue};
use crate::platform::scheduler::Schedule;

pub use backfill::backfill;
pub use deliver::renditions_made;
pub use error::ImageError;
pub use register::{Source, register};
pub use rows::Image;
pub use signing::url;

/// The management endpoints and the delivery URL.
pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
}

/// Every images job: decoding whole pictures, so few at once on 2 cores.
const QUEUE: Queue = Queue::new("image-variants")
    .with_concurrency(2)
    .with_timeout(Duration::from_secs(120));

/// Direct uploads, variants, background renditions, and the purge of objects whose rows are gone.
pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register::<uploads::RegisterUpload>()
        .register::<variants::GenerateVariants>()
        .register::<deliver::MakeRendition>()
        .register::<objects::PurgeObjects>();
}

/// Placeholders and focus points for images registered before they were found.
pub fn register_tasks(schedule: &mut Schedule, settings: &Settings) {
    schedule.every(
        "images.backfill",
        settings.images.backfill_every,
        backfill::run,
    );
}

/// Direct uploads land under `images/uploads/`; their storage events register them.
pub fn register_events(routes: &mut EventRoutes) {
    routes.on_created::<uploads::RegisterUpload>(keys::UPLOADS);
}

/// The image `id` as it is now; `None` when there is no such image (or `id` is not an image
/// id).
pub async fn find(
    platform: &crate::platform::Platform,
    id: &str,
) -> Result<Option<Image>, sea_orm::DbErr> {
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    hot::image(&platform.db, id).await
}

/// Where the image `id` is served now (its URL changes with its bytes); `None` when there is
/// no such image.
pub async fn url_of(
    platform: &crate::platform::Platform,
    id: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(find(platform, id)
        .await?
        .map(|image| url(platform, &image, "")))
}
