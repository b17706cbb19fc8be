//! sous: the back-kitchen pipelines of a food and commerce platform, in one binary.
//!
//! This file composes: it builds the [`Platform`], mounts every module's routes, registers every
//! module's jobs and periodic tasks, and runs the roles this process was asked to run.

pub mod ads;
pub mod bulk;
pub mod classification;
pub mod config;
pub mod console;
pub mod images;
pub mod labels;
pub mod platform;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use config::{Roles, Settings};
use platform::Platform;
use platform::events::{EventRoutes, ObjectCreated};
use platform::jobs::{Job, JobRegistry};
use platform::scheduler::Schedule;

/// object_store (aws-lc-rs) and sqlx (ring) both link rustls, which then refuses to guess a
/// crypto provider: pick one before anything builds a TLS config.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Every job of every module.
fn job_registry() -> JobRegistry {
    let mut registry = JobRegistry::platform();
    labels::register_jobs(&mut registry);
    images::register_jobs(&mut registry);
    bulk::register_jobs(&mut registry);
    classification::register_jobs(&mut registry);
    registry
}

/// The platform's and every module's periodic work.
fn schedule(settings: &Settings) -> Schedule {
    let mut schedule = Schedule::default();
    schedule.every(
        "uploads.reconcile",
        settings.uploads.reconcile_every,
        platform::uploads::reconcile,
    );
    schedule
        .on_each_replica(
            "jobs.activity",
            platform::jobs::activity::FLUSH_EVERY,
            platform::jobs::activity::flush,
        )
        .at_stop();
    images::register_tasks(&mut schedule, settings);
    ads::register_tasks(&mut schedule, settings);
    schedule
}

/// Which module handles objects created under which key prefix.
fn event_routes() -> EventRoutes {
    let mut routes = EventRoutes::default();
    images::register_events(&mut routes);
    bulk::register_events(&mut routes);
    classification::register_events(&mut routes);
    routes
}

/// Parts of modules a replica can do without, named by `/readyz`.
fn optional_parts() -> Vec<platform::http::OptionalPart> {
    vec![classification::optional_part()]
}

/// Every route: the platform's, then each module's.
fn routes(cfg: &mut web::ServiceConfig) {
    platform::http::health_routes(cfg);
    platform::auth::api::routes(cfg);
    platform::jobs::api::routes(cfg);
    labels::routes(cfg);
    images::routes(cfg);
    ads::routes(cfg);
    bulk::routes(cfg);
    classification::routes(cfg);
    platform::uploads::api::routes(cfg);
    platform::uploads::notifications::routes(cfg);
    console::routes(cfg);
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "sous", description = "Back-kitchen pipelines of a food and commerce platform"),
    modifiers(&BearerAuth),
    components(schemas(platform::http::Problem, platform::http::FieldError, platform::http::Code))
)]
struct ApiDoc;

/// The OpenAPI document of every `/v1` endpoint.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(platform::auth::api::AuthApi::openapi());
    doc.merge(platform::jobs::api::AdminJobsApi::openapi());
    doc.merge(labels::api::LabelsApi::openapi());
    doc.merge(images::api::ImagesApi::openapi());
    doc.merge(ads::api::AdsApi::openapi());
    doc.merge(bulk::api::BulkApi::openapi());
    doc.merge(bulk::products::api::ProductsApi::openapi());
    doc.merge(classification::api::MealPhotosApi::openapi());
    doc.merge(platform::uploads::notifications::StorageEventsApi::openapi());
    doc
}

type RouteConfig = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Builds an [`Application`]; tests add their own jobs, periodic tasks and routes through it.
pub struct ApplicationBuilder {
    settings: Settings,
    jobs: JobRegistry,
    schedule: Schedule,
    event_routes: EventRoutes,
    extra_routes: Vec<RouteConfig>,
    store_layer: Option<StoreLayer>,
}

/// A wrapper put around the object store as the application is built.
type StoreLayer = Box<
    dyn FnOnce(Arc<dyn object_store::ObjectStore>) -> Arc<dyn object_store::ObjectStore> + Send,
>;

impl ApplicationBuilder {
    /// Puts `layer` around the object store the settings name (`object_store::limit::LimitStore`
    /// to bound concurrent requests, or a wrapper that counts them).
    pub fn store_layer(
        mut self,
        layer: impl FnOnce(Arc<dyn object_store::ObjectStore>) -> Arc<dyn object_store::ObjectStore>
        + Send
        + 'static,
    ) -> Self {
        self.store_layer = Some(Box::new(layer));
        self
    }

    /// Objects created under `prefix` start job `J` (which this registers too).
    pub fn on_object_created<J: Job + From<ObjectCreated>>(mut self, prefix: &str) -> Self {
        self.jobs.register::<J>();
        self.event_routes.on_created::<J>(prefix);
        self
    }

    pub fn job<J: Job>(mut self) -> Self {
        self.jobs.register::<J>();
        self
    }

    pub fn periodic<F, Fut>(
        mut self,
        name: &'static str,
        every: std::time::Duration,
        run: F,
    ) -> Self
    where
        F: Fn(Platform) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.schedule.every(name, every, run);
        self
    }

    /// Mounts more routes beside the modules' own (they get the same platform and error handling).
    pub fn routes(
        mut self,
        configure: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.extra_routes.push(Arc::new(configure));
        self
    }

    /// Connects to everything, migrates if configured, and binds the listener when the api role
    /// runs (port 0 picks a free port, see [`Application::port`]).
    pub async fn build(self) -> anyhow::Result<Application> {
        let ApplicationBuilder {
            settings,
            mut jobs,
            schedule,
            event_routes,
            extra_routes,
            store_layer,
        } = self;
        // Every setting is checked before anything is connected to, created or migrated.
        jobs.apply_settings(&settings.jobs)?;
        Platform::check(&settings)?;
        let roles = settings.roles;
        let listener = if roles.api {
            let listener = TcpListener::bind(settings.bind)
                .with_context(|| format!("failed to listen on {} (SOUS_BIND)", settings.bind))?;
            listener.set_nonblocking(true)?;
            Some(listener)
        } else {
            None
        };
        if settings.migrate_on_start {
            // On a connection of its own: SQLite connections that cached the schema half-way
            // through a migration can fail to prepare statements against the new tables.
            let db = platform::db::connect(&settings).await?;
            platform::db::migrate(&db).await?;
            db.close()
                .await
                .context("failed to close the migration connection")?;
        }
        let mut platform = Platform::connect(settings, jobs, event_routes).await?;
        if let Some(layer) = store_layer {
            platform.store = platform.store.layered(layer);
        }
        platform.optional_parts = optional_parts().into();
        Ok(Application {
            platform,
            listener,
            schedule,
            extra_routes,
            roles,
        })
    }
}

pub struct Application {
    platform: Platform,
    listener: Option<TcpListener>,
    schedule: Schedule,
    extra_routes: Vec<RouteConfig>,
    roles: Roles,
}

impl Application {
    pub fn builder(settings: Settings) -> ApplicationBuilder {
        ApplicationBuilder {
            schedule: schedule(&settings),
            settings,
            jobs: job_registry(),
            event_routes: event_routes(),
            extra_routes: Vec::new(),
            store_layer: None,
        }
    }

    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::builder(settings).build().await
    }

    /// The port the api role listens on.
    pub fn port(&self) -> Option<u16> {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Runs this process's roles until `shutdown` resolves, then stops them gracefully: the
    /// server finishes in-flight requests, workers finish in-flight jobs, each up to the
    /// shutdown timeout. If one role fails, the others are stopped too.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            platform,
            listener,
            schedule,
            extra_routes,
            roles,
        } = self;
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        });
        tracing::info!(%roles, jobs = platform.jobs.backend().kind(), "sous starting");

        let replica_tasks = tokio::spawn(platform::scheduler::run_on_each_replica(
            platform.clone(),
            schedule.clone(),
            stop.clone().cancelled_owned(),
        ));
        let mut roles_running = tokio::task::JoinSet::new();
        if let Some(listener) = listener {
            let server = http_server(platform.clone(), listener, extra_routes)?;
            let handle = server.handle();
            let stop = stop.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                handle.stop(true).await;
            });
            roles_running.spawn(async move { ("api", server.await.context("HTTP server failed")) });
        }
        if roles.worker {
            let (platform, stop) = (platform.clone(), stop.clone());
            roles_running.spawn(async move {
                let result = platform::jobs::run_workers(platform, stop.cancelled_owned()).await;
                ("worker", result)
            });
        }
        if roles.scheduler {
            let (platform, stop, schedule) = (platform.clone(), stop.clone(), schedule.clone());
            roles_running.spawn(async move {
                platform::scheduler::run_scheduler(platform, schedule, stop.cancelled_owned())
                    .await;
                ("scheduler", Ok(()))
            });
        }

        let mut first_error = None;
        while let Some(joined) = roles_running.join_next().await {
            let (role, result) = joined.context("a role panicked")?;
            match result {
                Ok(()) => tracing::info!(role, "stopped"),
                Err(error) => {
                    tracing::error!(
                        role,
                        error = format!("{error:#}"),
                        "stopped with an error; stopping the others"
                    );
                    stop.cancel();
                    first_error.get_or_insert(error);
                }
            }
            if !stop.is_cancelled() {
                tracing::warn!(role, "stopped on its own; stopping the others");
                stop.cancel();
            }
        }
        replica_tasks.await.ok();
        platform::scheduler::final_pass(&platform, &schedule).await;
        platform.db.clone().close().await.ok();
        first_error.map_or(Ok(()), Err)
    }
}

fn http_server(
    platform: Platform,
    listener: TcpListener,
    extra_routes: Vec<RouteConfig>,
) -> anyhow::Result<actix_web::dev::Server> {
    let max_body = platform.settings.max_body_bytes;
    let shutdown_secs = platform.settings.shutdown_timeout.as_secs();
    let platform = web::Data::new(platform);
    let doc = web::Data::new(openapi());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(platform.clone())
            .app_data(doc.clone())
            .configure(|cfg| platform::http::extractor_configs(cfg, max_body))
            .configure(routes)
            .configure(|cfg| extra_routes.iter().for_each(|extra| extra(cfg)))
            .default_service(web::to(platform::http::not_found))
            .wrap(ErrorHandlers::new().default_handler(platform::http::problem_for_foreign_errors))
            .wrap(from_fn(platform::http::observe))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(shutdown_secs)
    .run();
    Ok(server)
}
