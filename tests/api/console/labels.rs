//! The labels page: a template's live preview in HTML, plain text and decoded ESC/POS, kept
//! through a JSON mistake, and a dry run into the print log.

use serde_json::{Value, json};

use super::Console;

const HTML: &str = "[data-testid=label-html-preview]";
const TEXT: &str = "[data-testid=label-text-preview]";
const ESCPOS: &str = "[data-testid=escpos-view]";

async fn example(console: &Console, template: &str) -> Value {
    let (status, list) = console
        .app
        .get_json(&console.app.admin_token(), "/v1/labels/templates")
        .await;
    assert!(status.is_success(), "{status}: {list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == template)
        .unwrap_or_else(|| panic!("no template {template}: {list}"))["example"]
        .clone()
}

#[tokio::test]
async fn a_template_previews_live_and_a_dry_run_is_logged() {
    let Some(console) = Console::start().await else {
        return;
    };
    console.open("#/labels").await;
    console.find("[data-testid=label-rendered]").await;
    // The first template's example, in every view.
    console.wait_for_text(HTML, "山田 太郎 様").await;
    console
        .wait_for_text(TEXT, "受取: 中目黒駅前ステーション")
        .await;
    let escpos = console.wait_for_text(ESCPOS, "ESC @").await;
    for command in [
        "initialize",
        "FS C 1",
        "GS ! 17",
        "character size 2×2",
        "GS ( k",
        "GS V 66",
    ] {
        assert!(escpos.contains(command), "{command} in {escpos}");
    }
    // The Shift_JIS text of the bytes, decoded.
    assert!(escpos.contains("山田 太郎 様"), "{escpos}");
    // The label is drawn by the labels stylesheet: as wide as the paper (48 mm), not the page.
    let width = console
        .wait_until(
            "the label is sized by its stylesheet",
            "document.querySelector('[data-testid=label-html-preview] .sous-label')?.getBoundingClientRect().width",
        )
        .await;
    let width = width.as_f64().unwrap();
    assert!(
        (150.0..250.0).contains(&width),
        "48 mm is about 181 px, got {width}"
    );

    // Another template.
    console.set_value("#label-template", "shipping-box").await;
    console.wait_for_text(TEXT, "目黒A").await;
    console.wait_for_text(ESCPOS, "目黒A").await;

    // Edited data: the preview follows, with the characters that print differently counted.
    let mut data = example(&console, "shipping-box").await;
    data["destination"] = json!("代々木公園前 〜 𠮷野家");
    data["route"] = json!("渋谷B");
    let edited = serde_json::to_string_pretty(&data).unwrap();
    console.set_value("#label-data", &edited).await;
    console.wait_for_text(HTML, "渋谷B").await;
    console.wait_for_text(TEXT, "代々木公園前").await;
    console.wait_for_text(ESCPOS, "渋谷B").await;
    console
        .wait_for_text("[data-testid=label-substitutions]", "2 characters")
        .await;

    // A JSON mistake is shown where it is, and the last good preview stays.
    console
        .set_value("#label-data", &edited.replacen("\"route\"", "route", 1))
        .await;
    let problem = console
        .wait_for_text("[data-testid=label-json-error]", "Not valid JSON")
        .await;
    assert!(problem.contains("line"), "{problem}");
    console.find("[data-testid=label-stale]").await;
    assert!(console.text(HTML).await.contains("渋谷B"));
    console.screenshot("labels-json-mistake").await;

    // Fixed, then a dry run: logged, with its substitutions, and its preview on demand.
    console.set_value("#label-data", &edited).await;
    console
        .wait_until(
            "the mistake is gone",
            "!document.querySelector('[data-testid=label-json-error]')",
        )
        .await;
    console.click("[data-testid=label-print]").await;
    let result = console
        .wait_for_text("[data-testid=print-result]", "Dry run logged")
        .await;
    assert!(result.contains("2 substitutions"), "{result}");
    assert!(result.contains("𠮷"), "{result}");
    let logged = console
        .wait_for_text("[data-testid=print-log-item]", "dry run")
        .await;
    assert!(logged.contains("2 substitutions"), "{logged}");
    console
        .click("[data-testid=print-log-item] button[aria-expanded]")
        .await;
    console
        .wait_for_text("[data-testid=print-log-item] .sous-label", "渋谷B")
        .await;
    console.finish("labels").await;
}
