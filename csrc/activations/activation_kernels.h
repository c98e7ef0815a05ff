// The interface between the portable activation drivers (activations.cpp, softmax.cpp) and the loops,
// compiled once per instruction set from activation_kernels.inc (activation_kernels_{generic,avx2,
// avx512}.cpp). Each ISA's table has its own name; nothing else of those files is visible.
#pragma once

#include <cstdint>

#include "activations/activations.h"
#include "common/cpu.h"

namespace pynn {

template <class T>
struct ActivationKernels {
  void (*forward)(const ActivationParams& p, const T* x, T* y, int64_t n);
  void (*backward)(const ActivationParams& p, const T* x, const T* y, const T* dy, T* dx, int64_t n);
  // Rows [0, rows) of a (rows, cols) array; log selects log_softmax.
  void (*softmax_rows)(const T* x, T* y, int64_t rows, int64_t cols, bool log);
  void (*softmax_backward_rows)(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols, bool log);
};

extern const ActivationKernels<float> activation_kernels_generic_f32;
extern const ActivationKernels<double> activation_kernels_generic_f64;
#if defined(PYNN_X86)
extern const ActivationKernels<float> activation_kernels_avx2_f32;
extern const ActivationKernels<double> activation_kernels_avx2_f64;
extern const ActivationKernels<float> activation_kernels_avx512_f32;
extern const ActivationKernels<double> activation_kernels_avx512_f64;
#endif

template <class T>
const ActivationKernels<T>& activation_kernels();  // the table of active_isa()

}  // namespace pynn
