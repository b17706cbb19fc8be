//! The queues at a glance (`GET /v1/admin/queues`) on every backend, and discarding a dead
//! letter.

use std::time::Duration;

use serde_json::Value;
use sous::platform::jobs::QueueOverrides;

use crate::helpers::{TestApp, backends, eventually};
use crate::jobs::{Scripted, finished_runs, runs};

async fn system_queue(app: &TestApp) -> Value {
    let (status, body) = app.get_json(&app.admin_token(), "/v1/admin/queues").await;
    assert_eq!(status, 200, "{body}");
    body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "system")
        .cloned()
        .expect("the system queue is listed")
}

#[tokio::test]
async fn queues_show_waiting_scheduled_in_flight_dead_and_the_last_hour() {
    for backend in backends() {
        let app = TestApp::spawn_with(
            &backend,
            |s| {
                // A retry waits long enough to be seen scheduled.
                s.jobs.queues.insert(
                    "system".into(),
                    QueueOverrides {
                        concurrency: Some(4),
                        timeout: Some(Duration::from_secs(10)),
                        max_attempts: Some(3),
                        backoff: Some(Duration::from_secs(60)),
                        max_backoff: Some(Duration::from_secs(60)),
                    },
                );
            },
            |b| b.job::<Scripted>(),
        )
        .await;
        let flaky = Scripted::new(1);
        app.platform.jobs.enqueue(&flaky).await.unwrap();
        let doomed = Scripted {
            permanent: true,
            ..Scripted::new(0)
        };
        app.platform.jobs.enqueue(&doomed).await.unwrap();
        let slow = Scripted {
            sleep_ms: 8000,
            ..Scripted::new(0)
        };
        app.platform.jobs.enqueue(&slow).await.unwrap();

        // Counts are snapshots: a dead job stays in flight until its worker acknowledges it,
        // and the slow one waits until a worker takes it. Settled: the slow job runs, alone.
        let slow_running = || matches!(runs(&slow.token).as_slice(), [(_, None)]);
        let seen = std::sync::Mutex::new(Value::Null);
        let settled = eventually(Duration::from_secs(20), || async {
            let queue = system_queue(&app).await;
            let done = slow_running()
                && queue["waiting"] == 0
                && queue["scheduled"] == 1
                && queue["dead"] == 1
                && queue["in_flight"] == 1;
            *seen.lock().unwrap() = queue;
            done
        })
        .await;
        let seen = seen.into_inner().unwrap();
        assert!(settled, "{backend:?}: {seen}");

        assert!(
            eventually(Duration::from_secs(20), || async {
                finished_runs(&slow.token) == 1
            })
            .await
        );
        sous::platform::jobs::activity::flush(app.platform.clone())
            .await
            .unwrap();
        let queue = system_queue(&app).await;
        assert_eq!(queue["last_hour"]["succeeded"], 1, "{backend:?}: {queue}");
        assert_eq!(queue["last_hour"]["retried"], 1, "{backend:?}: {queue}");
        assert_eq!(queue["last_hour"]["dead"], 1, "{backend:?}: {queue}");
        let minutes = queue["minutes"].as_array().unwrap();
        assert_eq!(minutes.len(), 60);
        let attempts: u64 = minutes
            .iter()
            .map(|m| {
                m["succeeded"].as_u64().unwrap()
                    + m["retried"].as_u64().unwrap()
                    + m["dead"].as_u64().unwrap()
            })
            .sum();
        assert_eq!(attempts, 3, "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn jobs_without_a_worker_wait() {
    for backend in backends() {
        let app = TestApp::spawn_with(
            &backend,
            |s| s.roles = "api".parse().unwrap(),
            |b| b.job::<Scripted>(),
        )
        .await;
        for _ in 0..2 {
            app.platform.jobs.enqueue(&Scripted::new(0)).await.unwrap();
        }
        let queue = system_queue(&app).await;
        assert_eq!(queue["waiting"], 2, "{backend:?}: {queue}");
        assert_eq!(queue["in_flight"], 0, "{backend:?}: {queue}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_discarded_dead_letter_leaves_the_list_and_cannot_be_retried() {
    let backend = crate::helpers::Backend::Embedded;
    let app = TestApp::spawn_with(&backend, |_| {}, |b| b.job::<Scripted>()).await;
    let doomed = Scripted {
        permanent: true,
        ..Scripted::new(0)
    };
    let id = app.platform.jobs.enqueue(&doomed).await.unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async {
            system_queue(&app).await["dead"] == 1
        })
        .await
    );
    let discard = || {
        app.client
            .delete(app.url(&format!("/v1/admin/jobs/{id}")))
            .bearer_auth(app.admin_token())
            .send()
    };
    assert_eq!(discard().await.unwrap().status(), 204);
    assert_eq!(system_queue(&app).await["dead"], 0);
    let (_, discarded) = app
        .get_json(&app.admin_token(), "/v1/admin/jobs?state=discarded")
        .await;
    assert_eq!(discarded["items"][0]["id"], id.to_string());

    let again = discard().await.unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.unwrap()["code"],
        "job_discarded"
    );
    let retry = app
        .client
        .post(app.url(&format!("/v1/admin/jobs/{id}/retry")))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 409);

    let unknown = app
        .client
        .delete(app.url("/v1/admin/jobs/no-such-job"))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let stranger = app
        .client
        .delete(app.url(&format!("/v1/admin/jobs/{id}")))
        .bearer_auth(app.token("alice", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 403);
    app.stop().await.unwrap();
}
