//! Owners, listing, replacing and deleting, direct uploads, the OpenAPI document.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::Value;

use super::samples::*;
use super::{fetch, nothing_ahead, objects_under, path, photo, picture, problem, spawn};
use crate::helpers::{Backend, TestApp, backends, eventually};

#[tokio::test]
async fn a_replaced_image_redirects_its_old_urls_and_a_deleted_one_is_gone() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let token = app.token("alice", &[]);
        let first = app.register_image("alice", photo()).await;
        let id = first["id"].as_str().unwrap().to_string();
        let old_prefix = format!("images/{id}/{}", first["version"].as_str().unwrap());
        assert!(!objects_under(&app, &old_prefix).await.is_empty());

        let replaced: Value = app
            .client
            .put(app.url(&format!("/v1/images/{id}")))
            .bearer_auth(&token)
            .body(png(30, 20))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(replaced["id"], first["id"]);
        assert_ne!(
            replaced["version"], first["version"],
            "{backend:?}: {replaced}"
        );
        assert_eq!(
            (replaced["format"].as_str(), replaced["width"].as_u64()),
            (Some("png"), Some(30))
        );

        let old = fetch(&app, &format!("{}?w=10&format=png", path(&first)), None).await;
        assert_eq!(old.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            old.headers()[LOCATION].to_str().unwrap(),
            format!("{}?w=10&format=png", path(&replaced))
        );
        assert_eq!(old.headers()[CACHE_CONTROL], "public, max-age=300");
        // Following it gives the new picture.
        let followed = app
            .client
            .get(app.url(&format!("{}?w=10&format=png", path(&first))))
            .send()
            .await
            .unwrap();
        assert_eq!(
            pixels(&followed.bytes().await.unwrap()).dimensions(),
            (10, 7)
        );
        assert!(
            eventually(Duration::from_secs(10), || async {
                objects_under(&app, &old_prefix).await.is_empty()
            })
            .await,
            "{backend:?}: the old version's objects stay"
        );

        let deleted = app
            .client
            .delete(app.url(&format!("/v1/images/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        for gone in [path(&first), path(&replaced)] {
            assert_eq!(
                fetch(&app, &gone, None).await.status(),
                StatusCode::NOT_FOUND
            );
        }
        assert!(
            eventually(Duration::from_secs(10), || async {
                objects_under(&app, &format!("images/{id}"))
                    .await
                    .is_empty()
            })
            .await,
            "{backend:?}: objects stay after the delete"
        );
    }
}

#[tokio::test]
async fn replacing_with_the_bytes_of_another_image_is_a_duplicate() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let first = app.register_image("alice", png(12, 12)).await;
    let second = app.register_image("alice", png(13, 13)).await;
    let response = app
        .client
        .put(app.url(&format!("/v1/images/{}", second["id"].as_str().unwrap())))
        .bearer_auth(app.token("alice", &[]))
        .body(png(12, 12))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "image_duplicate");
    assert_eq!(
        body["detail"],
        format!(
            "these bytes are already your image {}",
            first["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn images_belong_to_their_owner() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", photo()).await;
    let url = format!("/v1/images/{}", image["id"].as_str().unwrap());
    let status_for = |token: Option<String>, method: reqwest::Method| {
        let request = app.client.request(method, app.url(&url));
        async move {
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
            .send()
            .await
            .unwrap()
            .status()
        }
    };
    assert_eq!(
        status_for(None, reqwest::Method::GET).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_for(Some(app.token("bob", &[])), reqwest::Method::GET).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_for(Some(app.token("bob", &[])), reqwest::Method::DELETE).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_for(Some(app.admin_token()), reqwest::Method::GET).await,
        StatusCode::OK
    );
    let (status, _) = app.upload_image("not-a-token", photo()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let list = |token: String, query: &'static str| {
        let request = app
            .client
            .get(app.url(&format!("/v1/images{query}")))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let mine: Value = list(app.token("alice", &[]), "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let bobs: Value = list(app.token("bob", &[]), "").await.json().await.unwrap();
    assert_eq!(bobs["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        list(app.token("bob", &[]), "?owner=alice").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        list(app.token("alice", &[]), "?limit=500").await.status(),
        StatusCode::OK
    );
    let (status, body) = problem(list(app.token("alice", &[]), "?limit=501").await).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit 501 is out of range"))
    );
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let mut ids = Vec::new();
    for side in 10..13 {
        ids.push(
            app.register_image("alice", png(side, side)).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let token = app.token("alice", &[]);
    let page = |query: String| {
        let request = app
            .client
            .get(app.url(&format!("/v1/images{query}")))
            .bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let first = page("?limit=2".into()).await;
    let got: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let second = page(format!(
        "?limit=2&after={}",
        first["next"].as_str().unwrap()
    ))
    .await;
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert!(second["next"].is_null());
}

/// Starts a direct upload of a JPEG for alice: its path, and the URL to put the file to.
async fn start_direct_upload(app: &TestApp) -> (String, String) {
    let started = app
        .client
        .post(app.url("/v1/images/uploads"))
        .bearer_auth(app.token("alice", &[]))
        .json(&serde_json::json!({"content_type": "image/jpeg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()[LOCATION].to_str().unwrap().to_string();
    let body: Value = started.json().await.unwrap();
    assert_eq!(body["status"], "waiting");
    // The public URL is configured; the test server listens elsewhere.
    let url = body["upload"]["upload_url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &app.address);
    (location, url)
}

async fn put_upload(app: &TestApp, url: &str, bytes: Vec<u8>) -> StatusCode {
    app.client
        .put(url)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

/// Uploads `bytes` directly for alice and returns the upload's path.
async fn upload_directly(app: &TestApp, bytes: Vec<u8>) -> String {
    let (location, url) = start_direct_upload(app).await;
    assert_eq!(put_upload(app, &url, bytes).await, StatusCode::CREATED);
    location
}

/// Polls a direct upload until it is no longer waiting.
async fn settled(app: &TestApp, location: &str) -> Value {
    let token = app.token("alice", &[]);
    let read = || async {
        app.client
            .get(app.url(location))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            read().await["status"] != "waiting"
        })
        .await,
        "{}",
        read().await
    );
    read().await
}

#[tokio::test]
async fn a_direct_upload_is_registered_when_its_file_arrives() {
    for backend in backends() {
        let app = spawn(&backend, nothing_ahead).await;
        let location = upload_directly(&app, photo()).await;
        let upload = settled(&app, &location).await;
        assert_eq!(upload["status"], "registered", "{backend:?}: {upload}");
        assert_eq!(upload["image"]["width"], 640);
        assert!(upload.get("upload").is_none());
        let (_, shown) = picture(&app, &format!("{}?w=64", path(&upload["image"]))).await;
        assert_eq!(shown.width(), 64);
        assert!(
            eventually(Duration::from_secs(5), || async {
                objects_under(&app, "images/uploads").await.is_empty()
            })
            .await,
            "{backend:?}: the uploaded copy stays"
        );

        let refused = settled(&app, &upload_directly(&app, zip()).await).await;
        assert_eq!(refused["status"], "refused", "{backend:?}: {refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("ZIP archive"),
            "{refused}"
        );

        let bobs = app
            .client
            .get(app.url(&location))
            .bearer_auth(app.token("bob", &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(bobs.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_direct_upload_is_held_to_the_byte_limit() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_bytes = 1000;
    })
    .await;
    let (_, url) = start_direct_upload(&app).await;
    assert_eq!(
        put_upload(&app, &url, vec![0; 1001]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // At the limit the upload is taken (and then refused for not being a JPEG).
    assert_eq!(
        put_upload(&app, &url, vec![0; 1000]).await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_direct_upload_must_declare_an_image_type() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let response = app
        .client
        .post(app.url("/v1/images/uploads"))
        .bearer_auth(app.token("alice", &[]))
        .json(&serde_json::json!({"content_type": "image/svg+xml"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "image_unsupported");
    assert_eq!(body["errors"][0]["field"], "content_type");
}

#[tokio::test]
async fn the_openapi_document_describes_the_image_endpoints() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/images",
        "/v1/images/{id}",
        "/v1/images/uploads",
        "/v1/images/uploads/{id}",
        "/i/{id}/{version}",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
}
