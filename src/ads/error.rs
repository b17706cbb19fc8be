//! What can go wrong in the ads module, and how each problem answers over HTTP. The mapping is
//! exhaustive: a new variant must say what it means to a client.

use crate::images::ImageError;
use crate::platform::cache::CacheError;
use crate::platform::http::{ApiError, Code, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum AdError {
    /// Fields of a submission that cannot be saved, each with what is wrong.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    #[error("there is no {0}")]
    NotFound(&'static str),
    #[error("slot `{0}` is not one of the configured slots")]
    UnknownSlot(String),
    /// Removing something others still refer to.
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the click URL is not valid")]
    ClickInvalid,
    #[error("the click URL has expired")]
    ClickExpired,
    /// The CSV as a whole cannot be read (rows are reported one by one instead).
    #[error("{0}")]
    Csv(String),
    #[error("the CSV is larger than the limit of {limit} bytes")]
    CsvTooLarge { limit: u64 },
    #[error("the cache store failed: {0}")]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn describe(errors: &[FieldError]) -> String {
    let fields: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    format!("the submission has problems: {}", fields.join("; "))
}

impl AdError {
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AdError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<AdError> for ApiError {
    fn from(error: AdError) -> Self {
        let detail = error.to_string();
        match error {
            AdError::Invalid(fields) => fields.into_iter().fold(
                ApiError::new(Code::AdInvalid, detail),
                |api, FieldError { field, message }| api.with_field(field, message),
            ),
            AdError::NotFound(_) => ApiError::not_found(detail),
            AdError::UnknownSlot(_) => ApiError::new(Code::AdSlotUnknown, detail),
            AdError::InUse(_) => ApiError::conflict(detail),
            AdError::Image(e) => e.into(),
            AdError::ClickInvalid => ApiError::new(Code::ClickInvalid, detail),
            AdError::ClickExpired => ApiError::new(Code::ClickExpired, detail),
            AdError::Csv(_) => ApiError::new(Code::CsvInvalid, detail),
            AdError::CsvTooLarge { .. } => ApiError::new(Code::PayloadTooLarge, detail),
            AdError::Cache(e) => {
                tracing::warn!(error = %e, "cache store failed");
                ApiError::unavailable("the cache store is unavailable; try again", 5)
            }
            AdError::Database(e) => e.into(),
            AdError::Unexpected(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<AdError> {
        vec![
            AdError::field("ends_at", "before starts_at"),
            AdError::NotFound("campaign"),
            AdError::UnknownSlot("side".into()),
            AdError::InUse("the advertiser has campaigns".into()),
            AdError::Image(ImageError::TooLarge { limit: 1 }),
            AdError::ClickInvalid,
            AdError::ClickExpired,
            AdError::Csv("no header".into()),
            AdError::CsvTooLarge { limit: 1 },
            AdError::Cache(CacheError::Timeout(std::time::Duration::from_millis(5))),
            AdError::Database(sea_orm::DbErr::Custom("boom".into())),
            AdError::Unexpected(anyhow::anyhow!("boom")),
        ]
    }

    #[test]
    fn every_ad_error_has_its_code() {
        for error in every_variant() {
            // No wildcard: a new variant fails to compile here until it has a code.
            let expected = match &error {
                AdError::Invalid(_) => Code::AdInvalid,
                AdError::NotFound(_) => Code::NotFound,
                AdError::UnknownSlot(_) => Code::AdSlotUnknown,
                AdError::InUse(_) => Code::Conflict,
                AdError::Image(_) => Code::ImageTooLarge,
                AdError::ClickInvalid => Code::ClickInvalid,
                AdError::ClickExpired => Code::ClickExpired,
                AdError::Csv(_) => Code::CsvInvalid,
                AdError::CsvTooLarge { .. } => Code::PayloadTooLarge,
                AdError::Cache(_) => Code::ServiceUnavailable,
                AdError::Database(_) | AdError::Unexpected(_) => Code::Internal,
            };
            let label = format!("{error:?}");
            assert_eq!(ApiError::from(error).code(), expected, "{label}");
        }
    }

    #[test]
    fn field_errors_name_their_field() {
        let api = ApiError::from(AdError::field("link", "must be http(s)"));
        assert!(api.detail().contains("link: must be http(s)"), "{api}");
    }
}
