// The layer-normalization row loops (layer_norm_kernels.inc) compiled for the avx512 instruction set.
#include "normalization/layer_norm_kernels.inc"

namespace pynn {

const LayerNormKernels<float> layer_norm_kernels_avx512_f32 = make_layer_norm_kernels<float>();
const LayerNormKernels<double> layer_norm_kernels_avx512_f64 = make_layer_norm_kernels<double>();

}  // namespace pynn
