//! Plain text for tests and logs: the printed content where the printer puts it.
//!
//! Lines are indented with spaces as they are aligned on paper (a full-width character
//! counts two columns, a doubled width twice that). Styles are inline markers, which take
//! no room on paper: `**bold**`, `__underline__`, `^^overline^^`, `[[inverse]]` and
//! `{2x3:size}` (width × height). A rule is a row of `-`, a QR code `[QR: payload]`, cuts
//! `--- cut ---` and `--- partial cut ---`.

use std::fmt::Write;

use crate::labels::element::CutKind;
use crate::labels::layout::{self, Block, Layout, Line, Style};

pub(crate) fn render(layout: &Layout) -> String {
    let mut out = String::new();
    for block in &layout.blocks {
        match block {
            Block::Line(line) => write_line(&mut out, line, layout.columns),
            Block::Rule => out.push_str(&"-".repeat(layout.columns)),
            Block::Qr(qr, align) => {
                let marker = format!("[QR: {}]", qr.payload);
                let indent = layout::indent(*align, marker.len(), layout.columns);
                out.extend(std::iter::repeat_n(' ', indent));
                out.push_str(&marker);
            }
            Block::Cut(CutKind::Full) => out.push_str("--- cut ---"),
            Block::Cut(CutKind::Partial) => out.push_str("--- partial cut ---"),
        }
        out.push('\n');
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Size(u8, u8),
    Inverse,
    Bold,
    Underline,
    Overline,
}

impl Marker {
    /// The markers of a style, outermost first.
    fn of(style: Style) -> impl Iterator<Item = Marker> {
        [
            (style.width, style.height) != (1, 1),
            style.inverse,
            style.bold,
            style.underline,
            style.overline,
        ]
        .into_iter()
        .zip([
            Marker::Size(style.width, style.height),
            Marker::Inverse,
            Marker::Bold,
            Marker::Underline,
            Marker::Overline,
        ])
        .filter_map(|(on, marker)| on.then_some(marker))
    }

    fn open(self, out: &mut String) {
        match self {
            Marker::Size(width, height) => {
                write!(out, "{{{width}x{height}:").expect("writing to a String")
            }
            Marker::Inverse => out.push_str("[["),
            Marker::Bold => out.push_str("**"),
            Marker::Underline => out.push_str("__"),
            Marker::Overline => out.push_str("^^"),
        }
    }

    fn close(self, out: &mut String) {
        out.push_str(match self {
            Marker::Size(..) => "}",
            Marker::Inverse => "]]",
            Marker::Bold => "**",
            Marker::Underline => "__",
            Marker::Overline => "^^",
        });
    }
}

/// Keeps markers shared by neighbouring runs open, so `bold(a, underline(b))` reads
/// `**a__b__**` rather than `**a****__b__**`.
fn write_line(out: &mut String, line: &Line, columns: usize) {
    out.extend(std::iter::repeat_n(' ', line.indent(columns)));
    let mut open: Vec<Marker> = Vec::new();
    for run in &line.runs {
        let wanted: Vec<Marker> = Marker::of(run.style).collect();
        let kept = open.iter().zip(&wanted).take_while(|(a, b)| a == b).count();
        while open.len() > kept {
            open.pop().expect("longer than kept").close(out);
        }
        for &marker in &wanted[kept..] {
            marker.open(out);
            open.push(marker);
        }
        out.push_str(&run.text);
    }
    while let Some(marker) = open.pop() {
        marker.close(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::builder::{LabelBuilder, Paper};
    use crate::labels::element::ErrorLevel;
    use crate::labels::layout::layout;

    fn text(build: impl FnOnce(&mut LabelBuilder)) -> String {
        render(&layout(&LabelBuilder::sheet(Paper::MM58, build).unwrap()))
    }

    #[test]
    fn lines_are_aligned_with_spaces_by_printed_width() {
        let got = text(|l| {
            l.text_line("left");
            l.center(|l| l.text_line("中央"));
            l.right(|l| l.text_line("ｱｲｳ"));
            l.center(|l| l.size(2, 1, |l| l.text("ab")));
        });
        let expected = format!(
            "left\n{}中央\n{}ｱｲｳ\n{}{{2x1:ab}}\n",
            " ".repeat(14),
            " ".repeat(29),
            " ".repeat(14)
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn styles_are_marked_inline() {
        let got = text(|l| {
            l.bold(|l| l.text_line("b"));
            l.underline(|l| l.text_line("u"));
            l.overline(|l| l.text_line("o"));
            l.inverse(|l| l.text_line("i"));
        });
        assert_eq!(got, "**b**\n__u__\n^^o^^\n[[i]]\n");
    }

    #[test]
    fn nested_styles_share_their_outer_markers() {
        let got = text(|l| {
            l.bold(|l| {
                l.text("a");
                l.underline(|l| l.text("b"));
                l.text("c");
            });
            l.text("d");
        });
        assert_eq!(got, "**a__b__c**d\n");
    }

    #[test]
    fn blocks_have_their_own_lines() {
        let got = text(|l| {
            l.text_line("a");
            l.rule();
            l.center(|l| l.qr("https://x.jp", 4, ErrorLevel::M));
            l.partial_cut();
            l.text("b");
            l.full_cut();
        });
        let expected = format!(
            "a\n{}\n{}[QR: https://x.jp]\n--- partial cut ---\nb\n--- cut ---\n",
            "-".repeat(32),
            " ".repeat(7)
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn blank_lines_are_empty() {
        assert_eq!(
            text(|l| {
                l.new_line();
                l.text_line("a");
            }),
            "\na\n"
        );
    }
}
