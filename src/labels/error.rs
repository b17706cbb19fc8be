//! What can go wrong with labels over HTTP, and how each problem answers. The mapping is
//! exhaustive: a new variant must say what it means to a client.

use super::print_log::CreateError;
use super::{Format, RenderError, UnknownFormat};
use crate::platform::http::{ApiError, Code, FieldError};
use crate::platform::jobs::JobBackendError;

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// Labels that cannot be drawn (template, data or tree), each problem at its JSON pointer.
    #[error("{}", invalid_detail(.0))]
    Invalid(Vec<FieldError>),
    /// The request around the labels: a batch next to a single label, a batch of the wrong size.
    #[error("{field}: {message}")]
    Request {
        field: &'static str,
        message: String,
    },
    #[error("/printer: unknown printer `{name}`; {known}")]
    UnknownPrinter { name: String, known: String },
    #[error("/printer: required unless `dry_run`; {known}")]
    NoPrinter { known: String },
    #[error("`format` is required")]
    NoFormat,
    #[error(transparent)]
    Format(#[from] UnknownFormat),
    /// Someone else's job answers the same, so ids reveal nothing.
    #[error("no print job with id {0}")]
    NotFound(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot queue the print job")]
    Queue(#[from] JobBackendError),
    #[error("cannot store the label bytes")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<CreateError> for LabelError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::Store(e) => LabelError::Store(e),
            CreateError::Database(e) => LabelError::Database(e),
        }
    }
}

fn invalid_detail(problems: &[FieldError]) -> String {
    match problems {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} labels are invalid; `errors` lists each", many.len()),
    }
}

fn formats() -> String {
    let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
    format!("one of {}", names.join(", "))
}

impl From<LabelError> for ApiError {
    fn from(error: LabelError) -> Self {
        let detail = error.to_string();
        match error {
            LabelError::Invalid(problems) => problems
                .into_iter()
                .fold(ApiError::new(Code::LabelInvalid, detail), |api, p| {
                    api.with_field(p.field, p.message)
                }),
            LabelError::Request { field, message } => {
                ApiError::bad_request(detail).with_field(field, message)
            }
            LabelError::UnknownPrinter { name, known } => {
                ApiError::new(Code::PrinterUnknown, detail)
                    .with_field("/printer", format!("unknown printer `{name}`; {known}"))
            }
            LabelError::NoPrinter { known } => ApiError::bad_request(detail)
                .with_field("/printer", format!("required unless `dry_run`; {known}")),
            LabelError::NoFormat | LabelError::Format(_) => {
                ApiError::new(Code::InvalidQuery, detail).with_field("format", formats())
            }
            LabelError::NotFound(_) => ApiError::not_found(detail),
            LabelError::Render(render) => match render {
                RenderError::Font(e) => {
                    tracing::warn!(
                        error = format!("{:#}", anyhow::Error::new(e)),
                        "cannot render a PDF label"
                    );
                    ApiError::new(
                        Code::PdfFontMissing,
                        "PDF labels are unavailable: the server has no Japanese font (the other formats work)",
                    )
                }
                RenderError::Pdf(e) => {
                    ApiError::internal(anyhow::Error::new(e).context("failed to write a PDF label"))
                }
            },
            LabelError::Queue(e) => e.into(),
            LabelError::Store(e) => e.into(),
            LabelError::Database(e) => e.into(),
            LabelError::Unexpected(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::FontError;

    fn field(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    fn every_variant() -> Vec<LabelError> {
        vec![
            LabelError::Invalid(vec![field("/tree", "the root must be a sheet")]),
            LabelError::Request {
                field: "/labels",
                message: "a batch holds 1 to 500 labels, not 0".into(),
            },
            LabelError::UnknownPrinter {
                name: "office".into(),
                known: "configured printers: `dock`".into(),
            },
            LabelError::NoPrinter {
                known: "no printers are configured".into(),
            },
            LabelError::NoFormat,
            LabelError::Format(UnknownFormat("jpeg".into())),
            LabelError::NotFound("j1".into()),
            LabelError::Render(RenderError::Font(FontError::Read {
                path: "/nonexistent/font.ttf".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })),
            LabelError::Render(RenderError::Pdf(
                krilla::error::KrillaError::DuplicateNamedDestination(
                    "bad glyph".to_string().into(),
                ),
            )),
            LabelError::Queue(JobBackendError::Unavailable("redis down".into())),
            LabelError::Store(object_store::Error::Generic {
                store: "S3",
                source: "timed out".into(),
            }),
            LabelError::Database(sea_orm::DbErr::Custom("boom".into())),
            LabelError::Unexpected(anyhow::anyhow!("the CPU pool panicked")),
        ]
    }

    #[test]
    fn every_label_error_has_its_code() {
        for error in every_variant() {
            // No wildcard: a new variant fails to compile here until it has a code.
            let expected = match &error {
                LabelError::Invalid(_) => Code::LabelInvalid,
                LabelError::Request { .. } | LabelError::NoPrinter { .. } => Code::InvalidRequest,
                LabelError::UnknownPrinter { .. } => Code::PrinterUnknown,
                LabelError::NoFormat | LabelError::Format(_) => Code::InvalidQuery,
                LabelError::NotFound(_) => Code::NotFound,
                LabelError::Render(RenderError::Font(_)) => Code::PdfFontMissing,
                LabelError::Render(RenderError::Pdf(_))
                | LabelError::Database(_)
                | LabelError::Unexpected(_) => Code::Internal,
                LabelError::Queue(_) | LabelError::Store(_) => Code::ServiceUnavailable,
            };
            let label = format!("{error:?}");
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{label}");
            for secret in ["nonexistent", "bad glyph", "redis", "timed out", "panicked"] {
                assert!(!api.detail().contains(secret), "{label}: {api}");
            }
        }
    }

    #[test]
    fn invalid_labels_list_every_problem() {
        let one = ApiError::from(LabelError::Invalid(vec![field("/tree", "not a sheet")]));
        assert_eq!(one.detail(), "/tree: not a sheet");
        let two = ApiError::from(LabelError::Invalid(vec![
            field("/labels/1/tree", "not a sheet"),
            field("/labels/2/data/quantity", "must be at least 1"),
        ]));
        assert_eq!(two.detail(), "2 labels are invalid; `errors` lists each");
        let response = actix_web::ResponseError::error_response(&two);
        let body = actix_web::body::MessageBody::try_into_bytes(response.into_body()).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "label_invalid");
        assert_eq!(json["errors"][1]["field"], "/labels/2/data/quantity");
    }
}
