//! The network's layers as candle custom ops over NHWC tensors, each holding its packed weights.
//!
//! Work is split over the threads of the rayon pool the op runs in (the classifier's own).
//! Inverted residual blocks run fused in bands of rows: a thread expands a few rows, filters
//! them depthwise and projects them while they are still in its cache, so the six-times-wider
//! hidden tensor never goes to memory and the threads meet once per block. (Expanding the whole
//! batch first, to read the late blocks' weights once, measured slower at batch 1 and 8.)

use std::cell::RefCell;
use std::ops::Range;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, bail};
use rayon::prelude::*;

use super::kernels::{Depthwise, Isa, Pointwise, Rows, Stem, global_average_pool};

/// Floats of expanded rows a band step keeps (256 KiB, well inside L2).
const BAND_STEP_FLOATS: usize = 64 * 1024;

thread_local! {
    /// Per-thread buffers of the fused blocks, reused across calls.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The contiguous f32 data and NHWC dims of a custom op's input.
fn nhwc<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<(&'a [f32], [usize; 4])> {
    let CpuStorage::F32(data) = storage else {
        bail!("expected an f32 input")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("expected a contiguous input")
    };
    let (n, h, w, c) = layout.shape().dims4()?;
    Ok((&data[start..end], [n, h, w, c]))
}

fn threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `pw` on all threads, each computing a share of the output channels for all pixels, so
/// each reads only its share of the weights. `finish` maps a share (pixels × its channels) to
/// rows of its channels; the shares' rows are put side by side.
fn by_output_channels(
    pw: &Pointwise,
    isa: Isa,
    input: &[f32],
    finish: impl Fn(Vec<f32>, usize) -> Vec<f32> + Sync,
) -> Vec<f32> {
    let (pixels, outputs) = (input.len() / pw.inputs(), pw.outputs());
    // Whole vectors of channels per share.
    let share = outputs
        .div_ceil(threads())
        .next_multiple_of(16)
        .min(outputs);
    let parts: Vec<(Range<usize>, Vec<f32>)> = (0..outputs.div_ceil(share))
        .into_par_iter()
        .map(|i| {
            let columns = i * share..((i + 1) * share).min(outputs);
            let mut part = vec![0.0; pixels * columns.len()];
            pw.run_columns(isa, input, columns.clone(), &mut part, None);
            let part = finish(part, columns.len());
            (columns, part)
        })
        .collect();
    let rows = parts
        .first()
        .map_or(0, |(columns, part)| part.len() / columns.len());
    let mut out = vec![0.0; rows * outputs];
    for (columns, part) in parts {
        for (out, part) in out
            .chunks_exact_mut(outputs)
            .zip(part.chunks_exact(columns.len()))
        {
            out[columns.clone()].copy_from_slice(part);
        }
    }
    out
}

/// A zeroed buffer, written by all threads (halving the time and faulting pages in where
/// they will be used).
fn zeroed(len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    out.par_extend(rayon::iter::repeat_n(0.0, len));
    out
}

/// Splits `rows` rows of each of `images` images into bands so the threads are evenly loaded.
fn bands_per_image(images: usize, rows: usize) -> usize {
    let threads = threads();
    let mut bands = 1;
    while !(images * bands).is_multiple_of(threads) && images * bands < 4 * threads {
        bands += 1;
    }
    bands.min(rows)
}

pub(super) struct StemOp {
    stem: Stem,
    isa: Isa,
}

impl StemOp {
    pub fn new(stem: Stem, isa: Isa) -> Self {
        Self { stem, isa }
    }
}

impl CustomOp1 for StemOp {
    fn name(&self) -> &'static str {
        "mobilenet-stem"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [n, h, w, c]) = nhwc(storage, layout)?;
        if c != 3 {
            bail!("stem expects 3 channels, got {c}");
        }
        let (ho, wo, co) = (Stem::out_len(h), Stem::out_len(w), self.stem.outputs());
        let mut out = zeroed(n * ho * wo * co);
        let band_rows = ho.div_ceil(bands_per_image(n, ho));
        out.par_chunks_mut(ho * wo * co)
            .zip(input.par_chunks(h * w * c))
            .for_each(|(out, image)| {
                out.par_chunks_mut(band_rows * wo * co)
                    .enumerate()
                    .for_each(|(band, out)| {
                        let first = band * band_rows;
                        let rows = first..first + out.len() / (wo * co);
                        self.stem.run(self.isa, image, h, rows, out);
                    });
            });
        Ok((CpuStorage::F32(out), Shape::from((n, ho, wo, co))))
    }
}

/// Expand 1×1 (ReLU6), depthwise 3×3 (ReLU6), project 1×1 (linear), plus the input when the
/// shapes allow.
pub(super) struct InvertedResidual {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    isa: Isa,
}

impl InvertedResidual {
    pub fn new(
        expand: Option<Pointwise>,
        depthwise: Depthwise,
        project: Pointwise,
        isa: Isa,
    ) -> Self {
        Self {
            expand,
            depthwise,
            project,
            isa,
        }
    }

    fn inputs(&self) -> usize {
        self.expand
            .as_ref()
            .map_or(self.depthwise.channels(), Pointwise::inputs)
    }

    fn has_residual(&self) -> bool {
        self.depthwise.stride() == 1 && self.inputs() == self.project.outputs()
    }

    /// Each image in bands of output rows, one task per band.
    fn forward(&self, input: &[f32], [n, h, w]: [usize; 3], out: &mut [f32]) {
        let (ho, wo) = (self.depthwise.out_len(h), self.depthwise.out_len(w));
        let out_row = wo * self.project.outputs();
        let band_rows = ho.div_ceil(bands_per_image(n, ho));
        let image_len = h * w * self.inputs();
        out.par_chunks_mut(ho * out_row)
            .zip(input.par_chunks(image_len))
            .for_each(|(out, image)| {
                out.par_chunks_mut(band_rows * out_row)
                    .enumerate()
                    .for_each(|(band, out)| {
                        let first = band * band_rows;
                        let rows = first..first + out.len() / out_row;
                        // No rayon call inside, so no other task can borrow this thread's scratch.
                        SCRATCH.with_borrow_mut(|scratch| {
                            self.band(scratch, image, [h, w], rows, out)
                        });
                    });
            });
    }

    /// Output rows `rows` of one image, a few rows at a time.
    fn band(
        &self,
        scratch: &mut Vec<f32>,
        image: &[f32],
        [h, w]: [usize; 2],
        rows: Range<usize>,
        out: &mut [f32],
    ) {
        let (hidden, stride, cin) = (
            self.depthwise.channels(),
            self.depthwise.stride(),
            self.inputs(),
        );
        let wo = self.depthwise.out_len(w);
        let (in_row, hidden_row, out_row) = (w * cin, w * hidden, wo * self.project.outputs());
        let step_rows = (BAND_STEP_FLOATS / (stride * hidden_row)).max(1);
        let held_max = (step_rows - 1) * stride + 3;
        let needed = held_max * hidden_row + step_rows * wo * hidden;
        if scratch.len() < needed {
            scratch.resize(needed, 0.0);
        }
        let (held_rows, filtered) = scratch.split_at_mut(held_max * hidden_row);
        // Image rows whose expansion `held_rows` holds, from its start.
        let mut held = 0..0;
        for first in rows.clone().step_by(step_rows) {
            let step = first..(first + step_rows).min(rows.end);
            let source = match &self.expand {
                None => Rows::whole(image, h, w, hidden),
                Some(expand) => {
                    let need = self.depthwise.input_rows(&step);
                    let need = need.start..need.end.min(h);
                    if held.contains(&need.start) {
                        held_rows.copy_within(
                            (need.start - held.start) * hidden_row..held.len() * hidden_row,
                            0,
                        );
                        held.start = need.start;
                    } else {
                        held = need.start..need.start;
                    }
                    let fresh = held.end..need.end;
                    expand.run(
                        self.isa,
                        &image[fresh.start * in_row..fresh.end * in_row],
                        &mut held_rows[held.len() * hidden_row..need.len() * hidden_row],
                        None,
                    );
                    held = need;
                    Rows {
                        data: &held_rows[..held.len() * hidden_row],
                        first: held.start,
                        ..Rows::whole(image, h, w, hidden)
                    }
                }
            };
            let filtered = &mut filtered[..step.len() * wo * hidden];
            self.depthwise.run(self.isa, source, step.clone(), filtered);
            let residual = self
                .has_residual()
                .then(|| &image[step.start * in_row..step.end * in_row]);
            let out =
                &mut out[(step.start - rows.start) * out_row..(step.end - rows.start) * out_row];
            self.project.run(self.isa, filtered, out, residual);
        }
    }
}

impl CustomOp1 for InvertedResidual {
    fn name(&self) -> &'static str {
        "mobilenet-inverted-residual"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [n, h, w, c]) = nhwc(storage, layout)?;
        if c != self.inputs() {
            bail!("block expects {} channels, got {c}", self.inputs());
        }
        let (ho, wo, co) = (
            self.depthwise.out_len(h),
            self.depthwise.out_len(w),
            self.project.outputs(),
        );
        let mut out = zeroed(n * ho * wo * co);
        self.forward(input, [n, h, w], &mut out);
        Ok((CpuStorage::F32(out), Shape::from((n, ho, wo, co))))
    }
}

/// Last 1×1 conv (ReLU6), global average pool and the linear classifier: NHWC in, logits out.
pub(super) struct Head {
    conv: Pointwise,
    classifier: Pointwise,
    isa: Isa,
}

impl Head {
    pub fn new(conv: Pointwise, classifier: Pointwise, isa: Isa) -> Self {
        Self {
            conv,
            classifier,
            isa,
        }
    }
}

impl CustomOp1 for Head {
    fn name(&self) -> &'static str {
        "mobilenet-head"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [n, h, w, c]) = nhwc(storage, layout)?;
        if c != self.conv.inputs() {
            bail!("head expects {} channels, got {c}", self.conv.inputs());
        }
        let pooled = by_output_channels(&self.conv, self.isa, input, |features, channels| {
            global_average_pool(&features, h * w, channels)
        });
        let logits = by_output_channels(&self.classifier, self.isa, &pooled, |logits, _| logits);
        Ok((
            CpuStorage::F32(logits),
            Shape::from((n, self.classifier.outputs())),
        ))
    }
}
