//! The test harness: a real app on a free port, with its own database, store and queue.

use std::sync::LazyLock;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use sous::config::Settings;
use sous::platform::Platform;
use sous::platform::jobs::{Queue, QueueOverrides};
use sous::{Application, ApplicationBuilder};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where jobs (and the database) live in a run of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// SQLite database, SQLite job queue, in-process cache.
    Embedded,
    /// SQLite database, Redis jobs and cache.
    Redis(String),
    /// PostgreSQL database and job queue, in-process cache.
    Postgres(String),
}

/// A service URL from the environment; with `SOUS_REQUIRE_SERVICES=1` a missing one fails.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("{var} is not set and SOUS_REQUIRE_SERVICES=1"),
        _ => {
            eprintln!("note: {var} is not set; skipping what needs it");
            None
        }
    }
}

pub fn required() -> bool {
    std::env::var("SOUS_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// The embedded backend always, Redis and PostgreSQL when their URLs are given.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Embedded];
    if let Some(url) = service_url("SOUS_TEST_REDIS_URL") {
        backends.push(Backend::Redis(url));
    }
    if let Some(url) = service_url("SOUS_TEST_DATABASE_URL") {
        backends.push(Backend::Postgres(url));
    }
    backends
}

/// A fresh PostgreSQL database next to the one in `base_url`.
pub async fn fresh_postgres_database(base_url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(base_url)
        .await
        .expect("connect to the test PostgreSQL");
    let name = format!("sous_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(base_url).expect("valid PostgreSQL URL");
    url.set_path(&name);
    url.to_string()
}

static INIT: LazyLock<()> = LazyLock::new(|| {
    sous::install_crypto_provider();
    if std::env::var("SOUS_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("SOUS_LOG"))
            .with_test_writer()
            .try_init();
    }
});

pub const TEST_SIGNING_KEY: &str = "test-signing-key-0123456789abcdef0123456789abcdef";

/// Settings for a test: everything under `dir`, a free port, fast polling and short backoff.
pub async fn test_settings(backend: &Backend, dir: &std::path::Path) -> Settings {
    LazyLock::force(&INIT);
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("sous.db").display()).into(),
        store_url: format!("file://{}", dir.join("objects").display()),
        signing_key: Some(TEST_SIGNING_KEY.to_string().into()),
        shutdown_timeout: Duration::from_secs(10),
        ..Settings::default()
    };
    settings.jobs.poll_interval = Duration::from_millis(100);
    // Most tests never show an ad; the ads tests load the sample table themselves.
    settings.ads.seed_ingredients = false;
    settings.jobs.queues.insert(
        "system".into(),
        QueueOverrides {
            concurrency: Some(4),
            timeout: Some(Duration::from_secs(5)),
            max_attempts: Some(3),
            backoff: Some(Duration::from_secs(1)),
            max_backoff: Some(Duration::from_secs(5)),
        },
    );
    match backend {
        Backend::Embedded => {}
        Backend::Redis(url) => {
            settings.redis_url = Some(url.as_str().into());
            settings.redis_prefix = format!("sous-test-{}", uuid::Uuid::now_v7().simple());
        }
        Backend::Postgres(url) => settings.database_url = fresh_postgres_database(url).await.into(),
    }
    settings
}

pub struct TestApp {
    pub address: String,
    pub platform: Platform,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
}

impl TestApp {
    pub async fn spawn(backend: &Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}, |b| b).await
    }

    /// Spawns with settings and builder adjusted by the test.
    pub async fn spawn_with(
        backend: &Backend,
        configure: impl FnOnce(&mut Settings),
        build: impl FnOnce(ApplicationBuilder) -> ApplicationBuilder,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(backend, dir.path()).await;
        configure(&mut settings);
        Self::start(settings, build, dir).await
    }

    pub async fn start(
        settings: Settings,
        build: impl FnOnce(ApplicationBuilder) -> ApplicationBuilder,
        dir: TempDir,
    ) -> TestApp {
        let app = build(Application::builder(settings))
            .build()
            .await
            .expect("app builds");
        let address = app
            .port()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .unwrap_or_default();
        let platform = app.platform().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            address,
            platform,
            // Shorter than the server's keep-alive, so a pooled connection is never reused just
            // as the server closes it.
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            running: Some(running),
            _dir: dir,
        }
    }

    /// The `sous` command line against this app's database, store, key and public URL, as an
    /// operator runs it beside a deployment; add the arguments and any further settings.
    pub fn command(&self) -> std::process::Command {
        let settings = &self.platform.settings;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sous"));
        command
            .env("SOUS_PUBLIC_URL", settings.public_url.as_str())
            .env("SOUS_DATA_DIR", &settings.data_dir)
            .env("SOUS_DATABASE_URL", settings.database_url.expose())
            .env("SOUS_STORE_URL", &settings.store_url)
            .env("SOUS_SIGNING_KEY", TEST_SIGNING_KEY)
            .env("SOUS_LOG_FORMAT", "json")
            .env_remove("SOUS_REDIS_URL");
        command
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn token(&self, subject: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.platform
            .auth
            .issue(subject, &scopes, Duration::from_secs(600))
            .unwrap()
    }

    pub fn admin_token(&self) -> String {
        self.token("ops", &["admin"])
    }

    /// A GET with `token`: the status and the JSON body.
    pub async fn get_json(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// POSTs `bytes` to /v1/images with `token`, labelled JPEG whatever they are (the server
    /// sniffs the real format): the status and the body, for tests that expect a refusal.
    pub async fn upload_image(&self, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/v1/images"))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "image/jpeg")
            .body(bytes)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Registers `bytes` as an image of `owner`, which must be a new one (201), and returns it.
    pub async fn register_image(&self, owner: &str, bytes: Vec<u8>) -> Value {
        let (status, image) = self.upload_image(&self.token(owner, &[]), bytes).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "registering for {owner}: {image}"
        );
        image
    }

    /// Waits until this app has no job left to do, and panics if that takes longer than
    /// `within`: in every declared queue nothing waits or is scheduled (retries are scheduled
    /// jobs) and nothing runs in this process, and that holds for a settle period of 200 ms
    /// with no attempt finishing meanwhile. Jobs run by other processes are not seen running.
    pub async fn run_jobs_until_idle(&self, within: Duration) {
        const SETTLE: Duration = Duration::from_millis(200);
        let (jobs, metrics) = (&self.platform.jobs, &self.platform.metrics);
        let queues: Vec<Queue> = jobs.registry().queues().collect();
        let deadline = Instant::now() + within;
        let mut quiet: Option<(Instant, Vec<u64>)> = None;
        loop {
            let mut busy = Vec::new();
            for queue in &queues {
                let waiting = jobs.backend().pending(*queue).await.unwrap();
                let running = metrics.jobs_running(*queue);
                if waiting + running > 0 {
                    busy.push(format!("{queue}: {waiting} waiting, {running} running"));
                }
            }
            let finished: Vec<u64> = queues.iter().map(|q| metrics.jobs_finished(*q)).collect();
            let now = Instant::now();
            match &quiet {
                _ if !busy.is_empty() => quiet = None,
                Some((since, seen)) if *seen == finished => {
                    if now - *since >= SETTLE {
                        return;
                    }
                }
                _ => quiet = Some((now, finished)),
            }
            assert!(now < deadline, "jobs still busy after {within:?}: {busy:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Asks every role to stop and waits for them (in-flight work finishes first).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.running.take().unwrap().await.expect("app task")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs `command`, fails the test with its output unless it succeeds, and returns its stdout.
pub fn stdout_of(mut command: std::process::Command) -> String {
    let output = command.output().expect("the command runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Polls `check` every 25 ms until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An S3-compatible server (moto) on a spare port, with one bucket.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    /// `None` when moto_server is not installed (the S3 round trips are then skipped).
    pub async fn start(bucket: &str) -> Option<Moto> {
        let port = free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            assert!(
                !required(),
                "moto_server is not installed and SOUS_REQUIRE_SERVICES=1"
            );
            eprintln!(
                "note: moto_server is not installed (pip install 'moto[server]'); skipping an S3 round trip"
            );
            return None;
        };
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let up = eventually(Duration::from_secs(20), || async {
            client.get(&moto.endpoint).send().await.is_ok()
        })
        .await;
        assert!(up, "moto_server did not start");
        client
            .put(format!("{}/{bucket}", moto.endpoint))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        Some(moto)
    }

    /// S3 credentials come from the environment, which a test must not change under other
    /// threads: `test` runs again in a child process of this binary, with `marker` set to the
    /// endpoint and credentials of its own.
    pub fn run_child(&self, test: &str, marker: &str) {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture"])
            .env(marker, &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// S3 settings pointing at this server.
    pub fn s3_settings(endpoint: &str) -> sous::config::S3Settings {
        sous::config::S3Settings {
            endpoint: Some(endpoint.to_string()),
            region: Some("us-east-1".into()),
            path_style: true,
            allow_http: true,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
