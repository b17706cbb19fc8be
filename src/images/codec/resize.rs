//! Resizing with `fast_image_resize` (SIMD convolution, alpha premultiplied so transparent
//! pixels do not bleed their colour into the edges).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage, imageops};

use super::{Bitmap, CodecError};
use crate::images::transform::Region;

/// Output rows resized at a time: the convolution's intermediate image is the source's width
/// by this many rows, instead of by the whole output height (31 MB for a 2560 px portrait).
const STRIP_ROWS: u32 = 128;

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
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(crop.left, top, crop.width, bottom - top);
        resizer
            .resize(from, &mut to, &options)
            .expect("pixel types match");
    }
    pixels
}

/// The whole of a `size` picture whose rows `fill` decodes, top to bottom, at `width`×`height`.
/// `fill` is given room for some rows and returns how many it wrote. Each strip of output rows
/// is resized from a window of the source rows it needs (its share, and the kernel's reach on
/// either side), so the source is never held whole; the result is `in_strips`'s.
pub fn from_rows(
    (source_width, source_height): (u32, u32),
    pixel: PixelType,
    (width, height): (u32, u32),
    mut fill: impl FnMut(&mut [u8]) -> Result<usize, CodecError>,
) -> Result<Vec<u8>, CodecError> {
    let source_row = source_width as usize * pixel.size();
    let row_bytes = width as usize * pixel.size();
    let rows_per_output_row = f64::from(source_height) / f64::from(height);
    // Lanczos3 reaches 3 source rows each way, or 3 output rows' worth when shrinking.
    let reach = (3.0 * rows_per_output_row.max(1.0)).ceil() as u32 + 1;
    let mut pixels = vec![0u8; row_bytes * height as usize];
    let mut window: Vec<u8> = Vec::new();
    let (mut first, mut loaded) = (0u32, 0u32);
    let mut resizer = Resizer::new();
    for (strip, out) in pixels
        .chunks_mut(STRIP_ROWS as usize * row_bytes)
        .enumerate()
    {
        let first_row = strip as u32 * STRIP_ROWS;
        let rows = (out.len() / row_bytes) as u32;
        let top = f64::from(first_row) * rows_per_output_row;
        let bottom =
            (f64::from(first_row + rows) * rows_per_output_row).min(f64::from(source_height));
        let needed_from = (top.floor() as u32).saturating_sub(reach);
        let needed_to = (bottom.ceil() as u32 + reach).min(source_height);
        let behind = needed_from.saturating_sub(first).min(loaded);
        window.drain(..behind as usize * source_row);
        (first, loaded) = (first + behind, loaded - behind);
        while first + loaded < needed_to {
            let start = window.len();
            window.resize(
                start + (needed_to - first - loaded) as usize * source_row,
                0,
            );
            let decoded = fill(&mut window[start..])?;
            window.truncate(start + decoded * source_row);
            if decoded == 0 {
                return Err(CodecError::corrupt(
                    "the picture has fewer rows than it says",
                ));
            }
            loaded += decoded as u32;
        }
        let from = ImageRef::new(source_width, loaded, &window, pixel).expect("whole rows");
        let mut to = Image::from_slice_u8(width, rows, out, pixel).expect("sized for the strip");
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(
                0.0,
                top - f64::from(first),
                f64::from(source_width),
                bottom - top,
            );
        resizer
            .resize(&from, &mut to, &options)
            .expect("pixel types match");
    }
    Ok(pixels)
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

    /// The same resize in one go, as `fast_image_resize` does it.
    fn whole(source: &Bitmap, region: Region, (width, height): (u32, u32)) -> Vec<u8> {
        let (sw, sh) = source.size();
        let pixel = if source.has_alpha() {
            PixelType::U8x4
        } else {
            PixelType::U8x3
        };
        let from = ImageRef::new(sw, sh, source.as_bytes(), pixel).unwrap();
        let mut to = Image::new(width, height, pixel);
        let (sw, sh) = (f64::from(sw), f64::from(sh));
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(
                region.left * sw,
                region.top * sh,
                region.width * sw,
                region.height * sh,
            );
        Resizer::new().resize(&from, &mut to, &options).unwrap();
        to.into_vec()
    }

    #[test]
    fn rows_in_a_window_resize_as_the_whole_source_does() {
        let (sw, sh) = (301, 997);
        let source: Vec<u8> = (0..sw * sh * 3)
            .map(|i| (u64::from(i) * 7919 % 251) as u8)
            .collect();
        let from = ImageRef::new(sw, sh, &source, PixelType::U8x3).unwrap();
        let full = Crop {
            left: 0.0,
            top: 0.0,
            width: f64::from(sw),
            height: f64::from(sh),
        };
        for size in [(120, 400), (301, 997), (37, 123), (300, 1)] {
            let expected = in_strips(&from, PixelType::U8x3, full, size);
            // Rows arrive a few at a time, as a decoder gives them.
            let mut next = 0usize;
            let row = sw as usize * 3;
            let windowed = from_rows((sw, sh), PixelType::U8x3, size, |buffer| {
                let rows = (buffer.len() / row).min(7).min(sh as usize - next);
                buffer[..rows * row].copy_from_slice(&source[next * row..(next + rows) * row]);
                next += rows;
                Ok(rows)
            })
            .unwrap();
            let off = windowed
                .iter()
                .zip(&expected)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(off <= 1, "{size:?}: off by {off}");
        }
    }

    #[test]
    fn strips_resize_as_one_go_does() {
        let picture = RgbaImage::from_fn(301, 997, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x ^ y) % 256) as u8,
                (x % 200 + 55) as u8,
            ])
        });
        for bitmap in [
            Bitmap::new(DynamicImage::ImageRgba8(picture.clone())),
            Bitmap::new(DynamicImage::ImageRgb8(
                DynamicImage::ImageRgba8(picture).into_rgb8(),
            )),
        ] {
            let full = Region {
                left: 0.0,
                top: 0.0,
                width: 1.0,
                height: 1.0,
            };
            let cropped = Region {
                left: 0.1,
                top: 0.2,
                width: 0.5,
                height: 0.6,
            };
            for (region, size) in [(full, (120, 400)), (cropped, (90, 300)), (full, (301, 997))] {
                let strips = resize(&bitmap, region, size);
                let expected = whole(&bitmap, region, size);
                let worst = strips
                    .as_bytes()
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap();
                assert!(worst <= 1, "{size:?}: off by {worst}");
            }
        }
    }
}
