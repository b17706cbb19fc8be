//! The platform's own settings sections; each feature module's section lives in the module.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, ConnectionUrl};
use crate::platform::jobs::QueueOverrides;

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible server (MinIO, s3s, …); unset for AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`.
    pub path_style: bool,
    /// Allow plain-HTTP endpoints (local servers only).
    pub allow_http: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// `HS256` (with the signing key), `RS256` or `ES256` (with `public_key`).
    pub algorithm: JwtAlgorithm,
    /// PEM public key of the identity provider, for RS256/ES256.
    pub public_key: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl JwtSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.algorithm != JwtAlgorithm::HS256 && self.public_key.is_none() {
            return Err(ConfigError::invalid(
                "SOUS_JWT_PUBLIC_KEY",
                "required when SOUS_JWT__ALGORITHM is RS256 or ES256",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Overrides where jobs live: `redis://`, `postgres://` or `sqlite://`. By default Redis when
    /// `redis_url` is set, else the PostgreSQL database, else `data_dir/jobs.db`.
    pub url: Option<ConnectionUrl>,
    /// How often an idle worker looks for work; bounds the api → worker pickup latency.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// A worker silent for this long counts as dead, and its in-flight jobs are run again by
    /// another worker.
    #[serde(with = "humantime_serde")]
    pub orphan_after: Duration,
    /// A worker silent for this long while its queue has due jobs is reported and restarted.
    #[serde(with = "humantime_serde")]
    pub stall_after: Duration,
    /// Per-queue overrides, by queue name; each module declares its queues' defaults.
    pub queues: BTreeMap<String, QueueOverrides>,
}

/// The shortest silence after which a worker may count as dead.
const MIN_ORPHAN_AFTER: Duration = Duration::from_secs(3);

impl JobSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(jobs) = &self.url
            && !matches!(
                jobs.scheme(),
                "redis" | "rediss" | "postgres" | "postgresql" | "sqlite"
            )
        {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__URL",
                format!("`{jobs}`: expected redis://, postgres:// or sqlite://"),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__POLL_INTERVAL",
                "must be more than 0",
            ));
        }
        // The SQL backends compare heartbeats in whole seconds, so a second or two of silence
        // can look like more.
        if self.orphan_after <= self.poll_interval * 2 || self.orphan_after < MIN_ORPHAN_AFTER {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__ORPHAN_AFTER",
                "must be at least 3s and more than twice SOUS_JOBS__POLL_INTERVAL, or live \
                 workers lose their jobs to others",
            ));
        }
        if self.stall_after <= self.poll_interval * 2 {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__STALL_AFTER",
                "must be more than twice SOUS_JOBS__POLL_INTERVAL, or healthy workers count as stalled",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// How often the scheduler looks for periodic work that is due.
    #[serde(with = "humantime_serde")]
    pub tick: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// How long a signed upload URL stays valid unless the module asks otherwise.
    #[serde(with = "humantime_serde")]
    pub expiry: Duration,
    /// How long an upload may wait for its storage event before the scheduler checks the store.
    #[serde(with = "humantime_serde")]
    pub reconcile_after: Duration,
    /// How often the scheduler looks for such uploads.
    #[serde(with = "humantime_serde")]
    pub reconcile_every: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            expiry: Duration::from_secs(15 * 60),
            reconcile_after: Duration::from_secs(120),
            reconcile_every: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// AWS region whose SNS hosts may sign notifications and subscription URLs; defaults to
    /// the S3 region.
    pub sns_region: Option<String>,
    /// Verify SNS signatures (turn off only for local testing without AWS).
    pub verify_sns_signatures: bool,
    /// Shared secret for `POST /v1/storage-events` (`SOUS_EVENTS_TOKEN`); environment only.
    #[serde(skip_serializing, default)]
    pub token: Option<SecretString>,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            sns_region: None,
            verify_sns_signatures: true,
            token: None,
        }
    }
}
