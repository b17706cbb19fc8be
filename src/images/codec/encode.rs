//! Encoding: JPEG with libjpeg-turbo (SIMD, 4:2:0, optimised Huffman tables), lossy WebP with
//! libwebp (no pure-Rust encoder makes lossy WebP), AVIF with `ravif` (rav1e; seconds for a large
//! picture, so only the background job and small renditions use it), PNG with `image`.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use super::{Bitmap, CodecError};
use crate::images::transform::{OutputFormat, Quality};

pub fn encode(
    bitmap: &Bitmap,
    format: OutputFormat,
    quality: Option<Quality>,
) -> Result<Vec<u8>, CodecError> {
    let quality = quality.map_or(crate::images::transform::DEFAULT_QUALITY, Quality::get);
    match format {
        OutputFormat::Jpeg => jpeg(bitmap, quality),
        OutputFormat::Webp => webp(bitmap, quality),
        OutputFormat::Avif => avif(bitmap, quality),
        OutputFormat::Png => png(bitmap),
    }
}

fn failed(format: &'static str) -> impl Fn(String) -> CodecError {
    move |reason| CodecError::Encode { format, reason }
}

fn jpeg(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>, CodecError> {
    let fail = failed("jpeg");
    let turbo = |e: turbojpeg::Error| fail(e.to_string());
    // JPEG has no transparency: what shows through becomes white, as on most pages.
    let flattened;
    let rgb = if bitmap.has_alpha() {
        flattened = bitmap
            .as_bytes()
            .chunks_exact(4)
            .flat_map(|p| {
                let alpha = u16::from(p[3]);
                let over_white = |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
                [over_white(p[0]), over_white(p[1]), over_white(p[2])]
            })
            .collect::<Vec<u8>>();
        flattened.as_slice()
    } else {
        bitmap.as_bytes()
    };
    let (width, height) = (bitmap.width() as usize, bitmap.height() as usize);
    let mut compressor = turbojpeg::Compressor::new().map_err(turbo)?;
    compressor.set_quality(i32::from(quality)).map_err(turbo)?;
    compressor
        .set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .map_err(turbo)?;
    compressor.set_optimize(true).map_err(turbo)?;
    compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: rgb,
            width,
            pitch: width * 3,
            height,
            format: turbojpeg::PixelFormat::RGB,
        })
        .map_err(turbo)
}

/// rav1e's speed 1 (best) to 10 (fastest); 7 is what image CDNs use for on-line AVIF, within a
/// few percent of the size of the slow settings.
const AVIF_SPEED: u8 = 7;

fn avif(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>, CodecError> {
    use rgb::FromSlice;
    let (width, height) = (bitmap.width() as usize, bitmap.height() as usize);
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(quality))
        .with_speed(AVIF_SPEED)
        // One thread: renditions already run one per core.
        .with_num_threads(Some(1));
    let encoded = if bitmap.has_alpha() {
        encoder.encode_rgba(ravif::Img::new(bitmap.as_bytes().as_rgba(), width, height))
    } else {
        encoder.encode_rgb(ravif::Img::new(bitmap.as_bytes().as_rgb(), width, height))
    };
    encoded
        .map(|image| image.avif_file)
        .map_err(|e| failed("avif")(e.to_string()))
}

fn webp(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>, CodecError> {
    let fail = failed("webp");
    let side = |n: u32| i32::try_from(n).map_err(|_| fail(format!("{n} px is too large")));
    let (width, height) = (side(bitmap.width())?, side(bitmap.height())?);
    let channels = if bitmap.has_alpha() { 4 } else { 3 };
    let pixels = bitmap.as_bytes();
    let mut output: *mut u8 = std::ptr::null_mut();
    // SAFETY: `pixels` holds `height` rows of `width * channels` bytes in the layout named by
    // the function called; libwebp only reads it, and on success points `output` at `size`
    // bytes it allocated, which are copied and then freed with its own `WebPFree`.
    let size = unsafe {
        if bitmap.has_alpha() {
            libwebp_sys::WebPEncodeRGBA(
                pixels.as_ptr(),
                width,
                height,
                width * channels,
                f32::from(quality),
                &mut output,
            )
        } else {
            libwebp_sys::WebPEncodeRGB(
                pixels.as_ptr(),
                width,
                height,
                width * channels,
                f32::from(quality),
                &mut output,
            )
        }
    };
    if size == 0 || output.is_null() {
        return Err(fail(format!("libwebp refused {width}×{height}")));
    }
    // SAFETY: see above; `output` is valid for `size` bytes until freed, once, here.
    let bytes = unsafe {
        let bytes = std::slice::from_raw_parts(output, size).to_vec();
        libwebp_sys::WebPFree(output.cast());
        bytes
    };
    Ok(bytes)
}

fn png(bitmap: &Bitmap) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let color = if bitmap.has_alpha() {
        image::ExtendedColorType::Rgba8
    } else {
        image::ExtendedColorType::Rgb8
    };
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(bitmap.as_bytes(), bitmap.width(), bitmap.height(), color)
        .map_err(|e| failed("png")(e.to_string()))?;
    Ok(out)
}
