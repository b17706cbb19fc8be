//! What every module shares, and nothing module-specific: connections, configuration, auth,
//! errors, jobs, storage, cache, metrics.

pub mod auth;
pub mod cache;
pub mod cpu;
pub mod db;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod scheduler;
pub mod signed;
pub mod state;
pub mod storage;
pub mod text;
pub mod uploads;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::config::Settings;
use auth::Auth;
use cache::{Cache, MemoryCache, RedisCache};
use events::EventRoutes;
use events::sns::SnsVerifier;
use jobs::{JobBackend, JobRegistry, Jobs};
use metrics::Metrics;
use state::ModuleState;
use storage::Store;
use uploads::UploadSigner;

/// The shared handles, cheap to clone; HTTP handlers get it as `web::Data<Platform>`, jobs and
/// periodic tasks as an argument.
#[derive(Clone, Debug)]
pub struct Platform {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub store: Store,
    pub cache: Arc<dyn Cache>,
    pub jobs: Jobs,
    pub auth: Auth,
    pub metrics: Metrics,
    /// Which module handles objects created under which key prefix.
    pub event_routes: Arc<EventRoutes>,
    pub sns: SnsVerifier,
    pub upload_signer: UploadSigner,
    /// What modules keep in process for this platform.
    pub state: Arc<ModuleState>,
    /// Parts `/readyz` names without failing on them.
    pub optional_parts: Arc<[http::OptionalPart]>,
    signing_key: SecretString,
}

impl Platform {
    /// What the settings alone can tell is wrong (the signing key, the JWT key, the store's
    /// configuration), found before anything is connected to, created or migrated.
    pub fn check(settings: &Settings) -> anyhow::Result<()> {
        let signing_key = auth::signing_key(settings)?;
        Auth::new(settings, &signing_key)?;
        Store::from_settings(settings)?;
        Ok(())
    }

    /// Connects to everything the settings name. Fails fast, naming what could not be reached.
    pub async fn connect(
        settings: Settings,
        registry: JobRegistry,
        event_routes: EventRoutes,
    ) -> anyhow::Result<Platform> {
        let signing_key = auth::signing_key(&settings)?;
        let upload_signer = UploadSigner::new(&signing_key);
        let sns_region = settings
            .events
            .sns_region
            .clone()
            .or_else(|| settings.s3.region.clone())
            .or_else(|| std::env::var("AWS_REGION").ok());
        let sns = SnsVerifier::new(sns_region, settings.events.verify_sns_signatures);
        let auth = Auth::new(&settings, &signing_key)?;
        let db = db::connect(&settings).await?;
        let store = Store::from_settings(&settings)?;
        let cache: Arc<dyn Cache> = match &settings.redis_url {
            Some(url) => {
                let conn = redis_connection(url.expose(), settings.redis_timeout)
                    .await
                    .context("failed to connect to the cache Redis")?;
                Arc::new(RedisCache::new(
                    conn,
                    &settings.redis_prefix,
                    settings.redis_timeout,
                ))
            }
            None => Arc::new(MemoryCache::default()),
        };
        let backend = JobBackend::connect(&settings).await?;
        Ok(Platform {
            settings: Arc::new(settings),
            db,
            store,
            cache,
            jobs: Jobs::new(backend, registry),
            auth,
            metrics: Metrics::new(),
            event_routes: Arc::new(event_routes),
            sns,
            upload_signer,
            state: Arc::default(),
            optional_parts: Arc::new([]),
            signing_key,
        })
    }
}

impl Platform {
    /// Signs tokens for one `purpose` with a key of their own derived from the signing key.
    pub fn signed_tokens(&self, purpose: &str) -> signed::SignedTokens {
        signed::SignedTokens::new(&self.signing_key, purpose)
    }
}

/// A Redis connection that reconnects by itself. Built here rather than by
/// `apalis_redis::connect`, whose 500 ms response timeout is too short for the queue's scripts;
/// callers that need a shorter bound (the cache) add their own per call.
pub async fn redis_connection(
    url: &str,
    connect_timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout.max(Duration::from_secs(1))))
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    client.get_connection_manager_with_config(config).await
}
