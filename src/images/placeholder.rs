//! What a listing page paints before the picture arrives: a BlurHash (a 4×3 blur of the
//! picture, about 28 characters) and the dominant colour, computed at registration from the
//! small decode that checks the upload anyway.

use serde::Serialize;

use super::codec::Bitmap;

/// Side of the thumbnail both are computed from: a BlurHash has 12 components; more pixels
/// change nothing visible and cost time.
const THUMBNAIL: u32 = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Placeholder {
    /// A BlurHash (4×3 components), e.g. `LEHV6nWB2yk8pyo0adR*.7kCMdnj`.
    pub blurhash: String,
    /// The colour most of the picture is, `#rrggbb`.
    pub color: String,
}

impl Placeholder {
    /// Of the picture in `bitmap`, transparency flattened on white (as JPEG renditions are).
    pub fn of(bitmap: &Bitmap) -> Placeholder {
        let mut thumbnail = bitmap.thumbnail_rgba(THUMBNAIL);
        for pixel in thumbnail.pixels_mut() {
            let [r, g, b, a] = pixel.0;
            let over_white =
                |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8;
            pixel.0 = [over_white(r), over_white(g), over_white(b), 255];
        }
        let (width, height) = thumbnail.dimensions();
        let blurhash = blurhash::encode(4, 3, width, height, thumbnail.as_raw())
            .expect("4×3 components are within 1 to 9");
        Placeholder {
            blurhash,
            color: dominant(thumbnail.as_raw()),
        }
    }
}

/// The mean colour of the most common of 4,096 colour buckets (4 bits a channel), so a red
/// mug on a white table is white, not pink.
fn dominant(rgba: &[u8]) -> String {
    let mut buckets = vec![(0u32, [0u64; 3]); 4096];
    for pixel in rgba.chunks_exact(4) {
        let index = (usize::from(pixel[0] >> 4) << 8)
            | (usize::from(pixel[1] >> 4) << 4)
            | usize::from(pixel[2] >> 4);
        let (count, sum) = &mut buckets[index];
        *count += 1;
        for (total, &channel) in sum.iter_mut().zip(&pixel[..3]) {
            *total += u64::from(channel);
        }
    }
    let (count, sum) = buckets
        .iter()
        .max_by_key(|(count, _)| *count)
        .copied()
        .unwrap_or((1, [255; 3]));
    let mean = |channel: usize| sum[channel] / u64::from(count.max(1));
    format!("#{:02x}{:02x}{:02x}", mean(0), mean(1), mean(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, Rgba, RgbaImage};

    fn bitmap(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Bitmap {
        Bitmap::new(DynamicImage::ImageRgba8(RgbaImage::from_fn(
            width,
            height,
            |x, y| Rgba(pixel(x, y)),
        )))
    }

    /// The average colour a BlurHash decodes to.
    fn decoded_average(hash: &str) -> [u32; 3] {
        let pixels = blurhash::decode(hash, 16, 16, 1.0).unwrap();
        let mut sum = [0u32; 3];
        for pixel in pixels.chunks_exact(4) {
            for (total, &channel) in sum.iter_mut().zip(&pixel[..3]) {
                *total += u32::from(channel);
            }
        }
        sum.map(|total| total / 256)
    }

    #[test]
    fn the_blurhash_decodes_to_the_pictures_average_colour() {
        // Left half orange, right half teal: the average is a greyish mix of the two.
        let placeholder = Placeholder::of(&bitmap(200, 100, |x, _| {
            if x < 100 {
                [240, 130, 20, 255]
            } else {
                [20, 130, 140, 255]
            }
        }));
        let average = decoded_average(&placeholder.blurhash);
        // Averaged in linear light by BlurHash, so brighter than the sRGB mean.
        for (channel, (got, low, high)) in [
            (average[0], 120, 175),
            (average[1], 120, 145),
            (average[2], 70, 110),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(
                (low..=high).contains(&got),
                "channel {channel}: {got} ({placeholder:?})"
            );
        }
    }

    #[test]
    fn the_colour_is_what_most_of_the_picture_is() {
        // A red square on a large white ground.
        let placeholder = Placeholder::of(&bitmap(100, 100, |x, y| {
            if (40..60).contains(&x) && (40..60).contains(&y) {
                [200, 20, 20, 255]
            } else {
                [250, 250, 250, 255]
            }
        }));
        assert_eq!(placeholder.color, "#fafafa");
        let transparent = Placeholder::of(&bitmap(10, 10, |_, _| [0, 0, 0, 0]));
        assert_eq!(transparent.color, "#ffffff", "flattened on white");
    }
}
