//! Labels over HTTP on every backend: printing to a fake network printer, retries against a
//! dead one, dry runs, batches, the print log and its owners, templates, rendering, the CLI.

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

async fn get_json(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
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
        let job = get_json(app, token, path).await.1;
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

#[tokio::test]
async fn the_printer_receives_exactly_the_rendered_bytes() {
    for backend in backends() {
        let printer = FakePrinter::start().await;
        let app = spawn(&backend, printer.port).await;
        let alice = app.token("alice", &[]);
        let label = order_item("北海道産 じゃがいも");
        let expected = escpos(&app, &alice, &label).await;
        assert!(expected.starts_with(b"\x1b@"), "{backend:?}");

        let (status, job, location) =
            post_print_job(&app, &alice, &with(label, json!({"printer": "dock"}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();
        assert_eq!(location, format!("/v1/print-jobs/{id}"));
        assert_eq!(job["status"], "queued");
        assert_eq!(job["owner"], "alice");
        assert_eq!(job["label_count"], 1);
        assert_eq!(
            job["links"]["preview"],
            format!("/v1/print-jobs/{id}/preview")
        );
        assert!(
            stored(&app, id).await,
            "{backend:?}: bytes stored before queueing"
        );

        let job = wait_for(&app, id, |job| job["status"] == "printed").await;
        assert_eq!(job["attempts"], 1, "{backend:?}");
        assert_eq!(job["error"], Value::Null);
        assert_eq!(printer.received(), [expected], "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_dead_printer_is_retried_then_the_job_fails_with_the_reason() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let body = with(tree("届かない"), json!({"printer": "dock"}));
        let (status, job, _) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();

        let retrying = wait_for(&app, id, |job| {
            job["attempts"] == 1 && job["error"].is_string()
        })
        .await;
        assert_eq!(
            retrying["status"], "queued",
            "{backend:?}: waits for its retry"
        );
        let failed = wait_for(&app, id, |job| job["status"] == "failed").await;
        assert_eq!(failed["attempts"], 2, "{backend:?}: max_attempts is 2");
        assert_eq!(
            failed["error"], "cannot connect to printer `dock`: connection refused",
            "{backend:?}"
        );

        // The job marks its print failed before the runner records the dead letter.
        let admin = app.admin_token();
        let dead_letters = || async {
            let (_, dead) = get_json(&app, &admin, "/v1/admin/jobs?queue=print").await;
            dead["items"].as_array().unwrap().clone()
        };
        eventually(Duration::from_secs(10), || async {
            !dead_letters().await.is_empty()
        })
        .await;
        let dead = dead_letters().await;
        assert_eq!(dead.len(), 1, "{backend:?}: {dead:?}");
        assert_eq!(dead[0]["kind"], "labels.print");
        assert_eq!(dead[0]["payload"]["print_job_id"], id);
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_dry_run_lists_substitutions_per_label_and_prints_nothing() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let body = json!({"labels": [tree("そのまま"), order_item("じゃがいも〜𠮷田農園")], "dry_run": true});
        let (status, job, location) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();
        assert_eq!(location, format!("/v1/print-jobs/{id}"));
        assert_eq!(job["status"], "dry_run");
        assert_eq!(job["dry_run"], true);
        assert_eq!(job["printer"], Value::Null);
        let substitutions: Vec<_> = job["substitutions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["label"].as_u64().unwrap(),
                    s["original"].as_str().unwrap(),
                    s["replacement"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            substitutions,
            [(1, "〜", "～"), (1, "𠮷", "吉")],
            "{backend:?}"
        );
        assert!(
            job["substitutions"][0]["path"]
                .as_str()
                .unwrap()
                .starts_with("/children/")
        );

        let response = app
            .client
            .get(app.url(&format!("/v1/print-jobs/{id}/preview")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("じゃがいも～吉田農園"), "{html}");
        assert!(
            !stored(&app, id).await,
            "{backend:?}: a dry run stores no bytes"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, job) = get_json(&app, &alice, &format!("/v1/print-jobs/{id}")).await;
        assert_eq!(
            (job["status"].as_str(), job["attempts"].as_u64()),
            (Some("dry_run"), Some(0))
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_batch_prints_in_order() {
    for backend in backends() {
        let printer = FakePrinter::start().await;
        let app = spawn(&backend, printer.port).await;
        let alice = app.token("alice", &[]);
        let labels = [tree("一枚目"), order_item("二枚目の品"), tree("三枚目〜")];
        let mut expected = Vec::new();
        for label in &labels {
            expected.extend(escpos(&app, &alice, label).await);
        }
        let body = json!({"labels": labels, "printer": "dock"});
        let (status, job, _) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        assert_eq!(job["label_count"], 3);
        assert_eq!(job["substitutions"][0]["label"], 2);
        let id = job["id"].as_str().unwrap();
        wait_for(&app, id, |job| job["status"] == "printed").await;
        assert_eq!(
            printer.received(),
            [expected],
            "{backend:?}: one stream, in order"
        );

        let preview = app
            .client
            .get(app.url(&format!("/v1/print-jobs/{id}/preview")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = |text: &str| {
            preview
                .find(text)
                .unwrap_or_else(|| panic!("{text} missing"))
        };
        assert!(at("一枚目") < at("二枚目の品") && at("二枚目の品") < at("三枚目"));
        app.stop().await.unwrap();
    }
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

#[tokio::test]
async fn bad_print_jobs_are_400s_naming_the_field() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let dry = json!({"dry_run": true});

        let mut data = order_item::example();
        data["delivery_slot"]["start"] = json!("ten");
        let body = with(json!({"template": "order-item", "data": data}), dry.clone());
        let problem = rejected(&app, &alice, &body).await;
        assert_eq!(
            fields(&problem),
            ["/data/delivery_slot/start"],
            "{backend:?}"
        );
        assert_eq!(problem["code"], "label_invalid");

        let bad_tree = json!({"tree": {"type": "sheet", "width_dots": 384, "columns": 32, "children": [
            {"type": "rule"}, {"type": "size", "width": 0, "height": 1, "children": []}
        ]}});
        let problem = rejected(&app, &alice, &with(bad_tree.clone(), dry.clone())).await;
        assert_eq!(fields(&problem), ["/tree/children/1"]);
        assert_eq!(problem["code"], "label_invalid");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 8")
        );

        let mut zero = order_item::example();
        zero["quantity"] = json!(0);
        let labels = json!([tree("ok"), bad_tree, {"template": "order-item", "data": zero}]);
        let problem = rejected(&app, &alice, &json!({"labels": labels, "dry_run": true})).await;
        assert_eq!(
            fields(&problem),
            ["/labels/1/tree/children/1", "/labels/2/data/quantity"]
        );
        assert_eq!(problem["code"], "label_invalid");

        let problem = rejected(&app, &alice, &with(tree("a"), json!({"printer": "office"}))).await;
        assert_eq!(fields(&problem), ["/printer"]);
        assert_eq!(problem["code"], "printer_unknown");
        assert!(
            problem["detail"].as_str().unwrap().contains("`dock`"),
            "{problem}"
        );
        let problem = rejected(&app, &alice, &tree("a")).await;
        assert_eq!(fields(&problem), ["/printer"], "printing needs a printer");
        assert_eq!(problem["code"], "invalid_request");

        let batch = |n: usize| json!({"labels": vec![tree("a"); n], "dry_run": true});
        let problem = rejected(&app, &alice, &batch(501)).await;
        assert_eq!(fields(&problem), ["/labels"]);
        assert_eq!(problem["code"], "invalid_request");
        assert!(problem["detail"].as_str().unwrap().contains("1 to 500"));
        let (status, job, _) = post_print_job(&app, &alice, &batch(500)).await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {job}");
        assert_eq!(job["label_count"], 500);

        let problem = rejected(&app, &alice, &with(tree("a"), json!({"copies": 2}))).await;
        assert_eq!(problem["code"], "invalid_json");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn print_jobs_belong_to_their_owner() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let (alice, bob, admin) = (
            app.token("alice", &[]),
            app.token("bob", &[]),
            app.admin_token(),
        );
        let dry_run = with(tree("a"), json!({"dry_run": true}));
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                post_print_job(&app, &alice, &dry_run).await.1["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let (_, bobs, _) = post_print_job(&app, &bob, &dry_run).await;

        let alices = format!("/v1/print-jobs/{}", ids[0]);
        assert_eq!(get_json(&app, &alice, &alices).await.0, 200, "{backend:?}");
        assert_eq!(get_json(&app, &admin, &alices).await.0, 200);
        let (status, body) = get_json(&app, &bob, &alices).await;
        assert_eq!(status, 404, "{backend:?}: someone else's job looks missing");
        assert_eq!(body["detail"], format!("no print job with id {}", ids[0]));
        assert_eq!(
            get_json(&app, &bob, &format!("{alices}/preview")).await.0,
            404
        );
        assert_eq!(get_json(&app, &bob, "/v1/print-jobs/nope").await.0, 404);

        // Newest first, a page at a time.
        let (_, page) = get_json(&app, &alice, "/v1/print-jobs?limit=2").await;
        let page_ids: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap())
            .collect();
        assert_eq!(page_ids, [ids[2].as_str(), ids[1].as_str()], "{backend:?}");
        let next = page["next"].as_str().unwrap();
        let (_, page) = get_json(
            &app,
            &alice,
            &format!("/v1/print-jobs?limit=2&after={next}"),
        )
        .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id"], ids[0].as_str());
        assert_eq!(page["next"], Value::Null);

        let (status, _) = get_json(&app, &bob, "/v1/print-jobs?owner=alice").await;
        assert_eq!(status, 403);
        let (_, all) = get_json(&app, &admin, "/v1/print-jobs").await;
        assert_eq!(all["items"].as_array().unwrap().len(), 4);
        let (_, only_bob) = get_json(&app, &admin, "/v1/print-jobs?owner=bob").await;
        assert_eq!(only_bob["items"][0]["id"], bobs["id"]);
        assert_eq!(only_bob["items"].as_array().unwrap().len(), 1);
        let (status, body) = get_json(&app, &alice, "/v1/print-jobs?after=yesterday").await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (400, Some("invalid_query"))
        );
        assert!(
            body["detail"].as_str().unwrap().contains("not a cursor"),
            "{body}"
        );

        for (method, path) in [
            ("POST", "/v1/print-jobs"),
            ("GET", "/v1/print-jobs"),
            ("GET", alices.as_str()),
            ("GET", &format!("{alices}/preview")),
            ("POST", "/v1/labels/render?format=text"),
        ] {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&tree("a"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path}");
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn every_template_example_renders_in_every_format() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let token = app.token("designer", &[]);
        let response = app
            .client
            .get(app.url("/v1/labels/templates"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "templates are public");
        let list: Value = response.json().await.unwrap();
        let templates = list["items"].as_array().unwrap();
        assert_eq!(templates.len(), 2);
        let has_font = sous::labels::FONT_CANDIDATES
            .iter()
            .any(|path| std::path::Path::new(path).is_file());
        for template in templates {
            let name = template["name"].as_str().unwrap();
            assert!(!template["description"].as_str().unwrap().is_empty());
            let label = json!({"template": name, "data": template["example"]});
            for (format, content_type) in [
                ("escpos", "application/octet-stream"),
                ("html", "text/html; charset=utf-8"),
                ("pdf", "application/pdf"),
                ("text", "text/plain; charset=utf-8"),
            ] {
                let response = render(&app, &token, format, &label).await;
                if format == "pdf" && !has_font {
                    let (status, body) = problem(response).await;
                    assert_eq!(status, 503, "{name}: PDF without a font");
                    assert_eq!(body["code"], "pdf_font_missing");
                    continue;
                }
                assert_eq!(response.status(), 200, "{backend:?}: {name} {format}");
                assert_eq!(response.headers()["content-type"], content_type);
                assert_eq!(response.headers()["x-label-substitutions"], "0");
                let bytes = response.bytes().await.unwrap();
                match format {
                    "pdf" => assert!(bytes.starts_with(b"%PDF-")),
                    "text" => {
                        let golden =
                            std::fs::read(format!("tests/fixtures/labels/{name}.txt")).unwrap();
                        assert_eq!(bytes, golden, "{name}");
                    }
                    _ => assert!(!bytes.is_empty()),
                }
            }
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn render_rejects_unknown_formats_and_bad_labels() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let token = app.token("designer", &[]);
        let (status, body) = problem(render(&app, &token, "jpeg", &tree("a")).await).await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "invalid_query");
        assert_eq!(fields(&body), ["format"]);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("escpos, html, pdf, text")
        );
        let response = app
            .client
            .post(app.url("/v1/labels/render"))
            .bearer_auth(&token)
            .json(&tree("a"))
            .send()
            .await
            .unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str(), fields(&body)),
            (400, Some("invalid_query"), vec!["format"]),
            "the format is required"
        );

        let label = json!({"tree": {"type": "sheet", "width_dots": 384, "columns": 32, "children": [{"type": "blink"}]}});
        let (status, body) = problem(render(&app, &token, "text", &label).await).await;
        assert_eq!(
            (status.as_u16(), fields(&body)),
            (400, vec!["/tree/children/0"])
        );
        assert_eq!(body["code"], "label_invalid");

        let response = render(&app, &token, "text", &order_item("〜")).await;
        assert_eq!(response.headers()["x-label-substitutions"], "1");

        let response = app
            .client
            .get(app.url("/v1/labels/render"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        let response = app
            .client
            .delete(app.url("/v1/print-jobs"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        app.stop().await.unwrap();
    }
}

#[test]
fn the_cli_renders_a_template_to_html_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("order.json");
    std::fs::write(&data, order_item::example().to_string()).unwrap();
    let sous = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sous"));
        command.current_dir(dir.path()).env("SOUS_LOG", "warn");
        command
    };

    let output = sous()
        .args([
            "labels",
            "render",
            "--template",
            "order-item",
            "--data",
            "order.json",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let label =
        sous::labels::templates::render_template("order-item", order_item::example()).unwrap();
    let expected = sous::labels::render(&label, sous::labels::Format::Html)
        .unwrap()
        .bytes;
    assert_eq!(output.stdout, expected);

    std::fs::write(dir.path().join("tree.json"), tree("〜")["tree"].to_string()).unwrap();
    let output = sous()
        .args([
            "labels",
            "render",
            "--tree",
            "tree.json",
            "--format",
            "text",
            "--output",
            "label.txt",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("label.txt")).unwrap(),
        "～\n--- partial cut ---\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`〜` at /children/0 (character 0) prints as `～`"),
        "{stderr}"
    );

    let output = sous()
        .args([
            "labels",
            "render",
            "--template",
            "pallet",
            "--data",
            "order.json",
            "--format",
            "text",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown template `pallet`, expected one of: order-item, shipping-box"),
        "{stderr}"
    );

    assert!(
        !dir.path().join("data").exists(),
        "no database, no signing key"
    );
}
