//! Animations out as animated WebP. Frames come from `image` composed on the full canvas, and
//! each one is decoded, resized and handed to libwebp's `WebPAnimEncoder` before the next is
//! decoded: a 500-frame GIF never lies in memory as 500 decoded canvases.

use std::ffi::{CStr, c_int};
use std::io::Cursor;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{AnimationDecoder, DynamicImage, Frame, Frames, ImageDecoder, Limits, RgbaImage};
use libwebp_sys as webp;

use super::decode::turned;
use super::{CodecError, SourceFormat};

/// What the frames of one animation may add up to at the output size, as RGBA bytes: 256 MiB,
/// 64 frames at 1024×1024 or about 500 at 480×270. The encoder keeps every encoded frame until
/// it assembles the file, and the work grows with each frame, so this bounds both.
const OUTPUT_BUDGET: u64 = 256 << 20;

/// The longest a WebP frame shows (24 bits of milliseconds), and the most libwebp takes.
const MAX_DURATION_MS: u64 = (1 << 24) - 1;

/// An animation resized to `size` (upright, like the still path's sizes) and encoded as an
/// animated WebP at `quality`; `None` when `bytes` hold a single frame, which the still path
/// handles. Only GIF and WebP animate here: a JPEG or PNG (APNG included) is a still.
pub fn animated_webp(
    bytes: &[u8],
    format: SourceFormat,
    size: (u32, u32),
    quality: u8,
    max_frames: u32,
) -> Result<Option<Vec<u8>>, CodecError> {
    let Some((frames, orientation)) = frames(bytes, format)? else {
        return Ok(None);
    };
    let mut frames = frames.map(|frame| frame.map_err(image_error));
    let first = frames
        .next()
        .ok_or_else(|| CodecError::corrupt("the animation has no frame"))??;
    let Some(second) = frames.next() else {
        return Ok(None);
    };
    // Before the encoder allocates its own canvases, three frames' worth at the output size.
    check(2, size, max_frames)?;
    let mut encoder = AnimEncoder::new(size, quality)?;
    // Frames are resized as stored and turned afterwards, when they have fewer pixels to move.
    let stored_size = turned(orientation, size);
    let mut resizer = Resizer::new();
    let mut timestamp: c_int = 0;
    for (count, frame) in (1..).zip([Ok(first), second].into_iter().chain(frames)) {
        check(count, size, max_frames)?;
        let frame = frame?;
        let delay = delay_ms(&frame, format);
        let pixels = resize(&mut resizer, &frame.into_buffer(), stored_size, orientation)?;
        encoder.add(&pixels, timestamp)?;
        // libwebp reads timestamps modulo 2^32, so only each delay has to fit, not their sum.
        timestamp = timestamp.wrapping_add(delay);
    }
    encoder.assemble(timestamp).map(Some)
}

/// The frames of an animation and how to turn them upright; `None` for a still.
fn frames(
    bytes: &[u8],
    format: SourceFormat,
) -> Result<Option<(Frames<'_>, Orientation)>, CodecError> {
    let source = Cursor::new(bytes);
    let (frames, orientation) = match format {
        SourceFormat::Gif => {
            let mut decoder = GifDecoder::new(source).map_err(image_error)?;
            // `GifDecoder` starts without limits; `image`'s default (512 MiB) is what the still
            // path decodes with.
            decoder.set_limits(Limits::default()).map_err(image_error)?;
            let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
            (decoder.into_frames(), orientation)
        }
        SourceFormat::Webp => {
            let mut decoder = WebPDecoder::new(source).map_err(image_error)?;
            // A still WebP has no frames to iterate at all.
            if !decoder.has_animation() {
                return Ok(None);
            }
            let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
            (decoder.into_frames(), orientation)
        }
        SourceFormat::Jpeg | SourceFormat::Png | SourceFormat::Avif | SourceFormat::Heic => {
            return Ok(None);
        }
    };
    Ok(Some((frames, orientation)))
}

/// Refuses the `count`th frame when it is past `max_frames` or past the output budget.
fn check(count: u32, (width, height): (u32, u32), max_frames: u32) -> Result<(), CodecError> {
    if count > max_frames {
        return Err(CodecError::TooManyFrames { limit: max_frames });
    }
    if u64::from(count) * u64::from(width) * u64::from(height) * 4 > OUTPUT_BUDGET {
        return Err(CodecError::TooMuchMemory(format!(
            "{count} frames of {width}×{height} are more than {} MiB of pixels",
            OUTPUT_BUDGET >> 20
        )));
    }
    Ok(())
}

/// How long `frame` shows, in milliseconds.
fn delay_ms(frame: &Frame, format: SourceFormat) -> c_int {
    let (numer, denom) = frame.delay().numer_denom_ms();
    let ms = (u64::from(numer) + u64::from(denom) / 2) / u64::from(denom.max(1));
    // Browsers show a GIF frame of 0 or 10 ms for 100 ms (ads once flashed as fast as they
    // could), so that is how fast the GIF was seen to play; the WebP plays the same. A WebP
    // source keeps its delays, which the same browsers treat as they treated the source.
    let ms = if format == SourceFormat::Gif && ms <= 10 {
        100
    } else {
        ms
    };
    // Neither decoder gives more (a GIF stores 16 bits of 10 ms); the clamp keeps the cast exact.
    c_int::try_from(ms.min(MAX_DURATION_MS)).expect("under 2^24")
}

/// One canvas at `width`×`height` (Lanczos3, alpha premultiplied while it filters), then upright.
fn resize(
    resizer: &mut Resizer,
    canvas: &RgbaImage,
    (width, height): (u32, u32),
    orientation: Orientation,
) -> Result<RgbaImage, CodecError> {
    let fail = |e: &dyn std::fmt::Display| failed(format!("cannot resize a frame: {e}"));
    let from = ImageRef::new(
        canvas.width(),
        canvas.height(),
        canvas.as_raw(),
        PixelType::U8x4,
    )
    .map_err(|e| fail(&e))?;
    let mut to = Image::new(width, height, PixelType::U8x4);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer
        .resize(&from, &mut to, &options)
        .map_err(|e| fail(&e))?;
    let resized = RgbaImage::from_raw(width, height, to.into_vec()).expect("sized");
    if orientation == Orientation::NoTransforms {
        return Ok(resized);
    }
    let mut upright = DynamicImage::ImageRgba8(resized);
    upright.apply_orientation(orientation);
    Ok(upright.into_rgba8())
}

fn image_error(error: image::ImageError) -> CodecError {
    match error {
        image::ImageError::Unsupported(e) => CodecError::Unsupported(e.to_string()),
        image::ImageError::Limits(e) => CodecError::TooMuchMemory(e.to_string()),
        other => CodecError::corrupt(other),
    }
}

fn failed(reason: String) -> CodecError {
    CodecError::Encode {
        format: "webp",
        reason,
    }
}

/// libwebp's animation encoder, with the picture every frame is copied into and the settings
/// each is encoded with. Dropping it frees what libwebp allocated for both.
struct AnimEncoder {
    encoder: NonNull<webp::WebPAnimEncoder>,
    picture: webp::WebPPicture,
    config: webp::WebPConfig,
}

impl AnimEncoder {
    fn new((width, height): (u32, u32), quality: u8) -> Result<Self, CodecError> {
        let side = |n: u32| {
            c_int::try_from(n)
                .ok()
                .filter(|n| (1..=webp::WEBP_MAX_DIMENSION as c_int).contains(n))
                .ok_or_else(|| failed(format!("WebP has 1 to 16383 px a side, not {n}")))
        };
        let (width, height) = (side(width)?, side(height)?);
        let abi = |version: u32| version as c_int;

        let mut config = MaybeUninit::<webp::WebPConfig>::uninit();
        // SAFETY: `config` is writable and libwebp fills all of it when it returns true, which
        // it does unless the ABI versions differ.
        let config = unsafe {
            if webp::WebPConfigInitInternal(
                config.as_mut_ptr(),
                webp::WebPPreset::WEBP_PRESET_DEFAULT,
                f32::from(quality),
                abi(webp::WEBP_ENCODER_ABI_VERSION),
            ) == 0
            {
                return Err(failed("libwebp's encoder ABI does not match".into()));
            }
            config.assume_init()
        };

        let mut picture = MaybeUninit::<webp::WebPPicture>::uninit();
        // SAFETY: as for `config`; an initialised picture owns no memory until it imports pixels.
        let mut picture = unsafe {
            if webp::WebPPictureInitInternal(
                picture.as_mut_ptr(),
                abi(webp::WEBP_ENCODER_ABI_VERSION),
            ) == 0
            {
                return Err(failed("libwebp's encoder ABI does not match".into()));
            }
            picture.assume_init()
        };
        // ARGB is what the animation encoder works in; YUV would be converted back.
        picture.use_argb = 1;
        picture.width = width;
        picture.height = height;

        let mut options = MaybeUninit::<webp::WebPAnimEncoderOptions>::uninit();
        // SAFETY: as for `config`.
        let mut options = unsafe {
            if webp::WebPAnimEncoderOptionsInitInternal(
                options.as_mut_ptr(),
                abi(webp::WEBP_MUX_ABI_VERSION),
            ) == 0
            {
                return Err(failed("libwebp's mux ABI does not match".into()));
            }
            options.assume_init()
        };
        // Forever, whatever the source says: `image` reads a GIF's loop count, but takes a GIF
        // without one (which browsers play once) for forever, so the count is not kept.
        options.anim_params.loop_count = 0;

        // SAFETY: `options` is initialised and only read during the call; the encoder returned
        // is freed once, by `drop`.
        let encoder = unsafe {
            webp::WebPAnimEncoderNewInternal(
                width,
                height,
                &options,
                abi(webp::WEBP_MUX_ABI_VERSION),
            )
        };
        let encoder = NonNull::new(encoder)
            .ok_or_else(|| failed(format!("libwebp cannot animate {width}×{height}")))?;
        Ok(AnimEncoder {
            encoder,
            picture,
            config,
        })
    }

    /// Adds a frame of the encoder's size that starts at `timestamp` ms.
    fn add(&mut self, rgba: &RgbaImage, timestamp: c_int) -> Result<(), CodecError> {
        let (width, height) = (self.picture.width, self.picture.height);
        // The import below reads `height` rows of `width` pixels from `rgba`.
        assert_eq!(
            (rgba.width(), rgba.height()),
            (width as u32, height as u32),
            "a frame of the encoder's size"
        );
        // SAFETY: `rgba` holds `height` rows of `width * 4` bytes (checked above; `width * 4`
        // fits, a side being at most 16383); libwebp copies them into the picture's own buffer,
        // which the next import or `drop` frees.
        if unsafe { webp::WebPPictureImportRGBA(&mut self.picture, rgba.as_ptr(), width * 4) } == 0
        {
            return Err(failed(format!(
                "libwebp cannot take a frame ({:?})",
                self.picture.error_code
            )));
        }
        // SAFETY: the encoder, picture and config are valid and initialised; the encoder keeps
        // no reference to the picture or config after the call.
        let added = unsafe {
            webp::WebPAnimEncoderAdd(
                self.encoder.as_ptr(),
                &mut self.picture,
                timestamp,
                &self.config,
            )
        };
        if added == 0 {
            return Err(self.error());
        }
        Ok(())
    }

    /// The file, the last frame ending at `end` ms.
    fn assemble(self, end: c_int) -> Result<Vec<u8>, CodecError> {
        let mut data = Assembled(webp::WebPData::default());
        // SAFETY: a null frame (and config) marks where the last frame ends; on success
        // `data` points at the file, allocated by libwebp and freed by `Assembled`'s drop.
        let assembled = unsafe {
            webp::WebPAnimEncoderAdd(self.encoder.as_ptr(), ptr::null_mut(), end, ptr::null()) != 0
                && webp::WebPAnimEncoderAssemble(self.encoder.as_ptr(), &mut data.0) != 0
        };
        if !assembled {
            return Err(self.error());
        }
        // SAFETY: after a successful assembly `data` holds `size` readable bytes.
        Ok(unsafe { std::slice::from_raw_parts(data.0.bytes, data.0.size) }.to_vec())
    }

    fn error(&self) -> CodecError {
        // SAFETY: the encoder's error is a NUL-terminated string it owns, valid until its next
        // call; it is copied at once.
        let reason =
            unsafe { CStr::from_ptr(webp::WebPAnimEncoderGetError(self.encoder.as_ptr())) };
        failed(reason.to_string_lossy().into_owned())
    }
}

impl Drop for AnimEncoder {
    fn drop(&mut self) {
        // SAFETY: both were made by libwebp and are freed here only; the picture's buffer is
        // its own, whether or not a frame was imported.
        unsafe {
            webp::WebPAnimEncoderDelete(self.encoder.as_ptr());
            webp::WebPPictureFree(&mut self.picture);
        }
    }
}

/// An assembled file, freed when dropped, whether or not assembly succeeded.
struct Assembled(webp::WebPData);

impl Drop for Assembled {
    fn drop(&mut self) {
        // SAFETY: the bytes are null or libwebp's own allocation, freed here only.
        unsafe { webp::WebPDataClear(&mut self.0) }
    }
}

#[cfg(test)]
mod tests {
    use image::{Delay, ImageEncoder, Rgba};

    use super::*;

    const RED: [u8; 4] = [255, 0, 0, 255];
    const GREEN: [u8; 4] = [0, 255, 0, 255];
    const BLUE: [u8; 4] = [0, 0, 255, 255];

    fn gif(colours: &[[u8; 4]], delay_ms: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
            let frames = colours.iter().map(|&colour| {
                Frame::from_parts(
                    RgbaImage::from_pixel(64, 48, Rgba(colour)),
                    0,
                    0,
                    Delay::from_numer_denom_ms(delay_ms, 1),
                )
            });
            encoder.encode_frames(frames).unwrap();
        }
        out
    }

    fn decoded(webp: &[u8]) -> ((u32, u32), Vec<Frame>) {
        let decoder = WebPDecoder::new(Cursor::new(webp)).unwrap();
        assert!(decoder.has_animation());
        let size = decoder.dimensions();
        (size, decoder.into_frames().collect_frames().unwrap())
    }

    fn delays(frames: &[Frame]) -> Vec<u32> {
        frames
            .iter()
            .map(|frame| {
                let (numer, denom) = frame.delay().numer_denom_ms();
                numer / denom
            })
            .collect()
    }

    fn assert_colour(frame: &Frame, expected: [u8; 4]) {
        let (width, height) = frame.buffer().dimensions();
        let got = frame.buffer().get_pixel(width / 2, height / 2).0;
        let close = got.iter().zip(expected).all(|(&g, e)| g.abs_diff(e) <= 24);
        assert!(close, "{got:?} is not {expected:?}");
    }

    #[test]
    fn a_gif_becomes_an_animated_webp() {
        let source = gif(&[RED, GREEN, BLUE], 50);
        let webp = animated_webp(&source, SourceFormat::Gif, (32, 24), 90, 3)
            .unwrap()
            .unwrap();
        let (size, frames) = decoded(&webp);
        assert_eq!(size, (32, 24));
        assert_eq!(frames.len(), 3);
        for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
            assert_eq!(frame.buffer().dimensions(), (32, 24));
            assert_colour(frame, colour);
        }
        assert_eq!(delays(&frames), [50, 50, 50]);
    }

    #[test]
    fn an_animated_webp_is_resized_too() {
        let gif = gif(&[RED, GREEN, BLUE], 50);
        let source = animated_webp(&gif, SourceFormat::Gif, (64, 48), 90, 3)
            .unwrap()
            .unwrap();
        let webp = animated_webp(&source, SourceFormat::Webp, (32, 24), 90, 3)
            .unwrap()
            .unwrap();
        let (size, frames) = decoded(&webp);
        assert_eq!(size, (32, 24));
        assert_eq!(frames.len(), 3);
        for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
            assert_colour(frame, colour);
        }
        assert_eq!(delays(&frames), [50, 50, 50]);
    }

    #[test]
    fn stills_are_left_to_the_still_path() {
        let one = gif(&[RED], 50);
        assert!(
            animated_webp(&one, SourceFormat::Gif, (32, 24), 80, 3)
                .unwrap()
                .is_none()
        );
        let mut still = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut still)
            .write_image(
                RgbaImage::from_pixel(8, 8, Rgba(RED)).as_raw(),
                8,
                8,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        assert!(
            animated_webp(&still, SourceFormat::Webp, (4, 4), 80, 3)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn frames_are_limited_at_and_past_the_limit() {
        let source = gif(&[RED, GREEN, BLUE], 50);
        assert!(animated_webp(&source, SourceFormat::Gif, (32, 24), 80, 3).is_ok());
        assert!(matches!(
            animated_webp(&source, SourceFormat::Gif, (32, 24), 80, 2),
            Err(CodecError::TooManyFrames { limit: 2 })
        ));
    }

    #[test]
    fn output_pixels_are_limited_before_anything_is_allocated() {
        // Two frames of 8192×4097 are just over 256 MiB.
        let source = gif(&[RED, GREEN], 50);
        let err = animated_webp(&source, SourceFormat::Gif, (8192, 4097), 80, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "decoding the image needs more memory than allowed \
             (2 frames of 8192×4097 are more than 256 MiB of pixels)"
        );
    }

    #[test]
    fn fast_gif_frames_play_as_browsers_play_them() {
        let mut source = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut source);
            let frames = [(RED, 0), (GREEN, 10), (BLUE, 20)].map(|(colour, ms)| {
                Frame::from_parts(
                    RgbaImage::from_pixel(8, 8, Rgba(colour)),
                    0,
                    0,
                    Delay::from_numer_denom_ms(ms, 1),
                )
            });
            encoder.encode_frames(frames).unwrap();
        }
        let webp = animated_webp(&source, SourceFormat::Gif, (8, 8), 80, 3)
            .unwrap()
            .unwrap();
        assert_eq!(delays(&decoded(&webp).1), [100, 100, 20]);

        // A WebP's own 10 ms frames stay 10 ms.
        let mut encoder = AnimEncoder::new((8, 8), 80).unwrap();
        for (i, colour) in [RED, GREEN, BLUE].into_iter().enumerate() {
            let frame = RgbaImage::from_pixel(8, 8, Rgba(colour));
            encoder.add(&frame, 10 * i as c_int).unwrap();
        }
        let source = encoder.assemble(30).unwrap();
        let webp = animated_webp(&source, SourceFormat::Webp, (8, 8), 80, 3)
            .unwrap()
            .unwrap();
        assert_eq!(delays(&decoded(&webp).1), [10, 10, 10]);
    }

    #[test]
    fn exif_orientation_turns_every_frame() {
        // Orientation 6 (turn 90° clockwise to show), big-endian.
        const EXIF: &[u8] = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0";
        let mut encoder = AnimEncoder::new((16, 8), 90).unwrap();
        for (i, colour) in [RED, GREEN].into_iter().enumerate() {
            // The left half is blue: upright, it is the top.
            let frame = RgbaImage::from_fn(16, 8, |x, _| Rgba(if x < 8 { BLUE } else { colour }));
            encoder.add(&frame, 50 * i as c_int).unwrap();
        }
        let exif = webp::WebPData {
            bytes: EXIF.as_ptr(),
            size: EXIF.len(),
        };
        // SAFETY: `exif` is copied by libwebp (copy_data = 1) before the call returns.
        let set = unsafe {
            webp::WebPAnimEncoderSetChunk(encoder.encoder.as_ptr(), c"EXIF".as_ptr(), &exif, 1)
        };
        assert_eq!(set, webp::WebPMuxError::WEBP_MUX_OK);
        let source = encoder.assemble(100).unwrap();

        let webp = animated_webp(&source, SourceFormat::Webp, (4, 8), 90, 3)
            .unwrap()
            .unwrap();
        let (size, frames) = decoded(&webp);
        assert_eq!(size, (4, 8));
        for (frame, colour) in frames.iter().zip([RED, GREEN]) {
            let top = frame.buffer().get_pixel(2, 1).0;
            let bottom = frame.buffer().get_pixel(2, 6).0;
            assert!(top[2] > 200 && top[0] < 60, "{top:?}");
            assert!(
                bottom.iter().zip(colour).all(|(&b, c)| b.abs_diff(c) <= 40),
                "{bottom:?}"
            );
        }
    }
}
