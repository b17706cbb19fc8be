//! Labels over HTTP on every backend: printing to a fake network printer, retries against a
//! dead one, dry runs, batches, the print log and its owners, templates, rendering, the CLI.
//! This file holds the fake printer and the helpers the concerns below share.

mod print_jobs;
mod printing;
mod render;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sous::labels::templates::order_item;
use sous::platform::jobs::QueueOverrides;
use sous::platform::storage::ObjectKey;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::helpers::{Backend, TestApp, backends, eventually, free_port};

/// A network printer: a real TCP listener that keeps the bytes of every connection.
struct FakePrinter {
    port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl FakePrinter {
    async fn start() -> FakePrinter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let received = received.clone();
            async move {
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    let mut bytes = Vec::new();
                    socket.read_to_end(&mut bytes).await.unwrap();
                    received.lock().unwrap().push(bytes);
                }
            }
        });
        FakePrinter {
            port,
            received,
            task,
        }
    }

    fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An app whose printer `dock` listens on `printer_port`, with a quick print queue: two
/// attempts, one second apart.
async fn spawn(backend: &Backend, printer_port: u16) -> TestApp {
    TestApp::spawn_with(
        backend,
        |settings| {
            settings
                .labels
                .printers
                .insert("dock".into(), format!("127.0.0.1:{printer_port}"));
            settings.jobs.queues.insert(
                "print".into(),
                QueueOverrides {
                    concurrency: Some(2),
                    max_attempts: Some(2),
                    backoff: Some(Duration::from_secs(1)),
                    max_backoff: Some(Duration::from_secs(2)),
                    ..QueueOverrides::default()
                },
            );
        },
        |builder| builder,
    )
    .await
}

fn order_item(product_name: &str) -> Value {
    let mut data = order_item::example();
    data["product_name"] = json!(product_name);
    json!({"template": "order-item", "data": data})
}

fn tree(text: &str) -> Value {
    json!({"tree": {"type": "sheet", "width_dots": 384, "columns": 32, "children": [
        {"type": "text", "text": text}, {"type": "cut", "kind": "partial"}
    ]}})
}

fn with(mut body: Value, extra: Value) -> Value {
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// `POST /v1/print-jobs`: the status, the body and the Location header.
async fn post_print_job(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value, String) {
    let response = app
        .client
        .post(app.url("/v1/print-jobs"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, response.json().await.unwrap(), location)
}

async fn render(app: &TestApp, token: &str, format: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/labels/render?format={format}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn escpos(app: &TestApp, token: &str, label: &Value) -> Vec<u8> {
    let response = render(app, token, "escpos", label).await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

/// Polls the print job until `done` holds for it; returns it.
async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let (path, token) = (&format!("/v1/print-jobs/{id}"), &app.admin_token());
    let (last, done) = (&RefCell::new(Value::Null), &done);
    let reached = eventually(Duration::from_secs(20), || async move {
        let job = app.get_json(token, path).await.1;
        let reached = done(&job);
        *last.borrow_mut() = job;
        reached
    })
    .await;
    let last = last.take();
    assert!(reached, "print job never reached the state: {last}");
    last
}

async fn stored(app: &TestApp, id: &str) -> bool {
    let key = ObjectKey::parse(&format!("labels/print-jobs/{id}.bin")).unwrap();
    app.platform.store.head(&key).await.unwrap().is_some()
}

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    (status, response.json().await.unwrap())
}

async fn rejected(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app
        .client
        .post(app.url("/v1/print-jobs"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, problem) = problem(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
    problem
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}
