//! The HTTP platform: problem+json for every error, auth, request ids, metrics, OpenAPI.

use actix_web::{HttpResponse, web};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

async fn problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["code"], code);
    assert_eq!(body["type"], format!("urn:sous:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

#[tokio::test]
async fn errors_are_problem_json() {
    let app = TestApp::spawn_with(
        &Backend::Embedded,
        |s| s.max_body_bytes = 64,
        |b| {
            b.routes(|cfg| {
                cfg.route(
                    "/echo",
                    web::post().to(|body: web::Json<Value>| async move {
                        HttpResponse::Ok().json(body.0)
                    }),
                );
            })
        },
    )
    .await;
    let c = &app.client;
    let admin = app.admin_token();

    let body = problem(
        c.get(app.url("/no/such/route")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("/no/such/route"));

    let body = problem(
        c.delete(app.url("/healthz")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("DELETE"));

    let body = problem(
        c.get(app.url("/v1/admin/jobs?limit=abc"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");

    let body = problem(
        c.get(app.url("/v1/admin/jobs?queue=soup"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "queue");

    // JSON bodies: exactly at the configured size accepted, one byte over refused.
    let at_limit = format!("\"{}\"", "x".repeat(62));
    let over = format!("\"{}\"", "x".repeat(63));
    let post = |body: String| {
        c.post(app.url("/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(post(at_limit).await.unwrap().status(), StatusCode::OK);
    let body = problem(
        post(over).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("64 bytes"),
        "{body}"
    );

    let body = problem(
        post("{\"a\": ".into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("EOF"), "{body}");
    let wrong_type = c
        .post(app.url("/echo"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn auth_tells_401_from_403() {
    let app = TestApp::spawn(&Backend::Embedded).await;
    let c = &app.client;
    let url = app.url("/v1/admin/jobs");

    let response = c.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let body = problem(
        c.get(&url).bearer_auth("not-a-jwt").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(body["detail"], "the token is malformed");

    let user = app.token("alice", &["print"]);
    let body = problem(
        c.get(&url).bearer_auth(&user).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("admin"));

    let response = c
        .get(&url)
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = TestApp::spawn(&Backend::Embedded).await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "not a good id")
        .send()
        .await
        .unwrap();
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::spawn(&Backend::Embedded).await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.client.get(app.url("/nothing/42")).send().await.unwrap();
    let text = app.metrics().await;
    assert!(
        text.contains(r#"sous_http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    // Unmatched paths share one label value instead of one per path.
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("sous_queue_depth{queue=\"system\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_describes_every_v1_endpoint() {
    let app = TestApp::spawn(&Backend::Embedded).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/admin/jobs",
        "/v1/admin/jobs/{id}/retry",
        "/v1/admin/jobs/probe",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Every documented path is a real route: none answers 404 to its documented method.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = app.url(&path.replace("{id}", "00000000-0000-0000-0000-000000000000"));
            let request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), url)
                .bearer_auth(app.admin_token());
            let response = request.send().await.unwrap();
            let body: Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["detail"].as_str().map(|d| d.starts_with("no route")),
                Some(true),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn every_list_parses_its_cursor_and_page_size() {
    let app = TestApp::spawn(&Backend::Embedded).await;
    let token = app.admin_token();
    for list in ["/v1/images", "/v1/print-jobs", "/v1/admin/jobs"] {
        let bad_cursor = app
            .client
            .get(app.url(&format!("{list}?after=' OR 1=1 --")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let body = problem(bad_cursor, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert!(
            body["detail"].as_str().unwrap().contains("not a cursor"),
            "{list}: {body}"
        );
        for (limit, status) in [("500", StatusCode::OK), ("501", StatusCode::BAD_REQUEST)] {
            let response = app
                .client
                .get(app.url(&format!(
                    "{list}?limit={limit}&after={}",
                    uuid::Uuid::now_v7()
                )))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{list}?limit={limit}");
            if status == StatusCode::OK {
                let page: Value = response.json().await.unwrap();
                assert_eq!(page["items"], serde_json::json!([]), "{list}");
                assert_eq!(page["next"], Value::Null, "{list}");
            }
        }
    }
}
