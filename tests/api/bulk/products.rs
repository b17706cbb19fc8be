//! Product CSVs: partial success with every row-level problem reported, dry runs, updates by
//! SKU, both encodings Excel writes, the kept report and its failed rows, whole-file refusals.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::zipper::{Entry, Zip};
use super::{ingest, png, read, spawn};
use crate::helpers::{Backend, TestApp};

async fn post_csv(app: &TestApp, owner: &str, query: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/bulk/products{query}")))
        .bearer_auth(app.token(owner, &[]))
        .header(CONTENT_TYPE, "text/csv")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn imported(app: &TestApp, owner: &str, query: &str, csv: &str) -> Value {
    let response = post_csv(app, owner, query, csv.as_bytes().to_vec()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// An app where `seller` has apple.png and grape.png from an archive.
async fn seller_with_images(backend: &Backend) -> TestApp {
    let (app, _) = spawn(backend, |s| {
        s.bulk.max_csv_bytes = 4096;
        s.bulk.max_csv_rows = 20;
    })
    .await;
    let zip = Zip::of(vec![
        Entry::new("apple.png", png(1)),
        Entry::new("果物/grape.png", png(2)),
    ]);
    let archive = ingest(&app, "seller", zip.bytes()).await;
    assert_eq!(archive["counts"]["registered"], 2, "{archive}");
    app
}

#[tokio::test]
async fn good_rows_apply_and_every_bad_one_is_reported_and_kept_to_fix() {
    for backend in crate::helpers::backends() {
        let app = seller_with_images(&backend).await;
        let long = "あ".repeat(256);
        let csv = format!(
            "sku,name,price,description,image_1,image_2\n\
             A-1,りんご,300,青森産,apple.png,果物/grape.png\n\
             A-2,ぶどう,three hundred,,果物/grape.png,\n\
             A-3,もも,500,,peach.png,\n\
             A-1,みかん,200,,,\n\
             A-4,{long},100,,,\n\
             A-5,\"梨, 大玉\",0,,,\n"
        );
        let report = imported(&app, "seller", "", &csv).await;
        assert_eq!(
            (&report["rows"], &report["applied"], &report["failed"]),
            (&6.into(), &2.into(), &4.into()),
            "{backend:?}: {report}"
        );
        let reported: Vec<(u64, &str)> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap()))
            .collect();
        assert_eq!(
            reported,
            [(3, "price"), (4, "image_1"), (5, "sku"), (6, "name")],
            "{backend:?}"
        );
        assert_eq!(
            report["errors"][1]["message"],
            "no image named `peach.png` in your archives"
        );

        let product = read(&app, "seller", "/v1/products/A-1").await;
        assert_eq!(product["price"], 300);
        assert_eq!(product["images"][1]["name"], "果物/grape.png");
        assert!(
            product["images"][0]["url"]
                .as_str()
                .unwrap()
                .contains("/i/")
        );
        let page = read(&app, "seller", "/v1/products").await;
        let skus: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap())
            .collect();
        assert_eq!(skus, ["A-1", "A-5"]);

        // The report again, and its failed rows to fix in Excel.
        let id = report["id"].as_str().unwrap();
        let again = read(&app, "seller", &format!("/v1/bulk/product-imports/{id}")).await;
        assert_eq!(again["errors"], report["errors"]);
        let failed = app
            .client
            .get(app.url(report["failed_rows_url"].as_str().unwrap()))
            .bearer_auth(app.token("seller", &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        let failed = failed.text().await.unwrap();
        let lines: Vec<&str> = failed.lines().collect();
        assert_eq!(
            lines[0],
            "\u{feff}sku,name,price,description,image_1,image_2,error"
        );
        assert_eq!(lines.len(), 5, "{failed}");
        assert!(lines[2].starts_with("A-3,もも,500,,peach.png,,image_1: no image named"));
        // Someone else's report is not there for them.
        let (status, _) = app
            .get_json(
                &app.token("other", &[]),
                &format!("/v1/bulk/product-imports/{id}"),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .get_json(&app.token("other", &[]), "/v1/products/A-1")
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_dry_run_applies_nothing_and_a_known_sku_is_updated() {
    let app = seller_with_images(&Backend::Embedded).await;
    let csv = "sku,name,price,image_1\nA-1,りんご,300,apple.png\n";
    let dry = imported(&app, "seller", "?dry_run=true", csv).await;
    assert_eq!(
        (&dry["dry_run"], &dry["applied"]),
        (&true.into(), &0.into())
    );
    assert_eq!(
        read(&app, "seller", "/v1/products").await["items"],
        serde_json::json!([])
    );
    imported(&app, "seller", "", csv).await;
    let updated = imported(&app, "seller", "", "sku,name,price\nA-1,ふじりんご,350\n").await;
    assert_eq!(updated["applied"], 1);
    let product = read(&app, "seller", "/v1/products/A-1").await;
    assert_eq!(
        (&product["name"], &product["price"]),
        (&"ふじりんご".into(), &350.into())
    );
    assert_eq!(product["images"], serde_json::json!([]));
}

#[tokio::test]
async fn excel_files_in_cp932_or_with_a_bom_import_alike() {
    let app = seller_with_images(&Backend::Embedded).await;
    let csv = "sku,name,price,image_1\nJ-1,りんご,300,apple.png\n";
    let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
    let bom = [b"\xEF\xBB\xBF".as_slice(), csv.as_bytes()].concat();
    for (bytes, encoding) in [(cp932.to_vec(), "cp932"), (bom, "utf-8-bom")] {
        let response = post_csv(&app, "seller", "", bytes).await;
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["encoding"], encoding);
        assert_eq!(report["applied"], 1, "{report}");
    }
    assert_eq!(
        read(&app, "seller", "/v1/products/J-1").await["name"],
        "りんご"
    );
}

#[tokio::test]
async fn files_that_are_not_product_tables_are_refused_whole() {
    let app = seller_with_images(&Backend::Embedded).await;
    let rows = |n: usize| {
        let mut csv = "sku,name,price\n".to_string();
        for i in 0..n {
            csv.push_str(&format!("S{i},n,1\n"));
        }
        csv
    };
    for (bytes, status, says) in [
        (b"sku,title,price\nA,b,1\n".to_vec(), 400, "missing: name"),
        (vec![0x82, 0xff, 0x00, 0xfe], 400, ""),
        (rows(21).into_bytes(), 400, "at most 20"),
        (vec![b'a'; 4097], 413, "4096 bytes"),
    ] {
        let response = post_csv(&app, "seller", "", bytes).await;
        assert_eq!(response.status().as_u16(), status);
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    // At the limits, it goes.
    assert_eq!(imported(&app, "seller", "", &rows(20)).await["applied"], 20);
    let mut at_size = "sku,name,price\nB-1,n,1\n".to_string();
    at_size.push_str(&" ".repeat(4096 - at_size.len()));
    assert_eq!(at_size.len(), 4096);
    assert_eq!(imported(&app, "seller", "", &at_size).await["applied"], 1);
}
