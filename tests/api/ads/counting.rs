//! Counts reach the hourly rows exactly once, whatever point a flush dies at.

use std::time::Duration;

use bytes::Bytes;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use sous::ads::counting::{FLUSH_ID_FIELD, FLUSHING, PENDING, flush};
use sous::ads::entity::hourly_stat;

use super::{advertiser, campaign, deliver, spawn};
use crate::helpers::{TestApp, backends};

/// Counts flushed only when the test flushes: no scheduler (with Redis), no periodic flush in
/// process (embedded).
fn only_test_flushes(settings: &mut sous::config::Settings) {
    settings.roles.scheduler = false;
    settings.ads.flush_every = Duration::from_secs(3600);
}

async fn impressions(app: &TestApp, id: &str) -> i64 {
    let (_, stats) = app
        .get_json(&app.admin_token(), &format!("/v1/ads/campaigns/{id}/stats"))
        .await;
    stats["impressions"].as_i64().unwrap()
}

async fn deliver_times(app: &TestApp, n: usize) {
    for _ in 0..n {
        deliver(app, "slot=recipe_top", None).await;
    }
    sous::ads::delivery::push_counts(app.platform.clone())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_flush_that_dies_before_or_after_its_commit_counts_everything_once() {
    for backend in backends() {
        let app = spawn(&backend, only_test_flushes).await;
        let advertiser_id = advertiser(&app).await;
        let id = campaign(&app, &advertiser_id, json!({})).await;
        let cache = &app.platform.cache;

        // Dies between the move and the commit: the moved counts wait for the next flush.
        deliver_times(&app, 3).await;
        assert!(cache.rename_if_absent(PENDING, FLUSHING).await.unwrap());
        assert!(
            cache
                .hset_if_absent(FLUSHING, FLUSH_ID_FIELD, Bytes::from("died-before"))
                .await
                .unwrap()
        );
        deliver_times(&app, 2).await;
        assert_ne!(
            flush(&app.platform).await.unwrap(),
            0,
            "{backend:?}: the moved counts first"
        );
        assert_eq!(impressions(&app, &id).await, 3, "{backend:?}");
        assert_ne!(
            flush(&app.platform).await.unwrap(),
            0,
            "{backend:?}: then the newer ones"
        );
        assert_eq!(impressions(&app, &id).await, 5, "{backend:?}");

        // Dies between the commit and the delete: the same counts come back, and are dropped.
        deliver_times(&app, 4).await;
        assert!(cache.rename_if_absent(PENDING, FLUSHING).await.unwrap());
        cache
            .hset_if_absent(FLUSHING, FLUSH_ID_FIELD, Bytes::from("died-after"))
            .await
            .unwrap();
        let moved = cache.hgetall(FLUSHING).await.unwrap();
        assert_ne!(flush(&app.platform).await.unwrap(), 0);
        assert_eq!(impressions(&app, &id).await, 9, "{backend:?}");
        cache.hset_many(FLUSHING, &moved).await.unwrap();
        assert_eq!(
            flush(&app.platform).await.unwrap(),
            0,
            "{backend:?}: applied before"
        );
        assert_eq!(impressions(&app, &id).await, 9, "{backend:?}: not twice");
        assert!(
            cache.hgetall(FLUSHING).await.unwrap().is_empty(),
            "and dropped"
        );
        assert_eq!(flush(&app.platform).await.unwrap(), 0, "nothing left");
    }
}

#[tokio::test]
async fn flushes_racing_each_other_count_everything_once() {
    for backend in backends() {
        let app = spawn(&backend, only_test_flushes).await;
        let advertiser_id = advertiser(&app).await;
        let id = campaign(&app, &advertiser_id, json!({})).await;
        for round in 1..=5 {
            deliver_times(&app, 3).await;
            let (a, b, c) = tokio::join!(
                flush(&app.platform),
                flush(&app.platform),
                flush(&app.platform)
            );
            for result in [a, b, c] {
                result.unwrap();
            }
            // Whatever a racing flush left moved aside is applied by the next one.
            flush(&app.platform).await.unwrap();
            assert_eq!(
                impressions(&app, &id).await,
                3 * round,
                "{backend:?} round {round}"
            );
        }
    }
}

#[tokio::test]
async fn a_batch_sent_again_is_added_once() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let cache = &app.platform.cache;
        let increments = [("i\u{1f}c\u{1f}0".to_string(), 2)];
        let remember = Duration::from_secs(60);
        assert!(
            cache
                .hincr_many_once("once-test", "b1", &increments, remember)
                .await
                .unwrap()
        );
        assert!(
            !cache
                .hincr_many_once("once-test", "b1", &increments, remember)
                .await
                .unwrap()
        );
        assert!(
            cache
                .hincr_many_once("once-test", "b2", &increments, remember)
                .await
                .unwrap()
        );
        let fields = cache.hgetall("once-test").await.unwrap();
        assert_eq!(
            fields,
            [(increments[0].0.clone(), Bytes::from("4"))],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn counts_held_in_process_are_flushed_as_an_embedded_app_stops() {
    // The database outlives the app.
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("ads.db").display());
    let app = spawn(&crate::helpers::Backend::Embedded, |s| {
        s.database_url = database_url.as_str().into();
        s.ads.count_every = Duration::from_secs(3600);
        s.ads.flush_every = Duration::from_secs(3600);
    })
    .await;
    let advertiser_id = advertiser(&app).await;
    let id = campaign(&app, &advertiser_id, json!({})).await;
    for _ in 0..4 {
        deliver(&app, "slot=recipe_top", None).await;
    }
    let settings = (*app.platform.settings).clone();
    app.stop().await.unwrap();
    let db = sous::platform::db::connect(&settings).await.unwrap();
    let rows = hourly_stat::Entity::find()
        .filter(hourly_stat::Column::CampaignId.eq(id))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.impressions).sum::<i64>(),
        4,
        "{rows:?}"
    );
}
