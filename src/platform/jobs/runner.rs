//! The worker role: one apalis worker per queue in use, all under one monitor.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use anyhow::anyhow;
use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use futures::FutureExt;
use tracing::Instrument;

use super::{Envelope, JobBackend, JobError, Queue, backoff, failures};
use crate::platform::Platform;

#[derive(Clone)]
struct QueueContext {
    platform: Platform,
    queue: Queue,
}

/// Runs workers for every queue that has a registered job until `shutdown` resolves, then stops
/// fetching and lets in-flight jobs finish for up to the configured shutdown timeout.
pub async fn run_workers(
    platform: Platform,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let queues: BTreeSet<Queue> = platform.jobs.registry().queues();
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
    let mut monitor = Monitor::new()
        .shutdown_timeout(platform.settings.shutdown_timeout)
        .should_restart(|worker, error| {
            tracing::warn!(worker = worker.name(), %error, "job worker stopped; restarting");
            true
        });

    for queue in queues {
        let settings = platform.settings.queue(queue);
        let context = QueueContext {
            platform: platform.clone(),
            queue,
        };
        let backend = platform.jobs.backend().clone();
        let instance = instance.clone();
        let name = backend.queue_name(queue);
        // Worker names must be unique per process, or two replicas steal each other's leases.
        let worker_name = move |restarts: usize| format!("{name}@{instance}.{restarts}");
        let concurrency = settings.concurrency;
        tracing::info!(queue = %queue, concurrency, backend = backend.kind(), "starting job worker");

        macro_rules! register {
            ($storage:expr) => {
                monitor = monitor.register(move |restarts| {
                    WorkerBuilder::new(worker_name(restarts))
                        .backend($storage)
                        .data(context.clone())
                        .concurrency(concurrency)
                        .build(handle)
                })
            };
        }
        match backend {
            JobBackend::Redis { ref conn, poll, .. } => {
                let (conn, queue_name) = (conn.clone(), backend.queue_name(queue));
                register!(JobBackend::redis_storage(&conn, &queue_name, poll))
            }
            // The SQL workers also fetch on a timer: woken only by their heartbeat, apalis 1.0's
            // workers can stall for good when a heartbeat falls during an empty fetch.
            JobBackend::Postgres { ref pool, poll } => {
                let (pool, queue_name) = (pool.clone(), backend.queue_name(queue));
                register!(
                    JobBackend::postgres_storage(&pool, &queue_name, poll).poll_with_interval(poll)
                )
            }
            JobBackend::Sqlite { ref pool, poll } => {
                let (pool, queue_name) = (pool.clone(), backend.queue_name(queue));
                register!(
                    JobBackend::sqlite_storage(&pool, &queue_name, poll).poll_with_interval(poll)
                )
            }
        }
    }

    monitor
        .run_with_signal(async move {
            shutdown.await;
            tracing::info!("stopping job workers: no new jobs, finishing those in flight");
            Ok(())
        })
        .await
        .map_err(|e| anyhow!("job monitor failed: {e}"))
}

async fn handle(envelope: Envelope, context: Data<QueueContext>) -> Result<(), BoxDynError> {
    let QueueContext { platform, queue } = (*context).clone();
    let attempt = envelope.attempt + 1;
    let span =
        tracing::info_span!("job", id = %envelope.id, kind = %envelope.kind, %queue, attempt);
    async move {
        let settings = platform.settings.queue(queue);
        let started = Instant::now();
        let outcome = match platform.jobs.registry().handler(&envelope.kind) {
            None => Err(JobError::permanent(anyhow!("no handler for job kind `{}`", envelope.kind))),
            Some((_, handler)) => {
                let run = AssertUnwindSafe(handler(envelope.payload.clone(), platform.clone())).catch_unwind();
                match tokio::time::timeout(settings.timeout, run).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_panic)) => Err(JobError::retry(anyhow!("job panicked"))),
                    Err(_) => Err(JobError::retry(anyhow!("timed out after {:?}", settings.timeout))),
                }
            }
        };
        let elapsed = started.elapsed();

        let label = match outcome {
            Ok(()) => {
                tracing::info!(elapsed_ms = elapsed.as_millis() as u64, "job done");
                "succeeded"
            }
            Err(JobError::Retry(error)) if attempt < settings.max_attempts => {
                let delay = backoff(&settings, attempt);
                tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "job failed; will retry");
                let retry = Envelope { attempt, ..envelope };
                // If even the re-push fails, the error goes back to apalis, whose own retry is
                // the safety net.
                platform.jobs.push(queue, retry, delay).await?;
                "retried"
            }
            Err(error) => {
                let (JobError::Retry(cause) | JobError::Permanent(cause)) = &error;
                tracing::error!(error = format!("{cause:#}"), "job failed for good; moved to dead letters");
                failures::record(&platform.db, queue, &envelope, attempt, &format!("{cause:#}")).await?;
                "dead"
            }
        };
        platform.metrics.job_finished(queue, label, elapsed);
        Ok(())
    }
    .instrument(span)
    .await
}
