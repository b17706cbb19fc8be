//! Where a picture's subject is, found once at registration, so that `fit=cover` crops around
//! it instead of around the centre: heads, labels and plates stay in the crop.
//!
//! The heuristic of libvips's `attention` crop, on a small thumbnail: detail (the luminance
//! Laplacian), skin tones and strong colour each mark a pixel as interesting; the marks are
//! blurred into regions and the most interesting region's centre is the focus. A flat
//! background scores nothing, so the subject wins even when it is small and far from the
//! centre.

use super::codec::Bitmap;
use super::transform::Focus;

/// Side of the thumbnail scored: enough to find a subject, cheap to score.
const THUMBNAIL: u32 = 96;
/// Weights of the three marks; detail is in units of luminance (0 to 1) per pixel.
const SKIN: f32 = 0.3;
const SATURATION: f32 = 0.2;
/// The least blurred score that counts as a subject: below it, the picture is flat (a rounding
/// step of the thumbnail here and there is not a subject).
const LEAST: f32 = 0.01;
/// How much less a corner counts than the centre, everything else equal.
const CENTRE_BIAS: f32 = 0.2;

/// The point of `bitmap` a crop should keep in view; the centre when nothing stands out.
pub fn focus(bitmap: &Bitmap) -> Focus {
    if bitmap.width() < 3 || bitmap.height() < 3 {
        return Focus::CENTRE;
    }
    let thumbnail = bitmap.thumbnail_rgba(THUMBNAIL);
    let (width, height) = (thumbnail.width() as usize, thumbnail.height() as usize);
    let pixels: Vec<[f32; 3]> = thumbnail
        .pixels()
        .map(|p| {
            let [r, g, b, a] = p.0;
            // Transparency counts as white, as in JPEG renditions.
            let over_white = |c: u8| {
                (f32::from(c) * f32::from(a) + 255.0 * (255.0 - f32::from(a))) / (255.0 * 255.0)
            };
            [over_white(r), over_white(g), over_white(b)]
        })
        .collect();
    let luma: Vec<f32> = pixels
        .iter()
        .map(|[r, g, b]| 0.299 * r + 0.587 * g + 0.114 * b)
        .collect();
    let mut score = vec![0.0f32; width * height];
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            let i = y * width + x;
            let detail =
                (4.0 * luma[i] - luma[i - 1] - luma[i + 1] - luma[i - width] - luma[i + width])
                    .abs();
            score[i] = detail
                + SKIN * f32::from(u8::from(is_skin(pixels[i])))
                + SATURATION * f32::from(u8::from(is_vivid(pixels[i], luma[i])));
        }
    }
    let radius = (width.max(height) / 10).max(1);
    blur(&mut score, width, height, radius);
    blur(&mut score, width, height, radius);
    // Of regions about as interesting, the one nearer the centre: a picture interesting all
    // over (a field of flowers) keeps its middle.
    for (i, value) in score.iter_mut().enumerate() {
        let off = |at: usize, len: usize| (2.0 * at as f32 + 1.0) / len as f32 - 1.0;
        let (dx, dy) = (off(i % width, width), off(i / width, height));
        *value *= 1.0 - CENTRE_BIAS * (dx * dx + dy * dy) / 2.0;
    }
    let (best, &top) = score
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("the thumbnail has pixels");
    if top < LEAST {
        return Focus::CENTRE;
    }
    let (x, y) = (best % width, best / width);
    Focus::at(
        (x as f64 + 0.5) / width as f64,
        (y as f64 + 0.5) / height as f64,
    )
}

/// Kovač's rule for skin in daylight, on 0..1 RGB.
fn is_skin([r, g, b]: [f32; 3]) -> bool {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    r > 0.37 && g > 0.16 && b > 0.08 && max - min > 0.06 && (r - g).abs() > 0.06 && r > g && r > b
}

/// Strong colour that is neither near black nor near white.
fn is_vivid([r, g, b]: [f32; 3], luma: f32) -> bool {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    max > 0.0 && (max - min) / max > 0.4 && (0.1..0.9).contains(&luma)
}

/// A box blur of `radius` in place, rows then columns, with nothing beyond the edges (so a
/// region cut by an edge weighs less than a whole one); twice is close to a Gaussian.
fn blur(values: &mut [f32], width: usize, height: usize, radius: usize) {
    let window = (2 * radius + 1) as f32;
    let mut line = Vec::new();
    let mut pass =
        |values: &mut [f32], len: usize, count: usize, index: &dyn Fn(usize, usize) -> usize| {
            for n in 0..count {
                line.clear();
                line.extend((0..len).map(|k| values[index(n, k)]));
                let mut sum: f32 = line[..radius.min(len - 1) + 1].iter().sum();
                for k in 0..len {
                    values[index(n, k)] = sum / window;
                    if k + radius + 1 < len {
                        sum += line[k + radius + 1];
                    }
                    if k >= radius {
                        sum -= line[k - radius];
                    }
                }
            }
        };
    pass(values, width, height, &|row, k| row * width + k);
    pass(values, height, width, &|column, k| k * width + column);
}

#[cfg(test)]
mod tests {
    use image::{DynamicImage, Rgb, RgbImage};

    use super::*;

    /// A `width`×`height` beige table, lit unevenly, with a red-and-white checked cloth of
    /// `side` pixels centred at (`cx`, `cy`).
    fn table_with_subject(width: u32, height: u32, (cx, cy): (u32, u32), side: u32) -> Bitmap {
        let picture = RgbImage::from_fn(width, height, |x, y| {
            let inside = x.abs_diff(cx) < side / 2 && y.abs_diff(cy) < side / 2;
            if inside {
                if (x / 6 + y / 6) % 2 == 0 {
                    Rgb([200, 30, 40])
                } else {
                    Rgb([245, 245, 240])
                }
            } else {
                let shade = (x * 40 / width) as u8;
                Rgb([200 - shade, 190 - shade, 170 - shade])
            }
        });
        Bitmap::new(DynamicImage::ImageRgb8(picture))
    }

    fn near(focus: Focus, (x, y): (f64, f64)) -> bool {
        (focus.x() - x).abs() <= 0.08 && (focus.y() - y).abs() <= 0.08
    }

    #[test]
    fn the_focus_finds_a_subject_far_from_the_centre() {
        for (size, centre) in [
            ((900, 300), (780, 150)),
            ((900, 300), (90, 220)),
            ((300, 900), (150, 120)),
            ((640, 480), (500, 380)),
        ] {
            let focus = focus(&table_with_subject(size.0, size.1, centre, 80));
            let expected = (
                f64::from(centre.0) / f64::from(size.0),
                f64::from(centre.1) / f64::from(size.1),
            );
            assert!(near(focus, expected), "{size:?} {centre:?}: {focus}");
        }
    }

    #[test]
    fn a_face_toned_patch_outweighs_a_plain_wall() {
        let picture = RgbImage::from_fn(600, 400, |x, y| {
            if x.abs_diff(120) < 40 && y.abs_diff(100) < 50 {
                Rgb([224, 172, 140])
            } else {
                Rgb([90, 110, 130])
            }
        });
        let focus = focus(&Bitmap::new(DynamicImage::ImageRgb8(picture)));
        assert!(near(focus, (0.2, 0.25)), "{focus}");
    }

    #[test]
    fn nothing_standing_out_keeps_the_centre() {
        let flat = RgbImage::from_pixel(500, 200, Rgb([128, 128, 128]));
        assert_eq!(
            focus(&Bitmap::new(DynamicImage::ImageRgb8(flat))),
            Focus::CENTRE
        );
        let tiny = RgbImage::from_pixel(2, 2, Rgb([255, 0, 0]));
        assert_eq!(
            focus(&Bitmap::new(DynamicImage::ImageRgb8(tiny))),
            Focus::CENTRE
        );
        // Colour all over is no subject either: the middle stays.
        let red = RgbImage::from_pixel(600, 200, Rgb([220, 30, 30]));
        let focus = focus(&Bitmap::new(DynamicImage::ImageRgb8(red)));
        assert!(near(focus, (0.5, 0.5)), "{focus}");
    }
}
