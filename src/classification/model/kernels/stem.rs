//! The first layer: a full 3×3 convolution, stride 2, padding 1, from RGB, with ReLU6; NHWC.

use std::ops::Range;

use super::simd::{Isa, Kernel, Lanes, Scalar};

const IN_CHANNELS: usize = 3;
const TAPS: usize = 9 * IN_CHANNELS;
const STRIDE: usize = 2;

#[derive(Debug, Clone)]
pub struct Stem {
    /// `[ky][kx][input channel][output channel]`, so one vector load gets neighbouring outputs.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Stem {
    /// `weight` in PyTorch's layout, outputs × 3 × 3 × 3.
    pub fn new(weight: &[f32], bias: Vec<f32>) -> Self {
        let outputs = bias.len();
        assert_eq!(weight.len(), outputs * TAPS, "stem weight is not C×3×3×3");
        let weight = (0..TAPS)
            .flat_map(|tap| {
                // `tap` enumerates [ky][kx][ci]; PyTorch's order is [out][ci][ky][kx].
                let (ky, kx, ci) = (
                    tap / (3 * IN_CHANNELS),
                    tap / IN_CHANNELS % 3,
                    tap % IN_CHANNELS,
                );
                (0..outputs).map(move |o| weight[o * TAPS + ci * 9 + ky * 3 + kx])
            })
            .collect();
        Self { weight, bias }
    }

    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// Output side for an input side `n`.
    pub fn out_len(n: usize) -> usize {
        (n - 1) / STRIDE + 1
    }

    /// Writes output rows `out_rows` of one `height` × `width` RGB image into `out`.
    pub fn run(
        &self,
        isa: Isa,
        image: &[f32],
        height: usize,
        out_rows: Range<usize>,
        out: &mut [f32],
    ) {
        let width = image.len() / (height * IN_CHANNELS);
        assert_eq!(image.len(), height * width * IN_CHANNELS);
        assert_eq!(
            out.len(),
            out_rows.len() * Self::out_len(width) * self.outputs()
        );
        isa.dispatch(StemRows {
            stem: self,
            image,
            height,
            width,
            out_rows,
            out,
        });
    }
}

struct StemRows<'a> {
    stem: &'a Stem,
    image: &'a [f32],
    height: usize,
    width: usize,
    out_rows: Range<usize>,
    out: &'a mut [f32],
}

impl Kernel for StemRows<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Lanes>(mut self, s: S) {
        let outputs = self.stem.outputs();
        let vector_end = outputs - outputs % S::N;
        let row_len = Stem::out_len(self.width) * outputs;
        let out = std::mem::take(&mut self.out);
        for (y, out_row) in self.out_rows.clone().zip(out.chunks_exact_mut(row_len)) {
            self.row(s, y, out_row, 0..vector_end);
            self.row(Scalar, y, out_row, vector_end..outputs);
        }
    }
}

impl StemRows<'_> {
    /// Output channels `channels` (a multiple of `S::N` long) of output row `y`.
    #[inline(always)]
    fn row<S: Lanes>(&self, s: S, y: usize, out: &mut [f32], channels: Range<usize>) {
        let outputs = self.stem.outputs();
        let out_width = out.len() / outputs;
        // Pixels whose three input columns all lie inside the image.
        let inner_end = (self.width.saturating_sub(2) / STRIDE + 1).clamp(1, out_width);
        for c0 in channels.step_by(S::N) {
            let mut ox = self.groups::<S, 8>(s, y, 1..inner_end, c0, out);
            ox = self.groups::<S, 4>(s, y, ox..inner_end, c0, out);
            ox = self.groups::<S, 1>(s, y, ox..inner_end, c0, out);
            for ox in (0..1.min(out_width)).chain(ox..out_width) {
                let left = (ox * STRIDE) as isize - 1;
                let columns = (-left).max(0) as usize..(self.width as isize - left).min(3) as usize;
                let acc = self.taps(
                    s,
                    y,
                    left.max(0) as usize,
                    columns,
                    c0,
                    [s.load(&self.stem.bias[c0..])],
                );
                s.store(&mut out[ox * outputs + c0..], s.relu6(acc[0]));
            }
        }
    }

    /// Interior pixels from `pixels.start` in groups of `P`, computed together so that their
    /// accumulations overlap in the pipeline; returns the first pixel left over.
    #[inline(always)]
    fn groups<S: Lanes, const P: usize>(
        &self,
        s: S,
        y: usize,
        pixels: Range<usize>,
        c0: usize,
        out: &mut [f32],
    ) -> usize {
        let outputs = self.stem.outputs();
        let mut ox = pixels.start;
        while ox + P <= pixels.end {
            let bias = [s.load(&self.stem.bias[c0..]); P];
            let acc = self.taps(s, y, ox * STRIDE - 1, 0..3, c0, bias);
            for (p, acc) in acc.into_iter().enumerate() {
                s.store(&mut out[(ox + p) * outputs + c0..], s.relu6(acc));
            }
            ox += P;
        }
        ox
    }

    /// Adds to `acc` the taps in `columns` of `P` pixels side by side, the first of whose
    /// leftmost input column (inside the image) is `left`.
    #[inline(always)]
    fn taps<S: Lanes, const P: usize>(
        &self,
        s: S,
        y: usize,
        left: usize,
        columns: Range<usize>,
        c0: usize,
        mut acc: [S::V; P],
    ) -> [S::V; P] {
        let outputs = self.stem.outputs();
        let top = (y * STRIDE) as isize - 1;
        let rows = (-top).max(0) as usize..(self.height as isize - top).min(3) as usize;
        let skipped = columns.start;
        let span = ((P - 1) * STRIDE + columns.len()) * IN_CHANNELS;
        for ky in rows {
            let start = ((top + ky as isize) as usize * self.width + left) * IN_CHANNELS;
            let row = &self.image[start..start + span];
            for kx in columns.clone() {
                for ci in 0..IN_CHANNELS {
                    let tap = (ky * 3 + kx) * IN_CHANNELS + ci;
                    let w = s.load(&self.stem.weight[tap * outputs + c0..]);
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let x = (p * STRIDE + kx - skipped) * IN_CHANNELS + ci;
                        // SAFETY: `x < span`, the length of `row`.
                        let x = unsafe { *row.get_unchecked(x) };
                        *acc = s.mul_add(s.splat(x), w, *acc);
                    }
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, candle_nhwc, random};
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matches_candle_conv2d_on_every_isa_and_odd_size() {
        for isa in Isa::all_available() {
            for (h, w, c) in [(224, 224, 32), (9, 7, 32), (2, 1, 5), (11, 14, 40)] {
                let x = random(h * w * 3, 31, 2.0);
                let wt = random(c * 27, 32, 1.0);
                let b = random(c, 33, 1.0);
                let stem = Stem::new(&wt, b.clone());
                let (oh, ow) = (Stem::out_len(h), Stem::out_len(w));
                let mut out = vec![f32::NAN; oh * ow * c];
                stem.run(isa, &x, h, 0..oh, &mut out);

                let kernel = Tensor::from_slice(&wt, (c, 3, 3, 3), &Device::Cpu).unwrap();
                let bias = Tensor::from_slice(&b, (1, c, 1, 1), &Device::Cpu).unwrap();
                let y = candle_nhwc(&x, 1, h, w, 3)
                    .conv2d(&kernel, 1, 2, 1, 1)
                    .unwrap();
                let y = y.broadcast_add(&bias).unwrap().clamp(0f32, 6f32).unwrap();
                let y = y.permute((0, 2, 3, 1)).unwrap().flatten_all().unwrap();
                let expected: Vec<f32> = y.to_vec1().unwrap();
                assert_close(&out, &expected, 1e-5, &format!("{isa:?} {h}x{w}x{c}"));
            }
        }
    }
}
