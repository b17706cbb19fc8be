//! Encoding: JPEG with libjpeg-turbo (SIMD, 4:2:0, optimised Huffman tables up to a megapixel), lossy WebP with
//! libwebp (no pure-Rust encoder makes lossy WebP), AVIF with `ravif` (rav1e; seconds for a large
//! picture, so only the background job and small renditions use it), PNG with `image`.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageEncoder};

use super::strips::{Input, JpegOut};
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

/// Largest JPEG rendition (in pixels) encoded with optimised Huffman tables.
const OPTIMIZED_HUFFMAN_PIXELS: usize = 1 << 20;

fn jpeg(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>, CodecError> {
    let fail = failed("jpeg");
    let turbo = |e: turbojpeg::Error| fail(e.to_string());
    // JPEG has no transparency: what shows through becomes white, as on most pages.
    let rgb = bitmap.rgb_over_white();
    let (width, height) = (bitmap.width() as usize, bitmap.height() as usize);
    jpeg_compressor(quality, width * height)?
        .compress_to_vec(turbojpeg::Image {
            pixels: &*rgb,
            width,
            pitch: width * 3,
            height,
            format: turbojpeg::PixelFormat::RGB,
        })
        .map_err(turbo)
}

/// libjpeg-turbo set up for a rendition of `pixels` pixels: 4:2:0, as browsers and vips make
/// them.
fn jpeg_compressor(quality: u8, pixels: usize) -> Result<turbojpeg::Compressor, CodecError> {
    let turbo = |e: turbojpeg::Error| failed("jpeg")(e.to_string());
    let mut compressor = turbojpeg::Compressor::new().map_err(turbo)?;
    compressor.set_quality(i32::from(quality)).map_err(turbo)?;
    compressor
        .set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .map_err(turbo)?;
    compressor
        .set_optimize(optimize_huffman(pixels))
        .map_err(turbo)?;
    Ok(compressor)
}

/// Whether a JPEG of `pixels` pixels gets optimised Huffman tables: they cost a second pass
/// over the picture (a sixth of a 2560 px encode) and save most on small renditions, where the
/// pass is cheap.
pub(super) fn optimize_huffman(pixels: usize) -> bool {
    pixels <= OPTIMIZED_HUFFMAN_PIXELS
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
    let (width, height) = webp_sides(bitmap.width(), bitmap.height())?;
    let channels = if bitmap.has_alpha() { 4 } else { 3 };
    webp_encode(width, height, quality, |picture| {
        let pixels = bitmap.as_bytes().as_ptr();
        // SAFETY: the pixels are `height` rows of `width * channels` bytes in the layout the
        // import function reads; libwebp copies them into memory the picture owns.
        let imported = unsafe {
            if bitmap.has_alpha() {
                libwebp_sys::WebPPictureImportRGBA(picture, pixels, width * channels)
            } else {
                libwebp_sys::WebPPictureImportRGB(picture, pixels, width * channels)
            }
        };
        imported != 0
    })
}

/// A 4:2:0 JPEG straight from Y'CbCr planes (chroma at half width and height, rounded up).
pub(super) fn jpeg_from_planes(
    luma: GrayImage,
    blue: GrayImage,
    red: GrayImage,
    quality: u8,
) -> Result<Vec<u8>, CodecError> {
    let (width, height) = luma.dimensions();
    let pixels = width as usize * height as usize;
    let optimize = optimize_huffman(pixels);
    let mut out = JpegOut::open(width, height, quality, optimize, Input::Planes)?;
    let mut planes = [luma, blue, red].map(GrayImage::into_raw);
    out.write_from(&mut planes)?;
    out.finish()
}

/// JPEG's Y'CbCr samples in the video range libwebp reads (luma 16–235, chroma 16–240): the
/// same BT.601 matrix, only the ranges differ.
pub(super) struct VideoRange {
    luma: [u8; 256],
    chroma: [u8; 256],
}

impl VideoRange {
    pub fn new() -> Self {
        let table = |span: i32, offset: i32, centre: i32| {
            std::array::from_fn(|v| {
                let v = v as i32 - centre;
                (offset + centre + (v * span + v.signum() * 127) / 255) as u8
            })
        };
        VideoRange {
            luma: table(219, 16, 0),
            chroma: table(224, 0, 128),
        }
    }

    /// Maps `samples` of plane `plane` (0 luma, else chroma) in place.
    pub fn map(&self, plane: usize, samples: &mut [u8]) {
        let table = if plane == 0 { &self.luma } else { &self.chroma };
        for value in samples {
            *value = table[usize::from(*value)];
        }
    }
}

/// Lossy WebP straight from Y'CbCr planes in the video range (`VideoRange`; chroma at half
/// width and height), without going through RGB.
pub(super) fn webp_from_planes(
    mut luma: GrayImage,
    mut blue: GrayImage,
    mut red: GrayImage,
    quality: u8,
) -> Result<Vec<u8>, CodecError> {
    let (width, height) = webp_sides(luma.width(), luma.height())?;
    let chroma_stride = i32::try_from(blue.width()).expect("narrower than the luma");
    webp_encode(width, height, quality, |picture| {
        picture.colorspace = libwebp_sys::WebPEncCSP::WEBP_YUV420;
        // The picture only points at the planes: they outlive the encode, and freeing the
        // picture frees only what libwebp allocated itself.
        picture.y = luma.as_mut_ptr();
        picture.u = blue.as_mut_ptr();
        picture.v = red.as_mut_ptr();
        picture.y_stride = width;
        picture.uv_stride = chroma_stride;
        true
    })
}

fn webp_sides(width: u32, height: u32) -> Result<(i32, i32), CodecError> {
    let side =
        |n: u32| i32::try_from(n).map_err(|_| failed("webp")(format!("{n} px is too large")));
    Ok((side(width)?, side(height)?))
}

/// Encodes the picture `fill` puts into a `width`×`height` libwebp picture.
fn webp_encode(
    width: i32,
    height: i32,
    quality: u8,
    fill: impl FnOnce(&mut libwebp_sys::WebPPicture) -> bool,
) -> Result<Vec<u8>, CodecError> {
    use libwebp_sys as webp;
    use std::mem::MaybeUninit;
    let fail = failed("webp");
    let abi = webp::WEBP_ENCODER_ABI_VERSION as i32;
    // SAFETY: libwebp initialises the config; it is only used once that succeeded.
    let mut config = unsafe {
        let mut config = MaybeUninit::<webp::WebPConfig>::uninit();
        let preset = webp::WebPPreset::WEBP_PRESET_DEFAULT;
        if webp::WebPConfigInitInternal(config.as_mut_ptr(), preset, f32::from(quality), abi) == 0 {
            return Err(fail("libwebp's encoder ABI does not match".into()));
        }
        config.assume_init()
    };
    // Analysis and filtering on a second thread: a 2560 px photo encodes ~15 % sooner.
    config.thread_level = 1;
    let mut encoded = Encoding::new(width, height).ok_or_else(|| fail("no memory".into()))?;
    let filled = fill(&mut encoded.picture);
    // SAFETY: the picture is filled and writes into the writer beside it; both are freed by
    // `Encoding`'s drop on every path.
    let encoded_ok = filled
        && unsafe {
            let picture = &mut encoded.picture;
            picture.writer = Some(webp::WebPMemoryWrite);
            picture.custom_ptr = (&raw mut encoded.writer).cast();
            webp::WebPEncode(&config, picture) != 0
        };
    if !encoded_ok {
        return Err(fail(format!(
            "libwebp refused {width}×{height} (error {:?})",
            encoded.picture.error_code
        )));
    }
    // SAFETY: after a successful encode the writer holds `size` bytes at `mem`.
    Ok(unsafe { std::slice::from_raw_parts(encoded.writer.mem, encoded.writer.size) }.to_vec())
}

/// A picture and the memory it is encoded into, freed together.
struct Encoding {
    picture: libwebp_sys::WebPPicture,
    writer: libwebp_sys::WebPMemoryWriter,
}

impl Encoding {
    fn new(width: i32, height: i32) -> Option<Box<Encoding>> {
        use libwebp_sys as webp;
        use std::mem::MaybeUninit;
        let abi = webp::WEBP_ENCODER_ABI_VERSION as i32;
        // SAFETY: libwebp initialises both structs; they are used only once that succeeded.
        unsafe {
            let mut picture = MaybeUninit::<webp::WebPPicture>::uninit();
            if webp::WebPPictureInitInternal(picture.as_mut_ptr(), abi) == 0 {
                return None;
            }
            let mut picture = picture.assume_init();
            picture.width = width;
            picture.height = height;
            picture.use_argb = 0;
            let mut writer = MaybeUninit::<webp::WebPMemoryWriter>::uninit();
            webp::WebPMemoryWriterInit(writer.as_mut_ptr());
            // Boxed: the picture points at the writer, which must not move.
            Some(Box::new(Encoding {
                picture,
                writer: writer.assume_init(),
            }))
        }
    }
}

impl Drop for Encoding {
    fn drop(&mut self) {
        // SAFETY: both hold only what libwebp allocated for them, freed once, here.
        unsafe {
            libwebp_sys::WebPPictureFree(&mut self.picture);
            libwebp_sys::WebPMemoryWriterClear(&mut self.writer);
        }
    }
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
