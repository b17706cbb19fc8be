//! Ads over HTTP: submission and its validation, the ingredient table and how names resolve,
//! delivery (tiers, dates, caps, the kill switch, bad inputs, a cache store that hangs or
//! dies), clicks, and counts flushed exactly once. This module holds what the tests share.

mod counting;
mod delivery;
mod ingredients;
mod resilience;
mod submission;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sous::config::Settings;

use crate::helpers::{Backend, TestApp};

/// An app with the sample ingredient table and campaigns reloaded often.
async fn spawn(backend: &Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let app = TestApp::spawn_with(
        backend,
        |settings| {
            settings.ads.seed_ingredients = true;
            settings.ads.refresh_every = Duration::from_millis(200);
            // Generous for a debug build on a busy machine; the resilience tests set their own.
            settings.ads.cache_timeout = Duration::from_millis(200);
            configure(settings);
        },
        |builder| builder,
    )
    .await;
    wait_for_table(&app).await;
    app
}

/// Waits until the sample table has been loaded into the cache store.
async fn wait_for_table(app: &TestApp) {
    let admin = app.admin_token();
    let loaded = crate::helpers::eventually(Duration::from_secs(20), || async {
        let (status, body) = app
            .get_json(&admin, "/v1/ads/ingredients/resolve?name=%E5%A1%A9")
            .await;
        status == StatusCode::OK && body["concepts"] == json!(["salt"])
    })
    .await;
    assert!(loaded, "the sample ingredient table never loaded");
}

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(app.admin_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn advertiser(app: &TestApp) -> String {
    let (status, body) = post(app, "/v1/ads/advertisers", json!({"name": "Kitchen Co."})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// A running campaign from `fields` over defaults, with one creative; returns its id.
async fn campaign(app: &TestApp, advertiser_id: &str, fields: Value) -> String {
    let mut body = json!({
        "advertiser_id": advertiser_id,
        "name": "campaign",
        "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z",
        "slots": ["recipe_top", "recipe_bottom"],
        "targeting": "none",
    });
    for (key, value) in fields.as_object().unwrap() {
        body[key] = value.clone();
    }
    let (status, created) = post(app, "/v1/ads/campaigns", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, creative) = post(
        app,
        &format!("/v1/ads/campaigns/{id}/creatives"),
        json!({"title": format!("ad of {}", created["name"]), "link": "https://example.com/landing", "payload": {"style": "banner"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{creative}");
    id
}

/// A delivery: the status, the body and the response headers.
async fn deliver(
    app: &TestApp,
    query: &str,
    ingredients: Option<&[&str]>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app.client.get(app.url(&format!("/v1/ads?{query}")));
    if let Some(names) = ingredients {
        request = request.header("X-Recipe-Ingredients", encode(names));
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.json().await.unwrap(), headers)
}

fn encode(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC).to_string()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The campaign ids of a delivery's ads.
fn campaigns_of(body: &Value) -> Vec<String> {
    body["ads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ad| ad["campaign_id"].as_str().unwrap().to_string())
        .collect()
}

/// Pushes this app's counts to the cache store and flushes them into the database.
async fn flush(app: &TestApp) {
    sous::ads::delivery::push_counts(app.platform.clone())
        .await
        .unwrap();
    sous::ads::delivery::flush_counts(app.platform.clone())
        .await
        .unwrap();
}
