//! Helpers for the kernel tests.

use candle_core::{Device, Tensor};

/// Deterministic uniform values in [-scale, scale) (xorshift; no extra dependency).
pub fn random(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// An NHWC slice as the NCHW tensor candle's convolutions take.
pub fn candle_nhwc(x: &[f32], n: usize, h: usize, w: usize, c: usize) -> Tensor {
    let t = Tensor::from_slice(x, (n, h, w, c), &Device::Cpu).unwrap();
    t.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap()
}

pub fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let (i, diff) = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .enumerate()
        .fold((0, 0.0f32), |best, (i, d)| {
            if d > best.1 || d.is_nan() {
                (i, d)
            } else {
                best
            }
        });
    assert!(
        diff <= tolerance,
        "{what}: element {i} is {} but expected {} (relative diff {diff})",
        actual[i],
        expected[i]
    );
}
