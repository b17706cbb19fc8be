//! Bad input: refused at the API with a problem saying what is wrong and nothing created, or,
//! once uploaded, a `failed` photo with its reason; none left `processing`.

use reqwest::StatusCode;
use serde_json::json;
use sous::platform::events::ObjectCreated;

use super::{ask, changes, model_dir, put, settled, spawn, upload};
use crate::helpers::Backend;
use crate::images::samples::{jpeg, png_header_claiming};

const LIMIT: u64 = 10_000_000;

#[tokio::test]
async fn bad_batches_are_refused_whole() {
    let app = spawn(&Backend::Embedded, None).await;
    let ids: Vec<String> = (0..101).map(|n| format!("IMG_{n}")).collect();
    let batch = |count: usize| -> Vec<(&str, &str, u64)> {
        ids[..count]
            .iter()
            .map(|id| (id.as_str(), "image/jpeg", 1000))
            .collect()
    };
    let (status, problem) = ask(&app, "cook", &batch(101)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 100"),
        "{problem}"
    );

    let refusals = [
        (
            vec![("a", "image/gif", 1000)],
            StatusCode::BAD_REQUEST,
            "photos[0].content_type",
        ),
        (
            vec![("a", "image/jpeg", LIMIT + 1)],
            StatusCode::PAYLOAD_TOO_LARGE,
            "photos[0].size",
        ),
        (
            vec![("a", "image/jpeg", 0)],
            StatusCode::BAD_REQUEST,
            "photos[0].size",
        ),
        (
            vec![("", "image/jpeg", 10)],
            StatusCode::BAD_REQUEST,
            "photos[0].device_photo_id",
        ),
        (
            vec![("a", "image/jpeg", 10), ("a", "image/png", 10)],
            StatusCode::BAD_REQUEST,
            "photos[1].device_photo_id",
        ),
        // One good photo beside a bad one: neither is created.
        (
            vec![("good", "image/jpeg", 10), ("bad", "text/plain", 10)],
            StatusCode::BAD_REQUEST,
            "photos[1].content_type",
        ),
    ];
    for (photos, expected, field) in refusals {
        let (status, problem) = ask(&app, "cook", &photos).await;
        assert_eq!(status, expected, "{photos:?}: {problem}");
        let fields = problem["errors"].to_string();
        assert!(fields.contains(field), "{photos:?}: {problem}");
    }
    let response = app
        .client
        .post(app.url("/v1/meal-photos"))
        .bearer_auth(app.token("cook", &[]))
        .json(&json!({"photos": [{"device_photo_id": "a", "content_type": "image/jpeg"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        changes(&app, "cook", "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // At the limits: a hundred photos, one of exactly 10 MB.
    let (status, body) = ask(&app, "cook", &batch(100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["photos"].as_array().unwrap().len(), 100);
    let (status, body) = ask(&app, "cook", &[("big", "image/jpeg", LIMIT)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = app
        .client
        .post(app.url("/v1/meal-photos"))
        .json(&json!({"photos": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_upload_larger_than_declared_is_refused() {
    let app = spawn(&Backend::Embedded, None).await;
    let (_, body) = ask(&app, "cook", &[("IMG_1", "image/jpeg", 100)]).await;
    let photo = &body["photos"][0];
    assert_eq!(
        put(&app, &photo["upload"], vec![0xFF; 101]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let id = photo["id"].as_str().unwrap();
    assert_eq!(super::get(&app, "cook", id).await["status"], "waiting");
}

#[tokio::test]
async fn photos_that_cannot_be_read_fail_with_their_reason() {
    let Some(models) = model_dir() else {
        return;
    };
    let app = spawn(&Backend::Embedded, Some(models)).await;
    let whole = jpeg(64, 48, |x, y| [x as u8, y as u8, 128]);
    let cases: [(&str, &str, Vec<u8>, &str); 3] = [
        (
            "text",
            "image/jpeg",
            b"just some words, not a photo at all".to_vec(),
            "sous accepts JPEG",
        ),
        (
            "bomb",
            "image/png",
            png_header_claiming(100_000, 100_000),
            "100000×100000",
        ),
        (
            "cut",
            "image/jpeg",
            whole[..whole.len() / 2].to_vec(),
            "corrupt or truncated",
        ),
    ];
    for (device_id, content_type, bytes, reason) in cases {
        let id = upload(&app, "cook", device_id, content_type, bytes).await;
        let photo = settled(&app, "cook", &id).await;
        assert_eq!(photo["status"], "failed", "{device_id}: {photo}");
        assert!(
            photo["reason"].as_str().unwrap().contains(reason),
            "{device_id}: {photo}"
        );
        assert!(photo["is_food"].is_null(), "{photo}");
    }

    // An event for a photo whose object never came.
    let (_, body) = ask(&app, "cook", &[("ghost", "image/jpeg", 1000)]).await;
    let id = body["photos"][0]["id"].as_str().unwrap();
    let event = ObjectCreated {
        bucket: app.platform.store.bucket().to_string(),
        key: format!("meal-photos/{id}"),
        version: "forged".into(),
        size: Some(1000),
        content_type: None,
    };
    sous::platform::uploads::deliver(&app.platform, event)
        .await
        .unwrap();
    let photo = settled(&app, "cook", id).await;
    assert_eq!(photo["status"], "failed", "{photo}");
    assert!(
        photo["reason"]
            .as_str()
            .unwrap()
            .contains("not in the store"),
        "{photo}"
    );
}

#[tokio::test]
async fn old_urls_follow_the_renewed_terms_and_die_with_the_photo() {
    let app = spawn(&Backend::Embedded, None).await;
    let (_, first) = ask(&app, "cook", &[("IMG_9", "image/jpeg", 1000)]).await;
    let (_, second) = ask(&app, "cook", &[("IMG_9", "image/jpeg", 100)]).await;
    let (first, second) = (&first["photos"][0], &second["photos"][0]);
    assert_eq!(first["id"], second["id"]);
    // The first URL now takes what the photo was last declared to be.
    assert_eq!(
        put(&app, &first["upload"], vec![0xFF; 500]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let id = first["id"].as_str().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/v1/meal-photos/{id}")))
        .bearer_auth(app.token("cook", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Deleted: no URL of it takes bytes any more.
    for upload in [&first["upload"], &second["upload"]] {
        let status = put(&app, upload, vec![0xFF; 50]).await;
        assert!(status.is_client_error(), "{status}");
    }
    let key = sous::platform::storage::ObjectKey::parse(&format!("meal-photos/{id}")).unwrap();
    assert!(app.platform.store.head(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn without_weights_ready_says_so_and_photos_wait_queued() {
    let app = spawn(&Backend::Embedded, None).await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ready: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["classification"], "unavailable", "{ready}");
    assert!(
        ready["checks"].get("worker:classify").is_none(),
        "no worker takes them: {ready}"
    );
    let photo = jpeg(64, 48, |x, y| [x as u8, y as u8, 90]);
    let id = upload(&app, "cook", "IMG_1", "image/jpeg", photo).await;
    assert_eq!(super::get(&app, "cook", &id).await["status"], "queued");
    // Other queues' workers poll every 100 ms; none takes it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(jobs_waiting(&app).await, 1, "the job waits in its queue");
    assert_eq!(super::get(&app, "cook", &id).await["status"], "queued");
}

/// Jobs waiting in the `classify` queue.
async fn jobs_waiting(app: &crate::helpers::TestApp) -> u64 {
    let jobs = &app.platform.jobs;
    let queue = jobs.registry().queue_named("classify").unwrap();
    jobs.backend().pending(queue).await.unwrap()
}

#[tokio::test]
async fn an_oversize_upload_the_store_took_fails_the_photo() {
    // A presigned S3 PUT cannot bound the size: the object arrives, and its event refuses it.
    let app = spawn(&Backend::Embedded, None).await;
    let (_, body) = ask(&app, "cook", &[("IMG_3", "image/jpeg", 100)]).await;
    let id = body["photos"][0]["id"].as_str().unwrap();
    let key = format!("meal-photos/{id}");
    let object = sous::platform::storage::ObjectKey::parse(&key).unwrap();
    app.platform
        .store
        .put(&object, vec![0xFF; 500].into())
        .await
        .unwrap();
    let event = ObjectCreated {
        bucket: app.platform.store.bucket().to_string(),
        key: key.clone(),
        version: "s3-version".into(),
        size: Some(500),
        content_type: None,
    };
    let outcome = sous::platform::uploads::deliver(&app.platform, event)
        .await
        .unwrap();
    assert_eq!(outcome, sous::platform::events::Outcome::Rejected { key });
    let photo = super::get(&app, "cook", id).await;
    assert_eq!(photo["status"], "failed", "{photo}");
    assert!(
        photo["reason"]
            .as_str()
            .unwrap()
            .contains("larger than the 100 bytes"),
        "{photo}"
    );
    assert!(app.platform.store.head(&object).await.unwrap().is_none());
}
