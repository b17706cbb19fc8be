//! Crops around a focus point: found in the picture, set through `PATCH`, or asked with `fp`;
//! and the backfill that gives older images their placeholder and focus point.

use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::samples::*;
use super::{fetch, nothing_ahead, path, picture, problem, spawn};
use crate::helpers::{Backend, TestApp};

/// A 600×200 beige table with a red-and-white checked cloth 80 px wide centred at x = 520:
/// far right, where a centre crop loses it.
fn subject_on_the_right() -> Vec<u8> {
    jpeg(600, 200, |x, y| {
        if x.abs_diff(520) < 40 && y.abs_diff(100) < 40 {
            if (x / 8 + y / 8) % 2 == 0 { RED } else { WHITE }
        } else {
            let shade = (x / 20) as u8;
            [200 - shade, 190 - shade, 170 - shade]
        }
    })
}

/// Pixels of the cloth's red in a square crop of it.
async fn red_in_crop(app: &TestApp, image: &Value, query: &str) -> usize {
    let (_, crop) = picture(
        app,
        &format!("{}?w=100&h=100&fit=cover&format=png{query}", path(image)),
    )
    .await;
    assert_eq!(crop.dimensions(), (100, 100));
    crop.pixels().filter(|p| near(p, RED, 60)).count()
}

async fn patch(app: &TestApp, owner: &str, image: &Value, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .patch(app.url(&format!("/v1/images/{}", image["id"].as_str().unwrap())))
        .bearer_auth(app.token(owner, &[]))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crop_keeps_the_subject_the_picture_was_found_to_have() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", subject_on_the_right()).await;
    assert_eq!(image["focus"]["source"], "found", "{image}");
    let x = image["focus"]["x"].as_f64().unwrap();
    let y = image["focus"]["y"].as_f64().unwrap();
    assert!((x - 520.0 / 600.0).abs() < 0.08, "{x}");
    assert!((y - 0.5).abs() < 0.1, "{y}");
    // The cloth is in the crop (a 200 px square shrunk to 100): 40 px wide, half of it red.
    let found = red_in_crop(&app, &image, "").await;
    assert!((400..1_200).contains(&found), "{found} red pixels");
    // A centre crop, or one on the left, has none of it.
    assert_eq!(red_in_crop(&app, &image, "&fp=0.5,0.5").await, 0);
    assert_eq!(red_in_crop(&app, &image, "&fp=0,0.5").await, 0);
    // Past the right edge the crop stops at it, the cloth still in view.
    assert!(red_in_crop(&app, &image, "&fp=1,1").await >= 400);
    // A crop with `fp` never changes; one around the image's own point may.
    let fixed = fetch(
        &app,
        &format!("{}?w=100&h=100&fit=cover&fp=0.5,0.5", path(&image)),
        None,
    )
    .await;
    assert!(
        fixed.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let own = fetch(
        &app,
        &format!("{}?w=100&h=100&fit=cover", path(&image)),
        None,
    )
    .await;
    assert_eq!(own.headers()[CACHE_CONTROL], "public, max-age=86400");
    // `fp` without a crop, or out of range, is a 400 naming it.
    for query in ["w=100&h=100&fp=0.5,0.5", "w=100&h=100&fit=cover&fp=1.5,0"] {
        let (status, body) =
            problem(fetch(&app, &format!("{}?{query}", path(&image)), None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["errors"][0]["field"], "fp", "{query}: {body}");
    }
}

#[tokio::test]
async fn a_focus_point_set_by_the_owner_moves_the_crop_until_cleared() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", subject_on_the_right()).await;
    assert!(red_in_crop(&app, &image, "").await > 400);

    let response = patch(&app, "alice", &image, r#"{"focus": {"x": 0, "y": 0.5}}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(
        patched["focus"],
        json!({"x": 0.0, "y": 0.5, "source": "set"})
    );
    assert_eq!(
        patched["version"], image["version"],
        "the bytes are the same"
    );
    assert_eq!(
        red_in_crop(&app, &image, "").await,
        0,
        "cropped on the left now"
    );
    // `fp` still wins.
    assert!(red_in_crop(&app, &image, "&fp=0.9,0.5").await > 400);

    let response = patch(&app, "alice", &image, r#"{"focus": null}"#).await;
    let cleared: Value = response.json().await.unwrap();
    assert_eq!(cleared["focus"]["source"], "found");
    assert!(red_in_crop(&app, &image, "").await > 400);

    // New bytes clear a point set for the old picture.
    patch(&app, "alice", &image, r#"{"focus": {"x": 0.1, "y": 0.1}}"#).await;
    let replaced: Value = reqwest::Client::new()
        .put(app.url(&format!("/v1/images/{}", image["id"].as_str().unwrap())))
        .bearer_auth(app.token("alice", &[]))
        .body(jpeg(300, 100, |_, _| GREEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["focus"]["source"], "found", "{replaced}");
}

#[tokio::test]
async fn a_bad_patch_is_refused_and_changes_nothing() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", subject_on_the_right()).await;
    for (body, field) in [
        (r#"{"focus": {"x": 1.01, "y": 0.5}}"#, "/focus/x"),
        (r#"{"focus": {"x": 0.5, "y": -0.01}}"#, "/focus/y"),
        (r#"{"focus": {"x": 0.5}}"#, "/focus/y"),
        (r#"{"focus": {"x": "left", "y": 0.5}}"#, "/focus/x"),
        (r#"{"focus": {"x": 0.5, "y": 0.5, "z": 1}}"#, "/focus/z"),
        (r#"{"focus": "middle"}"#, "/focus"),
        (r#"{"owner": "bob"}"#, "/owner"),
        ("[1, 2]", "/"),
        ("not json", "/"),
    ] {
        let (status, problem) = problem(patch(&app, "alice", &image, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    // At the limit the body is read; one byte past it, refused unread.
    let padded = |len: usize| {
        let patch = r#"{"focus": {"x": 0.5, "y": 0.5}}"#;
        format!("{patch}{}", " ".repeat(len - patch.len()))
    };
    assert_eq!(
        patch(&app, "alice", &image, &padded(4096)).await.status(),
        StatusCode::OK
    );
    let (status, _) = problem(patch(&app, "alice", &image, &padded(4097)).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Someone else's image is not there for them.
    let (status, _) = problem(patch(&app, "bob", &image, r#"{"focus": null}"#).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, now) = app
        .get_json(
            &app.token("alice", &[]),
            &format!("/v1/images/{}", image["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(now["focus"], json!({"x": 0.5, "y": 0.5, "source": "set"}));
}

#[tokio::test]
async fn older_images_get_their_placeholder_and_focus_point_from_the_backfill() {
    for backend in crate::helpers::backends() {
        // No scheduler: its own backfill, run at its start, would race the one called here.
        let app = spawn(&backend, |settings| {
            nothing_ahead(settings);
            settings.roles.scheduler = false;
        })
        .await;
        let image = app.register_image("alice", subject_on_the_right()).await;
        let other = app.register_image("bob", jpeg(64, 64, |_, _| BLUE)).await;
        let read = |image: &Value| {
            let path = format!("/v1/images/{}", image["id"].as_str().unwrap());
            let owner = image["owner"].as_str().unwrap().to_string();
            let app = &app;
            async move { app.get_json(&app.token(&owner, &[]), &path).await.1 }
        };
        // As images registered before placeholders and focus points were found.
        app.platform
            .db
            .execute_unprepared(
                "UPDATE images SET blurhash = NULL, dominant_color = NULL, \
                 attention_x = NULL, attention_y = NULL",
            )
            .await
            .unwrap();
        let before = read(&image).await;
        assert!(before.get("placeholder").is_none(), "{backend:?}: {before}");
        assert_eq!(before["focus"]["source"], "default");

        assert_eq!(sous::images::backfill(&app.platform).await.unwrap(), 2);
        for original in [&image, &other] {
            let after = read(original).await;
            assert_eq!(after["placeholder"], original["placeholder"], "{backend:?}");
            assert_eq!(after["focus"], original["focus"], "{backend:?}");
        }
        assert_eq!(
            sous::images::backfill(&app.platform).await.unwrap(),
            0,
            "{backend:?}: nothing left to fill"
        );
    }
}
