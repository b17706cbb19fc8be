//! What can go wrong with images, and how each problem answers over HTTP. The mapping is
//! exhaustive: a new variant must say what it means to a client.

use crate::platform::http::{ApiError, Code};
use crate::platform::storage::ObjectKey;

use super::codec::CodecError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("there is no object {0} to register")]
    MissingObject(ObjectKey),
    /// Replacing an image with bytes its owner already has as another image.
    #[error("these bytes are already your image {0}")]
    Duplicate(String),
    /// The image was replaced or deleted while this request worked on it.
    #[error("the image changed while this request was handled; try again")]
    Changed,
    #[error("object storage failed: {0}")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ImageError {
    /// Whether the bytes are at fault, so that trying again cannot help.
    pub fn is_the_bytes_fault(&self) -> bool {
        match self {
            ImageError::TooLarge { .. }
            | ImageError::Codec(_)
            | ImageError::MissingObject(_)
            | ImageError::Duplicate(_) => true,
            ImageError::Changed
            | ImageError::Store(_)
            | ImageError::Database(_)
            | ImageError::Unexpected(_) => false,
        }
    }
}

impl From<ImageError> for ApiError {
    fn from(error: ImageError) -> Self {
        let detail = error.to_string();
        match error {
            ImageError::TooLarge { .. } => ApiError::new(Code::PayloadTooLarge, detail),
            ImageError::Codec(codec) => match codec {
                CodecError::Unsupported(_) => ApiError::new(Code::UnsupportedMediaType, detail),
                CodecError::TooManyPixels { .. }
                | CodecError::TooManyFrames { .. }
                | CodecError::TooMuchMemory(_) => ApiError::new(Code::PayloadTooLarge, detail),
                CodecError::Corrupt(_) => ApiError::bad_request(detail),
                CodecError::Encode { .. } => ApiError::internal(codec.into()),
            },
            ImageError::MissingObject(_) => ApiError::not_found(detail),
            ImageError::Duplicate(_) | ImageError::Changed => ApiError::conflict(detail),
            ImageError::Store(e) => {
                tracing::warn!(error = %e, "object storage failed");
                ApiError::unavailable("object storage is unavailable; try again shortly", 5)
            }
            ImageError::Database(e) => e.into(),
            ImageError::Unexpected(e) => ApiError::internal(e),
        }
    }
}
