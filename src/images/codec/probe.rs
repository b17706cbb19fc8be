//! What an upload is, from its first bytes and headers, before anything is decoded: the
//! format by its magic number (never by name or `Content-Type`), the pixel size a header
//! claims, the number of frames. A PNG that claims 100000×100000 is refused here, before a
//! decoder could allocate for it.

use std::io::Cursor;

use super::{CodecError, Limits, SourceFormat, heif};

const ACCEPTED: &str = "sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: SourceFormat,
    /// As stored, before any EXIF rotation (for AVIF and HEIC, as shown: their rotation is
    /// part of the container).
    pub width: u32,
    pub height: u32,
}

/// Recognises the format and checks the pixel and frame limits.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, CodecError> {
    let format = sniff(bytes)?;
    let (width, height) = match format {
        SourceFormat::Jpeg => {
            let mut decoder = jpeg_decoder::Decoder::new(bytes);
            decoder.read_info().map_err(CodecError::corrupt)?;
            let info = decoder
                .info()
                .ok_or_else(|| CodecError::corrupt("no frame header"))?;
            (u32::from(info.width), u32::from(info.height))
        }
        // IHDR always comes first; its size is all that is needed here.
        SourceFormat::Png => match (bytes.get(12..16), bytes.get(16..20), bytes.get(20..24)) {
            (Some(b"IHDR"), Some(width), Some(height)) => (be_u32(width), be_u32(height)),
            _ => {
                return Err(CodecError::corrupt(
                    "the PNG does not start with its header",
                ));
            }
        },
        SourceFormat::Gif => {
            let (width, height, frames) = gif_frames(bytes, limits.max_frames)?;
            check_frames(frames, limits)?;
            (width, height)
        }
        SourceFormat::Webp => {
            let decoder =
                image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(CodecError::corrupt)?;
            check_frames(u64::from(decoder.num_frames()), limits)?;
            decoder.dimensions()
        }
        SourceFormat::Avif | SourceFormat::Heic => heif::dimensions(bytes)?,
    };
    if width == 0 || height == 0 {
        return Err(CodecError::corrupt("it has no pixels"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(CodecError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(Probe {
        format,
        width,
        height,
    })
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().expect("four bytes"))
}

fn check_frames(frames: u64, limits: &Limits) -> Result<(), CodecError> {
    if frames > u64::from(limits.max_frames) {
        return Err(CodecError::TooManyFrames {
            limit: limits.max_frames,
        });
    }
    Ok(())
}

/// The GIF's screen size and its frames, counted without decoding them and only up to one past
/// `max_frames`: a file of thousands of frames costs no more than one of `max_frames + 1`.
fn gif_frames(bytes: &[u8], max_frames: u32) -> Result<(u32, u32, u64), CodecError> {
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(bytes).map_err(CodecError::corrupt)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    let mut frames = 0u64;
    while frames <= u64::from(max_frames)
        && decoder
            .next_frame_info()
            .map_err(CodecError::corrupt)?
            .is_some()
    {
        frames += 1;
    }
    if frames == 0 {
        return Err(CodecError::corrupt("the GIF has no frame"));
    }
    Ok((width, height, frames))
}

/// The format of `bytes` by their magic number; what is not an image sous reads is named.
pub fn sniff(bytes: &[u8]) -> Result<SourceFormat, CodecError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(SourceFormat::Gif);
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(SourceFormat::Webp);
    }
    if let Some(format) = heif_brand(bytes) {
        return Ok(format);
    }
    let what = if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        "a ZIP archive, not an image".to_string()
    } else if looks_like_svg(bytes) {
        // Scripts inside would run on sous's origin, and it has no pixel size to resize.
        "SVG, which is not accepted: it can carry scripts".to_string()
    } else if bytes.get(4..8) == Some(b"ftyp") {
        "an ISO media file (a video?) that is neither AVIF nor HEIC".to_string()
    } else if bytes.is_empty() {
        "empty".to_string()
    } else {
        "not an image sous can read".to_string()
    };
    Err(CodecError::Unsupported(format!(
        "the upload is {what}; {ACCEPTED}"
    )))
}

/// AVIF or HEIC, by the brands of the leading `ftyp` box: the major brand and the compatible
/// ones (an AVIF often has the major brand `mif1` and `avif` among the others). Generic HEIF
/// (`mif1` alone) is left to libheif, which reads whichever codec is inside.
fn heif_brand(bytes: &[u8]) -> Option<SourceFormat> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let size = usize::try_from(be_u32(bytes.get(0..4)?)).ok()?;
    let ftyp = bytes.get(8..size.min(bytes.len()))?;
    // Major brand, minor version, then compatible brands.
    let brands: Vec<&[u8]> = ftyp
        .chunks_exact(4)
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, brand)| brand)
        .collect();
    let has = |names: &[&[u8; 4]]| brands.iter().any(|b| names.iter().any(|n| *b == *n));
    if has(&[b"avif", b"avis"]) {
        Some(SourceFormat::Avif)
    } else if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
    ]) {
        Some(SourceFormat::Heic)
    } else {
        None
    }
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with('<') && head.contains("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_pixels: 10_000,
        max_frames: 3,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn unsupported(bytes: &[u8]) -> String {
        match probe(bytes, &LIMITS) {
            Err(CodecError::Unsupported(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_are_known_by_their_magic_numbers() {
        let probe = probe(&png(100, 100), &LIMITS).unwrap();
        assert_eq!(
            probe,
            Probe {
                format: SourceFormat::Png,
                width: 100,
                height: 100
            }
        );
        assert_eq!(
            unsupported(b"PK\x03\x04\x14\x00rest of a zip"),
            "the upload is a ZIP archive, not an image; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC"
        );
        assert_eq!(
            unsupported(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "the upload is SVG, which is not accepted: it can carry scripts; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC"
        );
        assert!(unsupported(b"\0\0\0\x14ftypisom\0\0\0\0mp41").contains("neither AVIF nor HEIC"));
        assert!(unsupported(b"").contains("empty"));
        assert!(unsupported(b"hello").contains("not an image"));
    }

    #[test]
    fn heif_files_are_known_by_their_brands() {
        let ftyp = |brands: &[u8]| {
            let mut bytes = (8 + brands.len() as u32).to_be_bytes().to_vec();
            bytes.extend(b"ftyp");
            bytes.extend(brands);
            bytes
        };
        let brand = |brands: &[u8]| heif_brand(&ftyp(brands));
        assert_eq!(brand(b"avif\0\0\0\0mif1miaf"), Some(SourceFormat::Avif));
        assert_eq!(brand(b"mif1\0\0\0\0mif1avifmiaf"), Some(SourceFormat::Avif));
        assert_eq!(brand(b"heic\0\0\0\0mif1heic"), Some(SourceFormat::Heic));
        assert_eq!(brand(b"mif1\0\0\0\0mif1heic"), Some(SourceFormat::Heic));
        assert_eq!(brand(b"isom\0\0\0\0isomavc1"), None);
        // The minor version is not a brand, and brands past the box's end do not count.
        assert_eq!(brand(b"isomavif"), None);
        let mut cut = ftyp(b"isom\0\0\0\0isom");
        cut.extend(b"avif");
        assert_eq!(heif_brand(&cut), None);
    }

    #[test]
    fn pixels_are_limited_at_and_past_the_limit() {
        assert!(probe(&png(100, 100), &LIMITS).is_ok());
        let err = probe(&png(101, 100), &LIMITS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the image is 101×100 pixels (10100); the limit is 10000 pixels"
        );
    }

    #[test]
    fn heif_pixels_are_counted_from_the_container() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/images/meal.heic"
        );
        let bytes = std::fs::read(path).unwrap();
        let fits = Limits {
            max_pixels: 160 * 120,
            ..LIMITS
        };
        assert_eq!(
            probe(&bytes, &fits).unwrap(),
            Probe {
                format: SourceFormat::Heic,
                width: 160,
                height: 120
            }
        );
        let one_short = Limits {
            max_pixels: 160 * 120 - 1,
            ..LIMITS
        };
        assert!(matches!(
            probe(&bytes, &one_short),
            Err(CodecError::TooManyPixels {
                width: 160,
                height: 120,
                ..
            })
        ));
    }

    #[test]
    fn a_header_is_enough_to_refuse() {
        // A valid PNG header claiming 100000×100000, and nothing after it.
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        bytes.extend(13u32.to_be_bytes());
        bytes.extend(&ihdr);
        bytes.extend(crc32(&ihdr).to_be_bytes());
        assert!(matches!(
            probe(&bytes, &LIMITS),
            Err(CodecError::TooManyPixels {
                width: 100_000,
                height: 100_000,
                ..
            })
        ));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn gif(frames: usize) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
            let frames = (0..frames).map(|i| {
                image::Frame::new(image::RgbaImage::from_pixel(
                    2,
                    2,
                    image::Rgba([i as u8, 0, 0, 255]),
                ))
            });
            encoder.encode_frames(frames).unwrap();
        }
        out
    }

    #[test]
    fn frames_are_limited_at_and_past_the_limit() {
        assert!(probe(&gif(3), &LIMITS).is_ok());
        assert_eq!(
            probe(&gif(4), &LIMITS).unwrap_err().to_string(),
            "the animation has more than 3 frames, the limit"
        );
    }

    #[test]
    fn a_truncated_header_is_corrupt() {
        let bytes = png(10, 10);
        assert!(matches!(
            probe(&bytes[..20], &LIMITS),
            Err(CodecError::Corrupt(_))
        ));
        assert!(matches!(
            probe(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16], &LIMITS),
            Err(CodecError::Corrupt(_))
        ));
    }
}
