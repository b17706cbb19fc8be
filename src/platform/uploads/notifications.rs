//! `POST /v1/storage-events`: S3 notifications (direct or through SNS) and GCS Pub/Sub pushes.
//!
//! Authenticated by the shared `SOUS_EVENTS_TOKEN` (the `token` query parameter, since SNS and
//! Pub/Sub push cannot add headers, or the `X-Sous-Events-Token` header), plus SNS signatures.
//! Payloads posted directly get a 4xx for anything wrong, since their sender can fix it; SNS and
//! Pub/Sub redeliver on any error, so what they carry that sous cannot use (a foreign bucket, a
//! key outside the store, another event type) is logged and acknowledged with a 200.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{DeliverError, deliver};
use crate::platform::Platform;
use crate::platform::events::sns::SnsError;
use crate::platform::events::{
    Incoming, Notification, ObjectCreated, Outcome, ParseError, parse, parse_s3,
};
use crate::platform::http::{ApiError, Code};
use crate::platform::storage::ObjectKey;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/storage-events").post(receive));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The shared events token (or send it as `X-Sous-Events-Token`).
    token: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsAccepted {
    pub results: Vec<Outcome>,
    /// What the payload held that is not work for sous, and why.
    pub ignored: Vec<String>,
}

/// Receives storage events; answers once the work is queued.
#[utoipa::path(
    post,
    path = "/v1/storage-events",
    tag = "storage",
    params(EventsQuery),
    request_body(content = Object, description = "S3 event notification, SNS envelope or Pub/Sub push message"),
    responses(
        (status = 200, body = EventsAccepted),
        (status = 400, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json", description = "SNS signature invalid"),
        (status = 503, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn receive(
    req: HttpRequest,
    platform: web::Data<Platform>,
    query: web::Query<EventsQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authenticate(&req, &platform, query.token.as_deref())?;
    let incoming = parse(&body)?;
    let (parsed, strict) = match incoming {
        Incoming::S3(parsed) => (parsed, true),
        Incoming::PubSub(parsed) => (parsed, false),
        Incoming::Sns(message) => {
            platform.sns.verify(&message).await.map_err(refused)?;
            match message.kind.as_str() {
                "SubscriptionConfirmation" => {
                    platform
                        .sns
                        .confirm_subscription(&message)
                        .await
                        .map_err(not_confirmed)?;
                    tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                    return Ok(accepted(Vec::new(), vec!["subscription confirmed".into()]));
                }
                "Notification" => {
                    let inner: serde_json::Value =
                        serde_json::from_str(&message.message).map_err(|e| {
                            invalid_event(format!("the SNS Message is not S3 event JSON: {e}"))
                        })?;
                    (parse_s3(&inner)?, false)
                }
                other => {
                    return Ok(accepted(
                        Vec::new(),
                        vec![format!("SNS {other} acknowledged")],
                    ));
                }
            }
        }
    };

    // Check every notification before queueing any, so a bad payload queues nothing.
    let mut ignored = parsed.ignored;
    let mut events = Vec::new();
    for notification in parsed.notifications {
        match ours(&platform, notification) {
            Ok(event) => events.push(event),
            Err(reason) if strict => return Err(invalid_event(reason)),
            Err(reason) => {
                tracing::warn!(%reason, "storage event ignored");
                ignored.push(reason);
            }
        }
    }
    let mut results = Vec::with_capacity(events.len());
    for event in events {
        results.push(deliver(&platform, event).await?);
    }
    Ok(accepted(results, ignored))
}

fn accepted(results: Vec<Outcome>, ignored: Vec<String>) -> HttpResponse {
    HttpResponse::Ok().json(EventsAccepted { results, ignored })
}

fn invalid_event(detail: impl Into<String>) -> ApiError {
    ApiError::new(Code::StorageEventInvalid, detail)
}

impl From<ParseError> for ApiError {
    fn from(error: ParseError) -> Self {
        match error {
            ParseError::Json(_) => ApiError::new(Code::InvalidJson, error.to_string()),
            ParseError::Shape(detail) => invalid_event(detail),
        }
    }
}

/// Why an SNS message is refused. SNS redelivers on any error, so a certificate that cannot be
/// fetched now is a 503; the fetch's and the certificate parser's own words are only logged.
fn refused(error: SnsError) -> ApiError {
    let refuse = |detail: String| ApiError::new(Code::SnsSignatureInvalid, detail);
    match error {
        SnsError::Fetch(_) => {
            tracing::warn!(%error, "cannot fetch the SNS signing certificate");
            ApiError::unavailable(
                "cannot verify the SNS signature now; deliver again later",
                10,
            )
        }
        SnsError::Certificate(_) => {
            tracing::warn!(%error, "unusable SNS signing certificate");
            refuse("SNS message refused: the signing certificate is unusable".into())
        }
        SnsError::ForeignHost(..) | SnsError::UnsupportedVersion(_) | SnsError::BadSignature => {
            refuse(format!("SNS message refused: {error}"))
        }
        SnsError::NoRegion => {
            ApiError::forbidden(format!("SNS messages are not accepted: {error}"))
        }
    }
}

/// Why a subscription is not confirmed: its URL is not an SNS host, or SNS cannot be reached.
fn not_confirmed(error: SnsError) -> ApiError {
    match error {
        SnsError::Fetch(_) => {
            tracing::warn!(%error, "cannot confirm the SNS subscription");
            ApiError::unavailable(
                "cannot confirm the SNS subscription now; deliver again later",
                10,
            )
        }
        SnsError::ForeignHost(..) => invalid_event(format!("subscription not confirmed: {error}")),
        SnsError::NoRegion => {
            ApiError::forbidden(format!("SNS messages are not accepted: {error}"))
        }
        // Only verification raises these, and it passed before any confirmation.
        SnsError::UnsupportedVersion(_) | SnsError::BadSignature | SnsError::Certificate(_) => {
            refused(error)
        }
    }
}

/// Delivery failed after the payload was accepted: nothing the sender did wrong.
impl From<DeliverError> for ApiError {
    fn from(error: DeliverError) -> Self {
        match error {
            DeliverError::Database(e) => e.into(),
            DeliverError::Queue(e) => e.into(),
            DeliverError::Reject(e) => ApiError::internal(e),
        }
    }
}

fn authenticate(
    req: &HttpRequest,
    platform: &Platform,
    query_token: Option<&str>,
) -> Result<(), ApiError> {
    let expected = platform.settings.events.token.as_ref().ok_or_else(|| {
        ApiError::unauthorized("storage events are not enabled here (SOUS_EVENTS_TOKEN is unset)")
    })?;
    let given = query_token
        .or_else(|| {
            req.headers()
                .get("x-sous-events-token")
                .and_then(|v| v.to_str().ok())
        })
        .ok_or_else(|| {
            ApiError::unauthorized(
                "the events token is missing (`token` parameter or X-Sous-Events-Token)",
            )
        })?;
    let matches: bool = aws_lc_rs::constant_time::verify_slices_are_equal(
        given.as_bytes(),
        expected.expose_secret().as_bytes(),
    )
    .is_ok();
    if !matches {
        return Err(ApiError::unauthorized("the events token is wrong"));
    }
    Ok(())
}

/// The event as sous sees it, or why it is not about this store.
fn ours(platform: &Platform, notification: Notification) -> Result<ObjectCreated, String> {
    let store = &platform.store;
    if notification.bucket != store.bucket() {
        return Err(format!(
            "bucket {:?} is not this deployment's store",
            notification.bucket
        ));
    }
    let key = store.key_in_store(&notification.key).ok_or_else(|| {
        format!(
            "key {:?} is outside this deployment's store prefix",
            notification.key
        )
    })?;
    let key = ObjectKey::parse(key).map_err(|e| e.to_string())?;
    Ok(ObjectCreated {
        bucket: notification.bucket,
        key: key.to_string(),
        version: notification.version,
        size: notification.size,
        content_type: notification.content_type,
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(receive), components(schemas(EventsAccepted, Outcome)))]
pub struct StorageEventsApi;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::jobs::JobBackendError;

    fn every_sns_error() -> Vec<SnsError> {
        vec![
            SnsError::NoRegion,
            SnsError::ForeignHost("evil.example".into(), "eu-west-1".into()),
            SnsError::UnsupportedVersion("3".into()),
            SnsError::BadSignature,
            SnsError::Certificate("x509 parser: bad DER at 0x3f".into()),
            SnsError::Fetch("tls handshake eof".into()),
        ]
    }

    #[test]
    fn sns_refusals_have_their_codes_and_keep_upstream_text_out() {
        for error in every_sns_error() {
            let expected = match &error {
                SnsError::NoRegion => Code::Forbidden,
                SnsError::ForeignHost(..)
                | SnsError::UnsupportedVersion(_)
                | SnsError::BadSignature
                | SnsError::Certificate(_) => Code::SnsSignatureInvalid,
                SnsError::Fetch(_) => Code::ServiceUnavailable,
            };
            let api = refused(error);
            assert_eq!(api.code(), expected, "{api}");
            assert!(!api.detail().contains("x509"), "{api}");
            assert!(!api.detail().contains("tls"), "{api}");
        }
    }

    #[test]
    fn unconfirmed_subscriptions_have_their_codes() {
        for error in every_sns_error() {
            let expected = match &error {
                SnsError::NoRegion => Code::Forbidden,
                SnsError::ForeignHost(..) => Code::StorageEventInvalid,
                SnsError::UnsupportedVersion(_)
                | SnsError::BadSignature
                | SnsError::Certificate(_) => Code::SnsSignatureInvalid,
                SnsError::Fetch(_) => Code::ServiceUnavailable,
            };
            let api = not_confirmed(error);
            assert_eq!(api.code(), expected, "{api}");
            assert!(!api.detail().contains("tls"), "{api}");
        }
    }

    #[test]
    fn parse_errors_have_their_codes() {
        for error in [
            ParseError::Json("EOF while parsing".into()),
            ParseError::Shape("no Records".into()),
        ] {
            let expected = match &error {
                ParseError::Json(_) => Code::InvalidJson,
                ParseError::Shape(_) => Code::StorageEventInvalid,
            };
            let detail = error.to_string();
            let api = ApiError::from(error);
            assert_eq!((api.code(), api.detail()), (expected, detail.as_str()));
        }
    }

    #[test]
    fn delivery_errors_have_their_codes() {
        for error in [
            DeliverError::Database(sea_orm::DbErr::Custom("boom".into())),
            DeliverError::Queue(JobBackendError::Unavailable("redis down".into())),
            DeliverError::Reject(anyhow::anyhow!("cannot delete")),
        ] {
            let expected = match &error {
                DeliverError::Database(_) | DeliverError::Reject(_) => Code::Internal,
                DeliverError::Queue(_) => Code::ServiceUnavailable,
            };
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{api}");
            assert!(!api.detail().contains("redis"), "{api}");
        }
    }
}
