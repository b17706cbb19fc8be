//! 1×1 convolution (equally, a linear layer) as one GEMM over all pixels, NHWC.

use std::ops::Range;

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
        assert!(
            outputs > 0 && weight.len().is_multiple_of(outputs),
            "weight is not outputs×inputs"
        );
        let inputs = weight.len() / outputs;
        let weight = (0..inputs)
            .flat_map(|i| (0..outputs).map(move |o| weight[o * inputs + i]))
            .collect();
        Self {
            inputs,
            weight,
            bias,
            relu6,
        }
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = act(input · Wᵀ + bias + residual)` for every pixel (row) of `input`.
    pub fn run(&self, isa: Isa, input: &[f32], out: &mut [f32], residual: Option<&[f32]>) {
        self.run_columns(isa, input, 0..self.outputs(), out, residual);
    }

    /// Like [`Pointwise::run`], but only output channels `columns`, which are all `out` and
    /// `residual` hold.
    pub fn run_columns(
        &self,
        isa: Isa,
        input: &[f32],
        columns: Range<usize>,
        out: &mut [f32],
        residual: Option<&[f32]>,
    ) {
        let (k, n) = (self.inputs, columns.len());
        let m = input.len() / k;
        assert_eq!(input.len(), m * k, "input is not pixels × {k}");
        assert!(columns.end <= self.outputs(), "columns out of range");
        assert_eq!(out.len(), m * n, "output is not pixels × {n}");
        if let Some(residual) = residual {
            assert_eq!(residual.len(), out.len(), "residual differs from output");
        }
        if m == 0 || n == 0 {
            return;
        }
        let weight = &self.weight[columns.start..];
        // SAFETY: the asserts above keep every index the strides describe inside the slices:
        // input m×k (row stride k), weight from column `columns.start` k×n (row stride
        // `outputs`), out m×n (row stride n).
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
                weight.as_ptr(),
                1,
                self.outputs() as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
        let bias = &self.bias[columns];
        isa.dispatch(Epilogue {
            bias,
            relu6: self.relu6,
            out,
            residual,
        });
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

    fn reference(
        x: &[f32],
        m: usize,
        w: &[f32],
        b: &[f32],
        res: Option<&[f32]>,
        relu6: bool,
    ) -> Vec<f32> {
        let n = b.len();
        let k = w.len() / n;
        let dev = &Device::Cpu;
        let x = Tensor::from_slice(x, (m, k), dev).unwrap();
        let w = Tensor::from_slice(w, (n, k), dev).unwrap();
        let mut y = x.matmul(&w.t().unwrap()).unwrap();
        y = y
            .broadcast_add(&Tensor::from_slice(b, n, dev).unwrap())
            .unwrap();
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
        for isa in Isa::all_available() {
            for (m, k, n) in [(1, 1, 1), (37, 16, 96), (200, 19, 23), (9, 160, 33)] {
                for (relu6, with_residual) in [(true, false), (false, true), (false, false)] {
                    let x = random(m * k, 1, 2.0);
                    let w = random(n * k, 2, 1.0);
                    let b = random(n, 3, 1.0);
                    let res = with_residual.then(|| random(m * n, 4, 1.0));
                    let pw = Pointwise::new(&w, b.clone(), relu6);
                    let mut out = vec![f32::NAN; m * n];
                    pw.run(isa, &x, &mut out, res.as_deref());
                    let expected = reference(&x, m, &w, &b, res.as_deref(), relu6);
                    assert_close(
                        &out,
                        &expected,
                        1e-4,
                        &format!("{isa:?} {m}x{k}x{n} relu6={relu6}"),
                    );
                }
            }
        }
    }

    #[test]
    fn a_column_range_equals_those_columns_of_the_whole() {
        let (m, k, n) = (13, 24, 40);
        let pw = Pointwise::new(&random(n * k, 5, 1.0), random(n, 6, 1.0), true);
        let x = random(m * k, 7, 2.0);
        let mut whole = vec![0.0; m * n];
        pw.run(Isa::detect(), &x, &mut whole, None);
        for columns in [0..16, 16..40, 5..6] {
            let mut part = vec![f32::NAN; m * columns.len()];
            pw.run_columns(Isa::detect(), &x, columns.clone(), &mut part, None);
            let expected: Vec<f32> = whole
                .chunks(n)
                .flat_map(|row| &row[columns.clone()])
                .copied()
                .collect();
            assert_close(&part, &expected, 1e-6, &format!("columns {columns:?}"));
        }
    }
}
