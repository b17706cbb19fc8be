//! PDF for ordinary printers, drawn with krilla (no browser) from the same layout as the
//! thermal print: one page per cut, as wide as the label, every character placed on the
//! printer's column grid. Only the glyphs used are embedded.

use std::io;
use std::path::{Path, PathBuf};

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::labels::element::Alignment;
use crate::labels::layout::{self, Block, Layout, Line};
use crate::labels::qr::Qr;

/// Where Debian, Ubuntu and Fedora packages put Japanese gothic fonts, best first.
/// IPAGothic's half-width glyphs are exactly half its full-width ones, like the printer's.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/takao-gothic/TakaoGothic.ttf",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfOptions {
    /// A TrueType or OpenType font with Japanese glyphs; searched in
    /// [`FONT_CANDIDATES`] when absent. For a collection the first face is used, which in
    /// Noto Sans CJK is the Japanese one.
    pub font_path: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum FontError {
    #[error(
        "no Japanese font found (tried {}); install fonts-ipafont-gothic or configure a font path",
        list(tried)
    )]
    NotFound { tried: Vec<PathBuf> },
    #[error("cannot read the font {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a font that can be embedded", path.display())]
    Unusable { path: PathBuf },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn load_font(options: &PdfOptions) -> Result<Font, FontError> {
    match &options.font_path {
        Some(path) => read_font(path),
        None => read_font(&find_font(FONT_CANDIDATES)?),
    }
}

fn find_font(candidates: &[&str]) -> Result<PathBuf, FontError> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| FontError::NotFound {
            tried: candidates.iter().map(PathBuf::from).collect(),
        })
}

fn read_font(path: &Path) -> Result<Font, FontError> {
    let data = std::fs::read(path).map_err(|source| FontError::Read {
        path: path.to_owned(),
        source,
    })?;
    Font::new(data.into(), 0).ok_or_else(|| FontError::Unusable {
        path: path.to_owned(),
    })
}

/// Points per printer dot at 203 dpi, so the PDF prints at the label's real size.
const PT_PER_DOT: f32 = 72.0 / 203.2;
/// Space under each line, in ems: Font A's 24-dot glyphs on 30-dot lines.
const LEADING: f32 = 0.25;
/// Baseline from the top of a character cell, in ems.
const ASCENT: f32 = 0.88;
const STROKE: f32 = 0.06;

struct Metrics {
    width_dots: usize,
    width: f32,
    columns: usize,
    /// One half-width column.
    column: f32,
    /// The font size: a full-width character is square, two columns wide.
    em: f32,
}

impl Metrics {
    fn line_height(&self, multiplier: u8) -> f32 {
        self.em * (f32::from(multiplier) + LEADING)
    }

    fn qr_side(qr: &Qr) -> f32 {
        (qr.width * usize::from(qr.module_size)) as f32 * PT_PER_DOT
    }

    fn block_height(&self, block: &Block) -> f32 {
        match block {
            Block::Line(line) => self.line_height(line.height()),
            Block::Rule => self.line_height(1),
            // Matches the line feed the printer gets after the symbol.
            Block::Qr(qr, _) => Self::qr_side(qr) + self.line_height(1),
            Block::Cut(_) => 0.0,
        }
    }
}

pub(crate) fn render(layout: &Layout, font: &Font) -> Result<Vec<u8>, krilla::error::KrillaError> {
    let width = f32::from(layout.width_dots) * PT_PER_DOT;
    let column = width / layout.columns as f32;
    let metrics = Metrics {
        width_dots: usize::from(layout.width_dots),
        width,
        columns: layout.columns,
        column,
        em: 2.0 * column,
    };
    let margin = metrics.em / 2.0;
    let mut document = Document::new();
    let mut pages: Vec<&[Block]> = layout
        .blocks
        .split(|block| matches!(block, Block::Cut(_)))
        .collect();
    if pages.len() > 1 && pages.last().is_some_and(|page| page.is_empty()) {
        pages.pop();
    }
    for blocks in pages {
        let height = 2.0 * margin
            + blocks
                .iter()
                .map(|block| metrics.block_height(block))
                .sum::<f32>();
        let settings = PageSettings::from_wh(width, height).expect("a label has a positive size");
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut top = margin;
        for block in blocks {
            match block {
                Block::Line(line) => draw_line(&mut surface, &metrics, font, line, top),
                Block::Rule => {
                    let y = top + metrics.line_height(1) / 2.0;
                    fill_rect(
                        &mut surface,
                        0.0,
                        y,
                        metrics.width,
                        metrics.em * STROKE,
                        black(),
                    );
                }
                Block::Qr(qr, align) => draw_qr(&mut surface, &metrics, qr, *align, top),
                Block::Cut(_) => {}
            }
            top += metrics.block_height(block);
        }
        surface.finish();
        page.finish();
    }
    document.finish()
}

fn black() -> luma::Color {
    luma::Color::black()
}

fn fill(color: luma::Color) -> Fill {
    Fill {
        paint: color.into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn fill_rect(surface: &mut Surface, x: f32, y: f32, width: f32, height: f32, color: luma::Color) {
    let Some(rect) = Rect::from_xywh(x, y, width, height) else {
        return;
    };
    let mut path = PathBuilder::new();
    path.push_rect(rect);
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(fill(color)));
        surface.draw_path(&path);
    }
}

fn draw_line(surface: &mut Surface, metrics: &Metrics, font: &Font, line: &Line, top: f32) {
    let em = metrics.em;
    // Characters of different heights share the bottom of the line, as on the printer.
    let bottom = top + em * f32::from(line.height());
    let mut x = metrics.column * line.indent(metrics.columns) as f32;
    let mut utf8 = [0; 4];
    for run in &line.runs {
        let style = run.style;
        let (width, height) = (f32::from(style.width), f32::from(style.height));
        let run_width = metrics.column * run.columns as f32;
        let run_top = bottom - em * height;
        let color = if style.inverse {
            fill_rect(surface, x, run_top, run_width, em * height, black());
            luma::Color::white()
        } else {
            black()
        };
        surface.set_fill(Some(fill(color)));
        // Fill and stroke together thicken the glyphs: a bold without a bold font.
        surface.set_stroke(style.bold.then(|| Stroke {
            paint: color.into(),
            width: em * height * 0.04,
            ..Stroke::default()
        }));
        let baseline = run_top + em * height * ASCENT;
        let mut char_x = x;
        for (c, columns) in run.chars() {
            surface.push_transform(&Transform::from_row(
                width / height,
                0.0,
                0.0,
                1.0,
                char_x,
                baseline,
            ));
            let text = c.encode_utf8(&mut utf8);
            surface.draw_text(
                Point::from_xy(0.0, 0.0),
                font.clone(),
                em * height,
                text,
                false,
                TextDirection::Auto,
            );
            surface.pop();
            char_x += metrics.column * (columns as f32) * width;
        }
        let thickness = em * STROKE;
        if style.underline {
            fill_rect(
                surface,
                x,
                baseline + em * height * 0.08,
                run_width,
                thickness,
                color,
            );
        }
        if style.overline {
            fill_rect(surface, x, run_top - thickness, run_width, thickness, color);
        }
        x += run_width;
    }
}

fn draw_qr(surface: &mut Surface, metrics: &Metrics, qr: &Qr, align: Alignment, top: f32) {
    let module = f32::from(qr.module_size) * PT_PER_DOT;
    // Aligned in dots, as the printer does.
    let side_dots = qr.width * usize::from(qr.module_size);
    let left = layout::indent(align, side_dots, metrics.width_dots) as f32 * PT_PER_DOT;
    let mut path = PathBuilder::new();
    for y in 0..qr.width {
        for (x, len) in qr.dark_runs(y) {
            if let Some(rect) = Rect::from_xywh(
                left + x as f32 * module,
                top + y as f32 * module,
                len as f32 * module,
                module,
            ) {
                path.push_rect(rect);
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(fill(black())));
        surface.draw_path(&path);
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::labels::builder::{LabelBuilder, Paper};
    use crate::labels::element::ErrorLevel;
    use crate::labels::layout::layout;
    use crate::labels::tree::LabelTree;

    fn required() -> bool {
        std::env::var("SOUS_REQUIRE_SERVICES").as_deref() == Ok("1")
    }

    /// The system font, or `None` (with a note) when it is not installed and not required.
    fn system_font() -> Option<(Font, u64)> {
        match find_font(FONT_CANDIDATES) {
            Ok(path) => Some((
                read_font(&path).unwrap(),
                std::fs::metadata(&path).unwrap().len(),
            )),
            Err(err) if !required() => {
                eprintln!("note: skipping the PDF check: {err}");
                None
            }
            Err(err) => panic!("{err}"),
        }
    }

    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("label.pdf");
        std::fs::write(&path, pdf).unwrap();
        let output = match Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-")
            .output()
        {
            Ok(output) => output,
            Err(err) if err.kind() == io::ErrorKind::NotFound && !required() => {
                eprintln!(
                    "note: pdftotext is not installed (poppler-utils), skipping the text check"
                );
                return None;
            }
            Err(err) => panic!("cannot run pdftotext: {err}"),
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8(output.stdout).unwrap())
    }

    fn label() -> LabelTree {
        LabelBuilder::sheet(Paper::MM58, |l| {
            l.bold(|l| l.text_line("山田 太郎 様"));
            l.size(2, 2, |l| l.text_line("トマト"));
            l.inverse(|l| l.text_line("11/22(日) 10:00～12:00"));
            l.right(|l| l.text_line("ｶｯﾄ野菜 ×2"));
            l.rule();
            l.center(|l| l.qr("https://sous.example/i/1", 4, ErrorLevel::M));
            l.overline(|l| l.underline(|l| l.text_line("#12345")));
            l.partial_cut();
            l.text_line("2枚目のラベル");
            l.full_cut();
        })
        .unwrap()
    }

    #[test]
    fn text_extracts_back_in_order_one_page_per_cut() {
        let Some((font, _)) = system_font() else {
            return;
        };
        let pdf = render(&layout(&label()), &font).unwrap();
        let Some(text) = pdftotext(&pdf) else { return };
        let pages: Vec<Vec<&str>> = text
            .split('\x0c')
            .filter(|page| !page.trim().is_empty())
            .map(|page| {
                page.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            pages,
            [
                vec![
                    "山田 太郎 様",
                    "トマト",
                    "11/22(日) 10:00～12:00",
                    "ｶｯﾄ野菜 ×2",
                    "#12345"
                ],
                vec!["2枚目のラベル"],
            ],
            "{text}"
        );
    }

    #[test]
    fn only_the_used_glyphs_are_embedded() {
        let Some((font, font_size)) = system_font() else {
            return;
        };
        let pdf = render(&layout(&label()), &font).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            (pdf.len() as u64) * 50 < font_size,
            "{} bytes for a {font_size}-byte font",
            pdf.len()
        );
    }

    #[test]
    fn a_missing_font_names_the_paths_tried() {
        let err = find_font(&["/nonexistent/a.ttf", "/nonexistent/b.otf"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no Japanese font found (tried /nonexistent/a.ttf, /nonexistent/b.otf); \
             install fonts-ipafont-gothic or configure a font path"
        );
    }

    #[test]
    fn a_file_that_is_not_a_font_is_reported() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a font").unwrap();
        let options = PdfOptions {
            font_path: Some(file.path().to_owned()),
        };
        let err = load_font(&options).unwrap_err();
        assert!(
            matches!(&err, FontError::Unusable { path } if path == file.path()),
            "{err:?}"
        );
    }
}
