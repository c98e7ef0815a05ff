// The interface between the pooling driver (pooling.cpp: threads, dispatch) and the loops, compiled once per
// instruction set from pooling_kernels.inc (pooling_kernels_{generic,avx2,avx512}.cpp).
#pragma once

#include <cstdint>

#include "pooling/pooling.h"

namespace pynn {

// Each function computes rows [r0, r1) of its output: forward rows are (n, oh) pairs, n * out_h + oh;
// backward rows are input rows (n, ih), n * in_h + ih.
template <class T>
struct PoolingKernels {
  void (*max_forward_rows)(const Pool2dParams& p, const T* x, T* y, int32_t* argmax, int64_t r0, int64_t r1);
  void (*max_backward_rows)(const Pool2dParams& p, const T* dy, const int32_t* argmax, T* dx, int64_t r0,
                            int64_t r1);
  void (*avg_forward_rows)(const Pool2dParams& p, const T* x, T* y, int64_t r0, int64_t r1);
  void (*avg_backward_rows)(const Pool2dParams& p, const T* dy, T* dx, int64_t r0, int64_t r1);
};

extern const PoolingKernels<float> pooling_kernels_generic_f32;
extern const PoolingKernels<double> pooling_kernels_generic_f64;
#if defined(PYNN_X86)
extern const PoolingKernels<float> pooling_kernels_avx2_f32;
extern const PoolingKernels<double> pooling_kernels_avx2_f64;
extern const PoolingKernels<float> pooling_kernels_avx512_f32;
extern const PoolingKernels<double> pooling_kernels_avx512_f64;
#endif

}  // namespace pynn
