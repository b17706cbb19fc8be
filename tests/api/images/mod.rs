//! Images over HTTP: register, serve resized in the negotiated format, variants made ahead,
//! replace (old URLs redirect), delete; every limit at and past it; awkward files. The tests are
//! split by concern; this module holds what they share.

pub mod samples;

mod focus;
mod manage;
mod register;
mod serve;
mod signed;
mod variants;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use sous::config::Settings;
use sous::images::transform::OutputFormat;
use sous::platform::storage::ObjectKey;

use crate::helpers::{Backend, TestApp};
use samples::{jpeg, pixels};

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

pub async fn objects_under(app: &TestApp, prefix: &str) -> Vec<String> {
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
