//! A builder that reads like the label it builds:
//!
//! ```
//! use sous::labels::{LabelBuilder, Paper};
//!
//! let tree = LabelBuilder::sheet(Paper::MM58, |l| {
//!     l.size(2, 2, |l| l.text_line("トマト"));
//!     l.bold(|l| l.text_line("山田 太郎 様"));
//!     l.partial_cut();
//! })
//! .unwrap();
//! assert_eq!(tree.columns(), 32);
//! ```

use crate::labels::element::{Alignment, CutKind, Element, ErrorLevel};
use crate::labels::tree::{InvalidTree, LabelTree};

/// Printable width of a roll, and the characters a line holds at size 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paper {
    pub width_dots: u16,
    pub columns: u16,
}

impl Paper {
    /// 58 mm roll: 48 mm printable, Font A (12 dots a column).
    pub const MM58: Paper = Paper {
        width_dots: 384,
        columns: 32,
    };
    /// 80 mm roll: 72 mm printable, Font A.
    pub const MM80: Paper = Paper {
        width_dots: 576,
        columns: 48,
    };
}

/// Collects the children of one element; nested elements get their own builder.
#[derive(Debug, Default)]
pub struct LabelBuilder {
    children: Vec<Element>,
}

impl LabelBuilder {
    /// Builds a sheet and parses it, so a mistake surfaces here and not at the printer.
    pub fn sheet(
        paper: Paper,
        build: impl FnOnce(&mut LabelBuilder),
    ) -> Result<LabelTree, InvalidTree> {
        LabelTree::parse(Element::Sheet {
            width_dots: paper.width_dots,
            columns: paper.columns,
            children: collect(build),
        })
    }

    pub fn text(&mut self, text: impl Into<String>) {
        self.children.push(Element::Text { text: text.into() });
    }

    /// Text followed by a line break.
    pub fn text_line(&mut self, text: impl Into<String>) {
        self.text(text);
        self.new_line();
    }

    pub fn new_line(&mut self) {
        self.children.push(Element::NewLine {});
    }

    pub fn bold(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Bold {
            children: collect(build),
        });
    }

    pub fn size(&mut self, width: u8, height: u8, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Size {
            width,
            height,
            children: collect(build),
        });
    }

    pub fn align(&mut self, align: Alignment, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Align {
            align,
            children: collect(build),
        });
    }

    pub fn center(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.align(Alignment::Center, build);
    }

    pub fn right(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.align(Alignment::Right, build);
    }

    pub fn underline(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Underline {
            children: collect(build),
        });
    }

    pub fn overline(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Overline {
            children: collect(build),
        });
    }

    pub fn inverse(&mut self, build: impl FnOnce(&mut LabelBuilder)) {
        self.children.push(Element::Inverse {
            children: collect(build),
        });
    }

    pub fn qr(&mut self, payload: impl Into<String>, module_size: u8, level: ErrorLevel) {
        self.children.push(Element::Qr {
            payload: payload.into(),
            module_size,
            level,
        });
    }

    pub fn rule(&mut self) {
        self.children.push(Element::Rule {});
    }

    pub fn cut(&mut self, kind: CutKind) {
        self.children.push(Element::Cut { kind });
    }

    pub fn partial_cut(&mut self) {
        self.cut(CutKind::Partial);
    }

    pub fn full_cut(&mut self) {
        self.cut(CutKind::Full);
    }
}

fn collect(build: impl FnOnce(&mut LabelBuilder)) -> Vec<Element> {
    let mut builder = LabelBuilder::default();
    build(&mut builder);
    builder.children
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::labels::tree::Problem;

    #[test]
    fn builds_the_same_tree_as_the_json_it_reads_like() {
        let built = LabelBuilder::sheet(Paper::MM58, |l| {
            l.center(|l| l.size(2, 2, |l| l.bold(|l| l.text_line("トマト"))));
            l.underline(|l| l.text("a"));
            l.overline(|l| l.text("b"));
            l.inverse(|l| l.text("c"));
            l.right(|l| l.text("d"));
            l.rule();
            l.qr("https://example.com", 4, ErrorLevel::M);
            l.full_cut();
        })
        .unwrap();
        let leaf = |kind: &str, text: &str| json!({"type": kind, "children": [{"type": "text", "text": text}]});
        let json = json!({"type": "sheet", "width_dots": 384, "columns": 32, "children": [
            {"type": "align", "align": "center", "children": [
                {"type": "size", "width": 2, "height": 2, "children": [
                    {"type": "bold", "children": [{"type": "text", "text": "トマト"}, {"type": "new_line"}]},
                ]},
            ]},
            leaf("underline", "a"),
            leaf("overline", "b"),
            leaf("inverse", "c"),
            {"type": "align", "align": "right", "children": [{"type": "text", "text": "d"}]},
            {"type": "rule"},
            {"type": "qr", "payload": "https://example.com", "module_size": 4, "level": "m"},
            {"type": "cut", "kind": "full"},
        ]});
        assert_eq!(built, LabelTree::from_json_value(json).unwrap());
    }

    #[test]
    fn invalid_builds_fail_with_the_path() {
        let err = LabelBuilder::sheet(Paper::MM80, |l| {
            l.text_line("ok");
            l.bold(|l| l.size(1, 0, |_| {}));
        })
        .unwrap_err();
        assert_eq!(err.path.to_string(), "/children/2/children/0");
        assert_eq!(
            err.problem,
            Problem::SizeOutOfRange {
                axis: "height",
                value: 0
            }
        );
    }
}
