//! Periodic work runs once per period however many replicas run the scheduler.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sous::config::Roles;

use crate::helpers::{Backend, TestApp, test_settings};

#[tokio::test]
async fn leases_have_one_holder_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(&Backend::Embedded, dir.path()).await;
    let db = sous::platform::db::connect(&settings).await.unwrap();
    sous::platform::db::migrate(&db).await.unwrap();
    use sous::platform::scheduler::try_lease;
    let ttl = Duration::from_millis(300);
    assert!(try_lease(&db, "flush", "a", ttl).await.unwrap());
    assert!(!try_lease(&db, "flush", "b", ttl).await.unwrap());
    assert!(
        try_lease(&db, "flush", "a", ttl).await.unwrap(),
        "the holder renews"
    );
    assert!(
        try_lease(&db, "other", "b", ttl).await.unwrap(),
        "leases are per task"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        try_lease(&db, "flush", "b", ttl).await.unwrap(),
        "an expired lease is free"
    );
}

#[tokio::test]
async fn two_scheduler_replicas_do_the_work_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&Backend::Embedded, dir.path()).await;
    settings.roles = Roles {
        api: false,
        worker: false,
        scheduler: true,
    };
    settings.scheduler.tick = Duration::from_millis(50);
    let runs = Arc::new(AtomicUsize::new(0));
    let start = |runs: Arc<AtomicUsize>| {
        let settings = settings.clone();
        async move {
            TestApp::start(
                settings,
                move |b| {
                    b.periodic("count", Duration::from_millis(500), move |_| {
                        let runs = runs.clone();
                        async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        }
                    })
                },
                tempfile::tempdir().unwrap(),
            )
            .await
        }
    };
    let first = start(runs.clone()).await;
    let second = start(runs.clone()).await;
    tokio::time::sleep(Duration::from_millis(2600)).await;
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    // 2.6 s at one run per 0.5 s: about 5 or 6 runs in all, never the 10+ of two unguarded replicas.
    let total = runs.load(Ordering::SeqCst);
    assert!((4..=7).contains(&total), "{total} runs");
}
