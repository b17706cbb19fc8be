//! Jobs on every backend: processed, retried with backoff, dead-lettered and re-queued, not lost
//! on shutdown, picked up across processes.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sous::config::Roles;
use sous::platform::jobs::{Job, JobContext, JobError, Queue};

use crate::helpers::{Backend, TestApp, backends, eventually, test_settings};

/// Start and end of one run.
type Run = (Instant, Option<Instant>);

/// Every run of a scripted job, by token.
static RUNS: LazyLock<Mutex<HashMap<String, Vec<Run>>>> = LazyLock::new(Default::default);

pub(crate) fn runs(token: &str) -> Vec<Run> {
    RUNS.lock().unwrap().get(token).cloned().unwrap_or_default()
}

pub(crate) fn finished_runs(token: &str) -> usize {
    runs(token).iter().filter(|(_, end)| end.is_some()).count()
}

/// A job that fails its first `fail_first` attempts (or always, if `permanent`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Scripted {
    pub(crate) token: String,
    pub(crate) fail_first: u32,
    pub(crate) permanent: bool,
    pub(crate) sleep_ms: u64,
}

impl Scripted {
    pub(crate) fn new(fail_first: u32) -> Self {
        Scripted {
            token: uuid::Uuid::now_v7().to_string(),
            fail_first,
            permanent: false,
            sleep_ms: 0,
        }
    }
}

impl Job for Scripted {
    const KIND: &'static str = "test.scripted";
    const QUEUE: Queue = Queue::SYSTEM;

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        let attempt = {
            let mut all = RUNS.lock().unwrap();
            let mine = all.entry(self.token.clone()).or_default();
            mine.push((Instant::now(), None));
            mine.len() as u32
        };
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        RUNS.lock().unwrap().get_mut(&self.token).unwrap()[attempt as usize - 1].1 =
            Some(Instant::now());
        if self.permanent {
            return Err(JobError::permanent(anyhow!("payload refers to nothing")));
        }
        if attempt <= self.fail_first {
            return Err(JobError::retry(anyhow!("flaky attempt {attempt}")));
        }
        Ok(())
    }
}

async fn spawn(backend: &Backend) -> TestApp {
    TestApp::spawn_with(backend, |_| {}, |b| b.job::<Scripted>()).await
}

async fn dead_letters(app: &TestApp, state: &str) -> Vec<Value> {
    let page: Value = app
        .client
        .get(app.url(&format!("/v1/admin/jobs?queue=system&state={state}")))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_job_runs_once() {
    for backend in backends() {
        let app = spawn(&backend).await;
        let job = Scripted::new(0);
        app.platform.jobs.enqueue(&job).await.unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async {
                finished_runs(&job.token) == 1
            })
            .await,
            "{backend:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs(&job.token).len(), 1, "{backend:?}: ran again");
        assert!(dead_letters(&app, "failed").await.is_empty());
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_failing_job_is_retried_with_exponential_backoff() {
    for backend in backends() {
        let app = spawn(&backend).await;
        let job = Scripted::new(2);
        app.platform.jobs.enqueue(&job).await.unwrap();
        assert!(
            eventually(Duration::from_secs(10), || async {
                finished_runs(&job.token) == 3
            })
            .await,
            "{backend:?}"
        );
        let starts: Vec<Instant> = runs(&job.token).iter().map(|(s, _)| *s).collect();
        let first_gap = starts[1] - starts[0];
        let second_gap = starts[2] - starts[1];
        // Backoff 1 s, then 2 s (see test_settings).
        assert!(
            first_gap >= Duration::from_secs(1),
            "{backend:?}: {first_gap:?}"
        );
        assert!(
            second_gap >= Duration::from_secs(2),
            "{backend:?}: {second_gap:?}"
        );
        assert!(
            second_gap < Duration::from_secs(5),
            "{backend:?}: {second_gap:?}"
        );
        assert!(
            dead_letters(&app, "failed").await.is_empty(),
            "{backend:?}: the third attempt succeeded"
        );
        let metrics = app.metrics().await;
        assert!(
            metrics.contains(r#"sous_jobs_total{outcome="retried",queue="system"} 2"#),
            "{metrics}"
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_dead_lettered_and_can_be_requeued() {
    for backend in backends() {
        let app = spawn(&backend).await;
        let job = Scripted::new(100);
        let id = app.platform.jobs.enqueue(&job).await.unwrap().to_string();
        assert!(
            eventually(Duration::from_secs(20), || async {
                !dead_letters(&app, "failed").await.is_empty()
            })
            .await,
            "{backend:?}"
        );
        assert_eq!(
            finished_runs(&job.token),
            3,
            "{backend:?}: max_attempts is 3"
        );
        let dead = dead_letters(&app, "failed").await;
        assert_eq!(dead[0]["id"], id);
        assert_eq!(dead[0]["attempts"], 3);
        assert_eq!(dead[0]["kind"], "test.scripted");
        assert_eq!(dead[0]["payload"]["token"], job.token.as_str());
        assert!(
            dead[0]["error"]
                .as_str()
                .unwrap()
                .contains("flaky attempt 3")
        );

        let retry = |app: &TestApp| {
            app.client
                .post(app.url(&format!("/v1/admin/jobs/{id}/retry")))
                .bearer_auth(app.admin_token())
                .send()
        };
        let response = retry(&app).await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["state"], "requeued");
        // A second click does not queue it twice.
        let again = retry(&app).await.unwrap();
        assert_eq!(again.status(), 409);
        let problem: Value = again.json().await.unwrap();
        assert_eq!(problem["code"], "job_already_requeued");
        assert_eq!(dead_letters(&app, "requeued").await.len(), 1);

        assert!(
            eventually(Duration::from_secs(20), || async {
                finished_runs(&job.token) == 6
            })
            .await,
            "{backend:?}: re-queued job runs its attempts again"
        );
        assert!(
            eventually(Duration::from_secs(5), || async {
                dead_letters(&app, "failed").await.len() == 1
            })
            .await
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_permanent_failure_skips_the_retries() {
    for backend in backends() {
        let app = spawn(&backend).await;
        let job = Scripted {
            permanent: true,
            ..Scripted::new(0)
        };
        app.platform.jobs.enqueue(&job).await.unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async {
                dead_letters(&app, "failed").await.len() == 1
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(runs(&job.token).len(), 1, "{backend:?}");
        assert_eq!(dead_letters(&app, "failed").await[0]["attempts"], 1);
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn unknown_dead_letters_answer_404() {
    let app = spawn(&Backend::Embedded).await;
    let response = app
        .client
        .post(app.url("/v1/admin/jobs/nope/retry"))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn shutdown_finishes_the_job_in_flight() {
    for backend in backends() {
        let app = spawn(&backend).await;
        let job = Scripted {
            sleep_ms: 1500,
            ..Scripted::new(0)
        };
        app.platform.jobs.enqueue(&job).await.unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async {
                !runs(&job.token).is_empty()
            })
            .await
        );
        app.stop().await.unwrap();
        assert_eq!(
            finished_runs(&job.token),
            1,
            "{backend:?}: the in-flight job was cut off"
        );
    }
}

#[tokio::test]
async fn queue_depth_counts_waiting_jobs() {
    for backend in backends() {
        let app = TestApp::spawn_with(
            &backend,
            |s| {
                s.roles = Roles {
                    worker: false,
                    ..Roles::ALL
                }
            },
            |b| b.job::<Scripted>(),
        )
        .await;
        for _ in 0..3 {
            app.platform.jobs.enqueue(&Scripted::new(0)).await.unwrap();
        }
        let metrics = app.metrics().await;
        assert!(
            metrics.contains("sous_queue_depth{queue=\"system\"} 3"),
            "{backend:?}: {metrics}"
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_job_pushed_by_the_api_role_is_picked_up_by_a_worker_role_within_a_second() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(&backend, dir.path()).await;
        // The production default, not the fast test polling.
        settings.jobs.poll_interval = sous::config::Settings::default().jobs.poll_interval;
        let api_settings = sous::config::Settings {
            roles: "api".parse().unwrap(),
            ..settings.clone()
        };
        let worker_settings = sous::config::Settings {
            roles: "worker".parse().unwrap(),
            ..settings
        };
        let api = TestApp::start(api_settings, |b| b, tempfile::tempdir().unwrap()).await;
        let worker = TestApp::start(worker_settings, |b| b, tempfile::tempdir().unwrap()).await;
        // Let the worker reach its idle wait, the case that used to park for a whole heartbeat.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for n in 1..=3u64 {
            let sent = Instant::now();
            let response = api
                .client
                .post(api.url("/v1/admin/jobs/probe"))
                .bearer_auth(api.admin_token())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
            let picked = eventually(Duration::from_secs(3), || async {
                worker.platform.metrics.probes_picked_up() >= n
            })
            .await;
            let waited = sent.elapsed();
            assert!(
                picked && waited < Duration::from_secs(1),
                "{backend:?}: probe {n} took {waited:?}"
            );
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        assert_eq!(
            api.platform.metrics.probes_picked_up(),
            0,
            "the api role runs no jobs"
        );
        worker.stop().await.unwrap();
        api.stop().await.unwrap();
        drop(dir);
    }
}
