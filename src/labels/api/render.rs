//! Templates and rendering without printing.

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::off_the_runtime;
use super::request::LabelSource;
use crate::config::Settings;
use crate::labels::{Format, LabelError, PdfOptions, Renderer, templates};
use crate::platform::Platform;
use crate::platform::auth::Principal;
use crate::platform::http::{ApiError, Problem};

/// How many characters the label prints other than as written.
const SUBSTITUTIONS_HEADER: &str = "x-label-substitutions";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub name: &'static str,
    pub description: &'static str,
    /// Data that renders as is.
    #[schema(value_type = Object)]
    pub example: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub items: Vec<Template>,
}

/// The label templates, each with example data that renders as is. Public: templates hold no
/// customer data, and label designers need them before they have a token.
#[utoipa::path(
    get,
    path = "/v1/labels/templates",
    tag = "labels",
    responses((status = 200, body = TemplateList))
)]
pub(super) async fn templates() -> HttpResponse {
    let items = templates::list()
        .into_iter()
        .map(|info| Template {
            name: info.name,
            description: info.description,
            example: info.example,
        })
        .collect();
    HttpResponse::Ok().json(TemplateList { items })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RenderQuery {
    /// `escpos`, `html`, `pdf` or `text`.
    format: Option<String>,
}

/// Renders one label (`template` with `data`, or `tree`) without logging or printing it.
#[utoipa::path(
    post,
    path = "/v1/labels/render",
    tag = "labels",
    params(RenderQuery),
    request_body = LabelSource,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The label in the asked format",
            headers(("X-Label-Substitutions" = u32, description = "How many characters print other than as written; a dry run print job lists them")),
            content(
                ("application/octet-stream"),
                (String = "text/html; charset=utf-8"),
                ("application/pdf"),
                (String = "text/plain; charset=utf-8"),
            )),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Unknown format, or `errors` points at the template field or tree element at fault"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "PDF only: the server has no Japanese font"),
    )
)]
pub(super) async fn render(
    _principal: Principal,
    platform: web::Data<Platform>,
    query: web::Query<RenderQuery>,
    body: web::Json<LabelSource>,
) -> Result<HttpResponse, ApiError> {
    let format: Format = query
        .format
        .as_deref()
        .ok_or(LabelError::NoFormat)?
        .parse()
        .map_err(LabelError::from)?;
    let renderer = renderer(&platform.settings);
    let source = body.into_inner();
    let rendered = off_the_runtime(move || {
        let tree = source.into_tree()?;
        renderer.render(&tree, format).map_err(LabelError::from)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((SUBSTITUTIONS_HEADER, rendered.substitutions.len()))
        .body(rendered.bytes))
}

/// One renderer per process, so the PDF font is read once; a process runs one configuration.
fn renderer(settings: &Settings) -> &'static Renderer {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    RENDERER.get_or_init(|| {
        Renderer::new(PdfOptions {
            font_path: settings.labels.font_path.clone(),
        })
    })
}
