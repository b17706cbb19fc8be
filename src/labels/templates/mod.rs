//! Labels built from domain data, and a registry to find them by name.
//!
//! Each template is a function from a typed struct to a [`LabelTree`]; the registry lets
//! a client list them (with example data that renders as is) and render one from JSON.

pub mod order_item;
pub mod shipping_box;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

use crate::labels::tree::{InvalidTree, LabelTree};

pub use order_item::{DeliverySlot, OrderItem};
pub use shipping_box::{BoxItem, ShippingBox};

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("unknown template `{name}`, expected one of: {}", names().join(", "))]
    Unknown { name: String },
    /// The data does not fit the template; `field` is a path such as `delivery_slot.start`,
    /// absent when the message names the field (a missing one).
    #[error("invalid data for template `{template}`: {}{message}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Data {
        template: &'static str,
        field: Option<String>,
        message: String,
    },
    /// The data was accepted but made a label that cannot print, e.g. text with a tab.
    #[error("template `{template}` made an invalid label: {invalid}")]
    Tree {
        template: &'static str,
        invalid: InvalidTree,
    },
}

/// What a client needs to offer a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// Data that renders as is.
    pub example: Value,
}

struct Entry {
    name: &'static str,
    description: &'static str,
    example: fn() -> Value,
    render: fn(Value) -> Result<LabelTree, TemplateError>,
}

const ENTRIES: &[Entry] = &[
    Entry {
        name: order_item::NAME,
        description: "Stuck on each order item: product, quantity, customer, delivery slot, pickup spot, QR code.",
        example: order_item::example,
        render: |data| order_item::label(&parse(order_item::NAME, data)?),
    },
    Entry {
        name: shipping_box::NAME,
        description: "Stuck on each shipping box: route, stop, destination, box count, contents, QR code.",
        example: shipping_box::example,
        render: |data| shipping_box::label(&parse(shipping_box::NAME, data)?),
    },
];

fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|entry| entry.name).collect()
}

pub fn list() -> Vec<TemplateInfo> {
    ENTRIES
        .iter()
        .map(|entry| TemplateInfo {
            name: entry.name,
            description: entry.description,
            example: (entry.example)(),
        })
        .collect()
}

pub fn render_template(name: &str, data: Value) -> Result<LabelTree, TemplateError> {
    let entry = ENTRIES
        .iter()
        .find(|entry| entry.name == name)
        .ok_or_else(|| TemplateError::Unknown {
            name: name.to_owned(),
        })?;
    (entry.render)(data)
}

fn parse<T: DeserializeOwned>(template: &'static str, data: Value) -> Result<T, TemplateError> {
    serde_path_to_error::deserialize(data).map_err(|error| {
        let path = error.path().to_string();
        TemplateError::Data {
            template,
            field: (path != ".").then_some(path),
            message: error.into_inner().to_string(),
        }
    })
}

fn data_error(template: &'static str, field: &str, message: &str) -> TemplateError {
    TemplateError::Data {
        template,
        field: Some(field.to_owned()),
        message: message.to_owned(),
    }
}

fn tree_error(template: &'static str) -> impl FnOnce(InvalidTree) -> TemplateError {
    move |invalid| TemplateError::Tree { template, invalid }
}

/// `11/22(日)`, the way dates are written on Japanese labels.
fn month_day_weekday(date: NaiveDate) -> String {
    const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
    format!("{}/{}({weekday})", date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::labels::{Format, render};

    fn text(tree: &LabelTree) -> String {
        String::from_utf8(render(tree, Format::Text).unwrap().bytes).unwrap()
    }

    #[test]
    fn lists_every_template_with_an_example_that_renders() {
        let infos = list();
        let names: Vec<_> = infos.iter().map(|info| info.name).collect();
        assert_eq!(names, ["order-item", "shipping-box"]);
        for info in infos {
            assert!(!info.description.is_empty());
            let tree = render_template(info.name, info.example).unwrap();
            for format in [Format::EscPos, Format::Html, Format::Text] {
                let rendered = render(&tree, format).unwrap();
                assert!(!rendered.bytes.is_empty());
                assert_eq!(rendered.substitutions, [], "{} {format}", info.name);
            }
        }
    }

    #[test]
    fn order_item_example_matches_the_golden_label() {
        let tree = render_template("order-item", order_item::example()).unwrap();
        assert_eq!(
            text(&tree),
            include_str!("../../../tests/fixtures/labels/order-item.txt")
        );
    }

    #[test]
    fn shipping_box_example_matches_the_golden_label() {
        let tree = render_template("shipping-box", shipping_box::example()).unwrap();
        assert_eq!(
            text(&tree),
            include_str!("../../../tests/fixtures/labels/shipping-box.txt")
        );
    }

    #[test]
    fn an_unknown_template_lists_the_known_ones() {
        let err = render_template("pallet", json!({})).unwrap_err();
        assert!(matches!(&err, TemplateError::Unknown { name } if name == "pallet"));
        assert_eq!(
            err.to_string(),
            "unknown template `pallet`, expected one of: order-item, shipping-box"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let mut data = order_item::example();
        data.as_object_mut().unwrap().remove("quantity");
        let err = render_template("order-item", data).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid data for template `order-item`: missing field `quantity`"
        );
    }

    #[test]
    fn a_mistyped_nested_field_is_named_by_its_path() {
        let mut data = order_item::example();
        data["delivery_slot"]["start"] = json!("ten o'clock");
        let TemplateError::Data { field, .. } = render_template("order-item", data).unwrap_err()
        else {
            panic!("expected a data error")
        };
        assert_eq!(field.as_deref(), Some("delivery_slot.start"));
        let mut data = shipping_box::example();
        data["items"][1]["quantity"] = json!(-1);
        let TemplateError::Data { field, .. } = render_template("shipping-box", data).unwrap_err()
        else {
            panic!("expected a data error")
        };
        assert_eq!(field.as_deref(), Some("items[1].quantity"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut data = order_item::example();
        data["colour"] = json!("red");
        let err = render_template("order-item", data).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn data_that_makes_an_unprintable_label_is_reported_with_the_path() {
        let mut data = order_item::example();
        data["customer_name"] = json!("山田\t太郎");
        let err = render_template("order-item", data).unwrap_err();
        let TemplateError::Tree { invalid, .. } = &err else {
            panic!("expected a tree error, got {err:?}")
        };
        assert_eq!(
            invalid.problem,
            crate::labels::Problem::ControlCharacter('\t')
        );
    }

    #[test]
    fn dates_are_written_with_the_japanese_weekday() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(month_day_weekday(date), "11/22(日)");
        assert_eq!(month_day_weekday(date.succ_opt().unwrap()), "11/23(月)");
    }
}
