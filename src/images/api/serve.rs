//! `GET /i/{id}/{version}`: public, and cacheable for ever, since new bytes get a new version.
//!
//! A URL whose version is no longer the image's answers `307` to the current version with the
//! same query, cacheable for five minutes: pages and apps keep old URLs (a profile cached with
//! last month's avatar), and a picture of the right image beats a broken one. The old bytes are
//! never served again, and a deleted image answers 404 whatever the version.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use crate::images::keys::Version;
use crate::images::negotiate::negotiate;
use crate::images::transform::{FormatChoice, TransformSpec};
use crate::images::{ImageError, deliver, hot};
use crate::platform::Platform;
use crate::platform::http::{ApiError, Problem};

/// A year: the longest that caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How long a redirect from an old version may be cached: the image may change again.
const REDIRECT: &str = "public, max-age=300";

/// An image, resized and encoded as asked; without `format`, in the best format the client's
/// `Accept` names (WebP when named, else JPEG, or PNG for transparency).
#[utoipa::path(
    get,
    path = "/i/{id}/{version}",
    tag = "images",
    params(
        ("id" = String, Path, description = "The image id"),
        ("version" = String, Path, description = "The image version (from its `url`)"),
        ("w" = Option<u32>, Query, description = "Width, 1 to 4096; never enlarged"),
        ("h" = Option<u32>, Query, description = "Height, 1 to 4096; never enlarged"),
        ("fit" = Option<String>, Query, description = "`contain` (default: all of the picture inside w×h) or `cover` (w×h filled, cropped around the centre; needs w and h)"),
        ("format" = Option<String>, Query, description = "`auto` (default, from Accept), `jpeg`, `webp` or `png`"),
        ("q" = Option<u8>, Query, description = "Quality of JPEG and WebP, 1 to 100 (default 80)"),
    ),
    responses(
        (status = 200, description = "The image; `Cache-Control: immutable`, `Vary: Accept` when the format was negotiated", content_type = "image/*"),
        (status = 304, description = "`If-None-Match` matched"),
        (status = 307, description = "An older version: `Location` is the current one"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "A parameter is wrong: `errors` names it"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or deleted"),
    )
)]
pub(super) async fn serve(
    req: HttpRequest,
    platform: web::Data<Platform>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, version) = path.into_inner();
    let spec = TransformSpec::parse(req.query_string()).map_err(|e| {
        let field = e.field();
        let message = e.to_string();
        ApiError::bad_request(message.clone()).with_field(field, message)
    })?;
    let not_found = || ApiError::not_found(format!("no image {id}/{version}"));
    let parsed_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let asked = Version::parse(&version).ok_or_else(not_found)?;
    let image = hot::image(&platform.db, parsed_id)
        .await?
        .ok_or_else(not_found)?;
    if image.version != asked {
        let mut location = image.path();
        if !req.query_string().is_empty() {
            location = format!("{location}?{}", req.query_string());
        }
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, REDIRECT))
            .finish());
    }
    let format = match spec.format() {
        FormatChoice::Fixed(format) => format,
        FormatChoice::Auto => negotiate(
            req.headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
            image.has_alpha,
        ),
    };
    let variant = spec.resolve(
        image.size(),
        format,
        platform.settings.images.default_long_side,
    );
    let etag = format!("\"{}-{}\"", image.version, variant.name());
    let unchanged = matches(&req, &etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, IMMUTABLE))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if spec.format() == FormatChoice::Auto {
        response.insert_header((header::VARY, HeaderValue::from_static("Accept")));
    }
    if unchanged {
        return Ok(response.finish());
    }
    let bytes = match deliver::rendition(&platform, &image, &variant).await {
        Ok(bytes) => bytes,
        // Replaced or deleted through another process since its row was cached here: the
        // next request reads the row again.
        Err(ImageError::Changed) => {
            hot::forget(image.id).await;
            return Err(ApiError::unavailable(
                "the image just changed; try again",
                1,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(response.content_type(format.content_type()).body(bytes))
}

/// Whether `If-None-Match` names `etag` (weakly, as RFC 9110 asks for this header).
fn matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}
