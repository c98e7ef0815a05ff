// The depthwise loops (depthwise_kernels.inc) compiled for the avx2 instruction set; one table per dtype.
#include "conv/depthwise_kernels.inc"

namespace pynn {

const DepthwiseKernels<float> depthwise_kernels_avx2_f32 = make_depthwise_kernels<float>();
const DepthwiseKernels<double> depthwise_kernels_avx2_f64 = make_depthwise_kernels<double>();

}  // namespace pynn
