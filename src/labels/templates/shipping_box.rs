//! The label stuck on each shipping box, on an 80 mm roll.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::labels::builder::{LabelBuilder, Paper};
use crate::labels::element::ErrorLevel;
use crate::labels::templates::{TemplateError, data_error, month_day_weekday, tree_error};
use crate::labels::tree::LabelTree;

pub const NAME: &str = "shipping-box";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingBox {
    pub box_code: String,
    pub route: String,
    /// Position of the destination on the route.
    pub stop: u32,
    pub destination: String,
    pub delivery_date: NaiveDate,
    /// This box is `box_number` of `box_count` for the destination.
    pub box_number: u32,
    pub box_count: u32,
    pub items: Vec<BoxItem>,
    /// The box's page, encoded in the QR code.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxItem {
    pub product_name: String,
    pub quantity: u32,
}

pub fn example() -> Value {
    json!({
        "box_code": "B-20261122-0042",
        "route": "目黒A",
        "stop": 3,
        "destination": "中目黒駅前ステーション",
        "delivery_date": "2026-11-22",
        "box_number": 1,
        "box_count": 2,
        "items": [
            {"product_name": "北海道産 じゃがいも（男爵）1kg", "quantity": 2},
            {"product_name": "ｶｯﾄ野菜ﾐｯｸｽ", "quantity": 5},
            {"product_name": "朝どれ 小松菜", "quantity": 1},
        ],
        "url": "https://sous.example/boxes/B-20261122-0042",
    })
}

pub fn label(shipping_box: &ShippingBox) -> Result<LabelTree, TemplateError> {
    let b = shipping_box;
    if b.box_number == 0 || b.box_number > b.box_count {
        return Err(data_error(
            NAME,
            "box_number",
            "must be between 1 and box_count",
        ));
    }
    LabelBuilder::sheet(Paper::MM80, |l| {
        l.size(2, 2, |l| {
            l.inverse(|l| l.bold(|l| l.text(format!(" {} ", b.route))));
            l.text(format!(" {}番目", b.stop));
        });
        l.new_line();
        l.size(2, 2, |l| l.bold(|l| l.text_line(&b.destination)));
        l.text(format!("{} 配達", month_day_weekday(b.delivery_date)));
        l.right(|l| {
            l.text("箱 ");
            l.size(2, 2, |l| {
                l.bold(|l| l.text(format!("{}/{}", b.box_number, b.box_count)))
            });
        });
        l.rule();
        for item in &b.items {
            l.text_line(format!("・{} ×{}", item.product_name, item.quantity));
        }
        l.rule();
        l.center(|l| {
            l.qr(&b.url, 5, ErrorLevel::M);
            l.underline(|l| l.text_line(&b.box_code));
        });
        l.full_cut();
    })
    .map_err(tree_error(NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipping_box() -> ShippingBox {
        serde_json::from_value(example()).unwrap()
    }

    #[test]
    fn box_number_must_be_within_the_count() {
        for box_number in [0, 3] {
            let err = label(&ShippingBox {
                box_number,
                ..shipping_box()
            })
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid data for template `shipping-box`: box_number: must be between 1 and box_count"
            );
        }
    }

    #[test]
    fn every_item_gets_a_line() {
        let mut data = shipping_box();
        data.items.push(BoxItem {
            product_name: "追加".into(),
            quantity: 9,
        });
        let tree = label(&data).unwrap();
        let text = crate::labels::render(&tree, crate::labels::Format::Text)
            .unwrap()
            .bytes;
        assert!(String::from_utf8(text).unwrap().contains("\n・追加 ×9\n"));
    }
}
