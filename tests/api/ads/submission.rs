//! Submission: what is refused, field by field, and that changes reach delivery without a
//! restart, on this replica at once and on another within seconds.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{advertiser, campaign, campaigns_of, deliver, post, spawn};
use crate::helpers::{Backend, TestApp, eventually};

#[tokio::test]
async fn bad_submissions_name_every_field_at_fault_and_save_nothing() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let advertiser_id = advertiser(&app).await;
    let (status, problem) = post(
        &app,
        "/v1/ads/campaigns",
        json!({
            "advertiser_id": advertiser_id,
            "name": "",
            "starts_at": "2026-12-10T00:00:00Z",
            "ends_at": "2026-12-01T00:00:00Z",
            "slots": [],
            "targeting": "ingredient",
            "concepts": ["salt", "unobtainium"],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "ad_invalid");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in ["/name", "/ends_at", "/slots", "/concepts/1"] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(
        !fields.contains(&"/concepts/0"),
        "salt is a concept: {fields:?}"
    );

    let (status, problem) = post(
        &app,
        "/v1/ads/campaigns",
        json!({"advertiser_id": advertiser_id, "name": "x", "starts_at": "2026-12-01T00:00:00Z",
               "ends_at": "2026-12-10T00:00:00Z", "slots": ["sidebar"], "targeting": "keyword"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = problem.to_string();
    assert!(
        text.contains("/slots/0") && text.contains("/keywords"),
        "{text}"
    );

    let id = campaign(&app, &advertiser_id, json!({})).await;
    for link in [
        "javascript:alert(1)",
        "ftp://example.com/x",
        "not a url",
        "https://",
    ] {
        let (status, problem) = post(
            &app,
            &format!("/v1/ads/campaigns/{id}/creatives"),
            json!({"title": "t", "link": link}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{link}");
        assert_eq!(problem["errors"][0]["field"], "/link", "{link}: {problem}");
    }
    let (status, _) = post(
        &app,
        &format!("/v1/ads/campaigns/{id}/creatives"),
        json!({"title": "t", "link": "https://example.com", "payload": {"pad": "x".repeat(17 * 1024)}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a 17 KiB payload");
    let (_, page) = app.get_json(&app.admin_token(), "/v1/ads/campaigns").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "only the good one: {page}"
    );

    let (status, problem) = app
        .client
        .delete(app.url(&format!("/v1/ads/advertisers/{advertiser_id}")))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{:?}", problem.text().await);

    let (status, _) = app
        .get_json(&app.token("someone", &[]), "/v1/ads/campaigns")
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "submission needs the admin scope"
    );
}

#[tokio::test]
async fn changes_reach_this_replica_at_once_and_another_within_seconds() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    // A second replica on the same database.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(&Backend::Embedded, dir.path()).await;
    settings.database_url = app.platform.settings.database_url.clone();
    settings.ads.refresh_every = Duration::from_millis(500);
    settings.roles = sous::config::Roles {
        api: true,
        worker: false,
        scheduler: false,
    };
    let other = TestApp::start(settings, |b| b, dir).await;

    let advertiser_id = advertiser(&app).await;
    let id = campaign(&app, &advertiser_id, json!({"slots": ["search_top"]})).await;
    let (_, body, _) = deliver(&app, "slot=search_top", None).await;
    assert_eq!(campaigns_of(&body), vec![id.clone()], "at once here");
    let reached = eventually(Duration::from_secs(5), || async {
        campaigns_of(&deliver(&other, "slot=search_top", None).await.1) == vec![id.clone()]
    })
    .await;
    assert!(reached, "the other replica never served the new campaign");

    let response = app
        .client
        .patch(app.url(&format!("/v1/ads/campaigns/{id}")))
        .bearer_auth(app.admin_token())
        .json(&json!({"status": "paused"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let paused: serde_json::Value = response.json().await.unwrap();
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["slots"], json!(["search_top"]), "the rest kept");
    assert!(campaigns_of(&deliver(&app, "slot=search_top", None).await.1).is_empty());
    let paused_there = eventually(Duration::from_secs(5), || async {
        campaigns_of(&deliver(&other, "slot=search_top", None).await.1).is_empty()
    })
    .await;
    assert!(
        paused_there,
        "the other replica kept serving a paused campaign"
    );
}
