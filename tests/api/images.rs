//! Images over HTTP: register, serve resized in the negotiated format, variants made ahead,
//! replace (old URLs redirect), delete; every limit at and past it; awkward files.

pub mod samples;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, VARY};
use serde_json::Value;
use sous::config::Settings;
use sous::images::transform::OutputFormat;
use sous::platform::storage::ObjectKey;

use crate::helpers::{Backend, TestApp, backends, eventually};
use samples::*;

const CHROME: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

/// An app serving sizes as asked (tests of snapping set `images.sizes` themselves) and making
/// no AVIF ahead: rav1e is slow in a debug build, so only the tests about AVIF make it.
async fn spawn(backend: &Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let configure = |settings: &mut Settings| {
        settings.images.sizes.clear();
        settings
            .images
            .presets
            .retain(|preset| preset.format() != OutputFormat::Avif);
        configure(settings);
    };
    TestApp::spawn_with(backend, configure, |b| b).await
}

/// Settings that make nothing ahead, for tests about one rendition at a time.
fn nothing_ahead(settings: &mut Settings) {
    settings.images.ladder.clear();
    settings.images.presets.clear();
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/v1/images"))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Registers `bytes` for alice and returns the image.
async fn registered(app: &TestApp, bytes: Vec<u8>) -> Value {
    let (status, image) = upload(app, &app.token("alice", &[]), bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{image}");
    image
}

fn path(image: &Value) -> String {
    format!(
        "/i/{}/{}",
        image["id"].as_str().unwrap(),
        image["version"].as_str().unwrap()
    )
}

/// A GET that does not follow redirects, so tests see them.
async fn fetch(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    request.send().await.unwrap()
}

/// The served picture: its content type and pixels.
async fn picture(app: &TestApp, path: &str) -> (String, image::RgbaImage) {
    let response = fetch(app, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, pixels(&response.bytes().await.unwrap()))
}

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/problem+json",
        "{status}"
    );
    (status, response.json().await.unwrap())
}

async fn objects_under(app: &TestApp, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let prefix = ObjectKey::parse(prefix).unwrap();
    app.platform
        .store
        .object_store()
        .list(Some(prefix.path()))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

fn photo() -> Vec<u8> {
    jpeg(640, 480, |x, y| [(x % 256) as u8, (y % 256) as u8, 128])
}

#[tokio::test]
async fn an_upload_is_served_in_the_format_the_client_takes() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let (status, image) = upload(&app, &app.token("alice", &[]), photo()).await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {image}");
        assert_eq!(image["owner"], "alice");
        assert_eq!(
            (
                image["format"].as_str(),
                image["width"].as_u64(),
                image["height"].as_u64()
            ),
            (Some("jpeg"), Some(640), Some(480))
        );
        assert_eq!(image["has_alpha"], false);
        let url = image["url"].as_str().unwrap();
        assert_eq!(url, format!("http://127.0.0.1:8080{}", path(&image)));

        // Small enough to make as AVIF while the request waits.
        let small = format!("{}?w=160", path(&image));
        let response = fetch(&app, &small, Some(CHROME)).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], "image/avif");
        assert_eq!(headers[VARY], "Accept");
        assert_eq!(
            headers[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let etag = headers[ETAG].to_str().unwrap().to_string();
        assert_eq!(avif_size(&response.bytes().await.unwrap()), (160, 120));
        let webp = fetch(&app, &path(&image), Some("image/webp,*/*")).await;
        assert_eq!(webp.headers()[CONTENT_TYPE], "image/webp");
        assert_eq!(
            pixels(&webp.bytes().await.unwrap()).dimensions(),
            (640, 480)
        );

        let (content_type, resized) = picture(&app, &format!("{}?w=320", path(&image))).await;
        assert_eq!(
            (content_type.as_str(), resized.dimensions()),
            ("image/jpeg", (320, 240))
        );
        let fixed = fetch(&app, &format!("{}?format=png", path(&image)), Some(CHROME)).await;
        assert_eq!(fixed.headers()[CONTENT_TYPE], "image/png");
        assert!(
            fixed.headers().get(VARY).is_none(),
            "a fixed format does not vary"
        );

        let unchanged = app
            .client
            .get(app.url(&small))
            .header(ACCEPT, CHROME)
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

        // The same bytes again are the same image.
        let (status, again) = upload(&app, &app.token("alice", &[]), photo()).await;
        assert_eq!((status, &again["id"]), (StatusCode::OK, &image["id"]));
        // Someone else's upload of them is theirs.
        let (status, bobs) = upload(&app, &app.token("bob", &[]), photo()).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(bobs["id"], image["id"]);
    }
}

#[tokio::test]
async fn presets_and_the_ladder_are_made_ahead_and_served_as_stored() {
    for backend in backends() {
        // The default presets, AVIF included.
        let app = TestApp::spawn_with(&backend, |_| {}, |b| b).await;
        let small = jpeg(400, 300, |x, y| [(x % 256) as u8, (y % 256) as u8, 128]);
        let image = registered(&app, small).await;
        let id = image["id"].as_str().unwrap().to_string();
        let token = app.token("alice", &[]);
        let names = || async {
            let body: Value = app
                .client
                .get(app.url(&format!("/v1/images/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    format!(
                        "{} {}",
                        v["kind"].as_str().unwrap(),
                        v["name"].as_str().unwrap()
                    )
                })
                .collect::<std::collections::BTreeSet<_>>()
        };
        // 400 px wide: the ladder's 320 rung, and the presets w=320 and w=2560 (not
        // enlarged) in WebP and AVIF.
        let expected = [
            "preset 400x300-q80.webp",
            "preset 400x300-q80.avif",
            "ladder 320x240-q90.jpg",
            "preset 320x240-q80.webp",
            "preset 320x240-q80.avif",
        ]
        .map(String::from)
        .into();
        assert!(
            eventually(Duration::from_secs(30), || async {
                names().await == expected
            })
            .await,
            "{backend:?}: {:?}",
            names().await
        );
        for (accept, name) in [
            (CHROME, "320x240-q80.avif"),
            ("image/webp", "320x240-q80.webp"),
        ] {
            let stored = app
                .platform
                .store
                .get(
                    &ObjectKey::parse(&format!(
                        "images/{id}/{}/{name}",
                        image["version"].as_str().unwrap()
                    ))
                    .unwrap(),
                )
                .await
                .unwrap();
            let served = fetch(&app, &format!("{}?w=320", path(&image)), Some(accept)).await;
            assert_eq!(served.bytes().await.unwrap(), stored, "{name}");
        }
    }
}

#[tokio::test]
async fn a_replaced_image_redirects_its_old_urls_and_a_deleted_one_is_gone() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let token = app.token("alice", &[]);
        let first = registered(&app, photo()).await;
        let id = first["id"].as_str().unwrap().to_string();
        let old_prefix = format!("images/{id}/{}", first["version"].as_str().unwrap());
        assert!(!objects_under(&app, &old_prefix).await.is_empty());

        let replaced: Value = app
            .client
            .put(app.url(&format!("/v1/images/{id}")))
            .bearer_auth(&token)
            .body(png(30, 20))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(replaced["id"], first["id"]);
        assert_ne!(
            replaced["version"], first["version"],
            "{backend:?}: {replaced}"
        );
        assert_eq!(
            (replaced["format"].as_str(), replaced["width"].as_u64()),
            (Some("png"), Some(30))
        );

        let old = fetch(&app, &format!("{}?w=10&format=png", path(&first)), None).await;
        assert_eq!(old.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            old.headers()[LOCATION].to_str().unwrap(),
            format!("{}?w=10&format=png", path(&replaced))
        );
        assert_eq!(old.headers()[CACHE_CONTROL], "public, max-age=300");
        // Following it gives the new picture.
        let followed = app
            .client
            .get(app.url(&format!("{}?w=10&format=png", path(&first))))
            .send()
            .await
            .unwrap();
        assert_eq!(
            pixels(&followed.bytes().await.unwrap()).dimensions(),
            (10, 7)
        );
        assert!(
            eventually(Duration::from_secs(10), || async {
                objects_under(&app, &old_prefix).await.is_empty()
            })
            .await,
            "{backend:?}: the old version's objects stay"
        );

        let deleted = app
            .client
            .delete(app.url(&format!("/v1/images/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        for gone in [path(&first), path(&replaced)] {
            assert_eq!(
                fetch(&app, &gone, None).await.status(),
                StatusCode::NOT_FOUND
            );
        }
        assert!(
            eventually(Duration::from_secs(10), || async {
                objects_under(&app, &format!("images/{id}"))
                    .await
                    .is_empty()
            })
            .await,
            "{backend:?}: objects stay after the delete"
        );
    }
}

#[tokio::test]
async fn a_row_cached_before_another_process_replaced_the_image_is_read_again() {
    use sea_orm::ConnectionTrait;
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = registered(&app, photo()).await;
    let (id, version) = (
        image["id"].as_str().unwrap(),
        image["version"].as_str().unwrap(),
    );
    let served = fetch(&app, &format!("{}?w=10", path(&image)), None).await;
    assert_eq!(served.status(), StatusCode::OK);
    // Another replica gives it new bytes: a new version in the database, the old objects gone.
    app.platform
        .db
        .execute_unprepared(&format!(
            "DELETE FROM image_variants WHERE image_id = '{id}';
             UPDATE images SET version = 'ffffffffffffffff' WHERE id = '{id}'"
        ))
        .await
        .unwrap();
    for key in objects_under(&app, &format!("images/{id}/{version}")).await {
        let key = ObjectKey::parse(&key).unwrap();
        app.platform.store.delete(&key).await.unwrap();
    }
    let stale = fetch(&app, &format!("{}?w=20", path(&image)), None).await;
    assert_eq!(stale.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stale.headers()["retry-after"], "1");
    let again = fetch(&app, &format!("{}?w=20", path(&image)), None).await;
    assert_eq!(again.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        again.headers()[LOCATION],
        format!("/i/{id}/ffffffffffffffff?w=20").as_str()
    );
}

#[tokio::test]
async fn images_belong_to_their_owner() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = registered(&app, photo()).await;
    let url = format!("/v1/images/{}", image["id"].as_str().unwrap());
    let status_for = |token: Option<String>, method: reqwest::Method| {
        let request = app.client.request(method, app.url(&url));
        async move {
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
            .send()
            .await
            .unwrap()
            .status()
        }
    };
    assert_eq!(
        status_for(None, reqwest::Method::GET).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_for(Some(app.token("bob", &[])), reqwest::Method::GET).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_for(Some(app.token("bob", &[])), reqwest::Method::DELETE).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_for(Some(app.admin_token()), reqwest::Method::GET).await,
        StatusCode::OK
    );
    let (status, _) = upload(&app, "not-a-token", photo()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let list = |token: String, query: &'static str| {
        let request = app
            .client
            .get(app.url(&format!("/v1/images{query}")))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let mine: Value = list(app.token("alice", &[]), "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let bobs: Value = list(app.token("bob", &[]), "").await.json().await.unwrap();
    assert_eq!(bobs["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        list(app.token("bob", &[]), "?owner=alice").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        list(app.token("alice", &[]), "?limit=500").await.status(),
        StatusCode::OK
    );
    let (status, body) = problem(list(app.token("alice", &[]), "?limit=501").await).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit 501 is out of range"))
    );
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let mut ids = Vec::new();
    for side in 10..13 {
        ids.push(
            registered(&app, png(side, side)).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let token = app.token("alice", &[]);
    let page = |query: String| {
        let request = app
            .client
            .get(app.url(&format!("/v1/images{query}")))
            .bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let first = page("?limit=2".into()).await;
    let got: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let second = page(format!(
        "?limit=2&after={}",
        first["next"].as_str().unwrap()
    ))
    .await;
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert!(second["next"].is_null());
}

#[tokio::test]
async fn transform_parameters_are_checked_with_precise_messages() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = registered(&app, photo()).await;
    for (query, field, detail) in [
        ("w=99999", "w", "w must be between 1 and 4096, got 99999"),
        ("w=4097", "w", "w must be between 1 and 4096, got 4097"),
        ("h=0", "h", "h must be between 1 and 4096, got 0"),
        ("q=101", "q", "q must be between 1 and 100, got 101"),
        (
            "w=abc",
            "w",
            "w must be a whole number between 1 and 4096, got `abc`",
        ),
        ("q=500", "q", "q must be between 1 and 100, got 500"),
        ("w=0", "w", "w must be between 1 and 4096, got 0"),
        ("fit=cover&w=10", "fit", "fit=cover needs both w and h"),
        ("fit=fill&h=10", "fit", "fit=fill needs both w and h"),
        (
            "fit=scale",
            "fit",
            "fit must be inside, contain, cover or fill, got `scale`",
        ),
        (
            "format=bmp",
            "format",
            "format must be auto, jpeg, webp, avif or png, got `bmp`",
        ),
        (
            "w=10&dpr=5",
            "dpr",
            "dpr must be a number from 1 to 4 with at most two decimals, got `5`",
        ),
        ("dpr=2", "dpr", "dpr needs w or h"),
        (
            "v=2",
            "v",
            "unknown parameter `v`; expected w, h, dpr, fit, format or q",
        ),
    ] {
        let (status, body) =
            problem(fetch(&app, &format!("{}?{query}", path(&image)), None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["detail"], detail, "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}");
    }
    // At the bound: accepted, and not enlarged.
    let (_, at_bound) = picture(&app, &format!("{}?w=4096&h=4096&q=100", path(&image))).await;
    assert_eq!(at_bound.dimensions(), (640, 480));
    let (_, cover) = picture(&app, &format!("{}?w=100&h=100&fit=cover", path(&image))).await;
    assert_eq!(cover.dimensions(), (100, 100));

    // A version that is not the image's redirects to the one that is; anything unknown is a 404.
    let id = image["id"].as_str().unwrap();
    let other = fetch(&app, &format!("/i/{id}/0000000000000000"), None).await;
    assert_eq!(other.status(), StatusCode::TEMPORARY_REDIRECT);
    for missing in [
        format!("/i/{id}/not-a-version"),
        "/i/not-an-id/0000000000000000".to_string(),
        format!(
            "/i/{}/{}",
            uuid::Uuid::now_v7(),
            image["version"].as_str().unwrap()
        ),
    ] {
        let (status, _) = problem(fetch(&app, &missing, None).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn sizes_snap_and_every_fit_shapes_the_box() {
    let app = TestApp::spawn_with(&Backend::Embedded, nothing_ahead, |b| b).await;
    let image = registered(&app, photo()).await;
    let at = |query: &str| format!("{}?{query}", path(&image));
    // 300 snaps up to 320, the next configured size; dpr multiplies first.
    let (_, snapped) = picture(&app, &at("w=300")).await;
    assert_eq!(snapped.dimensions(), (320, 240));
    let (_, dense) = picture(&app, &at("w=160&dpr=2")).await;
    assert_eq!(dense.dimensions(), (320, 240));
    // contain: the whole picture on a transparent canvas of the box.
    let (content_type, contained) = picture(&app, &at("w=96&h=96&fit=contain&format=png")).await;
    assert_eq!(
        (content_type.as_str(), contained.dimensions()),
        ("image/png", (96, 96))
    );
    assert_eq!(contained.get_pixel(48, 2).0[3], 0, "the bar above is clear");
    assert_eq!(
        contained.get_pixel(48, 48).0[3],
        255,
        "the picture is there"
    );
    // In JPEG the bars are white.
    let (_, flattened) = picture(&app, &at("w=96&h=96&fit=contain&format=jpeg")).await;
    assert!(near(flattened.get_pixel(48, 2), WHITE, 8));
    // fill: stretched, opaque everywhere; cover: cropped, opaque everywhere.
    for fit in ["fill", "cover"] {
        let (_, shaped) = picture(&app, &at(&format!("w=96&h=96&fit={fit}&format=png"))).await;
        assert_eq!(shaped.dimensions(), (96, 96), "{fit}");
        assert!(shaped.pixels().all(|p| p.0[3] == 255), "{fit}");
    }
}

#[tokio::test]
async fn large_avif_is_made_in_the_background_and_webp_stands_in() {
    for backend in backends() {
        // "Large" is past the inline limit, set low here for a quick test.
        let app = spawn(&backend, |settings| {
            nothing_ahead(settings);
            settings.images.inline_avif_pixels = 100 * 75;
        })
        .await;
        let image = registered(&app, photo()).await;
        let first = fetch(&app, &format!("{}?w=200", path(&image)), Some(CHROME)).await;
        assert_eq!(first.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(first.headers()[CONTENT_TYPE], "image/webp");
        assert_eq!(first.headers()[VARY], "Accept");
        assert_eq!(first.headers()[CACHE_CONTROL], "public, max-age=60");
        let url = format!("{}?w=200", path(&image));
        let made = eventually(Duration::from_secs(60), || async {
            fetch(&app, &url, Some(CHROME)).await.headers()[CONTENT_TYPE] == "image/avif"
        })
        .await;
        assert!(made, "{backend:?}: the AVIF was not made");
        let made = fetch(&app, &url, Some(CHROME)).await;
        assert_eq!(
            made.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(avif_size(&made.bytes().await.unwrap()), (200, 150));
        // At the limit it is made while the request waits; asked for by name, too.
        let at_limit = fetch(&app, &format!("{}?w=100", path(&image)), Some(CHROME)).await;
        assert_eq!(at_limit.headers()[CONTENT_TYPE], "image/avif");
        let fixed = fetch(&app, &format!("{}?w=240&format=avif", path(&image)), None).await;
        assert_eq!(fixed.headers()[CONTENT_TYPE], "image/avif");
        assert_eq!(avif_size(&fixed.bytes().await.unwrap()), (240, 180));
    }
}

#[tokio::test]
async fn identical_requests_arriving_together_make_the_rendition_once() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = registered(&app, photo()).await;
    let url = format!("{}?w=480&format=jpeg", path(&image));
    let before = app.platform.metrics.renditions_made("jpeg");
    let responses = futures::future::join_all((0..8).map(|_| fetch(&app, &url, None))).await;
    let mut bodies = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(app.platform.metrics.renditions_made("jpeg") - before, 1);
}

#[tokio::test]
async fn embedded_colour_profiles_are_converted_to_srgb() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    // The same numbers mean a more saturated orange in Display P3 than in sRGB.
    let orange = [200, 100, 50];
    let plain = registered(&app, jpeg(64, 64, |_, _| orange)).await;
    let p3 = registered(&app, jpeg_with_profile(64, 64, orange, &display_p3())).await;
    let (_, untouched) = picture(&app, &format!("{}?format=png", path(&plain))).await;
    assert!(near(untouched.get_pixel(32, 32), orange, 3));
    for format in ["png", "jpeg", "webp"] {
        let (_, converted) = picture(&app, &format!("{}?format={format}", path(&p3))).await;
        let [r, g, b, _] = converted.get_pixel(32, 32).0;
        assert!(r > 210 && g < 100 && b < 40, "{format}: {r} {g} {b}");
    }
}

#[tokio::test]
async fn animations_are_served_animated_as_webp_and_as_their_first_frame_otherwise() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = registered(&app, animated_gif(64, 48, 3)).await;
    let response = fetch(&app, &format!("{}?w=32", path(&image)), Some(CHROME)).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "image/webp");
    let frames = webp_frames(&response.bytes().await.unwrap());
    assert_eq!(frames.len(), 3);
    for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
        assert_eq!(frame.dimensions(), (32, 24));
        assert!(near(frame.get_pixel(16, 12), colour, 24));
    }
    let (content_type, still) = picture(&app, &format!("{}?w=32&format=png", path(&image))).await;
    assert_eq!(
        (content_type.as_str(), still.dimensions()),
        ("image/png", (32, 24))
    );
    assert!(near(still.get_pixel(16, 12), RED, 8));
}

#[tokio::test]
async fn upload_limits_hold_at_and_past_them() {
    let base = jpeg(8, 8, |_, _| RED);
    let limit = base.len() as u64 + 100;
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_bytes = limit;
        s.images.max_pixels = 10_000;
        s.images.max_frames = 3;
    })
    .await;
    let token = app.token("alice", &[]);
    // Bytes after the end of a JPEG are ignored by decoders: pad it to the limit, and past it.
    let padded = |len: u64| {
        let mut bytes = base.clone();
        bytes.resize(len as usize, 0);
        bytes
    };
    assert_eq!(
        upload(&app, &token, padded(limit)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = upload(&app, &token, padded(limit + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        format!("the image is larger than the limit of {limit} bytes")
    );
    // Streamed without a length: refused while it streams.
    let chunks = vec![Ok::<_, std::io::Error>(padded(limit + 1))];
    let streamed = app
        .client
        .post(app.url("/v1/images"))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        upload(&app, &token, png(100, 100)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = upload(&app, &token, png(101, 100)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        "the image is 101×100 pixels (10100); the limit is 10000 pixels"
    );

    assert_eq!(upload(&app, &token, gif(3)).await.0, StatusCode::CREATED);
    let (status, body) = upload(&app, &token, gif(4)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        "the animation has more than 3 frames, the limit"
    );
}

#[tokio::test]
async fn bombs_and_impostors_are_refused_before_decoding() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let token = app.token("alice", &[]);
    let (status, body) = upload(&app, &token, png_header_claiming(100_000, 100_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        "the image is 100000×100000 pixels (10000000000); the limit is 50000000 pixels"
    );
    // Thousands of frames against the default limit of 1000.
    let (status, body) = upload(&app, &token, gif(5000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        "the animation has more than 1000 frames, the limit"
    );

    for (bytes, detail) in [
        (
            zip(),
            "the upload is a ZIP archive, not an image; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
        (
            svg(),
            "the upload is SVG, which is not accepted: it can carry scripts; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
        (
            Vec::new(),
            "the upload is empty; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
    ] {
        let (status, body) = upload(&app, &token, bytes).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(detail))
        );
    }
    let whole = jpeg(64, 64, |x, y| [x as u8 * 4, y as u8 * 4, 0]);
    let whole_png = png(64, 64);
    for truncated in [
        whole[..whole.len() / 2].to_vec(),
        whole_png[..whole_png.len() - 20].to_vec(),
    ] {
        let (status, body) = upload(&app, &token, truncated).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("the image data is corrupt or truncated"),
            "{body}"
        );
    }
    let listed: Value = app
        .client
        .get(app.url("/v1/images"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    assert!(objects_under(&app, "images").await.is_empty());
}

/// Phones save HEIC, newer ones AVIF: both register at their size and are served in formats
/// browsers show, converted to sRGB and without the original's metadata.
#[tokio::test]
async fn heic_and_avif_uploads_are_served_in_web_formats() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let original = fixture("meal.heic");
    // The camera's EXIF and XMP are in the file, and must not come out.
    assert!(contains(&original, b"Canon"));
    let meal = registered(&app, original).await;
    assert_eq!(
        (
            meal["format"].as_str(),
            meal["width"].as_u64(),
            meal["height"].as_u64(),
            &meal["has_alpha"]
        ),
        (Some("heic"), Some(160), Some(120), &Value::Bool(false))
    );
    for (accept, content_type) in [(None, "image/jpeg"), (Some("image/webp,*/*"), "image/webp")] {
        let response = fetch(&app, &format!("{}?w=80", path(&meal)), accept).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], content_type);
        let bytes = response.bytes().await.unwrap();
        assert!(!contains(&bytes, b"Canon") && !contains(&bytes, b"Exif"));
        assert_eq!(pixels(&bytes).dimensions(), (80, 60));
    }

    // Transparency: a PNG by default, the transparent half still transparent.
    let sticker = registered(&app, fixture("sticker.avif")).await;
    assert_eq!(
        (sticker["format"].as_str(), &sticker["has_alpha"]),
        (Some("avif"), &Value::Bool(true))
    );
    let (content_type, served) = picture(&app, &path(&sticker)).await;
    assert_eq!(content_type, "image/png");
    assert_eq!(served.get_pixel(8, 24).0[3], 0);
    assert!(near(served.get_pixel(56, 24), [200, 40, 40], 4));

    // (0, 200, 0) in Display P3, said by the AVIF's nclx box: a brighter green in sRGB.
    let green = registered(&app, fixture("p3-green.avif")).await;
    let (_, served) = picture(&app, &format!("{}?format=png", path(&green))).await;
    let [r, g, b, _] = served.get_pixel(16, 16).0;
    assert!(r < 5 && g > 200 && b < 5, "{r} {g} {b}");

    let heic = fixture("meal.heic");
    let (status, body) = upload(
        &app,
        &app.token("alice", &[]),
        heic[..heic.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn exif_orientation_is_applied() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    // Stored 40×20: red, green on top; blue, white below.
    let quadrant = |x: u16, y: u16| match (x < 20, y < 10) {
        (true, true) => RED,
        (false, true) => GREEN,
        (true, false) => BLUE,
        (false, false) => WHITE,
    };
    // What each orientation shows at top left, top right, bottom left, bottom right.
    let upright = [
        (1, [RED, GREEN, BLUE, WHITE]),
        (2, [GREEN, RED, WHITE, BLUE]),
        (3, [WHITE, BLUE, GREEN, RED]),
        (4, [BLUE, WHITE, RED, GREEN]),
        (5, [RED, BLUE, GREEN, WHITE]),
        (6, [BLUE, RED, WHITE, GREEN]),
        (7, [WHITE, GREEN, BLUE, RED]),
        (8, [GREEN, WHITE, RED, BLUE]),
    ];
    for (orientation, corners) in upright {
        let image = registered(&app, jpeg_oriented(40, 20, orientation, quadrant)).await;
        let size: (u32, u32) = if orientation >= 5 { (20, 40) } else { (40, 20) };
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(size.0.into()), Some(size.1.into()))
        );
        let (_, shown) = picture(&app, &format!("{}?format=png", path(&image))).await;
        assert_eq!(shown.dimensions(), size);
        let (w, h) = size;
        let at = [
            (w / 4, h / 4),
            (w * 3 / 4, h / 4),
            (w / 4, h * 3 / 4),
            (w * 3 / 4, h * 3 / 4),
        ];
        for ((x, y), expected) in at.into_iter().zip(corners) {
            let got = shown.get_pixel(x, y);
            assert!(
                near(got, expected, 40),
                "orientation {orientation} at {x},{y}: {got:?}"
            );
        }
        // Shrunk while decoding, the turn is the same.
        let (_, small) = picture(&app, &format!("{}?format=png&w=4", path(&image))).await;
        assert_eq!(small.width(), 4);
    }
}

#[tokio::test]
async fn cmyk_and_16_bit_transparency_come_out_right() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let cmyk = registered(&app, cmyk_jpeg(16, 16, [0, 255, 255, 0])).await;
    let (_, shown) = picture(&app, &format!("{}?format=png", path(&cmyk))).await;
    assert!(
        near(shown.get_pixel(8, 8), RED, 30),
        "{:?}",
        shown.get_pixel(8, 8)
    );

    let image = registered(&app, png16_half_transparent(16, 8)).await;
    assert_eq!(image["has_alpha"], true);
    // Without WebP in Accept, transparency means PNG.
    let (content_type, png) = picture(&app, &path(&image)).await;
    assert_eq!(content_type, "image/png");
    assert_eq!(png.get_pixel(2, 4).0, [255, 0, 0, 255]);
    assert_eq!(png.get_pixel(13, 4).0[3], 0);
    let webp = fetch(&app, &path(&image), Some("image/webp,*/*"))
        .await
        .bytes()
        .await
        .unwrap();
    let webp = pixels(&webp);
    assert!(near(webp.get_pixel(2, 4), RED, 30) && webp.get_pixel(13, 4).0[3] < 10);
    // JPEG has no transparency: it shows white.
    let (_, jpeg) = picture(&app, &format!("{}?format=jpeg", path(&image))).await;
    assert!(
        near(jpeg.get_pixel(13, 4), WHITE, 30),
        "{:?}",
        jpeg.get_pixel(13, 4)
    );
}

#[tokio::test]
async fn the_default_long_side_holds_at_and_past_it() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.default_long_side = 64.try_into().unwrap();
    })
    .await;
    let at = registered(&app, png(64, 32)).await;
    assert_eq!(picture(&app, &path(&at)).await.1.dimensions(), (64, 32));
    let past = registered(&app, png(65, 32)).await;
    assert_eq!(picture(&app, &path(&past)).await.1.dimensions(), (64, 32));
    // Asked for, a size past it is given.
    assert_eq!(
        picture(&app, &format!("{}?w=65", path(&past)))
            .await
            .1
            .dimensions(),
        (65, 32)
    );
}

#[tokio::test]
async fn client_renditions_are_kept_up_to_the_bound() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_derived_variants = 2;
    })
    .await;
    let image = registered(&app, photo()).await;
    let version_prefix = format!(
        "images/{}/{}",
        image["id"].as_str().unwrap(),
        image["version"].as_str().unwrap()
    );
    for (i, width) in [100, 200, 300].into_iter().enumerate() {
        let (_, shown) = picture(&app, &format!("{}?w={width}&format=webp", path(&image))).await;
        assert_eq!(shown.width(), width);
        // The original, then one rendition per request up to the bound.
        assert_eq!(
            objects_under(&app, &version_prefix).await.len(),
            1 + (i + 1).min(2),
            "after w={width}"
        );
    }
}

#[tokio::test]
async fn a_rendition_of_a_replaced_version_is_not_kept() {
    for backend in backends() {
        let app = spawn(&backend, nothing_ahead).await;
        let image = registered(&app, photo()).await;
        let id: uuid::Uuid = image["id"].as_str().unwrap().parse().unwrap();
        let stale = sous::images::register(
            &app.platform,
            "alice",
            sous::images::Source::Bytes(photo().into()),
        )
        .await
        .unwrap();
        assert_eq!(
            stale.id, id,
            "registering the same bytes again is idempotent"
        );
        let replaced = app
            .client
            .put(app.url(&format!("/v1/images/{id}")))
            .bearer_auth(app.token("alice", &[]))
            .body(png(8, 8))
            .send()
            .await
            .unwrap();
        assert_eq!(replaced.status(), StatusCode::OK);
        // A render of the old version finishing late: its row cannot commit, its object goes.
        let variant = sous::images::transform::TransformSpec::parse("w=10")
            .unwrap()
            .resolve(
                stale.size(),
                sous::images::transform::OutputFormat::Png,
                64.try_into().unwrap(),
            );
        sous::images::variants::keep(
            &app.platform,
            &stale,
            &variant,
            sous::images::entity::variant::VariantKind::Derived,
            bytes::Bytes::from_static(b"late"),
        )
        .await
        .unwrap();
        let prefix = format!("images/{id}/{}", stale.version);
        assert!(
            eventually(Duration::from_secs(5), || async {
                objects_under(&app, &prefix).await.is_empty()
            })
            .await,
            "{backend:?}: {:?}",
            objects_under(&app, &prefix).await
        );
    }
}

#[tokio::test]
async fn concurrent_registrations_of_the_same_bytes_keep_one_original() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let registrations = (0..6).map(|_| {
        sous::images::register(
            &app.platform,
            "alice",
            sous::images::Source::Bytes(photo().into()),
        )
    });
    let images = futures::future::try_join_all(registrations).await.unwrap();
    assert!(images.iter().all(|image| image.id == images[0].id));
    assert!(
        eventually(Duration::from_secs(5), || async {
            objects_under(&app, "images").await.len() == 1
        })
        .await,
        "{:?}",
        objects_under(&app, "images").await
    );
}

#[tokio::test]
async fn an_original_whose_row_does_not_commit_is_removed() {
    use sea_orm::ConnectionTrait;
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    app.platform
        .db
        .execute_unprepared(
            "CREATE TRIGGER refuse_images BEFORE INSERT ON images BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await
        .unwrap();
    let err = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Bytes(photo().into()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(
        eventually(Duration::from_secs(5), || async {
            objects_under(&app, "images").await.is_empty()
        })
        .await,
        "{:?}",
        objects_under(&app, "images").await
    );
}

#[tokio::test]
async fn register_takes_an_object_already_in_the_store() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let key = ObjectKey::parse("bulk/test/photo.jpg").unwrap();
    app.platform.store.put(&key, photo().into()).await.unwrap();
    let image = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Object(key.clone()),
    )
    .await
    .unwrap();
    assert_eq!(image.size(), (640, 480));
    assert!(
        app.platform.store.head(&key).await.unwrap().is_some(),
        "the source stays its writer's"
    );
    let missing = ObjectKey::parse("bulk/test/missing.jpg").unwrap();
    let err = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Object(missing),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no object bulk/test/missing.jpg to register"
    );
}

/// Starts a direct upload of a JPEG for alice: its path, and the URL to put the file to.
async fn start_direct_upload(app: &TestApp) -> (String, String) {
    let started = app
        .client
        .post(app.url("/v1/images/uploads"))
        .bearer_auth(app.token("alice", &[]))
        .json(&serde_json::json!({"content_type": "image/jpeg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()[LOCATION].to_str().unwrap().to_string();
    let body: Value = started.json().await.unwrap();
    assert_eq!(body["status"], "waiting");
    // The public URL is configured; the test server listens elsewhere.
    let url = body["upload"]["upload_url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &app.address);
    (location, url)
}

async fn put_upload(app: &TestApp, url: &str, bytes: Vec<u8>) -> StatusCode {
    app.client
        .put(url)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

/// Uploads `bytes` directly for alice and returns the upload's path.
async fn upload_directly(app: &TestApp, bytes: Vec<u8>) -> String {
    let (location, url) = start_direct_upload(app).await;
    assert_eq!(put_upload(app, &url, bytes).await, StatusCode::CREATED);
    location
}

/// Polls a direct upload until it is no longer waiting.
async fn settled(app: &TestApp, location: &str) -> Value {
    let token = app.token("alice", &[]);
    let read = || async {
        app.client
            .get(app.url(location))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            read().await["status"] != "waiting"
        })
        .await,
        "{}",
        read().await
    );
    read().await
}

#[tokio::test]
async fn a_direct_upload_is_registered_when_its_file_arrives() {
    for backend in backends() {
        let app = spawn(&backend, nothing_ahead).await;
        let location = upload_directly(&app, photo()).await;
        let upload = settled(&app, &location).await;
        assert_eq!(upload["status"], "registered", "{backend:?}: {upload}");
        assert_eq!(upload["image"]["width"], 640);
        assert!(upload.get("upload").is_none());
        let (_, shown) = picture(&app, &format!("{}?w=64", path(&upload["image"]))).await;
        assert_eq!(shown.width(), 64);
        assert!(
            eventually(Duration::from_secs(5), || async {
                objects_under(&app, "images/uploads").await.is_empty()
            })
            .await,
            "{backend:?}: the uploaded copy stays"
        );

        let refused = settled(&app, &upload_directly(&app, zip()).await).await;
        assert_eq!(refused["status"], "refused", "{backend:?}: {refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("ZIP archive"),
            "{refused}"
        );

        let bobs = app
            .client
            .get(app.url(&location))
            .bearer_auth(app.token("bob", &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(bobs.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_direct_upload_is_held_to_the_byte_limit() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_bytes = 1000;
    })
    .await;
    let (_, url) = start_direct_upload(&app).await;
    assert_eq!(
        put_upload(&app, &url, vec![0; 1001]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // At the limit the upload is taken (and then refused for not being a JPEG).
    assert_eq!(
        put_upload(&app, &url, vec![0; 1000]).await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_direct_upload_must_declare_an_image_type() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let response = app
        .client
        .post(app.url("/v1/images/uploads"))
        .bearer_auth(app.token("alice", &[]))
        .json(&serde_json::json!({"content_type": "image/svg+xml"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["errors"][0]["field"], "content_type");
}

/// Real photographs (`../shared/eval-photos`, next to the repository): each registers and comes
/// out at 320 px wide with its proportions.
#[tokio::test]
async fn real_photographs_register_and_resize() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval-photos");
    if !folder.is_dir() {
        eprintln!(
            "note: {} is absent; skipping the real photographs",
            folder.display()
        );
        return;
    }
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    for side in ["food", "nonfood"] {
        let mut files: Vec<_> = std::fs::read_dir(folder.join(side))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let image = registered(&app, std::fs::read(&file).unwrap()).await;
            let (width, height) = (
                image["width"].as_u64().unwrap(),
                image["height"].as_u64().unwrap(),
            );
            let (_, shown) = picture(&app, &format!("{}?w=320&format=webp", path(&image))).await;
            let expected_height = ((height * 320 * 2 + width) / (2 * width)).max(1) as u32;
            let expected = if width > 320 {
                (320, expected_height)
            } else {
                (width as u32, height as u32)
            };
            assert_eq!(shown.dimensions(), expected, "{}", file.display());
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_image_endpoints() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/images",
        "/v1/images/{id}",
        "/v1/images/uploads",
        "/v1/images/uploads/{id}",
        "/i/{id}/{version}",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
}
