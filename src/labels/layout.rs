//! The one layout pass every renderer draws from: lines of styled runs, wrapped to the
//! sheet by the width the printer gives each character (its Shift_JIS byte count times
//! the width multiplier), so the printer, the previews and the logs break lines alike.
//!
//! `align`, `qr`, `rule` and `cut` are blocks: they start on a fresh line and end their
//! line, because the printer only honours alignment at the start of a line.

use crate::labels::element::{Alignment, CutKind};
use crate::labels::qr::Qr;
use crate::labels::sjis::{self, Substitution};
use crate::labels::tree::{ElementPath, LabelTree, Node};

pub(crate) struct Layout<'t> {
    pub width_dots: u16,
    pub columns: usize,
    pub blocks: Vec<Block<'t>>,
    pub substitutions: Vec<Substitution>,
}

pub(crate) enum Block<'t> {
    Line(Line),
    Rule,
    Qr(&'t Qr, Alignment),
    Cut(CutKind),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Line {
    pub align: Alignment,
    pub runs: Vec<Run>,
}

impl Line {
    /// Columns the line takes on paper.
    pub fn columns(&self) -> usize {
        self.runs.iter().map(|run| run.columns).sum()
    }

    /// Height multiplier of the tallest run; an empty line is one line high.
    pub fn height(&self) -> u8 {
        self.runs
            .iter()
            .map(|run| run.style.height)
            .max()
            .unwrap_or(1)
    }

    /// Columns left empty before the line so it sits as aligned on a sheet this wide.
    pub fn indent(&self, columns: usize) -> usize {
        indent(self.align, self.columns(), columns)
    }
}

pub(crate) fn indent(align: Alignment, width: usize, columns: usize) -> usize {
    let free = columns.saturating_sub(width);
    match align {
        Alignment::Left => 0,
        Alignment::Center => free / 2,
        Alignment::Right => free,
    }
}

/// Consecutive characters with one style.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub style: Style,
    /// What is printed, after substitutions.
    pub text: String,
    /// `text` in Shift_JIS.
    pub bytes: Vec<u8>,
    pub columns: usize,
}

impl Run {
    /// Each printed character with the columns it takes at size 1.
    pub fn chars(&self) -> impl Iterator<Item = (char, usize)> + '_ {
        let mut at = 0;
        self.text.chars().map(move |c| {
            let len = if sjis::is_lead_byte(self.bytes[at]) {
                2
            } else {
                1
            };
            at += len;
            (c, len)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub bold: bool,
    pub underline: bool,
    pub overline: bool,
    pub inverse: bool,
    pub width: u8,
    pub height: u8,
}

impl Style {
    pub const PLAIN: Style = Style {
        bold: false,
        underline: false,
        overline: false,
        inverse: false,
        width: 1,
        height: 1,
    };
}

pub(crate) fn layout(tree: &LabelTree) -> Layout<'_> {
    let mut builder = Builder {
        columns: usize::from(tree.columns()),
        blocks: Vec::new(),
        substitutions: Vec::new(),
        line: Line::default(),
        encoder: sjis::Encoder::new(),
        path: ElementPath::default(),
    };
    builder.walk(tree.children(), Style::PLAIN, Alignment::Left);
    builder.break_line();
    Layout {
        width_dots: tree.width_dots(),
        columns: builder.columns,
        blocks: builder.blocks,
        substitutions: builder.substitutions,
    }
}

struct Builder<'t> {
    columns: usize,
    blocks: Vec<Block<'t>>,
    substitutions: Vec<Substitution>,
    line: Line,
    encoder: sjis::Encoder,
    path: ElementPath,
}

impl<'t> Builder<'t> {
    fn walk(&mut self, nodes: &'t [Node], style: Style, align: Alignment) {
        for (index, node) in nodes.iter().enumerate() {
            self.path.push(index);
            match node {
                Node::Text(text) => self.text(text, style, align),
                Node::NewLine => {
                    self.line.align = align;
                    self.end_line();
                }
                Node::Bold(children) => self.walk(
                    children,
                    Style {
                        bold: true,
                        ..style
                    },
                    align,
                ),
                Node::Size {
                    width,
                    height,
                    children,
                } => {
                    let style = Style {
                        width: *width,
                        height: *height,
                        ..style
                    };
                    self.walk(children, style, align);
                }
                Node::Align(align, children) => {
                    self.break_line();
                    self.walk(children, style, *align);
                    self.break_line();
                }
                Node::Underline(children) => self.walk(
                    children,
                    Style {
                        underline: true,
                        ..style
                    },
                    align,
                ),
                Node::Overline(children) => self.walk(
                    children,
                    Style {
                        overline: true,
                        ..style
                    },
                    align,
                ),
                Node::Inverse(children) => self.walk(
                    children,
                    Style {
                        inverse: true,
                        ..style
                    },
                    align,
                ),
                Node::Qr(qr) => self.block(Block::Qr(qr, align)),
                Node::Rule => self.block(Block::Rule),
                Node::Cut(kind) => self.block(Block::Cut(*kind)),
            }
            self.path.pop();
        }
    }

    fn text(&mut self, text: &str, style: Style, align: Alignment) {
        for (offset, original) in text.chars().enumerate() {
            let encoded = self.encoder.encode(original);
            let replacement = encoded.map(|c| c.printed);
            if replacement != Some(original) {
                self.substitutions.push(Substitution {
                    path: self.path.clone(),
                    offset,
                    original,
                    replacement,
                });
            }
            let Some(c) = encoded else { continue };
            let columns = c.columns() * usize::from(style.width);
            // Never split a character: it moves whole to the next line.
            if !self.line.runs.is_empty() && self.line.columns() + columns > self.columns {
                self.end_line();
            }
            self.line.align = align;
            let run = match self.line.runs.last_mut() {
                Some(run) if run.style == style => run,
                _ => {
                    self.line.runs.push(Run {
                        style,
                        text: String::new(),
                        bytes: Vec::new(),
                        columns: 0,
                    });
                    self.line.runs.last_mut().expect("just pushed")
                }
            };
            run.text.push(c.printed);
            run.bytes.extend_from_slice(c.bytes());
            run.columns += columns;
        }
    }

    fn block(&mut self, block: Block<'t>) {
        self.break_line();
        self.blocks.push(block);
    }

    /// Ends the current line if anything is on it.
    fn break_line(&mut self) {
        if !self.line.runs.is_empty() {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        self.blocks
            .push(Block::Line(std::mem::take(&mut self.line)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::builder::{LabelBuilder, Paper};

    fn lines(columns: u16, build: impl FnOnce(&mut LabelBuilder)) -> Vec<String> {
        let tree = LabelBuilder::sheet(
            Paper {
                width_dots: columns * 12,
                columns,
            },
            build,
        )
        .unwrap();
        layout(&tree)
            .blocks
            .iter()
            .map(|block| match block {
                Block::Line(line) => line.runs.iter().map(|run| run.text.as_str()).collect(),
                _ => "<block>".to_string(),
            })
            .collect()
    }

    fn line_widths(columns: u16, text: &str) -> Vec<usize> {
        let tree = LabelBuilder::sheet(
            Paper {
                width_dots: columns * 12,
                columns,
            },
            |l| l.text(text),
        )
        .unwrap();
        layout(&tree)
            .blocks
            .iter()
            .map(|block| match block {
                Block::Line(line) => line.columns(),
                _ => panic!("only lines expected"),
            })
            .collect()
    }

    #[test]
    fn full_width_characters_take_two_columns() {
        let text = "あ".repeat(17);
        assert_eq!(line_widths(32, &text), [32, 2]);
        assert_eq!(lines(32, |l| l.text(&text)), ["あ".repeat(16), "あ".into()]);
    }

    #[test]
    fn half_width_katakana_takes_one_column() {
        let text = "ｱｲｳ".repeat(11);
        assert_eq!(line_widths(32, &text), [32, 1]);
    }

    #[test]
    fn a_double_byte_character_never_straddles_the_edge() {
        // 31 half-width columns leave one column: the next kanji moves whole.
        let text = format!("{}漢字", "a".repeat(31));
        assert_eq!(
            lines(32, |l| l.text(&text)),
            ["a".repeat(31), "漢字".into()]
        );
        assert_eq!(line_widths(32, &text), [31, 4]);
    }

    #[test]
    fn mixed_text_wraps_at_32_42_and_48_columns() {
        // 7 + 7 + 1 + 22 + 4 + 2 + 1 + 2 + 1 + 4 = 51 columns.
        let text = "SKU-12 ｼﾞｬｶﾞｲﾓ 北海道産じゃがいも男爵 1kg×2袋 冷蔵";
        assert_eq!(line_widths(48, text), [47, 4]);
        assert_eq!(lines(48, |l| l.text(text))[1], "冷蔵");
        assert_eq!(line_widths(42, text), [41, 10]);
        assert_eq!(lines(42, |l| l.text(text))[1], "×2袋 冷蔵");
        assert_eq!(line_widths(32, text), [31, 20]);
        assert_eq!(
            lines(32, |l| l.text(text))[0],
            "SKU-12 ｼﾞｬｶﾞｲﾓ 北海道産じゃがい"
        );
    }

    #[test]
    fn width_multiplier_halves_the_columns() {
        let tree =
            LabelBuilder::sheet(Paper::MM58, |l| l.size(2, 1, |l| l.text("あ".repeat(9)))).unwrap();
        let layout = layout(&tree);
        let widths: Vec<_> = layout
            .blocks
            .iter()
            .map(|block| match block {
                Block::Line(line) => (line.runs[0].text.chars().count(), line.columns()),
                _ => panic!("only lines expected"),
            })
            .collect();
        assert_eq!(widths, [(8, 32), (1, 4)]);
    }

    #[test]
    fn new_lines_end_lines_and_blank_lines_are_kept() {
        let got = lines(32, |l| {
            l.text_line("a");
            l.new_line();
            l.text("b");
        });
        assert_eq!(got, ["a", "", "b"]);
    }

    #[test]
    fn blocks_break_lines_around_them() {
        let got = lines(32, |l| {
            l.text("a");
            l.center(|l| l.text("b"));
            l.text("c");
            l.rule();
            l.text_line("d");
            l.partial_cut();
        });
        assert_eq!(got, ["a", "b", "c", "<block>", "d", "<block>"]);
    }

    #[test]
    fn runs_split_where_the_style_changes() {
        let tree = LabelBuilder::sheet(Paper::MM58, |l| {
            l.text("a");
            l.bold(|l| {
                l.text("b");
                l.underline(|l| l.text("c"));
                l.text("d");
            });
        })
        .unwrap();
        let layout = layout(&tree);
        let Block::Line(line) = &layout.blocks[0] else {
            panic!("expected a line")
        };
        let runs: Vec<_> = line
            .runs
            .iter()
            .map(|run| (run.text.as_str(), run.style.bold, run.style.underline))
            .collect();
        assert_eq!(
            runs,
            [
                ("a", false, false),
                ("b", true, false),
                ("c", true, true),
                ("d", true, false)
            ]
        );
    }

    #[test]
    fn runs_know_the_columns_of_each_character() {
        let tree = LabelBuilder::sheet(Paper::MM58, |l| l.text("aあｱ〓")).unwrap();
        let layout = layout(&tree);
        let Block::Line(line) = &layout.blocks[0] else {
            panic!("expected a line")
        };
        let chars: Vec<_> = line.runs[0].chars().collect();
        assert_eq!(chars, [('a', 1), ('あ', 2), ('ｱ', 1), ('〓', 2)]);
    }

    #[test]
    fn alignment_indents_by_the_free_columns() {
        let line = |align| Line {
            align,
            runs: vec![Run {
                style: Style::PLAIN,
                text: "abc".into(),
                bytes: b"abc".to_vec(),
                columns: 3,
            }],
        };
        assert_eq!(line(Alignment::Left).indent(32), 0);
        assert_eq!(line(Alignment::Center).indent(32), 14);
        assert_eq!(line(Alignment::Right).indent(32), 29);
    }

    #[test]
    fn substitutions_name_the_text_element_and_offset() {
        let tree = LabelBuilder::sheet(Paper::MM58, |l| {
            l.text_line("ok");
            l.bold(|l| l.text("麵と🍜\u{fe0f}"));
        })
        .unwrap();
        let layout = layout(&tree);
        let got: Vec<_> = layout
            .substitutions
            .iter()
            .map(|s| (s.path.to_string(), s.offset, s.original, s.replacement))
            .collect();
        assert_eq!(
            got,
            [
                ("/children/2/children/0".into(), 0, '麵', Some('麺')),
                ("/children/2/children/0".into(), 2, '🍜', Some('〓')),
                ("/children/2/children/0".into(), 3, '\u{fe0f}', None),
            ]
        );
        let Block::Line(line) = &layout.blocks[1] else {
            panic!("expected a line")
        };
        assert_eq!(line.runs[0].text, "麺と〓");
        assert_eq!(line.runs[0].bytes, [0x96, 0xcb, 0x82, 0xc6, 0x81, 0xac]);
    }
}
