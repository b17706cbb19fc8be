//! Bulk ingest over HTTP: archives built here, uploaded through the signed URL, ingested by the
//! worker, their reads counted by a layer around the real object store.

mod archives;
mod products;
pub mod zipper;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::Value;
use sous::config::Settings;

use crate::helpers::{Backend, TestApp, eventually, test_settings};

/// What the ingest asked of the store, for archives only (`bulk/` keys).
#[derive(Debug, Default)]
pub struct Reads {
    pub heads: AtomicU64,
    pub ranges: AtomicU64,
    pub whole: AtomicU64,
    pub bytes: AtomicU64,
    pub log: Mutex<Vec<(u64, u64)>>,
    /// Ranged reads after which every further one fails, as a store that goes away.
    pub fail_after: Mutex<Option<u64>>,
    /// New bytes written over the archive just before the ranged read of this number.
    pub replace_at: Mutex<Option<(u64, Vec<u8>)>>,
    /// How long each ranged read takes, as a slow store.
    pub delay: Mutex<Duration>,
}

impl Reads {
    pub fn ranges(&self) -> u64 {
        self.ranges.load(Ordering::SeqCst)
    }
}

/// The real store, with reads of archives counted.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    reads: Arc<Reads>,
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let archive = location.as_ref().contains("bulk/archives/");
        if archive {
            match &options.range {
                _ if options.head => {
                    self.reads.heads.fetch_add(1, Ordering::SeqCst);
                }
                Some(object_store::GetRange::Bounded(range)) => {
                    let number = self.reads.ranges.fetch_add(1, Ordering::SeqCst) + 1;
                    if self
                        .reads
                        .fail_after
                        .lock()
                        .unwrap()
                        .is_some_and(|n| number > n)
                    {
                        return Err(object_store::Error::Generic {
                            store: "Counting",
                            source: "the store went away".into(),
                        });
                    }
                    let replacement = self
                        .reads
                        .replace_at
                        .lock()
                        .unwrap()
                        .take_if(|(at, _)| *at == number);
                    if let Some((_, bytes)) = replacement {
                        self.inner.put(location, bytes.into()).await?;
                    }
                    let delay = *self.reads.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    self.reads
                        .bytes
                        .fetch_add(range.end - range.start, Ordering::SeqCst);
                    self.reads
                        .log
                        .lock()
                        .unwrap()
                        .push((range.start, range.end));
                }
                _ => {
                    self.reads.whole.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// An app whose archive reads are counted; nothing is made ahead for the images registered.
pub async fn spawn(
    backend: &Backend,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, Arc<Reads>) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(backend, dir.path()).await;
    settings.images.ladder.clear();
    settings.images.presets.clear();
    // Retries come quickly, as the tests wait for them.
    settings.jobs.queues.insert(
        "bulk-ingest".into(),
        sous::platform::jobs::QueueOverrides {
            backoff: Some(Duration::from_millis(500)),
            max_backoff: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    );
    configure(&mut settings);
    let reads = Arc::new(Reads::default());
    let layer_reads = reads.clone();
    let app = TestApp::start(
        settings,
        move |builder| {
            builder.store_layer(move |inner| {
                Arc::new(Counting {
                    inner,
                    reads: layer_reads,
                })
            })
        },
        dir,
    )
    .await;
    (app, reads)
}

/// Starts an archive for `owner`: its path, and the URL to put the ZIP to.
pub async fn start_archive(app: &TestApp, owner: &str) -> (String, String) {
    let started = app
        .client
        .post(app.url("/v1/bulk/image-archives"))
        .bearer_auth(app.token(owner, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()[LOCATION].to_str().unwrap().to_string();
    let body: Value = started.json().await.unwrap();
    assert_eq!(body["status"], "waiting", "{body}");
    let url = body["upload"]["upload_url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &app.address);
    (location, url)
}

pub async fn put_archive(app: &TestApp, url: &str, bytes: Vec<u8>) -> StatusCode {
    app.client
        .put(url)
        .header(CONTENT_TYPE, "application/zip")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

/// Uploads `bytes` as an archive for `owner` and waits until it is done or failed.
pub async fn ingest(app: &TestApp, owner: &str, bytes: Vec<u8>) -> Value {
    let (location, url) = start_archive(app, owner).await;
    assert_eq!(put_archive(app, &url, bytes).await, StatusCode::CREATED);
    finished(app, owner, &location).await
}

pub async fn read(app: &TestApp, owner: &str, path: &str) -> Value {
    let (status, body) = app.get_json(&app.token(owner, &[]), path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Polls the archive at `location` until it is done or failed.
pub async fn finished(app: &TestApp, owner: &str, location: &str) -> Value {
    let settled = eventually(Duration::from_secs(120), || async {
        let status = read(app, owner, location).await["status"].clone();
        status == "done" || status == "failed"
    })
    .await;
    let body = read(app, owner, &format!("{location}?limit=500")).await;
    assert!(settled, "{body}");
    body
}

/// Every entry of a finished archive, all pages.
pub async fn all_entries(app: &TestApp, owner: &str, location: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(after) => format!("{location}?limit=500&after={after}"),
            None => format!("{location}?limit=500"),
        };
        let body = read(app, owner, &path).await;
        entries.extend(body["entries"]["items"].as_array().unwrap().iter().cloned());
        match body["entries"]["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return entries,
        }
    }
}

/// A small PNG, different for every `n`.
pub fn png(n: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(n % 251) as u8, (n / 251) as u8, (x * 8 + y) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
