//! JPEG to JPEG or WebP without RGB: libjpeg-turbo decodes to the Y, Cb and Cr planes, each
//! plane is resized on its own, and the planes go straight into the encoder (both encoders
//! take 4:2:0 Y'CbCr). The YCbCr conversion
//! is linear, so resizing the planes gives the picture that resizing RGB would; but a 4:2:0
//! photo's planes take half the memory of its RGB pixels, and neither the chroma upsampling
//! nor the two colour conversions run. Pictures whose colours need converting (CMYK, an
//! embedded profile other than sRGB) or without chroma take the RGB path.

use fast_image_resize::PixelType;
use fast_image_resize::images::ImageRef;
use image::{DynamicImage, GrayImage};

use super::CodecError;
use super::color::ToSrgb;
use super::decode::{MAX_SCANS, Markers, markers, shrink_on_load, turned};
use super::encode::{jpeg_compressor, webp_from_planes};
use super::resize::{Crop, in_strips};
use crate::images::transform::OutputFormat;

/// The whole picture of the JPEG `bytes` at `size` (as shown) in `format` of `quality`; `None`
/// when the picture or the format needs the RGB path.
pub fn from_planes(
    bytes: &[u8],
    size: (u32, u32),
    format: OutputFormat,
    quality: u8,
) -> Result<Option<Vec<u8>>, CodecError> {
    if !matches!(format, OutputFormat::Jpeg | OutputFormat::Webp) {
        return Ok(None);
    }
    let Some([luma, blue, red]) = planes(bytes, size)? else {
        return Ok(None);
    };
    if format == OutputFormat::Webp {
        return webp_from_planes(&luma, &blue, &red, quality).map(Some);
    }
    let (width, height) = luma.dimensions();
    // libjpeg-turbo reads whole chroma samples' worth of luma: pad with the last column and row.
    let luma = padded(luma, (blue.width() * 2, blue.height() * 2));
    let encoded = jpeg_compressor(quality, width as usize * height as usize)?
        .compress_yuv_planes_to_vec(&turbojpeg::YuvPlanesImage {
            y_plane: luma.as_raw().as_slice(),
            u_plane: blue.as_raw().as_slice(),
            v_plane: red.as_raw().as_slice(),
            width: width as usize,
            height: height as usize,
            y_stride: luma.width() as usize,
            u_stride: blue.width() as usize,
            v_stride: red.width() as usize,
            subsamp: turbojpeg::Subsamp::Sub2x2,
        })
        .map_err(|e| CodecError::Encode {
            format: "jpeg",
            reason: e.to_string(),
        })?;
    Ok(Some(encoded))
}

/// The Y, Cb and Cr planes of the whole picture at `size`, upright, chroma at half the width
/// and height (rounded up); `None` when its colours need converting or it has no chroma.
fn planes(bytes: &[u8], size: (u32, u32)) -> Result<Option<[GrayImage; 3]>, CodecError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let Markers {
        stored_size,
        orientation,
        icc,
        cmyk,
    } = markers(&mut decoder)?;
    if cmyk || icc.as_deref().and_then(ToSrgb::from_icc).is_some() {
        return Ok(None);
    }
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

    // Planes are padded to whole chroma samples: resize only the picture's share of each. An
    // output chroma sample covers two output pixels, also past an odd edge, so its share of the
    // source is what those pixels map to (clamped to the plane, a fraction of a sample at most).
    let (luma_size, chroma_size) = (decoded.y_size(), decoded.uv_size());
    let (luma, chroma) = decoded.pixels.split_at(luma_size.0 * luma_size.1);
    let (blue, red) = chroma.split_at(chroma_size.0 * chroma_size.1);
    let picture = (scaled.width as f64, scaled.height as f64);
    let out_chroma = (width.div_ceil(2), height.div_ceil(2));
    let chroma_share = |out_chroma: u32, out: u32, picture: f64, luma: usize, chroma: usize| {
        let source_pixels = f64::from(out_chroma * 2) * picture / f64::from(out);
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

/// `plane` grown to `size` by repeating its last column and row.
fn padded(plane: GrayImage, size: (u32, u32)) -> GrayImage {
    if plane.dimensions() == size {
        return plane;
    }
    let (width, height) = plane.dimensions();
    GrayImage::from_fn(size.0, size.1, |x, y| {
        *plane.get_pixel(x.min(width - 1), y.min(height - 1))
    })
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
        let resized = resize(&decoded.bitmap, full, size);
        match format {
            Some(format) => pixels(&encode(&resized, format, Some(Quality::of(80))).unwrap()),
            None => resized,
        }
    }

    fn pixels(bytes: &[u8]) -> Bitmap {
        let format = if bytes.starts_with(b"RIFF") {
            SourceFormat::Webp
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
        let source = photo(1001, 667, None, None);
        // Odd sizes, shrink-on-load scales (1/2, 1/4), and the full scale.
        for size in [(641, 427), (201, 134), (1001, 667), (500, 333)] {
            for format in [OutputFormat::Jpeg, OutputFormat::Webp] {
                let planar = from_planes(&source, size, format, 80).unwrap();
                let planar = pixels(&planar.expect("a plain JPEG"));
                assert_eq!(planar.size(), size);
                // Against the resized picture before encoding, the planes lose no more than
                // the RGB path does.
                let ideal = through_rgb(&source, size, None);
                let planar_error = mean_difference(&planar, &ideal);
                let rgb_error = mean_difference(&through_rgb(&source, size, Some(format)), &ideal);
                assert!(
                    planar_error <= rgb_error * 1.1 + 0.05,
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
            let planar = from_planes(&source, (60, 40), OutputFormat::Jpeg, 90).unwrap();
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
    fn colours_that_need_converting_take_the_rgb_path() {
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let source = photo(64, 48, None, Some(&p3));
        assert!(
            from_planes(&source, (32, 24), OutputFormat::Jpeg, 80)
                .unwrap()
                .is_none()
        );
        let srgb = moxcms::ColorProfile::new_srgb().encode().unwrap();
        let source = photo(64, 48, None, Some(&srgb));
        assert!(
            from_planes(&source, (32, 24), OutputFormat::Jpeg, 80)
                .unwrap()
                .is_some()
        );
        let mut gray = Vec::new();
        jpeg_encoder::Encoder::new(&mut gray, 90)
            .encode(&[128u8; 64], 8, 8, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(
            from_planes(&gray, (4, 4), OutputFormat::Jpeg, 80)
                .unwrap()
                .is_none()
        );
    }
}
