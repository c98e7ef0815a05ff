// 2-D convolution in NHWC with HWIO weights: forward, backward-data, backward-weights.
//
//   x  (batch, in_h, in_w, in_c)          w  (kernel_h, kernel_w, in_c / groups, out_c)
//   y  (batch, out_h, out_w, out_c)       bias (out_c) or nullptr
//
//   y[n, oh, ow, o] = act(bias[o] + sum_{kh, kw, c} x[n, ih, iw, g * cin_g + c] * w[kh, kw, c, o])
//       ih = oh * stride_h - pad_top + kh * dilation_h,  iw = ow * stride_w - pad_left + kw * dilation_w,
//       g = o / cout_g (cin_g = in_c / groups, cout_g = out_c / groups); taps outside the image read 0.
//
// The padding after the image is implied by out_h / out_w (Keras's 'same' pads the extra row at the bottom and
// the extra column at the right). Every tap is bounds-checked, so any params consistent with the arrays'
// sizes are safe. A transposed convolution is the backward-data of the convolution it transposes.
//
// The fast versions choose by one rule (conv2d.cpp, algorithm_for): an indirect-GEMM register tile
// (conv_kernels.h) or im2col tiles in cache + the core GEMM (gemm/gemm.h), channel-vectorised loops for
// depthwise shapes (depthwise_kernels.h), one GEMM on x itself for a 1x1 stride-1 unpadded conv. Tiles are
// fixed by the shape, the weight gradient sums fixed, shape-determined chunks of pixels in chunk order, so
// every result is bit-identical for any thread count. The *_reference versions are the plain loops (the
// tests' oracle).
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

struct Conv2dParams {
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int64_t out_h = 0, out_w = 0, out_c = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t groups = 1;
};

// y = act(conv(x, w) + bias). bias and activation may be null.
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                    const ActivationParams* activation);
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* bias, double* y,
                    const ActivationParams* activation);

// The backward kernels take the gradient dz of the linear conv's output. With a relu fused into the forward,
// pass its gradient dy and the forward's output y as `mask`: dz = dy * (y > 0) is formed tile by tile as the
// kernels read it (no separate pass over the feature map). mask may be null (dz = dy); it has dy's shape.

// dx = d(sum dz * y) / dx for the linear conv.
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                          const float* mask = nullptr);
void conv2d_backward_data(const Conv2dParams& p, const double* dy, const double* w, double* dx,
                          const double* mask = nullptr);

// dw = (accumulate ? dw : 0) + d/dw; dbias likewise from the sums of dz over every pixel (dbias may be null).
void conv2d_backward_weights(const Conv2dParams& p, const float* x, const float* dy, float* dw, float* dbias,
                             bool accumulate, const float* mask = nullptr);
void conv2d_backward_weights(const Conv2dParams& p, const double* x, const double* dy, double* dw,
                             double* dbias, bool accumulate, const double* mask = nullptr);

void conv2d_forward_reference(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                              const ActivationParams* activation);
void conv2d_forward_reference(const Conv2dParams& p, const double* x, const double* w, const double* bias,
                              double* y, const ActivationParams* activation);
void conv2d_backward_data_reference(const Conv2dParams& p, const float* dy, const float* w, float* dx);
void conv2d_backward_data_reference(const Conv2dParams& p, const double* dy, const double* w, double* dx);
void conv2d_backward_weights_reference(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                       float* dbias, bool accumulate);
void conv2d_backward_weights_reference(const Conv2dParams& p, const double* x, const double* dy, double* dw,
                                       double* dbias, bool accumulate);

}  // namespace pynn
