//! Renditions of JPEGs without a full-size RGB picture: libjpeg-turbo decodes to the Y, Cb and
//! Cr planes and each plane is resized on its own. The Y'CbCr conversion is linear, so this is
//! the picture that resizing RGB would give; but a 4:2:0 photo's planes take half the memory of
//! its RGB pixels. JPEG and WebP encoders take 4:2:0 planes as they are; otherwise (a profile
//! to apply, PNG, AVIF) the planes become RGB only at the output's size. A 4:4:4 JPEG, whose
//! planes save nothing, is decoded in strips instead (`strips.rs`). CMYK and greyscale JPEGs
//! take the RGB path.

use fast_image_resize::PixelType;
use fast_image_resize::images::ImageRef;
use image::{DynamicImage, GrayImage, RgbImage};

use super::color::ToSrgb;
use super::decode::{MAX_SCANS, Markers, markers, shrink_on_load, turned};
use super::encode::{jpeg_from_planes, webp_from_planes};
use super::resize::{Crop, in_strips};
use super::strips::whole_444;
use super::{Bitmap, CodecError, encode};
use crate::images::transform::{DEFAULT_QUALITY, OutputFormat, Quality};

/// The whole picture of the JPEG `bytes` at `size` (as shown) in `format` of `quality`; `None`
/// when the picture needs the RGB path (CMYK, no chroma). JPEG and WebP take the planes as they
/// are, unless the colours need converting to sRGB: then, as for PNG and AVIF, the planes are
/// resized to full size each and turned into RGB only at the output's size.
pub fn from_planes(
    bytes: &[u8],
    size: (u32, u32),
    format: OutputFormat,
    quality: Option<Quality>,
) -> Result<Option<Vec<u8>>, CodecError> {
    let Some(mut markers) = plain_markers(bytes)? else {
        return Ok(None);
    };
    let to_srgb = markers.icc.take().as_deref().and_then(ToSrgb::from_icc);
    // 4:4:4 planes are as large as RGB pixels: decoded a window of rows at a time instead.
    if let Some(mut bitmap) = whole_444(bytes, &markers, size)? {
        if let Some(to_srgb) = to_srgb {
            to_srgb.apply(&mut bitmap);
        }
        return encode(&bitmap, format, quality).map(Some);
    }
    let direct = to_srgb.is_none() && matches!(format, OutputFormat::Jpeg | OutputFormat::Webp);
    let chroma = if direct { Chroma::Half } else { Chroma::Full };
    let Some([luma, blue, red]) = planes(bytes, &markers, size, chroma)? else {
        return Ok(None);
    };
    if !direct {
        let mut bitmap = to_rgb(&luma, &blue, &red);
        if let Some(to_srgb) = to_srgb {
            to_srgb.apply(&mut bitmap);
        }
        return encode(&bitmap, format, quality).map(Some);
    }
    let quality = quality.map_or(DEFAULT_QUALITY, Quality::get);
    if format == OutputFormat::Webp {
        return webp_from_planes(&luma, &blue, &red, quality).map(Some);
    }
    jpeg_from_planes(&luma, &blue, &red, quality).map(Some)
}

/// Chroma planes at half the output's width and height (rounded up), or at all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chroma {
    Half,
    Full,
}

/// The markers of a JPEG the planes can serve: not CMYK.
fn plain_markers(bytes: &[u8]) -> Result<Option<Markers>, CodecError> {
    let markers = markers(&mut jpeg_decoder::Decoder::new(bytes))?;
    Ok((!markers.cmyk).then_some(markers))
}

/// The Y, Cb and Cr planes of the whole picture at `size`, upright; `None` when it is not
/// Y'CbCr (greyscale, or colours stored otherwise).
fn planes(
    bytes: &[u8],
    markers: &Markers,
    size: (u32, u32),
    chroma_at: Chroma,
) -> Result<Option<[GrayImage; 3]>, CodecError> {
    let (stored_size, orientation) = (markers.stored_size, markers.orientation);
    let turbo = |e: turbojpeg::Error| CodecError::corrupt(e);
    let mut decompressor = turbojpeg::Decompressor::new().map_err(turbo)?;
    let header = decompressor.read_header(bytes).map_err(turbo)?;
    if header.colorspace != turbojpeg::Colorspace::YCbCr || header.is_lossless {
        return Ok(None);
    }
    let (width, height) = turned(orientation, size);
    let scale = shrink_on_load(stored_size, (width, height));
    decompressor.set_scaling_factor(scale).map_err(turbo)?;
    decompressor.set_scan_limit(MAX_SCANS).map_err(turbo)?;
    let scaled = header.scaled(scale);
    let length =
        turbojpeg::yuv_pixels_len(scaled.width, 1, scaled.height, header.subsamp).map_err(turbo)?;
    let mut decoded = turbojpeg::YuvImage {
        pixels: vec![0u8; length],
        width: scaled.width,
        align: 1,
        height: scaled.height,
        subsamp: header.subsamp,
    };
    decompressor
        .decompress_to_yuv(bytes, decoded.as_deref_mut())
        .map_err(turbo)?;

    // Planes are padded to whole chroma samples: resize only the picture's share of each. A
    // half-size output chroma sample covers two output pixels, also past an odd edge, so its
    // share of the source is what those pixels map to (clamped to the plane, a fraction of a
    // sample at most).
    let (luma_size, chroma_size) = (decoded.y_size(), decoded.uv_size());
    let (luma, chroma) = decoded.pixels.split_at(luma_size.0 * luma_size.1);
    let (blue, red) = chroma.split_at(chroma_size.0 * chroma_size.1);
    let picture = (scaled.width as f64, scaled.height as f64);
    let step = match chroma_at {
        Chroma::Half => 2,
        Chroma::Full => 1,
    };
    let out_chroma = (width.div_ceil(step), height.div_ceil(step));
    let chroma_share = |out_chroma: u32, out: u32, picture: f64, luma: usize, chroma: usize| {
        let source_pixels = f64::from(out_chroma * step) * picture / f64::from(out);
        (source_pixels * chroma as f64 / luma as f64).min(chroma as f64)
    };
    let chroma_share = (
        chroma_share(out_chroma.0, width, picture.0, luma_size.0, chroma_size.0),
        chroma_share(out_chroma.1, height, picture.1, luma_size.1, chroma_size.1),
    );
    let planes = [
        (luma, luma_size, picture, (width, height)),
        (blue, chroma_size, chroma_share, out_chroma),
        (red, chroma_size, chroma_share, out_chroma),
    ]
    .map(|(plane, from, share, to)| {
        let resized = resize_plane(plane, from, share, to);
        let mut upright = DynamicImage::ImageLuma8(resized);
        upright.apply_orientation(orientation);
        upright.into_luma8()
    });
    Ok(Some(planes))
}

/// Full-size Y'CbCr planes to RGB, by JPEG's (JFIF's) full-range BT.601 matrix, in 16-bit fixed
/// point as libjpeg does it.
fn to_rgb(luma: &GrayImage, blue: &GrayImage, red: &GrayImage) -> Bitmap {
    const ONE: i32 = 1 << 16;
    let fixed = |k: f64| (k * f64::from(ONE)).round() as i32;
    let (cr_r, cb_g, cr_g, cb_b) = (
        fixed(1.402),
        fixed(0.344_136),
        fixed(0.714_136),
        fixed(1.772),
    );
    let channel = |value: i32| ((value + ONE / 2) >> 16).clamp(0, 255) as u8;
    let pixels = luma
        .as_raw()
        .iter()
        .zip(blue.as_raw().iter().zip(red.as_raw()))
        .flat_map(|(&y, (&cb, &cr))| {
            let y = i32::from(y) << 16;
            let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
            [
                channel(y + cr_r * cr),
                channel(y - cb_g * cb - cr_g * cr),
                channel(y + cb_b * cb),
            ]
        })
        .collect();
    let rgb = RgbImage::from_raw(luma.width(), luma.height(), pixels).expect("sized as the luma");
    Bitmap::new(DynamicImage::ImageRgb8(rgb))
}

/// The top-left `share` of a `size` plane at `to`.
fn resize_plane(
    plane: &[u8],
    size: (usize, usize),
    share: (f64, f64),
    to: (u32, u32),
) -> GrayImage {
    let from = ImageRef::new(size.0 as u32, size.1 as u32, plane, PixelType::U8)
        .expect("a plane of its own size");
    let crop = Crop {
        left: 0.0,
        top: 0.0,
        width: share.0,
        height: share.1,
    };
    let pixels = in_strips(&from, PixelType::U8, crop, to);
    GrayImage::from_raw(to.0, to.1, pixels).expect("sized for the plane")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::codec::{Bitmap, SourceFormat, decode, encode, resize};
    use crate::images::transform::{Quality, Region};

    /// A photo-like 4:2:0 JPEG, as cameras save them: gradients with ripples, different along
    /// each axis so that any turn or flip shows; with an EXIF orientation and a profile if given.
    fn photo(width: u16, height: u16, orientation: Option<u16>, icc: Option<&[u8]>) -> Vec<u8> {
        let (w, h) = (f32::from(width), f32::from(height));
        let pixels: Vec<u8> = (0..height)
            .flat_map(|y| (0..width).map(move |x| (f32::from(x), f32::from(y))))
            .flat_map(|(x, y)| {
                let ripple = (x / 7.0).sin() * 20.0;
                [x / w * 255.0 + ripple, y / h * 255.0, 128.0 - ripple * 2.0]
                    .map(|c| c.clamp(0.0, 255.0) as u8)
            })
            .collect();
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
        if let Some(orientation) = orientation {
            // "Exif\0\0", a big-endian TIFF header and one IFD with one SHORT entry: 0x0112.
            let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
            for word in [1u16, 0x0112, 3, 0, 1, orientation, 0, 0, 0] {
                exif.extend(word.to_be_bytes());
            }
            encoder.add_app_segment(1, exif).unwrap();
        }
        if let Some(icc) = icc {
            encoder.add_icc_profile(icc).unwrap();
        }
        encoder
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    /// The rendition through RGB: decoded, resized, and encoded in `format` unless none.
    fn through_rgb(bytes: &[u8], size: (u32, u32), format: Option<OutputFormat>) -> Bitmap {
        let decoded = decode(bytes, SourceFormat::Jpeg, Some(size)).unwrap();
        let full = Region {
            left: 0.0,
            top: 0.0,
            width: 1.0,
            height: 1.0,
        };
        let mut resized = resize(&decoded.bitmap, full, size);
        if let Some(to_srgb) = decoded.to_srgb {
            to_srgb.apply(&mut resized);
        }
        match format {
            Some(format) => pixels(&encode(&resized, format, Some(Quality::of(80))).unwrap()),
            None => resized,
        }
    }

    fn pixels(bytes: &[u8]) -> Bitmap {
        let format = if bytes.starts_with(b"RIFF") {
            SourceFormat::Webp
        } else if bytes.starts_with(b"\x89PNG") {
            SourceFormat::Png
        } else {
            SourceFormat::Jpeg
        };
        decode(bytes, format, None).unwrap().bitmap
    }

    /// The mean difference of two pictures of one size, per channel.
    fn mean_difference(a: &Bitmap, b: &Bitmap) -> f64 {
        assert_eq!(a.size(), b.size());
        let sum: f64 = a
            .as_bytes()
            .iter()
            .zip(b.as_bytes())
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum();
        sum / a.as_bytes().len() as f64
    }

    #[test]
    fn planes_make_the_picture_rgb_makes() {
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let plain = photo(1001, 667, None, None);
        let wide_gamut = photo(1001, 667, None, Some(&p3));
        // Odd sizes, shrink-on-load scales (1/2, 1/4), and the full scale; the planes as they
        // are (JPEG, WebP) and through RGB (PNG, or any format with a profile to apply).
        for size in [(641, 427), (201, 134), (1001, 667), (500, 333)] {
            for (source, format) in [
                (&plain, OutputFormat::Jpeg),
                (&plain, OutputFormat::Webp),
                (&plain, OutputFormat::Png),
                (&wide_gamut, OutputFormat::Jpeg),
            ] {
                let planar = from_planes(source, size, format, Some(Quality::of(80))).unwrap();
                let planar = pixels(&planar.expect("a Y'CbCr JPEG"));
                assert_eq!(planar.size(), size);
                // Against the resized picture before encoding, the planes lose no more than
                // the RGB path does; where that loses nothing (PNG), they differ by under a
                // level on average, the chroma being resized rather than upsampled first.
                let ideal = through_rgb(source, size, None);
                let planar_error = mean_difference(&planar, &ideal);
                let rgb_error = mean_difference(&through_rgb(source, size, Some(format)), &ideal);
                assert!(
                    planar_error <= rgb_error * 1.1 + 0.05
                        || (rgb_error == 0.0 && planar_error < 1.0),
                    "{size:?} {format:?}: planes {planar_error}, RGB {rgb_error}"
                );
            }
        }
    }

    #[test]
    fn every_orientation_is_applied() {
        for orientation in 1..=8u16 {
            // Stored 120×80, or 80×120 where turning it upright swaps the sides.
            let (width, height) = if orientation >= 5 {
                (80, 120)
            } else {
                (120, 80)
            };
            let source = photo(width, height, Some(orientation), None);
            let planar = from_planes(&source, (60, 40), OutputFormat::Jpeg, None).unwrap();
            let planar = pixels(&planar.unwrap());
            let ideal = through_rgb(&source, (60, 40), None);
            let mean = mean_difference(&planar, &ideal);
            assert!(
                mean < 3.0,
                "orientation {orientation}: mean difference {mean}"
            );
        }
    }

    #[test]
    fn cmyk_and_greyscale_take_the_rgb_path() {
        for (color, channels) in [
            (jpeg_encoder::ColorType::Luma, 1),
            (jpeg_encoder::ColorType::Cmyk, 4),
        ] {
            let mut source = Vec::new();
            jpeg_encoder::Encoder::new(&mut source, 90)
                .encode(&vec![0u8; 64 * channels], 8, 8, color)
                .unwrap();
            let planar = from_planes(&source, (4, 4), OutputFormat::Jpeg, None).unwrap();
            assert!(planar.is_none(), "{color:?}");
        }
    }
}
