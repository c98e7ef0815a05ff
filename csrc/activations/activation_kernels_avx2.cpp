// AVX2 + FMA build of the activation loops (the compiler vectorizes them 8 floats wide).
// The loops are in activation_kernels.inc; this file only compiles them with its flags and exports a table.
#include "activations/activation_kernels.inc"

namespace pynn {

const ActivationKernels<float> activation_kernels_avx2_f32 = make_activation_kernels<float>();
const ActivationKernels<double> activation_kernels_avx2_f64 = make_activation_kernels<double>();

}  // namespace pynn
