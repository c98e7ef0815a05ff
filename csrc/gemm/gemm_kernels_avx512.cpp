// AVX-512 register tiles: 12 rows x 2 vectors of C in 24 zmm accumulators (12 x 32 floats, 12 x 16
// doubles). Per k step: 2 loads of B, 12 broadcasts of A folded into the FMAs. Tails use masks, so a
// partial panel never reads or writes past the user's arrays. Everything here has internal linkage: this
// file is compiled with -mavx512* and nothing of it may be picked by the linker for another ISA's code.
#include <immintrin.h>

#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

struct VecF32 {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int lanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static Mask mask(int n) { return n >= lanes ? Mask(0xffff) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
};

struct VecF64 {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int lanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(T* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static Mask mask(int n) { return n >= lanes ? Mask(0xff) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
};

#include "gemm/gemm_tile_simd.inc"

constexpr int kMR = 12;
constexpr int kNV = 2;

}  // namespace

const GemmKernel<float> gemm_kernel_avx512_f32 = {kMR, kNV * 16, 480, 256, 3072, &simd_tile<VecF32, kMR, kNV>,
                                                 &simd_rows<VecF32, 4>};
const GemmKernel<double> gemm_kernel_avx512_f64 = {kMR, kNV * 8, 240, 256, 3072, &simd_tile<VecF64, kMR, kNV>,
                                                 &simd_rows<VecF64, 4>};

}  // namespace pynn
