//! Queues: declared by the module that owns them, next to its jobs, with defaults sized for that
//! work; operators override any field by name (`SOUS_JOBS__QUEUES__IMAGE_VARIANTS__CONCURRENCY=1`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A queue. Its name is persisted in the backend: never rename one.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    name: &'static str,
    defaults: QueueSettings,
}

impl Queue {
    /// Small platform work: maintenance, probes.
    pub const SYSTEM: Queue = Queue::new("system");

    /// A queue with the general defaults; chain the `with_*` methods to size it.
    pub const fn new(name: &'static str) -> Queue {
        Queue {
            name,
            defaults: QueueSettings::GENERAL,
        }
    }

    pub const fn with_concurrency(mut self, concurrency: usize) -> Queue {
        self.defaults.concurrency = concurrency;
        self
    }

    pub const fn with_timeout(mut self, timeout: Duration) -> Queue {
        self.defaults.timeout = timeout;
        self
    }

    pub const fn with_max_attempts(mut self, max_attempts: u32) -> Queue {
        self.defaults.max_attempts = max_attempts;
        self
    }

    pub const fn with_backoff(mut self, backoff: Duration) -> Queue {
        self.defaults.backoff = backoff;
        self
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    pub fn defaults(self) -> QueueSettings {
        self.defaults
    }

    /// Whether `setting` (a key of `SOUS_JOBS__QUEUES__…`) names this queue; environment names
    /// cannot hold dashes, so `photo_sizes` names `photo-sizes`.
    pub(crate) fn is_named(self, setting: &str) -> bool {
        setting.replace('_', "-") == self.name
    }
}

/// Queues are the same queue when their names are; defaults are the declaration's business.
impl PartialEq for Queue {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Queue {}

impl PartialOrd for Queue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(other.name)
    }
}

impl std::hash::Hash for Queue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// How a queue runs, after the operator's overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueSettings {
    pub concurrency: usize,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further attempt.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl QueueSettings {
    const GENERAL: QueueSettings = QueueSettings {
        concurrency: 4,
        timeout: Duration::from_secs(60),
        max_attempts: 5,
        backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(600),
    };

    /// `self` with the fields `overrides` sets.
    pub fn overridden_by(self, overrides: &QueueOverrides) -> QueueSettings {
        QueueSettings {
            concurrency: overrides.concurrency.unwrap_or(self.concurrency),
            timeout: overrides.timeout.unwrap_or(self.timeout),
            max_attempts: overrides.max_attempts.unwrap_or(self.max_attempts),
            backoff: overrides.backoff.unwrap_or(self.backoff),
            max_backoff: overrides.max_backoff.unwrap_or(self.max_backoff),
        }
    }

    /// Exponential backoff before retry number `attempt`: `backoff * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// An operator's overrides of one queue; fields left out keep the queue's own defaults.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueOverrides {
    pub concurrency: Option<usize>,
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    pub max_attempts: Option<u32>,
    #[serde(with = "humantime_serde")]
    pub backoff: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_the_fields_they_set() {
        let dispatch = Queue::new("dispatch")
            .with_timeout(Duration::from_secs(30))
            .with_max_attempts(4);
        let settings = dispatch.defaults().overridden_by(&QueueOverrides {
            concurrency: Some(1),
            ..QueueOverrides::default()
        });
        assert_eq!(settings.concurrency, 1);
        assert_eq!(settings.timeout, Duration::from_secs(30));
        assert_eq!(settings.max_attempts, 4);
    }

    #[test]
    fn environment_names_use_underscores() {
        let queue = Queue::new("photo-sizes");
        assert!(queue.is_named("photo_sizes"));
        assert!(queue.is_named("photo-sizes"));
        assert!(!queue.is_named("photos"));
        assert_eq!(queue, Queue::new("photo-sizes").with_concurrency(9));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let settings = QueueSettings {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..QueueSettings::GENERAL
        };
        let delays: Vec<u64> = (1..=5).map(|a| settings.backoff(a).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5]);
    }
}
