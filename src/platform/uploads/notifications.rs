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
    let incoming = parse(&body).map_err(|e| match e {
        ParseError::Json(detail) => {
            ApiError::new(Code::InvalidJson, format!("the body is not JSON: {detail}"))
        }
        ParseError::Shape(detail) => ApiError::bad_request(detail),
    })?;
    let (parsed, strict) = match incoming {
        Incoming::S3(parsed) => (parsed, true),
        Incoming::PubSub(parsed) => (parsed, false),
        Incoming::Sns(message) => {
            platform.sns.verify(&message).await.map_err(|e| match e {
                SnsError::Fetch(_) => {
                    tracing::warn!(error = %e, "cannot fetch the SNS signing certificate");
                    ApiError::unavailable(
                        "cannot verify the SNS signature now; deliver again later",
                        10,
                    )
                }
                other => ApiError::forbidden(format!("SNS message refused: {other}")),
            })?;
            match message.kind.as_str() {
                "SubscriptionConfirmation" => {
                    platform
                        .sns
                        .confirm_subscription(&message)
                        .await
                        .map_err(|e| match e {
                            SnsError::Fetch(_) => {
                                tracing::warn!(error = %e, "cannot confirm the SNS subscription");
                                ApiError::unavailable(
                                    "cannot confirm the SNS subscription now; deliver again later",
                                    10,
                                )
                            }
                            other => ApiError::bad_request(format!(
                                "subscription not confirmed: {other}"
                            )),
                        })?;
                    tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                    return Ok(accepted(Vec::new(), vec!["subscription confirmed".into()]));
                }
                "Notification" => {
                    let inner: serde_json::Value =
                        serde_json::from_str(&message.message).map_err(|e| {
                            ApiError::bad_request(format!(
                                "the SNS Message is not S3 event JSON: {e}"
                            ))
                        })?;
                    (
                        parse_s3(&inner).map_err(|e| ApiError::bad_request(e.to_string()))?,
                        false,
                    )
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
            Err(reason) if strict => return Err(ApiError::bad_request(reason)),
            Err(reason) => {
                tracing::warn!(%reason, "storage event ignored");
                ignored.push(reason);
            }
        }
    }
    let mut results = Vec::with_capacity(events.len());
    for event in events {
        results.push(deliver(&platform, event).await.map_err(|e| match e {
            DeliverError::Database(e) => ApiError::from(e),
            DeliverError::Reject(e) => ApiError::internal(e),
            DeliverError::Queue(e) => {
                tracing::warn!(error = %e, "cannot queue storage event work");
                ApiError::unavailable("the job queue is unavailable; deliver again later", 10)
            }
        })?);
    }
    Ok(accepted(results, ignored))
}

fn accepted(results: Vec<Outcome>, ignored: Vec<String>) -> HttpResponse {
    HttpResponse::Ok().json(EventsAccepted { results, ignored })
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
