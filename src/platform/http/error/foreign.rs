//! Errors of the crates sous builds on, as problems: what a client may learn of them is whether
//! to try again; their own text goes to the log only.

use super::ApiError;
use crate::platform::jobs::JobBackendError;

/// Database errors: a pool that cannot hand out a connection, or a connection lost mid-query,
/// is a 503; anything else a 500.
impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr, SqlxError};
        let lost = match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                matches!(
                    **e,
                    SqlxError::Io(_)
                        | SqlxError::Tls(_)
                        | SqlxError::PoolTimedOut
                        | SqlxError::PoolClosed
                        | SqlxError::WorkerCrashed
                )
            }
            // DbErr is #[non_exhaustive]: what it may grow is a 500 until it is mapped here.
            _ => false,
        };
        if lost {
            tracing::warn!(
                error = format!("{:#}", anyhow::Error::new(error)),
                "database unavailable"
            );
            ApiError::unavailable("the database is unavailable; try again shortly", 5)
        } else {
            ApiError::internal(anyhow::Error::new(error).context("database query failed"))
        }
    }
}

/// Object storage errors. A missing object is a 404; a remote store that still fails after
/// object_store's own retries is a 503; anything else (credentials, configuration, a local disk)
/// is a 500. Store messages name buckets, keys and hosts, so they are logged, never answered.
impl From<object_store::Error> for ApiError {
    fn from(error: object_store::Error) -> Self {
        use object_store::Error as E;
        let unreachable = match &error {
            E::NotFound { .. } => {
                tracing::debug!(%error, "object not found");
                return ApiError::not_found("the object does not exist");
            }
            E::Generic { store, source } => store_unreachable(store, source.as_ref()),
            E::InvalidPath { .. }
            | E::JoinError { .. }
            | E::NotSupported { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. } => false,
            // object_store::Error is #[non_exhaustive]: a new variant is a 500 until mapped.
            _ => false,
        };
        if unreachable {
            tracing::warn!(
                error = format!("{:#}", anyhow::Error::new(error)),
                "object storage unavailable"
            );
            ApiError::unavailable("object storage is unavailable; try again shortly", 5)
        } else {
            ApiError::internal(anyhow::Error::new(error).context("object storage failed"))
        }
    }
}

/// Stores reached over the network, and any failure of the HTTP transport itself.
fn store_unreachable(store: &str, source: &(dyn std::error::Error + 'static)) -> bool {
    const REMOTE: [&str; 4] = ["S3", "GCS", "MicrosoftAzure", "HTTP"];
    REMOTE.contains(&store)
        || std::iter::successors(Some(source), |e| e.source())
            .any(|e| e.is::<object_store::client::HttpError>())
}

/// The job queue: down is a 503; a payload that does not encode is a bug.
impl From<JobBackendError> for ApiError {
    fn from(error: JobBackendError) -> Self {
        match error {
            JobBackendError::Unavailable(_) => {
                tracing::warn!(%error, "job backend unavailable");
                ApiError::unavailable("the job queue is unavailable; try again shortly", 5)
            }
            JobBackendError::Encode(_) => {
                ApiError::internal(anyhow::Error::new(error).context("failed to queue a job"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;
    use actix_web::http::header;

    use crate::platform::http::Code;

    fn boxed(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
        message.into()
    }

    /// A JoinError made without a panic in the test output.
    async fn cancelled() -> tokio::task::JoinError {
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        task.await.unwrap_err()
    }

    #[tokio::test]
    async fn object_store_errors_map_by_kind_and_say_nothing_of_the_store() {
        use object_store::Error as E;
        let path = || "bucket-name/secret/key".to_string();
        let errors = vec![
            E::Generic {
                store: "S3",
                source: boxed("503 SlowDown from s3.eu-west-1.amazonaws.com"),
            },
            E::Generic {
                store: "LocalFileSystem",
                source: boxed("disk full at /var/lib/sous/bucket-name"),
            },
            E::NotFound {
                path: path(),
                source: boxed("404"),
            },
            E::InvalidPath {
                source: object_store::path::Error::EmptySegment { path: path() },
            },
            E::JoinError {
                source: cancelled().await,
            },
            E::NotSupported {
                source: boxed("bucket-name"),
            },
            E::AlreadyExists {
                path: path(),
                source: boxed("409"),
            },
            E::Precondition {
                path: path(),
                source: boxed("412"),
            },
            E::NotModified {
                path: path(),
                source: boxed("304"),
            },
            E::NotImplemented {
                operation: "copy bucket-name".into(),
                implementer: "S3".into(),
            },
            E::PermissionDenied {
                path: path(),
                source: boxed("403"),
            },
            E::Unauthenticated {
                path: path(),
                source: boxed("401"),
            },
            E::UnknownConfigurationKey {
                store: "S3",
                key: "bucket-name".into(),
            },
        ];
        for error in errors {
            let expected = match &error {
                E::NotFound { .. } => Code::NotFound,
                E::Generic { store, .. } if *store == "S3" => Code::ServiceUnavailable,
                E::Generic { .. }
                | E::InvalidPath { .. }
                | E::JoinError { .. }
                | E::NotSupported { .. }
                | E::AlreadyExists { .. }
                | E::Precondition { .. }
                | E::NotModified { .. }
                | E::NotImplemented { .. }
                | E::PermissionDenied { .. }
                | E::Unauthenticated { .. }
                | E::UnknownConfigurationKey { .. } => Code::Internal,
                other => panic!("an object_store error this test does not know: {other}"),
            };
            let label = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{label}");
            assert!(!api.detail().contains("bucket-name"), "{label}: {api}");
            assert!(!api.detail().contains("amazonaws"), "{label}: {api}");
            let response = api.error_response();
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                expected == Code::ServiceUnavailable,
                "{label}"
            );
        }
    }

    #[test]
    fn a_failed_transport_is_unavailable_whatever_the_store() {
        use object_store::client::{HttpError, HttpErrorKind};
        let error = object_store::Error::Generic {
            store: "Prefixed",
            source: Box::new(HttpError::new(
                HttpErrorKind::Connect,
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            )),
        };
        assert_eq!(ApiError::from(error).code(), Code::ServiceUnavailable);
    }

    #[test]
    fn database_errors_are_unavailable_only_when_the_connection_is() {
        use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlxError};
        use std::sync::Arc;
        let sqlx = |e: SqlxError| RuntimeErr::SqlxError(Arc::new(e));
        let lost = || SqlxError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        for (error, expected) in [
            (
                DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
                Code::ServiceUnavailable,
            ),
            (DbErr::Conn(sqlx(lost())), Code::ServiceUnavailable),
            (DbErr::Query(sqlx(lost())), Code::ServiceUnavailable),
            (
                DbErr::Exec(sqlx(SqlxError::PoolTimedOut)),
                Code::ServiceUnavailable,
            ),
            (DbErr::Query(sqlx(SqlxError::RowNotFound)), Code::Internal),
            (
                DbErr::Exec(RuntimeErr::Internal(
                    "relation \"images\" does not exist".into(),
                )),
                Code::Internal,
            ),
            (DbErr::RecordNotFound("images".into()), Code::Internal),
        ] {
            let label = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{label}");
            assert!(!api.detail().contains("images"), "{label}: {api}");
        }
    }

    #[test]
    fn job_backend_errors_map_by_kind() {
        for error in [
            JobBackendError::Unavailable("redis://10.0.0.5 refused".into()),
            JobBackendError::Encode(serde_json::from_str::<u8>("x").unwrap_err()),
        ] {
            let expected = match &error {
                JobBackendError::Unavailable(_) => Code::ServiceUnavailable,
                JobBackendError::Encode(_) => Code::Internal,
            };
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{api}");
            assert!(!api.detail().contains("redis"), "{api}");
        }
    }
}
