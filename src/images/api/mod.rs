//! The images HTTP API: register, replace, read and delete images under `/v1/images`, and the
//! public delivery URL `/i/{id}/{version}`.

mod manage;
mod serve;
mod uploads;

use actix_web::web;

use crate::images::ImageError;
use crate::platform::http::ApiError;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/images")
            .get(manage::list)
            .post(manage::create),
    )
    .service(web::resource("/v1/images/uploads").post(uploads::start))
    .service(web::resource("/v1/images/uploads/{id}").get(uploads::get))
    .service(
        web::resource("/v1/images/{id}")
            .get(manage::get)
            .put(manage::replace)
            .patch(manage::patch)
            .delete(manage::delete),
    )
    .service(
        web::resource("/i/{id}/{version}")
            .get(serve::serve)
            .head(serve::serve),
    );
}

/// The request body, refused with a 413 past `limit` bytes.
async fn body_within(
    req: &actix_web::HttpRequest,
    body: web::Payload,
    limit: u64,
) -> Result<bytes::Bytes, ApiError> {
    crate::platform::http::body_within(req, body, limit, || ImageError::TooLarge { limit }.into())
        .await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        manage::create,
        manage::list,
        manage::get,
        manage::replace,
        manage::patch,
        manage::delete,
        serve::serve,
        uploads::start,
        uploads::get,
    ),
    components(schemas(
        manage::ImageView,
        manage::VariantView,
        manage::FocusView,
        manage::FocusSource,
        uploads::StartUpload,
        uploads::UploadView,
        crate::images::entity::upload::UploadStatus,
        crate::platform::uploads::UploadTicket,
        crate::images::entity::variant::VariantKind,
    )),
    tags((name = "images", description = "Images: register them, then serve them resized and in the format each client takes"))
)]
pub struct ImagesApi;
