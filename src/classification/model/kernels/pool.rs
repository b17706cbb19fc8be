//! Global average pooling, NHWC.

/// Means over the `pixels` rows of each image: `input` is images × pixels × channels.
pub fn global_average_pool(input: &[f32], pixels: usize, channels: usize) -> Vec<f32> {
    assert!(
        pixels > 0 && input.len().is_multiple_of(pixels * channels),
        "input is not N×pixels×C"
    );
    let scale = 1.0 / pixels as f32;
    input
        .chunks_exact(pixels * channels)
        .flat_map(|image| {
            let mut sum = vec![0.0f32; channels];
            for pixel in image.chunks_exact(channels) {
                sum.iter_mut().zip(pixel).for_each(|(s, &x)| *s += x);
            }
            sum.into_iter().map(move |s| s * scale)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, candle_nhwc, random};
    use super::*;

    #[test]
    fn matches_candle_mean() {
        let (n, h, w, c) = (3, 7, 5, 19);
        let x = random(n * h * w * c, 41, 3.0);
        let expected = candle_nhwc(&x, n, h, w, c).mean((2, 3)).unwrap();
        let expected: Vec<f32> = expected.flatten_all().unwrap().to_vec1().unwrap();
        assert_close(&global_average_pool(&x, h * w, c), &expected, 1e-5, "pool");
    }
}
