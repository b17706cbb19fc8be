//! Settings: `SOUS_*` environment over an optional `sous.toml` over defaults that run with
//! nothing installed. Every value is checked here, at start, so a bad one fails with the name of
//! the setting and what it accepts instead of surfacing later as a confusing runtime error.

mod connection_url;
mod roles;
mod sections;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

pub use crate::ads::settings::AdSettings;
pub use crate::bulk::settings::BulkSettings;
pub use crate::classification::settings::ClassificationSettings;
pub use crate::images::settings::ImageSettings;
pub use crate::labels::settings::LabelSettings;
pub use connection_url::ConnectionUrl;
pub use roles::Roles;
pub use sections::{
    EventSettings, JobSettings, JwtAlgorithm, JwtSettings, S3Settings, SchedulerSettings,
    UploadSettings,
};

/// Fully parsed settings. Built only through [`Settings::load`] or [`Settings::from_figment`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The URL clients reach sous at; used to build signed upload URLs.
    pub public_url: Url,
    /// Folder for embedded state: SQLite files, local objects, the generated signing key.
    pub data_dir: PathBuf,
    /// Folder of the classifier weights and their config.json.
    pub model_dir: PathBuf,
    /// `sqlite://…` (embedded) or `postgres://…`.
    pub database_url: ConnectionUrl,
    /// `file://…`, `memory://`, `s3://bucket/prefix` or `gs://bucket/prefix`.
    pub store_url: String,
    /// When set, jobs and cache live in Redis.
    pub redis_url: Option<ConnectionUrl>,
    /// Prefix of every Redis key sous writes, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Timeout of every single Redis call.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// Roles this process runs.
    pub roles: Roles,
    /// Run database migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// `pretty` or `json`; `auto` picks pretty on a terminal, JSON otherwise.
    pub log_format: LogFormat,
    /// Largest JSON or form body accepted by the API, in bytes.
    pub max_body_bytes: usize,
    /// How long a SIGTERM waits for in-flight HTTP requests and jobs.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    pub s3: S3Settings,
    pub jwt: JwtSettings,
    pub jobs: JobSettings,
    pub scheduler: SchedulerSettings,
    pub labels: LabelSettings,
    pub images: ImageSettings,
    pub ads: AdSettings,
    pub bulk: BulkSettings,
    pub classification: ClassificationSettings,
    pub uploads: UploadSettings,
    pub events: EventSettings,
    /// Secret that signs development tokens and local upload URLs. Environment only
    /// (`SOUS_SIGNING_KEY`); never read from `sous.toml`.
    #[serde(skip_serializing, default)]
    pub signing_key: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

/// A setting that is present but wrong; the message names the setting and what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("invalid setting {setting}: {problem}")]
    Invalid {
        setting: &'static str,
        problem: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            problem: problem.into(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            public_url: Url::parse("http://127.0.0.1:8080").expect("valid default URL"),
            data_dir: PathBuf::from("data"),
            model_dir: PathBuf::from("models"),
            database_url: ConnectionUrl::from("sqlite://data/sous.db?mode=rwc"),
            store_url: "file://data/objects".into(),
            redis_url: None,
            redis_prefix: "sous".into(),
            redis_timeout: Duration::from_millis(500),
            roles: Roles::ALL,
            migrate_on_start: true,
            log_format: LogFormat::Auto,
            max_body_bytes: 1024 * 1024,
            shutdown_timeout: Duration::from_secs(30),
            s3: S3Settings::default(),
            jwt: JwtSettings {
                algorithm: JwtAlgorithm::HS256,
                public_key: None,
                issuer: None,
                audience: None,
            },
            jobs: JobSettings {
                url: None,
                poll_interval: Duration::from_millis(500),
                orphan_after: Duration::from_secs(60),
                stall_after: Duration::from_secs(30),
                queues: BTreeMap::new(),
            },
            scheduler: SchedulerSettings {
                tick: Duration::from_secs(15),
            },
            labels: LabelSettings::default(),
            images: ImageSettings::default(),
            ads: AdSettings::default(),
            bulk: BulkSettings::default(),
            classification: ClassificationSettings::default(),
            uploads: UploadSettings::default(),
            events: EventSettings::default(),
            signing_key: None,
        }
    }
}

impl Settings {
    /// Defaults, then `sous.toml` (or the file in `SOUS_CONFIG`) if present, then `SOUS_*`.
    pub fn load() -> Result<Settings, ConfigError> {
        let file = std::env::var("SOUS_CONFIG").unwrap_or_else(|_| "sous.toml".into());
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(env_provider());
        let mut settings = Self::extract(figment)?;
        // Secrets come from the environment only, never from a file that may be committed.
        settings.signing_key = std::env::var("SOUS_SIGNING_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .map(SecretString::from);
        settings.events.token = std::env::var("SOUS_EVENTS_TOKEN")
            .ok()
            .filter(|k| !k.is_empty())
            .map(SecretString::from);
        if settings.jwt.public_key.is_none() {
            settings.jwt.public_key = std::env::var("SOUS_JWT_PUBLIC_KEY").ok();
        }
        settings.images.url_keys = std::env::var("SOUS_IMAGES_URL_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| SecretString::from(k.to_string()))
            .collect();
        settings.validate()?;
        Ok(settings)
    }

    /// Extract settings from any figment (tests build theirs from defaults and overrides).
    pub fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings = Self::extract(figment)?;
        settings.validate()?;
        Ok(settings)
    }

    fn extract(figment: Figment) -> Result<Settings, ConfigError> {
        figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(describe_figment_error).collect();
            ConfigError::Parse(messages.join("; "))
        })
    }

    /// The platform's own checks, then each section's.
    fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(
            self.database_url.scheme(),
            "sqlite" | "postgres" | "postgresql"
        ) {
            return Err(ConfigError::invalid(
                "SOUS_DATABASE_URL",
                format!(
                    "`{}`: expected sqlite://… or postgres://…",
                    self.database_url
                ),
            ));
        }
        let store_scheme = self.store_url.split(':').next().unwrap_or_default();
        if !matches!(store_scheme, "file" | "memory" | "s3" | "gs") {
            return Err(ConfigError::invalid(
                "SOUS_STORE_URL",
                format!(
                    "`{}`: expected file://, memory://, s3:// or gs://",
                    self.store_url
                ),
            ));
        }
        if let Some(redis) = &self.redis_url
            && !matches!(redis.scheme(), "redis" | "rediss")
        {
            return Err(ConfigError::invalid(
                "SOUS_REDIS_URL",
                format!("`{redis}`: expected redis://… or rediss://…"),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::invalid(
                "SOUS_MAX_BODY_BYTES",
                "must be more than 0",
            ));
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "SOUS_REDIS_PREFIX",
                "must be a non-empty word without spaces",
            ));
        }
        self.jwt.validate()?;
        self.jobs.validate()?;
        self.labels.validate()?;
        self.images.validate()?;
        self.ads.validate()?;
        self.bulk.validate()?;
        self.classification.validate()?;
        Ok(())
    }

    /// Whether this runs on embedded defaults (SQLite), where state may live in `data_dir`.
    pub fn is_embedded(&self) -> bool {
        self.database_url.scheme() == "sqlite"
    }
}

/// `SOUS_FOO` → `foo`; `SOUS_JOBS__POLL_INTERVAL` → `jobs.poll_interval`. The signing key and
/// the JWT public key are read separately so they never pass through a generic provider.
fn env_provider() -> Env {
    Env::prefixed("SOUS_")
        .filter(|key| !is_not_a_setting(key.as_str()))
        .split("__")
        .map(|key| {
            // Accept the flat forms DESIGN.md documents (`SOUS_S3_ENDPOINT`) as well.
            let key = key.as_str().to_ascii_lowercase();
            for section in ["s3_", "jwt_"] {
                if let Some(rest) = key.strip_prefix(section) {
                    return format!("{}.{rest}", &section[..section.len() - 1]).into();
                }
            }
            key.into()
        })
}

/// `SOUS_*` variables that are read elsewhere (secrets, the log filter, the config path) or
/// belong to the test and benchmark harnesses, so the strict settings parser must not see them.
fn is_not_a_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let key = key.as_str();
    matches!(
        key,
        "signing_key"
            | "jwt_public_key"
            | "events_token"
            | "images_url_keys"
            | "config"
            | "log"
            | "require_services"
    ) || key.starts_with("test_")
        || key.starts_with("bench_")
}

fn describe_figment_error(error: figment::Error) -> String {
    let setting = if error.path.is_empty() {
        String::new()
    } else {
        format!("SOUS_{}", error.path.join("__").to_uppercase())
    };
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" (from {} {source})", m.name),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let kind = error.kind.to_string();
    if setting.is_empty() {
        format!("invalid setting{source}: {kind}")
    } else {
        format!("invalid setting {setting}{source}: {kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        for (key, value) in pairs {
            figment = figment.merge((key.to_string(), value.to_string()));
        }
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_are_embedded() {
        let s = with(&[]).unwrap();
        assert!(s.is_embedded());
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.roles, Roles::ALL);
    }

    #[test]
    fn passwords_in_connection_urls_stay_out_of_errors_and_debug_output() {
        let err = with(&[("database_url", "mysql://root:hunter2@db/sous")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SOUS_DATABASE_URL")
                && err.contains("root:***@db")
                && !err.contains("hunter2"),
            "{err}"
        );
        let settings = with(&[("redis_url", "redis://:hunter2@cache:6379")]).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            settings.redis_url.unwrap().expose(),
            "redis://:hunter2@cache:6379"
        );
    }

    #[test]
    fn worker_timeouts_are_checked_at_and_past_their_bounds() {
        let ok = with(&[("jobs.orphan_after", "3s"), ("jobs.stall_after", "1001ms")]);
        assert!(ok.is_ok(), "{:?}", ok.err());
        let err = with(&[("jobs.orphan_after", "2999ms")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SOUS_JOBS__ORPHAN_AFTER"), "{err}");
        // Both must exceed twice the poll interval (500 ms by default).
        let err = with(&[("jobs.stall_after", "1s")]).unwrap_err().to_string();
        assert!(err.contains("SOUS_JOBS__STALL_AFTER"), "{err}");
        let err = with(&[("jobs.poll_interval", "30s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SOUS_JOBS__ORPHAN_AFTER"), "{err}");
    }

    #[test]
    fn roles_parse_any_subset() {
        let r: Roles = "api, worker".parse().unwrap();
        assert!(r.api && r.worker && !r.scheduler);
        assert!("".parse::<Roles>().is_err());
        let err = "api,cook".parse::<Roles>().unwrap_err();
        assert!(err.contains("cook"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = with(&[("bind", "not-an-address")]).unwrap_err().to_string();
        assert!(err.contains("SOUS_BIND"), "{err}");
        let err = with(&[("store_url", "ftp://x")]).unwrap_err().to_string();
        assert!(
            err.contains("SOUS_STORE_URL") && err.contains("s3://"),
            "{err}"
        );
        let err = with(&[("database_url", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SOUS_DATABASE_URL"), "{err}");
        let err = with(&[("roles", "chef")]).unwrap_err().to_string();
        assert!(err.contains("SOUS_ROLES") && err.contains("chef"), "{err}");
    }

    #[test]
    fn image_settings_are_checked() {
        let s = with(&[]).unwrap();
        assert_eq!(s.images.default_long_side.get(), 2560);
        assert_eq!(
            serde_json::to_value(&s.images.presets).unwrap(),
            serde_json::json!([
                "w=320&format=webp",
                "w=320&format=avif",
                "w=2560&format=webp",
                "w=2560&format=avif"
            ])
        );
        assert_eq!(
            (s.images.max_pixels, s.images.max_bytes),
            (50_000_000, 32 << 20)
        );
        let figment = |key: &str, value: serde_json::Value| {
            Figment::from(Serialized::defaults(Settings::default()))
                .merge(Serialized::default(key, value))
        };
        let err = |key: &str, value: serde_json::Value| {
            Settings::from_figment(figment(key, value))
                .unwrap_err()
                .to_string()
        };
        let ok = Settings::from_figment(figment("images.ladder", serde_json::json!([100, 4096])));
        assert_eq!(ok.unwrap().images.ladder.len(), 2);
        let e = err("images.ladder", serde_json::json!([100, 4097]));
        assert!(
            e.contains("SOUS_IMAGES__LADDER") && e.contains("got 4097"),
            "{e}"
        );
        let e = err("images.ladder", serde_json::json!([640, 320]));
        assert!(e.contains("increasing"), "{e}");
        let e = err("images.sizes", serde_json::json!([320, 320]));
        assert!(
            e.contains("SOUS_IMAGES__SIZES") && e.contains("increasing"),
            "{e}"
        );
        let e = err("images.presets", serde_json::json!(["w=320"]));
        assert!(
            e.contains("SOUS_IMAGES__PRESETS") && e.contains("needs a format"),
            "{e}"
        );
        let e = err("images.default_long_side", serde_json::json!(0));
        assert!(e.contains("SOUS_IMAGES__DEFAULT_LONG_SIDE"), "{e}");
        let e = err("images.max_pixels", serde_json::json!(0));
        assert!(e.contains("SOUS_IMAGES__MAX_PIXELS"), "{e}");
    }
}
