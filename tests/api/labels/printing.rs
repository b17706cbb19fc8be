//! Printing to the fake network printer: the bytes it gets, retries, dry runs, batches.

use super::*;

#[tokio::test]
async fn the_printer_receives_exactly_the_rendered_bytes() {
    for backend in backends() {
        let printer = FakePrinter::start().await;
        let app = spawn(&backend, printer.port).await;
        let alice = app.token("alice", &[]);
        let label = order_item("北海道産 じゃがいも");
        let expected = escpos(&app, &alice, &label).await;
        assert!(expected.starts_with(b"\x1b@"), "{backend:?}");

        let (status, job, location) =
            post_print_job(&app, &alice, &with(label, json!({"printer": "dock"}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();
        assert_eq!(location, format!("/v1/print-jobs/{id}"));
        assert_eq!(job["status"], "queued");
        assert_eq!(job["owner"], "alice");
        assert_eq!(job["label_count"], 1);
        assert_eq!(
            job["links"]["preview"],
            format!("/v1/print-jobs/{id}/preview")
        );
        assert!(
            stored(&app, id).await,
            "{backend:?}: bytes stored before queueing"
        );

        let job = wait_for(&app, id, |job| job["status"] == "printed").await;
        assert_eq!(job["attempts"], 1, "{backend:?}");
        assert_eq!(job["error"], Value::Null);
        assert_eq!(printer.received(), [expected], "{backend:?}");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_dead_printer_is_retried_then_the_job_fails_with_the_reason() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let body = with(tree("届かない"), json!({"printer": "dock"}));
        let (status, job, _) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();

        let retrying = wait_for(&app, id, |job| {
            job["attempts"] == 1 && job["error"].is_string()
        })
        .await;
        assert_eq!(
            retrying["status"], "queued",
            "{backend:?}: waits for its retry"
        );
        let failed = wait_for(&app, id, |job| job["status"] == "failed").await;
        assert_eq!(failed["attempts"], 2, "{backend:?}: max_attempts is 2");
        assert_eq!(
            failed["error"], "cannot connect to printer `dock`: connection refused",
            "{backend:?}"
        );

        // The job marks its print failed before the runner records the dead letter.
        let admin = app.admin_token();
        let dead_letters = || async {
            let (_, dead) = app.get_json(&admin, "/v1/admin/jobs?queue=print").await;
            dead["items"].as_array().unwrap().clone()
        };
        eventually(Duration::from_secs(10), || async {
            !dead_letters().await.is_empty()
        })
        .await;
        let dead = dead_letters().await;
        assert_eq!(dead.len(), 1, "{backend:?}: {dead:?}");
        assert_eq!(dead[0]["kind"], "labels.print");
        assert_eq!(dead[0]["payload"]["print_job_id"], id);
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_dry_run_lists_substitutions_per_label_and_prints_nothing() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let body = json!({"labels": [tree("そのまま"), order_item("じゃがいも〜𠮷田農園")], "dry_run": true});
        let (status, job, location) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {job}");
        let id = job["id"].as_str().unwrap();
        assert_eq!(location, format!("/v1/print-jobs/{id}"));
        assert_eq!(job["status"], "dry_run");
        assert_eq!(job["dry_run"], true);
        assert_eq!(job["printer"], Value::Null);
        let substitutions: Vec<_> = job["substitutions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["label"].as_u64().unwrap(),
                    s["original"].as_str().unwrap(),
                    s["replacement"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            substitutions,
            [(1, "〜", "～"), (1, "𠮷", "吉")],
            "{backend:?}"
        );
        assert!(
            job["substitutions"][0]["path"]
                .as_str()
                .unwrap()
                .starts_with("/children/")
        );

        let response = app
            .client
            .get(app.url(&format!("/v1/print-jobs/{id}/preview")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("じゃがいも～吉田農園"), "{html}");
        assert!(
            !stored(&app, id).await,
            "{backend:?}: a dry run stores no bytes"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, job) = app.get_json(&alice, &format!("/v1/print-jobs/{id}")).await;
        assert_eq!(
            (job["status"].as_str(), job["attempts"].as_u64()),
            (Some("dry_run"), Some(0))
        );
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_batch_prints_in_order() {
    for backend in backends() {
        let printer = FakePrinter::start().await;
        let app = spawn(&backend, printer.port).await;
        let alice = app.token("alice", &[]);
        let labels = [tree("一枚目"), order_item("二枚目の品"), tree("三枚目〜")];
        let mut expected = Vec::new();
        for label in &labels {
            expected.extend(escpos(&app, &alice, label).await);
        }
        let body = json!({"labels": labels, "printer": "dock"});
        let (status, job, _) = post_print_job(&app, &alice, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{backend:?}: {job}");
        assert_eq!(job["label_count"], 3);
        assert_eq!(job["substitutions"][0]["label"], 2);
        let id = job["id"].as_str().unwrap();
        wait_for(&app, id, |job| job["status"] == "printed").await;
        assert_eq!(
            printer.received(),
            [expected],
            "{backend:?}: one stream, in order"
        );

        let preview = app
            .client
            .get(app.url(&format!("/v1/print-jobs/{id}/preview")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = |text: &str| {
            preview
                .find(text)
                .unwrap_or_else(|| panic!("{text} missing"))
        };
        assert!(at("一枚目") < at("二枚目の品") && at("二枚目の品") < at("三枚目"));
        app.stop().await.unwrap();
    }
}
