//! The polling cursor: with photos created by many writers at once, a poller that follows
//! `next_cursor` sees every change once, never twice, on every database. No model needed: the
//! creations themselves are the changes.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;

use super::{ask, changes, spawn};
use crate::helpers::{Backend, backends};

const WRITERS: usize = 8;
const PER_WRITER: usize = 12;

async fn poll_while_writers_write(backend: &Backend) {
    let app = spawn(backend, None).await;
    let owner = "diarist";
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let app = &app;
            async move {
                let mut ids = Vec::new();
                for n in 0..PER_WRITER {
                    let device_id = format!("w{writer}-{n}");
                    let (status, body) =
                        ask(app, owner, &[(device_id.as_str(), "image/jpeg", 1000)]).await;
                    assert_eq!(status, StatusCode::OK, "{body}");
                    ids.push(body["photos"][0]["id"].as_str().unwrap().to_string());
                }
                ids
            }
        })
        .collect();
    let poller = async {
        let mut seen: HashMap<String, u32> = HashMap::new();
        let mut cursor = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while seen.len() < WRITERS * PER_WRITER && tokio::time::Instant::now() < deadline {
            let page = changes(&app, owner, &cursor).await;
            for item in page["items"].as_array().unwrap() {
                *seen
                    .entry(item["id"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
            cursor = page["next_cursor"].as_str().unwrap().to_string();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (seen, cursor)
    };
    let (created, (seen, cursor)) = tokio::join!(futures::future::join_all(writers), poller);
    let created: Vec<String> = created.into_iter().flatten().collect();
    assert_eq!(created.len(), WRITERS * PER_WRITER);
    for id in &created {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "{backend:?}: photo {id} seen {:?} times",
            seen.get(id)
        );
    }
    assert_eq!(
        seen.len(),
        created.len(),
        "{backend:?}: saw photos nobody made"
    );
    // Nothing changed since: the next poll is empty and keeps the cursor.
    let again = changes(&app, owner, &cursor).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["next_cursor"], cursor.as_str());
    assert_eq!(again["has_more"], false);
}

#[tokio::test]
async fn concurrent_changes_are_seen_once_each_on_every_database() {
    for backend in backends() {
        poll_while_writers_write(&backend).await;
    }
}

#[tokio::test]
async fn pages_follow_one_another_and_cursors_are_checked() {
    let app = spawn(&Backend::Embedded, None).await;
    let names: Vec<String> = (0..7).map(|n| format!("IMG_{n:04}")).collect();
    let photos: Vec<(&str, &str, u64)> = names
        .iter()
        .map(|n| (n.as_str(), "image/png", 500))
        .collect();
    let (status, body) = ask(&app, "paged", &photos).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = app.token("paged", &[]);
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        let (status, page) = app
            .get_json(
                &token,
                &format!("/v1/meal-photos?changed_since={cursor}&limit=3"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["device_photo_id"].as_str().unwrap().to_string());
        }
        cursor = page["next_cursor"].as_str().unwrap().to_string();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, names, "in the order they changed, each once");
    let (status, page) = app
        .get_json(&token, "/v1/meal-photos?changed_since=0&status=done")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "none is done");
    for bad in [
        "changed_since=yesterday",
        "changed_since=-1",
        "limit=0",
        "limit=501",
        "status=eaten",
    ] {
        let (status, problem) = app
            .get_json(&token, &format!("/v1/meal-photos?{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert!(problem["detail"].as_str().is_some(), "{problem}");
    }
}
