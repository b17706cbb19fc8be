//! 1×1 convolution (equally, a linear layer) as one GEMM over all pixels, NHWC.

use gemm::{Parallelism, gemm};

use super::simd::{Isa, Kernel, Lanes, Scalar};

#[derive(Debug, Clone)]
pub struct Pointwise {
    inputs: usize,
    /// Inputs × outputs (PyTorch's layout transposed): the GEMM then reads the weights
    /// as it wants them and need not repack them on every call.
    weight: Vec<f32>,
    bias: Vec<f32>,
    relu6: bool,
}

impl Pointwise {
    /// `weight` in PyTorch's layout, outputs × inputs.
    pub fn new(weight: &[f32], bias: Vec<f32>, relu6: bool) -> Self {
        let outputs = bias.len();
        assert!(outputs > 0 && weight.len() % outputs == 0, "weight is not outputs×inputs");
        let inputs = weight.len() / outputs;
        let weight = (0..inputs).flat_map(|i| (0..outputs).map(move |o| weight[o * inputs + i])).collect();
        Self { inputs, weight, bias, relu6 }
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = act(input · Wᵀ + bias + residual)` for every pixel (row) of `input`, with the
    /// GEMM split over `threads` threads of the current rayon pool.
    pub fn run(
        &self,
        isa: Isa,
        input: &[f32],
        out: &mut [f32],
        residual: Option<&[f32]>,
        threads: usize,
    ) {
        let (k, n) = (self.inputs, self.outputs());
        let m = input.len() / k;
        assert_eq!(input.len(), m * k, "input is not pixels × {k}");
        assert_eq!(out.len(), m * n, "output is not pixels × {n}");
        if let Some(residual) = residual {
            assert_eq!(residual.len(), out.len(), "residual differs from output");
        }
        let parallelism = match threads {
            0 | 1 => Parallelism::None,
            t => Parallelism::Rayon(t),
        };
        // SAFETY: the asserts above keep every index the strides describe inside the slices:
        // input m×k (row stride k), weight k×n (row stride n), out m×n (row stride n).
        unsafe {
            gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                input.as_ptr(),
                1,
                k as isize,
                self.weight.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        isa.dispatch(Epilogue { bias: &self.bias, relu6: self.relu6, out, residual });
    }
}

/// Adds bias and residual and applies ReLU6, in one pass over the GEMM output.
struct Epilogue<'a> {
    bias: &'a [f32],
    relu6: bool,
    out: &'a mut [f32],
    residual: Option<&'a [f32]>,
}

impl Kernel for Epilogue<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Lanes>(self, s: S) {
        let n = self.bias.len();
        let vector_end = n - n % S::N;
        for (i, row) in self.out.chunks_exact_mut(n).enumerate() {
            let residual = self.residual.map(|r| &r[i * n..(i + 1) * n]);
            finish_row(s, self.bias, self.relu6, row, residual, 0..vector_end);
            finish_row(Scalar, self.bias, self.relu6, row, residual, vector_end..n);
        }
    }
}

#[inline(always)]
fn finish_row<S: Lanes>(
    s: S,
    bias: &[f32],
    relu6: bool,
    row: &mut [f32],
    residual: Option<&[f32]>,
    columns: std::ops::Range<usize>,
) {
    for j in columns.step_by(S::N) {
        let mut v = s.add(s.load(&row[j..]), s.load(&bias[j..]));
        if let Some(residual) = residual {
            v = s.add(v, s.load(&residual[j..]));
        }
        if relu6 {
            v = s.relu6(v);
        }
        s.store(&mut row[j..], v);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, random};
    use super::*;
    use candle_core::{Device, Tensor};

    fn reference(x: &[f32], m: usize, w: &[f32], b: &[f32], res: Option<&[f32]>, relu6: bool) -> Vec<f32> {
        let n = b.len();
        let k = w.len() / n;
        let dev = &Device::Cpu;
        let x = Tensor::from_slice(x, (m, k), dev).unwrap();
        let w = Tensor::from_slice(w, (n, k), dev).unwrap();
        let mut y = x.matmul(&w.t().unwrap()).unwrap();
        y = y.broadcast_add(&Tensor::from_slice(b, n, dev).unwrap()).unwrap();
        if let Some(res) = res {
            y = (y + Tensor::from_slice(res, (m, n), dev).unwrap()).unwrap();
        }
        if relu6 {
            y = y.clamp(0f32, 6f32).unwrap();
        }
        y.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn matches_candle_matmul_with_every_epilogue_and_isa() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for isa in Isa::all_available() {
            for (m, k, n) in [(1, 1, 1), (37, 16, 96), (200, 19, 23), (9, 160, 33)] {
                for (relu6, with_residual) in [(true, false), (false, true), (false, false)] {
                    for threads in [1, 2] {
                        let x = random(m * k, 1, 2.0);
                        let w = random(n * k, 2, 1.0);
                        let b = random(n, 3, 1.0);
                        let res = with_residual.then(|| random(m * n, 4, 1.0));
                        let pw = Pointwise::new(&w, b.clone(), relu6);
                        let mut out = vec![f32::NAN; m * n];
                        pool.install(|| pw.run(isa, &x, &mut out, res.as_deref(), threads));
                        let expected = reference(&x, m, &w, &b, res.as_deref(), relu6);
                        let what = format!("{isa:?} {m}x{k}x{n} relu6={relu6} threads={threads}");
                        assert_close(&out, &expected, 1e-4, &what);
                    }
                }
            }
        }
    }
}
