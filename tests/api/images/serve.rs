//! Delivery: negotiated formats, transform parameters and sizes, caching headers, redirects.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, VARY};
use sous::platform::storage::ObjectKey;

use super::samples::*;
use super::{CHROME, fetch, nothing_ahead, objects_under, path, photo, picture, problem, spawn};
use crate::helpers::{Backend, TestApp, backends};

#[tokio::test]
async fn an_upload_is_served_in_the_format_the_client_takes() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let (status, image) = app.upload_image(&app.token("alice", &[]), photo()).await;
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
        let (status, again) = app.upload_image(&app.token("alice", &[]), photo()).await;
        assert_eq!((status, &again["id"]), (StatusCode::OK, &image["id"]));
        // Someone else's upload of them is theirs.
        let (status, bobs) = app.upload_image(&app.token("bob", &[]), photo()).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(bobs["id"], image["id"]);
    }
}

#[tokio::test]
async fn a_row_cached_before_another_process_replaced_the_image_is_read_again() {
    use sea_orm::ConnectionTrait;
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", photo()).await;
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
async fn transform_parameters_are_checked_with_precise_messages() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", photo()).await;
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
            "unknown parameter `v`; expected w, h, dpr, fit, fp, format or q",
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
    let image = app.register_image("alice", photo()).await;
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
async fn the_default_long_side_holds_at_and_past_it() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.default_long_side = 64.try_into().unwrap();
    })
    .await;
    let at = app.register_image("alice", png(64, 32)).await;
    assert_eq!(picture(&app, &path(&at)).await.1.dimensions(), (64, 32));
    let past = app.register_image("alice", png(65, 32)).await;
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
