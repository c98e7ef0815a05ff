// The batch-normalization loops (batch_norm_kernels.inc) compiled for the avx512 instruction set.
#include "normalization/batch_norm_kernels.inc"

namespace pynn {

const BatchNormKernels<float> batch_norm_kernels_avx512_f32 = make_batch_norm_kernels<float>();
const BatchNormKernels<double> batch_norm_kernels_avx512_f64 = make_batch_norm_kernels<double>();

}  // namespace pynn
