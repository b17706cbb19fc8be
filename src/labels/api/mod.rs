//! The labels HTTP API: print jobs and their log, templates, rendering.

mod print_jobs;
mod render;
mod request;

use actix_web::web;

use crate::labels::LabelError;
use crate::platform::cpu;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/print-jobs")
            .get(print_jobs::list)
            .post(print_jobs::create),
    )
    .service(web::resource("/v1/print-jobs/{id}").get(print_jobs::get))
    .service(web::resource("/v1/print-jobs/{id}/preview").get(print_jobs::preview))
    .service(web::resource("/v1/labels/printers").get(print_jobs::printers))
    .service(web::resource("/v1/labels/templates").get(render::templates))
    .service(web::resource("/v1/labels/render").post(render::render));
}

/// Runs rendering (templates, layout, QR codes, PDF) off the async threads, sharing the
/// process's CPU permits with every other module.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabelError> {
    cpu::run(work)
        .await
        .map_err(|e| LabelError::Unexpected(e.context("rendering labels failed")))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        print_jobs::create,
        print_jobs::list,
        print_jobs::get,
        print_jobs::preview,
        print_jobs::printers,
        render::templates,
        render::render,
    ),
    components(schemas(
        request::PrintJobRequest,
        request::LabelSource,
        print_jobs::PrintJob,
        print_jobs::PrintJobLinks,
        print_jobs::PrinterList,
        crate::labels::entity::PrintStatus,
        crate::labels::print_log::LabelSubstitution,
        render::Template,
        render::TemplateList,
    )),
    tags((name = "labels", description = "Delivery labels: render them, print them, read the print log"))
)]
pub struct LabelsApi;
