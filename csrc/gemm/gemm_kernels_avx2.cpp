// AVX2+FMA register tiles: 6 rows x 2 vectors of C in 12 ymm accumulators (6 x 16 floats, 6 x 8
// doubles), BLIS's haswell/zen shape. Tails use vmaskmov, so a partial panel never reads or writes past
// the user's arrays. Internal linkage throughout: this file is compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

#include "common/vec_avx2.inc"
#include "gemm/gemm_tile_simd.inc"

constexpr int kMR = 6;
constexpr int kNV = 2;

}  // namespace

const GemmKernel<float> gemm_kernel_avx2_f32 = {kMR, kNV * 8, 144, 256, 3072, &simd_tile<VecF32, kMR, kNV>,
                                               &simd_rows<VecF32, 2>};
const GemmKernel<double> gemm_kernel_avx2_f64 = {kMR, kNV * 4, 72, 256, 3072, &simd_tile<VecF64, kMR, kNV>,
                                               &simd_rows<VecF64, 2>};

}  // namespace pynn
