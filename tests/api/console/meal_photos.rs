//! The meal photos page: real photos chosen in the browser, put to their signed upload URLs,
//! and followed through the change feed until the model has decided. Needs the weights
//! (`SOUS_MODEL_DIR`) and the evaluation photos (`SOUS_TEST_EVAL_PHOTOS`): skipped without
//! them, unless `SOUS_REQUIRE_SERVICES=1`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Console;
use crate::meal_photos::{eval_photos, model_dir};

/// Photos the model tells apart with a wide margin (as in the pipeline tests).
const FOOD: &str = "food/recipes__ebassi-carbonara-05.JPG";
const NOT_FOOD: &str = "nonfood/cognitive-__Rome.jpg";

/// The model's first forward passes in a debug build take a while.
const DECIDED_WITHIN: Duration = Duration::from_secs(120);

/// Upload URLs name `public_url`: the browser must be able to put to them, so it is the app's
/// own address.
/// Waits up to `within` for `script` (a JS expression) to be truthy: for what takes longer
/// than the harness's patience in a debug build.
pub(super) async fn wait_long(
    console: &Console,
    what: &str,
    script: &str,
    within: Duration,
) -> Value {
    let started = Instant::now();
    let body = format!("return ({script});");
    loop {
        let value = console
            .browser
            .execute(&body, vec![])
            .await
            .unwrap_or(Value::Null);
        if !matches!(value, Value::Null | Value::Bool(false)) {
            return value;
        }
        if started.elapsed() > within {
            console.screenshot("timeout").await;
            panic!("{what}: `{script}` stayed false for {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn chosen_photos_are_uploaded_and_show_their_decision_and_score() {
    let (Some(models), Some(photos)) = (model_dir(), eval_photos()) else {
        return;
    };
    let Some(console) = Console::start_with(
        |settings| {
            settings.model_dir = models;
        },
        |builder| builder,
    )
    .await
    else {
        return;
    };
    console.open("#/meal-photos").await;
    console
        .wait_for_text("[data-testid=meal-photo-empty]", "No photos yet")
        .await;

    // A Japanese file name, as a phone's camera roll may have.
    let dir = tempfile::tempdir().unwrap();
    let food = dir.path().join("カルボナーラ.jpg");
    std::fs::copy(photos.join(FOOD), &food).unwrap();
    console
        .choose_files(
            "[data-testid=meal-photo-input]",
            &[food, photos.join(NOT_FOOD)],
        )
        .await;

    // Both show at once with their thumbnails, then go on to their decisions.
    console
        .wait_until(
            "two photos are listed with thumbnails",
            "[...document.querySelectorAll('[data-testid=meal-photo] img')].filter((i) => i.naturalWidth > 0).length === 2",
        )
        .await;
    wait_long(
        &console,
        "both photos are decided",
        "document.querySelectorAll('[data-testid=meal-photo][data-status=done]').length === 2",
        DECIDED_WITHIN,
    )
    .await;

    let card = |name: &str| format!("[data-testid=meal-photo][data-name=\"{name}\"]");
    let decision = console
        .text(&format!(
            "{} [data-testid=photo-decision]",
            card("カルボナーラ.jpg")
        ))
        .await;
    assert_eq!(decision, "food");
    let score = console
        .text(&format!(
            "{} [data-testid=photo-score]",
            card("カルボナーラ.jpg")
        ))
        .await;
    let score: f64 = score.trim_start_matches("score ").parse().unwrap();
    assert!(score > 0.5, "the food photo scored {score}");
    let decision = console
        .text(&format!(
            "{} [data-testid=photo-decision]",
            card("cognitive-__Rome.jpg")
        ))
        .await;
    assert_eq!(decision, "not food");

    // The page's decisions are the API's.
    let (_, feed) = console
        .app
        .get_json(&console.app.admin_token(), "/v1/meal-photos?owner=ops")
        .await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{feed}");
    for item in items {
        assert_eq!(item["status"], json!("done"), "{item}");
        let id = item["id"].as_str().unwrap();
        let shown = console
            .find(&format!("[data-testid=meal-photo][data-photo-id=\"{id}\"]"))
            .await;
        let text = shown.text().await.unwrap();
        let expected = if item["is_food"] == json!(true) {
            "food"
        } else {
            "not food"
        };
        assert!(text.contains(expected), "{text} for {item}");
    }
    console
        .wait_for_text("[data-testid=meal-photo-summary]", "2 photos: 2 done")
        .await;

    console.screenshot("meal-photos-decided").await;

    // A reload lists them again, from the feed.
    console.browser.refresh().await.unwrap();
    console
        .wait_for_text("[data-testid=meal-photo-summary]", "2 photos: 2 done")
        .await;
    console.finish("meal-photos-reloaded").await;
}
