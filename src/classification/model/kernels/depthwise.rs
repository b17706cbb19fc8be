//! Depthwise 3×3 convolution (padding 1, stride 1 or 2) with bias and ReLU6, NHWC.

use std::ops::Range;

use super::simd::{Isa, Kernel, Lanes, Scalar};

/// Consecutive rows of one NHWC image: `data` starts at image row `first`; the image is
/// `height` × `width` pixels in all, of `channels` values each.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub first: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl<'a> Rows<'a> {
    pub fn whole(data: &'a [f32], height: usize, width: usize, channels: usize) -> Self {
        Self {
            data,
            first: 0,
            height,
            width,
            channels,
        }
    }

    /// Image row `y`, or `None` where `y` falls in the zero padding.
    fn row(&self, y: isize) -> Option<&'a [f32]> {
        let y = usize::try_from(y).ok().filter(|&y| y < self.height)?;
        let len = self.width * self.channels;
        let start = (y - self.first) * len;
        Some(&self.data[start..start + len])
    }
}

#[derive(Debug, Clone)]
pub struct Depthwise {
    stride: usize,
    /// Tap-major (`[ky][kx][channel]`), so one vector load gets neighbouring channels.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Depthwise {
    /// `weight` in PyTorch's layout, channels × 1 × 3 × 3.
    pub fn new(weight: &[f32], bias: Vec<f32>, stride: usize) -> Self {
        let channels = bias.len();
        assert_eq!(
            weight.len(),
            channels * 9,
            "depthwise weight is not C×1×3×3"
        );
        assert!(
            stride == 1 || stride == 2,
            "depthwise stride must be 1 or 2"
        );
        let weight = (0..9)
            .flat_map(|tap| (0..channels).map(move |c| weight[c * 9 + tap]))
            .collect();
        Self {
            stride,
            weight,
            bias,
        }
    }

    pub fn channels(&self) -> usize {
        self.bias.len()
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Output side for an input side `n`.
    pub fn out_len(&self, n: usize) -> usize {
        (n - 1) / self.stride + 1
    }

    /// Image rows an output row range reads (before clipping to the image).
    pub fn input_rows(&self, out_rows: &Range<usize>) -> Range<usize> {
        (out_rows.start * self.stride).saturating_sub(1)..(out_rows.end - 1) * self.stride + 2
    }

    /// Writes output rows `out_rows` into `out`, which holds exactly those rows.
    pub fn run(&self, isa: Isa, input: Rows<'_>, out_rows: Range<usize>, out: &mut [f32]) {
        assert_eq!(input.channels, self.channels());
        let row_len = self.out_len(input.width) * self.channels();
        assert_eq!(out.len(), out_rows.len() * row_len);
        isa.dispatch(DepthwiseRows {
            dw: self,
            input,
            out_rows,
            out,
        });
    }
}

struct DepthwiseRows<'a, 'b> {
    dw: &'a Depthwise,
    input: Rows<'a>,
    out_rows: Range<usize>,
    out: &'b mut [f32],
}

impl Kernel for DepthwiseRows<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Lanes>(self, s: S) -> Self::Output {
        let c = self.dw.channels();
        let row_len = self.out.len() / self.out_rows.len().max(1);
        let vector_end = c - c % S::N;
        for (y, out_row) in self.out_rows.zip(self.out.chunks_exact_mut(row_len)) {
            let top = (y * self.dw.stride) as isize - 1;
            let taps = [top, top + 1, top + 2].map(|iy| self.input.row(iy));
            let mut row = OutputRow {
                dw: self.dw,
                taps,
                width: self.input.width,
                out: out_row,
            };
            // A constant stride lets the compiler resolve which tap each load feeds.
            if self.dw.stride == 1 {
                row.compute::<_, 1>(s, 0..vector_end);
                row.compute::<_, 1>(Scalar, vector_end..c);
            } else {
                row.compute::<_, 2>(s, 0..vector_end);
                row.compute::<_, 2>(Scalar, vector_end..c);
            }
        }
    }
}

struct OutputRow<'a, 'b> {
    dw: &'a Depthwise,
    taps: [Option<&'a [f32]>; 3],
    width: usize,
    out: &'b mut [f32],
}

impl OutputRow<'_, '_> {
    /// Channels `channels` (a multiple of `S::N` long) of every pixel of the row.
    #[inline(always)]
    fn compute<S: Lanes, const STRIDE: usize>(&mut self, s: S, channels: Range<usize>) {
        let c = self.dw.channels();
        let out_width = self.out.len() / c;
        // Pixels whose three input columns all lie inside the image.
        let inner_end = (self.width.saturating_sub(2) / STRIDE + 1).clamp(1, out_width);
        for c0 in channels.step_by(S::N) {
            let w: [S::V; 9] = std::array::from_fn(|t| s.load(&self.dw.weight[t * c + c0..]));
            let bias = s.load(&self.dw.bias[c0..]);
            // Interior pixels in groups of 8, 4, 2 and 1, then the edges, whose windows
            // reach into the padding on the left or right.
            // (Stride 2 groups of 8 would span too many columns for the compiler to unroll.)
            let mut ox = match STRIDE {
                1 => self.groups::<S, STRIDE, 8, 0, 0>(s, 1..inner_end, c0, &w, bias),
                _ => 1,
            };
            ox = self.groups::<S, STRIDE, 4, 0, 0>(s, ox..inner_end, c0, &w, bias);
            ox = self.groups::<S, STRIDE, 2, 0, 0>(s, ox..inner_end, c0, &w, bias);
            ox = self.groups::<S, STRIDE, 1, 0, 0>(s, ox..inner_end, c0, &w, bias);
            // Past `inner_end` every window reaches the right padding.
            match self.width <= 1 {
                true => self.groups::<S, STRIDE, 1, 1, 1>(s, 0..1, c0, &w, bias),
                false => self.groups::<S, STRIDE, 1, 1, 0>(s, 0..1, c0, &w, bias),
            };
            self.groups::<S, STRIDE, 1, 0, 1>(s, ox.max(1)..out_width, c0, &w, bias);
        }
    }

    /// Pixels from `pixels.start` in groups of `P`, computed together so that their
    /// accumulations overlap in the pipeline; returns the first pixel left over. The first
    /// `SKIP_LEFT` and last `SKIP_RIGHT` input columns of the group's window are padding.
    #[inline(always)]
    fn groups<
        S: Lanes,
        const STRIDE: usize,
        const P: usize,
        const SKIP_LEFT: usize,
        const SKIP_RIGHT: usize,
    >(
        &mut self,
        s: S,
        pixels: Range<usize>,
        c0: usize,
        w: &[S::V; 9],
        bias: S::V,
    ) -> usize {
        let c = self.dw.channels();
        // The window of P pixels: `columns` input columns from the one left of the first.
        let columns = (P - 1) * STRIDE + 3;
        let span = (columns - SKIP_LEFT - SKIP_RIGHT - 1) * c + S::N;
        let mut ox = pixels.start;
        while ox + P <= pixels.end {
            let mut acc = [bias; P];
            let first = (ox * STRIDE + SKIP_LEFT - 1) * c + c0;
            for (row, w) in self.taps.iter().zip(w.chunks_exact(3)) {
                let Some(row) = row else { continue };
                let row = &row[first..first + span];
                // Each input column is loaded once and feeds every pixel whose window holds it.
                let mut at = 0;
                for column in SKIP_LEFT..columns - SKIP_RIGHT {
                    // SAFETY: `at` grows by `c` per column from 0, so `at + N <= span`.
                    let x = unsafe { s.load_at(row, at) };
                    at += c;
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let kx = column.wrapping_sub(p * STRIDE);
                        if kx < 3 {
                            *acc = s.mul_add(x, w[kx], *acc);
                        }
                    }
                }
            }
            let out = &mut self.out[ox * c + c0..(ox + P - 1) * c + c0 + S::N];
            for (p, acc) in acc.into_iter().enumerate() {
                s.store(&mut out[p * c..], s.relu6(acc));
            }
            ox += P;
        }
        ox
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, candle_nhwc, random};
    use super::*;
    use candle_core::{Device, Tensor};

    /// candle's grouped conv2d + bias + clamp, NHWC in and out.
    fn reference(
        x: &[f32],
        h: usize,
        w: usize,
        c: usize,
        wt: &[f32],
        b: &[f32],
        s: usize,
    ) -> Vec<f32> {
        let input = candle_nhwc(x, 1, h, w, c);
        let kernel = Tensor::from_slice(wt, (c, 1, 3, 3), &Device::Cpu).unwrap();
        let bias = Tensor::from_slice(b, (1, c, 1, 1), &Device::Cpu).unwrap();
        let y = input
            .conv2d(&kernel, 1, s, 1, c)
            .unwrap()
            .broadcast_add(&bias)
            .unwrap();
        let y = y.clamp(0f32, 6f32).unwrap().permute((0, 2, 3, 1)).unwrap();
        y.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn matches_candle_on_every_isa_stride_and_odd_size() {
        for isa in Isa::all_available() {
            for (h, w, c) in [(7, 9, 16), (5, 4, 35), (1, 1, 8), (2, 3, 3), (12, 11, 48)] {
                for stride in [1, 2] {
                    let x = random(h * w * c, 11, 3.0);
                    let wt = random(c * 9, 12, 1.0);
                    let b = random(c, 13, 1.0);
                    let dw = Depthwise::new(&wt, b.clone(), stride);
                    let (oh, ow) = (dw.out_len(h), dw.out_len(w));
                    let mut out = vec![f32::NAN; oh * ow * c];
                    dw.run(isa, Rows::whole(&x, h, w, c), 0..oh, &mut out);
                    let expected = reference(&x, h, w, c, &wt, &b, stride);
                    assert_close(
                        &out,
                        &expected,
                        1e-5,
                        &format!("{isa:?} {h}x{w}x{c} s{stride}"),
                    );
                }
            }
        }
    }

    #[test]
    fn computes_a_row_band_from_partial_input_rows() {
        let (h, w, c) = (10, 6, 24);
        let x = random(h * w * c, 21, 3.0);
        let dw = Depthwise::new(&random(c * 9, 22, 1.0), random(c, 23, 1.0), 2);
        let mut whole = vec![0.0; dw.out_len(h) * dw.out_len(w) * c];
        dw.run(
            Isa::detect(),
            Rows::whole(&x, h, w, c),
            0..dw.out_len(h),
            &mut whole,
        );

        let out_rows = 2..4;
        let in_rows = dw.input_rows(&out_rows);
        let row_len = w * c;
        let input = Rows {
            data: &x[in_rows.start * row_len..in_rows.end.min(h) * row_len],
            first: in_rows.start,
            ..Rows::whole(&x, h, w, c)
        };
        let mut band = vec![0.0; out_rows.len() * dw.out_len(w) * c];
        dw.run(Isa::detect(), input, out_rows.clone(), &mut band);
        let out_row_len = dw.out_len(w) * c;
        assert_eq!(
            band,
            whole[out_rows.start * out_row_len..out_rows.end * out_row_len]
        );
    }
}
