//! Admin endpoints for dead letters: list them, put one back on its queue.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::Queue;
use super::failures::{self, FailedJob, FailureError, FailureState};
use crate::platform::Platform;
use crate::platform::auth::Admin;
use crate::platform::http::{ApiError, Cursor, Page, page_limit};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/jobs").get(list_jobs))
        .service(web::resource("/v1/admin/jobs/probe").post(probe))
        .service(web::resource("/v1/admin/jobs/{id}/retry").post(retry_job));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobsQuery {
    /// Only this queue (any declared queue, by name).
    queue: Option<String>,
    /// `failed` (default) or `requeued`.
    state: Option<String>,
    /// Cursor: the `next` of the previous page.
    #[param(value_type = Option<String>)]
    after: Option<Cursor>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u64>,
}

/// Jobs that failed for good, oldest first.
#[utoipa::path(
    get,
    path = "/v1/admin/jobs",
    tag = "admin",
    params(ListJobsQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, body = Page<FailedJob>),
        (status = 400, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn list_jobs(
    _admin: Admin,
    platform: web::Data<Platform>,
    query: web::Query<ListJobsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let queue = match query.queue.as_deref() {
        None | Some("") => None,
        Some(name) => Some(platform.jobs.registry().queue_named(name).ok_or_else(|| {
            ApiError::bad_request(format!("unknown queue `{name}`")).with_field(
                "queue",
                format!(
                    "one of {}",
                    platform.jobs.registry().queue_names().join(", ")
                ),
            )
        })?),
    };
    let state = match query.state.as_deref() {
        None | Some("failed") => FailureState::Failed,
        Some("requeued") => FailureState::Requeued,
        Some(other) => {
            return Err(ApiError::bad_request(format!("unknown state `{other}`"))
                .with_field("state", "failed or requeued"));
        }
    };
    let limit = page_limit(query.limit)?;
    let after = query.after.map(|cursor| cursor.as_id());
    let items = failures::list(&platform.db, queue, state, after.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(items, limit, |job| job.id.clone())))
}

/// Puts a failed job back on its queue with a fresh attempt count.
#[utoipa::path(
    post,
    path = "/v1/admin/jobs/{id}/retry",
    tag = "admin",
    params(("id" = String, Path, description = "The job id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, body = FailedJob, description = "Re-queued"),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::platform::http::Problem, content_type = "application/problem+json", description = "Already re-queued"),
        (status = 503, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn retry_job(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match failures::requeue(&platform.db, &platform.jobs, &id).await {
        Ok(job) => Ok(HttpResponse::Ok().json(job)),
        Err(FailureError::NotFound(id)) => {
            Err(ApiError::not_found(format!("no failed job with id {id}")))
        }
        Err(FailureError::AlreadyRequeued(id)) => Err(ApiError::conflict(format!(
            "job {id} was already re-queued"
        ))),
        Err(FailureError::Database(e)) => Err(e.into()),
        Err(FailureError::Backend(e)) => {
            tracing::warn!(error = %e, "cannot re-queue: job backend unavailable");
            Err(ApiError::unavailable(
                "the job queue is unavailable; try again shortly",
                5,
            ))
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeQueued {
    pub id: uuid::Uuid,
    pub queue: String,
}

/// Queues a probe: a no-op job whose worker logs and measures how long it waited, to check
/// that workers are picking up work.
#[utoipa::path(
    post,
    path = "/v1/admin/jobs/probe",
    tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 202, body = ProbeQueued),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn probe(_admin: Admin, platform: web::Data<Platform>) -> Result<HttpResponse, ApiError> {
    let job = super::Probe::now();
    let id = platform.jobs.enqueue(&job).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot queue a probe");
        ApiError::unavailable("the job queue is unavailable; try again shortly", 5)
    })?;
    Ok(HttpResponse::Accepted().json(ProbeQueued {
        id,
        queue: Queue::SYSTEM.name().to_string(),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_jobs, retry_job, probe),
    components(schemas(FailedJob, FailureState, ProbeQueued))
)]
pub struct AdminJobsApi;
