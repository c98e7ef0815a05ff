// AVX-512 indirect convolution tiles: 12 pixels x 2 vectors of output channels (12 x 32 floats, 12 x 16
// doubles) in 24 zmm accumulators, as the GEMM's tile. Masked tails; internal linkage (-mavx512* file).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "conv/conv_kernels.h"

namespace pynn {
namespace {

#include "common/vec_avx512.inc"
#include "conv/conv_tile_simd.inc"
#include "conv/conv_loops.inc"

}  // namespace

const ConvKernel<float> conv_kernel_avx512_f32 = {12, 32, &conv_tile<VecF32, 12, 2>,
    &conv_direct_tile<VecF32, 12, 2>, &conv_direct_dw<VecF32, 12, 2>, &im2col<float>,
    &col2im_add<float>, &relu_masked<float>,
    &winograd_input<float>, &winograd_output<float>, &winograd_dy<float>, &winograd_weights<float>, &add_column_sums<float>};
const ConvKernel<double> conv_kernel_avx512_f64 = {12, 16, &conv_tile<VecF64, 12, 2>,
    &conv_direct_tile<VecF64, 12, 2>, &conv_direct_dw<VecF64, 12, 2>, &im2col<double>,
    &col2im_add<double>, &relu_masked<double>,
    &winograd_input<double>, &winograd_output<double>, &winograd_dy<double>, &winograd_weights<double>, &add_column_sums<double>};

}  // namespace pynn
