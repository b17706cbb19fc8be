//! Images made by the tests themselves: every awkward kind of upload, built byte by byte where
//! no encoder makes it.

use std::io::Cursor;

use image::{ImageBuffer, Rgba};

pub const RED: [u8; 3] = [255, 0, 0];
pub const GREEN: [u8; 3] = [0, 255, 0];
pub const BLUE: [u8; 3] = [0, 0, 255];
pub const WHITE: [u8; 3] = [255, 255, 255];

/// A baseline JPEG (4:4:4, q95) of `pixel(x, y)`.
pub fn jpeg(width: u16, height: u16, pixel: impl Fn(u16, u16) -> [u8; 3]) -> Vec<u8> {
    encode_jpeg(width, height, pixel, Vec::new())
}

/// A JPEG whose EXIF says how to turn it upright (1 to 8).
pub fn jpeg_oriented(
    width: u16,
    height: u16,
    orientation: u16,
    pixel: impl Fn(u16, u16) -> [u8; 3],
) -> Vec<u8> {
    // "Exif\0\0", then a big-endian TIFF header and one IFD with a single SHORT entry: 0x0112.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend(1u16.to_be_bytes());
    exif.extend(0x0112u16.to_be_bytes());
    exif.extend(3u16.to_be_bytes());
    exif.extend(1u32.to_be_bytes());
    exif.extend(orientation.to_be_bytes());
    exif.extend([0, 0]);
    exif.extend(0u32.to_be_bytes());
    encode_jpeg(width, height, pixel, vec![exif])
}

fn encode_jpeg(
    width: u16,
    height: u16,
    pixel: impl Fn(u16, u16) -> [u8; 3],
    app1: Vec<Vec<u8>>,
) -> Vec<u8> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .flat_map(|(x, y)| pixel(x, y))
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    for segment in app1 {
        encoder.add_app_segment(1, segment).unwrap();
    }
    encoder
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// A CMYK JPEG (Adobe's inverted convention, as Photoshop writes it) of one colour.
pub fn cmyk_jpeg(width: u16, height: u16, cmyk: [u8; 4]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
        .flat_map(|_| cmyk)
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    out
}

/// A 16-bit RGBA PNG: the left half opaque red, the right half fully transparent.
pub fn png16_half_transparent(width: u32, height: u32) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgba([u16::MAX, 0, 0, u16::MAX])
        } else {
            Rgba([0, 0, u16::MAX, 0])
        }
    });
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb(GREEN))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// An animated GIF of `frames` 2×2 frames.
pub fn gif(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
        encoder
            .encode_frames((0..frames).map(|i| {
                image::Frame::new(image::RgbaImage::from_pixel(
                    2,
                    2,
                    Rgba([(i % 256) as u8, 0, 0, 255]),
                ))
            }))
            .unwrap();
    }
    out
}

/// A PNG that is only its signature and a header claiming `width`×`height`, then one empty
/// IDAT and IEND: what a decompression bomb starts with.
pub fn png_header_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    for (kind, data) in [(*b"IHDR", header), (*b"IDAT", vec![]), (*b"IEND", vec![])] {
        out.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(&data);
        out.extend(&chunk);
        out.extend(crc32(&chunk).to_be_bytes());
    }
    out
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

/// An empty ZIP archive (only its end-of-central-directory record), as if renamed `.jpg`.
pub fn zip() -> Vec<u8> {
    let mut out = b"PK\x05\x06".to_vec();
    out.extend([0u8; 18]);
    out
}

pub fn svg() -> Vec<u8> {
    br#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>"#
        .to_vec()
}

/// The pixels of served bytes, as RGBA, whatever the format.
pub fn pixels(bytes: &[u8]) -> image::RgbaImage {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        let rgb = decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        let rgb = image::RgbImage::from_raw(info.width.into(), info.height.into(), rgb).unwrap();
        return image::DynamicImage::ImageRgb8(rgb).into_rgba8();
    }
    image::load_from_memory(bytes).unwrap().into_rgba8()
}

/// Whether two colours are within `tolerance` on every channel.
pub fn near(actual: &Rgba<u8>, expected: [u8; 3], tolerance: u8) -> bool {
    actual.0[..3]
        .iter()
        .zip(expected)
        .all(|(a, e)| a.abs_diff(e) <= tolerance)
}

/// A Display P3 ICC profile, as phones embed it.
pub fn display_p3() -> Vec<u8> {
    moxcms::ColorProfile::new_display_p3().encode().unwrap()
}

/// A JPEG of one colour carrying the ICC profile `icc`.
pub fn jpeg_with_profile(width: u16, height: u16, rgb: [u8; 3], icc: &[u8]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
        .flat_map(|_| rgb)
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    encoder.add_icc_profile(icc).unwrap();
    encoder
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// An animated GIF of `frames` frames of `width`×`height`, red, green, blue and so on, 100 ms each.
pub fn animated_gif(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
        encoder
            .encode_frames((0..frames).map(|i| {
                let [r, g, b] = [RED, GREEN, BLUE][i % 3];
                image::Frame::from_parts(
                    image::RgbaImage::from_pixel(width.into(), height.into(), Rgba([r, g, b, 255])),
                    0,
                    0,
                    image::Delay::from_numer_denom_ms(100, 1),
                )
            }))
            .unwrap();
    }
    out
}

/// The frames of an animated WebP.
pub fn webp_frames(bytes: &[u8]) -> Vec<image::RgbaImage> {
    use image::AnimationDecoder;
    image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .map(|frame| frame.unwrap().into_buffer())
        .collect()
}

/// The size an AVIF file declares (its `ispe` property), read without decoding it.
pub fn avif_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[4..8], b"ftyp", "not an ISO-BMFF file");
    let at = bytes
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("an ispe property");
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    // The box type, then its version and flags, then width and height.
    (word(at + 8), word(at + 12))
}

/// A file under `tests/fixtures/images` (see the README there for how each was made).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
