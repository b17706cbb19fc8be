//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against a real sous. Each test signs in, works a page as an operator would, and saves a
//! screenshot of it under `target/console-screenshots/`.
//!
//! Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`; `.ci/run`
//! installs them). Without them these tests skip, unless `SOUS_REQUIRE_SERVICES=1`.

mod ads;
mod bulk;
mod images;
mod jobs;
mod labels;
mod layout;
mod meal_photos;
mod signin;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sous::ApplicationBuilder;
use sous::config::Settings;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::helpers::{Backend, TestApp, free_port, required};

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

fn program(var: &str, default: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_string()));
    path.exists().then_some(path)
}

/// Binds a known port and names it as the public URL: the upload URLs sous signs, and the
/// image links it returns, then point at this server rather than the default 8080.
fn serve_at_own_address(settings: &mut Settings) {
    let port = free_port();
    settings.bind = format!("127.0.0.1:{port}").parse().unwrap();
    settings.public_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
}

/// A sous and a browser signed in to its console.
pub struct Console {
    pub app: TestApp,
    pub browser: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// chromedriver in a process group of its own, with the Chromium it starts: a test that fails
/// half-way (and so never closes its session) leaves no browser behind.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Console {
    /// A sous on the embedded backend and a browser signed in as an admin; `None` (the test
    /// skips) when Chromium is not installed and services are not required.
    pub async fn start() -> Option<Console> {
        Self::start_with(|_| {}, |b| b).await
    }

    pub async fn start_with(
        configure: impl FnOnce(&mut Settings),
        build: impl FnOnce(ApplicationBuilder) -> ApplicationBuilder,
    ) -> Option<Console> {
        let console = Self::unsigned(configure, build).await?;
        let token = console.app.admin_token();
        console.sign_in_with(&token).await;
        Some(console)
    }

    /// A sous and a browser on its console's sign-in page.
    pub async fn unsigned(
        configure: impl FnOnce(&mut Settings),
        build: impl FnOnce(ApplicationBuilder) -> ApplicationBuilder,
    ) -> Option<Console> {
        let chromium = program("SOUS_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("SOUS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            assert!(
                !required(),
                "Chromium or chromedriver is missing and SOUS_REQUIRE_SERVICES=1 (apt-get install chromium chromium-driver)"
            );
            eprintln!("note: Chromium or chromedriver is missing; skipping a console test");
            return None;
        };
        let app = TestApp::spawn_with(
            &Backend::Embedded,
            |settings| {
                serve_at_own_address(settings);
                configure(settings);
            },
            build,
        )
        .await;
        let port = free_port();
        let mut driver = Command::new(chromedriver);
        driver
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let driver = Driver(driver.spawn().expect("chromedriver starts"));
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--lang=ja", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let webdriver = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let browser = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(browser) => break browser,
                // chromedriver is still starting.
                Err(error) if started.elapsed() < PATIENCE => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no WebDriver session from chromedriver: {error}"),
            }
        };
        let console = Console {
            app,
            browser,
            _driver: driver,
            _profile: profile,
        };
        console.goto("/admin/").await;
        Some(console)
    }

    /// Stores `token` as the console does after a sign-in, and reloads.
    pub async fn sign_in_with(&self, token: &str) {
        self.browser
            .execute(
                "localStorage.setItem('sous.token', arguments[0]);",
                vec![json!(token)],
            )
            .await
            .expect("token stored");
        self.browser.refresh().await.expect("page reloads");
        self.find("#sign-out").await;
    }

    /// Loads a path of the server (a full page load).
    pub async fn goto(&self, path: &str) {
        self.browser
            .goto(&self.app.url(path))
            .await
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    }

    /// Shows a console page by its fragment, e.g. `#/labels`.
    pub async fn open(&self, fragment: &str) {
        self.browser
            .execute("location.hash = arguments[0];", vec![json!(fragment)])
            .await
            .expect("navigates");
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {PATIENCE:?}: {e}"))
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.browser
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Replaces the value of an input or textarea by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("field clears");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// Sets a field's value at once (long JSON, say), firing `input` as typing would.
    pub async fn set_value(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        self.browser
            .execute(
                "arguments[0].value = arguments[1]; \
                 arguments[0].dispatchEvent(new Event('input', {bubbles: true})); \
                 arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                vec![
                    serde_json::to_value(&field).expect("element as JSON"),
                    json!(text),
                ],
            )
            .await
            .expect("value set");
    }

    /// Gives a file input files from disk.
    pub async fn choose_files(&self, css: &str, files: &[PathBuf]) {
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.find(css)
            .await
            .send_keys(&paths.join("\n"))
            .await
            .unwrap_or_else(|e| panic!("cannot choose files for `{css}`: {e}"));
    }

    /// The visible text of the first element matching `css` (waiting for it).
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// Waits until the first element matching `css` shows `expected` in its text; returns it.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        let mut seen = String::new();
        while started.elapsed() < PATIENCE {
            if let Ok(element) = self.browser.find(Locator::Css(css)).await {
                seen = element.text().await.unwrap_or_default();
                if seen.contains(expected) {
                    return seen;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("timeout").await;
        panic!("`{css}` did not show {expected:?} within {PATIENCE:?}; it shows {seen:?}");
    }

    /// Waits until `script` (a JS expression) is truthy; returns its value.
    pub async fn wait_until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        let body = format!("return ({script});");
        while started.elapsed() < PATIENCE {
            let value = self
                .browser
                .execute(&body, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("timeout").await;
        panic!("{what}: `{script}` stayed false for {PATIENCE:?}");
    }

    /// Saves what the browser shows as `target/console-screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.browser.screenshot().await.expect("screenshot taken");
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
            .join("console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// What the page's console logged as errors: failed loads, exceptions, and anything the
    /// Content-Security-Policy refused. An API call answered with a 4xx is not one: the page
    /// shows that problem to the user (the browser logs it all the same).
    pub async fn browser_errors(&self) -> Vec<String> {
        let entries = self
            .browser
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log read");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str().map(str::to_string))
            .filter(|message| !is_refused_api_call(message))
            .collect()
    }

    /// Takes the test's screenshot, checks the page logged no error (a refused inline style
    /// or script among them), and closes the browser and the app.
    pub async fn finish(self, screenshot: &str) {
        self.screenshot(screenshot).await;
        let errors = self.browser_errors().await;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        self.browser.clone().close().await.ok();
        self.app.stop().await.expect("app stops");
    }
}

fn is_refused_api_call(message: &str) -> bool {
    let Some((url, rest)) = message.split_once(" - ") else {
        return false;
    };
    let api = url::Url::parse(url).is_ok_and(|u| u.path().starts_with("/v1/"));
    let client_error = rest
        .strip_prefix("Failed to load resource: the server responded with a status of 4")
        .is_some();
    api && client_error
}

/// chromedriver's browser log (not part of W3C WebDriver; Chromium's own endpoint).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}
