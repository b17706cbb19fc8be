//! Print jobs: create one (print or dry run), read it, its preview, and the print log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::off_the_runtime;
use super::request::{PrintJobRequest, PrintOrder};
use crate::labels::LabelError;
use crate::labels::entity::PrintStatus;
use crate::labels::job::PrintLabels;
use crate::labels::print_log::{self, LabelSubstitution, NewPrintJob, Summary};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, ListQuery, Page, Problem, page_limit};

/// A print job as its owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrintJob {
    pub id: String,
    /// The subject of the token that created it.
    pub owner: String,
    /// Absent for a dry run without a printer.
    pub printer: Option<String>,
    pub dry_run: bool,
    pub status: PrintStatus,
    pub label_count: u32,
    /// Characters printed other than as written (`〜` → `～`, `𠮷` → `吉`, emoji → `〓`), each
    /// with the index of its label.
    pub substitutions: Vec<LabelSubstitution>,
    /// The last failure to print: while `queued` it will be retried, when `failed` it was not.
    pub error: Option<String>,
    /// Attempts to send to the printer so far.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub links: PrintJobLinks,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrintJobLinks {
    #[serde(rename = "self")]
    pub this: String,
    /// Every label of the job as one HTML document.
    pub preview: String,
}

impl TryFrom<Summary> for PrintJob {
    type Error = LabelError;

    fn try_from(job: Summary) -> Result<Self, LabelError> {
        let substitutions = serde_json::from_str(&job.substitutions).map_err(|e| {
            LabelError::Unexpected(
                anyhow::Error::new(e).context("logged substitutions do not parse"),
            )
        })?;
        Ok(PrintJob {
            links: PrintJobLinks {
                this: format!("/v1/print-jobs/{}", job.id),
                preview: format!("/v1/print-jobs/{}/preview", job.id),
            },
            id: job.id,
            owner: job.owner,
            printer: job.printer,
            dry_run: job.dry_run,
            status: job.status,
            label_count: job.label_count.max(0) as u32,
            substitutions,
            error: job.error,
            attempts: job.attempts.max(0) as u32,
            created_at: job.created_at,
            updated_at: job.updated_at,
        })
    }
}

/// Renders the labels, logs them and, unless it is a dry run, queues them for the printer.
#[utoipa::path(
    post,
    path = "/v1/print-jobs",
    tag = "labels",
    request_body = PrintJobRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = PrintJob, description = "Dry run: rendered and logged, not printed"),
        (status = 202, body = PrintJob, description = "Queued for the printer"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`errors` points at the label, template field or tree element at fault"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(owner = %principal.subject))]
pub(super) async fn create(
    principal: Principal,
    platform: web::Data<Platform>,
    body: web::Json<PrintJobRequest>,
) -> Result<HttpResponse, ApiError> {
    let PrintOrder {
        labels,
        printer,
        dry_run,
    } = body
        .into_inner()
        .parse(&platform.settings.labels.printers)?;
    let owner = principal.subject;
    let job = off_the_runtime(move || {
        let trees = labels.into_trees()?;
        Ok::<_, LabelError>(NewPrintJob::render(owner, printer, dry_run, &trees))
    })
    .await??;
    let id = job.id();
    let job = print_log::create(&platform.db, &platform.store, job)
        .await
        .map_err(LabelError::from)?;
    if !dry_run {
        enqueue(&platform, id).await?;
    }
    let status = if dry_run {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    let job = PrintJob::try_from(job)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, job.links.this.clone()))
        .json(job))
}

/// Queues a logged job; if the queue is down, the job is marked failed so the log never shows
/// a `queued` job that no worker will pick up.
async fn enqueue(platform: &Platform, id: Uuid) -> Result<(), LabelError> {
    let Err(error) = platform
        .jobs
        .enqueue(&PrintLabels { print_job_id: id })
        .await
    else {
        return Ok(());
    };
    tracing::warn!(%error, print_job_id = %id, "cannot queue a print job; marking it failed");
    let reason = "the print queue was unavailable; nothing was printed".to_string();
    print_log::finish(
        &platform.db,
        &id.to_string(),
        PrintStatus::Failed,
        Some(reason),
    )
    .await?;
    Err(LabelError::Queue(error))
}

/// A print job, for its owner or an admin.
#[utoipa::path(
    get,
    path = "/v1/print-jobs/{id}",
    tag = "labels",
    params(("id" = String, Path, description = "The print job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PrintJob),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such print job, or someone else's"),
    )
)]
pub(super) async fn get(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = print_log::find(&platform.db, &id)
        .await?
        .filter(|job| principal.is_owner_or_admin(&job.owner))
        .ok_or_else(|| LabelError::NotFound(id.to_string()))?;
    Ok(HttpResponse::Ok().json(PrintJob::try_from(job)?))
}

/// Every label of a print job as one HTML document, as it prints.
#[utoipa::path(
    get,
    path = "/v1/print-jobs/{id}/preview",
    tag = "labels",
    params(("id" = String, Path, description = "The print job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = String, content_type = "text/html; charset=utf-8"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such print job, or someone else's"),
    )
)]
pub(super) async fn preview(
    principal: Principal,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let preview = print_log::preview(&platform.db, &id)
        .await?
        .filter(|preview| principal.is_owner_or_admin(&preview.owner))
        .ok_or_else(|| LabelError::NotFound(id.to_string()))?;
    // The labels carry client text: escaped by the renderer, and nothing may run regardless.
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(preview.preview))
}

/// The caller's print log, newest first (an admin's: everyone's, or one owner's).
#[utoipa::path(
    get,
    path = "/v1/print-jobs",
    tag = "labels",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<PrintJob>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`owner` names someone else and the caller is not an admin"),
    )
)]
pub(super) async fn list(
    principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let owner = principal.listing_scope(query.owner.as_deref())?;
    let limit = page_limit(query.limit)?;
    let jobs = print_log::list(
        &platform.db,
        owner.as_deref(),
        query.after_id().as_deref(),
        limit,
    )
    .await?;
    let page = Page::new(jobs, limit, |job| job.id.clone());
    let items = page
        .items
        .into_iter()
        .map(PrintJob::try_from)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next: page.next,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrinterList {
    /// The names print jobs may name (`labels.printers`); their addresses stay on the server.
    pub items: Vec<String>,
}

/// The configured printers, by name.
#[utoipa::path(
    get,
    path = "/v1/labels/printers",
    tag = "labels",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PrinterList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn printers(_: Principal, platform: web::Data<Platform>) -> HttpResponse {
    let items = platform.settings.labels.printers.keys().cloned().collect();
    HttpResponse::Ok().json(PrinterList { items })
}
