//! HTML preview: a fragment for admin pages and a standalone document embedding
//! `assets/labels.css`, which sizes the label to its printed width.
//!
//! Lines are `<p>`, bold is `<strong>`, rules and cuts are `<hr>`, a QR code is an inline
//! SVG drawn from the same modules the other renderers use.

use std::fmt::Write;

use crate::labels::element::{Alignment, CutKind};
use crate::labels::layout::{Block, Layout, Line, Run};
use crate::labels::qr::Qr;

/// `assets/labels.css`, for serving next to pages that embed [`crate::labels::html_fragment`].
pub const STYLESHEET: &str = include_str!("../../../assets/labels.css");

/// Printer dots per millimetre (203 dpi).
const DOTS_PER_MM: f32 = 8.0;

pub(crate) fn fragment(layout: &Layout) -> String {
    let mut out = String::new();
    let width_mm = f32::from(layout.width_dots) / DOTS_PER_MM;
    writeln!(
        out,
        r#"<div class="sous-label" style="--columns:{};--width:{width_mm}mm" data-width-dots="{}">"#,
        layout.columns, layout.width_dots
    )
    .expect("writing to a String");
    for block in &layout.blocks {
        match block {
            Block::Line(line) => write_line(&mut out, line),
            Block::Rule => out.push_str(r#"<hr class="rule">"#),
            Block::Qr(qr, align) => write_qr(&mut out, qr, *align),
            Block::Cut(CutKind::Partial) => out.push_str(r#"<hr class="cut partial">"#),
            Block::Cut(CutKind::Full) => out.push_str(r#"<hr class="cut full">"#),
        }
        out.push('\n');
    }
    out.push_str("</div>\n");
    out
}

pub(crate) fn document(layout: &Layout) -> String {
    document_of(std::slice::from_ref(layout))
}

/// One document showing every label in order, as a print job's preview.
pub(crate) fn document_of(layouts: &[Layout]) -> String {
    let title = if layouts.len() == 1 {
        "Label"
    } else {
        "Labels"
    };
    let body: String = layouts.iter().map(fragment).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>\n{STYLESHEET}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

fn align_class(align: Alignment) -> &'static str {
    match align {
        Alignment::Left => "",
        Alignment::Center => " center",
        Alignment::Right => " right",
    }
}

fn write_line(out: &mut String, line: &Line) {
    write!(out, r#"<p class="line{}">"#, align_class(line.align)).expect("writing to a String");
    for run in &line.runs {
        write_run(out, run);
    }
    out.push_str("</p>");
}

fn write_run(out: &mut String, run: &Run) {
    let style = run.style;
    let sized = (style.width, style.height) != (1, 1);
    let classes: Vec<&str> = [
        (style.underline, "underline"),
        (style.overline, "overline"),
        (style.inverse, "inverse"),
    ]
    .into_iter()
    .filter_map(|(on, class)| on.then_some(class))
    .collect();
    if sized {
        // The wrapper holds the run's columns on the grid; the text inside is scaled.
        write!(
            out,
            r#"<span class="size" style="--w:{};--h:{};--cols:{}">"#,
            style.width, style.height, run.columns
        )
        .expect("writing to a String");
    }
    let tag = match (style.bold, sized || !classes.is_empty()) {
        (true, _) => Some("strong"),
        (false, true) => Some("span"),
        (false, false) => None,
    };
    if let Some(tag) = tag {
        out.push('<');
        out.push_str(tag);
        if !classes.is_empty() {
            write!(out, r#" class="{}""#, classes.join(" ")).expect("writing to a String");
        }
        out.push('>');
    }
    escape_into(out, &run.text);
    if let Some(tag) = tag {
        write!(out, "</{tag}>").expect("writing to a String");
    }
    if sized {
        out.push_str("</span>");
    }
}

fn write_qr(out: &mut String, qr: &Qr, align: Alignment) {
    let side_mm = (qr.width * usize::from(qr.module_size)) as f32 / DOTS_PER_MM;
    write!(
        out,
        r#"<figure class="qr{}"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {w}" style="width:{side_mm}mm;height:{side_mm}mm" shape-rendering="crispEdges" role="img" aria-label="QR: "#,
        align_class(align),
        w = qr.width,
    )
    .expect("writing to a String");
    escape_into(out, &qr.payload);
    out.push_str(r#""><title>"#);
    escape_into(out, &qr.payload);
    out.push_str(r#"</title><path d=""#);
    for y in 0..qr.width {
        for (x, len) in qr.dark_runs(y) {
            write!(out, "M{x} {y}h{len}v1h-{len}z").expect("writing to a String");
        }
    }
    out.push_str(r#""/></svg></figure>"#);
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::builder::{LabelBuilder, Paper};
    use crate::labels::element::ErrorLevel;
    use crate::labels::layout::layout;

    fn html(build: impl FnOnce(&mut LabelBuilder)) -> String {
        fragment(&layout(&LabelBuilder::sheet(Paper::MM58, build).unwrap()))
    }

    fn body(html: &str) -> &str {
        let start = html.find('\n').expect("opening tag on its own line") + 1;
        &html[start..html.len() - "</div>\n".len()]
    }

    #[test]
    fn the_label_is_as_wide_as_the_paper() {
        let got = html(|_| {});
        assert_eq!(
            got,
            "<div class=\"sous-label\" style=\"--columns:32;--width:48mm\" data-width-dots=\"384\">\n</div>\n"
        );
    }

    #[test]
    fn text_is_escaped() {
        let got = html(|l| l.text(r#"<script>"&'</script>"#));
        assert_eq!(
            body(&got),
            "<p class=\"line\">&lt;script&gt;&quot;&amp;&#39;&lt;/script&gt;</p>\n"
        );
    }

    #[test]
    fn qr_payload_is_escaped_in_attributes() {
        let got = html(|l| l.qr(r#"https://x.jp/?a=1&b="2"<"#, 2, ErrorLevel::L));
        assert!(
            got.contains(r#"aria-label="QR: https://x.jp/?a=1&amp;b=&quot;2&quot;&lt;""#),
            "{got}"
        );
        assert!(
            got.contains("<title>https://x.jp/?a=1&amp;b=&quot;2&quot;&lt;</title>"),
            "{got}"
        );
    }

    #[test]
    fn styles_use_semantic_elements_and_classes() {
        let got = html(|l| {
            l.bold(|l| l.text_line("b"));
            l.underline(|l| l.overline(|l| l.text_line("uo")));
            l.inverse(|l| l.bold(|l| l.text_line("i")));
            l.right(|l| l.text("r"));
        });
        let expected = "<p class=\"line\"><strong>b</strong></p>\n\
             <p class=\"line\"><span class=\"underline overline\">uo</span></p>\n\
             <p class=\"line\"><strong class=\"inverse\">i</strong></p>\n\
             <p class=\"line right\">r</p>\n";
        assert_eq!(body(&got), expected);
    }

    #[test]
    fn sized_runs_keep_their_columns_on_the_grid() {
        let got = html(|l| l.center(|l| l.size(2, 3, |l| l.text("トマト"))));
        let expected = "<p class=\"line center\"><span class=\"size\" style=\"--w:2;--h:3;--cols:12\">\
             <span>トマト</span></span></p>\n";
        assert_eq!(body(&got), expected);
    }

    #[test]
    fn blocks_are_rules_figures_and_cuts() {
        let got = html(|l| {
            l.new_line();
            l.rule();
            l.partial_cut();
            l.full_cut();
        });
        assert_eq!(
            body(&got),
            "<p class=\"line\"></p>\n<hr class=\"rule\">\n<hr class=\"cut partial\">\n<hr class=\"cut full\">\n"
        );
    }

    #[test]
    fn qr_is_an_svg_of_the_symbol_at_its_printed_size() {
        let tree = LabelBuilder::sheet(Paper::MM58, |l| {
            l.qr("https://example.com", 4, ErrorLevel::M)
        })
        .unwrap();
        let layout = layout(&tree);
        let got = fragment(&layout);
        let Block::Qr(qr, _) = &layout.blocks[0] else {
            panic!("expected a QR block")
        };
        let side = qr.width as f32 * 4.0 / 8.0;
        assert!(
            got.contains(&format!(r#"viewBox="0 0 {w} {w}""#, w = qr.width)),
            "{got}"
        );
        assert!(
            got.contains(&format!("width:{side}mm;height:{side}mm")),
            "{got}"
        );
        // Every dark module is painted exactly once by the path.
        let path = &got[got.find(" d=\"").unwrap() + 4..got.find("\"/></svg>").unwrap()];
        let painted: usize = path
            .split('z')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                segment
                    .split('h')
                    .nth(1)
                    .unwrap()
                    .split('v')
                    .next()
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum();
        assert_eq!(painted, qr.modules.iter().filter(|&&dark| dark).count());
        assert!(path.starts_with("M0 0h7v1h-7z"), "{path}");
    }

    #[test]
    fn the_document_embeds_the_stylesheet() {
        let tree = LabelBuilder::sheet(Paper::MM58, |l| l.text("a")).unwrap();
        let got = document(&layout(&tree));
        assert!(got.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"));
        assert!(got.contains("<meta charset=\"utf-8\">"));
        assert!(got.contains(STYLESHEET));
        assert!(STYLESHEET.contains(".sous-label"));
        assert!(got.contains("<p class=\"line\">a</p>"));
    }
}
