//! Bodies read whole, within a limit.

use actix_web::{HttpRequest, web};
use bytes::Bytes;
use futures::StreamExt;

use super::ApiError;

/// The request body, refused with `too_large()` as soon as it passes `limit` bytes (before
/// reading anything when `Content-Length` says so).
pub async fn body_within(
    req: &HttpRequest,
    mut body: web::Payload,
    limit: u64,
    too_large: impl Fn() -> ApiError,
) -> Result<Bytes, ApiError> {
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
