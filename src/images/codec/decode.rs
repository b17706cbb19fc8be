//! Decoding, upright, with the embedded colour profile found. JPEG goes through libjpeg-turbo,
//! whose IDCT scales by 1/2, 1/4 or 1/8 while decoding (what vips calls shrink-on-load): a
//! thumbnail of a 16 MP photo decodes about 250 thousand pixels, not 16 million. It can also
//! scale by other eighths, but those IDCTs are plain C: measured here, a 7/8 decode took longer
//! than a full one with SIMD. `jpeg-decoder` reads the markers (EXIF, ICC) and decodes the rare
//! CMYK JPEG, whose Adobe conventions it knows. PNG, GIF and WebP go through `image`, AVIF and
//! HEIC through libheif (`heif.rs`).

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::color::{ToSrgb, cmyk_to_rgb};
use super::{Bitmap, CodecError, Limits, SourceFormat, heif, probe};

/// Most progressive scans a JPEG may have: each one is a pass over the whole picture, so a file
/// of thousands of tiny scans would take minutes (libjpeg-turbo's advice for untrusted input).
pub(super) const MAX_SCANS: u32 = 500;

/// A decoded picture, upright.
#[derive(Debug)]
pub struct Decoded {
    pub bitmap: Bitmap,
    /// The upright size of the picture at full scale, whatever scale it was decoded at.
    pub full_size: (u32, u32),
    /// How to bring its pixels to sRGB, when its embedded profile is another one.
    pub to_srgb: Option<ToSrgb>,
}

/// Decodes `bytes` (already probed as `format`) and turns it upright. With `at_least`, a JPEG
/// may come out smaller than stored, but never smaller than that (upright) size.
pub fn decode(
    bytes: &[u8],
    format: SourceFormat,
    at_least: Option<(u32, u32)>,
) -> Result<Decoded, CodecError> {
    let Raw {
        mut image,
        stored_size,
        orientation,
        to_srgb,
    } = match format {
        SourceFormat::Jpeg => jpeg(bytes, at_least)?,
        SourceFormat::Avif | SourceFormat::Heic => {
            let (image, to_srgb) = heif::decode(bytes)?;
            Raw {
                stored_size: (image.width(), image.height()),
                image,
                // libheif has applied the container's rotation and mirroring.
                orientation: Orientation::NoTransforms,
                to_srgb,
            }
        }
        other => with_image(bytes, other)?,
    };
    image.apply_orientation(orientation);
    let full_size = turned(orientation, stored_size);
    Ok(Decoded {
        bitmap: Bitmap::new(image),
        full_size,
        to_srgb,
    })
}

/// `bytes` decoded for a model to look at rather than for people: the format found by its
/// magic number and held to `limits`, upright, in sRGB, transparency over white, and at least
/// `shorter_side` pixels on its shorter side where the source has that many. JPEGs shrink while
/// decoding, so a 12 MP photo wanted at 256 px decodes about a sixty-fourth of its pixels.
/// Returns the RGB pixels with their width and height.
pub fn decode_for_analysis(
    bytes: &[u8],
    limits: &Limits,
    shorter_side: u32,
) -> Result<(Vec<u8>, u32, u32), CodecError> {
    let format = probe(bytes, limits)?.format;
    // Both sides at least this long is the shorter one at least this long, however it turns.
    let decoded = decode(bytes, format, Some((shorter_side, shorter_side)))?;
    let mut bitmap = decoded.bitmap;
    if let Some(to_srgb) = decoded.to_srgb {
        to_srgb.apply(&mut bitmap);
    }
    let (width, height) = bitmap.size();
    Ok((bitmap.rgb_over_white().into_owned(), width, height))
}

struct Raw {
    image: DynamicImage,
    stored_size: (u32, u32),
    orientation: Orientation,
    to_srgb: Option<ToSrgb>,
}

/// What a JPEG's markers say, read before any pixel is decoded.
pub(super) struct Markers {
    pub stored_size: (u32, u32),
    pub orientation: Orientation,
    pub icc: Option<Vec<u8>>,
    pub cmyk: bool,
}

pub(super) fn markers(decoder: &mut jpeg_decoder::Decoder<&[u8]>) -> Result<Markers, CodecError> {
    decoder.read_info().map_err(CodecError::corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| CodecError::corrupt("no frame header"))?;
    Ok(Markers {
        stored_size: (u32::from(info.width), u32::from(info.height)),
        orientation: decoder
            .exif_data()
            .and_then(Orientation::from_exif_chunk)
            .unwrap_or(Orientation::NoTransforms),
        icc: decoder.icc_profile(),
        cmyk: info.pixel_format == jpeg_decoder::PixelFormat::CMYK32,
    })
}

/// `size` with its sides swapped where `orientation` turns the picture a quarter: the size as
/// shown from the size as stored, or the other way round.
pub(super) fn turned(orientation: Orientation, (width, height): (u32, u32)) -> (u32, u32) {
    if transposes(orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

fn jpeg(bytes: &[u8], at_least: Option<(u32, u32)>) -> Result<Raw, CodecError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let Markers {
        stored_size,
        orientation,
        icc,
        cmyk,
    } = markers(&mut decoder)?;
    // Wanted at least this many pixels, as stored (before turning upright).
    let wanted = at_least.map(|size| turned(orientation, size));
    if cmyk {
        let pixels = decoder.decode().map_err(CodecError::corrupt)?;
        let rgb = cmyk_to_rgb(&pixels, icc.as_deref());
        let image = RgbImage::from_raw(stored_size.0, stored_size.1, rgb)
            .ok_or_else(|| CodecError::corrupt("fewer pixels than the header claims"))?;
        return Ok(Raw {
            image: DynamicImage::ImageRgb8(image),
            stored_size,
            orientation,
            // Converted already; a CMYK profile means nothing to RGB pixels.
            to_srgb: None,
        });
    }
    let turbo = |e: turbojpeg::Error| CodecError::corrupt(e);
    let mut decompressor = turbojpeg::Decompressor::new().map_err(turbo)?;
    let header = decompressor.read_header(bytes).map_err(turbo)?;
    let scale = wanted.map_or(turbojpeg::ScalingFactor::ONE, |wanted| {
        shrink_on_load(stored_size, wanted)
    });
    decompressor.set_scaling_factor(scale).map_err(turbo)?;
    decompressor.set_scan_limit(MAX_SCANS).map_err(turbo)?;
    let header = header.scaled(scale);
    let (width, height) = (header.width, header.height);
    let mut pixels = vec![0u8; width * height * 3];
    decompressor
        .decompress(
            bytes,
            turbojpeg::Image {
                pixels: pixels.as_mut_slice(),
                width,
                pitch: width * 3,
                height,
                format: turbojpeg::PixelFormat::RGB,
            },
        )
        .map_err(turbo)?;
    let image = RgbImage::from_raw(width as u32, height as u32, pixels)
        .expect("sized for the scaled header");
    Ok(Raw {
        image: DynamicImage::ImageRgb8(image),
        stored_size,
        orientation,
        to_srgb: icc.as_deref().and_then(ToSrgb::from_icc),
    })
}

/// The smallest of 1/8, 1/4, 1/2 and 1 that still gives `stored` the `wanted` pixels.
pub(super) fn shrink_on_load(stored: (u32, u32), wanted: (u32, u32)) -> turbojpeg::ScalingFactor {
    const SIMD_SCALES: [(usize, usize); 4] = [(1, 8), (1, 4), (1, 2), (1, 1)];
    SIMD_SCALES
        .into_iter()
        .map(|(num, denom)| turbojpeg::ScalingFactor::new(num, denom))
        .find(|factor| {
            factor.scale(stored.0 as usize) >= wanted.0 as usize
                && factor.scale(stored.1 as usize) >= wanted.1 as usize
        })
        .unwrap_or(turbojpeg::ScalingFactor::ONE)
}

fn transposes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn with_image(bytes: &[u8], format: SourceFormat) -> Result<Raw, CodecError> {
    let format = match format {
        SourceFormat::Png => image::ImageFormat::Png,
        SourceFormat::Gif => image::ImageFormat::Gif,
        SourceFormat::Webp => image::ImageFormat::WebP,
        SourceFormat::Jpeg | SourceFormat::Avif | SourceFormat::Heic => {
            unreachable!("JPEG and HEIF have their own decoders")
        }
    };
    // `image`'s default allocation limit (512 MiB) stays on: the probe checked the size a header
    // claims, this also stops a frame or chunk that asks for more than its header says.
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // An unreadable profile is dropped, as browsers do.
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let stored_size = (image.width(), image.height());
    Ok(Raw {
        image,
        stored_size,
        orientation,
        to_srgb: icc.as_deref().and_then(ToSrgb::from_icc),
    })
}

fn image_error(error: image::ImageError) -> CodecError {
    match error {
        image::ImageError::Unsupported(e) => CodecError::Unsupported(e.to_string()),
        image::ImageError::Limits(e) => CodecError::TooMuchMemory(e.to_string()),
        other => CodecError::corrupt(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_on_load_keeps_enough_pixels() {
        let factor = |stored, wanted| {
            let f = shrink_on_load(stored, wanted);
            (f.num(), f.denom())
        };
        // A 4000×3000 photo: 320 px wide needs 1/8 (500), 1280 px 1/2, 2560 px all of it.
        assert_eq!(factor((4000, 3000), (320, 240)), (1, 8));
        assert_eq!(factor((4000, 3000), (501, 240)), (1, 4));
        assert_eq!(factor((4000, 3000), (1280, 960)), (1, 2));
        assert_eq!(factor((4000, 3000), (2560, 1920)), (1, 1));
        // libjpeg-turbo rounds scaled sides up: 1/8 of 4001 is 501.
        assert_eq!(factor((4001, 3000), (501, 1)), (1, 8));
    }
}
