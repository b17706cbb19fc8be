//! Ingredient names resolved per second: the candidate keys of a written name, then resolution
//! against an in-memory table, over a mix of clean, decorated, quantified, compound and unknown
//! names as recipe authors write them.
//!
//!     cargo bench --bench ads_normalize

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sous::ads::normalize::{Candidates, key, resolve};

const TABLE: &[(&str, &str)] = &[
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
    ("ごま油", "sesame_oil"),
    ("豚バラ肉", "pork_belly"),
    ("鶏もも肉", "chicken_thigh"),
    ("卵", "egg"),
    ("酒", "sake"),
    ("みりん", "mirin"),
    ("にんにく", "garlic"),
    ("しょうが", "ginger"),
    ("生姜", "ginger"),
    ("キャベツ", "cabbage"),
    ("にんじん", "carrot"),
    ("じゃがいも", "potato"),
    ("牛乳", "milk"),
    ("バター", "butter"),
    ("薄力粉", "flour"),
    ("片栗粉", "potato_starch"),
    ("オリーブオイル", "olive_oil"),
    ("サラダ油", "vegetable_oil"),
    ("水", "water"),
    ("だし汁", "dashi"),
    ("長ねぎ", "leek"),
];

const NAMES: &[&str] = &[
    "塩",
    "醤油",
    "砂糖",
    "みりん",
    "にんにく",
    "キャベツ",
    "ｼｵ",
    "ｷｬﾍﾞﾂ",
    "醬油",
    "★塩",
    "◎塩…適量",
    "【A】醤油",
    "(A)醤油 大さじ1",
    "Ａ 酒",
    "①砂糖",
    "・サラダ油",
    "🧂塩 ひとつまみ",
    "塩（少々）",
    "塩 少々",
    "塩少々",
    "塩 小さじ1/2",
    "砂糖 大さじ1と1/2",
    "玉ねぎ 1/2個",
    "豚バラ肉 200g",
    "鶏もも肉 1枚（250g）",
    "牛乳 200cc",
    "バター 10ｇ",
    "卵 2個",
    "にんにく 1かけ",
    "しょうが（すりおろし）小さじ1",
    "薄力粉 100g（ふるっておく）",
    "片栗粉 大1",
    "水 1カップ",
    "だし汁 400ml",
    "ごま油 少量",
    "お酢",
    "おみそ",
    "ごはん 茶碗1杯",
    "塩・こしょう",
    "塩、こしょう 各少々",
    "塩こしょう",
    "塩コショウ 少々",
    "にんじん・じゃがいも 各1本",
    "長ねぎ 1/2本（みじん切り）",
    "オリーブオイル 大さじ2",
    "和風だしの素（顆粒）小さじ1/2",
    "鶏ガラスープの素 小さじ1",
    "ほんだし",
    "白すりごま 大さじ1",
    "ガラムマサラ 適宜",
];

fn resolve_names(c: &mut Criterion) {
    let table: HashMap<String, String> = TABLE
        .iter()
        .map(|&(written, concept)| (key(written), concept.to_owned()))
        .collect();
    let mut group = c.benchmark_group("ingredient-names");
    group.throughput(Throughput::Elements(NAMES.len() as u64));
    group.bench_function("candidates+resolve", |b| {
        b.iter(|| {
            for name in NAMES {
                let candidates = Candidates::of(black_box(name));
                black_box(resolve(&candidates, |k| table.get(k).cloned()));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, resolve_names);
criterion_main!(benches);
