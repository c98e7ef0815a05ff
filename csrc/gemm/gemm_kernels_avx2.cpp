// AVX2+FMA register tiles: 6 rows x 2 vectors of C in 12 ymm accumulators (6 x 16 floats, 6 x 8
// doubles), BLIS's haswell/zen shape. Tails use vmaskmov, so a partial panel never reads or writes past
// the user's arrays. Internal linkage throughout: this file is compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

struct VecF32 {
  using T = float;
  using V = __m256;
  using Mask = __m256i;
  static constexpr int lanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V load(const T* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(T* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static Mask mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

struct VecF64 {
  using T = double;
  using V = __m256d;
  using Mask = __m256i;
  static constexpr int lanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V load(const T* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static void store(T* p, Mask m, V v) { _mm256_maskstore_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static Mask mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

#include "gemm/gemm_tile_simd.inc"

constexpr int kMR = 6;
constexpr int kNV = 2;

}  // namespace

const GemmKernel<float> gemm_kernel_avx2_f32 = {kMR, kNV * 8, 144, 256, 3072, &simd_tile<VecF32, kMR, kNV>,
                                               &simd_rows<VecF32, 2>};
const GemmKernel<double> gemm_kernel_avx2_f64 = {kMR, kNV * 4, 72, 256, 3072, &simd_tile<VecF64, kMR, kNV>,
                                               &simd_rows<VecF64, 2>};

}  // namespace pynn
