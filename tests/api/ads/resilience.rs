//! A cache store that hangs or dies never takes delivery down: the ingredient step gives up
//! within its budget (then the breaker skips it outright) and normal ads are served.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{advertiser, campaign, campaigns_of, deliver, spawn};
use crate::helpers::{Backend, eventually, free_port, required};

/// A `redis-server` of this test's own, on a spare port, that the test can freeze and kill.
struct OwnRedis {
    child: Child,
    url: String,
}

impl OwnRedis {
    fn start() -> Option<OwnRedis> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(OwnRedis {
                child,
                url: format!("redis://127.0.0.1:{port}"),
            }),
            Err(error) if required() => panic!("cannot start redis-server: {error}"),
            Err(error) => {
                eprintln!("note: no redis-server ({error}); skipping");
                None
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn delivery_goes_on_with_normal_ads_when_the_cache_store_hangs_or_dies() {
    let Some(redis) = OwnRedis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let jobs_db = format!("sqlite://{}?mode=rwc", dir.path().join("jobs.db").display());
    let ready = eventually(Duration::from_secs(10), || async {
        redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok()
    })
    .await;
    assert!(ready, "redis-server did not start");
    let app = spawn(&Backend::Embedded, |settings| {
        settings.redis_url = Some(redis.url.as_str().into());
        // Jobs stay on SQLite: this test is about the cache.
        settings.jobs.url = Some(jobs_db.as_str().into());
        settings.ads.cache_timeout = Duration::from_millis(20);
        // A call that nothing bounded but Redis's own timeout would take seconds.
        settings.redis_timeout = Duration::from_secs(5);
        settings.ads.breaker_failures = 3;
        settings.ads.breaker_cooldown = Duration::from_millis(500);
    })
    .await;
    let advertiser_id = advertiser(&app).await;
    let normal = campaign(&app, &advertiser_id, json!({})).await;
    let salt = campaign(
        &app,
        &advertiser_id,
        json!({"targeting": "ingredient", "concepts": ["salt"]}),
    )
    .await;
    let (_, body, _) = deliver(&app, "slot=recipe_top&recipe_id=before", Some(&["塩"])).await;
    assert_eq!(campaigns_of(&body), [salt], "{body}");

    // Frozen: connections stay open and nothing answers.
    redis.signal("-STOP");
    let mut skipped = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let (status, body, _) = deliver(
            &app,
            &format!("slot=recipe_top&recipe_id=frozen{i}"),
            Some(&["塩"]),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(campaigns_of(&body), vec![normal.clone()], "{body}");
        // The budget is 20 ms; Redis's own timeout is 5 s and a hung call would wait it out.
        assert!(
            took < Duration::from_millis(2000),
            "request {i} took {took:?}"
        );
        skipped.push(body["ingredients_skipped"].as_str().unwrap().to_string());
    }
    assert_eq!(
        &skipped[..3],
        ["timeout", "timeout", "timeout"],
        "{skipped:?}"
    );
    assert!(
        skipped[3..].iter().all(|s| s == "circuit_open"),
        "{skipped:?}"
    );

    // Dead: connections refused, once the circuit lets calls through again.
    redis.signal("-KILL");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut skipped = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let (status, body, _) = deliver(
            &app,
            &format!("slot=recipe_top&recipe_id=dead{i}"),
            Some(&["塩"]),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_millis(2000),
            "request {i} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            (status, campaigns_of(&body)),
            (StatusCode::OK, vec![normal.clone()]),
            "{body}"
        );
        skipped.push(body["ingredients_skipped"].as_str().unwrap().to_string());
    }
    assert_ne!(
        skipped[0], "circuit_open",
        "the first call after the cooldown is tried: {skipped:?}"
    );
    assert_eq!(skipped.last().unwrap(), "circuit_open", "{skipped:?}");
}
