// The interface between the batch-normalization driver (batch_norm.cpp: statistics, threads, dispatch) and the
// loops, compiled once per instruction set from batch_norm_kernels.inc. Every function works on the outer
// indices [o0, o1) of x viewed as (outer, channels, inner).
#pragma once

#include <cstdint>

namespace pynn {

template <class T>
struct BatchNormKernels {
  // sum[c] = sum of (x - shift[c]), sum_sq[c] = sum of (x - shift[c])^2 over the range (overwritten).
  void (*moments)(const T* x, int64_t o0, int64_t o1, int64_t channels, int64_t inner, const double* shift,
                  double* sum, double* sum_sq);
  // y = x * a[c] + b[c].
  void (*affine)(const T* x, T* y, int64_t o0, int64_t o1, int64_t channels, int64_t inner, const T* a, const T* b);
  // sum_dy[c] = sum of dy, sum_dy_xc[c] = sum of dy * (x - mean[c]) over the range (overwritten).
  void (*gradient_sums)(const T* x, const T* dy, int64_t o0, int64_t o1, int64_t channels, int64_t inner,
                        const T* mean, double* sum_dy, double* sum_dy_xc);
  // dx = k[c] * (dy - shift[c] - (x - mean[c]) * coef[c]).
  void (*input_gradient)(const T* x, const T* dy, T* dx, int64_t o0, int64_t o1, int64_t channels, int64_t inner,
                         const T* mean, const T* k, const T* shift, const T* coef);
};

extern const BatchNormKernels<float> batch_norm_kernels_generic_f32;
extern const BatchNormKernels<double> batch_norm_kernels_generic_f64;
#if defined(PYNN_X86)
extern const BatchNormKernels<float> batch_norm_kernels_avx2_f32;
extern const BatchNormKernels<double> batch_norm_kernels_avx2_f64;
extern const BatchNormKernels<float> batch_norm_kernels_avx512_f32;
extern const BatchNormKernels<double> batch_norm_kernels_avx512_f64;
#endif

}  // namespace pynn
