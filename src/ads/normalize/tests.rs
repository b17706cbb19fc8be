use std::collections::HashMap;

use super::*;

fn table() -> HashMap<String, String> {
    [
        ("塩", "salt"),
        ("しお", "salt"),
        ("食塩", "salt"),
        ("こしょう", "pepper"),
        ("胡椒", "pepper"),
        ("醤油", "soy_sauce"),
        ("しょうゆ", "soy_sauce"),
        ("酢", "vinegar"),
        ("みそ", "miso"),
        ("味噌", "miso"),
        ("砂糖", "sugar"),
        ("玉ねぎ", "onion"),
        ("たまねぎ", "onion"),
        ("ごはん", "rice"),
        ("おから", "okara"),
        ("ごま油", "sesame_oil"),
        ("ごま", "sesame"),
        ("豚バラ肉", "pork_belly"),
        ("鶏もも肉", "chicken_thigh"),
        ("卵", "egg"),
        ("酒", "sake"),
        ("みりん", "mirin"),
        ("米麹", "rice_koji"),
        ("オリーブオイル", "olive_oil"),
    ]
    .into_iter()
    .map(|(written, concept)| (key(written), concept.to_owned()))
    .collect()
}

fn resolved(written: &str) -> Resolution {
    let table = table();
    resolve(&Candidates::of(written), |k| table.get(k).cloned())
}

fn assert_resolves(written: &str, concepts: &[&str], matched_by: Option<MatchedBy>) {
    let resolution = resolved(written);
    assert_eq!(resolution.concepts, concepts, "{written}: {resolution:?}");
    assert_eq!(
        resolution.matched_by, matched_by,
        "{written}: {resolution:?}"
    );
}

/// Every name the tests resolve, for the properties that hold of all of them.
const NAMES: &[&str] = &[
    "塩",
    "しお",
    "食塩",
    "★塩",
    "塩（少々）",
    "塩 少々",
    "ｼｵ",
    "シオ",
    "塩少々",
    "塩 小さじ1/2",
    "◎塩…適量",
    "【A】塩",
    "(A)醤油 大さじ1",
    "Ａ 醤油",
    "①砂糖",
    "醬油",
    "しょう油",
    "お酢",
    "おみそ",
    "ごはん",
    "おから",
    "塩・こしょう",
    "塩、こしょう",
    "塩こしょう",
    "塩コショウ",
    "塩 こしょう",
    "お塩こしょう",
    "塩・謎の粉",
    "塩・しお",
    "塩・お酢",
    "酢 大さじ 1・みそ 2 個",
    "謎 小さじ 1/2",
    "塩・こしょう 各少々",
    "玉ねぎ 1/2個",
    "豚バラ肉 200g",
    "豚バラ肉 ２００ｇ",
    "ごま油 少量",
    "砂糖 大さじ1と1/2",
    "塩 ひとつまみ",
    "鶏もも肉 1枚（250g）",
    "卵 2個",
    "卵 2",
    "卵 2つ",
    "卵2コ",
    "卵1ヶ",
    "卵 1~2個",
    "酒 大1",
    "みりん…小さじ2弱",
    "塩（小さじ1/2、お好みで）",
    "米糀",
    "オリーブ・オイル",
    "水",
    "★☆",
    "少々",
    "🧂塩",
    "a. 塩",
    "A★塩",
];

#[test]
fn keys_fold_spellings_together() {
    for written in [
        "塩",
        "★塩",
        "塩（少々）",
        "塩 少々",
        "塩少々",
        "◎塩…適量",
        "【A】塩",
    ] {
        assert_eq!(key(written), "塩", "{written}");
    }
    assert_eq!(key("ｼｵ"), "しお");
    assert_eq!(key("シオ"), "しお");
    assert_eq!(key("ＯＬＩＶＥ　ＯＩＬ"), "oliveoil");
    assert_eq!(key("①砂糖"), "砂糖");
    assert_eq!(key("醬油"), "醤油");
    assert_eq!(key("ヴィネガー"), "ゔぃねがー");
    assert_eq!(key("塩（少々"), "塩");
    assert_eq!(key("（塩）"), "塩");
    assert_eq!(key("1.5kgの豚肉 1.5kg"), "1.5kgの豚肉");
}

#[test]
fn keys_keep_what_only_looks_like_a_quantity() {
    assert_eq!(key("少々"), "少々");
    assert_eq!(key("玉ねぎ"), "玉ねぎ");
    assert_eq!(key("一味唐辛子"), "一味唐辛子");
    assert_eq!(key("オメガ3"), "おめが3");
    assert_eq!(key("V8"), "v8");
    assert_eq!(key("Tボーン"), "tぼーん");
    assert_eq!(key("〆鯖"), "〆鯖");
    assert_eq!(key("★☆"), "");
}

#[test]
fn resolves_spellings_of_one_name_through_the_table() {
    for written in [
        "塩",
        "しお",
        "食塩",
        "★塩",
        "塩（少々）",
        "塩 少々",
        "ｼｵ",
        "シオ",
        "塩少々",
        "塩 小さじ1/2",
        "◎塩…適量",
        "【A】塩",
        "塩 ひとつまみ",
        "塩（小さじ1/2、お好みで）",
        "🧂塩",
        "a. 塩",
        "A★塩",
    ] {
        assert_resolves(written, &["salt"], Some(MatchedBy::Table));
    }
    for written in ["(A)醤油 大さじ1", "Ａ 醤油", "醬油"] {
        assert_resolves(written, &["soy_sauce"], Some(MatchedBy::Table));
    }
    assert_resolves("①砂糖", &["sugar"], Some(MatchedBy::Table));
    assert_resolves("砂糖 大さじ1と1/2", &["sugar"], Some(MatchedBy::Table));
    assert_resolves("玉ねぎ 1/2個", &["onion"], Some(MatchedBy::Table));
    assert_resolves("豚バラ肉 200g", &["pork_belly"], Some(MatchedBy::Table));
    assert_resolves("豚バラ肉 ２００ｇ", &["pork_belly"], Some(MatchedBy::Table));
    assert_resolves("ごま油 少量", &["sesame_oil"], Some(MatchedBy::Table));
    assert_resolves(
        "鶏もも肉 1枚（250g）",
        &["chicken_thigh"],
        Some(MatchedBy::Table),
    );
    assert_resolves("卵 2個", &["egg"], Some(MatchedBy::Table));
    for written in ["卵 2", "卵 2つ", "卵2コ", "卵1ヶ", "卵 1~2個"] {
        assert_resolves(written, &["egg"], Some(MatchedBy::Table));
    }
    assert_resolves("酒 大1", &["sake"], Some(MatchedBy::Table));
    assert_resolves("みりん…小さじ2弱", &["mirin"], Some(MatchedBy::Table));
    assert_resolves("米糀", &["rice_koji"], Some(MatchedBy::Table));
    assert_resolves("オリーブ・オイル", &["olive_oil"], Some(MatchedBy::Table));
}

#[test]
fn honorific_applies_only_when_the_whole_name_is_unknown() {
    assert_resolves("お酢", &["vinegar"], Some(MatchedBy::Honorific));
    assert_resolves("おみそ", &["miso"], Some(MatchedBy::Honorific));
    assert_resolves("ごはん", &["rice"], Some(MatchedBy::Table));
    assert_resolves("おから", &["okara"], Some(MatchedBy::Table));
    assert_eq!(resolved("お酢").keys_tried, ["お酢", "酢"]);
}

#[test]
fn resolves_names_written_as_several() {
    let salt_and_pepper = &["salt", "pepper"][..];
    for written in [
        "塩・こしょう",
        "塩、こしょう",
        "塩 こしょう",
        "塩・こしょう 各少々",
    ] {
        assert_resolves(written, salt_and_pepper, Some(MatchedBy::Compound));
    }
    assert_resolves("塩・謎の粉", &["salt"], Some(MatchedBy::Compound));
    assert_resolves("塩・しお", &["salt"], Some(MatchedBy::Compound));
    assert_resolves("塩・お酢", &["salt", "vinegar"], Some(MatchedBy::Compound));
    assert_resolves(
        "酢 大さじ 1・みそ 2 個",
        &["vinegar", "miso"],
        Some(MatchedBy::Compound),
    );
    assert_eq!(Candidates::of("謎 小さじ 1/2").keys(), ["謎"]);
    assert_eq!(
        resolved("塩・こしょう").keys_tried,
        ["塩こしょう", "塩", "こしょう"]
    );
}

#[test]
fn resolves_two_names_written_together() {
    for written in ["塩こしょう", "塩コショウ", "お塩こしょう"] {
        assert_resolves(written, &["salt", "pepper"], Some(MatchedBy::Compound));
    }
    assert_eq!(
        resolved("塩こしょう").keys_tried,
        ["塩こしょう", "塩こしょ", "塩こし", "塩こ", "塩", "こしょう"]
    );
}

#[test]
fn unknown_names_resolve_to_nothing() {
    for written in ["水", "しょう油", "少々"] {
        let resolution = resolved(written);
        assert_eq!(resolution.concepts, Vec::<String>::new(), "{written}");
        assert_eq!(resolution.matched_by, None, "{written}");
        assert!(!resolution.keys_tried.is_empty(), "{written}");
    }
    let symbols = Candidates::of("★☆");
    assert!(symbols.keys().is_empty());
    let resolution = resolve(&symbols, |_| unreachable!("no key to ask"));
    assert_eq!(
        resolution,
        Resolution {
            keys_tried: Vec::new(),
            concepts: Vec::new(),
            matched_by: None,
        }
    );
}

#[test]
fn candidates_hold_every_key_resolution_asks_once_whole_first() {
    for written in NAMES {
        let candidates = Candidates::of(written);
        let keys = candidates.keys();
        let distinct: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), keys.len(), "{written}: {keys:?}");
        let whole = key(written);
        assert_eq!(
            keys.first().copied(),
            (!whole.is_empty()).then_some(&*whole)
        );
        // A lookup that knows nothing makes resolution try everything it can.
        for resolution in [resolved(written), resolve(&candidates, |_| None)] {
            for tried in &resolution.keys_tried {
                assert!(
                    keys.contains(&tried.as_str()),
                    "{written}: {tried} ∉ {keys:?}"
                );
            }
        }
    }
}

#[test]
fn huge_input_is_bounded() {
    let huge = [
        "塩".repeat(5_000),
        "塩・".repeat(2_500),
        "あ".repeat(10_000),
        "(".repeat(10_000),
        "★".repeat(3_000),
        "1".repeat(10_000),
        "塩 少々 ".repeat(1_500),
    ];
    for written in &huge {
        assert!(written.len() >= 9_000);
        let candidates = Candidates::of(written);
        assert!(key(written).chars().count() <= MAX_CHARS);
        assert!(candidates.parts.len() <= MAX_PARTS);
        assert!(candidates.keys().len() <= 2 + 4 * (MAX_SPLIT_CHARS - 1));
        resolved(written);
    }
}

#[test]
fn matched_by_serializes_in_snake_case() {
    let resolution = resolved("塩・こしょう");
    let json = serde_json::to_value(&resolution).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "keys_tried": ["塩こしょう", "塩", "こしょう"],
            "concepts": ["salt", "pepper"],
            "matched_by": "compound",
        })
    );
}
