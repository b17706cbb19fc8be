//! Object storage from a URL: `file://` and `memory://` embedded, `s3://` and `gs://` in
//! production. Keys are [`ObjectKey`]s, checked once when built, never strings formatted by
//! callers.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::config::Settings;

/// Parts of a multipart upload: S3's minimum part size, so a large body is never held whole.
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts uploading at once per streamed put.
const PARTS_IN_FLIGHT: usize = 2;

/// A validated object key: relative, `/`-separated, no empty, `.` or `..` segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(Path);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid object key `{key}`: {reason}")]
pub struct InvalidKey {
    pub key: String,
    pub reason: &'static str,
}

impl ObjectKey {
    pub fn parse(key: &str) -> Result<ObjectKey, InvalidKey> {
        let invalid = |reason| InvalidKey {
            key: key.to_string(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("it is empty"));
        }
        if key.starts_with('/') {
            return Err(invalid("it is absolute"));
        }
        if key.len() > 1024 {
            return Err(invalid("it is longer than 1024 bytes"));
        }
        for segment in key.split('/') {
            match segment {
                "" => return Err(invalid("it has an empty segment")),
                "." | ".." => return Err(invalid("it has a `.` or `..` segment")),
                s if s.chars().any(|c| c.is_control() || c == '\\') => {
                    return Err(invalid("it has a control character or backslash"));
                }
                _ => {}
            }
        }
        Path::parse(key)
            .map(ObjectKey)
            .map_err(|_| invalid("it is not a valid path"))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn starts_with(&self, prefix: &str) -> bool {
        self.as_str().starts_with(prefix)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of store is behind the URL; S3 and GCS can sign upload URLs themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Local,
    Memory,
    S3,
    Gcs,
}

#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    kind: StoreKind,
    /// The bucket as storage events name it (`local` for file:// and memory://).
    bucket: String,
    /// The key prefix inside the bucket that this store lives under, `` or ending in `/`.
    prefix: String,
    signer: Option<Arc<dyn Signer>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PutStreamError<E> {
    #[error("body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("body ended with an error: {0}")]
    Body(E),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

impl Store {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Store> {
        let url = settings.store_url.as_str();
        let (scheme, rest) = url
            .split_once("://")
            .context("SOUS_STORE_URL has no scheme")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let mut signer: Option<Arc<dyn Signer>> = None;
        let (inner, kind): (Arc<dyn ObjectStore>, StoreKind) = match scheme {
            "memory" => (Arc::new(InMemory::new()), StoreKind::Memory),
            "file" => {
                std::fs::create_dir_all(rest)
                    .with_context(|| format!("failed to create the object folder {rest}"))?;
                let local = LocalFileSystem::new_with_prefix(rest)
                    .with_context(|| format!("failed to open the object folder {rest}"))?
                    .with_automatic_cleanup(true);
                (Arc::new(local), StoreKind::Local)
            }
            "s3" => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                let s3 = &settings.s3;
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                builder = builder
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_allow_http(s3.allow_http);
                let store = builder.build().context("invalid S3 store settings")?;
                let (store, store_signer) = with_prefix(store, prefix);
                signer = Some(store_signer);
                (store, StoreKind::S3)
            }
            "gs" => {
                let store = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .context("invalid GCS store settings")?;
                let (store, store_signer) = with_prefix(store, prefix);
                signer = Some(store_signer);
                (store, StoreKind::Gcs)
            }
            other => anyhow::bail!("SOUS_STORE_URL scheme `{other}` is not supported"),
        };
        let (bucket, prefix) = match kind {
            StoreKind::S3 | StoreKind::Gcs if !prefix.is_empty() => {
                (bucket.to_string(), format!("{prefix}/"))
            }
            StoreKind::S3 | StoreKind::Gcs => (bucket.to_string(), String::new()),
            StoreKind::Local | StoreKind::Memory => ("local".to_string(), String::new()),
        };
        Ok(Store {
            inner,
            kind,
            bucket,
            prefix,
            signer,
        })
    }

    /// The bucket storage events must name to be about this store.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key inside this store of a bucket-wide key, if the key is under the store's prefix.
    pub fn key_in_store<'a>(&self, bucket_key: &'a str) -> Option<&'a str> {
        bucket_key.strip_prefix(self.prefix.as_str())
    }

    /// A presigned URL for `method` on `key`, with `headers` bound into the signature. `None`
    /// for stores that cannot sign (local disk, memory): sous serves those uploads itself.
    pub async fn signed_url(
        &self,
        method: http::Method,
        key: &ObjectKey,
        expires_in: std::time::Duration,
        headers: &[(http::HeaderName, http::HeaderValue)],
    ) -> Option<object_store::Result<url::Url>> {
        let signer = self.signer.as_ref()?;
        let mut options = SignedUrlOptions::new();
        for (name, value) in headers {
            options = options.with_signed_header(name.clone(), value.clone());
        }
        Some(
            match signer
                .signed_url_opts(method.clone(), key.path(), expires_in, &options)
                .await
            {
                // GCS signs no extra headers through object_store; it still signs the URL.
                Err(object_store::Error::NotSupported { .. }) => {
                    signer.signed_url(method, key.path(), expires_in).await
                }
                other => other,
            },
        )
    }

    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The raw store, for ranged reads and signing in the modules that need them.
    /// The same store seen through `layer` (a limit on concurrent requests, say, or a wrapper
    /// that counts them).
    pub fn layered(
        mut self,
        layer: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    ) -> Store {
        self.inner = layer(self.inner);
        self
    }

    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    pub async fn put(&self, key: &ObjectKey, bytes: Bytes) -> object_store::Result<()> {
        self.inner
            .put(key.path(), PutPayload::from(bytes))
            .await
            .map(drop)
    }

    /// Streams a body into the store as a multipart upload, at most `limit` bytes. On any
    /// failure the upload is aborted, so no partial object is ever visible.
    #[tracing::instrument(skip_all, fields(key = %key))]
    pub async fn put_stream<S, E>(
        &self,
        key: &ObjectKey,
        mut body: S,
        limit: u64,
    ) -> Result<u64, PutStreamError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let upload = self.inner.put_multipart(key.path()).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(PutStreamError::Body(e));
                }
            };
            written += chunk.len() as u64;
            if written > limit {
                let _ = writer.abort().await;
                return Err(PutStreamError::TooLarge { limit });
            }
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(written)
    }

    pub async fn get(&self, key: &ObjectKey) -> object_store::Result<Bytes> {
        self.inner.get(key.path()).await?.bytes().await
    }

    /// Bytes `range` of the object as it was when `meta` was read: a replaced object fails
    /// with `Precondition` rather than mixing two objects' bytes.
    pub async fn get_range_of(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        range: std::ops::Range<u64>,
    ) -> object_store::Result<Bytes> {
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            if_match: meta.e_tag.clone(),
            version: meta.version.clone(),
            ..Default::default()
        };
        self.inner
            .get_opts(key.path(), options)
            .await?
            .bytes()
            .await
    }

    /// Metadata, or `None` when there is no such object.
    pub async fn head(&self, key: &ObjectKey) -> object_store::Result<Option<ObjectMeta>> {
        match self.inner.head(key.path()).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deleting what is not there is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> object_store::Result<()> {
        match self.inner.delete(key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Readiness: the store answers a metadata request (a missing probe object is an answer).
    pub async fn ping(&self) -> object_store::Result<()> {
        let probe = ObjectKey::parse("sous/readiness-probe").expect("valid probe key");
        self.head(&probe).await.map(drop)
    }
}

/// An object written before the row that makes it reachable: removed when dropped, unless the
/// row committed and [`Uncommitted::commit`] disarmed it, so a failed insert (or a cancelled
/// request) leaves no orphan bytes behind.
pub struct Uncommitted {
    store: Store,
    key: Option<ObjectKey>,
}

impl Uncommitted {
    /// Writes `bytes` at `key`, armed.
    pub async fn put(store: &Store, key: ObjectKey, bytes: Bytes) -> object_store::Result<Self> {
        store.put(&key, bytes).await?;
        Ok(Uncommitted {
            store: store.clone(),
            key: Some(key),
        })
    }

    pub fn key(&self) -> &ObjectKey {
        self.key.as_ref().expect("armed until committed or dropped")
    }

    pub fn commit(mut self) {
        self.key = None;
    }
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%key, "no runtime to remove an uncommitted object");
            return;
        };
        let store = self.store.clone();
        runtime.spawn(async move {
            if let Err(error) = store.delete(&key).await {
                tracing::warn!(%key, %error, "cannot remove an uncommitted object");
            }
        });
    }
}

fn with_prefix<T: ObjectStore + Signer + Clone>(
    store: T,
    prefix: &str,
) -> (Arc<dyn ObjectStore>, Arc<dyn Signer>) {
    if prefix.is_empty() {
        (Arc::new(store.clone()), Arc::new(store))
    } else {
        let prefixed = PrefixStore::new(store, prefix);
        (Arc::new(prefixed.clone()), Arc::new(prefixed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_reject_escapes() {
        assert!(ObjectKey::parse("meal-photos/u1/a.jpg").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "./a",
            "a/..",
            "a\\b",
            "a/\u{0}",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(ObjectKey::parse(&"a".repeat(1025)).is_err());
        assert!(ObjectKey::parse(&"a".repeat(1024)).is_ok());
    }

    fn memory_store() -> Store {
        let settings = Settings {
            store_url: "memory://".into(),
            ..Settings::default()
        };
        Store::from_settings(&settings).unwrap()
    }

    #[tokio::test]
    async fn an_uncommitted_object_is_removed() {
        let store = memory_store();
        let key = ObjectKey::parse("labels/print-jobs/x.bin").unwrap();
        let written = Uncommitted::put(&store, key.clone(), Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(store.head(&key).await.unwrap().is_some());
        drop(written);
        for _ in 0..100 {
            if store.head(&key).await.unwrap().is_none() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the uncommitted object is still there");
    }

    #[tokio::test]
    async fn a_committed_object_stays() {
        let store = memory_store();
        let key = ObjectKey::parse("images/originals/x").unwrap();
        Uncommitted::put(&store, key.clone(), Bytes::from_static(b"x"))
            .await
            .unwrap()
            .commit();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(store.head(&key).await.unwrap().is_some());
    }
}
