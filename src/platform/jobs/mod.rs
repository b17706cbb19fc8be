//! Background jobs on apalis: Redis when configured, else the database (SQLite or PostgreSQL).
//!
//! Every queue carries one wire type, [`Envelope`] (job kind + JSON payload + attempt count), so
//! modules enqueue typed [`Job`]s while the backends stay non-generic. Retries, backoff and the
//! dead-letter table are ours rather than apalis's: the backends disagree on both (apalis-redis
//! retries 25 times linearly whatever `max_attempts` says), and an operator needs one place to
//! list and re-queue failures whatever the backend.

pub mod api;
mod backend;
pub mod failures;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::config::QueueSettings;
use crate::platform::Platform;

pub use backend::{JobBackend, JobBackendError};
pub use runner::run_workers;

/// The queues sous runs. A queue's name is persisted in the backend: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Queue {
    /// Small platform work: storage-event dispatch, maintenance.
    System,
    Classify,
    ImageVariants,
    BulkIngest,
    Print,
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::System,
        Queue::Classify,
        Queue::ImageVariants,
        Queue::BulkIngest,
        Queue::Print,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Queue::System => "system",
            Queue::Classify => "classify",
            Queue::ImageVariants => "image-variants",
            Queue::BulkIngest => "bulk-ingest",
            Queue::Print => "print",
        }
    }

    /// Accepts `image_variants` too, since environment variable names cannot hold dashes.
    pub fn parse(name: &str) -> Option<Queue> {
        let name = name.replace('_', "-");
        Queue::ALL.into_iter().find(|q| q.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        Queue::ALL.iter().map(|q| q.name()).collect()
    }

    /// Defaults sized for 2 cores: CPU-heavy queues run fewer jobs at once.
    pub fn default_settings(self) -> QueueSettings {
        let base = QueueSettings::default();
        match self {
            Queue::Classify | Queue::ImageVariants => QueueSettings {
                concurrency: 2,
                timeout: Duration::from_secs(120),
                ..base
            },
            Queue::BulkIngest => QueueSettings {
                concurrency: 2,
                timeout: Duration::from_secs(1800),
                ..base
            },
            Queue::Print => QueueSettings {
                timeout: Duration::from_secs(30),
                max_attempts: 4,
                backoff: Duration::from_secs(5),
                ..base
            },
            Queue::System => base,
        }
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A unit of background work: a serde struct whose handler must be idempotent, since any job
/// may run more than once (a worker can die after the work but before the acknowledgement).
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// Persisted with every queued job: never rename one.
    const KIND: &'static str;
    const QUEUE: Queue;

    fn run(self, platform: Platform) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// How a failed job should continue, decided where the error happens.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Transient (network, database hiccup): try again after a backoff.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Will fail the same way every time (bad payload, missing row): straight to the dead letters.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl JobError {
    pub fn retry(error: impl Into<anyhow::Error>) -> Self {
        JobError::Retry(error.into())
    }

    pub fn permanent(error: impl Into<anyhow::Error>) -> Self {
        JobError::Permanent(error.into())
    }
}

/// What travels through every queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Stable across retries, so logs and the dead-letter table can follow one job.
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts already made (0 for a fresh job).
    pub attempt: u32,
}

type Handler = Arc<
    dyn Fn(serde_json::Value, Platform) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync,
>;

/// Job kinds and their handlers, assembled once in `lib.rs` from every module.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, (Queue, Handler)>,
}

impl JobRegistry {
    /// The registry every process starts from: the platform's own jobs.
    pub fn platform() -> Self {
        let mut registry = JobRegistry::default();
        registry
            .register::<Probe>()
            .register::<crate::platform::events::HandleObjectCreated>();
        registry
    }

    /// Registers `J`; registering one kind twice is a wiring bug and panics at start.
    pub fn register<J: Job>(&mut self) -> &mut Self {
        let handler: Handler = Arc::new(|payload, platform| {
            Box::pin(async move {
                let job: J = serde_json::from_value(payload).map_err(|e| {
                    JobError::permanent(
                        anyhow::Error::new(e)
                            .context(format!("payload of {} does not parse", J::KIND)),
                    )
                })?;
                job.run(platform).await
            })
        });
        let previous = self.handlers.insert(J::KIND, (J::QUEUE, handler));
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
        self
    }

    fn handler(&self, kind: &str) -> Option<&(Queue, Handler)> {
        self.handlers.get(kind)
    }

    /// Queues that have at least one registered kind: the only ones a worker needs to poll.
    fn queues(&self) -> std::collections::BTreeSet<Queue> {
        self.handlers.values().map(|(queue, _)| *queue).collect()
    }

    fn knows(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }
}

impl std::fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

/// The handle modules enqueue through.
#[derive(Clone, Debug)]
pub struct Jobs {
    backend: JobBackend,
    registry: Arc<JobRegistry>,
}

impl Jobs {
    pub fn new(backend: JobBackend, registry: JobRegistry) -> Self {
        Jobs {
            backend,
            registry: Arc::new(registry),
        }
    }

    /// Queues `job` for a worker; returns its id.
    pub async fn enqueue<J: Job>(&self, job: &J) -> Result<Uuid, JobBackendError> {
        debug_assert!(
            self.registry.knows(J::KIND),
            "job kind {} is not registered",
            J::KIND
        );
        let envelope = Envelope {
            id: Uuid::now_v7(),
            kind: J::KIND.to_string(),
            payload: serde_json::to_value(job).map_err(JobBackendError::Encode)?,
            attempt: 0,
        };
        let id = envelope.id;
        self.backend
            .push(J::QUEUE, envelope, Duration::ZERO)
            .await?;
        Ok(id)
    }

    /// Pushes an envelope as is (retries and re-queued dead letters), after `delay`.
    pub(crate) async fn push(
        &self,
        queue: Queue,
        envelope: Envelope,
        delay: Duration,
    ) -> Result<(), JobBackendError> {
        self.backend.push(queue, envelope, delay).await
    }

    pub fn backend(&self) -> &JobBackend {
        &self.backend
    }

    pub(crate) fn registry(&self) -> &JobRegistry {
        &self.registry
    }
}

/// A no-op job that measures how long it waited between enqueue and pickup: the queue's
/// heartbeat, for operators (`POST /v1/admin/jobs/probe`) and benchmarks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    pub enqueued_at: chrono::DateTime<chrono::Utc>,
}

impl Probe {
    pub fn now() -> Self {
        Probe {
            enqueued_at: chrono::Utc::now(),
        }
    }
}

impl Job for Probe {
    const KIND: &'static str = "platform.probe";
    const QUEUE: Queue = Queue::System;

    async fn run(self, platform: Platform) -> Result<(), JobError> {
        let waited = (chrono::Utc::now() - self.enqueued_at)
            .to_std()
            .unwrap_or_default();
        platform.metrics.probe_picked_up(waited);
        tracing::info!(
            pickup_ms = waited.as_secs_f64() * 1000.0,
            "probe job picked up"
        );
        Ok(())
    }
}

/// Exponential backoff: `base * 2^(attempt-1)`, capped.
pub fn backoff(settings: &QueueSettings, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    settings
        .backoff
        .saturating_mul(factor)
        .min(settings.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_round_trip() {
        for queue in Queue::ALL {
            assert_eq!(Queue::parse(queue.name()), Some(queue));
        }
        assert_eq!(Queue::parse("image_variants"), Some(Queue::ImageVariants));
        assert_eq!(Queue::parse("dishes"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let settings = QueueSettings {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..QueueSettings::default()
        };
        let delays: Vec<u64> = (1..=5).map(|a| backoff(&settings, a).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5]);
    }
}
