//! `/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`,
//! `/openapi.json`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::ApiError;
use crate::platform::Platform;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/metrics").get(metrics))
        .service(web::resource("/openapi.json").get(openapi));
}

/// A part of a module this replica can do without (the classifier without its weights):
/// `/readyz` names it `unavailable` but stays ready, since the replica still serves the rest.
#[derive(Debug, Clone, Copy)]
pub struct OptionalPart {
    pub name: &'static str,
    /// `Err` says why the part is unavailable (logged, not shown).
    pub check: fn(&Platform) -> Result<(), String>,
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn check<E: std::fmt::Display>(
    name: &str,
    probe: impl Future<Output = Result<(), E>>,
) -> (String, &'static str) {
    let outcome = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => "ok",
        Ok(Err(error)) => {
            tracing::warn!(check = name, %error, "readiness check failed");
            "failed"
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            "timeout"
        }
    };
    (name.to_string(), outcome)
}

/// 200 when database, store, queue and cache all answer; 503 naming those that did not. The
/// body says only ok/failed/timeout/unavailable: the causes go to the log, not to whoever asks.
/// An optional part that is unavailable is named without failing readiness.
async fn readyz(platform: web::Data<Platform>) -> Result<HttpResponse, ApiError> {
    let (database, store, queue, cache) = tokio::join!(
        check("database", platform.db.ping()),
        check("store", platform.store.ping()),
        check("queue", platform.jobs.backend().ping()),
        check("cache", platform.cache.ping()),
    );
    let mut checks = vec![database, store, queue, cache];
    // Workers of this process, when it runs the worker role: a stalled one is named.
    for (queue, stalled) in platform.jobs.health().report() {
        let state = if stalled { "stalled" } else { "ok" };
        checks.push((format!("worker:{queue}"), state));
    }
    let required = checks.len();
    for part in platform.optional_parts.iter() {
        let state = match (part.check)(&platform) {
            Ok(()) => "ok",
            Err(reason) => {
                tracing::debug!(part = part.name, %reason, "optional part unavailable");
                "unavailable"
            }
        };
        checks.push((part.name.to_string(), state));
    }
    let failed: Vec<&str> = checks[..required]
        .iter()
        .filter(|(_, s)| *s != "ok")
        .map(|(n, _)| n.as_str())
        .collect();
    let map: serde_json::Map<String, serde_json::Value> =
        checks.iter().map(|(n, s)| (n.clone(), json!(s))).collect();
    if failed.is_empty() {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready", "checks": map })))
    } else {
        Err(
            ApiError::unavailable(format!("not ready: {}", failed.join(", ")), 5)
                .with_checks(map.into()),
        )
    }
}

async fn metrics(platform: web::Data<Platform>) -> HttpResponse {
    let text = platform.metrics.render(&platform.jobs).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

async fn openapi(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}
