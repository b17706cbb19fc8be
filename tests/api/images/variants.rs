//! Renditions: presets and the ladder made ahead, AVIF in the background, which are kept.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, VARY};
use sous::platform::storage::ObjectKey;

use super::samples::*;
use super::{CHROME, fetch, nothing_ahead, objects_under, path, photo, picture, problem, spawn};
use crate::helpers::{Backend, TestApp, backends, eventually};

#[tokio::test]
async fn presets_and_the_ladder_are_made_ahead_and_served_as_stored() {
    for backend in backends() {
        // The default presets, AVIF included.
        let app = TestApp::spawn_with(&backend, |_| {}, |b| b).await;
        let small = jpeg(400, 300, |x, y| [(x % 256) as u8, (y % 256) as u8, 128]);
        let image = app.register_image("alice", small).await;
        let id = image["id"].as_str().unwrap().to_string();
        let token = app.token("alice", &[]);
        let names = || async {
            let (_, body) = app.get_json(&token, &format!("/v1/images/{id}")).await;
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
        app.run_jobs_until_idle(Duration::from_secs(30)).await;
        assert_eq!(names().await, expected, "{backend:?}");
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
async fn large_avif_is_made_in_the_background_and_webp_stands_in() {
    for backend in backends() {
        // "Large" is past the inline limit, set low here for a quick test.
        let app = spawn(&backend, |settings| {
            nothing_ahead(settings);
            settings.images.inline_avif_pixels = 100 * 75;
        })
        .await;
        let image = app.register_image("alice", photo()).await;
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
    let image = app.register_image("alice", photo()).await;
    let url = format!("{}?w=480&format=jpeg", path(&image));
    let before = sous::images::renditions_made(&app.platform, "jpeg");
    let responses = futures::future::join_all((0..8).map(|_| fetch(&app, &url, None))).await;
    let mut bodies = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(
        sous::images::renditions_made(&app.platform, "jpeg") - before,
        1
    );
}

#[tokio::test]
async fn client_renditions_are_kept_up_to_the_bound_and_then_never_made() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_derived_variants = 2;
    })
    .await;
    let image = app.register_image("alice", photo()).await;
    let version_prefix = format!(
        "images/{}/{}",
        image["id"].as_str().unwrap(),
        image["version"].as_str().unwrap()
    );
    let before = sous::images::renditions_made(&app.platform, "webp");
    for (i, width) in [100, 200].into_iter().enumerate() {
        let (_, shown) = picture(&app, &format!("{}?w={width}&format=webp", path(&image))).await;
        assert_eq!(shown.width(), width);
        // The original, then one rendition per request up to the bound.
        assert_eq!(objects_under(&app, &version_prefix).await.len(), 2 + i);
    }
    // Past the bound, with nothing stored that fits: refused, nothing rendered.
    let response = fetch(&app, &format!("{}?w=300&format=webp", path(&image)), None).await;
    assert_eq!(response.headers()["retry-after"], "3600");
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests"))
    );
    assert_eq!(
        sous::images::renditions_made(&app.platform, "webp") - before,
        2
    );
    assert_eq!(objects_under(&app, &version_prefix).await.len(), 3);
}

#[tokio::test]
async fn a_flood_of_distinct_urls_renders_within_the_budget() {
    // The ladder is made ahead (JPEG 320, 640 and 1280 of this 1600 px photo); two more may be kept.
    let app = spawn(&Backend::Embedded, |s| {
        s.images.presets.clear();
        s.images.ladder = [320, 640, 1280].map(|w| w.try_into().unwrap()).to_vec();
        s.images.max_derived_variants = 2;
    })
    .await;
    let image = app
        .register_image(
            "alice",
            jpeg(1600, 1200, |x, y| [(x % 256) as u8, (y % 256) as u8, 90]),
        )
        .await;
    app.run_jobs_until_idle(Duration::from_secs(60)).await;
    let before = sous::images::renditions_made(&app.platform, "jpeg");
    let mut served = Vec::new();
    for width in [100, 150, 200, 250, 300, 350, 400, 450, 500, 550] {
        for q in [50, 60, 70, 80, 90, 100] {
            let response = fetch(
                &app,
                &format!("{}?w={width}&q={q}&format=jpeg", path(&image)),
                None,
            )
            .await;
            served.push((
                width,
                q,
                response.status(),
                response.headers().get("etag").cloned(),
            ));
        }
    }
    let made = sous::images::renditions_made(&app.platform, "jpeg") - before;
    assert_eq!(made, 2, "60 distinct URLs, two renders: {served:?}");
    for (width, q, status, etag) in &served {
        assert_eq!(
            *status,
            StatusCode::OK,
            "w={width} q={q}: the nearest stored rung"
        );
        assert!(etag.is_some());
    }
    // Past the bound the 640 rung stands in for w=500.
    let response = fetch(&app, &format!("{}?w=500&format=jpeg", path(&image)), None).await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=86400");
    let shown = pixels(&response.bytes().await.unwrap());
    assert_eq!(shown.width(), 640);
    // A crop nothing stored can stand in for.
    let response = fetch(
        &app,
        &format!("{}?w=500&h=500&fit=cover&format=jpeg", path(&image)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn qualities_snap_to_the_configured_list() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", photo()).await;
    for (asked, kept) in [(1, 50), (77, 75), (78, 80), (100, 90)] {
        let response = fetch(
            &app,
            &format!("{}?w=100&format=webp&q={asked}", path(&image)),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        assert!(
            etag.ends_with(&format!("-q{kept}.webp\"")),
            "q={asked}: {etag}"
        );
    }
}

#[tokio::test]
async fn a_rendition_of_a_replaced_version_is_not_kept() {
    for backend in backends() {
        let app = spawn(&backend, nothing_ahead).await;
        let image = app.register_image("alice", photo()).await;
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
                sous::images::transform::Focus::CENTRE,
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
