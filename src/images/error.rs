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
    /// The image version keeps as many asked-for renditions as it may, and none stored
    /// satisfies this one.
    #[error(
        "this image has all the renditions it may keep and none stored fits this request; ask for a size, fit or format it has"
    )]
    BudgetSpent,
    /// Every rendering slot is taken and the queue for them is full.
    #[error("too many renditions are being made; try again shortly")]
    Busy,
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
            ImageError::BudgetSpent
            | ImageError::Busy
            | ImageError::Changed
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
            ImageError::TooLarge { .. } => ApiError::new(Code::ImageTooLarge, detail),
            ImageError::Codec(codec) => match codec {
                CodecError::Unsupported(_) => ApiError::new(Code::ImageUnsupported, detail),
                CodecError::TooManyPixels { .. }
                | CodecError::TooManyFrames { .. }
                | CodecError::TooMuchMemory(_) => ApiError::new(Code::ImageTooLarge, detail),
                CodecError::Corrupt(_) => ApiError::new(Code::ImageCorrupt, detail),
                CodecError::Encode { .. } => ApiError::internal(codec.into()),
            },
            ImageError::MissingObject(_) => ApiError::not_found(detail),
            ImageError::Duplicate(_) => ApiError::new(Code::ImageDuplicate, detail),
            ImageError::Changed => ApiError::new(Code::ImageChanged, detail),
            ImageError::BudgetSpent => {
                ApiError::new(Code::TooManyRequests, detail).with_retry_after(3600)
            }
            ImageError::Busy => ApiError::unavailable(detail, 1),
            ImageError::Store(e) => e.into(),
            ImageError::Database(e) => e.into(),
            ImageError::Unexpected(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_error() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        }
    }

    fn every_variant() -> Vec<ImageError> {
        vec![
            ImageError::TooLarge { limit: 10 },
            ImageError::Codec(CodecError::Unsupported("SVG is not read".into())),
            ImageError::Codec(CodecError::TooManyPixels {
                width: 10,
                height: 10,
                limit: 50,
            }),
            ImageError::Codec(CodecError::TooManyFrames { limit: 2 }),
            ImageError::Codec(CodecError::TooMuchMemory("1 GiB".into())),
            ImageError::Codec(CodecError::Corrupt("truncated".into())),
            ImageError::Codec(CodecError::Encode {
                format: "avif",
                reason: "encoder failed".into(),
            }),
            ImageError::MissingObject(ObjectKey::parse("images/x").unwrap()),
            ImageError::Duplicate("0190".into()),
            ImageError::Changed,
            ImageError::BudgetSpent,
            ImageError::Busy,
            ImageError::Store(store_error()),
            ImageError::Database(sea_orm::DbErr::Custom("boom".into())),
            ImageError::Unexpected(anyhow::anyhow!("boom")),
        ]
    }

    #[test]
    fn every_image_error_has_its_code() {
        for error in every_variant() {
            // No wildcard: a new variant fails to compile here until it has a code.
            let expected = match &error {
                ImageError::TooLarge { .. } => Code::ImageTooLarge,
                ImageError::Codec(codec) => match codec {
                    CodecError::Unsupported(_) => Code::ImageUnsupported,
                    CodecError::TooManyPixels { .. }
                    | CodecError::TooManyFrames { .. }
                    | CodecError::TooMuchMemory(_) => Code::ImageTooLarge,
                    CodecError::Corrupt(_) => Code::ImageCorrupt,
                    CodecError::Encode { .. } => Code::Internal,
                },
                ImageError::MissingObject(_) => Code::NotFound,
                ImageError::Duplicate(_) => Code::ImageDuplicate,
                ImageError::Changed => Code::ImageChanged,
                ImageError::BudgetSpent => Code::TooManyRequests,
                ImageError::Busy => Code::ServiceUnavailable,
                ImageError::Store(_) => Code::ServiceUnavailable,
                ImageError::Database(_) | ImageError::Unexpected(_) => Code::Internal,
            };
            let label = format!("{error:?}");
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{label}");
        }
    }

    #[test]
    fn internal_and_store_errors_say_nothing_of_their_cause() {
        for error in [
            ImageError::Store(store_error()),
            ImageError::Unexpected(anyhow::anyhow!("secret detail")),
        ] {
            let api = ApiError::from(error);
            assert!(!api.detail().contains("connection reset"), "{api}");
            assert!(!api.detail().contains("secret detail"), "{api}");
        }
    }
}
