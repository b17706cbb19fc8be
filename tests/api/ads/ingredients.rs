//! The ingredient table: the sample loaded on first start, imports in both encodings with bad
//! rows reported by line, the command-line import, and how spellings resolve.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::spawn;
use crate::helpers::{Backend, TestApp, backends};

async fn import(app: &TestApp, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/v1/ads/ingredients/import"))
        .bearer_auth(app.admin_token())
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn resolve(app: &TestApp, name: &str) -> Value {
    let query = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let (status, body) = app
        .get_json(
            &app.admin_token(),
            &format!("/v1/ads/ingredients/resolve?name={query}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    body
}

#[tokio::test]
async fn salt_however_it_is_written() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        for name in [
            "塩",
            "しお",
            "食塩",
            "★塩",
            "塩（少々）",
            "塩 少々",
            "ｼｵ",
            "◎塩…小さじ1/2",
            "【A】塩",
        ] {
            let resolved = resolve(&app, name).await;
            assert_eq!(
                resolved["concepts"],
                json!(["salt"]),
                "{backend:?} {name}: {resolved}"
            );
        }
        let compound = resolve(&app, "塩こしょう").await;
        assert_eq!(
            compound["concepts"],
            json!(["salt", "pepper"]),
            "{compound}"
        );
        assert_eq!(compound["matched_by"], "compound");
        let honorific = resolve(&app, "お酢").await;
        assert_eq!(honorific["concepts"], json!(["vinegar"]), "{honorific}");
        let unknown = resolve(&app, "謎の粉").await;
        assert_eq!(unknown["concepts"], json!([]));
        assert_eq!(unknown["matched_by"], Value::Null);
        assert!(!unknown["keys_tried"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn imports_read_both_encodings_and_report_bad_rows_by_line() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let (_, before) = app
        .get_json(&app.admin_token(), "/v1/ads/ingredients?limit=1")
        .await;
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        1,
        "the sample is loaded"
    );

    let csv = "normalized_name,written_name,concept_id\n\
               柚子胡椒,ゆずごしょう,yuzu_kosho_test\n\
               柚子胡椒,,yuzu_kosho_test\n\
               柚子胡椒,柚子胡椒,Not A Slug\n\
               柚子胡椒,ユズゴショウ,other_concept\n";
    let (cp932, _, unmappable) = encoding_rs::SHIFT_JIS.encode(csv);
    assert!(!unmappable);
    let (status, report) = import(&app, cp932.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["encoding"], "cp932");
    assert_eq!(report["applied"], 1);
    let lines: Vec<(i64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [(3, "written_name"), (4, "concept_id"), (5, "written_name")]
    );
    assert_eq!(
        resolve(&app, "ゆずごしょう 少々").await["concepts"],
        json!(["yuzu_kosho_test"])
    );

    let bom = [
        b"\xEF\xBB\xBF".as_slice(),
        "normalized_name,written_name,concept_id\n塩,天日塩,salt\n".as_bytes(),
    ]
    .concat();
    let (status, report) = import(&app, bom).await;
    assert_eq!(
        (status, report["encoding"].as_str()),
        (StatusCode::OK, Some("utf-8-bom"))
    );
    assert_eq!(resolve(&app, "★天日塩").await["concepts"], json!(["salt"]));

    let rows = report["table_rows"].as_i64().unwrap();
    for bad in [
        b"name,concept\n\xE5\xA1\xA9,salt\n".to_vec(),
        vec![0xFF, 0xFE, 0x00, 0x01],
    ] {
        let (status, problem) = import(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["code"], "csv_invalid");
    }
    // At the limit a file is read; one byte past it, refused before it is read.
    let limit = 10 * 1024 * 1024;
    let mut at_limit = b"normalized_name,written_name,concept_id\n".to_vec();
    while at_limit.len() + 20 < limit {
        at_limit.extend_from_slice("塩,しお,salt\n".as_bytes());
    }
    at_limit.resize(limit, b'\n');
    let (status, report) = import(&app, at_limit).await;
    assert_eq!(
        (status, report["applied"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{report}"
    );
    let (status, _) = import(&app, vec![b'a'; limit + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, again) = import(&app, b"normalized_name,written_name,concept_id\n".to_vec()).await;
    assert_eq!(
        again["table_rows"].as_i64(),
        Some(rows),
        "refused files changed nothing"
    );
}

#[tokio::test]
async fn the_command_line_import_fills_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("table.csv");
    std::fs::write(
        &file,
        "normalized_name,written_name,concept_id\n塩,しお,salt\n塩,,salt\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sous"))
        .args(["ads", "import-ingredients"])
        .arg(&file)
        .env("SOUS_DATA_DIR", dir.path())
        .env(
            "SOUS_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("sous.db").display()),
        )
        .env(
            "SOUS_STORE_URL",
            format!("file://{}", dir.path().join("objects").display()),
        )
        .env("SOUS_ADS__SEED_INGREDIENTS", "false")
        .env("SOUS_LOG_FORMAT", "json")
        .env_remove("SOUS_REDIS_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("line 3 written_name: is empty"), "{stdout}");
    assert!(stdout.contains("1 rows applied, 1 refused"), "{stdout}");
}
