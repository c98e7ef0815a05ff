// AVX2+FMA indirect convolution tiles: 6 pixels x 2 vectors of output channels (6 x 16 floats, 6 x 8
// doubles) in 12 ymm accumulators, as the GEMM's tile. vmaskmov tails; internal linkage (-mavx2 file).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "conv/conv_kernels.h"

namespace pynn {
namespace {

#include "common/vec_avx2.inc"
#include "conv/conv_tile_simd.inc"
#include "conv/conv_loops.inc"

}  // namespace

const ConvKernel<float> conv_kernel_avx2_f32 = {6, 16, &conv_tile<VecF32, 6, 2>,
    &conv_direct_tile<VecF32, 6, 2>, &conv_direct_dw<VecF32, 6, 2>, &im2col<float>,
    &col2im_add<float>, &relu_masked<float>,
    &winograd_input<float>, &winograd_output<float>, &winograd_dy<float>, &winograd_weights<float>, &add_column_sums<float>};
const ConvKernel<double> conv_kernel_avx2_f64 = {6, 8, &conv_tile<VecF64, 6, 2>,
    &conv_direct_tile<VecF64, 6, 2>, &conv_direct_dw<VecF64, 6, 2>, &im2col<double>,
    &col2im_add<double>, &relu_masked<double>,
    &winograd_input<double>, &winograd_output<double>, &winograd_dy<double>, &winograd_weights<double>, &add_column_sums<double>};

}  // namespace pynn
