//! Turns a decoded RGB photo into the network's input, as torchvision's `Resize(256)`,
//! `CenterCrop(224)`, `ToTensor()` and `Normalize(mean, std)` would on a PIL image.

use std::ops::Range;

use super::model::InputConfig;

/// One image ready for the network: `size` × `size` pixels, RGB interleaved (NHWC), normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    size: usize,
    data: Vec<f32>,
}

impl Preprocessed {
    /// From an already preprocessed 3 × `size` × `size` (CHW) tensor's values.
    ///
    /// Panics if `data` does not hold exactly that many values.
    pub fn from_nchw(data: &[f32], size: usize) -> Preprocessed {
        let plane = size * size;
        assert_eq!(data.len(), 3 * plane, "expected 3×{size}×{size} values");
        let data = (0..plane)
            .flat_map(|p| (0..3).map(move |c| data[c * plane + p]))
            .collect();
        Preprocessed { size, data }
    }

    /// Side of the square image.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The values, row by row, three channels per pixel.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// Resizes `rgb` (`width` × `height` pixels, 3 bytes each) so its shorter side is
/// `input.resize_shorter` (bilinear, antialiased when shrinking, like PIL), crops the centre
/// `input.size` square and normalizes it.
///
/// Panics if `rgb` does not hold `width` × `height` × 3 bytes or the image is empty.
pub fn preprocess(rgb: &[u8], width: u32, height: u32, input: &InputConfig) -> Preprocessed {
    let (width, height) = (width as usize, height as usize);
    assert!(width > 0 && height > 0, "empty image");
    assert_eq!(
        rgb.len(),
        width * height * 3,
        "expected {width}×{height} RGB bytes"
    );
    let (short, long) = (width.min(height), width.max(height));
    let resized_long = input.resize_shorter * long / short;
    let (resized_w, resized_h) = match width <= height {
        true => (input.resize_shorter, resized_long),
        false => (resized_long, input.resize_shorter),
    };
    let size = input.size;
    let cols = filter_taps(width, resized_w, centre_crop(resized_w, size));
    let rows = filter_taps(height, resized_h, centre_crop(resized_h, size));

    // Horizontal pass over the source rows the vertical pass reads.
    let first_row = rows.iter().map(|t| t.start).min().unwrap_or(0);
    let end_row = rows
        .iter()
        .map(|t| t.start + t.weights.len())
        .max()
        .unwrap_or(0);
    let mut wide = Vec::with_capacity((end_row - first_row) * size * 3);
    for y in first_row..end_row {
        let row = &rgb[y * width * 3..(y + 1) * width * 3];
        for taps in &cols {
            let mut sum = [0.0f32; 3];
            for (i, w) in taps.weights.iter().enumerate() {
                let pixel = &row[(taps.start + i) * 3..][..3];
                sum.iter_mut()
                    .zip(pixel)
                    .for_each(|(s, &v)| *s += w * f32::from(v));
            }
            wide.extend(sum);
        }
    }

    let scale = std::array::from_fn::<f32, 3, _>(|c| 1.0 / (255.0 * input.std[c]));
    let shift = std::array::from_fn::<f32, 3, _>(|c| input.mean[c] / input.std[c]);
    let row_len = size * 3;
    let mut data = Vec::with_capacity(size * row_len);
    for taps in &rows {
        let mut out = vec![0.0f32; row_len];
        for (i, w) in taps.weights.iter().enumerate() {
            let src = &wide[(taps.start + i - first_row) * row_len..][..row_len];
            out.iter_mut().zip(src).for_each(|(o, s)| *o += w * s);
        }
        data.extend(
            out.iter()
                .enumerate()
                .map(|(i, v)| v * scale[i % 3] - shift[i % 3]),
        );
    }
    Preprocessed { size, data }
}

/// The output indices torchvision's `CenterCrop` keeps (Python rounds halves to even).
fn centre_crop(len: usize, size: usize) -> Range<usize> {
    let start = ((len - size) as f64 / 2.0).round_ties_even() as usize;
    start..start + size
}

/// Source pixels and weights of one output pixel.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// PIL's bilinear resampling weights from `in_len` to `out_len` pixels, for `outputs`: a
/// triangle filter widened by the scale when shrinking, so every source pixel contributes.
fn filter_taps(in_len: usize, out_len: usize, outputs: Range<usize>) -> Vec<Taps> {
    let scale = in_len as f64 / out_len as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale;
    outputs
        .map(|x| {
            let centre = (x as f64 + 0.5) * scale;
            let start = ((centre - support + 0.5).floor().max(0.0)) as usize;
            let end = ((centre + support + 0.5).floor() as usize).min(in_len);
            let weights: Vec<f64> = (start..end)
                .map(|i| (1.0 - ((i as f64 - centre + 0.5) / filter_scale).abs()).max(0.0))
                .collect();
            let total: f64 = weights.iter().sum();
            let weights = weights.iter().map(|w| (w / total) as f32).collect();
            Taps { start, weights }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_config() -> InputConfig {
        InputConfig {
            size: 224,
            resize_shorter: 256,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    #[test]
    fn uniform_image_gives_the_normalized_constant() {
        let config = input_config();
        let (w, h) = (300u32, 271u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|_| [200u8, 100, 0]).collect();
        let out = preprocess(&rgb, w, h, &config);
        assert_eq!(out.size(), 224);
        assert_eq!(out.data().len(), 224 * 224 * 3);
        for (i, &v) in out.data().iter().enumerate() {
            let c = i % 3;
            let expected = ([200.0, 100.0, 0.0][c] / 255.0 - config.mean[c]) / config.std[c];
            assert!((v - expected).abs() < 1e-5, "value {i}: {v} != {expected}");
        }
    }

    #[test]
    fn crop_keeps_the_centre() {
        // A 256×320 image (no resize needed) with a red square at the exact centre.
        let config = input_config();
        let (w, h) = (320usize, 256usize);
        let mut rgb = vec![0u8; w * h * 3];
        for y in 120..136 {
            for x in 152..168 {
                rgb[(y * w + x) * 3] = 255;
            }
        }
        let out = preprocess(&rgb, w as u32, h as u32, &config);
        let red = |x: usize, y: usize| out.data()[(y * 224 + x) * 3];
        let high = (1.0 - config.mean[0]) / config.std[0];
        let low = -config.mean[0] / config.std[0];
        // Crop offsets: (320 - 224) / 2 = 48 and (256 - 224) / 2 = 16.
        assert!((red(152 - 48, 120 - 16) - high).abs() < 1e-5);
        assert!((red(167 - 48, 135 - 16) - high).abs() < 1e-5);
        assert!((red(151 - 48, 120 - 16) - low).abs() < 1e-5);
        assert!((red(0, 0) - low).abs() < 1e-5);
    }

    #[test]
    fn shrinking_averages_like_pil() {
        // Halving a row of alternating 0/255 pixels averages them (antialiasing); a plain
        // two-tap bilinear sample would land on single pixels instead.
        let taps = filter_taps(8, 4, 0..4);
        for t in &taps {
            let total: f32 = t.weights.iter().sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        let row = [0.0f32, 255.0, 0.0, 255.0, 0.0, 255.0, 0.0, 255.0];
        let mid = &taps[1];
        let v: f32 = mid
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| w * row[mid.start + i])
            .sum();
        assert!((v - 127.5).abs() < 1.0, "{v}");
    }

    #[test]
    fn from_nchw_interleaves_channels() {
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let p = Preprocessed::from_nchw(&data, 2);
        assert_eq!(
            p.data(),
            &[0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0]
        );
    }
}
