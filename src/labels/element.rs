//! The label tree as clients and print logs carry it.
//!
//! [`Element`] is plain data: it can describe trees that make no sense (a size of 0, a
//! sheet inside a sheet). Turn it into a [`LabelTree`](crate::labels::LabelTree) with
//! [`LabelTree::parse`](crate::labels::LabelTree::parse) before rendering.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One element of a label, serialized as `{"type": "bold", "children": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Element {
    /// The label itself; only valid as the root.
    Sheet {
        /// Printable width of the paper in printer dots (8 dots per mm).
        width_dots: u16,
        /// Half-width characters per line at size 1.
        columns: u16,
        children: Vec<Element>,
    },
    Text {
        text: String,
    },
    // Braces make serde reject stray fields, which it ignores on unit variants.
    NewLine {},
    Bold {
        children: Vec<Element>,
    },
    /// Character magnification, 1 to 8 in each direction.
    Size {
        width: u8,
        height: u8,
        children: Vec<Element>,
    },
    /// A block whose lines are aligned.
    Align {
        align: Alignment,
        children: Vec<Element>,
    },
    Underline {
        children: Vec<Element>,
    },
    Overline {
        children: Vec<Element>,
    },
    /// White on black.
    Inverse {
        children: Vec<Element>,
    },
    Qr {
        payload: String,
        /// Width of one QR module in printer dots, 1 to 16.
        module_size: u8,
        level: ErrorLevel,
    },
    /// A horizontal line across the sheet.
    Rule {},
    Cut {
        kind: CutKind,
    },
}

impl Element {
    /// The `type` tag of this element, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Element::Sheet { .. } => "sheet",
            Element::Text { .. } => "text",
            Element::NewLine {} => "new_line",
            Element::Bold { .. } => "bold",
            Element::Size { .. } => "size",
            Element::Align { .. } => "align",
            Element::Underline { .. } => "underline",
            Element::Overline { .. } => "overline",
            Element::Inverse { .. } => "inverse",
            Element::Qr { .. } => "qr",
            Element::Rule {} => "rule",
            Element::Cut { .. } => "cut",
        }
    }

    pub(crate) fn children_mut(&mut self) -> Option<&mut Vec<Element>> {
        match self {
            Element::Sheet { children, .. }
            | Element::Bold { children }
            | Element::Size { children, .. }
            | Element::Align { children, .. }
            | Element::Underline { children }
            | Element::Overline { children }
            | Element::Inverse { children } => Some(children),
            Element::Text { .. }
            | Element::NewLine {}
            | Element::Qr { .. }
            | Element::Rule {}
            | Element::Cut { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    #[default]
    Left,
    Center,
    Right,
}

/// QR error correction level: the share of the symbol that can be damaged and still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorLevel {
    /// About 7 %.
    L,
    /// About 15 %.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

impl fmt::Display for ErrorLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorLevel::L => "L",
            ErrorLevel::M => "M",
            ErrorLevel::Q => "Q",
            ErrorLevel::H => "H",
        })
    }
}

/// A partial cut leaves a hinge so a strip of labels stays together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutKind {
    Partial,
    Full,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn serializes_with_a_type_tag() {
        let element = Element::Bold {
            children: vec![Element::Text { text: "a".into() }, Element::NewLine {}],
        };
        assert_eq!(
            serde_json::to_value(&element).unwrap(),
            json!({"type": "bold", "children": [{"type": "text", "text": "a"}, {"type": "new_line"}]})
        );
    }

    #[test]
    fn round_trips_every_element_through_json() {
        let sheet = Element::Sheet {
            width_dots: 384,
            columns: 32,
            children: vec![
                Element::Text {
                    text: "トマト".into(),
                },
                Element::NewLine {},
                Element::Bold { children: vec![] },
                Element::Size {
                    width: 2,
                    height: 1,
                    children: vec![],
                },
                Element::Align {
                    align: Alignment::Right,
                    children: vec![],
                },
                Element::Underline { children: vec![] },
                Element::Overline { children: vec![] },
                Element::Inverse { children: vec![] },
                Element::Qr {
                    payload: "https://example.com".into(),
                    module_size: 4,
                    level: ErrorLevel::Q,
                },
                Element::Rule {},
                Element::Cut {
                    kind: CutKind::Partial,
                },
            ],
        };
        let json = serde_json::to_string(&sheet).unwrap();
        assert_eq!(serde_json::from_str::<Element>(&json).unwrap(), sheet);
    }

    #[test]
    fn rejects_unknown_fields() {
        let err =
            serde_json::from_value::<Element>(json!({"type": "text", "text": "a", "colour": 1}))
                .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
