//! Renditions of JPEGs without a full-size RGB picture, and without the whole decoded picture
//! at all: the Y, Cb and Cr planes are decoded and resized a few rows at a time
//! (`pipeline.rs`). The Y'CbCr conversion is linear, so this is the picture that resizing RGB
//! would give. JPEG and WebP encoders take 4:2:0 planes as they are, and an upright JPEG is even
//! encoded as its rows come, so neither the source nor the output is ever held whole;
//! otherwise (a profile to apply, PNG, AVIF) the planes become RGB rows at the output's size as
//! they come. CMYK and greyscale JPEGs take the RGB path.

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, RgbImage};

use super::color::ToSrgb;
use super::decode::{Markers, markers};
use super::encode::{VideoRange, jpeg_from_planes, optimize_huffman, webp_from_planes};
use super::pipeline::{Chroma, Planes};
use super::strips::{Input, JpegOut, PLANES};
use super::{Bitmap, CodecError, encode};
use crate::images::transform::{DEFAULT_QUALITY, OutputFormat, Quality};

/// The whole picture of the JPEG `bytes` at `size` (as shown) in `format` of `quality`; `None`
/// when the picture needs the RGB path (CMYK, no chroma). JPEG and WebP take the planes as they
/// are, unless the colours need converting to sRGB: then, as for PNG and AVIF, the planes are
/// resized to full size each and turned into RGB rows as they come.
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
    let direct = to_srgb.is_none() && matches!(format, OutputFormat::Jpeg | OutputFormat::Webp);
    let chroma = if direct { Chroma::Half } else { Chroma::Full };
    let Some(planes) = Planes::open(bytes, &markers, size, chroma)? else {
        return Ok(None);
    };
    let orientation = markers.orientation;
    if direct {
        let level = quality.map_or(DEFAULT_QUALITY, Quality::get);
        as_planes(planes, orientation, format, level).map(Some)
    } else {
        through_rgb(planes, orientation, to_srgb, format, quality).map(Some)
    }
}

/// A JPEG or WebP straight from 4:2:0 planes; an upright JPEG encoded as its rows come.
fn as_planes(
    planes: Planes,
    orientation: Orientation,
    format: OutputFormat,
    quality: u8,
) -> Result<Vec<u8>, CodecError> {
    let [(width, height), ..] = planes.sizes;
    if format == OutputFormat::Jpeg && orientation == Orientation::NoTransforms {
        let pixels = width as usize * height as usize;
        let optimize = optimize_huffman(pixels);
        let mut out = JpegOut::open(width, height, quality, optimize, Input::Planes)?;
        planes.resize(Default::default(), |rows| out.write_from(rows))?;
        return out.finish();
    }
    let sizes = planes.sizes;
    // Room for the whole planes from the start: growing them would hold two copies at once.
    let whole = sizes.map(|(width, height)| Vec::with_capacity(width as usize * height as usize));
    // WebP's samples mapped to its range as they come, beside the decoder rather than after it.
    let video_range = (format == OutputFormat::Webp).then(VideoRange::new);
    let mut mapped = [0; PLANES];
    let [luma, blue, red] = planes.resize(whole, |made| {
        if let Some(video_range) = &video_range {
            for (plane, (samples, mapped)) in made.iter_mut().zip(&mut mapped).enumerate() {
                video_range.map(plane, &mut samples[*mapped..]);
                *mapped = samples.len();
            }
        }
        Ok(())
    })?;
    let upright = |plane: Vec<u8>, (width, height): (u32, u32)| {
        let plane = GrayImage::from_raw(width, height, plane).expect("every row made");
        let mut upright = DynamicImage::ImageLuma8(plane);
        upright.apply_orientation(orientation);
        upright.into_luma8()
    };
    let (luma, blue, red) = (
        upright(luma, sizes[0]),
        upright(blue, sizes[1]),
        upright(red, sizes[2]),
    );
    match format {
        OutputFormat::Webp => webp_from_planes(luma, blue, red, quality),
        _ => jpeg_from_planes(luma, blue, red, quality),
    }
}

/// Any format through RGB made from full-size planes a few rows at a time, in sRGB; an upright
/// JPEG encoded as its rows come.
fn through_rgb(
    planes: Planes,
    orientation: Orientation,
    to_srgb: Option<ToSrgb>,
    format: OutputFormat,
    quality: Option<Quality>,
) -> Result<Vec<u8>, CodecError> {
    let [(width, height), ..] = planes.sizes;
    let to_rgb = |made: &mut [Vec<u8>; PLANES], rgb: &mut Vec<u8>| {
        let start = rgb.len();
        let rows = made.iter().map(Vec::len).min().unwrap_or(0) / width as usize;
        let [luma, blue, red] = made;
        let samples = rows * width as usize;
        ycbcr_to_rgb(&luma[..samples], &blue[..samples], &red[..samples], rgb);
        for plane in made.iter_mut() {
            plane.drain(..samples);
        }
        if let Some(to_srgb) = &to_srgb {
            to_srgb.apply_rgb_rows(&mut rgb[start..], width);
        }
    };
    if format == OutputFormat::Jpeg && orientation == Orientation::NoTransforms {
        let level = quality.map_or(DEFAULT_QUALITY, Quality::get);
        let optimize = optimize_huffman(width as usize * height as usize);
        let mut out = JpegOut::open(width, height, level, optimize, Input::Rgb)?;
        let mut rgb = Vec::new();
        planes.resize(Default::default(), |made| {
            to_rgb(made, &mut rgb);
            out.write_rgb_from(&mut rgb)
        })?;
        return out.finish();
    }
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    planes.resize(Default::default(), |made| {
        to_rgb(made, &mut rgb);
        Ok(())
    })?;
    let rgb = RgbImage::from_raw(width, height, rgb).expect("every row made");
    let mut upright = DynamicImage::ImageRgb8(rgb);
    upright.apply_orientation(orientation);
    encode(&Bitmap::new(upright), format, quality)
}

/// The markers of a JPEG the planes can serve: not CMYK.
fn plain_markers(bytes: &[u8]) -> Result<Option<Markers>, CodecError> {
    let markers = markers(&mut jpeg_decoder::Decoder::new(bytes))?;
    Ok((!markers.cmyk).then_some(markers))
}

/// Y'CbCr samples to RGB pixels added to `rgb`, by JPEG's (JFIF's) full-range BT.601 matrix,
/// in 16-bit fixed point as libjpeg does it.
fn ycbcr_to_rgb(luma: &[u8], blue: &[u8], red: &[u8], rgb: &mut Vec<u8>) {
    const ONE: i32 = 1 << 16;
    let fixed = |k: f64| (k * f64::from(ONE)).round() as i32;
    let (cr_r, cb_g, cr_g, cb_b) = (
        fixed(1.402),
        fixed(0.344_136),
        fixed(0.714_136),
        fixed(1.772),
    );
    let channel = |value: i32| ((value + ONE / 2) >> 16).clamp(0, 255) as u8;
    rgb.extend(
        luma.iter()
            .zip(blue.iter().zip(red))
            .flat_map(|(&y, (&cb, &cr))| {
                let y = i32::from(y) << 16;
                let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
                [
                    channel(y + cr_r * cr),
                    channel(y - cb_g * cb - cr_g * cr),
                    channel(y + cb_b * cb),
                ]
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::codec::{Bitmap, SourceFormat, decode, encode, resize};
    use crate::images::transform::{Quality, Region};

    /// A photo-like 4:2:0 JPEG, as cameras save them: gradients with ripples, different along
    /// each axis so that any turn or flip shows; with an EXIF orientation and a profile if given.
    fn photo(width: u16, height: u16, orientation: Option<u16>, icc: Option<&[u8]>) -> Vec<u8> {
        sampled_photo(
            width,
            height,
            orientation,
            icc,
            jpeg_encoder::SamplingFactor::R_4_2_0,
        )
    }

    /// The photo's RGB pixels before JPEG: gradients with ripples.
    fn original(width: u16, height: u16) -> Vec<u8> {
        let (w, h) = (f32::from(width), f32::from(height));
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (f32::from(x), f32::from(y))))
            .flat_map(|(x, y)| {
                let ripple = (x / 7.0).sin() * 20.0;
                [x / w * 255.0 + ripple, y / h * 255.0, 128.0 - ripple * 2.0]
                    .map(|c| c.clamp(0.0, 255.0) as u8)
            })
            .collect()
    }

    /// The same photo with its chroma stored at `sampling`.
    fn sampled_photo(
        width: u16,
        height: u16,
        orientation: Option<u16>,
        icc: Option<&[u8]>,
        sampling: jpeg_encoder::SamplingFactor,
    ) -> Vec<u8> {
        let pixels = original(width, height);
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
        encoder.set_sampling_factor(sampling);
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
        let full = Region::WHOLE;
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
        use jpeg_encoder::SamplingFactor;
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let full = Region::WHOLE;
        let original = Bitmap::new(DynamicImage::ImageRgb8(
            RgbImage::from_raw(1001, 667, original(1001, 667)).unwrap(),
        ));
        for sampling in [
            SamplingFactor::R_4_2_0,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_4_0,
        ] {
            let plain = sampled_photo(1001, 667, None, None, sampling);
            let wide_gamut = sampled_photo(1001, 667, None, Some(&p3), sampling);
            // Odd sizes, shrink-on-load scales (1/8, 1/4, 1/2), and the full scale; the planes
            // as they are (JPEG, WebP) and through RGB (PNG, or any format with a profile to
            // apply).
            for size in [(641, 427), (201, 134), (1001, 667), (500, 333), (120, 80)] {
                for (source, format) in [
                    (&plain, OutputFormat::Jpeg),
                    (&plain, OutputFormat::Webp),
                    (&plain, OutputFormat::Png),
                    (&wide_gamut, OutputFormat::Jpeg),
                ] {
                    let planar = from_planes(source, size, format, Some(Quality::of(80))).unwrap();
                    let planar = pixels(&planar.expect("a Y'CbCr JPEG"));
                    assert_eq!(planar.size(), size);
                    // Against the picture before JPEG, resized (and made sRGB), the planes lose
                    // no more than the RGB path does.
                    let mut truth = resize(&original, full, size);
                    if std::ptr::eq(source, &wide_gamut) {
                        ToSrgb::from_icc(&p3).unwrap().apply(&mut truth);
                    }
                    let planar_error = mean_difference(&planar, &truth);
                    let rgb_error =
                        mean_difference(&through_rgb(source, size, Some(format)), &truth);
                    assert!(
                        planar_error <= rgb_error * 1.1 + 0.1,
                        "{sampling:?} {size:?} {format:?}: planes {planar_error}, RGB {rgb_error}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_truncated_jpeg_is_an_error_or_its_rows_grey_never_a_panic() {
        let whole = photo(640, 480, None, None);
        for cut in [whole.len() / 2, whole.len() - 2, 700] {
            let truncated = &whole[..cut];
            for format in [OutputFormat::Jpeg, OutputFormat::Webp] {
                match from_planes(truncated, (320, 240), format, None) {
                    Ok(Some(bytes)) => assert_eq!(pixels(&bytes).size(), (320, 240)),
                    Err(CodecError::Corrupt(_)) => {}
                    other => panic!("cut at {cut}: {other:?}"),
                }
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
