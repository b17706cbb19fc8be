//! The bulk page: images chosen in the browser, zipped there, uploaded to the signed URL with a
//! progress bar, and each entry's result; then a product CSV checked, imported, and its failed
//! rows offered for download.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::Console;
use super::meal_photos::wait_long;
use crate::images::samples;

/// Images with names as a seller's folder has them, Japanese among them.
fn images(dir: &std::path::Path) -> Vec<PathBuf> {
    let files: [(&str, Vec<u8>); 4] = [
        ("トマト.jpg", samples::jpeg(320, 240, |_, _| samples::RED)),
        (
            "にんじん.jpg",
            samples::jpeg(240, 320, |x, _| {
                if x < 120 {
                    samples::RED
                } else {
                    samples::WHITE
                }
            }),
        ),
        ("onion-1.png", samples::png(200, 150)),
        (
            "onion-2.jpg",
            samples::jpeg(64, 64, |_, y| {
                if y < 32 {
                    samples::GREEN
                } else {
                    samples::BLUE
                }
            }),
        ),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

/// Waits for the import report to show `text`: the import's parse shares the CPU pool with
/// renders, which a debug build makes slowly when other tests run beside this one.
async fn report_shows(console: &Console, text: &str) {
    let script = format!(
        "document.querySelector('[data-testid=bulk-import-report]').textContent.includes({})",
        json!(text)
    );
    wait_long(
        console,
        "the import report",
        &script,
        Duration::from_secs(90),
    )
    .await;
}

#[tokio::test]
async fn images_are_zipped_in_the_browser_and_a_product_csv_reports_its_rows() {
    let Some(console) = Console::start_with(
        |settings| {
            // Only the originals: the ingest is what this test watches.
            settings.images.ladder.clear();
            settings.images.presets.clear();
            // The served image fetched below is rendered while the request waits, slowly in
            // a debug build beside the other tests.
            settings.images.render_wait = Duration::from_secs(60);
        },
        |builder| builder,
    )
    .await
    else {
        return;
    };
    console.open("#/bulk").await;
    console.find("[data-testid=bulk-image-input]").await;

    let dir = tempfile::tempdir().unwrap();
    console
        .choose_files("[data-testid=bulk-image-input]", &images(dir.path()))
        .await;
    console
        .wait_for_text("[data-testid=bulk-chosen-count]", "4 images")
        .await;
    console.click("[data-testid=bulk-upload-button]").await;

    // Zipped and uploaded: the bar is full, then the archive is worked through.
    console
        .wait_until(
            "the upload finished",
            "(() => { const bar = document.querySelector('[data-testid=bulk-upload-progress]'); return bar && bar.max > 1 && bar.value === bar.max; })()",
        )
        .await;
    wait_long(
        &console,
        "the archive is done",
        "document.querySelector('[data-testid=bulk-archive] [data-testid=archive-status]')?.textContent === 'done'",
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(console.text("[data-testid=archive-total]").await, "4");
    assert_eq!(console.text("[data-testid=archive-registered]").await, "4");
    assert_eq!(console.text("[data-testid=archive-refused]").await, "0");
    let entries = console.find_all("[data-testid=archive-entry]").await;
    assert_eq!(entries.len(), 4);
    let mut names = Vec::new();
    for entry in &entries {
        assert_eq!(
            entry.attr("data-status").await.unwrap().as_deref(),
            Some("registered")
        );
        names.push(entry.text().await.unwrap());
    }
    for name in ["トマト.jpg", "にんじん.jpg", "onion-1.png", "onion-2.jpg"] {
        assert!(
            names.iter().any(|n| n.contains(name)),
            "{name} in {names:?}"
        );
    }
    // Each registered image is shown (from the chosen file) and links to where it is served.
    console
        .browser
        .execute(
            "document.querySelector('.bk-entries').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    console
        .wait_until(
            "the thumbnails show",
            "[...document.querySelectorAll('[data-testid=archive-entry] img')].filter((i) => i.complete && i.naturalWidth > 0).length === 4",
        )
        .await;
    let links = console.find_all("[data-testid=archive-entry-link]").await;
    assert_eq!(links.len(), 4);
    let served = links[0].attr("href").await.unwrap().unwrap();
    assert!(served.starts_with(&console.app.url("/i/")), "{served}");
    let response = console.app.client.get(&served).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{served}");
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    // The server read the names as the browser wrote them.
    let (_, listed) = console
        .app
        .get_json(
            &console.app.admin_token(),
            "/v1/bulk/images?name=トマト.jpg",
        )
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    console
        .browser
        .execute(
            "document.querySelector('.bk-archive').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    console.screenshot("bulk-archive-done").await;

    // A product CSV: one good row, a bad price, an image no archive had.
    let csv = dir.path().join("商品.csv");
    std::fs::write(
        &csv,
        "sku,name,price,description,image_1\n\
         T-1,完熟トマト,398,熊本産,トマト.jpg\n\
         C-1,にんじん,高い,,にんじん.jpg\n\
         O-1,玉ねぎ,198,,玉ねぎ.jpg\n",
    )
    .unwrap();
    console
        .choose_files("[data-testid=bulk-csv-input]", &[csv])
        .await;
    console.click("[data-testid=bulk-dry-run]").await;
    console.click("[data-testid=bulk-import-button]").await;
    report_shows(&console, "dry run").await;
    assert_eq!(console.text("[data-testid=import-failed]").await, "2");
    let (_, products) = console
        .app
        .get_json(&console.app.admin_token(), "/v1/products")
        .await;
    assert_eq!(products["items"], json!([]), "a dry run applies nothing");

    console.click("[data-testid=bulk-dry-run]").await;
    console.click("[data-testid=bulk-import-button]").await;
    report_shows(&console, "Imported").await;
    assert_eq!(console.text("[data-testid=import-rows]").await, "3");
    assert_eq!(console.text("[data-testid=import-applied]").await, "1");
    assert_eq!(console.text("[data-testid=import-failed]").await, "2");
    let errors = console.find_all("[data-testid=import-error]").await;
    assert_eq!(errors.len(), 2);
    let first = errors[0].text().await.unwrap();
    assert!(first.contains('3') && first.contains("price"), "{first}");
    let second = errors[1].text().await.unwrap();
    assert!(second.contains("玉ねぎ.jpg"), "{second}");
    let (_, product) = console
        .app
        .get_json(&console.app.admin_token(), "/v1/products/T-1")
        .await;
    assert_eq!(product["name"], json!("完熟トマト"), "{product}");

    // The failed rows come down as a file, fetched with the token: the two rows with an
    // error column.
    console.click("[data-testid=failed-rows-download]").await;
    let size = console
        .wait_until(
            "the failed rows were fetched",
            "document.querySelector('[data-testid=failed-rows-download]').dataset.downloaded",
        )
        .await;
    let id = console
        .find("[data-import-id]")
        .await
        .attr("data-import-id")
        .await
        .unwrap()
        .unwrap();
    let failed = console
        .app
        .client
        .get(
            console
                .app
                .url(&format!("/v1/bulk/product-imports/{id}/failed-rows.csv")),
        )
        .bearer_auth(console.app.admin_token())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let size_fetched = failed.len();
    let failed = String::from_utf8_lossy(&failed);
    assert!(
        failed.contains("error") && failed.contains("C-1") && failed.contains("O-1"),
        "{failed}"
    );
    assert!(!failed.contains("T-1"), "{failed}");
    assert_eq!(
        size,
        json!(size_fetched.to_string()),
        "the page got the whole file"
    );
    console.finish("bulk-products-report").await;
}
