//! Decoding, upright. JPEG goes through `jpeg-decoder`, whose IDCT can shrink by 1/2, 1/4 or
//! 1/8 while decoding (what vips calls shrink-on-load): a thumbnail of a 16 MP photo then
//! decodes about 250 thousand pixels, not 16 million. PNG, GIF and WebP go through `image`.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageReader, Luma, RgbImage};

use super::{Bitmap, CodecError, SourceFormat};

/// A decoded picture, upright.
#[derive(Debug)]
pub struct Decoded {
    pub bitmap: Bitmap,
    /// The upright size of the picture at full scale, whatever scale it was decoded at.
    pub full_size: (u32, u32),
}

/// Decodes `bytes` (already probed as `format`) and turns it upright. With `at_least`, a JPEG
/// may come out smaller than stored, but never smaller than that (upright) size.
pub fn decode(
    bytes: &[u8],
    format: SourceFormat,
    at_least: Option<(u32, u32)>,
) -> Result<Decoded, CodecError> {
    let (mut image, stored_size, orientation) = match format {
        SourceFormat::Jpeg => jpeg(bytes, at_least)?,
        other => with_image(bytes, other)?,
    };
    image.apply_orientation(orientation);
    let full_size = if transposes(orientation) {
        (stored_size.1, stored_size.0)
    } else {
        stored_size
    };
    Ok(Decoded {
        bitmap: Bitmap::new(image),
        full_size,
    })
}

type Raw = (DynamicImage, (u32, u32), Orientation);

fn jpeg(bytes: &[u8], at_least: Option<(u32, u32)>) -> Result<Raw, CodecError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(CodecError::corrupt)?;
    let stored = decoder
        .info()
        .ok_or_else(|| CodecError::corrupt("no frame header"))?;
    let stored_size = (u32::from(stored.width), u32::from(stored.height));
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    if let Some((width, height)) = at_least {
        let (width, height) = if transposes(orientation) {
            (height, width)
        } else {
            (width, height)
        };
        let clamp = |side: u32| u16::try_from(side).unwrap_or(u16::MAX);
        decoder
            .scale(clamp(width), clamp(height))
            .map_err(CodecError::corrupt)?;
    }
    let pixels = decoder.decode().map_err(CodecError::corrupt)?;
    let info = decoder.info().expect("known once decoded");
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let short = || CodecError::corrupt("fewer pixels than the header claims");
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(width, height, pixels).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::L16 => {
            let samples = pixels
                .chunks_exact(2)
                .map(|pair| u16::from_ne_bytes([pair[0], pair[1]]))
                .collect();
            DynamicImage::ImageLuma16(
                ImageBuffer::<Luma<u16>, _>::from_raw(width, height, samples).ok_or_else(short)?,
            )
        }
        jpeg_decoder::PixelFormat::RGB24 => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::CMYK32 => DynamicImage::ImageRgb8(
            RgbImage::from_raw(width, height, cmyk_to_rgb(&pixels)).ok_or_else(short)?,
        ),
    };
    Ok((image, stored_size, orientation))
}

/// Plain CMYK to RGB, without a colour profile: good enough to show a print-ready file.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u16::from(p[3]);
            let channel = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
            [channel(p[0]), channel(p[1]), channel(p[2])]
        })
        .collect()
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
        SourceFormat::Jpeg => unreachable!("JPEG has its own decoder"),
    };
    // `image`'s default allocation limit (512 MiB) stays on: the probe checked the size a header
    // claims, this also stops a frame or chunk that asks for more than its header says.
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let size = (image.width(), image.height());
    Ok((image, size, orientation))
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
    fn cmyk_becomes_rgb() {
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 0]), [255, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255]), [0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0]), [255, 255, 255]);
    }
}
