//! The worker role: one supervised apalis worker per queue in use, and the stall watchdog.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use apalis::prelude::{
    BoxDynError, Data, Event, EventListenerExt, WorkerBuilder, WorkerBuilderExt, WorkerContext,
    WorkerError,
};
use futures::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::activity::Outcome;
use super::{Envelope, JobBackend, JobContext, JobError, Queue, failures};
use crate::platform::Platform;

/// Longest pause before restarting a worker whose backend failed (the database was down, say).
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct QueueContext {
    platform: Platform,
    queue: Queue,
}

/// Runs a worker for every queue that has a registered job until `shutdown` resolves, then stops
/// fetching and lets in-flight jobs finish for up to the configured shutdown timeout.
pub async fn run_workers(
    platform: Platform,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let queues: BTreeSet<Queue> = platform.jobs.registry().queues_in_use();
    if queues.is_empty() {
        tracing::info!("no job kinds registered; the worker role idles");
        shutdown.await;
        return Ok(());
    }
    // Host and pid tell replicas apart; the suffix, several apps in one process (tests).
    let instance = format!(
        "{}#{}-{}",
        gethostname::gethostname().to_string_lossy(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let stop = CancellationToken::new();
    let mut workers = JoinSet::new();
    for queue in queues {
        if let Some(gate) = platform.jobs.registry().gate(queue)
            && let Err(reason) = gate(&platform)
        {
            tracing::warn!(%queue, %reason, "not working on this queue; its jobs wait for a worker that can");
            continue;
        }
        workers.spawn(supervise(
            platform.clone(),
            queue,
            instance.clone(),
            stop.clone(),
        ));
    }
    let watchdog = tokio::spawn(watch(platform.clone(), stop.clone()));

    tokio::select! {
        () = shutdown => {}
        Some(joined) = workers.join_next() => {
            // A supervisor only returns once stopped; before that, it panicked. The other
            // workers' jobs in flight are cut off with the process and run again as orphans.
            watchdog.abort();
            return Err(anyhow!("a job worker supervisor stopped: {joined:?}"));
        }
    }
    tracing::info!("stopping job workers: no new jobs, finishing those in flight");
    stop.cancel();
    watchdog.abort();
    let grace = platform.settings.shutdown_timeout;
    if tokio::time::timeout(grace, async {
        while workers.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            ?grace,
            "jobs still running at the end of the shutdown timeout"
        );
    }
    Ok(())
}

/// Runs the worker of `queue`, restarting it when it fails or the watchdog finds it stalled,
/// until `stop`.
async fn supervise(platform: Platform, queue: Queue, instance: String, stop: CancellationToken) {
    let settings = platform.jobs.registry().settings(queue);
    let backend = platform.jobs.backend().clone();
    let queue_name = backend.queue_name(queue);
    let timing = backend.timing();
    let health = platform.jobs.health().clone();
    let context = QueueContext {
        platform: platform.clone(),
        queue,
    };
    tracing::info!(%queue, concurrency = settings.concurrency, backend = backend.kind(), "starting job worker");
    // Failures in a row, for the backoff: a worker that ran cleanly for a while starts afresh.
    let mut failures = 0u32;
    for restarts in 0.. {
        let began = Instant::now();
        // Worker names must be unique per process, or two replicas steal each other's leases.
        let name = format!("{queue_name}@{instance}.{restarts}");
        let restart = health.started(queue, &name);
        let stopped = {
            let (stop, restart) = (stop.clone(), restart.clone());
            async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = restart.cancelled() => {}
                }
                Ok::<(), WorkerError>(())
            }
        };
        let beats = health.clone();
        let alive = move |_: &WorkerContext, event: &Event| {
            if matches!(
                event,
                Event::HeartBeat | Event::Success(_) | Event::Error(_)
            ) {
                beats.alive(queue);
            }
        };
        macro_rules! run {
            ($storage:expr) => {
                WorkerBuilder::new(name)
                    .backend($storage)
                    .data(context.clone())
                    .concurrency(settings.concurrency)
                    .on_event(alive)
                    .build(handle)
                    .run_until(stopped)
                    .await
            };
        }
        let outcome = match &backend {
            JobBackend::Redis { conn, .. } => {
                run!(JobBackend::redis_storage(conn, &queue_name, timing))
            }
            JobBackend::Postgres { pool, .. } => {
                run!(JobBackend::postgres_storage(pool, &queue_name, timing))
            }
            JobBackend::Sqlite { pool, .. } => {
                run!(JobBackend::sqlite_storage(pool, &queue_name, timing))
            }
        };
        if stop.is_cancelled() {
            return;
        }
        platform.metrics.job_worker_restarted(queue);
        match outcome {
            Ok(()) => tracing::warn!(%queue, "restarting the stalled job worker"),
            Err(error) => {
                if began.elapsed() > MAX_RESTART_DELAY {
                    failures = 0;
                }
                let delay =
                    (timing.poll * 2u32.saturating_pow(failures.min(16))).min(MAX_RESTART_DELAY);
                failures += 1;
                tracing::warn!(%queue, %error, ?delay, "job worker failed; restarting");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Every few seconds, finds workers that have been silent for `stall_after` while jobs wait on
/// them (due in their queue, or claimed by them), and has them restarted.
async fn watch(platform: Platform, stop: CancellationToken) {
    let stall_after = platform.settings.jobs.stall_after;
    let mut tick = tokio::time::interval(stall_after / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.is_cancelled() {
        tick.tick().await;
        for (queue, worker) in platform.jobs.health().silent_for(stall_after) {
            let due = match platform.jobs.backend().waiting_on(queue, &worker).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%queue, %error, "cannot count due jobs");
                    continue;
                }
            };
            if due > 0 && platform.jobs.health().stall(queue, &worker, stall_after) {
                platform.metrics.job_worker_stalled(queue);
                tracing::error!(
                    %queue,
                    due,
                    silent_for = ?stall_after,
                    "job worker stalled: no heartbeat while jobs are due; restarting it"
                );
            }
        }
    }
}

async fn handle(envelope: Envelope, context: Data<QueueContext>) -> Result<(), BoxDynError> {
    let QueueContext { platform, queue } = (*context).clone();
    let attempt = envelope.attempt + 1;
    let span =
        tracing::info_span!("job", id = %envelope.id, kind = %envelope.kind, %queue, attempt);
    async move {
        let settings = platform.jobs.registry().settings(queue);
        let job = JobContext {
            platform: platform.clone(),
            id: envelope.id,
            attempt,
            max_attempts: settings.max_attempts,
        };
        let started = Instant::now();
        let _running = platform.metrics.job_running(queue);
        tracing::info!("job started");
        let outcome = match platform.jobs.registry().handler(&envelope.kind) {
            None => Err(JobError::permanent(anyhow!("no handler for job kind `{}`", envelope.kind))),
            Some((_, handler)) => {
                let run = AssertUnwindSafe(handler(envelope.payload.clone(), job.clone())).catch_unwind();
                match tokio::time::timeout(settings.timeout, run).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_panic)) => Err(JobError::retry(anyhow!("job panicked"))),
                    Err(_) => Err(JobError::retry(anyhow!("timed out after {:?}", settings.timeout))),
                }
            }
        };
        let elapsed = started.elapsed();

        let outcome = match outcome {
            Ok(()) => {
                tracing::info!(elapsed_ms = elapsed.as_millis() as u64, "job done");
                Outcome::Succeeded
            }
            Err(JobError::Retry(error)) if !job.is_last_attempt() => {
                let delay = settings.backoff(attempt);
                tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "job failed; will retry");
                let retry = Envelope { attempt, ..envelope };
                // If even the re-push fails, the error goes back to apalis, whose own retry is
                // the safety net.
                platform.jobs.push(queue, retry, delay).await?;
                Outcome::Retried
            }
            Err(error) => {
                let (JobError::Retry(cause) | JobError::Permanent(cause)) = &error;
                tracing::error!(error = format!("{cause:#}"), "job failed for good; moved to dead letters");
                failures::record(&platform.db, queue, &envelope, attempt, &format!("{cause:#}")).await?;
                Outcome::Dead
            }
        };
        platform.jobs.activity().record(queue, outcome);
        platform.metrics.job_finished(queue, outcome.label(), elapsed);
        Ok(())
    }
    .instrument(span)
    .await
}
