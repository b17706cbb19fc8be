//! Hundreds of jobs whose handlers push follow-ups and fail into delayed retries, worked by
//! several workers in this process and one in a child process, on every backend: each job
//! ends exactly as the retry policy says, none is lost or run once too often.
//!
//! Every attempt leaves a file named after the job, its step and the attempt, created with
//! `create_new` in a folder both processes share, so the count is exact across processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use sous::config::{Roles, Settings};
use sous::platform::jobs::{Job, JobContext, JobError, Queue, QueueOverrides};

use crate::helpers::{TestApp, backends, eventually, test_settings};

/// Roots per backend; each has one follow-up, so about twice as many jobs run.
const ROOTS: u32 = 150;
const MAX_ATTEMPTS: u32 = 3;
/// Set in a child process of this test binary: the settings of the worker it must run.
const CHILD: &str = "SOUS_TEST_CHAIN_WORKER";

/// One step of a chain: fails its first `fail_first` attempts, then queues the next step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    records: PathBuf,
    chain: u32,
    step: u32,
    steps: u32,
    fail_first: u32,
}

impl Job for Step {
    const KIND: &'static str = "test.chain-step";
    const QUEUE: Queue = Queue::new("chains").with_concurrency(4);

    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let attempt = context.attempt;
        let record = self
            .records
            .join(format!("{}-{}-{attempt}", self.chain, self.step));
        // A second run of the same attempt fails here: it ends in the dead letters, which the
        // test counts.
        std::fs::File::create_new(&record)
            .map_err(|e| JobError::permanent(anyhow!("attempt recorded twice: {e}")))?;
        if attempt <= self.fail_first {
            return Err(JobError::retry(anyhow!("planned failure {attempt}")));
        }
        if self.step + 1 < self.steps {
            let next = Step {
                step: self.step + 1,
                fail_first: 0,
                ..self
            };
            context
                .platform
                .jobs
                .enqueue(&next)
                .await
                .map_err(JobError::retry)?;
        }
        Ok(())
    }
}

fn chains_settings(settings: &mut Settings) {
    settings.jobs.queues.insert(
        "chains".into(),
        QueueOverrides {
            max_attempts: Some(MAX_ATTEMPTS),
            backoff: Some(Duration::from_secs(1)),
            max_backoff: Some(Duration::from_secs(2)),
            ..QueueOverrides::default()
        },
    );
}

/// How chain `n` is planned to fail: most never, some once or twice (then succeed), some on
/// every attempt (then go to the dead letters without a follow-up).
fn fail_first(n: u32) -> u32 {
    match n % 10 {
        0 => 1,
        1 => 2,
        2 => MAX_ATTEMPTS,
        _ => 0,
    }
}

/// The attempts each (chain, step) should make, per the policy.
fn expected() -> BTreeMap<(u32, u32), u32> {
    let mut expected = BTreeMap::new();
    for chain in 0..ROOTS {
        let fail = fail_first(chain);
        expected.insert((chain, 0), (fail + 1).min(MAX_ATTEMPTS));
        if fail < MAX_ATTEMPTS {
            expected.insert((chain, 1), 1);
        }
    }
    expected
}

fn recorded(records: &Path) -> BTreeMap<(u32, u32), u32> {
    let mut attempts = BTreeMap::new();
    for entry in std::fs::read_dir(records).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let parts: Vec<u32> = name.split('-').map(|p| p.parse().unwrap()).collect();
        let highest = attempts.entry((parts[0], parts[1])).or_insert(0);
        *highest = (*highest).max(parts[2]);
    }
    attempts
}

fn record_count(records: &Path) -> usize {
    std::fs::read_dir(records).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chains_of_jobs_end_as_the_policy_says_across_workers_and_processes() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records");
        std::fs::create_dir(&records).unwrap();
        let mut settings = test_settings(&backend, &dir.path().join("state")).await;
        chains_settings(&mut settings);
        let worker = |settings: &Settings| Settings {
            roles: Roles {
                api: false,
                ..Roles::ALL
            },
            ..settings.clone()
        };
        let api = TestApp::start(
            settings.clone(),
            |b| b.job::<Step>(),
            tempfile::tempdir().unwrap(),
        )
        .await;
        let second = TestApp::start(
            worker(&settings),
            |b| b.job::<Step>(),
            tempfile::tempdir().unwrap(),
        )
        .await;
        let child = ChildWorker::start(&worker(&settings), dir.path());
        assert!(
            eventually(Duration::from_secs(60), || async {
                dir.path().join("ready").exists()
            })
            .await,
            "{backend:?}: the child worker did not start"
        );

        let expected = expected();
        for chain in 0..ROOTS {
            let root = Step {
                records: records.clone(),
                chain,
                step: 0,
                steps: 2,
                fail_first: fail_first(chain),
            };
            api.platform.jobs.enqueue(&root).await.unwrap();
        }
        let total: u32 = expected.values().sum();
        let finished = eventually(Duration::from_secs(60), || async {
            record_count(&records) >= total as usize
        })
        .await;
        // Anything that would run twice or late has a moment to show itself.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let child_ran = child.stop();

        assert!(
            finished,
            "{backend:?}: {} of {total} attempts ran",
            record_count(&records)
        );
        assert_eq!(
            record_count(&records),
            total as usize,
            "{backend:?}: attempts"
        );
        assert_eq!(recorded(&records), expected, "{backend:?}");
        let dead = sous::platform::jobs::failures::list(
            &api.platform.db,
            Some(Step::QUEUE),
            sous::platform::jobs::failures::FailureState::Failed,
            None,
            1000,
        )
        .await
        .unwrap();
        let planned_dead = (0..ROOTS)
            .filter(|&n| fail_first(n) >= MAX_ATTEMPTS)
            .count();
        assert_eq!(dead.len(), planned_dead, "{backend:?}: dead letters");
        assert!(dead.iter().all(|job| job.attempts == MAX_ATTEMPTS));
        assert!(child_ran > 0, "{backend:?}: the child process ran no job");
        second.stop().await.unwrap();
        api.stop().await.unwrap();
    }
}

/// A worker in a child process: this test binary again, running [`child_worker_process`].
struct ChildWorker {
    process: std::process::Child,
    stop: PathBuf,
}

impl ChildWorker {
    /// The child creates `ready` in `signals` once it works, and stops when `stop` appears.
    fn start(settings: &Settings, signals: &Path) -> ChildWorker {
        let process = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "job_chains::child_worker_process", "--nocapture"])
            .env(CHILD, serde_json::to_string(settings).unwrap())
            .env("SOUS_TEST_CHAIN_SIGNALS", signals)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        ChildWorker {
            process,
            stop: signals.join("stop"),
        }
    }

    /// Asks the child to stop, waits, and returns how many jobs it ran.
    fn stop(mut self) -> usize {
        std::fs::write(&self.stop, b"").unwrap();
        let output = std::mem::replace(
            &mut self.process,
            std::process::Command::new("true").spawn().unwrap(),
        )
        .wait_with_output()
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child worker failed: {stdout}");
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("child ran "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("child worker said nothing: {stdout}"))
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The child's side of the test above; run on its own, without the variable, it has nothing to
/// work for and returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker_process() {
    let Ok(settings) = std::env::var(CHILD) else {
        return;
    };
    let mut settings: Settings = serde_json::from_str(&settings).unwrap();
    settings.signing_key = Some(crate::helpers::TEST_SIGNING_KEY.to_string().into());
    let signals = PathBuf::from(std::env::var("SOUS_TEST_CHAIN_SIGNALS").unwrap());
    let stop = signals.join("stop");
    let app = TestApp::start(settings, |b| b.job::<Step>(), tempfile::tempdir().unwrap()).await;
    std::fs::write(signals.join("ready"), b"").unwrap();
    while !stop.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ran = app.platform.metrics.jobs_finished(Step::QUEUE);
    app.stop().await.unwrap();
    println!("child ran {ran}");
}
