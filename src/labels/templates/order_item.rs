//! The label stuck on each order item, on a 58 mm roll.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::labels::builder::{LabelBuilder, Paper};
use crate::labels::element::ErrorLevel;
use crate::labels::templates::{TemplateError, data_error, month_day_weekday, tree_error};
use crate::labels::tree::LabelTree;

pub const NAME: &str = "order-item";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    pub order_item_id: u64,
    pub product_name: String,
    pub quantity: u32,
    pub customer_name: String,
    pub delivery_slot: DeliverySlot,
    pub pickup_spot: String,
    /// The order item's page, encoded in the QR code.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySlot {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

pub fn example() -> Value {
    json!({
        "order_item_id": 20261122001_u64,
        "product_name": "北海道産 じゃがいも（男爵）1kg 土付き・訳あり",
        "quantity": 2,
        "customer_name": "山田 太郎",
        "delivery_slot": {"date": "2026-11-22", "start": "10:00", "end": "12:00"},
        "pickup_spot": "中目黒駅前ステーション",
        "url": "https://sous.example/order-items/20261122001",
    })
}

pub fn label(item: &OrderItem) -> Result<LabelTree, TemplateError> {
    if item.quantity == 0 {
        return Err(data_error(NAME, "quantity", "must be at least 1"));
    }
    let slot = &item.delivery_slot;
    if slot.end <= slot.start {
        return Err(data_error(
            NAME,
            "delivery_slot.end",
            "must be after the start",
        ));
    }
    let slot_text = format!(
        "{} {}～{}",
        month_day_weekday(slot.date),
        slot.start.format("%H:%M"),
        slot.end.format("%H:%M")
    );
    LabelBuilder::sheet(Paper::MM58, |l| {
        l.inverse(|l| l.bold(|l| l.text_line(slot_text)));
        l.size(2, 2, |l| {
            l.bold(|l| l.text_line(format!("{} 様", item.customer_name)))
        });
        l.text_line(format!("受取: {}", item.pickup_spot));
        l.rule();
        l.bold(|l| l.text_line(&item.product_name));
        l.right(|l| {
            l.text("数量 ");
            l.size(2, 2, |l| l.bold(|l| l.text(item.quantity.to_string())));
            l.text(" 点");
        });
        l.rule();
        l.center(|l| {
            l.qr(&item.url, 4, ErrorLevel::M);
            l.text_line(format!("#{}", item.order_item_id));
        });
        l.partial_cut();
    })
    .map_err(tree_error(NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> OrderItem {
        serde_json::from_value(example()).unwrap()
    }

    #[test]
    fn the_example_is_the_typed_data() {
        let item = item();
        assert_eq!(item.quantity, 2);
        assert_eq!(
            item.delivery_slot.start,
            NaiveTime::from_hms_opt(10, 0, 0).unwrap()
        );
        let again: OrderItem =
            serde_json::from_value(serde_json::to_value(&item).unwrap()).unwrap();
        assert_eq!(again, item);
    }

    #[test]
    fn quantity_must_be_positive() {
        let err = label(&OrderItem {
            quantity: 0,
            ..item()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid data for template `order-item`: quantity: must be at least 1"
        );
    }

    #[test]
    fn the_slot_must_end_after_it_starts() {
        let mut item = item();
        item.delivery_slot.end = item.delivery_slot.start;
        let TemplateError::Data { field, .. } = label(&item).unwrap_err() else {
            panic!("expected a data error")
        };
        assert_eq!(field.as_deref(), Some("delivery_slot.end"));
    }
}
