//! Meal photos end to end: batches asked for, bytes put to the signed URLs, the storage events,
//! the classifier's decisions read back through the polling cursor. The weights come from
//! `SOUS_MODEL_DIR` and the photos from `SOUS_TEST_EVAL_PHOTOS` (both outside the repository); a
//! test that needs them is skipped when they are absent, unless `SOUS_REQUIRE_SERVICES=1`.

mod cursor;
mod pipeline;
mod refusals;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sous::config::Settings;

use crate::helpers::{Backend, TestApp, eventually, required, test_settings};

/// A directory from the environment that holds `needed`; with `SOUS_REQUIRE_SERVICES=1` a
/// missing one fails the test.
fn data_dir(var: &str, needed: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var).map(PathBuf::from);
    match dir {
        Some(dir) if dir.join(needed).exists() => Some(dir),
        _ if required() => panic!("{var} does not point at a folder with {needed}"),
        _ => {
            eprintln!("note: {var} has no {needed}; skipping what needs it");
            None
        }
    }
}

pub fn model_dir() -> Option<PathBuf> {
    data_dir("SOUS_MODEL_DIR", "mobilenet_v2_imagenet.safetensors")
}

pub fn eval_photos() -> Option<PathBuf> {
    data_dir("SOUS_TEST_EVAL_PHOTOS", "food")
}

/// An eval photo's bytes, e.g. `food/recipes__salmonrice2.jpg`.
pub fn photo(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Settings with the model of `model_dir` (or none) and retries that come quickly.
pub async fn settings(
    backend: &Backend,
    dir: &std::path::Path,
    model_dir: Option<PathBuf>,
) -> Settings {
    let mut settings = test_settings(backend, dir).await;
    settings.model_dir = model_dir.unwrap_or_else(|| dir.join("no-model"));
    settings.images.ladder.clear();
    settings.images.presets.clear();
    settings.jobs.queues.insert(
        "classify".into(),
        sous::platform::jobs::QueueOverrides {
            backoff: Some(Duration::from_millis(200)),
            max_backoff: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    );
    settings
}

pub async fn spawn(backend: &Backend, model_dir: Option<PathBuf>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(backend, dir.path(), model_dir).await;
    TestApp::start(settings, |b| b, dir).await
}

/// `POST /v1/meal-photos` for `photos` (device id, content type, size): status and body.
pub async fn ask(app: &TestApp, owner: &str, photos: &[(&str, &str, u64)]) -> (StatusCode, Value) {
    let photos: Vec<Value> = photos
        .iter()
        .map(|(id, content_type, size)| {
            json!({"device_photo_id": id, "content_type": content_type, "size": size})
        })
        .collect();
    let response = app
        .client
        .post(app.url("/v1/meal-photos"))
        .bearer_auth(app.token(owner, &[]))
        .json(&json!({ "photos": photos }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// PUTs `bytes` to a photo's upload ticket.
pub async fn put(app: &TestApp, upload: &Value, bytes: Vec<u8>) -> StatusCode {
    let url = upload["upload_url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &app.address);
    let mut request = app.client.put(url).body(bytes);
    for (name, value) in upload["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    request.send().await.unwrap().status()
}

/// Asks for one photo and uploads `bytes` as it: the photo's id.
pub async fn upload(
    app: &TestApp,
    owner: &str,
    device_id: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let (status, body) = ask(app, owner, &[(device_id, content_type, bytes.len() as u64)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let photo = &body["photos"][0];
    assert_eq!(put(app, &photo["upload"], bytes).await, StatusCode::CREATED);
    photo["id"].as_str().unwrap().to_string()
}

pub async fn get(app: &TestApp, owner: &str, id: &str) -> Value {
    let (status, body) = app
        .get_json(&app.token(owner, &[]), &format!("/v1/meal-photos/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the photo until it is done or failed.
pub async fn settled(app: &TestApp, owner: &str, id: &str) -> Value {
    let ended = eventually(Duration::from_secs(60), || async {
        let status = get(app, owner, id).await["status"].clone();
        status == "done" || status == "failed"
    })
    .await;
    let photo = get(app, owner, id).await;
    assert!(ended, "{photo}");
    photo
}

/// One poll of what changed since `cursor`.
pub async fn changes(app: &TestApp, owner: &str, cursor: &str) -> Value {
    let (status, body) = app
        .get_json(
            &app.token(owner, &[]),
            &format!("/v1/meal-photos?changed_since={cursor}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}
