// Pooling: output shapes, parameter checks, the choice of ISA table and the split across threads.
// The loops are in pooling_kernels.inc; the semantics in pooling.h.
#include "pooling/pooling.h"

#include "common/cpu.h"
#include "common/parallel.h"
#include "pooling/pooling_kernels.h"

namespace pynn {
namespace {

template <class T>
const PoolingKernels<T>& pooling_kernels();

template <>
const PoolingKernels<float>& pooling_kernels<float>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return pooling_kernels_avx512_f32;
    case Isa::avx2: return pooling_kernels_avx2_f32;
    default: break;
  }
#endif
  return pooling_kernels_generic_f32;
}

template <>
const PoolingKernels<double>& pooling_kernels<double>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return pooling_kernels_avx512_f64;
    case Isa::avx2: return pooling_kernels_avx2_f64;
    default: break;
  }
#endif
  return pooling_kernels_generic_f64;
}

constexpr int64_t kWorkPerThread = 1 << 14;  // elements touched; sets how many threads wake, never the result

// Rows [0, rows) over the threads, each row touching about `row_work` elements.
template <class Body>
void for_rows(int64_t rows, int64_t row_work, Body&& body) {
  const int64_t grain = row_work >= kWorkPerThread ? 1 : kWorkPerThread / (row_work > 0 ? row_work : 1);
  parallel_for(rows, grain, body);
}

void output_size(int64_t in, int64_t pool, int64_t stride, bool same, int64_t& out, int64_t& pad_before) {
  if (same) {
    out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + pool - in;
    if (total < 0) total = 0;
    pad_before = total / 2;
  } else {
    out = in >= pool ? (in - pool) / stride + 1 : 0;
    pad_before = 0;
  }
}

}  // namespace

void pool2d_output_shape(Pool2dParams& p, bool same_padding) {
  if (p.stride_h < 1 || p.stride_w < 1 || p.pool_h < 1 || p.pool_w < 1) {
    p.out_h = p.out_w = 0;
    return;
  }
  output_size(p.in_h, p.pool_h, p.stride_h, same_padding, p.out_h, p.pad_top);
  output_size(p.in_w, p.pool_w, p.stride_w, same_padding, p.out_w, p.pad_left);
}

bool pool2d_params_valid(const Pool2dParams& p) {
  if (p.batch < 0 || p.in_h < 1 || p.in_w < 1 || p.channels < 1 || p.pool_h < 1 || p.pool_w < 1 ||
      p.stride_h < 1 || p.stride_w < 1 || p.out_h < 1 || p.out_w < 1)
    return false;
  if (p.in_h > (int64_t{1} << 31) / p.in_w) return false;  // argmax indices ih * in_w + iw fit int32
  for (int same = 0; same < 2; ++same) {
    Pool2dParams q = p;
    pool2d_output_shape(q, same != 0);
    if (q.out_h == p.out_h && q.out_w == p.out_w && q.pad_top == p.pad_top && q.pad_left == p.pad_left)
      return true;
  }
  return false;
}

namespace {

template <class T>
void max_forward(const Pool2dParams& p, const T* x, T* y, int32_t* argmax) {
  if (!pool2d_params_valid(p)) return;
  const auto fn = pooling_kernels<T>().max_forward_rows;
  for_rows(p.batch * p.out_h, p.out_w * p.pool_h * p.pool_w * p.channels,
           [&](int64_t r0, int64_t r1) { fn(p, x, y, argmax, r0, r1); });
}

template <class T>
void max_backward(const Pool2dParams& p, const T* dy, const int32_t* argmax, T* dx) {
  if (!pool2d_params_valid(p)) return;
  const auto fn = pooling_kernels<T>().max_backward_rows;
  for_rows(p.batch * p.in_h, p.in_w * p.channels * 2, [&](int64_t r0, int64_t r1) { fn(p, dy, argmax, dx, r0, r1); });
}

template <class T>
void avg_forward(const Pool2dParams& p, const T* x, T* y) {
  if (!pool2d_params_valid(p)) return;
  const auto fn = pooling_kernels<T>().avg_forward_rows;
  for_rows(p.batch * p.out_h, p.out_w * p.pool_h * p.pool_w * p.channels,
           [&](int64_t r0, int64_t r1) { fn(p, x, y, r0, r1); });
}

template <class T>
void avg_backward(const Pool2dParams& p, const T* dy, T* dx) {
  if (!pool2d_params_valid(p)) return;
  const auto fn = pooling_kernels<T>().avg_backward_rows;
  for_rows(p.batch * p.in_h, p.in_w * p.channels * 2, [&](int64_t r0, int64_t r1) { fn(p, dy, dx, r0, r1); });
}

}  // namespace

void max_pool2d_forward(const Pool2dParams& p, const float* x, float* y, int32_t* argmax) { max_forward(p, x, y, argmax); }
void max_pool2d_forward(const Pool2dParams& p, const double* x, double* y, int32_t* argmax) { max_forward(p, x, y, argmax); }
void max_pool2d_backward(const Pool2dParams& p, const float* dy, const int32_t* argmax, float* dx) { max_backward(p, dy, argmax, dx); }
void max_pool2d_backward(const Pool2dParams& p, const double* dy, const int32_t* argmax, double* dx) { max_backward(p, dy, argmax, dx); }
void avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y) { avg_forward(p, x, y); }
void avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y) { avg_forward(p, x, y); }
void avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx) { avg_backward(p, dy, dx); }
void avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx) { avg_backward(p, dy, dx); }

// ---------------------------------------------------------------- reference loops
namespace {

struct Window {
  int64_t h0, h1, w0, w1;
};

Window window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.stride_h - p.pad_top, ws = ow * p.stride_w - p.pad_left;
  return {hs < 0 ? 0 : hs, hs + p.pool_h < p.in_h ? hs + p.pool_h : p.in_h,
          ws < 0 ? 0 : ws, ws + p.pool_w < p.in_w ? ws + p.pool_w : p.in_w};
}

template <class T>
void max_forward_ref(const Pool2dParams& p, const T* x, T* y, int32_t* argmax) {
  if (!pool2d_params_valid(p)) return;
  const int64_t C = p.channels;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const Window win = window(p, oh, ow);
        const int64_t o = ((n * p.out_h + oh) * p.out_w + ow) * C;
        for (int64_t c = 0; c < C; ++c) {
          T best = x[((n * p.in_h + win.h0) * p.in_w + win.w0) * C + c];
          int64_t best_index = win.h0 * p.in_w + win.w0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) {
              const T v = x[((n * p.in_h + h) * p.in_w + w) * C + c];
              if (v > best || v != v) {
                best = v;
                best_index = h * p.in_w + w;
              }
            }
          y[o + c] = best;
          if (argmax) argmax[o + c] = static_cast<int32_t>(best_index);
        }
      }
}

template <class T>
void max_backward_ref(const Pool2dParams& p, const T* dy, const int32_t* argmax, T* dx) {
  if (!pool2d_params_valid(p)) return;
  const int64_t C = p.channels, pixels = p.in_h * p.in_w;
  for (int64_t i = 0; i < p.batch * pixels * C; ++i) dx[i] = T(0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t o = 0; o < p.out_h * p.out_w; ++o)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t at = (n * p.out_h * p.out_w + o) * C + c;
        const int64_t index = argmax[at];
        if (index >= 0 && index < pixels) dx[(n * pixels + index) * C + c] += dy[at];
      }
}

template <class T>
void avg_forward_ref(const Pool2dParams& p, const T* x, T* y) {
  if (!pool2d_params_valid(p)) return;
  const int64_t C = p.channels;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const Window win = window(p, oh, ow);
        const T count = static_cast<T>((win.h1 - win.h0) * (win.w1 - win.w0));
        for (int64_t c = 0; c < C; ++c) {
          T sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) sum += x[((n * p.in_h + h) * p.in_w + w) * C + c];
          y[((n * p.out_h + oh) * p.out_w + ow) * C + c] = sum / count;
        }
      }
}

template <class T>
void avg_backward_ref(const Pool2dParams& p, const T* dy, T* dx) {
  if (!pool2d_params_valid(p)) return;
  const int64_t C = p.channels;
  for (int64_t i = 0; i < p.batch * p.in_h * p.in_w * C; ++i) dx[i] = T(0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const Window win = window(p, oh, ow);
        const T count = static_cast<T>((win.h1 - win.h0) * (win.w1 - win.w0));
        for (int64_t c = 0; c < C; ++c) {
          const T g = dy[((n * p.out_h + oh) * p.out_w + ow) * C + c] / count;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) dx[((n * p.in_h + h) * p.in_w + w) * C + c] += g;
        }
      }
}

}  // namespace

void max_pool2d_forward_reference(const Pool2dParams& p, const float* x, float* y, int32_t* argmax) { max_forward_ref(p, x, y, argmax); }
void max_pool2d_forward_reference(const Pool2dParams& p, const double* x, double* y, int32_t* argmax) { max_forward_ref(p, x, y, argmax); }
void max_pool2d_backward_reference(const Pool2dParams& p, const float* dy, const int32_t* argmax, float* dx) { max_backward_ref(p, dy, argmax, dx); }
void max_pool2d_backward_reference(const Pool2dParams& p, const double* dy, const int32_t* argmax, double* dx) { max_backward_ref(p, dy, argmax, dx); }
void avg_pool2d_forward_reference(const Pool2dParams& p, const float* x, float* y) { avg_forward_ref(p, x, y); }
void avg_pool2d_forward_reference(const Pool2dParams& p, const double* x, double* y) { avg_forward_ref(p, x, y); }
void avg_pool2d_backward_reference(const Pool2dParams& p, const float* dy, float* dx) { avg_backward_ref(p, dy, dx); }
void avg_pool2d_backward_reference(const Pool2dParams& p, const double* dy, double* dx) { avg_backward_ref(p, dy, dx); }

}  // namespace pynn
