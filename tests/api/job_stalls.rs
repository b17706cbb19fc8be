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
    app.metrics()
        .await
        .lines()
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

/// Runs of each [`Slow`] job, by token.
static SLOW_RUNS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, u32>>> =
    std::sync::LazyLock::new(Default::default);

/// Longer than the stall and orphan timeouts of the test below.
const SLOW: Duration = Duration::from_millis(3500);

/// A job that takes [`SLOW`], without blocking its thread.
#[derive(Debug, Serialize, Deserialize)]
struct Slow {
    token: String,
}

impl Job for Slow {
    const KIND: &'static str = "test.slow";
    const QUEUE: Queue = Queue::new("slow").with_concurrency(1);

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        tokio::time::sleep(SLOW).await;
        *SLOW_RUNS.lock().unwrap().entry(self.token).or_default() += 1;
        Ok(())
    }
}

/// apalis sends no heartbeat while jobs a worker fetched wait for a free slot: a worker that
/// fetched more than it could start would look dead to the watchdog and to its peers, which
/// would run its jobs a second time. Workers fetch one job at a time, so a busy worker with
/// jobs queued behind its slow one stays alive to both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_worker_with_jobs_queued_behind_it_is_neither_stalled_nor_orphaned() {
    for backend in backends() {
        let short = |settings: &mut sous::config::Settings| {
            settings.jobs.stall_after = Duration::from_secs(1);
            settings.jobs.orphan_after = Duration::from_secs(3);
        };
        let app = TestApp::spawn_with(&backend, short, |b| b.job::<Slow>()).await;
        let peer_settings = sous::config::Settings {
            roles: "worker".parse().unwrap(),
            ..(*app.platform.settings).clone()
        };
        let peer = TestApp::start(
            peer_settings,
            |b| b.job::<Slow>(),
            tempfile::tempdir().unwrap(),
        )
        .await;
        let tokens: Vec<String> = (0..4).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        for token in &tokens {
            let job = Slow {
                token: token.clone(),
            };
            app.platform.jobs.enqueue(&job).await.unwrap();
        }
        let all_ran = || {
            let runs = SLOW_RUNS.lock().unwrap();
            tokens.iter().all(|token| runs.contains_key(token))
        };
        while !all_ran() {
            let (status, body) = readyz(&app).await;
            assert_eq!(status, 200, "{backend:?}: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A job taken over by the peer would finish a second time within one run's length.
        tokio::time::sleep(SLOW + Duration::from_millis(500)).await;
        let runs = SLOW_RUNS.lock().unwrap().clone();
        for token in &tokens {
            assert_eq!(runs[token], 1, "{backend:?}: ran {} times", runs[token]);
        }
        assert_eq!(
            metric(&app, r#"sous_job_worker_stalls_total{queue="slow"}"#).await,
            "",
            "{backend:?}"
        );
        peer.stop().await.unwrap();
        app.stop().await.unwrap();
    }
}
