//! Resizing with `fast_image_resize` (SIMD convolution, alpha premultiplied so transparent
//! pixels do not bleed their colour into the edges).

use fast_image_resize::images::{Image, ImageRef};
use std::f64::consts::PI;
use std::sync::LazyLock;

use fast_image_resize::{Filter, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage, imageops};

use super::Bitmap;
use crate::images::transform::Region;

/// Output rows resized at a time: the convolution's intermediate image is the source's width
/// by this many rows, instead of by the whole output height (31 MB for a 2560 px portrait).
const STRIP_ROWS: u32 = 128;

/// Source rows a `RowResizer` strip covers at most (besides the kernel's reach): a chroma plane
/// shrunk 4× would otherwise hold 512 rows of the source's width at a time.
pub const STRIP_SOURCE_ROWS: u32 = 256;

/// Lanczos3 as `fast_image_resize` has it, from a table: the resizer weighs every output pixel
/// again for each strip it is called for, and two sines per tap were a few percent of a 2560 px
/// rendition. The table's error (under 1e-6) is far below the coefficients' 14-bit precision.
fn lanczos3() -> ResizeAlg {
    const SUPPORT: f64 = 3.0;
    const STEPS: f64 = 1024.0;
    static TABLE: LazyLock<Vec<f64>> = LazyLock::new(|| {
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                (x * PI).sin() / (x * PI)
            }
        };
        (0..=(SUPPORT * STEPS) as usize + 1)
            .map(|i| i as f64 / STEPS)
            .map(|x| {
                if x < SUPPORT {
                    sinc(x) * sinc(x / SUPPORT)
                } else {
                    0.0
                }
            })
            .collect()
    });
    fn tabled(x: f64) -> f64 {
        let at = x.abs() * STEPS;
        if at >= SUPPORT * STEPS {
            return 0.0;
        }
        let (i, t) = (at as usize, at.fract());
        TABLE[i] * (1.0 - t) + TABLE[i + 1] * t
    }
    static FILTER: LazyLock<Filter> = LazyLock::new(|| {
        Filter::new("lanczos3 (table)", tabled, SUPPORT).expect("a finite support")
    });
    ResizeAlg::Convolution(FilterType::Custom(*FILTER))
}

/// `region` of `source` at `width`×`height`, a strip of rows at a time (see `in_strips`).
pub fn resize(source: &Bitmap, region: Region, (width, height): (u32, u32)) -> Bitmap {
    let (sw, sh) = source.size();
    let pixel = if source.has_alpha() {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let from = ImageRef::new(sw, sh, source.as_bytes(), pixel).expect("a bitmap's own size");
    let (sw, sh) = (f64::from(sw), f64::from(sh));
    let crop = Crop {
        left: region.left * sw,
        top: region.top * sh,
        width: region.width * sw,
        height: region.height * sh,
    };
    let pixels = in_strips(&from, pixel, crop, (width, height));
    let image = if source.has_alpha() {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, pixels).expect("sized"))
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).expect("sized"))
    };
    Bitmap::new(image)
}

/// A rectangle of a source image in its pixels, fractions allowed.
#[derive(Debug, Clone, Copy)]
pub struct Crop {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// `crop` of `from` (of `pixel`s) at `width`×`height`, a strip of rows at a time. Each strip
/// crops the source to exactly its share of the rectangle, and the kernel still reads past the
/// crop within the source, so the result is the same as resizing in one go.
pub fn in_strips(
    from: &ImageRef,
    pixel: PixelType,
    crop: Crop,
    (width, height): (u32, u32),
) -> Vec<u8> {
    let mut pixels = vec![0u8; width as usize * height as usize * pixel.size()];
    let rows_per_output_row = crop.height / f64::from(height);
    let mut resizer = Resizer::new();
    let row_bytes = width as usize * pixel.size();
    for (strip, out) in pixels
        .chunks_mut(STRIP_ROWS as usize * row_bytes)
        .enumerate()
    {
        let first_row = strip as u32 * STRIP_ROWS;
        let rows = (out.len() / row_bytes) as u32;
        let mut to = Image::from_slice_u8(width, rows, out, pixel).expect("sized for the strip");
        // Within the rectangle despite rounding: the last strip ends where it does.
        let top = crop.top + f64::from(first_row) * rows_per_output_row;
        let bottom = (crop.top + f64::from(first_row + rows) * rows_per_output_row)
            .min(crop.top + crop.height);
        let options = ResizeOptions::new().resize_alg(lanczos3()).crop(
            crop.left,
            top,
            crop.width,
            bottom - top,
        );
        resizer
            .resize(from, &mut to, &options)
            .expect("pixel types match");
    }
    pixels
}

/// A picture whose rows arrive a few at a time, top to bottom, resized a strip of output rows
/// at a time. Each strip is resized from a window of the source rows it needs (its share, and
/// the kernel's reach on either side), so the source is never held whole; the result is
/// `in_strips`'s.
pub struct RowResizer {
    source: (u32, u32),
    pixel: PixelType,
    /// The top-left share of the source resized, in its pixels (fractions allowed).
    share: (f64, f64),
    out: (u32, u32),
    /// Output rows resized at a time.
    strip_rows: u32,
    /// Source rows a strip needs on either side of its share.
    reach: u32,
    /// Source rows `first..first + loaded`.
    window: Vec<u8>,
    first: u32,
    loaded: u32,
    /// Output rows made so far.
    made: u32,
    resizer: Resizer,
}

impl RowResizer {
    pub fn new(source: (u32, u32), pixel: PixelType, share: (f64, f64), out: (u32, u32)) -> Self {
        let rows_per_output_row = share.1 / f64::from(out.1);
        // Lanczos3 reaches 3 source rows each way, or 3 output rows' worth when shrinking.
        let reach = (3.0 * rows_per_output_row.max(1.0)).ceil() as u32 + 1;
        let strip_rows =
            ((f64::from(STRIP_SOURCE_ROWS) / rows_per_output_row) as u32).clamp(8, STRIP_ROWS);
        // Room for a strip's rows and a few more as they arrive, so the window never regrows.
        let window_rows =
            (f64::from(strip_rows) * rows_per_output_row).ceil() as usize + 2 * reach as usize + 32;
        RowResizer {
            source,
            pixel,
            share,
            out,
            strip_rows,
            reach,
            window: Vec::with_capacity(window_rows * source.0 as usize * pixel.size()),
            first: 0,
            loaded: 0,
            made: 0,
            resizer: Resizer::new(),
        }
    }

    /// The share is the output's size: its columns pass through as they are.
    fn copies(&self) -> bool {
        self.share == (f64::from(self.out.0), f64::from(self.out.1))
    }

    fn row_bytes(&self) -> usize {
        self.source.0 as usize * self.pixel.size()
    }

    /// Takes the next source rows (whole rows, packed), ignoring any past the source's height.
    pub fn push(&mut self, rows: &[u8]) {
        let room = (self.source.1 - self.first - self.loaded) as usize * self.row_bytes();
        let rows = &rows[..rows.len().min(room)];
        self.window.extend_from_slice(rows);
        self.loaded += (rows.len() / self.row_bytes()) as u32;
    }

    /// Whether every output row is made.
    pub fn is_done(&self) -> bool {
        self.made == self.out.1
    }

    /// Resizes every strip whose source rows have all arrived, adding its rows to `out`.
    pub fn resize_ready(&mut self, out: &mut Vec<u8>) {
        if self.copies() {
            let rows = self.loaded.min(self.out.1 - self.made);
            let out_row = self.out.0 as usize * self.pixel.size();
            for row in self
                .window
                .chunks_exact(self.row_bytes())
                .take(rows as usize)
            {
                out.extend_from_slice(&row[..out_row]);
            }
            self.window.clear();
            (self.first, self.loaded) = (self.first + self.loaded, 0);
            self.made += rows;
            return;
        }
        while !self.is_done() {
            let (top, bottom, needed_to) = self.next_strip();
            if self.first + self.loaded < needed_to {
                return;
            }
            let rows = self.strip_rows.min(self.out.1 - self.made);
            let from = ImageRef::new(self.source.0, self.loaded, &self.window, self.pixel)
                .expect("whole rows");
            let start = out.len();
            out.resize(
                start + rows as usize * self.out.0 as usize * self.pixel.size(),
                0,
            );
            let mut to = Image::from_slice_u8(self.out.0, rows, &mut out[start..], self.pixel)
                .expect("sized for the strip");
            let options = ResizeOptions::new().resize_alg(lanczos3()).crop(
                0.0,
                top - f64::from(self.first),
                self.share.0,
                bottom - top,
            );
            self.resizer
                .resize(&from, &mut to, &options)
                .expect("pixel types match");
            self.made += rows;
            self.drop_behind();
        }
    }

    /// The next strip's share of the source (top and bottom, fractions allowed), and the
    /// source rows it needs before it can be made (its bottom and the kernel's reach).
    fn next_strip(&self) -> (f64, f64, u32) {
        let rows_per_output_row = self.share.1 / f64::from(self.out.1);
        let rows = self.strip_rows.min(self.out.1 - self.made);
        let top = f64::from(self.made) * rows_per_output_row;
        let bottom = (f64::from(self.made + rows) * rows_per_output_row).min(self.share.1);
        let needed_to = (bottom.ceil() as u32 + self.reach).min(self.source.1);
        (top, bottom, needed_to)
    }

    /// Forgets the rows no strip still to come needs, so the window holds one strip's.
    fn drop_behind(&mut self) {
        if self.is_done() {
            self.window.clear();
            (self.first, self.loaded) = (self.first + self.loaded, 0);
            return;
        }
        let (top, _, _) = self.next_strip();
        let needed_from = (top.floor() as u32).saturating_sub(self.reach);
        let behind = needed_from.saturating_sub(self.first).min(self.loaded);
        self.window.drain(..behind as usize * self.row_bytes());
        (self.first, self.loaded) = (self.first + behind, self.loaded - behind);
    }
}

/// `picture` centred on a transparent `width`×`height` canvas (white where JPEG flattens it).
pub fn pad(picture: &Bitmap, (width, height): (u32, u32)) -> Bitmap {
    let mut canvas = RgbaImage::new(width, height);
    let left = (width.saturating_sub(picture.width()) / 2).into();
    let top = (height.saturating_sub(picture.height()) / 2).into();
    imageops::replace(&mut canvas, &picture.0.to_rgba8(), left, top);
    Bitmap::new(DynamicImage::ImageRgba8(canvas))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same resize in one go, as `fast_image_resize` does it, with `filter`.
    fn whole_with(
        filter: ResizeAlg,
        source: &Bitmap,
        region: Region,
        (width, height): (u32, u32),
    ) -> Vec<u8> {
        let (sw, sh) = source.size();
        let pixel = if source.has_alpha() {
            PixelType::U8x4
        } else {
            PixelType::U8x3
        };
        let from = ImageRef::new(sw, sh, source.as_bytes(), pixel).unwrap();
        let mut to = Image::new(width, height, pixel);
        let (sw, sh) = (f64::from(sw), f64::from(sh));
        let options = ResizeOptions::new().resize_alg(filter).crop(
            region.left * sw,
            region.top * sh,
            region.width * sw,
            region.height * sh,
        );
        Resizer::new().resize(&from, &mut to, &options).unwrap();
        to.into_vec()
    }

    /// A picture with something different in every channel along both axes.
    fn pattern(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x ^ y) % 256) as u8,
                (x % 200 + 55) as u8,
            ])
        })
    }

    /// The largest difference between two resizes of the same size.
    fn worst(made: &[u8], expected: &[u8]) -> u8 {
        assert_eq!(made.len(), expected.len());
        made.iter()
            .zip(expected)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn rows_in_a_window_resize_as_the_whole_source_does() {
        let (sw, sh) = (301, 997);
        let source: Vec<u8> = (0..sw * sh * 3)
            .map(|i| (u64::from(i) * 7919 % 251) as u8)
            .collect();
        let from = ImageRef::new(sw, sh, &source, PixelType::U8x3).unwrap();
        let row = sw as usize * 3;
        // The whole source, and the top-left part of it a plane's picture may be.
        for (share, size) in [
            ((301.0, 997.0), (120, 400)),
            ((301.0, 997.0), (301, 997)),
            ((301.0, 997.0), (37, 123)),
            ((301.0, 997.0), (300, 1)),
            ((300.5, 990.25), (150, 495)),
        ] {
            let crop = Crop {
                left: 0.0,
                top: 0.0,
                width: share.0,
                height: share.1,
            };
            let expected = in_strips(&from, PixelType::U8x3, crop, size);
            // Rows arrive a few at a time, as a decoder gives them, with some past the end.
            let mut resizer = RowResizer::new((sw, sh), PixelType::U8x3, share, size);
            let mut windowed = Vec::new();
            for rows in source.chunks(7 * row).chain([&source[..2 * row]]) {
                resizer.push(rows);
                resizer.resize_ready(&mut windowed);
                // Never more than a strip's share and the kernel's reach, and the rows pushed.
                let strip_share =
                    (f64::from(resizer.strip_rows) * share.1 / f64::from(size.1)).ceil();
                assert!(
                    f64::from(resizer.loaded) <= strip_share + f64::from(2 * resizer.reach + 9)
                );
            }
            assert!(resizer.is_done(), "{size:?}");
            let off = worst(&windowed, &expected);
            assert!(off <= 1, "{size:?}: off by {off}");
        }
    }

    #[test]
    fn strips_resize_as_one_go_does() {
        let picture = pattern(301, 997);
        for bitmap in [
            Bitmap::new(DynamicImage::ImageRgba8(picture.clone())),
            Bitmap::new(DynamicImage::ImageRgb8(
                DynamicImage::ImageRgba8(picture).into_rgb8(),
            )),
        ] {
            let full = Region::WHOLE;
            let cropped = Region {
                left: 0.1,
                top: 0.2,
                width: 0.5,
                height: 0.6,
            };
            for (region, size) in [(full, (120, 400)), (cropped, (90, 300)), (full, (301, 997))] {
                let strips = resize(&bitmap, region, size);
                let expected = whole_with(lanczos3(), &bitmap, region, size);
                let off = worst(strips.as_bytes(), &expected);
                assert!(off <= 1, "{size:?}: off by {off}");
            }
        }
    }

    #[test]
    fn the_table_is_lanczos3() {
        let picture = DynamicImage::ImageRgba8(pattern(401, 301)).into_rgb8();
        let bitmap = Bitmap::new(DynamicImage::ImageRgb8(picture));
        let full = Region::WHOLE;
        for size in [(120, 90), (400, 300), (801, 601)] {
            let table = whole_with(lanczos3(), &bitmap, full, size);
            let exact = whole_with(
                ResizeAlg::Convolution(FilterType::Lanczos3),
                &bitmap,
                full,
                size,
            );
            let off = worst(&table, &exact);
            assert!(off <= 1, "{size:?}: off by {off}");
        }
    }
}
