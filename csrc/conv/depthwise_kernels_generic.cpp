// The depthwise loops (depthwise_kernels.inc) compiled for the generic instruction set; one table per dtype.
#include "conv/depthwise_kernels.inc"

namespace pynn {

const DepthwiseKernels<float> depthwise_kernels_generic_f32 = make_depthwise_kernels<float>();
const DepthwiseKernels<double> depthwise_kernels_generic_f64 = make_depthwise_kernels<double>();

}  // namespace pynn
