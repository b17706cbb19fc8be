//! Settings: `SOUS_*` environment over an optional `sous.toml` over defaults that run with
//! nothing installed. Every value is checked here, at start, so a bad one fails with the name of
//! the setting and what it accepts instead of surfacing later as a confusing runtime error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::images::transform::{Dimension, Preset};
use crate::platform::jobs::QueueOverrides;

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
    pub database_url: String,
    /// `file://…`, `memory://`, `s3://bucket/prefix` or `gs://bucket/prefix`.
    pub store_url: String,
    /// When set, jobs and cache live in Redis.
    pub redis_url: Option<String>,
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
    pub uploads: UploadSettings,
    pub events: EventSettings,
    /// Secret that signs development tokens and local upload URLs. Environment only
    /// (`SOUS_SIGNING_KEY`); never read from `sous.toml`.
    #[serde(skip_serializing, default)]
    pub signing_key: Option<SecretString>,
}

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
    pub url: Option<String>,
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

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelSettings {
    /// Network printers by name: `host:port` (port 9100 when left out), e.g.
    /// `SOUS_LABELS__PRINTERS__DOCK_1=10.0.0.31`.
    pub printers: BTreeMap<String, String>,
    /// A Japanese TrueType/OpenType font for PDF labels; by default the IPAGothic or Noto Sans
    /// CJK font of the system is found.
    pub font_path: Option<PathBuf>,
}

/// The images module: what an upload may be, and which renditions are made ahead of requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageSettings {
    /// Largest upload, in bytes.
    pub max_bytes: u64,
    /// Largest picture, width × height, checked on its header before anything is decoded.
    pub max_pixels: u64,
    /// Most frames an animated GIF or WebP may have (its first frame is what is shown).
    pub max_frames: u32,
    /// Widths made when an image is registered, that other sizes are resized from.
    pub ladder: Vec<Dimension>,
    /// Long side of what is served when a request gives neither `w` nor `h`.
    pub default_long_side: Dimension,
    /// Sizes a requested `w` (or a lone `h`) snaps up to, so that URLs cannot ask for thousands
    /// of distinct sizes; empty to serve sizes as asked.
    pub sizes: Vec<Dimension>,
    /// Renditions made when an image is registered, as query strings with a format:
    /// `["w=320&format=webp", "w=2560&format=webp"]`.
    pub presets: Vec<Preset>,
    /// Largest AVIF (in pixels) made while a request waits; larger ones are made in the
    /// background while the next best format stands in. rav1e takes about half a second for
    /// 640×480 on one core, and seconds for more.
    pub inline_avif_pixels: u64,
    /// Renditions clients asked for that are kept per image version; others are made on each
    /// request (behind a CDN, rarely), so URL variations cannot fill the store.
    pub max_derived_variants: u32,
}

impl Default for ImageSettings {
    fn default() -> Self {
        let size = |pixels| Dimension::try_from(pixels).expect("a valid default size");
        let preset = |query: &str| Preset::try_from(query.to_string()).expect("a valid preset");
        ImageSettings {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_frames: 1000,
            ladder: [320, 640, 1280, 2560].map(size).to_vec(),
            default_long_side: size(2560),
            sizes: [
                16, 32, 48, 64, 96, 128, 160, 240, 320, 480, 640, 750, 828, 960, 1080, 1280, 1600,
                1920, 2048, 2560, 3840,
            ]
            .map(size)
            .to_vec(),
            presets: [
                "w=320&format=webp",
                "w=320&format=avif",
                "w=2560&format=webp",
                "w=2560&format=avif",
            ]
            .map(preset)
            .to_vec(),
            inline_avif_pixels: 640 * 480,
            max_derived_variants: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

/// The roles a process runs; any non-empty subset of api, worker, scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        worker: true,
        scheduler: true,
    };
}

impl FromStr for Roles {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut roles = Roles {
            api: false,
            worker: false,
            scheduler: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "api" => roles.api = true,
                "worker" => roles.worker = true,
                "scheduler" => roles.scheduler = true,
                "all" => roles = Roles::ALL,
                other => {
                    return Err(format!(
                        "unknown role `{other}`: expected a comma-separated list of api, worker, scheduler (or all)"
                    ));
                }
            }
        }
        if roles
            == (Roles {
                api: false,
                worker: false,
                scheduler: false,
            })
        {
            return Err("no role given: expected api, worker, scheduler or all".into());
        }
        Ok(roles)
    }
}

impl TryFrom<String> for Roles {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Roles> for String {
    fn from(r: Roles) -> String {
        let mut parts = Vec::new();
        if r.api {
            parts.push("api");
        }
        if r.worker {
            parts.push("worker");
        }
        if r.scheduler {
            parts.push("scheduler");
        }
        parts.join(",")
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
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
            database_url: "sqlite://data/sous.db?mode=rwc".into(),
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
        let mut settings = Self::from_figment(figment)?;
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
        settings.validate()?;
        Ok(settings)
    }

    /// Extract settings from any figment (tests build theirs from defaults and overrides).
    pub fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(describe_figment_error).collect();
            ConfigError::Parse(messages.join("; "))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let db_scheme = self.database_url.split(':').next().unwrap_or_default();
        if !matches!(db_scheme, "sqlite" | "postgres" | "postgresql") {
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
            && !(redis.starts_with("redis://") || redis.starts_with("rediss://"))
        {
            return Err(ConfigError::invalid(
                "SOUS_REDIS_URL",
                format!("`{redis}`: expected redis://… or rediss://…"),
            ));
        }
        if let Some(jobs) = &self.jobs.url {
            let scheme = jobs.split(':').next().unwrap_or_default();
            if !matches!(
                scheme,
                "redis" | "rediss" | "postgres" | "postgresql" | "sqlite"
            ) {
                return Err(ConfigError::invalid(
                    "SOUS_JOBS__URL",
                    format!("`{jobs}`: expected redis://, postgres:// or sqlite://"),
                ));
            }
        }
        if self.jobs.poll_interval.is_zero() {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__POLL_INTERVAL",
                "must be more than 0",
            ));
        }
        if self.jobs.orphan_after <= self.jobs.poll_interval * 2 {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__ORPHAN_AFTER",
                "must be more than twice SOUS_JOBS__POLL_INTERVAL, or live workers lose their jobs",
            ));
        }
        if self.jobs.stall_after <= self.jobs.poll_interval * 2 {
            return Err(ConfigError::invalid(
                "SOUS_JOBS__STALL_AFTER",
                "must be more than twice SOUS_JOBS__POLL_INTERVAL, or healthy workers count as stalled",
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
        let images = &self.images;
        for (setting, value) in [
            ("SOUS_IMAGES__MAX_BYTES", images.max_bytes),
            ("SOUS_IMAGES__MAX_PIXELS", images.max_pixels),
            ("SOUS_IMAGES__MAX_FRAMES", u64::from(images.max_frames)),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "must be more than 0"));
            }
        }
        for (setting, sizes) in [
            ("SOUS_IMAGES__LADDER", &images.ladder),
            ("SOUS_IMAGES__SIZES", &images.sizes),
        ] {
            if !sizes.is_sorted_by(|a, b| a < b) {
                return Err(ConfigError::invalid(
                    setting,
                    "sizes must be in increasing order, each once",
                ));
            }
        }
        if self.jwt.algorithm != JwtAlgorithm::HS256 && self.jwt.public_key.is_none() {
            return Err(ConfigError::invalid(
                "SOUS_JWT_PUBLIC_KEY",
                "required when SOUS_JWT__ALGORITHM is RS256 or ES256",
            ));
        }
        Ok(())
    }

    /// Whether this runs on embedded defaults (SQLite), where state may live in `data_dir`.
    pub fn is_embedded(&self) -> bool {
        self.database_url.starts_with("sqlite:")
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
        "signing_key" | "jwt_public_key" | "events_token" | "config" | "log" | "require_services"
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
