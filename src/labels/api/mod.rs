//! The labels HTTP API: print jobs and their log, templates, rendering.

mod print_jobs;
mod render;
mod request;

use std::sync::LazyLock;

use actix_web::web;
use tokio::sync::Semaphore;

use crate::platform::http::ApiError;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/print-jobs")
            .get(print_jobs::list)
            .post(print_jobs::create),
    )
    .service(web::resource("/v1/print-jobs/{id}").get(print_jobs::get))
    .service(web::resource("/v1/print-jobs/{id}/preview").get(print_jobs::preview))
    .service(web::resource("/v1/labels/templates").get(render::templates))
    .service(web::resource("/v1/labels/render").post(render::render));
}

/// Runs rendering (templates, layout, QR codes, PDF) on the blocking pool, at most one render
/// per core at a time, so a burst of large batches neither stalls the async threads nor
/// piles up blocking threads.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
    });
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("rendering labels failed")))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        print_jobs::create,
        print_jobs::list,
        print_jobs::get,
        print_jobs::preview,
        render::templates,
        render::render,
    ),
    components(schemas(
        request::PrintJobRequest,
        request::LabelSource,
        print_jobs::PrintJob,
        print_jobs::PrintJobLinks,
        print_jobs::PrintJobPage,
        crate::labels::entity::PrintStatus,
        crate::labels::print_log::LabelSubstitution,
        render::Template,
        render::TemplateList,
    )),
    tags((name = "labels", description = "Delivery labels: render them, print them, read the print log"))
)]
pub struct LabelsApi;
