//! The `code` of every problem: its status and its stable name.

use actix_web::http::StatusCode;
use serde::Serialize;

/// The stable machine-readable `code` of a problem. The generic codes name what HTTP names; the
/// domain codes name what went wrong, so that clients can tell two 409s apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidRequest,
    InvalidJson,
    InvalidQuery,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    ServiceUnavailable,
    Internal,
    /// These bytes are already another image of the same owner.
    ImageDuplicate,
    /// The image was replaced or deleted while the request was handled.
    ImageChanged,
    /// Too many bytes, pixels or frames, or too much memory to decode.
    ImageTooLarge,
    /// Not a format sous reads.
    ImageUnsupported,
    /// The bytes claim a format they do not hold.
    ImageCorrupt,
    /// A label (its template, data or tree) cannot be drawn; `errors` points at each problem.
    LabelInvalid,
    /// The printer named is not configured.
    PrinterUnknown,
    /// PDF labels need a Japanese font, and the server has none.
    PdfFontMissing,
    /// The upload URL or its intent has expired.
    UploadExpired,
    /// Another request is putting this upload's bytes right now.
    UploadInProgress,
    /// This upload's bytes have arrived already.
    UploadFinished,
    /// A storage event that is not one sous reads, or not about this deployment's store.
    StorageEventInvalid,
    /// An SNS message whose signature or signing certificate does not check out.
    SnsSignatureInvalid,
    /// The failed job is back on its queue already.
    JobAlreadyRequeued,
    /// The failed job was discarded by an operator.
    JobDiscarded,
    /// An advertiser, campaign or creative that cannot be saved; `errors` points at each field.
    AdInvalid,
    /// A slot that is not one of the configured `ads.slots`.
    AdSlotUnknown,
    /// A click URL that was not made by this deployment or was altered.
    ClickInvalid,
    /// A click URL past its lifetime.
    ClickExpired,
    /// A CSV file that cannot be read as a whole (its encoding, its header); row problems are
    /// reported per row instead.
    CsvInvalid,
}

impl Code {
    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidRequest
            | Code::InvalidJson
            | Code::InvalidQuery
            | Code::ImageCorrupt
            | Code::LabelInvalid
            | Code::PrinterUnknown
            | Code::StorageEventInvalid
            | Code::AdInvalid
            | Code::AdSlotUnknown
            | Code::ClickInvalid
            | Code::CsvInvalid => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden | Code::UploadExpired | Code::SnsSignatureInvalid => {
                StatusCode::FORBIDDEN
            }
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Conflict
            | Code::ImageDuplicate
            | Code::ImageChanged
            | Code::UploadInProgress
            | Code::UploadFinished
            | Code::JobAlreadyRequeued
            | Code::JobDiscarded => StatusCode::CONFLICT,
            Code::Gone | Code::ClickExpired => StatusCode::GONE,
            Code::PayloadTooLarge | Code::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType | Code::ImageUnsupported => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            // Missing a font is the deployment's fault, not a bug; the other formats still work.
            Code::ServiceUnavailable | Code::PdfFontMissing => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidRequest => "invalid_request",
            Code::InvalidJson => "invalid_json",
            Code::InvalidQuery => "invalid_query",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::Gone => "gone",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::TooManyRequests => "too_many_requests",
            Code::ServiceUnavailable => "service_unavailable",
            Code::Internal => "internal",
            Code::ImageDuplicate => "image_duplicate",
            Code::ImageChanged => "image_changed",
            Code::ImageTooLarge => "image_too_large",
            Code::ImageUnsupported => "image_unsupported",
            Code::ImageCorrupt => "image_corrupt",
            Code::LabelInvalid => "label_invalid",
            Code::PrinterUnknown => "printer_unknown",
            Code::PdfFontMissing => "pdf_font_missing",
            Code::UploadExpired => "upload_expired",
            Code::UploadInProgress => "upload_in_progress",
            Code::UploadFinished => "upload_finished",
            Code::StorageEventInvalid => "storage_event_invalid",
            Code::SnsSignatureInvalid => "sns_signature_invalid",
            Code::JobAlreadyRequeued => "job_already_requeued",
            Code::JobDiscarded => "job_discarded",
            Code::AdInvalid => "ad_invalid",
            Code::AdSlotUnknown => "ad_slot_unknown",
            Code::ClickInvalid => "click_invalid",
            Code::ClickExpired => "click_expired",
            Code::CsvInvalid => "csv_invalid",
        }
    }

    /// The code a bare status maps to, for responses that did not come from an [`ApiError`].
    pub fn from_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            409 => Code::Conflict,
            410 => Code::Gone,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            429 => Code::TooManyRequests,
            503 => Code::ServiceUnavailable,
            400..=499 => Code::InvalidRequest,
            _ => Code::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::http::ApiError;
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;

    /// Every code, in declaration order.
    const ALL: [Code; 34] = [
        Code::InvalidRequest,
        Code::InvalidJson,
        Code::InvalidQuery,
        Code::Unauthorized,
        Code::Forbidden,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::Conflict,
        Code::Gone,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::TooManyRequests,
        Code::ServiceUnavailable,
        Code::Internal,
        Code::ImageDuplicate,
        Code::ImageChanged,
        Code::ImageTooLarge,
        Code::ImageUnsupported,
        Code::ImageCorrupt,
        Code::LabelInvalid,
        Code::PrinterUnknown,
        Code::PdfFontMissing,
        Code::UploadExpired,
        Code::UploadInProgress,
        Code::UploadFinished,
        Code::StorageEventInvalid,
        Code::SnsSignatureInvalid,
        Code::JobAlreadyRequeued,
        Code::JobDiscarded,
        Code::AdInvalid,
        Code::AdSlotUnknown,
        Code::ClickInvalid,
        Code::ClickExpired,
        Code::CsvInvalid,
    ];

    #[test]
    fn every_code_has_one_name_and_its_status() {
        let mut names = std::collections::BTreeSet::new();
        for code in ALL {
            // No wildcard: a new code fails to compile here until it is in ALL.
            let status = match code {
                Code::InvalidRequest
                | Code::InvalidJson
                | Code::InvalidQuery
                | Code::ImageCorrupt
                | Code::LabelInvalid
                | Code::PrinterUnknown
                | Code::StorageEventInvalid
                | Code::AdInvalid
                | Code::AdSlotUnknown
                | Code::ClickInvalid
                | Code::CsvInvalid => 400,
                Code::Unauthorized => 401,
                Code::Forbidden | Code::UploadExpired | Code::SnsSignatureInvalid => 403,
                Code::NotFound => 404,
                Code::MethodNotAllowed => 405,
                Code::Conflict
                | Code::ImageDuplicate
                | Code::ImageChanged
                | Code::UploadInProgress
                | Code::UploadFinished
                | Code::JobAlreadyRequeued
                | Code::JobDiscarded => 409,
                Code::Gone | Code::ClickExpired => 410,
                Code::PayloadTooLarge | Code::ImageTooLarge => 413,
                Code::UnsupportedMediaType | Code::ImageUnsupported => 415,
                Code::TooManyRequests => 429,
                Code::ServiceUnavailable | Code::PdfFontMissing => 503,
                Code::Internal => 500,
            };
            assert_eq!(code.status().as_u16(), status, "{code:?}");
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                code.as_str(),
                "the body's code is as_str"
            );
            assert!(names.insert(code.as_str()), "{} twice", code.as_str());
            let body = body_of(ApiError::new(code, "x"));
            assert_eq!(body["type"], format!("urn:sous:problem:{}", code.as_str()));
            assert_eq!(body["status"], status);
        }
    }

    fn body_of(error: ApiError) -> serde_json::Value {
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&body).unwrap()
    }
}
