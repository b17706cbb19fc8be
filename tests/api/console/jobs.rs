//! The jobs page: queue counts, the dead letters, and retrying or discarding one from the page.

use std::time::Duration;

use serde_json::Value;

use super::Console;
use crate::helpers::{TestApp, eventually};
use crate::jobs::{Scripted, finished_runs};

async fn dead_letters(app: &TestApp, state: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json(
            &app.admin_token(),
            &format!("/v1/admin/jobs?queue=system&state={state}"),
        )
        .await;
    assert!(status.is_success(), "{status}: {page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn has_dead_letter(app: &TestApp, state: &str, id: &str) -> bool {
    dead_letters(app, state)
        .await
        .iter()
        .any(|job| job["id"] == id)
}

#[tokio::test]
async fn a_dead_job_is_listed_then_retried_or_discarded_from_the_page() {
    let Some(console) = Console::start_with(|_| {}, |b| b.job::<Scripted>()).await else {
        return;
    };
    let app = &console.app;
    // Fails its three attempts (the tests' system queue allows three), then succeeds once
    // re-queued.
    let flaky = Scripted::new(3);
    let flaky_id = app.platform.jobs.enqueue(&flaky).await.unwrap().to_string();
    // Fails for good at once.
    let doomed = Scripted {
        permanent: true,
        ..Scripted::new(0)
    };
    let doomed_id = app
        .platform
        .jobs
        .enqueue(&doomed)
        .await
        .unwrap()
        .to_string();
    assert!(
        eventually(Duration::from_secs(30), || async {
            has_dead_letter(app, "failed", &flaky_id).await
                && has_dead_letter(app, "failed", &doomed_id).await
        })
        .await,
        "both jobs die"
    );

    console.open("#/jobs").await;
    console.find("[data-testid=queues]").await;
    let system = console
        .wait_for_text("[data-testid=queue-system]", "system")
        .await;
    assert!(system.contains("dead"), "{system}");
    console
        .wait_for_text("[data-testid=queue-system-dead]", "2")
        .await;

    let flaky_row = format!("[data-testid=dead-job][data-job-id='{flaky_id}']");
    let doomed_row = format!("[data-testid=dead-job][data-job-id='{doomed_id}']");
    let shown = console.wait_for_text(&flaky_row, "test.scripted").await;
    assert!(shown.contains("flaky attempt 3"), "{shown}");
    assert!(shown.contains("3 attempts"), "{shown}");
    let shown = console
        .wait_for_text(&doomed_row, "payload refers to nothing")
        .await;
    assert!(shown.contains("1 attempt"), "{shown}");
    console
        .wait_for_text("[data-testid=jobs-retry-all]", "Retry all shown (2)")
        .await;
    // The chart of the last hour is drawn, with its accessible summary.
    console
        .wait_until(
            "the chart shows the failures",
            "document.querySelector('[data-testid=jobs-chart-minutes] svg[role=img]')?.getAttribute('aria-label').includes('failures')",
        )
        .await;
    console.screenshot("jobs-dead-letters").await;

    // Retry: the job leaves the list, is re-queued, and this time succeeds.
    console
        .click(&format!("{flaky_row} [data-testid=retry-job]"))
        .await;
    console
        .wait_until(
            "the retried job leaves the list",
            &format!("!document.querySelector(\"{flaky_row}\")"),
        )
        .await;
    assert!(has_dead_letter(app, "requeued", &flaky_id).await);
    assert!(
        eventually(Duration::from_secs(20), || async {
            finished_runs(&flaky.token) == 4
        })
        .await,
        "the re-queued job runs again"
    );

    // Discard, after the confirmation.
    console
        .click(&format!("{doomed_row} [data-testid=discard-job]"))
        .await;
    console
        .browser
        .accept_alert()
        .await
        .expect("the discard asks for confirmation");
    console
        .wait_until(
            "the discarded job leaves the list",
            &format!("!document.querySelector(\"{doomed_row}\")"),
        )
        .await;
    assert!(has_dead_letter(app, "discarded", &doomed_id).await);
    console.find("[data-testid=jobs-dead-empty]").await;
    console
        .wait_for_text("[data-testid=queue-system-dead]", "0")
        .await;

    // The discarded one is listed under its state.
    console.set_value("#jobs-filter-state", "discarded").await;
    console.wait_for_text(&doomed_row, "discarded").await;
    console.finish("jobs").await;
}
