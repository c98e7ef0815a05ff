// The interface between the layer-normalization driver (layer_norm.cpp: threads, chunks, dispatch) and its row
// loops, compiled once per instruction set from layer_norm_kernels.inc. Every function works on rows [r0, r1).
#pragma once

#include <cstdint>

namespace pynn {

template <class T>
struct LayerNormKernels {
  // y = (x - mean) inv gamma + beta per row (x inv gamma + beta when not centered); mean, inv written.
  void (*forward)(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* inv, int64_t r0, int64_t r1,
                  int64_t features, T epsilon, bool centered);
  // dx per row (when dx is not null); gsum[f] = sum of dy n, bsum[f] = sum of dy over the rows (overwritten,
  // when not null).
  void (*backward)(const T* x, const T* dy, const T* mean, const T* inv, const T* gamma, T* dx, double* gsum,
                   double* bsum, int64_t r0, int64_t r1, int64_t features, bool centered);
};

extern const LayerNormKernels<float> layer_norm_kernels_generic_f32;
extern const LayerNormKernels<double> layer_norm_kernels_generic_f64;
#if defined(PYNN_X86)
extern const LayerNormKernels<float> layer_norm_kernels_avx2_f32;
extern const LayerNormKernels<double> layer_norm_kernels_avx2_f64;
extern const LayerNormKernels<float> layer_norm_kernels_avx512_f32;
extern const LayerNormKernels<double> layer_norm_kernels_avx512_f64;
#endif

}  // namespace pynn
