//! The object store round trip on file://, memory:// and an S3-compatible server.

use bytes::Bytes;
use futures::stream;
use sous::config::Settings;
use sous::platform::storage::{ObjectKey, PutStreamError, Store};

use crate::helpers::Moto;

async fn round_trip(store: &Store) {
    let key = ObjectKey::parse("tests/round/trip.bin").unwrap();
    store.put(&key, Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"hello"));
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, 5);

    // A streamed body of several parts, exactly at the limit.
    let part = Bytes::from(vec![7u8; 3 * 1024 * 1024]);
    let limit = 4 * part.len() as u64;
    let parts = stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(part.clone())));
    let streamed = ObjectKey::parse("tests/round/streamed.bin").unwrap();
    assert_eq!(
        store.put_stream(&streamed, parts, limit).await.unwrap(),
        limit
    );
    assert_eq!(store.head(&streamed).await.unwrap().unwrap().size, limit);

    // One byte past the limit: refused, and nothing is left behind.
    let over = ObjectKey::parse("tests/round/over.bin").unwrap();
    let parts = stream::iter(
        (0..4)
            .map(|_| Ok::<_, std::io::Error>(part.clone()))
            .chain([Ok(Bytes::from_static(b"!"))]),
    );
    let refused = store.put_stream(&over, parts, limit).await;
    assert!(
        matches!(refused, Err(PutStreamError::TooLarge { .. })),
        "{refused:?}"
    );
    assert!(store.head(&over).await.unwrap().is_none());

    // A body that breaks off half-way leaves nothing either.
    let broken = ObjectKey::parse("tests/round/broken.bin").unwrap();
    let parts = stream::iter([
        Ok(part.clone()),
        Err(std::io::Error::other("client went away")),
    ]);
    assert!(matches!(
        store.put_stream(&broken, parts, limit).await,
        Err(PutStreamError::Body(_))
    ));
    assert!(store.head(&broken).await.unwrap().is_none());

    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    assert!(store.head(&key).await.unwrap().is_none());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn file_store_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        store_url: format!("file://{}", dir.path().join("objects").display()),
        ..Settings::default()
    };
    round_trip(&Store::from_settings(&settings).unwrap()).await;
    // Only the finished objects are on disk: no temporary upload files left over.
    let leftovers: Vec<_> = walk(&dir.path().join("objects"));
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn memory_store_round_trip() {
    let settings = Settings {
        store_url: "memory://".into(),
        ..Settings::default()
    };
    round_trip(&Store::from_settings(&settings).unwrap()).await;
}

#[tokio::test]
async fn s3_store_round_trip() {
    if let Ok(endpoint) = std::env::var("SOUS_TEST_S3_CHILD") {
        let settings = Settings {
            store_url: "s3://sous-test/with/prefix".into(),
            s3: Moto::s3_settings(&endpoint),
            ..Settings::default()
        };
        round_trip(&Store::from_settings(&settings).unwrap()).await;
        return;
    }
    let Some(moto) = Moto::start("sous-test").await else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let client = reqwest::Client::new();
    moto.run_child("storage::s3_store_round_trip", "SOUS_TEST_S3_CHILD");
    // The prefix in the URL is honoured: the objects live under it in the bucket.
    let listing = client
        .get(format!("{endpoint}/sous-test?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains("<Key>with/prefix/tests/round/streamed.bin</Key>"),
        "{listing}"
    );
}
