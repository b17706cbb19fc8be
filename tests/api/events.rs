//! `POST /v1/storage-events`: the real payload shapes of S3, SNS and Pub/Sub, authentication,
//! signatures, duplicates, order, and bad input that queues nothing.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backends, eventually};
use crate::uploads::{PREFIX, handled, spawn, unique_key};

const TOKEN: &str = "events-secret-for-tests";
const CERT_URL: &str = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The AWS documentation's example notification, about `key` in `bucket`.
fn s3_event(bucket: &str, key: &str, version: &str) -> Value {
    let mut event = fixture("s3-object-created.json");
    let object = &mut event["Records"][0]["s3"];
    object["bucket"]["name"] = json!(bucket);
    // S3 form-encodes keys.
    object["object"]["key"] = json!(key.replace(' ', "+"));
    object["object"]["versionId"] = json!(version);
    event
}

async fn spawn_events(backend: &Backend) -> TestApp {
    spawn(backend, |s| {
        s.events.token = Some(TOKEN.to_string().into());
        s.events.sns_region = Some("us-west-2".into());
    })
    .await
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/storage-events?token={TOKEN}")))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn events_recorded(app: &TestApp) -> usize {
    use sea_orm::{EntityTrait, PaginatorTrait};
    sous::platform::events::entity::Entity::find()
        .count(&app.platform.db)
        .await
        .unwrap() as usize
}

#[tokio::test]
async fn s3_notifications_start_work_once_per_version() {
    for backend in backends() {
        let app = spawn_events(&backend).await;
        let key = unique_key("happy face.jpg");
        let response = post(&app, &s3_event("local", &key, "v1")).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["results"][0]["outcome"], "queued");
        assert_eq!(
            body["results"][0]["key"],
            key.as_str(),
            "the + in the key is a space"
        );

        // The same version again: acknowledged, nothing queued.
        let body: Value = post(&app, &s3_event("local", &key, "v1"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["results"][0]["outcome"], "duplicate");
        assert!(
            eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await,
            "{backend:?}"
        );

        // Out of order: v3 before v2. Each new version is new work; a late repeat is not.
        for version in ["v3", "v2", "v3"] {
            assert_eq!(
                post(&app, &s3_event("local", &key, version)).await.status(),
                StatusCode::OK
            );
        }
        assert!(
            eventually(Duration::from_secs(5), || async { handled(&key) == 3 }).await,
            "{backend:?}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(handled(&key), 3, "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn the_events_token_is_required() {
    let app = spawn_events(&Backend::Embedded).await;
    let event = s3_event("local", &unique_key("a.jpg"), "v1");
    let url = app.url("/v1/storage-events");
    let missing = app.client.post(&url).json(&event).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .post(format!("{url}?token=guess"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let header = app
        .client
        .post(&url)
        .header("x-sous-events-token", TOKEN)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), StatusCode::OK);

    let disabled = spawn(&Backend::Embedded, |_| {}).await;
    let response = post(&disabled, &event).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_direct_payloads_are_refused_and_queue_nothing() {
    let app = spawn_events(&Backend::Embedded).await;
    let key = unique_key("ok.jpg");
    let raw = |body: &'static str| {
        app.client
            .post(app.url(&format!("/v1/storage-events?token={TOKEN}")))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw("{\"Records\": [").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_json");
    let response = raw("{\"hello\": \"world\"}").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "storage_event_invalid");

    // A good record next to a bad one: the whole payload is refused.
    let mut mixed = s3_event("local", &key, "v1");
    let mut foreign = mixed["Records"][0].clone();
    foreign["s3"]["bucket"]["name"] = json!("someone-elses-bucket");
    mixed["Records"].as_array_mut().unwrap().push(foreign);
    let response = post(&app, &mixed).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "storage_event_invalid");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("someone-elses-bucket")
    );

    for bad_key in [
        format!("{PREFIX}../../etc/passwd"),
        format!("/{PREFIX}abs.jpg"),
    ] {
        assert_eq!(
            post(&app, &s3_event("local", &bad_key, "v1"))
                .await
                .status(),
            StatusCode::BAD_REQUEST,
            "{bad_key}"
        );
    }
    assert_eq!(events_recorded(&app).await, 0, "nothing was recorded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handled(&key), 0, "nothing was queued");

    // Oversize bodies are refused before parsing.
    let huge = json!({ "Records": [], "padding": "x".repeat(2 * 1024 * 1024) });
    assert_eq!(
        post(&app, &huge).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn what_is_not_work_is_acknowledged() {
    let app = spawn_events(&Backend::Embedded).await;
    let body: Value = post(&app, &fixture("s3-test-event.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"], json!([]));
    assert_eq!(body["ignored"][0], "s3:TestEvent");

    let mut removed = s3_event("local", &unique_key("gone.jpg"), "v1");
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    let body: Value = post(&app, &removed).await.json().await.unwrap();
    assert!(
        body["ignored"][0]
            .as_str()
            .unwrap()
            .contains("ObjectRemoved:Delete")
    );

    let body: Value = post(&app, &s3_event("local", "nobody-owns/this.jpg", "v1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"][0]["outcome"], "unrouted");
    assert_eq!(events_recorded(&app).await, 0);
}

fn pubsub(bucket: &str, key: &str, generation: &str, event_type: &str) -> Value {
    let mut push = fixture("pubsub-object-finalize.json");
    let attributes = &mut push["message"]["attributes"];
    attributes["bucketId"] = json!(bucket);
    attributes["objectId"] = json!(key);
    attributes["objectGeneration"] = json!(generation);
    attributes["eventType"] = json!(event_type);
    let resource = json!({
        "kind": "storage#object",
        "name": key,
        "bucket": bucket,
        "generation": generation,
        "contentType": "image/jpeg",
        "size": "12345",
    });
    push["message"]["data"] =
        json!(base64::engine::general_purpose::STANDARD.encode(resource.to_string()));
    push
}

#[tokio::test]
async fn pubsub_pushes_of_gcs_notifications() {
    let app = spawn_events(&Backend::Embedded).await;
    let key = unique_key("cat.jpg");
    let body: Value = post(
        &app,
        &pubsub("local", &key, "1554411188321541", "OBJECT_FINALIZE"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["results"][0]["outcome"], "queued");
    let body: Value = post(
        &app,
        &pubsub("local", &key, "1554411188321541", "OBJECT_FINALIZE"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["results"][0]["outcome"], "duplicate");
    assert!(eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await);

    // Pub/Sub redelivers on any error: what is not ours is acknowledged with the reason.
    let response = post(
        &app,
        &pubsub("someone-elses-bucket", &key, "2", "OBJECT_FINALIZE"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["ignored"][0]
            .as_str()
            .unwrap()
            .contains("someone-elses-bucket")
    );
    let body: Value = post(&app, &pubsub("local", &key, "3", "OBJECT_DELETE"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["ignored"][0]
            .as_str()
            .unwrap()
            .contains("OBJECT_DELETE")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handled(&key), 1);
}

/// A signing certificate and key made by the test, standing in for SNS's.
struct FakeSns {
    pem: String,
    key: aws_lc_rs::signature::RsaKeyPair,
    key_pem: String,
}

impl FakeSns {
    fn new() -> Self {
        let key_pair =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["sns.us-west-2.amazonaws.com".into()])
            .unwrap()
            .self_signed(&key_pair)
            .unwrap();
        FakeSns {
            pem: cert.pem(),
            key: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&key_pair.serialize_der()).unwrap(),
            key_pem: key_pair.serialize_pem(),
        }
    }

    /// Fills in SignatureVersion, SigningCertURL and Signature as SNS would.
    fn sign(&self, mut envelope: Value, version: &str) -> Value {
        envelope["SignatureVersion"] = json!(version);
        envelope["SigningCertURL"] = json!(CERT_URL);
        let message: sous::platform::events::sns::SnsMessage =
            serde_json::from_value(envelope.clone()).unwrap();
        let to_sign = message.string_to_sign();
        let signature = if version == "1" {
            self.sign_sha1(to_sign.as_bytes())
        } else {
            let mut signature = vec![0u8; self.key.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let padding = &aws_lc_rs::signature::RSA_PKCS1_SHA256;
            self.key
                .sign(padding, &rng, to_sign.as_bytes(), &mut signature)
                .unwrap();
            signature
        };
        envelope["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
        envelope
    }

    /// SHA1 signing is verification-only in aws-lc-rs, so version 1 is signed by openssl.
    fn sign_sha1(&self, data: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (key, input, output) = (
            dir.path().join("key.pem"),
            dir.path().join("in"),
            dir.path().join("sig"),
        );
        std::fs::write(&key, &self.key_pem).unwrap();
        std::fs::write(&input, data).unwrap();
        let status = std::process::Command::new("openssl")
            .args(["dgst", "-sha1", "-sign"])
            .arg(&key)
            .arg("-out")
            .arg(&output)
            .arg(&input)
            .status()
            .expect("openssl signs the SignatureVersion 1 test message");
        assert!(status.success());
        std::fs::read(output).unwrap()
    }
}

fn sns_notification(inner: &Value) -> Value {
    let mut envelope = fixture("sns-notification.json");
    envelope["Message"] = json!(inner.to_string());
    envelope
}

#[tokio::test]
async fn sns_notifications_are_verified_then_handled() {
    let sns = FakeSns::new();
    let app = spawn_events(&Backend::Embedded).await;
    app.platform
        .sns
        .trust_certificate(CERT_URL, &sns.pem)
        .await
        .unwrap();

    let key = unique_key("sns.jpg");
    for (version, object_version) in [("1", "v1"), ("2", "v2")] {
        let signed = sns.sign(
            sns_notification(&s3_event("local", &key, object_version)),
            version,
        );
        let response = post(&app, &signed).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "SignatureVersion {version}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["results"][0]["outcome"], "queued");
    }
    assert!(eventually(Duration::from_secs(5), || async { handled(&key) == 2 }).await);

    // A message changed after signing.
    let mut tampered = sns.sign(sns_notification(&s3_event("local", &key, "v9")), "2");
    tampered["Message"] = json!(s3_event("local", &unique_key("evil.jpg"), "v9").to_string());
    let response = post(&app, &tampered).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "sns_signature_invalid");
    // A certificate URL that is not an SNS host of our region.
    let mut foreign = sns.sign(sns_notification(&s3_event("local", &key, "v8")), "2");
    foreign["SigningCertURL"] = json!("https://attacker.example/cert.pem");
    let response = post(&app, &foreign).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "sns_signature_invalid");
    // The S3 test event SNS sends when notifications are first configured.
    let test_event = sns.sign(sns_notification(&fixture("s3-test-event.json")), "1");
    let body: Value = post(&app, &test_event).await.json().await.unwrap();
    assert_eq!(body["ignored"][0], "s3:TestEvent");
    assert_eq!(handled(&key), 2);
}

#[tokio::test]
async fn sns_subscriptions_are_confirmed_only_on_sns_hosts() {
    let sns = FakeSns::new();
    let app = spawn_events(&Backend::Embedded).await;
    app.platform
        .sns
        .trust_certificate(CERT_URL, &sns.pem)
        .await
        .unwrap();
    let mut confirmation = fixture("sns-subscription-confirmation.json");
    confirmation["SubscribeURL"] = json!("https://attacker.example/?Action=ConfirmSubscription");
    let response = post(&app, &sns.sign(confirmation, "1")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "storage_event_invalid");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("attacker.example"),
        "{problem}"
    );
    // Unsigned confirmations are refused before any URL is fetched.
    let mut unsigned = fixture("sns-subscription-confirmation.json");
    unsigned["SigningCertURL"] = json!(CERT_URL);
    let response = post(&app, &unsigned).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "sns_signature_invalid");
}

/// A storage-event job queued by a version before one-hop routing still reaches its module.
#[tokio::test]
async fn an_event_job_queued_before_one_hop_routing_still_reaches_its_module() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let key = unique_key("queued-before-the-upgrade.jpg");
        let event = sous::platform::events::ObjectCreated {
            bucket: app.platform.store.bucket().to_string(),
            key: key.clone(),
            version: "v1".into(),
            size: Some(3),
            content_type: None,
        };
        app.platform
            .jobs
            .enqueue(&sous::platform::events::QueuedBeforeOneHop { event })
            .await
            .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async { handled(&key) == 1 }).await,
            "{backend:?}"
        );
        app.stop().await.unwrap();
    }
}
