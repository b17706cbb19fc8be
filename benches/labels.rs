//! Labels rendered per second, per output format, for a 20-line order-item label.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sous::labels::{Format, LabelTree, render, templates};

fn order_item_label() -> LabelTree {
    let mut data = templates::order_item::example();
    let product_name = "北海道十勝産 有機栽培じゃがいも（男爵）1kg 土付き・訳あり 常温 ".repeat(5);
    data["product_name"] = format!("{product_name}産地直送 農家さんのおすすめ").into();
    let tree = templates::render_template("order-item", data).expect("the example data fits");
    let text = render(&tree, Format::Text)
        .expect("text needs no font")
        .bytes;
    assert_eq!(
        text.iter().filter(|&&byte| byte == b'\n').count(),
        20,
        "a 20-line label"
    );
    tree
}

fn render_formats(c: &mut Criterion) {
    let tree = order_item_label();
    let mut group = c.benchmark_group("order-item");
    group.throughput(Throughput::Elements(1));
    for format in Format::ALL {
        group.bench_function(format.as_str(), |b| {
            b.iter(|| render(black_box(&tree), format).expect("renders"))
        });
    }
    group.finish();
}

criterion_group!(benches, render_formats);
criterion_main!(benches);
