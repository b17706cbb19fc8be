//! `GET /i/{id}/{version}`: public, and cacheable for ever, since new bytes get a new version.
//!
//! A URL whose version is no longer the image's answers `307` to the current version with the
//! same query, cacheable for five minutes: pages and apps keep old URLs (a profile cached with
//! last month's avatar), and a picture of the right image beats a broken one. The old bytes are
//! never served again, and a deleted image answers 404 whatever the version.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use crate::images::codec::SourceFormat;
use crate::images::deliver::{self, Asker, MakeRendition};
use crate::images::keys::Version;
use crate::images::negotiate::negotiate;
use crate::images::rows::Image;
use crate::images::transform::{FormatChoice, OutputFormat, Shape, TransformSpec, Variant};
use crate::images::{ImageError, hot, signing};
use crate::platform::Platform;
use crate::platform::http::{ApiError, Problem};

/// A year: the longest that caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How long a redirect from an old version may be cached: the image may change again.
const REDIRECT: &str = "public, max-age=300";
/// How long a stand-in for an AVIF being made may be cached: caches then fetch the AVIF.
const STAND_IN: &str = "public, max-age=60";
/// How long the nearest stored rendition, served past the budget, may be cached.
const NEAREST: &str = "public, max-age=86400";
/// How long a crop around the image's own focus point may be cached: the point may be moved.
const CROP: &str = "public, max-age=86400";

/// An image, resized and encoded as asked; without `format`, in the best format the client's
/// `Accept` names (AVIF or WebP when named, else JPEG, or PNG for transparency). A large AVIF
/// not made yet is made in the background; meanwhile the next best format is served with
/// `Cache-Control: max-age=60`.
#[utoipa::path(
    get,
    path = "/i/{id}/{version}",
    tag = "images",
    params(
        ("id" = String, Path, description = "The image id"),
        ("version" = String, Path, description = "The image version (from its `url`)"),
        ("w" = Option<u32>, Query, description = "Width, 1 to 4096, snapped up to `images.sizes`; never enlarged"),
        ("h" = Option<u32>, Query, description = "Height, 1 to 4096; scaled with `w`, or snapped when alone; never enlarged"),
        ("dpr" = Option<f32>, Query, description = "Device pixel ratio, 1 to 4 (two decimals at most), multiplying w and h"),
        ("fit" = Option<String>, Query, description = "`inside` (default: all of the picture within w×h), `contain` (the same on a w×h canvas), `cover` (w×h filled, cropped around `fp`, else the image's focus point) or `fill` (stretched to w×h); all but inside need w and h"),
        ("fp" = Option<String>, Query, description = "The point a `cover` crop keeps in view, `x,y` from 0 to 1 across and down (two decimals at most), e.g. `0.5,0.3`; without it, the image's own (see `PATCH /v1/images/{id}`)"),
        ("format" = Option<String>, Query, description = "`auto` (default, from Accept), `jpeg`, `webp`, `avif` or `png`"),
        ("q" = Option<u8>, Query, description = "Quality of JPEG, WebP and AVIF, 1 to 100 (default 80), snapped to the nearest of `images.qualities` (50, 75, 80, 90)"),
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
    let images = &platform.settings.images;
    let query = if images.sign_urls {
        signing::verify(&images.url_keys, req.path(), req.query_string())
            .map_err(ApiError::forbidden)?
    } else {
        req.query_string()
    };
    let spec = TransformSpec::parse(query)
        .map_err(|e| {
            let field = e.field();
            let message = e.to_string();
            ApiError::bad_request(message.clone()).with_field(field, message)
        })?
        .snapped(
            &platform.settings.images.sizes,
            &platform.settings.images.qualities,
        );
    let not_found = || ApiError::not_found(format!("no image {id}/{version}"));
    let parsed_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let asked = Version::parse(&version).ok_or_else(not_found)?;
    let image = hot::image(&platform.db, parsed_id)
        .await?
        .ok_or_else(not_found)?;
    if image.version != asked {
        let mut location = image.path();
        if !query.is_empty() {
            // A signed query is signed again for the current version's path.
            let query = if images.sign_urls {
                signing::sign(&images.url_keys, &location, query)
            } else {
                query.to_string()
            };
            location = format!("{location}?{query}");
        }
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, REDIRECT))
            .finish());
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (variant, stand_in) = match spec.format() {
        FormatChoice::Fixed(format) => (resolve(&platform, &spec, &image, format), false),
        FormatChoice::Auto => auto(&platform, &spec, &image, accept).await?,
    };
    let etag = format!("\"{}-{}\"", image.version, variant.name());
    let unchanged = matches(&req, &etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    let cache_control = if stand_in {
        STAND_IN
    } else if variant.shape() == Shape::Cover && spec.focus().is_none() {
        CROP
    } else {
        IMMUTABLE
    };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if spec.format() == FormatChoice::Auto {
        response.insert_header((header::VARY, HeaderValue::from_static("Accept")));
    }
    if unchanged {
        return Ok(response.finish());
    }
    let (bytes, served) =
        match deliver::rendition(&platform, &image, &variant, Asker::Request).await {
            Ok(served) => served,
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
    if served != variant {
        // The nearest stored rendition stands in: say which, and let caches keep it a day.
        response
            .insert_header((
                header::ETAG,
                format!("\"{}-{}\"", image.version, served.name()),
            ))
            .insert_header((header::CACHE_CONTROL, NEAREST));
    }
    Ok(response
        .content_type(served.format().content_type())
        .body(bytes))
}

fn resolve(
    platform: &Platform,
    spec: &TransformSpec,
    image: &Image,
    format: OutputFormat,
) -> Variant {
    spec.resolve(
        image.size(),
        image.crop_focus(),
        format,
        platform.settings.images.default_long_side,
    )
}

/// The rendition for `format=auto`, and whether it stands in for an AVIF being made: AVIF
/// where the client prefers it and it is made already or small enough to make now; otherwise
/// the next best format, while the AVIF is made in the background. GIF and WebP originals are
/// never negotiated to AVIF, so that animations stay animated.
async fn auto(
    platform: &Platform,
    spec: &TransformSpec,
    image: &Image,
    accept: Option<&str>,
) -> Result<(Variant, bool), ImageError> {
    // A GIF or WebP may be an animation, which only WebP keeps.
    let may_animate = matches!(image.format, SourceFormat::Gif | SourceFormat::Webp);
    let best = negotiate(accept, image.has_alpha, !may_animate);
    let best = resolve(platform, spec, image, best);
    if best.format() != OutputFormat::Avif
        || best.pixels() <= platform.settings.images.inline_avif_pixels
        || deliver::is_ready(platform, image, &best).await?
    {
        return Ok((best, false));
    }
    MakeRendition::queue(platform, image, best).await;
    let next = negotiate(accept, image.has_alpha, false);
    Ok((resolve(platform, spec, image, next), true))
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
