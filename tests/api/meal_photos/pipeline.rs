//! The pipeline with the real model: decisions on real photos read back by polling, batches
//! that share a forward pass, photos that wait for the weights, repeated events, deletion.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sous::classification::ClassifyPhoto;
use sous::config::Roles;
use sous::platform::events::{ObjectCreated, Outcome};
use sous::platform::storage::ObjectKey;

use super::{
    ask, changes, eval_photos, get, model_dir, photo, put, settings, settled, spawn, upload,
};
use crate::helpers::{Backend, TestApp, backends};

/// Photos the model tells apart with a wide margin, a PNG among them.
const FOOD: [&str; 2] = [
    "food/recipes__ebassi-carbonara-05.JPG",
    "food/recipes__mediterranean.png",
];
const NOT_FOOD: [&str; 2] = [
    "nonfood/cognitive-__Rome.jpg",
    "nonfood/recipes__allan_day.jpg",
];

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

/// Polls from the start until `count` photos are done or failed: the last state of each, and
/// the cursor after them.
async fn poll_until_settled(
    app: &TestApp,
    owner: &str,
    count: usize,
) -> (HashMap<String, Value>, String) {
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut cursor = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let page = changes(app, owner, &cursor).await;
        for item in page["items"].as_array().unwrap() {
            let name = item["device_photo_id"].as_str().unwrap().to_string();
            latest.insert(name, item.clone());
        }
        cursor = page["next_cursor"].as_str().unwrap().to_string();
        let ended = |p: &Value| p["status"] == "done" || p["status"] == "failed";
        if latest.len() == count && latest.values().all(ended) {
            return (latest, cursor);
        }
        assert!(tokio::time::Instant::now() < deadline, "{latest:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn meals_are_told_apart_and_read_back_by_polling() {
    let (Some(models), Some(photos)) = (model_dir(), eval_photos()) else {
        return;
    };
    for backend in backends() {
        let app = spawn(&backend, Some(models.clone())).await;
        let names: Vec<&str> = FOOD.iter().chain(NOT_FOOD.iter()).copied().collect();
        let bytes: Vec<Vec<u8>> = names.iter().map(|n| photo(&photos, n)).collect();
        let asked: Vec<(&str, &str, u64)> = names
            .iter()
            .zip(&bytes)
            .map(|(n, b)| (*n, content_type(n), b.len() as u64))
            .collect();
        let (status, body) = ask(&app, "cook", &asked).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (created, bytes) in body["photos"].as_array().unwrap().iter().zip(bytes) {
            assert_eq!(created["status"], "waiting");
            assert_eq!(
                put(&app, &created["upload"], bytes).await,
                StatusCode::CREATED
            );
        }
        let (latest, cursor) = poll_until_settled(&app, "cook", names.len()).await;
        for name in names {
            let photo = &latest[name];
            assert_eq!(photo["status"], "done", "{backend:?} {name}: {photo}");
            assert_eq!(
                photo["is_food"],
                name.starts_with("food/"),
                "{backend:?} {name}: {photo}"
            );
            let score = photo["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{photo}");
            assert_eq!(photo["model"]["name"], "mobilenet_v2", "{photo}");
            assert!(photo["classified_at"].is_string(), "{photo}");
        }
        // Polled again from the cursor: nothing new, nothing repeated.
        let again = changes(&app, "cook", &cursor).await;
        assert_eq!(again["items"].as_array().unwrap().len(), 0, "{again}");
        // Someone else sees none of them.
        let id = latest[FOOD[0]]["id"].as_str().unwrap();
        let (status, _) = app
            .get_json(
                &app.token("stranger", &[]),
                &format!("/v1/meal-photos/{id}"),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            changes(&app, "stranger", "").await["items"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn photos_wait_for_the_weights_then_share_one_forward_pass() {
    let (Some(models), Some(photos)) = (model_dir(), eval_photos()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let without = settings(&Backend::Embedded, dir.path(), None).await;
    let mut with = without.clone();
    let app = TestApp::start(without, |b| b, tempfile::tempdir().unwrap()).await;

    let names: Vec<&str> = FOOD.iter().chain(NOT_FOOD.iter()).copied().collect();
    let mut ids = Vec::new();
    for name in &names {
        ids.push(upload(&app, "cook", name, content_type(name), photo(&photos, name)).await);
    }
    for id in &ids {
        assert_eq!(get(&app, "cook", id).await["status"], "queued");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &ids {
        assert_eq!(
            get(&app, "cook", id).await["status"],
            "queued",
            "nothing works on them"
        );
    }

    // A worker with the weights takes them all, and they fill one pass.
    with.model_dir = models;
    with.roles = Roles {
        api: false,
        worker: true,
        scheduler: false,
    };
    with.classification.batch_size = names.len();
    with.classification.linger = Duration::from_secs(5);
    let worker = TestApp::start(with, |b| b, tempfile::tempdir().unwrap()).await;
    for (id, name) in ids.iter().zip(&names) {
        let photo = settled(&app, "cook", id).await;
        assert_eq!(photo["status"], "done", "{name}: {photo}");
        assert_eq!(
            photo["is_food"],
            name.starts_with("food/"),
            "{name}: {photo}"
        );
    }
    let metrics = worker.platform.metrics.render(&worker.platform.jobs).await;
    assert!(
        metrics.contains("sous_classify_batch_size_count 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("sous_classify_batch_size_sum {}\n", names.len())),
        "{metrics}"
    );
    worker.stop().await.unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_same_event_twice_classifies_once() {
    let (Some(models), Some(photos)) = (model_dir(), eval_photos()) else {
        return;
    };
    let app = spawn(&Backend::Embedded, Some(models)).await;
    let bytes = photo(&photos, FOOD[0]);
    let size = bytes.len() as u64;
    let id = upload(&app, "cook", "IMG_1", "image/jpeg", bytes).await;
    let first = settled(&app, "cook", &id).await;
    assert_eq!(first["status"], "done");
    let cursor = changes(&app, "cook", "").await["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();

    let key = format!("meal-photos/{id}");
    let event = ObjectCreated {
        bucket: app.platform.store.bucket().to_string(),
        key: key.clone(),
        version: String::new(),
        size: Some(size),
        content_type: None,
    };
    let outcome = sous::platform::uploads::deliver(&app.platform, event.clone())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Duplicate { key: key.clone() });
    // Even a job queued again for it leaves it as it was.
    app.platform
        .jobs
        .enqueue(&ClassifyPhoto { event })
        .await
        .unwrap();
    app.run_jobs_until_idle(Duration::from_secs(30)).await;
    assert_eq!(get(&app, "cook", &id).await, first);
    assert_eq!(
        changes(&app, "cook", &cursor).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("sous_classify_photos_total{outcome=\"done\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn asking_again_finds_the_same_photo_and_deleting_removes_it() {
    let (Some(models), Some(photos)) = (model_dir(), eval_photos()) else {
        return;
    };
    let app = spawn(&Backend::Embedded, Some(models)).await;
    let bytes = photo(&photos, NOT_FOOD[0]);
    let asked = [("IMG_7", "image/jpeg", bytes.len() as u64)];
    let (_, first) = ask(&app, "cook", &asked).await;
    let (status, second) = ask(&app, "cook", &asked).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (first, second) = (&first["photos"][0], &second["photos"][0]);
    assert_eq!(
        first["id"], second["id"],
        "the same device photo is the same photo"
    );
    assert!(
        second["upload"]["upload_url"].is_string(),
        "a URL while it waits: {second}"
    );
    // The second URL works.
    assert_eq!(
        put(&app, &second["upload"], bytes).await,
        StatusCode::CREATED
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(settled(&app, "cook", id).await["is_food"], false);
    let (_, third) = ask(&app, "cook", &asked).await;
    assert_eq!(third["photos"][0]["id"], id);
    assert_eq!(third["photos"][0]["status"], "done");
    assert!(
        third["photos"][0].get("upload").is_none(),
        "no URL once uploaded: {third}"
    );

    // Someone else can neither see nor delete it.
    let path = app.url(&format!("/v1/meal-photos/{id}"));
    let stranger = app.token("stranger", &[]);
    let response = app
        .client
        .delete(&path)
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .client
        .delete(&path)
        .bearer_auth(app.token("cook", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = app
        .get_json(&app.token("cook", &[]), &format!("/v1/meal-photos/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let key = ObjectKey::parse(&format!("meal-photos/{id}")).unwrap();
    assert!(
        app.platform.store.head(&key).await.unwrap().is_none(),
        "the object is gone too"
    );
}
