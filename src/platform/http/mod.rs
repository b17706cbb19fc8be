//! The HTTP platform: problem+json for every error (actix's own included), request ids and
//! tracing, Prometheus metrics, health and readiness, the OpenAPI document.

mod body;
mod error;
mod health;
mod page;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use tracing::Instrument;

pub use body::body_within;
pub use error::{ApiError, Code, FieldError, PROBLEM_JSON, Problem, problem_for_status};
pub use health::{OptionalPart, routes as health_routes};
pub use page::{Cursor, DEFAULT_PAGE, ListQuery, MAX_PAGE, Page, page_limit};

use super::Platform;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Extractor settings whose errors come out as problem+json with a useful detail.
pub fn extractor_configs(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|error, _| json_error(error).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|error, req| query_error(error, req.query_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|error, _| path_error(error).into()))
    .app_data(web::PayloadConfig::default().limit(max_body_bytes));
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("the body is larger than the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::new(Code::InvalidJson, format!("the JSON body is invalid: {e}"))
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::new(
            Code::PayloadTooLarge,
            "the body is larger than the configured limit",
        ),
        other => ApiError::new(
            Code::InvalidJson,
            format!("the body could not be read: {other}"),
        ),
    }
}

fn query_error(error: QueryPayloadError, query: &str) -> ApiError {
    let detail = match &error {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    // serde_urlencoded does not name the field at fault, so show the query it was reading.
    ApiError::new(
        Code::InvalidQuery,
        format!("invalid query parameters `{query}`: {detail}"),
    )
}

fn path_error(error: PathError) -> ApiError {
    let detail = match &error {
        PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request(format!("invalid path: {detail}"))
}

/// Answers requests that matched no route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Replaces any error response that is not problem+json (actix's 405, payload errors, a panic's
/// 500) with one that is, so clients parse a single error shape.
pub fn problem_for_foreign_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let already_problem = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status.as_u16() {
        405 => format!(
            "{} is not allowed on {}",
            res.request().method(),
            res.request().path()
        ),
        404 => format!(
            "no route for {} {}",
            res.request().method(),
            res.request().path()
        ),
        400..=499 => res
            .response()
            .error()
            .map(|e| e.to_string())
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("client error")
                    .to_string()
            }),
        _ => "an internal error occurred; it has been logged".to_string(),
    };
    let (req, res) = res.into_parts();
    let mut problem = problem_for_status(status, detail).error_response();
    for (name, value) in res.headers() {
        if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, problem).map_into_right_body(),
    ))
}

/// Request id (taken from a trusted-looking `X-Request-Id` or made), a span around the request,
/// one log line per request, and the HTTP metrics by route pattern (never by raw path, which
/// would let clients create unbounded label values).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let method = req.method().to_string();
    let span = tracing::info_span!("http", %method, path = %req.path(), request_id = %request_id);
    let metrics = req
        .app_data::<web::Data<Platform>>()
        .map(|p| p.metrics.clone());
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    if let Some(metrics) = metrics {
        metrics.http_request(&method, &route, status.as_u16(), elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), %route, elapsed_ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), %route, elapsed_ms, "request");
        }
    });
    Ok(res)
}
