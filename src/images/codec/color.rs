//! Colour: embedded ICC profiles are converted to sRGB with `moxcms`, since everything served
//! is sRGB without a profile (the profile is metadata, and metadata is stripped). Without this a
//! Display P3 photo from a phone would look washed out. Pixels are converted after resizing,
//! as vips does: the result differs from converting first by far less than a JPEG step, and a
//! thumbnail converts a few thousand pixels instead of millions.

use std::sync::Arc;

use moxcms::{
    CicpColorPrimaries, CicpProfile, ColorProfile, DataColorSpace, Layout, MatrixCoefficients,
    TransferCharacteristics, Transform8BitExecutor, TransformOptions,
};

use super::Bitmap;

/// The conversion of one embedded RGB profile to sRGB.
#[derive(Clone)]
pub struct ToSrgb {
    rgb: Arc<Transform8BitExecutor>,
    rgba: Arc<Transform8BitExecutor>,
}

impl std::fmt::Debug for ToSrgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToSrgb")
    }
}

impl ToSrgb {
    /// The conversion for an embedded profile; none for one that is unreadable, not RGB, or
    /// sRGB already. A broken profile is no reason to refuse a picture: it is shown as sRGB,
    /// as browsers do.
    pub fn from_icc(icc: &[u8]) -> Option<ToSrgb> {
        Self::from_profile(&ColorProfile::new_from_slice(icc).ok()?)
    }

    /// The conversion for colour primaries and a transfer curve given as ITU-T H.273 code
    /// points (an AVIF's nclx box); none for sRGB's, or for codes without a defined curve.
    pub fn from_cicp(primaries: u8, transfer: u8) -> Option<ToSrgb> {
        let cicp = CicpProfile {
            color_primaries: CicpColorPrimaries::try_from(primaries).ok()?,
            transfer_characteristics: TransferCharacteristics::try_from(transfer).ok()?,
            // The matrix only matters for YCbCr, and libheif has converted to RGB already.
            matrix_coefficients: MatrixCoefficients::Bt709,
            full_range: true,
        };
        let undefined = matches!(
            cicp.color_primaries,
            CicpColorPrimaries::Reserved | CicpColorPrimaries::Unspecified
        ) || matches!(
            cicp.transfer_characteristics,
            TransferCharacteristics::Reserved | TransferCharacteristics::Unspecified
        );
        if undefined {
            return None;
        }
        let mut profile = ColorProfile::new_srgb();
        // Its return value is false even when it rewrites the profile: the guard above is what
        // makes sure it can.
        profile.update_rgb_colorimetry_from_cicp(cicp);
        Self::from_profile(&profile)
    }

    fn from_profile(profile: &ColorProfile) -> Option<ToSrgb> {
        if profile.color_space != DataColorSpace::Rgb {
            return None;
        }
        let srgb = ColorProfile::new_srgb();
        let make = |layout| {
            profile
                .create_transform_8bit(layout, &srgb, layout, TransformOptions::default())
                .ok()
        };
        let rgb = make(Layout::Rgb)?;
        if is_identity(rgb.as_ref()) {
            return None;
        }
        Some(ToSrgb {
            rgb,
            rgba: make(Layout::Rgba)?,
        })
    }

    /// Converts `bitmap` in place.
    pub fn apply(&self, bitmap: &mut Bitmap) {
        let (executor, channels) = if bitmap.has_alpha() {
            (&self.rgba, 4)
        } else {
            (&self.rgb, 3)
        };
        let row = bitmap.width() as usize * channels;
        in_rows(&**executor, bitmap.as_bytes_mut(), row);
    }

    /// Converts whole RGB rows of `width` pixels in place.
    pub fn apply_rgb_rows(&self, rows: &mut [u8], width: u32) {
        in_rows(&*self.rgb, rows, width as usize * 3);
    }
}

/// Row by row: the copy each transform needs stays small.
fn in_rows(executor: &Transform8BitExecutor, pixels: &mut [u8], row: usize) {
    let mut source = vec![0u8; row];
    for line in pixels.chunks_exact_mut(row) {
        source.copy_from_slice(line);
        // Both rows have the layout the executor was made for, so it cannot fail.
        let _ = executor.transform(&source, line);
    }
}

/// Whether `transform` leaves colours as they are: an embedded sRGB profile (phones and cameras
/// embed one often), whatever its exact bytes. Checked on a lattice of colours.
fn is_identity(transform: &Transform8BitExecutor) -> bool {
    let steps = [0u8, 60, 128, 190, 255];
    let mut lattice = Vec::with_capacity(steps.len().pow(3) * 3);
    for r in steps {
        for g in steps {
            for b in steps {
                lattice.extend([r, g, b]);
            }
        }
    }
    let mut out = vec![0u8; lattice.len()];
    transform.transform(&lattice, &mut out).is_ok()
        && lattice.iter().zip(&out).all(|(a, b)| a.abs_diff(*b) <= 1)
}

/// CMYK pixels (ink amounts, 0 = none) to RGB: through the embedded CMYK profile when there is
/// one (print files carry theirs), else by the plain formula.
pub fn cmyk_to_rgb(cmyk: &[u8], icc: Option<&[u8]>) -> Vec<u8> {
    if let Some(transform) = icc
        .and_then(|icc| ColorProfile::new_from_slice(icc).ok())
        .filter(|profile| profile.color_space == DataColorSpace::Cmyk)
        .and_then(|profile| {
            profile
                .create_transform_8bit(
                    Layout::Rgba,
                    &ColorProfile::new_srgb(),
                    Layout::Rgb,
                    TransformOptions::default(),
                )
                .ok()
        })
    {
        let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
        if transform.transform(cmyk, &mut rgb).is_ok() {
            return rgb;
        }
    }
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u16::from(p[3]);
            let channel = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
            [channel(p[0]), channel(p[1]), channel(p[2])]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, RgbImage};

    #[test]
    fn cmyk_without_a_profile_uses_the_formula() {
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 0], None), [255, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255], None), [0, 0, 0]);
        assert_eq!(
            cmyk_to_rgb(&[0, 0, 0, 0], Some(b"not a profile")),
            [255, 255, 255]
        );
    }

    #[test]
    fn srgb_and_broken_profiles_need_no_conversion() {
        let srgb = ColorProfile::new_srgb().encode().unwrap();
        assert!(ToSrgb::from_icc(&srgb).is_none());
        assert!(ToSrgb::from_icc(b"garbage").is_none());
    }

    #[test]
    fn cicp_code_points_make_profiles() {
        // BT.709 primaries with the sRGB curve (13) or BT.709's (1): no conversion worth doing.
        assert!(ToSrgb::from_cicp(1, 13).is_none());
        // Display P3 (primaries 12, sRGB curve) and BT.2020 are not sRGB.
        assert!(ToSrgb::from_cicp(12, 13).is_some());
        assert!(ToSrgb::from_cicp(9, 1).is_some());
        // Unspecified (2) or reserved codes: shown as they are.
        assert!(ToSrgb::from_cicp(2, 2).is_none());
        assert!(ToSrgb::from_cicp(12, 2).is_none());
        assert!(ToSrgb::from_cicp(200, 13).is_none());
    }

    #[test]
    fn display_p3_is_converted_to_srgb() {
        let p3 = ColorProfile::new_display_p3().encode().unwrap();
        let transform = ToSrgb::from_icc(&p3).expect("P3 is not sRGB");
        // Pure P3 red lies outside sRGB: it clips to sRGB red. A P3 mid grey stays grey.
        let mut bitmap = Bitmap::new(DynamicImage::ImageRgb8(
            RgbImage::from_raw(2, 1, vec![255, 0, 0, 128, 128, 128]).unwrap(),
        ));
        transform.apply(&mut bitmap);
        let pixels = bitmap.as_bytes();
        assert!(
            pixels[0] >= 250 && pixels[1] <= 5 && pixels[2] <= 5,
            "{pixels:?}"
        );
        assert!(
            pixels[3..].iter().all(|&c| c.abs_diff(128) <= 2),
            "{pixels:?}"
        );
        // A P3 colour inside sRGB moves: P3 (200, 100, 50) is more saturated than sRGB's.
        let mut orange = Bitmap::new(DynamicImage::ImageRgb8(
            RgbImage::from_raw(1, 1, vec![200, 100, 50]).unwrap(),
        ));
        transform.apply(&mut orange);
        let out = orange.as_bytes();
        assert!(out[0] > 205 && out[2] < 50, "{out:?}");
    }
}
