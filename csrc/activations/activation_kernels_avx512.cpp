// AVX-512 build of the activation loops (the compiler vectorizes them 16 floats wide).
// The loops are in activation_kernels.inc; this file only compiles them with its flags and exports a table.
#include "activations/activation_kernels.inc"

namespace pynn {

const ActivationKernels<float> activation_kernels_avx512_f32 = make_activation_kernels<float>();
const ActivationKernels<double> activation_kernels_avx512_f64 = make_activation_kernels<double>();

}  // namespace pynn
