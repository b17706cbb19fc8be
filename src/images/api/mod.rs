//! The images HTTP API: register, replace, read and delete images under `/v1/images`, and the
//! public delivery URL `/i/{id}/{version}`.

mod manage;
mod serve;
mod uploads;

use actix_web::web;
use futures::StreamExt;

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
            .delete(manage::delete),
    )
    .service(
        web::resource("/i/{id}/{version}")
            .get(serve::serve)
            .head(serve::serve),
    );
}

/// The request body, refused with a 413 as soon as it passes `limit` bytes (before reading
/// anything when `Content-Length` says so).
async fn body_within(
    req: &actix_web::HttpRequest,
    mut body: web::Payload,
    limit: u64,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::from(ImageError::TooLarge { limit });
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut bytes = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        manage::create,
        manage::list,
        manage::get,
        manage::replace,
        manage::delete,
        serve::serve,
        uploads::start,
        uploads::get,
    ),
    components(schemas(
        manage::ImageView,
        manage::VariantView,
        uploads::StartUpload,
        uploads::UploadView,
        crate::images::entity::upload::UploadStatus,
        crate::platform::uploads::UploadTicket,
        crate::images::entity::variant::VariantKind,
    )),
    tags((name = "images", description = "Images: register them, then serve them resized and in the format each client takes"))
)]
pub struct ImagesApi;
