//! Resizing with `fast_image_resize` (SIMD convolution, alpha premultiplied so transparent
//! pixels do not bleed their colour into the edges).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage, imageops};

use super::Bitmap;
use crate::images::transform::Region;

/// `region` of `source` at `width`×`height`.
pub fn resize(source: &Bitmap, region: Region, (width, height): (u32, u32)) -> Bitmap {
    let (sw, sh) = source.size();
    let pixel = if source.has_alpha() {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let from = ImageRef::new(sw, sh, source.as_bytes(), pixel).expect("a bitmap's own size");
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
    Resizer::new()
        .resize(&from, &mut to, &options)
        .expect("pixel types match");
    let pixels = to.into_vec();
    let image = if source.has_alpha() {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, pixels).expect("sized"))
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).expect("sized"))
    };
    Bitmap::new(image)
}

/// `picture` centred on a transparent `width`×`height` canvas (white where JPEG flattens it).
pub fn pad(picture: &Bitmap, (width, height): (u32, u32)) -> Bitmap {
    let mut canvas = RgbaImage::new(width, height);
    let left = (width.saturating_sub(picture.width()) / 2).into();
    let top = (height.saturating_sub(picture.height()) / 2).into();
    imageops::replace(&mut canvas, &picture.0.to_rgba8(), left, top);
    Bitmap::new(DynamicImage::ImageRgba8(canvas))
}
