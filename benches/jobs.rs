//! Job throughput: enqueue a batch of no-op jobs and wait until the worker role has run them
//! all, on the embedded SQLite queue and, when a Redis URL is given (`SOUS_BENCH_REDIS_URL` or
//! `SOUS_TEST_REDIS_URL`), on Redis. This measures the queue itself: enqueue, fetch, our
//! bookkeeping and the acknowledgement, with a job that does nothing.
//!
//!     cargo bench --bench jobs

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use sous::Application;
use sous::config::{JobSettings, Roles, Settings};
use sous::platform::Platform;
use sous::platform::jobs::{Job, JobContext, JobError, Queue};

const JOBS: usize = 200;
/// Short enough that an idle worker finds new work quickly; the default (500 ms) would
/// measure mostly the wait before the first fetch.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// A batch takes a second or two; far longer means the worker stopped fetching: fail rather
/// than hang.
const BATCH_TIMEOUT: Duration = Duration::from_secs(30);

static DONE: AtomicUsize = AtomicUsize::new(0);
static PROGRESS: Notify = Notify::const_new();

#[derive(Debug, Serialize, Deserialize)]
struct Noop {
    n: usize,
}

impl Job for Noop {
    const KIND: &'static str = "bench.noop";
    const QUEUE: Queue = Queue::SYSTEM;

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        DONE.fetch_add(1, Ordering::SeqCst);
        // A single waiter: notify_one keeps a permit if it is not waiting yet.
        PROGRESS.notify_one();
        Ok(())
    }
}

/// A worker-only process on its own temp dir, running in the background of `runtime`.
struct Running {
    platform: Platform,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

fn start(runtime: &Runtime, redis: Option<(&str, &str)>) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let defaults = Settings::default();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("sous.db").display()).into(),
        store_url: format!("file://{}", dir.path().join("objects").display()),
        bind: "127.0.0.1:0".parse().expect("valid address"),
        roles: Roles {
            api: false,
            worker: true,
            scheduler: false,
        },
        redis_url: redis.map(|(url, _)| url.into()),
        redis_prefix: redis.map_or(defaults.redis_prefix.clone(), |(_, prefix)| {
            prefix.to_string()
        }),
        jobs: JobSettings {
            poll_interval: POLL_INTERVAL,
            ..defaults.jobs
        },
        ..defaults
    };
    runtime.block_on(async {
        let app = Application::builder(settings)
            .job::<Noop>()
            .build()
            .await
            .expect("the application starts");
        let platform = app.platform().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Running {
            platform,
            stop,
            task,
            _dir: dir,
        }
    })
}

fn stop(runtime: &Runtime, running: Running) {
    let _ = running.stop.send(());
    runtime.block_on(async {
        match tokio::time::timeout(Duration::from_secs(30), running.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => panic!("the application failed: {error:#}"),
            Ok(Err(join)) => panic!("the application panicked: {join}"),
            Err(_) => panic!("the application did not stop within 30s"),
        }
    });
}

/// Enqueues `JOBS` no-ops `iters` times, each time waiting until all have run.
async fn batches(platform: &Platform, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let target = DONE.load(Ordering::SeqCst) + JOBS;
        let started = Instant::now();
        for n in 0..JOBS {
            platform
                .jobs
                .enqueue(&Noop { n })
                .await
                .expect("enqueue succeeds");
        }
        let waited = tokio::time::timeout(BATCH_TIMEOUT, async {
            while DONE.load(Ordering::SeqCst) < target {
                PROGRESS.notified().await;
            }
        })
        .await;
        if waited.is_err() {
            let ran = DONE.load(Ordering::SeqCst) + JOBS - target;
            panic!(
                "only {ran} of {JOBS} jobs ran within {BATCH_TIMEOUT:?}: the worker stopped fetching"
            );
        }
        total += started.elapsed();
    }
    total
}

/// Deletes every key of this run, so repeated runs do not fill a shared Redis.
async fn clean_redis(url: &str, prefix: &str) {
    use futures::StreamExt;
    use redis::AsyncCommands;
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = match conn.scan_match::<_, String>(format!("{prefix}*")).await {
        Ok(iter) => {
            iter.filter_map(|key| async move { key.ok() })
                .collect()
                .await
        }
        Err(_) => return,
    };
    for chunk in keys.chunks(500) {
        let _: Result<(), _> = conn.del(chunk).await;
    }
}

fn redis_url() -> Option<String> {
    ["SOUS_BENCH_REDIS_URL", "SOUS_TEST_REDIS_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn job_throughput(c: &mut Criterion) {
    // object_store and sqlx both link rustls; pick the provider before either uses it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut group = c.benchmark_group("jobs");
    group.throughput(Throughput::Elements(JOBS as u64));

    let app = start(&runtime, None);
    group.bench_function(BenchmarkId::new("noop", "sqlite"), |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| batches(&app.platform, iters))
    });
    stop(&runtime, app);

    match redis_url() {
        Some(url) => {
            // Unique per run, so concurrent runs and leftovers never mix.
            let prefix = format!(
                "sous-bench-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
            );
            let app = start(&runtime, Some((&url, &prefix)));
            group.bench_function(BenchmarkId::new("noop", "redis"), |b| {
                b.to_async(&runtime)
                    .iter_custom(|iters| batches(&app.platform, iters))
            });
            stop(&runtime, app);
            runtime.block_on(clean_redis(&url, &prefix));
        }
        None => eprintln!(
            "jobs/noop/redis skipped: set SOUS_BENCH_REDIS_URL (or SOUS_TEST_REDIS_URL) to run it"
        ),
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Each sample runs a whole batch through the queue: a few are enough.
    config = Criterion::default().sample_size(10);
    targets = job_throughput
}
criterion_main!(benches);
