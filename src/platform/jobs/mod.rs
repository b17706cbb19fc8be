//! Background jobs on apalis: Redis when configured, else the database (SQLite or PostgreSQL).
//!
//! Every queue carries one wire type, [`Envelope`] (job kind + JSON payload + attempt count), so
//! modules enqueue typed [`Job`]s while the backends stay non-generic. Retries, backoff and the
//! dead-letter table are ours rather than apalis's: the backends disagree on both (apalis-redis
//! retries 25 times linearly whatever `max_attempts` says), and an operator needs one place to
//! list and re-queue failures whatever the backend.

pub mod activity;
#[cfg(test)]
mod apalis_wakeup;
pub mod api;
mod backend;
pub mod failures;
mod queue;
mod runner;
mod watchdog;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::config::{ConfigError, JobSettings};
use crate::platform::Platform;

pub use activity::Activity;
pub use backend::{JobBackend, JobBackendError, QueueCounts, Timing};
pub use queue::{Queue, QueueOverrides, QueueSettings};
pub use runner::run_workers;
pub use watchdog::WorkerHealth;

/// A unit of background work: a serde struct whose handler must be idempotent, since any job
/// may run more than once (a worker can die after the work but before the acknowledgement).
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// Persisted with every queued job: never rename one.
    const KIND: &'static str;
    /// Declared by the job's module, next to its jobs.
    const QUEUE: Queue;

    fn run(self, context: JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// What a running job knows besides its payload.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub platform: Platform,
    /// Stable across retries.
    pub id: Uuid,
    /// This attempt, from 1.
    pub attempt: u32,
    /// Attempts the queue allows before the job goes to the dead letters.
    pub max_attempts: u32,
}

impl JobContext {
    /// Whether a retryable failure now would go to the dead letters rather than be retried.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
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
    dyn Fn(serde_json::Value, JobContext) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync,
>;

/// Says, as a worker starts, whether this process can run a queue's jobs (`Err` says why not).
pub type Gate = fn(&Platform) -> Result<(), String>;

/// Job kinds, their handlers and their queues, assembled once in `lib.rs` from every module.
#[derive(Clone)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, (Queue, Handler)>,
    /// Every declared queue with the operator's overrides applied.
    queues: BTreeMap<Queue, QueueSettings>,
    gates: BTreeMap<Queue, Gate>,
}

impl JobRegistry {
    /// The registry every process starts from: the platform's own jobs, on `system`.
    pub fn platform() -> Self {
        let mut registry = JobRegistry {
            handlers: HashMap::new(),
            queues: BTreeMap::from([(Queue::SYSTEM, Queue::SYSTEM.defaults())]),
            gates: BTreeMap::new(),
        };
        registry
            .register::<Probe>()
            .register::<crate::platform::events::QueuedBeforeOneHop>();
        registry
    }

    /// Registers `J` and learns its queue; registering one kind twice, or one queue name with
    /// two sets of defaults, is a wiring bug and panics at start.
    pub fn register<J: Job>(&mut self) -> &mut Self {
        let handler: Handler = Arc::new(|payload, context| {
            Box::pin(async move {
                let job: J = serde_json::from_value(payload).map_err(|e| {
                    JobError::permanent(
                        anyhow::Error::new(e)
                            .context(format!("payload of {} does not parse", J::KIND)),
                    )
                })?;
                job.run(context).await
            })
        });
        let previous = self.handlers.insert(J::KIND, (J::QUEUE, handler));
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
        if let Some((declared, _)) = self.queues.get_key_value(&J::QUEUE) {
            assert!(
                declared.defaults() == J::QUEUE.defaults(),
                "queue {} declared twice with different defaults",
                J::QUEUE
            );
        }
        self.queues.insert(J::QUEUE, J::QUEUE.defaults());
        self
    }

    /// A worker works on `queue` only if `gate` lets it as the worker starts; otherwise its jobs
    /// wait in the queue for a worker that can (after the operator fixes what `gate` names).
    pub fn hold_unless(&mut self, queue: Queue, gate: Gate) -> &mut Self {
        self.gates.insert(queue, gate);
        self
    }

    fn gate(&self, queue: Queue) -> Option<Gate> {
        self.gates.get(&queue).copied()
    }

    /// Applies `SOUS_JOBS__QUEUES__*` over the declared defaults. Fails, naming the setting, on
    /// a queue no module declares or a value that cannot work.
    pub fn apply_settings(&mut self, settings: &JobSettings) -> Result<(), ConfigError> {
        for (name, overrides) in &settings.queues {
            let Some(queue) = self.queue_named(name) else {
                return Err(ConfigError::invalid(
                    "SOUS_JOBS__QUEUES",
                    format!(
                        "unknown queue `{name}`: expected one of {}",
                        self.queue_names().join(", ")
                    ),
                ));
            };
            let resolved = queue.defaults().overridden_by(overrides);
            if resolved.concurrency == 0 || resolved.max_attempts == 0 || resolved.timeout.is_zero()
            {
                return Err(ConfigError::invalid(
                    "SOUS_JOBS__QUEUES",
                    format!(
                        "queue `{name}`: concurrency, max_attempts and timeout must be more than 0"
                    ),
                ));
            }
            self.queues.insert(queue, resolved);
        }
        Ok(())
    }

    fn handler(&self, kind: &str) -> Option<&(Queue, Handler)> {
        self.handlers.get(kind)
    }

    /// The queue called `name` (or its environment spelling, with underscores).
    pub fn queue_named(&self, name: &str) -> Option<Queue> {
        self.queues().find(|queue| queue.is_named(name))
    }

    /// Every declared queue, whether or not this process works on it.
    pub fn queues(&self) -> impl Iterator<Item = Queue> + '_ {
        self.queues.keys().copied()
    }

    pub fn queue_names(&self) -> Vec<&'static str> {
        self.queues().map(Queue::name).collect()
    }

    /// A declared queue's settings.
    pub fn settings(&self, queue: Queue) -> QueueSettings {
        self.queues
            .get(&queue)
            .copied()
            .unwrap_or_else(|| queue.defaults())
    }

    /// Queues that have at least one registered kind: the only ones a worker needs to poll.
    fn queues_in_use(&self) -> BTreeSet<Queue> {
        self.handlers.values().map(|(queue, _)| *queue).collect()
    }

    fn knows(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }
}

impl std::fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRegistry")
            .field("kinds", &self.handlers.keys())
            .field("queues", &self.queues)
            .finish()
    }
}

/// The handle modules enqueue through.
#[derive(Clone, Debug)]
pub struct Jobs {
    backend: JobBackend,
    registry: Arc<JobRegistry>,
    health: WorkerHealth,
    activity: Activity,
}

impl Jobs {
    pub fn new(backend: JobBackend, registry: JobRegistry) -> Self {
        Jobs {
            backend,
            registry: Arc::new(registry),
            health: WorkerHealth::default(),
            activity: Activity::default(),
        }
    }

    /// Queues `job` for a worker; returns its id. The job is serialized before the returned
    /// future first runs, so the future does not borrow it.
    pub fn enqueue<J: Job>(
        &self,
        job: &J,
    ) -> impl Future<Output = Result<Uuid, JobBackendError>> + Send + '_ {
        debug_assert!(
            self.registry.knows(J::KIND),
            "job kind {} is not registered",
            J::KIND
        );
        let payload = serde_json::to_value(job).map_err(JobBackendError::Encode);
        async move {
            let envelope = Envelope {
                id: Uuid::now_v7(),
                kind: J::KIND.to_string(),
                payload: payload?,
                attempt: 0,
            };
            let id = envelope.id;
            self.backend
                .push(J::QUEUE, envelope, Duration::ZERO)
                .await?;
            Ok(id)
        }
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

    pub fn registry(&self) -> &JobRegistry {
        &self.registry
    }

    /// This process's job outcomes not yet added to the shared counts.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// This process's queue workers, as the stall watchdog sees them.
    pub fn health(&self) -> &WorkerHealth {
        &self.health
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
    const QUEUE: Queue = Queue::SYSTEM;

    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let waited = (chrono::Utc::now() - self.enqueued_at)
            .to_std()
            .unwrap_or_default();
        context.platform.metrics.probe_picked_up(waited);
        tracing::info!(
            pickup_ms = waited.as_secs_f64() * 1000.0,
            "probe job picked up"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Dispatch;

    impl Job for Dispatch {
        const KIND: &'static str = "test.dispatch";
        const QUEUE: Queue = Queue::new("dispatch").with_max_attempts(4);

        async fn run(self, _: JobContext) -> Result<(), JobError> {
            Ok(())
        }
    }

    fn registry() -> JobRegistry {
        let mut registry = JobRegistry::platform();
        registry.register::<Dispatch>();
        registry
    }

    fn overrides(name: &str, overrides: QueueOverrides) -> JobSettings {
        JobSettings {
            queues: BTreeMap::from([(name.to_string(), overrides)]),
            ..crate::config::Settings::default().jobs
        }
    }

    #[test]
    fn the_registry_learns_queues_from_the_jobs() {
        let registry = registry();
        assert_eq!(registry.queue_names(), vec!["dispatch", "system"]);
        assert_eq!(registry.settings(Dispatch::QUEUE).max_attempts, 4);
    }

    #[test]
    fn queue_settings_override_the_declared_defaults_by_name() {
        let mut registry = registry();
        let settings = overrides(
            "dispatch",
            QueueOverrides {
                concurrency: Some(1),
                ..Default::default()
            },
        );
        registry.apply_settings(&settings).unwrap();
        let dispatch = registry.settings(Dispatch::QUEUE);
        assert_eq!((dispatch.concurrency, dispatch.max_attempts), (1, 4));
    }

    #[test]
    fn an_unknown_queue_or_a_zero_names_the_setting() {
        let error = registry()
            .apply_settings(&overrides("dishes", QueueOverrides::default()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SOUS_JOBS__QUEUES") && error.contains("dishes"),
            "{error}"
        );
        assert!(error.contains("dispatch, system"), "{error}");
        let zero = QueueOverrides {
            concurrency: Some(0),
            ..Default::default()
        };
        let error = registry()
            .apply_settings(&overrides("dispatch", zero))
            .unwrap_err()
            .to_string();
        assert!(error.contains("more than 0"), "{error}");
    }
}
