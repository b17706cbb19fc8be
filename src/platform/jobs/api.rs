//! Admin endpoints for dead letters: list them, put one back on its queue.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::activity::{self, Counts, Minute};
use super::failures::{self, FailedJob, FailureError, FailureState};
use super::{Queue, QueueCounts};
use crate::platform::Platform;
use crate::platform::auth::Admin;
use crate::platform::http::{ApiError, Code, Cursor, Page, page_limit};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/queues").get(list_queues))
        .service(web::resource("/v1/admin/jobs").get(list_jobs))
        .service(web::resource("/v1/admin/jobs/probe").post(probe))
        .service(web::resource("/v1/admin/jobs/{id}").delete(discard_job))
        .service(web::resource("/v1/admin/jobs/{id}/retry").post(retry_job));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobsQuery {
    /// Only this queue (any declared queue, by name).
    queue: Option<String>,
    /// `failed` (default), `requeued` or `discarded`.
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
        Some("discarded") => FailureState::Discarded,
        Some(other) => {
            return Err(ApiError::bad_request(format!("unknown state `{other}`"))
                .with_field("state", "failed, requeued or discarded"));
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
    let job = failures::requeue(&platform.db, &platform.jobs, &id).await?;
    Ok(HttpResponse::Ok().json(job))
}

/// Sets a failed job aside for good: it leaves the dead list and is never run again.
#[utoipa::path(
    delete,
    path = "/v1/admin/jobs/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The job id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Discarded"),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::platform::http::Problem, content_type = "application/problem+json", description = "Re-queued or discarded already"),
    )
)]
async fn discard_job(
    _admin: Admin,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    failures::discard(&platform.db, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A queue at a glance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    pub name: String,
    #[serde(flatten)]
    pub counts: QueueCounts,
    /// Failed for good, waiting for an operator.
    pub dead: u64,
    /// Attempts of the last 60 minutes, by outcome, from every replica.
    pub last_hour: Counts,
    /// The same hour minute by minute, oldest first.
    pub minutes: Vec<Minute>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueList {
    pub queues: Vec<QueueSummary>,
}

/// Every queue: jobs waiting, scheduled, in flight and dead, and the last hour's attempts.
#[utoipa::path(
    get,
    path = "/v1/admin/queues",
    tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, body = QueueList),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn list_queues(
    _admin: Admin,
    platform: web::Data<Platform>,
) -> Result<HttpResponse, ApiError> {
    let names = platform.jobs.registry().queue_names();
    let (dead, mut hour) = futures::try_join!(
        failures::dead_per_queue(&platform.db),
        activity::last_hour(&platform.db, &names),
    )?;
    let backend = platform.jobs.backend();
    let counts = futures::future::try_join_all(
        platform
            .jobs
            .registry()
            .queues()
            .map(|queue| backend.counts(queue)),
    )
    .await?;
    let queues = names
        .iter()
        .zip(counts)
        .map(|(&name, counts)| {
            let minutes = hour.remove(name).unwrap_or_default();
            let mut last_hour = Counts::default();
            for minute in &minutes {
                last_hour.succeeded += minute.counts.succeeded;
                last_hour.retried += minute.counts.retried;
                last_hour.dead += minute.counts.dead;
            }
            QueueSummary {
                name: name.to_string(),
                counts,
                dead: dead.get(name).copied().unwrap_or_default(),
                last_hour,
                minutes,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(QueueList { queues }))
}

impl From<FailureError> for ApiError {
    fn from(error: FailureError) -> Self {
        match error {
            FailureError::NotFound(_) => ApiError::not_found(error.to_string()),
            FailureError::AlreadyRequeued(_) => {
                ApiError::new(Code::JobAlreadyRequeued, error.to_string())
            }
            FailureError::Discarded(_) => ApiError::new(Code::JobDiscarded, error.to_string()),
            FailureError::Database(e) => e.into(),
            FailureError::Backend(e) => e.into(),
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
    let id = platform.jobs.enqueue(&job).await?;
    Ok(HttpResponse::Accepted().json(ProbeQueued {
        id,
        queue: Queue::SYSTEM.name().to_string(),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_queues, list_jobs, retry_job, discard_job, probe),
    components(schemas(
        FailedJob,
        FailureState,
        ProbeQueued,
        QueueList,
        QueueSummary,
        QueueCounts,
        Counts,
        Minute
    ))
)]
pub struct AdminJobsApi;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::jobs::JobBackendError;

    #[test]
    fn failure_errors_have_their_codes() {
        for error in [
            FailureError::NotFound("j1".into()),
            FailureError::AlreadyRequeued("j1".into()),
            FailureError::Discarded("j1".into()),
            FailureError::Database(sea_orm::DbErr::Custom("boom".into())),
            FailureError::Backend(JobBackendError::Unavailable("redis down".into())),
        ] {
            let expected = match &error {
                FailureError::NotFound(_) => Code::NotFound,
                FailureError::AlreadyRequeued(_) => Code::JobAlreadyRequeued,
                FailureError::Discarded(_) => Code::JobDiscarded,
                FailureError::Database(_) => Code::Internal,
                FailureError::Backend(_) => Code::ServiceUnavailable,
            };
            let api = ApiError::from(error);
            assert_eq!(api.code(), expected, "{api}");
        }
    }
}
