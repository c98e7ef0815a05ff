// Depthwise convolution (groups == input channels; depth multiplier M = out_c / in_c) in NHWC: the loops run
// over the channels, contiguous in NHWC, so they vectorise; compiled once per instruction set from
// depthwise_kernels.inc (depthwise_kernels_{generic,avx2,avx512}.cpp). conv2d.cpp calls them for every
// depthwise shape. Weights (kh, kw, 1, out_c), output channel o = c * M + m reads input channel c.
#pragma once

#include <cstdint>

#include "conv/conv2d.h"

namespace pynn {

// Each function does the rows [r0, r1) of its output: forward rows are (n, oh), n * out_h + oh; backward-data
// rows are (n, ih), n * in_h + ih (gathered from the outputs whose windows cover them, taps in order). The
// weight gradient sums the output rows [r0, r1) into dw (taps * out_c) and db (out_c, or null), which it adds
// to. dz = dy, or dy * (mask > 0) with a mask.
template <class T>
struct DepthwiseKernels {
  void (*forward_rows)(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, int64_t r0, int64_t r1);
  void (*backward_data_rows)(const Conv2dParams& p, const T* dy, const T* mask, const T* w, T* dx, int64_t r0,
                             int64_t r1);
  void (*backward_weights_rows)(const Conv2dParams& p, const T* x, const T* dy, const T* mask, T* dw, T* db,
                                int64_t r0, int64_t r1);
};

extern const DepthwiseKernels<float> depthwise_kernels_generic_f32;
extern const DepthwiseKernels<double> depthwise_kernels_generic_f64;
#if defined(PYNN_X86)
extern const DepthwiseKernels<float> depthwise_kernels_avx2_f32;
extern const DepthwiseKernels<double> depthwise_kernels_avx2_f64;
extern const DepthwiseKernels<float> depthwise_kernels_avx512_f32;
extern const DepthwiseKernels<double> depthwise_kernels_avx512_f64;
#endif

}  // namespace pynn
