//! Direct uploads on a local store: signed URL, streamed PUT, the storage event raised in
//! process, the owning handler called once; every refusal leaves nothing behind.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sous::platform::events::ObjectCreated;
use sous::platform::jobs::{Job, JobContext, JobError, Queue};
use sous::platform::storage::ObjectKey;
use sous::platform::uploads::{self, UploadClaims, UploadRequest, UploadTicket};

use crate::helpers::{Backend, TestApp, backends, eventually};

pub const PREFIX: &str = "test-uploads/";

/// Every event the test handler saw, by key.
static HANDLED: LazyLock<Mutex<HashMap<String, Vec<ObjectCreated>>>> =
    LazyLock::new(Default::default);

pub fn handled(key: &str) -> usize {
    HANDLED.lock().unwrap().get(key).map_or(0, Vec::len)
}

/// The module job of `test-uploads/`: records every event it is run for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    event: ObjectCreated,
}

impl From<ObjectCreated> for Record {
    fn from(event: ObjectCreated) -> Self {
        Record { event }
    }
}

impl Job for Record {
    const KIND: &'static str = "test.record-upload";
    const QUEUE: Queue = Queue::new("test-uploads");

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        HANDLED
            .lock()
            .unwrap()
            .entry(self.event.key.clone())
            .or_default()
            .push(self.event);
        Ok(())
    }
}

/// An app whose `test-uploads/` prefix starts a recording job.
pub async fn spawn(
    backend: &Backend,
    configure: impl FnOnce(&mut sous::config::Settings),
) -> TestApp {
    TestApp::spawn_with(backend, configure, |b| {
        b.on_object_created::<Record>(PREFIX)
    })
    .await
}

pub fn unique_key(name: &str) -> String {
    format!("{PREFIX}{}/{name}", uuid::Uuid::now_v7().simple())
}

async fn intent(
    app: &TestApp,
    key: &str,
    max_bytes: u64,
    expires_in: Option<Duration>,
) -> UploadTicket {
    uploads::create(
        &app.platform,
        UploadRequest {
            owner: "alice".into(),
            key: ObjectKey::parse(key).unwrap(),
            content_types: vec!["image/jpeg".into()],
            max_bytes,
            expires_in,
        },
    )
    .await
    .unwrap()
}

async fn put(
    app: &TestApp,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .put(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn stored(app: &TestApp, key: &str) -> Option<Bytes> {
    let key = ObjectKey::parse(key).unwrap();
    match app.platform.store.head(&key).await.unwrap() {
        Some(_) => Some(app.platform.store.get(&key).await.unwrap()),
        None => None,
    }
}

#[tokio::test]
async fn a_local_upload_reaches_its_handler_once() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let key = unique_key("lunch.jpg");
        let ticket = intent(&app, &key, 1024, None).await;
        assert_eq!(ticket.method, "PUT");
        assert!(
            ticket
                .upload_url
                .starts_with("http://127.0.0.1:8080/uploads/"),
            "{}",
            ticket.upload_url
        );
        assert_eq!(ticket.headers["Content-Type"], "image/jpeg");
        // The public URL is configured; the test server listens elsewhere.
        let url = ticket
            .upload_url
            .replace("http://127.0.0.1:8080", &app.address);

        let response = put(&app, &url, "image/jpeg", vec![1u8; 1024]).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{backend:?}");
        assert_eq!(stored(&app, &key).await.unwrap().len(), 1024);
        assert!(
            eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await,
            "{backend:?}"
        );
        let event = HANDLED.lock().unwrap()[&key][0].clone();
        assert_eq!(event.size, Some(1024));
        assert_eq!(event.content_type.as_deref(), Some("image/jpeg"));
        // One hop: the module's job on the module's queue, nothing on the platform's.
        let metrics = &app.platform.metrics;
        assert_eq!(metrics.jobs_finished(Record::QUEUE), 1, "{backend:?}");
        assert_eq!(metrics.jobs_finished(Queue::SYSTEM), 0, "{backend:?}");

        // A second PUT to the finished upload is refused and changes nothing.
        let again = put(&app, &url, "image/jpeg", vec![2u8; 10]).await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let problem: serde_json::Value = again.json().await.unwrap();
        assert_eq!(problem["code"], "upload_finished");
        assert_eq!(stored(&app, &key).await.unwrap().len(), 1024);

        // Reconciliation later finds nothing to raise again.
        uploads::reconcile(app.platform.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(handled(&key), 1, "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn local_uploads_enforce_type_size_expiry_and_signature() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let local = |ticket: &UploadTicket| {
        ticket
            .upload_url
            .replace("http://127.0.0.1:8080", &app.address)
    };

    // Wrong type: 415, nothing stored, the intent still usable.
    let key = unique_key("a.jpg");
    let url = local(&intent(&app, &key, 100, None).await);
    let response = put(&app, &url, "image/png", vec![0u8; 10]).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("image/jpeg"));
    assert!(stored(&app, &key).await.is_none());

    // One byte over, declared: 413 before reading.
    assert_eq!(
        put(&app, &url, "image/jpeg", vec![0u8; 101]).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // One byte over, streamed without a length: 413 while reading, and no object.
    let chunks = futures::stream::iter([
        Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 60])),
        Ok(Bytes::from(vec![0u8; 41])),
    ]);
    let response = put(&app, &url, "image/jpeg", reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(stored(&app, &key).await.is_none());
    // Exactly at the limit, streamed: accepted.
    let chunks = futures::stream::iter([
        Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 60])),
        Ok(Bytes::from(vec![0u8; 40])),
    ]);
    let response = put(&app, &url, "image/jpeg", reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(stored(&app, &key).await.unwrap().len(), 100);

    // Forged: the terms changed after signing.
    let key = unique_key("b.jpg");
    let ticket = intent(&app, &key, 100, None).await;
    let token = ticket.upload_url.rsplit('/').next().unwrap();
    let (body, signature) = token.split_once('.').unwrap();
    let tampered = format!("{}x.{signature}", body);
    let response = put(
        &app,
        &app.url(&format!("/uploads/{tampered}")),
        "image/jpeg",
        vec![0u8; 1],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "forbidden");

    // A validly signed token naming another owner for this intent.
    let claims = UploadClaims {
        intent: ticket.intent_id.clone(),
        key: key.clone(),
        owner: "mallory".into(),
        content_types: vec!["image/jpeg".into()],
        max_bytes: 100,
        expires_at: chrono::Utc::now().timestamp() + 60,
    };
    let foreign = app.platform.upload_signer.sign(&claims);
    let response = put(
        &app,
        &app.url(&format!("/uploads/{foreign}")),
        "image/jpeg",
        vec![0u8; 1],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(stored(&app, &key).await.is_none());

    // Expired.
    let key = unique_key("c.jpg");
    let url = local(&intent(&app, &key, 100, Some(Duration::from_secs(1))).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = put(&app, &url, "image/jpeg", vec![0u8; 1]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "upload_expired");
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_body_that_breaks_off_leaves_nothing_and_can_be_retried() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let key = unique_key("broken.jpg");
    let ticket = intent(&app, &key, 1 << 20, None).await;
    let url = ticket
        .upload_url
        .replace("http://127.0.0.1:8080", &app.address);
    let chunks = futures::stream::iter([
        Ok(Bytes::from(vec![0u8; 1000])),
        Err(std::io::Error::other("the phone went into a tunnel")),
    ]);
    let broken = app
        .client
        .put(&url)
        .header("content-type", "image/jpeg")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    assert!(broken.is_err() || !broken.unwrap().status().is_success());
    assert!(
        eventually(Duration::from_secs(3), || async {
            stored(&app, &key).await.is_none()
        })
        .await
    );
    // The intent went back to pending: the client can try again.
    assert!(
        eventually(Duration::from_secs(3), || async {
            uploads::find(&app.platform.db, &ticket.intent_id)
                .await
                .unwrap()
                .unwrap()
                .status
                == uploads::IntentStatus::Pending
        })
        .await
    );
    assert_eq!(
        put(&app, &url, "image/jpeg", vec![9u8; 2000])
            .await
            .status(),
        StatusCode::CREATED
    );
    assert!(eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await);
}

#[tokio::test]
async fn a_second_put_while_the_first_streams_is_refused() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let key = unique_key("slow.jpg");
    let ticket = intent(&app, &key, 100, None).await;
    let url = ticket
        .upload_url
        .replace("http://127.0.0.1:8080", &app.address);
    let (more, chunks) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
    more.unbounded_send(Ok(Bytes::from(vec![0u8; 10]))).unwrap();
    let first = tokio::spawn({
        let request = app
            .client
            .put(&url)
            .header("content-type", "image/jpeg")
            .body(reqwest::Body::wrap_stream(chunks));
        async move { request.send().await.unwrap().status() }
    });
    assert!(
        eventually(Duration::from_secs(3), || async {
            uploads::find(&app.platform.db, &ticket.intent_id)
                .await
                .unwrap()
                .unwrap()
                .status
                == uploads::IntentStatus::Uploading
        })
        .await
    );
    let second = put(&app, &url, "image/jpeg", vec![1u8; 10]).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let problem: serde_json::Value = second.json().await.unwrap();
    assert_eq!(problem["code"], "upload_in_progress");
    drop(more);
    assert_eq!(first.await.unwrap(), StatusCode::CREATED);
    assert_eq!(stored(&app, &key).await.unwrap().len(), 10);
}

#[tokio::test]
async fn reconciliation_raises_a_dropped_event_and_expires_what_never_came() {
    for backend in backends() {
        let app = spawn(&backend, |s| s.uploads.reconcile_after = Duration::ZERO).await;
        // The object arrives by a path that raises no event (a lost notification).
        let key = unique_key("dropped.jpg");
        intent(&app, &key, 100, None).await;
        app.platform
            .store
            .put(
                &ObjectKey::parse(&key).unwrap(),
                Bytes::from_static(b"jpeg"),
            )
            .await
            .unwrap();
        // One that never arrives, already expired.
        let never = unique_key("never.jpg");
        let ticket = intent(&app, &never, 100, Some(Duration::from_secs(1))).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;

        uploads::reconcile(app.platform.clone()).await.unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await,
            "{backend:?}"
        );
        let expired = uploads::find(&app.platform.db, &ticket.intent_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(expired.status, uploads::IntentStatus::Expired);

        // A late notification for the same upload, and another reconciliation: still once.
        uploads::reconcile(app.platform.clone()).await.unwrap();
        let late = ObjectCreated {
            bucket: app.platform.store.bucket().to_string(),
            key: key.clone(),
            version: "late-sequencer".into(),
            size: Some(4),
            content_type: None,
        };
        let outcome = uploads::deliver(&app.platform, late).await.unwrap();
        assert!(
            matches!(outcome, sous::platform::events::Outcome::Duplicate { .. }),
            "{outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(handled(&key), 1, "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn intents_refuse_unrouted_prefixes_and_taken_keys() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let request = |key: &str| UploadRequest {
        owner: "alice".into(),
        key: ObjectKey::parse(key).unwrap(),
        content_types: vec!["application/zip".into()],
        max_bytes: 10,
        expires_in: None,
    };
    let err = uploads::create(&app.platform, request("nobody-owns/x.zip"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no module"), "{err}");
    let key = unique_key("x.zip");
    uploads::create(&app.platform, request(&key)).await.unwrap();
    let err = uploads::create(&app.platform, request(&key))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

/// The same path on an S3-compatible server: a presigned PUT straight to the bucket, then the
/// S3 notification posted as S3 would, and the handler called once.
#[tokio::test]
async fn an_s3_upload_through_a_presigned_url() {
    if let Ok(endpoint) = std::env::var("SOUS_TEST_S3_UPLOAD_CHILD") {
        let app = spawn(&Backend::Embedded, |s| {
            s.store_url = "s3://sous-uploads/media".into();
            s.s3 = crate::helpers::Moto::s3_settings(&endpoint);
            s.events.token = Some("t0ken".to_string().into());
        })
        .await;
        let key = unique_key("from phone.jpg");
        let ticket = uploads::create(
            &app.platform,
            UploadRequest {
                owner: "alice".into(),
                key: ObjectKey::parse(&key).unwrap(),
                content_types: vec!["image/jpeg".into()],
                max_bytes: 4096,
                expires_in: Some(Duration::from_secs(300)),
            },
        )
        .await
        .unwrap();
        assert!(
            ticket.upload_url.starts_with(&endpoint),
            "{}",
            ticket.upload_url
        );
        assert!(
            ticket.upload_url.contains("X-Amz-Signature="),
            "{}",
            ticket.upload_url
        );
        let mut put = app.client.put(&ticket.upload_url).body(vec![7u8; 2048]);
        for (name, value) in &ticket.headers {
            put = put.header(name, value);
        }
        let response = put.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        // The bytes went to the bucket, under the store's prefix, not through sous.
        assert_eq!(stored(&app, &key).await.unwrap().len(), 2048);

        let notification = serde_json::json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": "sous-uploads"},
                "object": {"key": format!("media/{}", key.replace(' ', "+")), "size": 2048, "sequencer": "0A1"}
            }
        }]});
        for _ in 0..2 {
            let response = app
                .client
                .post(app.url("/v1/storage-events?token=t0ken"))
                .json(&notification)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        assert!(eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(handled(&key), 1);

        // S3 cannot bound a presigned PUT's size: one over the limit is deleted on its event.
        let big = unique_key("too big.jpg");
        let request = UploadRequest {
            owner: "alice".into(),
            key: ObjectKey::parse(&big).unwrap(),
            content_types: vec!["image/jpeg".into()],
            max_bytes: 4096,
            expires_in: None,
        };
        let ticket = uploads::create(&app.platform, request).await.unwrap();
        let response = app
            .client
            .put(&ticket.upload_url)
            .header("content-type", "image/jpeg")
            .body(vec![1u8; 4097])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let mut notification = notification.clone();
        notification["Records"][0]["s3"]["object"] = serde_json::json!({"key": format!("media/{}", big.replace(' ', "+")), "size": 4097, "sequencer": "0B1"});
        let body: serde_json::Value = app
            .client
            .post(app.url("/v1/storage-events?token=t0ken"))
            .json(&notification)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["results"][0]["outcome"], "rejected");
        assert!(stored(&app, &big).await.is_none());
        assert_eq!(
            uploads::find(&app.platform.db, &ticket.intent_id)
                .await
                .unwrap()
                .unwrap()
                .status,
            uploads::IntentStatus::Rejected
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(handled(&big), 0);
        return;
    }
    let Some(moto) = crate::helpers::Moto::start("sous-uploads").await else {
        return;
    };
    moto.run_child(
        "uploads::an_s3_upload_through_a_presigned_url",
        "SOUS_TEST_S3_UPLOAD_CHILD",
    );
}
