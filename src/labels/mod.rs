//! Printed labels: described once as a tree, rendered to every output from that tree.
//!
//! Drivers read labels stuck on each item: product, customer, delivery slot, a QR code.
//! A label is a tree of [`Element`]s, like HTML. The thermal printer (ESC/POS), the
//! office printer (PDF), the admin preview (HTML) and the print log (plain text) are all
//! drawn from it through one layout pass, so they cannot disagree.
//!
//! # The tree
//!
//! `sheet` (the root: `width_dots` of printable paper at 8 dots per mm, `columns` of
//! half-width characters per line), `text`, `new_line`, `bold`, `size` (`width` and
//! `height` multipliers, 1 to 8), `align` (`left`, `center`, `right`), `underline`,
//! `overline`, `inverse` (white on black), `qr` (`payload`, `module_size` in dots,
//! `level` `l`/`m`/`q`/`h`), `rule` and `cut` (`partial` or `full`). In JSON:
//!
//! ```json
//! {"type": "sheet", "width_dots": 384, "columns": 32, "children": [
//!   {"type": "bold", "children": [{"type": "text", "text": "トマト"}, {"type": "new_line"}]},
//!   {"type": "cut", "kind": "partial"}
//! ]}
//! ```
//!
//! [`LabelTree::parse`] (or [`LabelTree::from_json`], or deserializing a [`LabelTree`])
//! checks the tree and is the only way to get something the renderers accept. Errors
//! carry the path of the element at fault, such as `/children/3/children/0`. Templates
//! build trees with [`LabelBuilder`], which reads like the label.
//!
//! # Layout
//!
//! Text wraps at the sheet's columns, counting what the printer counts: a character's
//! Shift_JIS bytes (full-width 2, half-width katakana 1) times the width multiplier. A
//! double-byte character is never split. `align`, `qr`, `rule` and `cut` are blocks that
//! start and end their own lines, since printers only align at the start of a line.
//!
//! # ESC/POS
//!
//! For Japanese Epson-compatible printers. Every label starts with `ESC @`, `ESC t 1`
//! (katakana page), `ESC R 8` (Japanese character set) and `FS C 1` (Shift_JIS). Styles
//! map to `ESC E` (bold), `GS !` (size), `ESC a` (alignment), `ESC -` and `FS -`
//! (underline of single- and double-byte characters) and `GS B` (inverse); only changes
//! are sent, so an inner style ending restores the outer one. QR codes use `GS ( k`
//! (model 2) followed by a line feed; cuts use `GS V 66 0` (partial) and `GS V 65 0`
//! (full), which feed the last line past the cutter first. A rule is a line of `─`.
//! The printer's font is assumed to give the sheet's column count (Font A: 12 dots a
//! column, so 32 columns on 58 mm paper and 48 on 80 mm).
//!
//! **Overline** has no ESC/POS command. An overlined line is preceded by a row of spaces
//! that are underlined exactly under the overlined columns (at the same width
//! multiplier), so the underline of that row runs along the top of the text.
//!
//! # Characters Shift_JIS cannot carry
//!
//! Encoding is strict. Common forms are folded (`〜` → `～`, `−` → `－`, `\` → `＼`,
//! `~` → `～`: the Japanese set prints bytes `5C` and `7E` as `¥` and `‾`), invisible
//! joiners and variation selectors are dropped, characters with a common variant get
//! it (`麵` → `麺`, `𠮷` → `吉`) and anything else, emoji included, prints as `〓`. Every
//! output shows the same replacement, and [`Rendered::substitutions`] lists each one
//! with the path of its text element, so a dry run can report them per label.
//!
//! # HTML and PDF
//!
//! The HTML preview is sized to the printed width and keeps the column grid (see
//! `assets/labels.css`, compiled in as [`STYLESHEET`] and embedded in the full document);
//! QR codes are inline SVG. The PDF
//! has one page per cut at the label's real size, uses a Japanese font found at run time
//! ([`FONT_CANDIDATES`], or [`PdfOptions::font_path`]) and embeds only the glyphs used.
//!
//! # Printing
//!
//! `POST /v1/print-jobs` renders up to 500 labels at once ([`render_batch`]), stores their
//! ESC/POS under `labels/print-jobs/{id}.bin`, logs the request in `print_jobs` (trees,
//! HTML preview, substitutions) and queues a `labels.print` job, which sends the bytes to
//! the named printer ([`printer::send`]) and records the outcome; a dry run stops at the
//! log. See [`api`] for the endpoints.

pub mod api;
mod builder;
mod element;
mod entity;
mod error;
mod job;
mod layout;
mod print_log;
pub mod printer;
mod qr;
mod render;
pub mod settings;
mod sjis;
pub mod templates;
mod tree;

use std::fmt;
use std::str::FromStr;
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use actix_web::web;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::platform::jobs::{JobRegistry, Queue};

pub use builder::{LabelBuilder, Paper};
pub use element::{Alignment, CutKind, Element, ErrorLevel};
pub use error::LabelError;
pub use render::html::STYLESHEET;
pub use render::pdf::{FONT_CANDIDATES, FontError, PdfOptions};
pub use sjis::{GETA, Substitution};
pub use tree::{ElementPath, InvalidTree, LabelTree, Problem};

/// The print-job, template and render endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
}

/// Printers answer fast or not at all; a retry soon after often finds them back.
const QUEUE: Queue = Queue::new("print")
    .with_timeout(Duration::from_secs(30))
    .with_max_attempts(4)
    .with_backoff(Duration::from_secs(5));

/// The job that sends a print job to its printer.
pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register::<job::PrintLabels>();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Bytes for a thermal printer, see [`printer::send`].
    EscPos,
    /// A standalone HTML document; [`html_fragment`] gives the embeddable part.
    Html,
    Pdf,
    /// The plain-text form used by tests and logs.
    Text,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::EscPos, Format::Html, Format::Pdf, Format::Text];

    pub fn content_type(self) -> &'static str {
        match self {
            Format::EscPos => "application/octet-stream",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Text => "text/plain; charset=utf-8",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::EscPos => "escpos",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Text => "text",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown label format `{0}`, expected escpos, html, pdf or text")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A rendered label and the characters that could not be printed as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub format: Format,
    pub bytes: Vec<u8>,
    pub substitutions: Vec<Substitution>,
}

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("cannot write the PDF")]
    Pdf(#[from] krilla::error::KrillaError),
}

/// Renders labels, loading the PDF font once, on the first PDF.
#[derive(Debug, Default)]
pub struct Renderer {
    pdf: PdfOptions,
    font: OnceLock<krilla::text::Font>,
}

impl Renderer {
    pub fn new(pdf: PdfOptions) -> Self {
        Renderer {
            pdf,
            font: OnceLock::new(),
        }
    }

    pub fn render(&self, tree: &LabelTree, format: Format) -> Result<Rendered, RenderError> {
        let layout = layout::layout(tree);
        let bytes = match format {
            Format::EscPos => render::escpos::render(&layout),
            Format::Html => render::html::document(&layout).into_bytes(),
            Format::Pdf => render::pdf::render(&layout, self.font()?)?,
            Format::Text => render::text::render(&layout).into_bytes(),
        };
        Ok(Rendered {
            format,
            bytes,
            substitutions: layout.substitutions,
        })
    }

    fn font(&self) -> Result<&krilla::text::Font, FontError> {
        if let Some(font) = self.font.get() {
            return Ok(font);
        }
        // A failed load is not cached, so installing the font fixes a running service.
        let font = render::pdf::load_font(&self.pdf)?;
        Ok(self.font.get_or_init(|| font))
    }
}

/// Renders with the default [`Renderer`], whose PDF font is looked up in [`FONT_CANDIDATES`].
pub fn render(tree: &LabelTree, format: Format) -> Result<Rendered, RenderError> {
    static DEFAULT: LazyLock<Renderer> = LazyLock::new(Renderer::default);
    DEFAULT.render(tree, format)
}

/// Labels laid out once and drawn for the printer and for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Every label's ESC/POS in order, one stream for the printer; each label starts by
    /// resetting the printer, so they concatenate.
    pub escpos: Vec<u8>,
    /// One HTML document showing every label in order.
    pub html: String,
    /// Each label's substitutions, in label order.
    pub substitutions: Vec<Vec<Substitution>>,
}

pub fn render_batch(trees: &[LabelTree]) -> Batch {
    let layouts: Vec<_> = trees.iter().map(layout::layout).collect();
    Batch {
        escpos: layouts.iter().flat_map(render::escpos::render).collect(),
        html: render::html::document_of(&layouts),
        substitutions: layouts.into_iter().map(|l| l.substitutions).collect(),
    }
}

/// The HTML preview without a document around it, for embedding in a page that also
/// serves [`STYLESHEET`].
pub fn html_fragment(tree: &LabelTree) -> String {
    render::html::fragment(&layout::layout(tree))
}

/// The substitutions a label would print with, without rendering it: a dry run.
pub fn substitutions(tree: &LabelTree) -> Vec<Substitution> {
    layout::layout(tree).substitutions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Renderer>();
        send_sync::<RenderError>();
        send_sync::<LabelTree>();
        send_sync::<templates::TemplateError>();
        send_sync::<printer::PrinterError>();
    }

    #[test]
    fn formats_parse_from_their_names() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        assert_eq!("escpos".parse::<Format>(), Ok(Format::EscPos));
        assert_eq!("PDF".parse::<Format>(), Err(UnknownFormat("PDF".into())));
        assert_eq!(
            serde_json::to_string(&Format::EscPos).unwrap(),
            "\"escpos\""
        );
        assert_eq!(
            serde_json::from_str::<Format>("\"text\"").unwrap(),
            Format::Text
        );
    }

    #[test]
    fn formats_have_content_types() {
        let types: Vec<_> = Format::ALL
            .iter()
            .map(|format| format.content_type())
            .collect();
        assert_eq!(
            types,
            [
                "application/octet-stream",
                "text/html; charset=utf-8",
                "application/pdf",
                "text/plain; charset=utf-8"
            ]
        );
    }

    fn tree() -> LabelTree {
        LabelBuilder::sheet(Paper::MM58, |l| {
            l.bold(|l| l.text_line("ほっけ𩸽"));
            l.text_line("麵");
        })
        .unwrap()
    }

    #[test]
    fn every_format_prints_the_same_substitutions() {
        let expected = substitutions(&tree());
        let got: Vec<_> = expected
            .iter()
            .map(|s| (s.path.to_string(), s.original, s.replacement))
            .collect();
        assert_eq!(
            got,
            [
                ("/children/0/children/0".into(), '𩸽', Some(GETA)),
                ("/children/1".into(), '麵', Some('麺'))
            ]
        );
        for format in [Format::EscPos, Format::Html, Format::Text] {
            let rendered = render(&tree(), format).unwrap();
            assert_eq!(rendered.format, format);
            assert_eq!(rendered.substitutions, expected, "{format}");
        }
        let text = String::from_utf8(render(&tree(), Format::Text).unwrap().bytes).unwrap();
        assert_eq!(text, "**ほっけ〓**\n麺\n");
        let html = String::from_utf8(render(&tree(), Format::Html).unwrap().bytes).unwrap();
        assert!(
            html.contains("<strong>ほっけ〓</strong>") && html.contains(">麺</p>"),
            "{html}"
        );
        assert!(html.contains(&html_fragment(&tree())));
    }

    #[test]
    fn substitutions_serialize_with_a_path_string() {
        let json = serde_json::to_value(&substitutions(&tree())[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"path": "/children/1", "offset": 0, "original": "麵", "replacement": "麺"})
        );
    }

    #[test]
    fn a_batch_is_each_label_in_order() {
        let plain = LabelBuilder::sheet(Paper::MM80, |l| l.text_line("二枚目")).unwrap();
        let batch = render_batch(&[tree(), plain.clone()]);
        let one = |tree: &LabelTree, format| render(tree, format).unwrap().bytes;
        let escpos = [one(&tree(), Format::EscPos), one(&plain, Format::EscPos)];
        assert_eq!(batch.escpos, escpos.concat());
        assert_eq!(batch.substitutions, [substitutions(&tree()), vec![]]);
        let first = batch.html.find(&html_fragment(&tree())).unwrap();
        let second = batch.html.find(&html_fragment(&plain)).unwrap();
        assert!(first < second);
        assert_eq!(batch.html.matches("<html").count(), 1);
        assert_eq!(
            render_batch(std::slice::from_ref(&plain)).html.into_bytes(),
            one(&plain, Format::Html)
        );
    }

    #[test]
    fn a_missing_configured_font_is_a_font_error() {
        let renderer = Renderer::new(PdfOptions {
            font_path: Some("/nonexistent/font.ttf".into()),
        });
        let err = renderer.render(&tree(), Format::Pdf).unwrap_err();
        assert!(
            matches!(err, RenderError::Font(FontError::Read { .. })),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cannot read the font /nonexistent/font.ttf"
        );
        // Other formats need no font.
        assert!(renderer.render(&tree(), Format::Text).is_ok());
    }
}
