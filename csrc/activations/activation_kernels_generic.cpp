// Baseline x86-64 (or any CPU): the path every CPU can run, and the one PYNN_ISA=generic selects.
// The loops are in activation_kernels.inc; this file only compiles them with its flags and exports a table.
#include "activations/activation_kernels.inc"

namespace pynn {

const ActivationKernels<float> activation_kernels_generic_f32 = make_activation_kernels<float>();
const ActivationKernels<double> activation_kernels_generic_f64 = make_activation_kernels<double>();

}  // namespace pynn
