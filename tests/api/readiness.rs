//! Readiness follows the dependencies: a Redis that stops turns /readyz into a 503 naming it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, TestApp, eventually, free_port, required};

struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    /// A private redis-server on a spare port, so stopping it disturbs no one else.
    async fn start() -> Option<RedisServer> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if required() => panic!("redis-server cannot start: {e}"),
            Err(e) => {
                eprintln!("note: redis-server unavailable ({e}); skipping");
                return None;
            }
        };
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).unwrap();
        let up = eventually(Duration::from_secs(5), || async {
            client.get_multiplexed_async_connection().await.is_ok()
        })
        .await;
        assert!(up, "redis-server did not come up on {port}");
        Some(RedisServer { child, url })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn readiness_turns_503_when_redis_stops() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let app = TestApp::spawn(&Backend::Redis(redis.url.clone())).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["cache"], "ok");
    assert_eq!(body["checks"]["queue"], "ok");

    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert_ne!(body["checks"]["cache"], "ok", "{body}");
    assert_ne!(body["checks"]["queue"], "ok", "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["store"], "ok");
    assert!(body["detail"].as_str().unwrap().contains("cache"), "{body}");
    // Liveness does not depend on Redis.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
