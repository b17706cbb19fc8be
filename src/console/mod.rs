//! The admin console: a static single-page app under `/admin/`, built from plain ES modules in
//! `assets/admin/` and embedded in the binary (read from disk in debug builds, so a reload
//! shows an edit). It talks only to the public `/v1` API with the signed-in user's token.
//!
//! Every response carries a Content-Security-Policy that allows nothing inline and nothing
//! from elsewhere: the pages load their own scripts and styles, show images from sous and
//! from blob URLs the page made, and fetch only from sous.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::platform::http::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/admin/"]
struct Assets;

/// `blob:` for pictures and PDFs the page holds in memory (dropped files, a rendered label).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; \
    frame-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin").get(to_index)).service(
        web::resource("/admin/{path:.*}")
            .route(web::get().to(asset))
            .route(web::head().to(asset)),
    );
}

async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = match path.as_str() {
        "" => "index.html",
        path => path,
    };
    let file = Assets::get(path)
        .ok_or_else(|| ApiError::not_found(format!("the console has no file `{path}`")))?;
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &hash[..16]
        )
    );
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        // Revalidated on every load: a new sous version must never run with an old script.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if unchanged {
        return Ok(response.finish());
    }
    let mime = file.metadata.mimetype();
    // Text is UTF-8 throughout (Japanese labels and names).
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    // Release builds hold the files as statics: served without a copy.
    let body = match file.data {
        std::borrow::Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
        std::borrow::Cow::Owned(bytes) => web::Bytes::from(bytes),
    };
    Ok(response.content_type(content_type).body(body))
}
