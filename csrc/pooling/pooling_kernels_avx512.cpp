// The pooling loops (pooling_kernels.inc) compiled for the avx512 instruction set; exports one table per dtype.
#include "pooling/pooling_kernels.inc"

namespace pynn {

const PoolingKernels<float> pooling_kernels_avx512_f32 = make_pooling_kernels<float>();
const PoolingKernels<double> pooling_kernels_avx512_f64 = make_pooling_kernels<double>();

}  // namespace pynn
