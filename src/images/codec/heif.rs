//! HEIF containers: AVIF (AV1, decoded by dav1d) and HEIC (HEVC, by libde265, what phones
//! save), both through libheif. libheif applies the container's own rotation, mirroring and
//! crop while decoding; an EXIF orientation inside a HEIF file is not meant to be applied on
//! top of them, so none is. Only the primary (still) image is read, never a sequence.

use std::sync::LazyLock;

use image::{DynamicImage, RgbImage, RgbaImage};
use libheif_rs::{
    ColorPrimaries, ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorCode,
    ImageHandle, LibHeif, RgbChroma, TransferCharacteristics,
};

use super::CodecError;
use super::color::ToSrgb;

/// libheif's initialisation, once for the process.
static LIBHEIF: LazyLock<LibHeif> = LazyLock::new(LibHeif::new);

/// The primary image's size, as it will be shown, from the container alone.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), CodecError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(heif_error)?;
    let handle = context.primary_image_handle().map_err(heif_error)?;
    Ok((handle.width(), handle.height()))
}

/// The primary image in 8 bits (deeper images are scaled down), with alpha when it has an alpha
/// plane, and how to bring it to sRGB.
pub fn decode(bytes: &[u8]) -> Result<(DynamicImage, Option<ToSrgb>), CodecError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(heif_error)?;
    let handle = context.primary_image_handle().map_err(heif_error)?;
    let has_alpha = handle.has_alpha_channel();
    let chroma = if has_alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let mut options = DecodingOptions::new()
        .ok_or_else(|| CodecError::TooMuchMemory("libheif's decoding options".into()))?;
    options.set_convert_hdr_to_8bit(true);
    let decoded = LIBHEIF
        .decode(&handle, ColorSpace::Rgb(chroma), Some(options))
        .map_err(heif_error)?;
    let planes = decoded.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| CodecError::corrupt("libheif returned no interleaved plane"))?;
    let channels = if has_alpha { 4 } else { 3 };
    let row = plane.width as usize * channels;
    // libheif pads rows to its own alignment: copy each row without the padding.
    let mut pixels = Vec::with_capacity(row * plane.height as usize);
    for line in plane.data.chunks(plane.stride).take(plane.height as usize) {
        pixels.extend_from_slice(
            line.get(..row)
                .ok_or_else(|| CodecError::corrupt("a row shorter than the image"))?,
        );
    }
    let short = || CodecError::corrupt("fewer pixels than the image's size");
    let image = if has_alpha {
        DynamicImage::ImageRgba8(
            RgbaImage::from_raw(plane.width, plane.height, pixels).ok_or_else(short)?,
        )
    } else {
        DynamicImage::ImageRgb8(
            RgbImage::from_raw(plane.width, plane.height, pixels).ok_or_else(short)?,
        )
    };
    Ok((image, to_srgb(&handle)))
}

/// An embedded ICC profile wins; otherwise the nclx colour description (AVIF's usual way to
/// say "Display P3" or "BT.2020").
fn to_srgb(handle: &ImageHandle) -> Option<ToSrgb> {
    if let Some(icc) = handle.color_profile_raw() {
        return ToSrgb::from_icc(&icc.data);
    }
    let nclx = handle.color_profile_nclx()?;
    let (primaries, transfer) = (nclx.color_primaries(), nclx.transfer_characteristics());
    if primaries == ColorPrimaries::Unknown || transfer == TransferCharacteristics::Unknown {
        return None;
    }
    // Both enums carry their ITU-T H.273 code points as discriminants.
    ToSrgb::from_cicp(primaries as u8, transfer as u8)
}

fn heif_error(error: HeifError) -> CodecError {
    match error.code {
        HeifErrorCode::UnsupportedFileType | HeifErrorCode::UnsupportedFeature => {
            CodecError::Unsupported(format!("the HEIF file uses {}", error.message))
        }
        HeifErrorCode::MemoryAllocationError => CodecError::TooMuchMemory(error.message),
        _ => CodecError::corrupt(error.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/images/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_heic_photo_decodes_with_its_profile() {
        let bytes = fixture("meal.heic");
        assert_eq!(dimensions(&bytes).unwrap(), (160, 120));
        let (image, _) = decode(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), (160, 120));
        assert!(!image.color().has_alpha());
        // A photo, not a blank page: its pixels vary.
        let rgb = image.into_rgb8();
        let first = rgb.get_pixel(0, 0);
        assert!(rgb.pixels().any(|p| p != first));
    }

    #[test]
    fn ten_bits_come_out_as_eight() {
        // A 16-bit PNG of (200, 40, 40) stored in 10-bit HEVC.
        let (image, _) = decode(&fixture("deep.heic")).unwrap();
        let rgb = image.into_rgb8();
        let centre = rgb.get_pixel(32, 24).0;
        for (got, want) in centre.into_iter().zip([200u8, 40, 40]) {
            assert!(got.abs_diff(want) <= 3, "{centre:?}");
        }
    }

    #[test]
    fn alpha_survives() {
        // Left half transparent, right half opaque red.
        let (image, to_srgb) = decode(&fixture("sticker.avif")).unwrap();
        assert!(to_srgb.is_none());
        let rgba = image.into_rgba8();
        assert_eq!(rgba.get_pixel(8, 24).0[3], 0);
        assert_eq!(rgba.get_pixel(56, 24).0[3], 255);
    }

    #[test]
    fn nclx_display_p3_is_converted() {
        // A lossless AVIF of (0, 200, 0) whose nclx box says Display P3 primaries.
        let (image, to_srgb) = decode(&fixture("p3-green.avif")).unwrap();
        assert_eq!(image.into_rgb8().get_pixel(0, 0).0, [0, 200, 0]);
        let mut bitmap = super::super::Bitmap::new(DynamicImage::ImageRgb8(RgbImage::from_pixel(
            1,
            1,
            image::Rgb([0, 200, 0]),
        )));
        to_srgb.expect("P3 is not sRGB").apply(&mut bitmap);
        let [r, g, b] = bitmap.as_bytes().try_into().unwrap();
        // P3's green lies outside sRGB: more saturated, so it maps to a brighter clipped green.
        assert_eq!((r, b), (0, 0), "{:?}", (r, g, b));
        assert!(g > 200, "{:?}", (r, g, b));
    }

    #[test]
    fn garbage_in_a_heif_box_is_refused() {
        let mut bytes = fixture("meal.heic");
        bytes.truncate(bytes.len() / 2);
        assert!(decode(&bytes).is_err());
        assert!(matches!(
            dimensions(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Err(CodecError::Corrupt(_) | CodecError::Unsupported(_))
        ));
    }
}
