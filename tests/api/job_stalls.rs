//! The stall watchdog: a worker that stops heartbeating while its queue has due jobs is named
//! by `/readyz`, counted in `/metrics`, and restarted, on every backend.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sous::platform::jobs::{Job, JobContext, JobError, Queue};

use crate::helpers::{TestApp, backends, eventually};

/// Blocks its worker's thread, as CPU work run outside the blocking pool would: the worker can
/// neither heartbeat nor fetch until it returns.
#[derive(Debug, Serialize, Deserialize)]
struct BlockTheThread {
    millis: u64,
}

impl Job for BlockTheThread {
    const KIND: &'static str = "test.block-the-thread";
    const QUEUE: Queue = Queue::new("stalls").with_concurrency(1);

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        std::thread::sleep(Duration::from_millis(self.millis));
        Ok(())
    }
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn metric(app: &TestApp, name: &str) -> String {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_worker_is_reported_and_restarted() {
    for backend in backends() {
        let app = TestApp::spawn_with(
            &backend,
            |settings| settings.jobs.stall_after = Duration::from_secs(1),
            |b| b.job::<BlockTheThread>(),
        )
        .await;
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(body["checks"]["worker:stalls"], "ok", "{backend:?}: {body}");

        let jobs = &app.platform.jobs;
        jobs.enqueue(&BlockTheThread { millis: 4000 })
            .await
            .unwrap();
        // Due, and waiting behind the blocked one.
        let waiting = BlockTheThread { millis: 0 };
        jobs.enqueue(&waiting).await.unwrap();

        let reported = eventually(Duration::from_secs(4), || async {
            let (status, body) = readyz(&app).await;
            status == 503 && body["checks"]["worker:stalls"] == "stalled"
        })
        .await;
        assert!(reported, "{backend:?}: {:?}", readyz(&app).await);
        assert_eq!(
            metric(&app, r#"sous_job_worker_stalls_total{queue="stalls"}"#).await,
            r#"sous_job_worker_stalls_total{queue="stalls"} 1"#,
            "{backend:?}"
        );
        // Once the thread is free, the restarted worker takes the waiting job.
        let recovered = eventually(Duration::from_secs(10), || async {
            app.platform.metrics.jobs_finished(BlockTheThread::QUEUE) == 2
        })
        .await;
        assert!(recovered, "{backend:?}: the waiting job never ran");
        assert_eq!(
            metric(&app, r#"sous_job_worker_restarts_total{queue="stalls"}"#).await,
            r#"sous_job_worker_restarts_total{queue="stalls"} 1"#,
            "{backend:?}"
        );
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        app.stop().await.unwrap();
    }
}
