//! Bulk ingest: a seller zips a thousand product photos in the browser, uploads the ZIP
//! straight to storage, and sous registers each image once, however often the work is retried.
//!
//! # Pieces
//!
//! - [`archive`]: the ZIP read back by ranged reads only (one HEAD, one read of the tail for
//!   the end records and the central directory, then one read per run of neighbouring
//!   entries, each pinned to the version first seen), names decoded as their writer meant
//!   them, entries inflated with the output held to the image limit.
//! - `ingest.rs`: the `bulk.ingest` job on the `bulk-ingest` queue, started by the archive's
//!   storage event; each entry's outcome is committed under its (archive, entry) key before
//!   the next is read.
//! - [`api`]: `POST /v1/bulk/image-archives` for an upload URL, then the archive's status,
//!   counts and per-entry results; `GET /v1/bulk/images` lists the seller's images by name.
//! - [`products`]: a product CSV naming those images, checked row by row, applied in one
//!   transaction, its report and failed rows kept; `GET /v1/products`.

pub mod api;
pub mod archive;
pub mod entity;
mod ingest;
pub mod products;
mod rows;
pub mod settings;

use std::time::Duration;

use actix_web::web;

use crate::platform::events::EventRoutes;
use crate::platform::jobs::{JobRegistry, Queue};

pub use ingest::IngestArchive;

pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
    products::api::routes(cfg);
}

/// One archive at a time per worker by default: each registers images as fast as the CPU
/// pool allows, so more would only queue there; raise it with the queue's settings. A run
/// that times out is retried and skips what is done.
const QUEUE: Queue = Queue::new("bulk-ingest")
    .with_concurrency(1)
    .with_timeout(Duration::from_secs(30 * 60))
    .with_max_attempts(8);

pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register::<IngestArchive>();
}

/// Archives land under `bulk/archives/`; their storage events start the ingest.
pub fn register_events(routes: &mut EventRoutes) {
    routes.on_created::<IngestArchive>(api::ARCHIVES);
}
