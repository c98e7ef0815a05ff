// AVX-512 register tiles: 12 rows x 2 vectors of C in 24 zmm accumulators (12 x 32 floats, 12 x 16
// doubles). Per k step: 2 loads of B, 12 broadcasts of A folded into the FMAs. Tails use masks, so a
// partial panel never reads or writes past the user's arrays. Everything here has internal linkage: this
// file is compiled with -mavx512* and nothing of it may be picked by the linker for another ISA's code.
#include <immintrin.h>

#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

#include "common/vec_avx512.inc"
#include "gemm/gemm_tile_simd.inc"

constexpr int kMR = 12;
constexpr int kNV = 2;

}  // namespace

const GemmKernel<float> gemm_kernel_avx512_f32 = {kMR, kNV * 16, 480, 256, 3072, &simd_tile<VecF32, kMR, kNV>,
                                                 &simd_rows<VecF32, 4>};
const GemmKernel<double> gemm_kernel_avx512_f64 = {kMR, kNV * 8, 240, 256, 3072, &simd_tile<VecF64, kMR, kNV>,
                                                 &simd_rows<VecF64, 4>};

}  // namespace pynn
