//! At least once under `kill -9`: a `sous serve --roles worker` process killed in the middle of
//! a job has that job run again by another worker once the orphan timeout passes, and the
//! job's effect (an image's variants) happens once, on every backend.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use sous::config::{Roles, Settings};

use crate::helpers::{TEST_SIGNING_KEY, TestApp, backends, eventually, test_settings};
use crate::images::objects_under;
use crate::images::samples::jpeg;

const ORPHAN_AFTER: Duration = Duration::from_secs(3);

/// `sous serve --roles worker` with the test's settings, its JSON log read line by line.
struct Worker {
    process: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Worker {
    fn spawn(settings: &Settings) -> Worker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sous"));
        command
            .args(["serve", "--roles", "worker"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SOUS_LOG_FORMAT", "json")
            .env("SOUS_LOG", "info")
            .env("SOUS_SIGNING_KEY", TEST_SIGNING_KEY)
            .env("SOUS_DATA_DIR", &settings.data_dir)
            .env("SOUS_DATABASE_URL", settings.database_url.expose())
            .env("SOUS_STORE_URL", &settings.store_url)
            .env("SOUS_REDIS_PREFIX", &settings.redis_prefix)
            .env("SOUS_JOBS__POLL_INTERVAL", "100ms")
            .env(
                "SOUS_JOBS__ORPHAN_AFTER",
                format!("{}s", ORPHAN_AFTER.as_secs()),
            )
            .env("SOUS_IMAGES__PRESETS", r#"["w=320&format=webp"]"#)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(redis) = &settings.redis_url {
            command.env("SOUS_REDIS_URL", redis.expose());
        }
        let mut process = command.spawn().expect("sous starts");
        let stderr = process.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Worker {
            process,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line holding every one of `parts`.
    fn wait_for(&mut self, parts: &[&str], within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = parts.iter().all(|part| line.contains(part));
                    self.seen.push(line);
                    if found {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    fn kill(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
        // What it wrote before dying.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
    }

    /// When the log says the job of `kind` started.
    fn started_at(&self, kind: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.seen
            .iter()
            .filter(|line| line.contains("job started") && line.contains(kind))
            .find_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                entry["timestamp"].as_str()?.parse().ok()
            })
    }

    fn logged(&self, part: &str) -> bool {
        self.seen.iter().any(|line| line.contains(part))
    }

    fn log(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn variants(app: &TestApp, id: &str) -> Vec<String> {
    let (_, body) = app
        .get_json(&app.token("alice", &[]), &format!("/v1/images/{id}"))
        .await;
    body["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_is_killed_runs_again_elsewhere_and_its_effect_happens_once() {
    // Large enough that making its variants takes a while: the kill lands mid-job.
    let photo = jpeg(6000, 4000, |x, y| {
        [(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 256) as u8]
    });
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(&backend, dir.path()).await;
        settings.jobs.orphan_after = ORPHAN_AFTER;
        settings.images.presets = vec!["w=320&format=webp".to_string().try_into().unwrap()];
        let api_settings = Settings {
            roles: Roles {
                api: true,
                worker: false,
                scheduler: false,
            },
            ..settings.clone()
        };
        let api = TestApp::start(api_settings, |b| b, tempfile::tempdir().unwrap()).await;
        let mut first = Worker::spawn(&settings);

        let response = api
            .client
            .post(api.url("/v1/images"))
            .bearer_auth(api.token("alice", &[]))
            .header(CONTENT_TYPE, "image/jpeg")
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{backend:?}");
        let image: Value = response.json().await.unwrap();
        let id = image["id"].as_str().unwrap().to_string();

        assert!(
            first.wait_for(&["job started", "images.variants"], Duration::from_secs(60)),
            "{backend:?}: the first worker never started the job:\n{}",
            first.log()
        );
        first.kill();
        assert!(
            !first.logged("variants made"),
            "{backend:?}: the job finished before the kill; nothing was tested"
        );
        let killed = chrono::Utc::now();

        let mut second = Worker::spawn(&settings);
        // The ladder's four rungs under 6000 px and the one preset.
        let expected = 5;
        let done = eventually(Duration::from_secs(90), || async {
            variants(&api, &id).await.len() >= expected
        })
        .await;
        assert!(
            done,
            "{backend:?}: variants {:?} after the kill\n{}",
            variants(&api, &id).await,
            second.log()
        );
        let made = variants(&api, &id).await;
        let jpegs = made
            .iter()
            .filter(|name| name.ends_with("-q90.jpg"))
            .count();
        assert_eq!((made.len(), jpegs), (expected, 4), "{backend:?}: {made:?}");
        // Each rendition stored once beside the original, nothing left over from the killed run.
        let objects = objects_under(&api, &format!("images/{id}")).await;
        assert_eq!(objects.len(), expected + 1, "{backend:?}: {objects:?}");
        assert!(
            second.wait_for(&["variants made"], Duration::from_secs(10)),
            "{backend:?}: the second worker did not run the job:\n{}",
            second.log()
        );
        // Taken over only once the first worker counted as dead; the SQL backends count whole
        // seconds.
        let started = second
            .started_at("images.variants")
            .expect("the second worker logged the job's start");
        let waited = (started - killed).to_std().unwrap_or_default();
        assert!(
            waited + Duration::from_secs(1) >= ORPHAN_AFTER,
            "{backend:?}: run again {waited:?} after the kill"
        );
        let dead = api
            .client
            .get(api.url("/v1/admin/jobs"))
            .bearer_auth(api.admin_token())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(dead["items"], serde_json::json!([]), "{backend:?}");
        second.kill();
        api.stop().await.unwrap();
    }
}
