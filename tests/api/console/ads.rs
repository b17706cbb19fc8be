//! The ads page: a campaign made in the editor (an advertiser on the spot, an ingredient typed
//! and resolved to its concept, a first creative), the kill switch, and the delivery preview
//! serving the campaign on a recipe that spells the ingredient its own way.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::Console;
use crate::helpers::eventually;

/// Clicks "Preview delivery" until the preview shows what `script` (a JS expression) looks
/// for: campaigns and the ingredient table reach delivery within `ads.refresh_every`.
async fn preview_until(console: &Console, what: &str, script: &str) -> serde_json::Value {
    let started = Instant::now();
    let body = format!("return ({script});");
    loop {
        console.click("[data-testid=preview-button]").await;
        console
            .wait_until(
                "the preview answered",
                "document.querySelector('.ad-delivery')",
            )
            .await;
        let value = console.browser.execute(&body, vec![]).await.unwrap();
        if !matches!(
            value,
            serde_json::Value::Null | serde_json::Value::Bool(false)
        ) {
            return value;
        }
        if started.elapsed() > Duration::from_secs(30) {
            console.screenshot("timeout").await;
            panic!("the preview never showed {what}: `{script}`");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_campaign_made_in_the_editor_is_delivered_on_a_recipe_with_its_ingredient() {
    let Some(console) = Console::start_with(
        |settings| {
            settings.ads.seed_ingredients = true;
            settings.ads.refresh_every = Duration::from_millis(200);
            // Generous for a debug build on a busy machine.
            settings.ads.cache_timeout = Duration::from_millis(200);
            // Counts reach the hourly rows, and so the stats, quickly.
            settings.ads.count_every = Duration::from_millis(200);
            settings.ads.flush_every = Duration::from_millis(500);
        },
        |builder| builder,
    )
    .await
    else {
        return;
    };
    console.open("#/ads").await;
    console
        .wait_for_text("[data-testid=campaigns-empty]", "No campaigns yet")
        .await;
    console
        .wait_for_text("[data-testid=kill-switch-state]", "on")
        .await;

    // The editor: an advertiser made on the spot, ingredient targeting typed in Japanese.
    console.click("[data-testid=campaign-new]").await;
    console.type_into("#ad-new-advertiser", "八百屋さん").await;
    console.click("[data-testid=advertiser-add]").await;
    console
        .wait_for_text("#ad-advertiser option:checked", "八百屋さん")
        .await;
    console.type_into("#ad-name", "新玉ねぎフェア").await;
    console.click("#ad-targeting-ingredient").await;
    console
        .type_into("#ad-ingredient-input", "新たまねぎ")
        .await;
    console
        .wait_for_text("[data-testid=ad-ingredient-input-result]", "onion")
        .await;
    console
        .click("[data-testid=ad-ingredient-input-result] [data-concept=onion]")
        .await;
    console
        .wait_for_text("[data-testid=concept-chips]", "onion")
        .await;
    console.type_into("#ad-daily-cap", "1000").await;
    console
        .type_into("#ad-creative-title", "春の新玉ねぎ")
        .await;
    console
        .type_into("#ad-creative-link", "https://example.com/onion")
        .await;
    console.click("[data-testid=campaign-save]").await;
    console
        .wait_for_text("[data-testid=campaign-list]", "新玉ねぎフェア")
        .await;
    console
        .wait_for_text("[data-testid=creative-list]", "春の新玉ねぎ")
        .await;

    // As the API has it.
    let admin = console.app.admin_token();
    let (_, campaigns) = console.app.get_json(&admin, "/v1/ads/campaigns").await;
    let campaign = &campaigns["items"][0];
    assert_eq!(campaign["name"], json!("新玉ねぎフェア"), "{campaigns}");
    assert_eq!(campaign["targeting"], json!("ingredient"));
    assert_eq!(campaign["concepts"], json!(["onion"]));
    assert_eq!(campaign["daily_cap"], json!(1000));
    let id = campaign["id"].as_str().unwrap().to_string();

    // A recipe that writes 玉葱: the campaign takes its slot.
    console
        .type_into("#ad-preview-ingredients", "玉葱\n★塩（少々）")
        .await;
    let served = preview_until(
        &console,
        "the ingredient jack",
        "document.querySelector('[data-testid=preview-ad][data-targeting=ingredient]')?.dataset.campaignId",
    )
    .await;
    assert_eq!(served, json!(id));
    let result = console.text("[data-testid=preview-result]").await;
    assert!(
        result.contains("春の新玉ねぎ") && result.contains("onion"),
        "{result}"
    );

    // The kill switch: off, the recipe gets no ingredient jack; on again, it does.
    console.click("[data-testid=kill-switch]").await;
    console
        .wait_for_text("[data-testid=kill-switch-state]", "off")
        .await;
    preview_until(
        &console,
        "the ingredient step switched off",
        "document.querySelector('[data-testid=preview-result]').textContent.includes('skipped: disabled') \
         && !document.querySelector('[data-testid=preview-ad]')",
    )
    .await;
    console.click("[data-testid=kill-switch]").await;
    console
        .wait_for_text("[data-testid=kill-switch-state]", "on")
        .await;
    preview_until(
        &console,
        "the ingredient jack again",
        "document.querySelector('[data-testid=preview-ad][data-targeting=ingredient]')",
    )
    .await;
    console.screenshot("ads-preview-delivered").await;

    // What the previews delivered shows in the campaign's stats, once flushed.
    let stats = format!("/v1/ads/campaigns/{id}/stats");
    let flushed = eventually(Duration::from_secs(30), || async {
        let (_, body) = console.app.get_json(&admin, &stats).await;
        body["impressions"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    assert!(flushed, "the impressions never reached the stats");
    console
        .click(&format!("[data-testid=campaign-row][data-campaign-id=\"{id}\"] [data-testid=campaign-stats-open]"))
        .await;
    console
        .wait_until(
            "the stats show the impressions",
            "Number(document.querySelector('[data-testid=stats-impressions]')?.textContent) >= 2",
        )
        .await;
    // Bars by hour, and the daily cap's pace as a line.
    console
        .find("[data-testid=campaign-stats] svg .series-a rect")
        .await;
    console
        .find("[data-testid=campaign-stats] svg .series-pace polyline")
        .await;
    console.finish("ads-stats").await;
}
