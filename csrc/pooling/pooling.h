// 2-D max and average pooling in NHWC, forward and backward (1-D pooling is the H = 1 case, global pooling the
// case pool = stride = the whole image).
//
// Window (oh, ow) covers input rows [oh * stride_h - pad_top, + pool_h) and columns [ow * stride_w - pad_left,
// + pool_w), clipped to the image: padded positions take no part (Keras / TensorFlow: max ignores them, average
// divides by the number of valid elements in the window).
//
//   max forward       y[n, oh, ow, c] = the max of x over the window; argmax[n, oh, ow, c] = ih * in_w + iw of
//                     the first maximum in row-major window order (NaN propagates: a NaN is the maximum).
//   max backward      dx[n, ih, iw, c] = sum of dy[n, oh, ow, c] over the windows covering (ih, iw) whose argmax
//                     is (ih, iw), in (oh, ow) order.
//   average forward   y = (sum of x over the valid window positions, in row-major order) / count.
//   average backward  dx[n, ih, iw, c] = sum over the windows covering (ih, iw), in (oh, ow) order, of
//                     dy[n, oh, ow, c] / count(oh, ow).
//
// Backward gathers per input pixel (no scatter, no atomics) and every output is computed by one thread in a
// fixed order, so results are bit-identical for any thread count. Vectorised over channels; the loops are in
// pooling_kernels.inc, compiled per instruction set.
#pragma once

#include <cstdint>

namespace pynn {

struct Pool2dParams {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  int64_t pool_h = 1, pool_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // 'same': the padding before; the rest of the padding is after
  int64_t out_h = 0, out_w = 0;
};

// Fills out_h, out_w, pad_top, pad_left from the other fields with Keras's rule: 'valid' gives
// floor((in - pool) / stride) + 1 (< 1 when the pool is larger than the input) and no padding; 'same' gives
// ceil(in / stride) with max((out - 1) * stride + pool - in, 0) padding, the smaller half before.
void pool2d_output_shape(Pool2dParams& p, bool same_padding);
// True when the fields are consistent (positive sizes, out_* and pad_* as pool2d_output_shape sets them for
// one of the paddings, in_h * in_w < 2^31 so argmax fits int32): the kernels never run on anything else.
bool pool2d_params_valid(const Pool2dParams& p);

// argmax may be null (inference: no indices kept).
void max_pool2d_forward(const Pool2dParams& p, const float* x, float* y, int32_t* argmax);
void max_pool2d_forward(const Pool2dParams& p, const double* x, double* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dParams& p, const float* dy, const int32_t* argmax, float* dx);
void max_pool2d_backward(const Pool2dParams& p, const double* dy, const int32_t* argmax, double* dx);
void avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y);
void avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y);
void avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx);
void avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx);

// The plain serial loops (one output at a time, backward by scatter in (oh, ow) order): the readable spec and
// the tests' oracle. They agree with the fast versions to rounding.
void max_pool2d_forward_reference(const Pool2dParams& p, const float* x, float* y, int32_t* argmax);
void max_pool2d_forward_reference(const Pool2dParams& p, const double* x, double* y, int32_t* argmax);
void max_pool2d_backward_reference(const Pool2dParams& p, const float* dy, const int32_t* argmax, float* dx);
void max_pool2d_backward_reference(const Pool2dParams& p, const double* dy, const int32_t* argmax, double* dx);
void avg_pool2d_forward_reference(const Pool2dParams& p, const float* x, float* y);
void avg_pool2d_forward_reference(const Pool2dParams& p, const double* x, double* y);
void avg_pool2d_backward_reference(const Pool2dParams& p, const float* dy, float* dx);
void avg_pool2d_backward_reference(const Pool2dParams& p, const double* dy, double* dx);

}  // namespace pynn
