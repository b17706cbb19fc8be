//! Archives end to end: many images in few reads, every shape of ZIP a zipper writes, names in
//! every encoding, each refusal with its reason, whole-archive failures, and runs that stop
//! half-way, repeat, or meet a replaced archive.

use std::sync::atomic::Ordering;

use serde_json::Value;
use sous::bulk::IngestArchive;
use sous::platform::events::ObjectCreated;
use unicode_normalization::UnicodeNormalization;

use super::zipper::{Entry, Zip};
use super::{all_entries, finished, ingest, png, put_archive, read, spawn, start_archive};
use crate::helpers::Backend;

/// Images the owner has by name.
async fn named_images(app: &crate::helpers::TestApp, owner: &str) -> Vec<Value> {
    read(app, owner, "/v1/bulk/images?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// How many images the owner has, all pages.
async fn images_of(app: &crate::helpers::TestApp, owner: &str) -> usize {
    let mut count = 0;
    let mut path = "/v1/images?limit=500".to_string();
    loop {
        let page = read(app, owner, &path).await;
        count += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/images?limit=500&after={next}"),
            None => return count,
        }
    }
}

#[tokio::test]
async fn a_thousand_images_are_registered_from_three_reads() {
    let (app, reads) = spawn(&Backend::Embedded, |_| {}).await;
    let entries = (0..1000)
        .map(|n| {
            let mut entry = Entry::new(&format!("items/{n:04}.png"), png(n));
            entry.deflate = n % 2 == 0;
            entry
        })
        .collect();
    let zip = Zip::of(entries).bytes();
    let size = zip.len() as u64;
    let archive = ingest(&app, "seller", zip).await;
    assert_eq!(archive["status"], "done", "{archive}");
    assert_eq!(
        archive["counts"],
        serde_json::json!({"total": 1000, "registered": 1000, "skipped": 0, "refused": 0})
    );
    assert_eq!(images_of(&app, "seller").await, 1000);
    // The tail (end record and the whole directory, 61 KB), then every entry in one read.
    assert_eq!(
        reads.whole.load(Ordering::SeqCst),
        0,
        "never the whole object"
    );
    assert_eq!(reads.ranges(), 2, "{:?}", reads.log.lock().unwrap());
    let fetched = reads.bytes.load(Ordering::SeqCst);
    assert!(
        fetched <= size * 105 / 100,
        "{fetched} bytes read of {size}"
    );
    // What operators see agrees.
    let metrics = app.metrics().await;
    for (kind, count) in [("directory", 1), ("entries", 1)] {
        let line = format!("sous_bulk_archive_read_seconds_count{{kind=\"{kind}\"}} {count}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains("sous_bulk_entry_seconds_count 1000"));
    let first = &named_images(&app, "seller").await[0];
    assert_eq!(first["name"], "items/0000.png");
    assert!(first["url"].as_str().unwrap().contains("/i/"), "{first}");
}

#[tokio::test]
async fn every_shape_and_name_encoding_a_zipper_writes_is_read() {
    for backend in crate::helpers::backends() {
        let (app, _) = spawn(&backend, |_| {}).await;
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode("商品画像/01_りんご.jpg");
        let nfd: String = "商品画像/02_ぶどう.png".nfd().collect();
        let mut windows = Entry::new("", png(1));
        windows.name = cp932.into_owned();
        windows.utf8 = false;
        let mut mac = Entry::new("", png(2));
        mac.name = nfd.into_bytes();
        mac.utf8 = true;
        // An old Windows zipper writes CP437-ish bytes but a Unicode Path field with the truth.
        let mut pathed = Entry::new("03.png", png(3));
        pathed.unicode_path = Some("商品画像/03_もも.png".into());
        for (descriptors, zip64) in [(false, false), (true, false), (false, true), (true, true)] {
            let zip = Zip {
                entries: vec![windows.clone(), mac.clone(), pathed.clone()],
                descriptors,
                zip64,
            };
            let archive = ingest(&app, "seller", zip.bytes()).await;
            assert_eq!(
                archive["counts"]["registered"], 3,
                "{backend:?} descriptors {descriptors} zip64 {zip64}: {archive}"
            );
        }
        let names: Vec<String> = named_images(&app, "seller")
            .await
            .iter()
            .map(|image| image["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "商品画像/01_りんご.jpg",
                "商品画像/02_ぶどう.png",
                "商品画像/03_もも.png"
            ],
            "{backend:?}"
        );
        // The same bytes in four archives are one image each.
        assert_eq!(images_of(&app, "seller").await, 3, "{backend:?}");
    }
}

#[tokio::test]
async fn each_entry_is_judged_on_its_own_and_refusals_say_why() {
    let limit = 8 << 20;
    let (app, _) = spawn(&Backend::Embedded, |_| {}).await;
    let mut bomb = Entry::new("bomb.png", vec![0u8; 100 << 20]);
    bomb.claimed_size = Some(1024);
    let mut too_large = Entry::new("large.jpg", vec![7u8; limit + 1]);
    too_large.deflate = false;
    let mut at_limit = Entry::new("at-limit.png", png(9));
    // A PNG padded to the limit exactly with a trailing chunk-less tail still decodes.
    at_limit.data.resize(limit, 0);
    let entries = vec![
        Entry::new("good.png", png(1)),
        Entry::new("../evil.jpg", png(2)),
        Entry::new("/abs.jpg", png(3)),
        bomb,
        too_large,
        at_limit,
        Entry::new("notes.jpg", b"just some text, not a picture".to_vec()),
        Entry::new("photos/", Vec::new()),
        Entry::new("__MACOSX/photos/._good.png", vec![0u8; 10]),
        Entry::new("photos/.DS_Store", vec![0u8; 10]),
    ];
    let archive = ingest(&app, "seller", Zip::of(entries).bytes()).await;
    assert_eq!(archive["status"], "done", "{archive}");
    assert_eq!(
        archive["counts"],
        serde_json::json!({"total": 7, "registered": 2, "skipped": 3, "refused": 5}),
        "{archive}"
    );
    let location = format!(
        "/v1/bulk/image-archives/{}",
        archive["id"].as_str().unwrap()
    );
    let entries = all_entries(&app, "seller", &location).await;
    let reason = |name: &str| {
        let entry = entries.iter().find(|e| e["name"] == name).unwrap();
        entry["reason"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(reason("../evil.jpg"), "the name has a `..` segment");
    assert_eq!(reason("/abs.jpg"), "the name is an absolute path");
    assert_eq!(
        reason("bomb.png"),
        format!("the entry is larger than {limit} bytes")
    );
    assert_eq!(
        reason("large.jpg"),
        format!("the image is larger than {limit} bytes")
    );
    assert!(
        reason("notes.jpg").contains("not an image"),
        "{}",
        reason("notes.jpg")
    );
    let good = entries.iter().find(|e| e["name"] == "good.png").unwrap();
    assert_eq!(good["status"], "registered");
    assert!(good["url"].as_str().unwrap().contains("/i/"));
    let at_limit = entries
        .iter()
        .find(|e| e["name"] == "at-limit.png")
        .unwrap();
    assert_eq!(at_limit["status"], "registered", "{at_limit}");
}

#[tokio::test]
async fn archives_that_cannot_be_read_fail_whole_and_register_nothing() {
    let (app, _) = spawn(&Backend::Embedded, |s| s.bulk.max_images = 20).await;
    let many = |n: u32| {
        Zip::of(
            (0..n)
                .map(|i| Entry::new(&format!("{i}.png"), png(i)))
                .collect(),
        )
    };
    let mut locked = Entry::new("secret.png", png(1));
    locked.encrypted = true;
    let whole = many(3).bytes();
    let cases = [
        (many(21).bytes(), "the archive holds 21 images; at most 20"),
        (
            Zip::of(vec![Entry::new("a.png", png(0)), locked]).bytes(),
            "secret.png is encrypted",
        ),
        (whole[..whole.len() - 30].to_vec(), "not a ZIP archive"),
        (b"this is a text file".to_vec(), "not a ZIP archive"),
    ];
    for (bytes, reason) in cases {
        let archive = ingest(&app, "seller", bytes).await;
        assert_eq!(archive["status"], "failed", "{archive}");
        assert!(
            archive["reason"].as_str().unwrap().contains(reason),
            "{reason}: {archive}"
        );
    }
    // At the limit, it goes.
    let archive = ingest(&app, "seller", many(20).bytes()).await;
    assert_eq!(archive["counts"]["registered"], 20, "{archive}");
    assert_eq!(images_of(&app, "seller").await, 20);
}

#[tokio::test]
async fn a_run_that_stops_half_way_is_finished_by_the_retry_without_duplicates() {
    let (app, reads) = spawn(&Backend::Embedded, |s| {
        // A read per entry, so the store can fail between them.
        s.bulk.max_read_bytes = 1;
        s.bulk.max_read_gap = 0;
    })
    .await;
    let zip = Zip::of(
        (0..40)
            .map(|i| Entry::new(&format!("{i:02}.png"), png(i)))
            .collect(),
    );
    *reads.fail_after.lock().unwrap() = Some(15);
    let (location, url) = start_archive(&app, "seller").await;
    assert_eq!(put_archive(&app, &url, zip.bytes()).await.as_u16(), 201);
    // The first run registers some, then the store fails: the archive waits for its retry.
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(30), || async {
            reads.ranges() > 15 && read(&app, "seller", &location).await["status"] == "queued"
        })
        .await,
        "{}",
        read(&app, "seller", &location).await
    );
    let stopped = read(&app, "seller", &location).await;
    assert_eq!(stopped["counts"]["registered"], 14, "{stopped}");
    // The tail, then one entry a read: 14 entries before the 16th read failed.
    assert_eq!(images_of(&app, "seller").await, 14);
    *reads.fail_after.lock().unwrap() = None;
    let archive = finished(&app, "seller", &location).await;
    assert_eq!(archive["counts"]["registered"], 40, "{archive}");
    assert_eq!(images_of(&app, "seller").await, 40);
    let entries = all_entries(&app, "seller", &location).await;
    assert_eq!(entries.len(), 40, "one outcome per entry");

    // The same storage event again changes nothing.
    let key = format!("bulk/archives/{}.zip", archive["id"].as_str().unwrap());
    app.platform
        .jobs
        .enqueue(&IngestArchive {
            event: ObjectCreated {
                bucket: "local".into(),
                key,
                version: "again".into(),
                size: None,
                content_type: None,
            },
        })
        .await
        .unwrap();
    app.run_jobs_until_idle(std::time::Duration::from_secs(30))
        .await;
    let again = read(&app, "seller", &location).await;
    assert_eq!(again["counts"], archive["counts"]);
    assert_eq!(again["status"], "done");
    assert_eq!(images_of(&app, "seller").await, 40);
}

#[tokio::test]
async fn a_run_aborted_by_its_timeout_again_and_again_still_ends_with_each_image_once() {
    let (app, reads) = spawn(&Backend::Embedded, |s| {
        s.bulk.max_read_bytes = 1;
        s.bulk.max_read_gap = 0;
        // Each attempt is cut off after a second, in the middle of the archive.
        let queue = s.jobs.queues.get_mut("bulk-ingest").unwrap();
        queue.timeout = Some(std::time::Duration::from_secs(1));
        queue.max_attempts = Some(20);
    })
    .await;
    *reads.delay.lock().unwrap() = std::time::Duration::from_millis(100);
    let zip = Zip::of(
        (0..30)
            .map(|i| Entry::new(&format!("{i:02}.png"), png(i)))
            .collect(),
    );
    let archive = ingest(&app, "seller", zip.bytes()).await;
    assert_eq!(archive["status"], "done", "{archive}");
    assert_eq!(archive["counts"]["registered"], 30, "{archive}");
    assert_eq!(images_of(&app, "seller").await, 30);
    // More reads than one run needs: attempts were cut off and started again.
    assert!(reads.ranges() > 31, "{} reads", reads.ranges());
}

#[tokio::test]
async fn an_archive_of_one_image_too_many_fails_before_registering_any() {
    let (app, _) = spawn(&Backend::Embedded, |_| {}).await;
    let tiny = |i: u32| Entry::new(&format!("{i}.png"), vec![(i % 251) as u8; 4]);
    let archive = ingest(
        &app,
        "seller",
        Zip::of((0..1001).map(tiny).collect()).bytes(),
    )
    .await;
    assert_eq!(archive["status"], "failed");
    assert_eq!(
        archive["reason"],
        "the archive holds 1001 images; at most 1000 may be ingested at once"
    );
    assert_eq!(images_of(&app, "seller").await, 0);
}

#[tokio::test]
async fn an_archive_replaced_while_it_is_read_fails_cleanly() {
    let (app, reads) = spawn(&Backend::Embedded, |s| {
        s.bulk.max_read_bytes = 1;
        s.bulk.max_read_gap = 0;
    })
    .await;
    let zip = |offset: u32| {
        Zip::of(
            (0..10)
                .map(|i| Entry::new(&format!("{i}.png"), png(i + offset)))
                .collect(),
        )
        .bytes()
    };
    // Just before the third read (the second entry), another archive lands on the key.
    *reads.replace_at.lock().unwrap() = Some((3, zip(100)));
    let archive = ingest(&app, "seller", zip(0)).await;
    assert_eq!(archive["status"], "failed", "{archive}");
    assert_eq!(
        archive["reason"],
        "the archive was replaced while it was being read"
    );
    assert_eq!(archive["counts"]["registered"], 1, "the entry read before");
}

#[tokio::test]
async fn an_archive_is_held_to_its_size_at_and_past_the_limit() {
    let zip = Zip::of(vec![Entry::new("a.png", png(1))]).bytes();
    let limit = zip.len() as u64;
    let (app, _) = spawn(&Backend::Embedded, |s| s.bulk.max_archive_bytes = limit).await;
    let archive = ingest(&app, "seller", zip.clone()).await;
    assert_eq!(archive["status"], "done", "{archive}");
    // One byte more (a trailing byte a ZIP reader tolerates) is refused as it is uploaded.
    let mut larger = zip.clone();
    larger.push(0);
    let (location, url) = start_archive(&app, "seller").await;
    assert_eq!(put_archive(&app, &url, larger.clone()).await.as_u16(), 413);
    assert_eq!(read(&app, "seller", &location).await["status"], "waiting");
    // A store that cannot bound an upload (a presigned S3 PUT) lets it in: the ingest refuses it.
    let key = format!("bulk/archives/{}.zip", location.rsplit('/').next().unwrap());
    app.platform
        .store
        .put(
            &sous::platform::storage::ObjectKey::parse(&key).unwrap(),
            larger.into(),
        )
        .await
        .unwrap();
    app.platform
        .jobs
        .enqueue(&IngestArchive {
            event: ObjectCreated {
                bucket: "local".into(),
                key,
                version: "unbounded".into(),
                size: None,
                content_type: None,
            },
        })
        .await
        .unwrap();
    let archive = finished(&app, "seller", &location).await;
    assert_eq!(archive["status"], "failed");
    assert_eq!(
        archive["reason"],
        format!("the archive is larger than {limit} bytes")
    );
}

#[tokio::test]
async fn another_sellers_archive_is_not_there_for_them() {
    let (app, _) = spawn(&Backend::Embedded, |_| {}).await;
    let archive = ingest(
        &app,
        "alice",
        Zip::of(vec![Entry::new("a.png", png(1))]).bytes(),
    )
    .await;
    let path = format!(
        "/v1/bulk/image-archives/{}",
        archive["id"].as_str().unwrap()
    );
    let (status, _) = app.get_json(&app.token("bob", &[]), &path).await;
    assert_eq!(status.as_u16(), 404);
    assert!(named_images(&app, "bob").await.is_empty());
    let listed = read(&app, "bob", "/v1/bulk/image-archives").await;
    assert_eq!(listed["items"], serde_json::json!([]));
    let listed = read(&app, "alice", "/v1/bulk/image-archives").await;
    assert_eq!(listed["items"][0]["id"], archive["id"]);
}
