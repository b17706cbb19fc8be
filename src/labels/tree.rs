//! The validated label tree: the only thing renderers accept.
//!
//! A [`LabelTree`] can only be obtained by parsing an [`Element`] (or JSON), so a renderer
//! never meets a size of 0, a nested sheet or a QR payload that does not fit its symbol.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use thiserror::Error;

use crate::labels::element::{Alignment, CutKind, Element, ErrorLevel};
use crate::labels::qr::{MAX_MODULE_SIZE, Qr};

/// Narrower than the narrowest ESC/POS font (9 dots), so any real printer passes.
const MIN_DOTS_PER_COLUMN: u16 = 8;
const MAX_MAGNIFICATION: u8 = 8;

/// A label that is known to be printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTree {
    width_dots: u16,
    columns: u16,
    children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Text(String),
    NewLine,
    Bold(Vec<Node>),
    Size {
        width: u8,
        height: u8,
        children: Vec<Node>,
    },
    Align(Alignment, Vec<Node>),
    Underline(Vec<Node>),
    Overline(Vec<Node>),
    Inverse(Vec<Node>),
    Qr(Qr),
    Rule,
    Cut(CutKind),
}

/// Where an element sits in the tree, written like a JSON pointer: `/children/3/children/0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ElementPath(Vec<usize>);

impl ElementPath {
    pub(crate) fn push(&mut self, index: usize) {
        self.0.push(index);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
}

impl fmt::Display for ElementPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        self.0
            .iter()
            .try_for_each(|index| write!(f, "/children/{index}"))
    }
}

impl Serialize for ElementPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid label at {path}: {problem}")]
pub struct InvalidTree {
    pub path: ElementPath,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    /// The JSON does not describe an element (unknown type, missing or mistyped field).
    #[error("{0}")]
    Malformed(String),
    #[error("the root must be a sheet, not `{0}`")]
    RootNotSheet(&'static str),
    #[error("a sheet can only be the root of a label")]
    NestedSheet,
    #[error("a sheet needs at least one column")]
    ZeroColumns,
    #[error(
        "{width_dots} dots cannot hold {columns} columns of at least {MIN_DOTS_PER_COLUMN} dots"
    )]
    TooManyColumns { width_dots: u16, columns: u16 },
    #[error("size {axis} must be between 1 and {MAX_MAGNIFICATION}, not {value}")]
    SizeOutOfRange { axis: &'static str, value: u8 },
    #[error(
        "size width {width} makes a full-width character wider than the {columns} columns of the sheet"
    )]
    SizeWiderThanSheet { width: u8, columns: u16 },
    #[error("text contains the control character {0:?}; use a new_line element to break lines")]
    ControlCharacter(char),
    #[error("QR module size must be between 1 and {MAX_MODULE_SIZE}, not {0}")]
    ModuleSizeOutOfRange(u8),
    #[error("QR payload is empty")]
    EmptyQrPayload,
    #[error("QR payload must be ASCII (printers re-read other bytes as Shift_JIS), found {0:?}")]
    NonAsciiQrPayload(char),
    #[error("QR payload of {bytes} bytes is too long for error level {level}")]
    QrPayloadTooLong { bytes: usize, level: ErrorLevel },
    #[error("QR code is {dots} dots wide, wider than the {width_dots} dots of the sheet")]
    QrWiderThanSheet { dots: usize, width_dots: u16 },
}

impl LabelTree {
    pub fn parse(root: Element) -> Result<Self, InvalidTree> {
        let mut path = ElementPath::default();
        let Element::Sheet {
            width_dots,
            columns,
            children,
        } = root
        else {
            return Err(invalid(&path, Problem::RootNotSheet(root.kind())));
        };
        if columns == 0 {
            return Err(invalid(&path, Problem::ZeroColumns));
        }
        if width_dots / MIN_DOTS_PER_COLUMN < columns {
            return Err(invalid(
                &path,
                Problem::TooManyColumns {
                    width_dots,
                    columns,
                },
            ));
        }
        let sheet = SheetSize {
            width_dots,
            columns,
        };
        let children = parse_children(children, sheet, &mut path)?;
        Ok(LabelTree {
            width_dots,
            columns,
            children,
        })
    }

    /// Parses JSON, reporting even structural errors (unknown element types, mistyped
    /// fields) with the path of the element at fault.
    pub fn from_json(json: &str) -> Result<Self, InvalidTree> {
        let value = serde_json::from_str(json)
            .map_err(|e| invalid(&ElementPath::default(), Problem::Malformed(e.to_string())))?;
        Self::from_json_value(value)
    }

    pub fn from_json_value(value: Value) -> Result<Self, InvalidTree> {
        Self::parse(element_from_json(value, &mut ElementPath::default())?)
    }

    /// Printable width in printer dots (8 per mm).
    pub fn width_dots(&self) -> u16 {
        self.width_dots
    }

    /// Half-width characters per line at size 1.
    pub fn columns(&self) -> u16 {
        self.columns
    }

    pub(crate) fn children(&self) -> &[Node] {
        &self.children
    }

    pub fn to_element(&self) -> Element {
        Element::Sheet {
            width_dots: self.width_dots,
            columns: self.columns,
            children: to_elements(&self.children),
        }
    }
}

impl TryFrom<Element> for LabelTree {
    type Error = InvalidTree;

    fn try_from(element: Element) -> Result<Self, Self::Error> {
        Self::parse(element)
    }
}

impl From<&LabelTree> for Element {
    fn from(tree: &LabelTree) -> Self {
        tree.to_element()
    }
}

impl Serialize for LabelTree {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_element().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LabelTree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_json_value(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy)]
struct SheetSize {
    width_dots: u16,
    columns: u16,
}

fn invalid(path: &ElementPath, problem: Problem) -> InvalidTree {
    InvalidTree {
        path: path.clone(),
        problem,
    }
}

fn parse_children(
    children: Vec<Element>,
    sheet: SheetSize,
    path: &mut ElementPath,
) -> Result<Vec<Node>, InvalidTree> {
    children
        .into_iter()
        .enumerate()
        .map(|(index, child)| {
            path.push(index);
            let node = parse_node(child, sheet, path);
            path.pop();
            node
        })
        .collect()
}

fn parse_node(
    element: Element,
    sheet: SheetSize,
    path: &mut ElementPath,
) -> Result<Node, InvalidTree> {
    let node = match element {
        Element::Sheet { .. } => return Err(invalid(path, Problem::NestedSheet)),
        Element::Text { text } => {
            if let Some(c) = text.chars().find(|c| c.is_control()) {
                return Err(invalid(path, Problem::ControlCharacter(c)));
            }
            Node::Text(text)
        }
        Element::NewLine {} => Node::NewLine,
        Element::Bold { children } => Node::Bold(parse_children(children, sheet, path)?),
        Element::Size {
            width,
            height,
            children,
        } => {
            for (axis, value) in [("width", width), ("height", height)] {
                if !(1..=MAX_MAGNIFICATION).contains(&value) {
                    return Err(invalid(path, Problem::SizeOutOfRange { axis, value }));
                }
            }
            if u16::from(width) * 2 > sheet.columns {
                let columns = sheet.columns;
                return Err(invalid(
                    path,
                    Problem::SizeWiderThanSheet { width, columns },
                ));
            }
            Node::Size {
                width,
                height,
                children: parse_children(children, sheet, path)?,
            }
        }
        Element::Align { align, children } => {
            Node::Align(align, parse_children(children, sheet, path)?)
        }
        Element::Underline { children } => Node::Underline(parse_children(children, sheet, path)?),
        Element::Overline { children } => Node::Overline(parse_children(children, sheet, path)?),
        Element::Inverse { children } => Node::Inverse(parse_children(children, sheet, path)?),
        Element::Qr {
            payload,
            module_size,
            level,
        } => Node::Qr(
            Qr::new(payload, module_size, level, sheet.width_dots)
                .map_err(|problem| invalid(path, problem))?,
        ),
        Element::Rule {} => Node::Rule,
        Element::Cut { kind } => Node::Cut(kind),
    };
    Ok(node)
}

fn to_elements(nodes: &[Node]) -> Vec<Element> {
    nodes.iter().map(to_element).collect()
}

fn to_element(node: &Node) -> Element {
    match node {
        Node::Text(text) => Element::Text { text: text.clone() },
        Node::NewLine => Element::NewLine {},
        Node::Bold(children) => Element::Bold {
            children: to_elements(children),
        },
        Node::Size {
            width,
            height,
            children,
        } => Element::Size {
            width: *width,
            height: *height,
            children: to_elements(children),
        },
        Node::Align(align, children) => Element::Align {
            align: *align,
            children: to_elements(children),
        },
        Node::Underline(children) => Element::Underline {
            children: to_elements(children),
        },
        Node::Overline(children) => Element::Overline {
            children: to_elements(children),
        },
        Node::Inverse(children) => Element::Inverse {
            children: to_elements(children),
        },
        Node::Qr(qr) => Element::Qr {
            payload: qr.payload.clone(),
            module_size: qr.module_size,
            level: qr.level,
        },
        Node::Rule => Element::Rule {},
        Node::Cut(kind) => Element::Cut { kind: *kind },
    }
}

/// Deserializes one element at a time so that an error names the element it is about; a
/// derived deserializer would report a bad grandchild against the whole tree.
fn element_from_json(mut value: Value, path: &mut ElementPath) -> Result<Element, InvalidTree> {
    let children = value
        .as_object_mut()
        .and_then(|object| object.get_mut("children"))
        .map(|children| std::mem::replace(children, Value::Array(Vec::new())));
    let mut element = Element::deserialize(value)
        .map_err(|e| invalid(path, Problem::Malformed(e.to_string())))?;
    let Some(children) = children else {
        return Ok(element);
    };
    let Value::Array(children) = children else {
        return Err(invalid(
            path,
            Problem::Malformed("`children` must be an array".into()),
        ));
    };
    let parsed = children
        .into_iter()
        .enumerate()
        .map(|(index, child)| {
            path.push(index);
            let element = element_from_json(child, path);
            path.pop();
            element
        })
        .collect::<Result<_, _>>()?;
    if let Some(slot) = element.children_mut() {
        *slot = parsed;
    }
    Ok(element)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sheet(children: Value) -> Value {
        json!({"type": "sheet", "width_dots": 384, "columns": 32, "children": children})
    }

    fn error(json: Value) -> (String, Problem) {
        let err = LabelTree::from_json_value(json).unwrap_err();
        (err.path.to_string(), err.problem)
    }

    fn malformed(json: Value) -> (String, String) {
        match error(json) {
            (path, Problem::Malformed(message)) => (path, message),
            other => panic!("expected a malformed element, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_valid_tree_and_serializes_it_back_unchanged() {
        let json = sheet(json!([
            {"type": "align", "align": "center", "children": [
                {"type": "size", "width": 2, "height": 3, "children": [{"type": "text", "text": "トマト"}]},
            ]},
            {"type": "new_line"},
            {"type": "bold", "children": [{"type": "underline", "children": []}]},
            {"type": "overline", "children": [{"type": "inverse", "children": []}]},
            {"type": "qr", "payload": "https://example.com/i/1", "module_size": 4, "level": "h"},
            {"type": "rule"},
            {"type": "cut", "kind": "full"},
        ]));
        let tree = LabelTree::from_json_value(json.clone()).unwrap();
        assert_eq!((tree.width_dots(), tree.columns()), (384, 32));
        assert_eq!(serde_json::to_value(&tree).unwrap(), json);
        let again: LabelTree =
            serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
        assert_eq!(again, tree);
    }

    #[test]
    fn trees_compare_by_value() {
        let a = LabelTree::from_json_value(sheet(json!([{"type": "text", "text": "a"}]))).unwrap();
        let b = LabelTree::from_json_value(sheet(json!([{"type": "text", "text": "a"}]))).unwrap();
        let c = LabelTree::from_json_value(sheet(json!([{"type": "text", "text": "b"}]))).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn try_from_an_element_is_parse() {
        let element = Element::Sheet {
            width_dots: 384,
            columns: 32,
            children: vec![Element::Rule {}],
        };
        let tree = LabelTree::try_from(element.clone()).unwrap();
        assert_eq!(Element::from(&tree), element);
    }

    #[test]
    fn root_must_be_a_sheet() {
        let (path, problem) = error(json!({"type": "text", "text": "a"}));
        assert_eq!(
            (path.as_str(), problem),
            ("/", Problem::RootNotSheet("text"))
        );
    }

    #[test]
    fn sheets_cannot_nest() {
        let json = sheet(json!([{"type": "bold", "children": [sheet(json!([]))]}]));
        assert_eq!(
            error(json),
            ("/children/0/children/0".into(), Problem::NestedSheet)
        );
    }

    #[test]
    fn sheet_needs_columns() {
        let json = json!({"type": "sheet", "width_dots": 384, "columns": 0, "children": []});
        assert_eq!(error(json), ("/".into(), Problem::ZeroColumns));
    }

    #[test]
    fn sheet_columns_need_enough_dots() {
        let json = json!({"type": "sheet", "width_dots": 255, "columns": 32, "children": []});
        let problem = Problem::TooManyColumns {
            width_dots: 255,
            columns: 32,
        };
        assert_eq!(error(json), ("/".into(), problem));
        let fits = json!({"type": "sheet", "width_dots": 256, "columns": 32, "children": []});
        assert!(LabelTree::from_json_value(fits).is_ok());
    }

    #[test]
    fn unknown_elements_are_reported_at_their_path() {
        let json = sheet(json!([
            {"type": "text", "text": "a"},
            {"type": "new_line"},
            {"type": "rule"},
            {"type": "bold", "children": [{"type": "blink", "children": []}]},
        ]));
        let (path, message) = malformed(json);
        assert_eq!(path, "/children/3/children/0");
        assert!(message.contains("unknown variant `blink`"), "{message}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_reported_at_their_path() {
        let (path, message) =
            malformed(sheet(json!([{"type": "size", "width": 2, "children": []}])));
        assert_eq!(path, "/children/0");
        assert!(message.contains("missing field `height`"), "{message}");
        let json = sheet(json!([{"type": "size", "width": "2", "height": 1, "children": []}]));
        assert_eq!(malformed(json).0, "/children/0");
    }

    #[test]
    fn unknown_fields_and_children_of_leaves_are_rejected() {
        let (_, message) = malformed(sheet(json!([{"type": "rule", "thickness": 2}])));
        assert!(message.contains("thickness"), "{message}");
        let (path, message) = malformed(sheet(
            json!([{"type": "text", "text": "a", "children": []}]),
        ));
        assert_eq!(path, "/children/0");
        assert!(message.contains("children"), "{message}");
    }

    #[test]
    fn children_must_be_an_array() {
        let (path, message) = malformed(sheet(json!([{"type": "bold", "children": {}}])));
        assert_eq!(
            (path.as_str(), message.as_str()),
            ("/children/0", "`children` must be an array")
        );
    }

    #[test]
    fn invalid_json_is_reported_at_the_root() {
        let err = LabelTree::from_json("{\"type\": ").unwrap_err();
        assert_eq!(err.path.to_string(), "/");
        assert!(matches!(err.problem, Problem::Malformed(_)));
    }

    #[test]
    fn size_must_be_between_one_and_eight() {
        for (width, height, axis, value) in
            [(0, 1, "width", 0), (1, 9, "height", 9), (9, 0, "width", 9)]
        {
            let json =
                sheet(json!([{"type": "size", "width": width, "height": height, "children": []}]));
            assert_eq!(
                error(json),
                (
                    "/children/0".into(),
                    Problem::SizeOutOfRange { axis, value }
                )
            );
        }
        let json = sheet(json!([{"type": "size", "width": 8, "height": 8, "children": []}]));
        assert!(LabelTree::from_json_value(json).is_ok());
    }

    #[test]
    fn size_must_leave_room_for_a_full_width_character() {
        let json = json!({"type": "sheet", "width_dots": 384, "columns": 7, "children": [
            {"type": "size", "width": 4, "height": 1, "children": []},
        ]});
        let problem = Problem::SizeWiderThanSheet {
            width: 4,
            columns: 7,
        };
        assert_eq!(error(json), ("/children/0".into(), problem));
    }

    #[test]
    fn text_cannot_carry_control_characters() {
        let json =
            sheet(json!([{"type": "inverse", "children": [{"type": "text", "text": "a\u{1b}@"}]}]));
        assert_eq!(
            error(json),
            (
                "/children/0/children/0".into(),
                Problem::ControlCharacter('\u{1b}')
            )
        );
        let json = sheet(json!([{"type": "text", "text": "a\nb"}]));
        assert_eq!(error(json).1, Problem::ControlCharacter('\n'));
    }

    #[test]
    fn qr_problems_are_reported_at_their_path() {
        let json = sheet(json!([
            {"type": "text", "text": "a"},
            {"type": "qr", "payload": "", "module_size": 4, "level": "m"},
        ]));
        assert_eq!(error(json), ("/children/1".into(), Problem::EmptyQrPayload));
    }

    #[test]
    fn error_messages_name_the_path_and_the_problem() {
        let json = sheet(
            json!([{"type": "rule"}, {"type": "size", "width": 0, "height": 1, "children": []}]),
        );
        let err = LabelTree::from_json_value(json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid label at /children/1: size width must be between 1 and 8, not 0"
        );
    }
}
