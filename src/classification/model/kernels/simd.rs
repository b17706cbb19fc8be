//! Run-time selection of the vector width the kernels are compiled for.
//!
//! A kernel is written once, generically over [`Lanes`], and [`Isa::dispatch`] runs it inside a
//! function compiled with AVX-512F or AVX2+FMA enabled, so the generic body is inlined and
//! vectorised for that instruction set. The token types (`Avx512`, `Avx2`) can only be made after
//! the CPU was checked, which is what makes their intrinsics sound to call.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The instruction set kernels run with, detected once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    Scalar,
}

impl Isa {
    /// The widest instruction set this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Isa::Avx512(Avx512(()));
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Isa::Avx2(Avx2(()));
            }
        }
        Isa::Scalar
    }

    /// Every instruction set this CPU can run, widest first (for tests).
    #[cfg(test)]
    pub fn all_available() -> Vec<Self> {
        let mut all = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                all.insert(0, Isa::Avx2(Avx2(())));
            }
            if is_x86_feature_detected!("avx512f") {
                all.insert(0, Isa::Avx512(Avx512(())));
            }
        }
        all
    }

    pub fn dispatch<K: Kernel>(self, kernel: K) -> K::Output {
        match self {
            // SAFETY: an `Avx512` token exists only if the CPU supports AVX-512F.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(s) => unsafe { run_avx512(s, kernel) },
            // SAFETY: an `Avx2` token exists only if the CPU supports AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(s) => unsafe { run_avx2(s, kernel) },
            Isa::Scalar => kernel.run(Scalar),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512<K: Kernel>(s: Avx512, kernel: K) -> K::Output {
    kernel.run(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<K: Kernel>(s: Avx2, kernel: K) -> K::Output {
    kernel.run(s)
}

/// A computation generic over the vector width. Implementations mark `run` `#[inline(always)]`
/// so that it is compiled inside the feature-enabled caller.
pub trait Kernel {
    type Output;
    fn run<S: Lanes>(self, s: S) -> Self::Output;
}

/// `N` lanes of f32. Loads and stores take the first `N` elements of a slice (bounds-checked).
pub trait Lanes: Copy {
    type V: Copy;
    const N: usize;
    fn splat(self, x: f32) -> Self::V;
    fn load(self, src: &[f32]) -> Self::V;
    /// Loads `N` floats from `src[offset..]`, unchecked.
    ///
    /// # Safety
    /// `offset + N <= src.len()`.
    unsafe fn load_at(self, src: &[f32], offset: usize) -> Self::V;
    fn store(self, dst: &mut [f32], v: Self::V);
    /// `a * b + c`
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `min(max(v, 0), 6)`
    fn relu6(self, v: Self::V) -> Self::V;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scalar;

impl Lanes for Scalar {
    type V = f32;
    const N: usize = 1;
    #[inline(always)]
    fn splat(self, x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> f32 {
        src[0]
    }
    #[inline(always)]
    unsafe fn load_at(self, src: &[f32], offset: usize) -> f32 {
        // SAFETY: the caller keeps `offset` in bounds.
        unsafe { *src.get_unchecked(offset) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: f32) {
        dst[0] = v;
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    fn add(self, a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn relu6(self, v: f32) -> f32 {
        v.clamp(0.0, 6.0)
    }
}

/// Proof that the CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx512(());

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = __m512;
    const N: usize = 16;
    #[inline(always)]
    fn splat(self, x: f32) -> __m512 {
        // SAFETY: the token proves AVX-512F support.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> __m512 {
        let src = &src[..16];
        // SAFETY: `src` holds 16 floats; the token proves AVX-512F support.
        unsafe { _mm512_loadu_ps(src.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn load_at(self, src: &[f32], offset: usize) -> __m512 {
        // SAFETY: the caller keeps `offset + 16` in bounds; the token proves AVX-512F support.
        unsafe { _mm512_loadu_ps(src.as_ptr().add(offset)) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: __m512) {
        let dst = &mut dst[..16];
        // SAFETY: `dst` holds 16 floats; the token proves AVX-512F support.
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: the token proves AVX-512F support.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: the token proves AVX-512F support.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn relu6(self, v: __m512) -> __m512 {
        // SAFETY: the token proves AVX-512F support.
        unsafe { _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0)) }
    }
}

/// Proof that the CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = __m256;
    const N: usize = 8;
    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        // SAFETY: the token proves AVX2 support.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> __m256 {
        let src = &src[..8];
        // SAFETY: `src` holds 8 floats; the token proves AVX2 support.
        unsafe { _mm256_loadu_ps(src.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn load_at(self, src: &[f32], offset: usize) -> __m256 {
        // SAFETY: the caller keeps `offset + 8` in bounds; the token proves AVX2 support.
        unsafe { _mm256_loadu_ps(src.as_ptr().add(offset)) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: __m256) {
        let dst = &mut dst[..8];
        // SAFETY: `dst` holds 8 floats; the token proves AVX2 support.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn mul_add(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: the token proves FMA support.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: the token proves AVX2 support.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn relu6(self, v: __m256) -> __m256 {
        // SAFETY: the token proves AVX2 support.
        unsafe { _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0)) }
    }
}
