//! The hot layers of MobileNetV2 as plain-slice kernels over NHWC tensors.
//!
//! Depthwise and stem convolutions are written once over [`simd::Lanes`] and run with AVX-512F,
//! AVX2+FMA or scalar code chosen at run time; 1×1 convolutions are GEMMs from the `gemm` crate
//! with bias, residual and ReLU6 applied in one pass after.

mod depthwise;
mod pointwise;
mod pool;
mod simd;
mod stem;
#[cfg(test)]
pub(super) mod testing;

pub use depthwise::{Depthwise, Rows};
pub use pointwise::Pointwise;
pub use pool::global_average_pool;
pub use simd::Isa;
pub use stem::Stem;
