//! ESC/POS for Japanese Epson-compatible printers.
//!
//! The printer is a state machine, so the renderer tracks what it last told it and sends
//! only the commands that change the state for the next run. An inner style ending
//! therefore restores exactly the outer one, and the label ends with the printer back in
//! its initial state.

use crate::labels::element::{Alignment, CutKind, ErrorLevel};
use crate::labels::layout::{Block, Layout, Line, Style};
use crate::labels::qr::Qr;

const ESC: u8 = 0x1b;
const FS: u8 = 0x1c;
const GS: u8 = 0x1d;
const LF: u8 = b'\n';

/// `ESC @` resets, `ESC t 1` selects the katakana page for half-width katakana, `ESC R 8`
/// the Japanese character set, `FS C 1` Shift_JIS so the printer finds double-byte
/// characters by their lead byte.
const INITIALIZE: [u8; 11] = [ESC, b'@', ESC, b't', 1, ESC, b'R', 8, FS, b'C', 1];
/// `─` in Shift_JIS; box-drawing characters join into a solid line.
const RULE_CHAR: [u8; 2] = [0x84, 0x9f];

pub(crate) fn render(layout: &Layout) -> Vec<u8> {
    let mut printer = Printer {
        out: INITIALIZE.to_vec(),
        style: Style::PLAIN,
        align: Alignment::Left,
    };
    for block in &layout.blocks {
        match block {
            Block::Line(line) => printer.line(line),
            Block::Rule => printer.rule(layout.columns),
            Block::Qr(qr, align) => printer.qr(qr, *align),
            Block::Cut(kind) => printer.cut(*kind),
        }
    }
    printer.set_style(Style::PLAIN);
    printer.set_align(Alignment::Left);
    printer.out
}

struct Printer {
    out: Vec<u8>,
    /// What the printer was last told; `overline` is always false, it has no command.
    style: Style,
    align: Alignment,
}

impl Printer {
    fn line(&mut self, line: &Line) {
        self.set_align(line.align);
        if let Some(last) = line.runs.iter().rposition(|run| run.style.overline) {
            // ESC/POS has no overline: underlined spaces on a row of their own, sized like
            // the text below, put a line right on top of the overlined columns.
            for run in &line.runs[..=last] {
                self.set_style(Style {
                    underline: run.style.overline,
                    width: run.style.width,
                    ..Style::PLAIN
                });
                self.out.resize(self.out.len() + run.bytes.len(), b' ');
            }
            self.out.push(LF);
        }
        for run in &line.runs {
            self.set_style(run.style);
            self.out.extend_from_slice(&run.bytes);
        }
        self.out.push(LF);
    }

    fn rule(&mut self, columns: usize) {
        self.set_style(Style::PLAIN);
        for _ in 0..columns / 2 {
            self.out.extend_from_slice(&RULE_CHAR);
        }
        if columns % 2 == 1 {
            self.out.push(b'-');
        }
        self.out.push(LF);
    }

    fn qr(&mut self, qr: &Qr, align: Alignment) {
        self.set_align(align);
        let level = match qr.level {
            ErrorLevel::L => b'0',
            ErrorLevel::M => b'1',
            ErrorLevel::Q => b'2',
            ErrorLevel::H => b'3',
        };
        // GS ( k: model 2, module size, error level, store the data, print it.
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 4, 0, b'1', b'A', b'2', 0]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, b'1', b'C', qr.module_size]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, b'1', b'E', level]);
        let [low, high] = u16::try_from(qr.payload.len() + 3)
            .expect("parsing limits the payload to version 40")
            .to_le_bytes();
        self.out
            .extend_from_slice(&[GS, b'(', b'k', low, high, b'1', b'P', b'0']);
        self.out.extend_from_slice(qr.payload.as_bytes());
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, b'1', b'Q', b'0']);
        // Leaves a line of space so the next text does not touch the symbol.
        self.out.push(LF);
    }

    fn cut(&mut self, kind: CutKind) {
        // Function B of GS V feeds the last line past the cutter before cutting.
        let mode = match kind {
            CutKind::Partial => 66,
            CutKind::Full => 65,
        };
        self.out.extend_from_slice(&[GS, b'V', mode, 0]);
    }

    fn set_align(&mut self, align: Alignment) {
        if align != self.align {
            let n = match align {
                Alignment::Left => 0,
                Alignment::Center => 1,
                Alignment::Right => 2,
            };
            self.out.extend_from_slice(&[ESC, b'a', n]);
            self.align = align;
        }
    }

    fn set_style(&mut self, style: Style) {
        let style = Style {
            overline: false,
            ..style
        };
        let current = self.style;
        if style.bold != current.bold {
            self.out
                .extend_from_slice(&[ESC, b'E', u8::from(style.bold)]);
        }
        if style.underline != current.underline {
            // ESC - underlines single-byte characters, FS - double-byte ones.
            let n = u8::from(style.underline);
            self.out.extend_from_slice(&[ESC, b'-', n, FS, b'-', n]);
        }
        if style.inverse != current.inverse {
            self.out
                .extend_from_slice(&[GS, b'B', u8::from(style.inverse)]);
        }
        if (style.width, style.height) != (current.width, current.height) {
            self.out
                .extend_from_slice(&[GS, b'!', (style.width - 1) << 4 | (style.height - 1)]);
        }
        self.style = style;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::builder::{LabelBuilder, Paper};
    use crate::labels::layout::layout;

    const INIT: &[u8] = b"\x1b@\x1bt\x01\x1bR\x08\x1cC\x01";

    fn escpos(paper: Paper, build: impl FnOnce(&mut LabelBuilder)) -> Vec<u8> {
        render(&layout(&LabelBuilder::sheet(paper, build).unwrap()))
    }

    /// The bytes after the initialization sequence, which is checked once.
    fn body(build: impl FnOnce(&mut LabelBuilder)) -> Vec<u8> {
        let bytes = escpos(Paper::MM58, build);
        assert_eq!(&bytes[..INIT.len()], INIT);
        bytes[INIT.len()..].to_vec()
    }

    #[test]
    fn an_empty_label_only_initializes() {
        assert_eq!(
            escpos(Paper::MM58, |_| {}),
            b"\x1b\x40\x1b\x74\x01\x1b\x52\x08\x1c\x43\x01"
        );
    }

    #[test]
    fn text_is_printed_and_ends_its_line() {
        assert_eq!(body(|l| l.text("Hello")), b"Hello\n");
    }

    #[test]
    fn japanese_text_is_shift_jis() {
        // あ 82A0, 漢 8ABF, ｱ B1, ¥ 5C (shown as ¥ under ESC R 8).
        assert_eq!(
            body(|l| l.text("あ漢ｱ¥")),
            [0x82, 0xa0, 0x8a, 0xbf, 0xb1, 0x5c, 0x0a]
        );
    }

    #[test]
    fn substituted_characters_print_their_replacement() {
        // 〜 folds to ～ (8160), 🍜 becomes 〓 (81AC).
        assert_eq!(body(|l| l.text("〜🍜")), [0x81, 0x60, 0x81, 0xac, 0x0a]);
    }

    #[test]
    fn new_lines_feed_even_when_empty() {
        assert_eq!(
            body(|l| {
                l.text_line("a");
                l.new_line();
                l.text_line("b");
            }),
            b"a\n\nb\n"
        );
    }

    #[test]
    fn wrapped_lines_each_end_with_a_line_feed() {
        let text = format!("{}漢", "a".repeat(31));
        let mut expected = "a".repeat(31).into_bytes();
        expected.extend_from_slice(&[0x0a, 0x8a, 0xbf, 0x0a]);
        assert_eq!(body(|l| l.text(text)), expected);
    }

    #[test]
    fn bold_is_turned_on_and_back_off() {
        assert_eq!(body(|l| l.bold(|l| l.text("a"))), b"\x1bE\x01a\n\x1bE\x00");
    }

    #[test]
    fn bold_inside_bold_keeps_the_outer_bold() {
        let got = body(|l| {
            l.bold(|l| {
                l.text("a");
                l.bold(|l| l.text("b"));
                l.text("c");
            });
            l.text("d");
        });
        assert_eq!(got, b"\x1bE\x01abc\x1bE\x00d\n");
    }

    #[test]
    fn an_inner_style_ending_restores_the_outer_one() {
        let got = body(|l| {
            l.bold(|l| {
                l.text("a");
                l.underline(|l| l.text("b"));
                l.text("c");
            });
            l.text("d");
        });
        assert_eq!(
            got,
            b"\x1bE\x01a\x1b-\x01\x1c-\x01b\x1b-\x00\x1c-\x00c\x1bE\x00d\n"
        );
    }

    #[test]
    fn size_sets_width_and_height_multipliers() {
        // GS ! n: width - 1 in the high nibble, height - 1 in the low one.
        assert_eq!(
            body(|l| l.size(2, 3, |l| l.text("a"))),
            b"\x1d!\x12a\n\x1d!\x00"
        );
        assert_eq!(
            body(|l| l.size(8, 8, |l| l.text("a"))),
            b"\x1d!\x77a\n\x1d!\x00"
        );
    }

    #[test]
    fn size_inside_size_restores_the_outer_size() {
        let got = body(|l| {
            l.size(2, 2, |l| {
                l.text("a");
                l.size(1, 3, |l| l.text("b"));
                l.text("c");
            });
        });
        assert_eq!(got, b"\x1d!\x11a\x1d!\x02b\x1d!\x11c\n\x1d!\x00");
    }

    #[test]
    fn alignment_is_set_at_the_start_of_its_lines() {
        let got = body(|l| {
            l.center(|l| l.text_line("a"));
            l.right(|l| l.text("b"));
            l.text("c");
        });
        assert_eq!(got, b"\x1ba\x01a\n\x1ba\x02b\n\x1ba\x00c\n");
    }

    #[test]
    fn nested_alignment_restores_the_outer_alignment() {
        let got = body(|l| {
            l.center(|l| {
                l.text_line("a");
                l.right(|l| l.text("b"));
                l.text("c");
            });
        });
        assert_eq!(got, b"\x1ba\x01a\n\x1ba\x02b\n\x1ba\x01c\n\x1ba\x00");
    }

    #[test]
    fn underline_covers_single_and_double_byte_characters() {
        assert_eq!(
            body(|l| l.underline(|l| l.text("aあ"))),
            [
                0x1b, 0x2d, 0x01, 0x1c, 0x2d, 0x01, 0x61, 0x82, 0xa0, 0x0a, 0x1b, 0x2d, 0x00, 0x1c,
                0x2d, 0x00
            ]
        );
    }

    #[test]
    fn inverse_prints_white_on_black() {
        assert_eq!(
            body(|l| l.inverse(|l| l.text("a"))),
            b"\x1dB\x01a\n\x1dB\x00"
        );
    }

    #[test]
    fn overline_is_an_underlined_row_of_spaces_above() {
        let got = body(|l| {
            l.text("a");
            l.overline(|l| l.text("bあ"));
            l.text("c");
        });
        // One plain space under "a", three underlined over "bあ", nothing over "c".
        let expected: &[u8] = b" \x1b-\x01\x1c-\x01   \n\x1b-\x00\x1c-\x00ab\x82\xa0c\n";
        assert_eq!(got, expected);
    }

    #[test]
    fn overline_over_wide_text_uses_wide_spaces() {
        let got = body(|l| l.size(2, 2, |l| l.overline(|l| l.text("a"))));
        let expected: &[u8] =
            b"\x1b-\x01\x1c-\x01\x1d!\x10 \n\x1b-\x00\x1c-\x00\x1d!\x11a\n\x1d!\x00";
        assert_eq!(got, expected);
    }

    #[test]
    fn qr_selects_model_2_and_stores_then_prints_the_payload() {
        let got = body(|l| l.center(|l| l.qr("https://x.jp/1", 6, ErrorLevel::Q)));
        let mut expected = b"\x1ba\x01".to_vec();
        expected.extend_from_slice(b"\x1d(k\x04\x001A2\x00");
        expected.extend_from_slice(b"\x1d(k\x03\x001C\x06");
        expected.extend_from_slice(b"\x1d(k\x03\x001E2");
        expected.extend_from_slice(b"\x1d(k\x11\x001P0https://x.jp/1");
        expected.extend_from_slice(b"\x1d(k\x03\x001Q0");
        expected.extend_from_slice(b"\n\x1ba\x00");
        assert_eq!(got, expected);
    }

    #[test]
    fn qr_error_levels_are_48_to_51() {
        for (level, n) in [
            (ErrorLevel::L, 48),
            (ErrorLevel::M, 49),
            (ErrorLevel::Q, 50),
            (ErrorLevel::H, 51),
        ] {
            let got = body(|l| l.qr("a", 1, level));
            let fn169 = [0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, n];
            assert!(got.windows(8).any(|w| w == fn169), "{level}");
        }
    }

    #[test]
    fn qr_store_length_uses_both_length_bytes() {
        let payload = "a".repeat(300);
        let got = escpos(Paper::MM80, |l| l.qr(payload.clone(), 1, ErrorLevel::L));
        // 303 = 0x012F: pL 2F, pH 01.
        assert!(
            got.windows(8)
                .any(|w| w == [0x1d, 0x28, 0x6b, 0x2f, 0x01, 0x31, 0x50, 0x30])
        );
    }

    #[test]
    fn rule_is_a_line_of_box_drawing_characters() {
        let mut expected = [0x84, 0x9f].repeat(16);
        expected.push(0x0a);
        assert_eq!(body(|l| l.rule()), expected);
    }

    #[test]
    fn rule_on_an_odd_sheet_ends_with_a_hyphen() {
        let paper = Paper {
            width_dots: 504,
            columns: 42,
        };
        let bytes = escpos(paper, |l| l.rule());
        let mut expected = [0x84, 0x9f].repeat(21);
        expected.push(0x0a);
        assert_eq!(&bytes[INIT.len()..], expected);
        let paper = Paper {
            width_dots: 384,
            columns: 31,
        };
        let bytes = escpos(paper, |l| l.rule());
        assert_eq!(&bytes[bytes.len() - 3..], [0x9f, b'-', 0x0a]);
    }

    #[test]
    fn rule_is_drawn_plain_inside_styles() {
        let got = body(|l| {
            l.bold(|l| {
                l.text_line("a");
                l.rule();
                l.text("b");
            })
        });
        let mut expected = b"\x1bE\x01a\n\x1bE\x00".to_vec();
        expected.extend_from_slice(&[0x84, 0x9f].repeat(16));
        expected.extend_from_slice(b"\n\x1bE\x01b\n\x1bE\x00");
        assert_eq!(got, expected);
    }

    #[test]
    fn cuts_feed_to_the_cutter_first() {
        assert_eq!(body(|l| l.partial_cut()), [0x1d, 0x56, 0x42, 0x00]);
        assert_eq!(body(|l| l.full_cut()), [0x1d, 0x56, 0x41, 0x00]);
    }

    #[test]
    fn text_before_a_cut_is_printed_first() {
        assert_eq!(
            body(|l| {
                l.text("a");
                l.full_cut();
            }),
            b"a\n\x1dVA\x00"
        );
    }
}
