//! Delivery: the tiers, caps, the kill switch, bad inputs answered with normal ads, the recipe
//! cache (an empty list cached too), and clicks.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{advertiser, campaign, campaigns_of, deliver, flush, spawn};
use crate::helpers::{Backend, backends};

#[tokio::test]
async fn the_ingredient_jack_then_the_keyword_jack_then_normal_ads() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let advertiser_id = advertiser(&app).await;
        let normal = campaign(
            &app,
            &advertiser_id,
            json!({"slots": ["recipe_top", "recipe_bottom", "search_top"]}),
        )
        .await;
        let salt = campaign(
            &app,
            &advertiser_id,
            json!({"targeting": "ingredient", "concepts": ["salt"]}),
        )
        .await;
        let kinpira = campaign(
            &app,
            &advertiser_id,
            json!({"targeting": "keyword", "keywords": ["きんぴら"], "slots": ["search_top", "recipe_top", "recipe_bottom"]}),
        )
        .await;

        let (status, body, _) = deliver(
            &app,
            "slot=recipe_top,recipe_bottom&recipe_id=r1",
            Some(&["鶏もも肉", "★塩 少々", "水"]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
        assert_eq!(
            campaigns_of(&body),
            [salt.clone(), salt.clone()],
            "{backend:?}: the jack takes both slots: {body}"
        );
        assert_eq!(body["ads"][0]["targeting"], "ingredient");
        assert!(
            body["concepts"]
                .as_array()
                .unwrap()
                .contains(&json!("salt")),
            "{body}"
        );
        assert!(
            body["ads"][0]["click_url"]
                .as_str()
                .unwrap()
                .contains("/v1/ads/click/")
        );
        assert_eq!(body["ads"][0]["payload"], json!({"style": "banner"}));

        // Cached under the recipe and its names; other names for the same recipe id (a
        // forged request, say) neither read nor overwrite that entry.
        let names: Vec<String> = ["鶏もも肉", "★塩 少々", "水"].map(String::from).to_vec();
        let key = sous::ads::delivery::recipe_key("r1", &names);
        assert!(
            cached(&app, &key).await.is_some(),
            "{backend:?}: not cached"
        );
        let (_, forged, _) = deliver(&app, "slot=recipe_top&recipe_id=r1", Some(&["水"])).await;
        assert_eq!(campaigns_of(&forged), vec![normal.clone()], "{forged}");
        let (_, again, _) = deliver(
            &app,
            "slot=recipe_top&recipe_id=r1",
            Some(&["鶏もも肉", "★塩 少々", "水"]),
        )
        .await;
        assert_eq!(
            campaigns_of(&again),
            vec![salt.clone()],
            "{backend:?}: {again}"
        );

        let (_, body, _) = deliver(&app, "slot=search_top&keyword=%E3%82%AD%E3%83%B3%E3%83%94%E3%83%A9%E3%81%94%E3%81%BC%E3%81%86", None).await;
        assert_eq!(
            campaigns_of(&body),
            vec![kinpira.clone()],
            "キンピラごぼう contains きんぴら: {body}"
        );
        let (_, body, _) = deliver(&app, "slot=search_top&keyword=curry", None).await;
        assert_eq!(campaigns_of(&body), vec![normal.clone()], "{body}");
        let (_, body, _) = deliver(
            &app,
            "slot=recipe_top&recipe_id=r2",
            Some(&["豚肉", "キャベツ"]),
        )
        .await;
        assert_eq!(campaigns_of(&body), vec![normal.clone()], "{body}");
    }
}

/// The recipe entry at `key`, once the background write has landed (within 10 s).
async fn cached(app: &crate::helpers::TestApp, key: &str) -> Option<bytes::Bytes> {
    for _ in 0..500 {
        if let Some(value) = app.platform.cache.get(key).await.unwrap() {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn a_recipe_with_no_known_ingredient_caches_an_empty_list_and_counts_the_names() {
    for backend in backends() {
        let app = spawn(&backend, |_| {}).await;
        let (_, body, _) = deliver(
            &app,
            "slot=recipe_top&recipe_id=nothing-known",
            Some(&["謎の粉", "謎の粉 少々"]),
        )
        .await;
        assert_eq!(body["concepts"], json!([]), "{body}");
        let names = ["謎の粉", "謎の粉 少々"].map(String::from);
        let key = sous::ads::delivery::recipe_key("nothing-known", &names);
        let cached = cached(&app, &key).await;
        assert_eq!(cached.as_deref(), Some(b"[]".as_slice()), "{backend:?}");
        flush(&app).await;
        let (_, unmatched) = app
            .get_json(&app.admin_token(), "/v1/ads/ingredients/unmatched")
            .await;
        assert_eq!(unmatched[0]["key"], "謎の粉", "{backend:?}: {unmatched}");
        assert_eq!(
            unmatched[0]["count"], 2,
            "two spellings, one key: {unmatched}"
        );
    }
}

#[tokio::test]
async fn dates_priority_and_caps() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let advertiser_id = advertiser(&app).await;
    campaign(&app, &advertiser_id, json!({"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2021-01-01T00:00:00Z", "priority": 100})).await;
    campaign(
        &app,
        &advertiser_id,
        json!({"starts_at": "2098-01-01T00:00:00Z", "priority": 100}),
    )
    .await;
    let capped = campaign(
        &app,
        &advertiser_id,
        json!({"priority": 10, "total_cap": 3}),
    )
    .await;
    let fallback = campaign(&app, &advertiser_id, json!({"priority": 1})).await;
    let mut served = Vec::new();
    for _ in 0..5 {
        served.extend(campaigns_of(
            &deliver(&app, "slot=recipe_top", None).await.1,
        ));
    }
    assert_eq!(
        served,
        [&capped, &capped, &capped, &fallback, &fallback].map(String::clone)
    );
}

#[tokio::test]
async fn the_kill_switch_turns_off_the_ingredient_jack_and_nothing_else() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let advertiser_id = advertiser(&app).await;
    let normal = campaign(&app, &advertiser_id, json!({})).await;
    let salt = campaign(
        &app,
        &advertiser_id,
        json!({"targeting": "ingredient", "concepts": ["salt"]}),
    )
    .await;
    let kinpira = campaign(
        &app,
        &advertiser_id,
        json!({"targeting": "keyword", "keywords": ["きんぴら"]}),
    )
    .await;
    let switch = |enabled: bool| {
        app.client
            .put(app.url("/v1/ads/switches/ingredient-jack"))
            .bearer_auth(app.admin_token())
            .json(&json!({"enabled": enabled}))
            .send()
    };
    assert_eq!(
        campaigns_of(
            &deliver(&app, "slot=recipe_top&recipe_id=k1", Some(&["塩"]))
                .await
                .1
        ),
        vec![salt.clone()]
    );
    let off: Value = switch(false).await.unwrap().json().await.unwrap();
    assert_eq!(
        off,
        json!({"enabled": false, "setting": true, "switch": false})
    );
    let (_, body, _) = deliver(&app, "slot=recipe_top&recipe_id=k1", Some(&["塩"])).await;
    assert_eq!(campaigns_of(&body), vec![normal.clone()], "{body}");
    assert_eq!(body["ingredients_skipped"], "disabled");
    let (_, body, _) = deliver(
        &app,
        "slot=recipe_top&keyword=%E3%81%8D%E3%82%93%E3%81%B4%E3%82%89",
        None,
    )
    .await;
    assert_eq!(
        campaigns_of(&body),
        vec![kinpira.clone()],
        "keyword jacks go on: {body}"
    );
    switch(true).await.unwrap();
    assert_eq!(
        campaigns_of(
            &deliver(&app, "slot=recipe_top&recipe_id=k1", Some(&["塩"]))
                .await
                .1
        ),
        [salt]
    );

    let off_by_setting = spawn(&Backend::Embedded, |s| s.ads.ingredient_jack = false).await;
    let (_, body, _) = deliver(
        &off_by_setting,
        "slot=recipe_top&recipe_id=k1",
        Some(&["塩"]),
    )
    .await;
    assert_eq!(body["ingredients_skipped"], "disabled", "{body}");
}

#[tokio::test]
async fn bad_inputs_get_normal_ads_and_say_why() {
    let app = spawn(&Backend::Embedded, |_| {}).await;
    let advertiser_id = advertiser(&app).await;
    let normal = campaign(&app, &advertiser_id, json!({})).await;
    campaign(
        &app,
        &advertiser_id,
        json!({"targeting": "ingredient", "concepts": ["salt"]}),
    )
    .await;

    let (status, problem, _) = deliver(&app, "slot=sidebar", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ad_slot_unknown"))
    );

    let long_keyword = "あ".repeat(3500);
    let (status, body, headers) = deliver(
        &app,
        &format!("slot=recipe_top&keyword={long_keyword}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(campaigns_of(&body), vec![normal.clone()]);
    assert!(
        headers["ads-warning"]
            .to_str()
            .unwrap()
            .contains("keyword ignored")
    );

    let response = app
        .client
        .get(app.url("/v1/ads?slot=recipe_top&recipe_id=bad-encoding"))
        .header("X-Recipe-Ingredients", "%E5%A1,%zz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["ads-warning"]
            .to_str()
            .unwrap()
            .contains("X-Recipe-Ingredients ignored")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(campaigns_of(&body), vec![normal.clone()]);

    // Past 20 names, the first 20 are used; salt is the 21st, so it is not seen.
    let mut names: Vec<String> = (0..20).map(|i| format!("謎{i}")).collect();
    names.push("塩".into());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_, body, headers) = deliver(&app, "slot=recipe_top&recipe_id=many", Some(&names)).await;
    assert_eq!(headers["ads-ingredients-truncated"], "used=20; given=21");
    assert_eq!(campaigns_of(&body), vec![normal.clone()], "{body}");
    // At 20 names within 350 bytes, all are used.
    let (_, body, headers) =
        deliver(&app, "slot=recipe_top&recipe_id=twenty", Some(&names[1..])).await;
    assert!(headers.get("ads-ingredients-truncated").is_none());
    assert_eq!(body["concepts"], json!(["salt"]), "{body}");
}

#[tokio::test]
async fn clicks_redirect_count_once_and_cannot_be_forged_or_kept() {
    let app = spawn(&Backend::Embedded, |s| {
        s.ads.click_ttl = Duration::from_secs(5)
    })
    .await;
    let advertiser_id = advertiser(&app).await;
    let id = campaign(&app, &advertiser_id, json!({})).await;
    let (_, body, _) = deliver(&app, "slot=recipe_top", None).await;
    // Click URLs start with the public URL; the test app's port is its own.
    let click_url = body["ads"][0]["click_url"].as_str().unwrap();
    let path = click_url.split_once("/v1/").unwrap().1;
    let click_url = app.url(&format!("/v1/{path}"));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..2 {
        let response = no_redirects.get(&click_url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()["location"],
            "https://example.com/landing"
        );
    }
    let (prefix, token) = click_url.rsplit_once('/').unwrap();
    let (claims, signature) = token.split_once('.').unwrap();
    let tampered = format!(
        "{prefix}/{}{}.{signature}",
        &claims[..claims.len() - 1],
        if claims.ends_with('A') { "B" } else { "A" }
    );
    let response = no_redirects.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "click_invalid");

    tokio::time::sleep(Duration::from_secs(5)).await;
    let response = no_redirects.get(&click_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GONE);

    flush(&app).await;
    let (_, stats) = app
        .get_json(&app.admin_token(), &format!("/v1/ads/campaigns/{id}/stats"))
        .await;
    assert_eq!(
        (stats["impressions"].as_i64(), stats["clicks"].as_i64()),
        (Some(1), Some(1)),
        "{stats}"
    );
}
