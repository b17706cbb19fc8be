//! Pixels in and out: recognise and probe an upload, decode it upright (JPEG shrunk while it
//! decodes), resize, encode. All of it is synchronous CPU work: callers run it on the blocking
//! pool (`platform/cpu.rs`).

mod animate;
mod color;
mod decode;
mod encode;
mod heif;
mod pipeline;
mod planar;
mod probe;
mod resize;
mod strips;

use image::DynamicImage;

use super::transform::OutputFormat;

pub use animate::animated_webp;
pub use color::ToSrgb;
pub use decode::{Decoded, decode, decode_for_analysis};
pub use encode::encode;
pub use planar::from_planes;
pub use probe::{Probe, probe, sniff};
pub use resize::{pad, resize};

/// The formats sous reads. GIF and WebP animations are read as their first frame; AVIF and
/// HEIC are read as their primary (still) image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Heic,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Gif => "gif",
            SourceFormat::Webp => "webp",
            SourceFormat::Avif => "avif",
            SourceFormat::Heic => "heic",
        }
    }

    /// The format a rendition in `format` is read back as.
    pub fn of(format: OutputFormat) -> SourceFormat {
        match format {
            OutputFormat::Jpeg => SourceFormat::Jpeg,
            OutputFormat::Png => SourceFormat::Png,
            OutputFormat::Webp => SourceFormat::Webp,
            OutputFormat::Avif => SourceFormat::Avif,
        }
    }

    pub fn parse(name: &str) -> Option<SourceFormat> {
        [
            SourceFormat::Jpeg,
            SourceFormat::Png,
            SourceFormat::Gif,
            SourceFormat::Webp,
            SourceFormat::Avif,
            SourceFormat::Heic,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }
}

/// What an upload may be, beyond its byte size.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_pixels: u64,
    pub max_frames: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "the image is {width}×{height} pixels ({}); the limit is {limit} pixels",
        u64::from(*width) * u64::from(*height)
    )]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the animation has more than {limit} frames, the limit")]
    TooManyFrames { limit: u32 },
    #[error("decoding the image needs more memory than allowed ({0})")]
    TooMuchMemory(String),
    #[error("the image data is corrupt or truncated ({0})")]
    Corrupt(String),
    #[error("cannot encode {format}: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
}

impl CodecError {
    fn corrupt(error: impl std::fmt::Display) -> Self {
        CodecError::Corrupt(error.to_string())
    }
}

/// Upright 8-bit pixels: RGB, or RGBA when some pixel is not opaque.
#[derive(Debug, Clone)]
pub struct Bitmap(DynamicImage);

impl Bitmap {
    /// Takes any decoded image, dropping an alpha channel that is opaque everywhere.
    pub fn new(image: DynamicImage) -> Self {
        if !image.color().has_alpha() {
            return Bitmap(DynamicImage::ImageRgb8(image.into_rgb8()));
        }
        let rgba = image.into_rgba8();
        if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
            Bitmap(DynamicImage::ImageRgb8(
                DynamicImage::ImageRgba8(rgba).into_rgb8(),
            ))
        } else {
            Bitmap(DynamicImage::ImageRgba8(rgba))
        }
    }

    pub fn width(&self) -> u32 {
        self.0.width()
    }

    pub fn height(&self) -> u32 {
        self.0.height()
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }

    /// The picture shrunk to fit `side`×`side`, as 8-bit RGBA.
    pub fn thumbnail_rgba(&self, side: u32) -> image::RgbaImage {
        self.0.thumbnail(side, side).to_rgba8()
    }

    /// RGB pixels, transparency shown over white.
    pub fn rgb_over_white(&self) -> std::borrow::Cow<'_, [u8]> {
        if !self.has_alpha() {
            return std::borrow::Cow::Borrowed(self.as_bytes());
        }
        let over_white =
            |c: u8, alpha: u16| ((u16::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
        let rgb = self
            .as_bytes()
            .chunks_exact(4)
            .flat_map(|p| {
                let alpha = u16::from(p[3]);
                [
                    over_white(p[0], alpha),
                    over_white(p[1], alpha),
                    over_white(p[2], alpha),
                ]
            })
            .collect();
        std::borrow::Cow::Owned(rgb)
    }

    pub fn has_alpha(&self) -> bool {
        matches!(self.0, DynamicImage::ImageRgba8(_))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            DynamicImage::ImageRgb8(pixels) => pixels,
            DynamicImage::ImageRgba8(pixels) => pixels,
            _ => unreachable!("a bitmap is RGB8 or RGBA8"),
        }
    }
}
