// Baseline indirect convolution tile: 4 pixels x 8 output channels in plain arrays (SSE2 registers), the
// path every CPU can run and the one PYNN_ISA=generic selects.
#include "conv/conv_kernels.h"

#include <algorithm>
#include <cstring>

namespace pynn {
namespace {

#include "conv/conv_loops.inc"

constexpr int kMR = 4;
constexpr int kNR = 8;

template <class T>
void generic_conv_tile(const ConvTile<T>& t) {
  T acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kNR; ++j) acc[i][j] = t.bias && j < t.cols ? t.bias[j] : T(0);
  const T* w = t.w;
  const int cols = t.cols;
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const T* const* a = t.a + tap * kMR;
    for (int64_t k = 0; k < t.kc; ++k, w += t.ldw)
      for (int i = 0; i < kMR; ++i) {
        const T ai = a[i][k];
        for (int j = 0; j < kNR; ++j) acc[i][j] += ai * w[j];  // packed rows are zero past cols
      }
  }
  for (int i = 0; i < t.rows; ++i)
    for (int j = 0; j < cols; ++j) t.c[i * t.ldc + j] = acc[i][j];
}

// The direct tile over a row of pixels, kMR at a time (conv_kernels.h).
template <class T>
void generic_direct_tile(const ConvTile<T>& t) {
  for (int64_t r0 = 0; r0 < t.rows; r0 += kMR) {
    T acc[kMR][kNR];
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < kNR; ++j) acc[i][j] = t.bias && j < t.cols ? t.bias[j] : T(0);
    const T* base = t.base + r0 * t.pix;
    const T* w = t.w;
    for (int64_t q = 0; q < t.taps; ++q, w += t.ldw)
      for (int i = 0; i < kMR; ++i) {
        const T ai = base[t.tap_off[q] + i * t.pix];
        for (int j = 0; j < kNR; ++j) acc[i][j] += ai * w[j];
      }
    const int64_t rows = std::min<int64_t>(kMR, t.rows - r0);
    for (int64_t i = 0; i < rows; ++i)
      for (int j = 0; j < t.cols; ++j) {
        const T v = acc[i][j];
        t.c[(r0 + i) * t.ldc + j] = t.relu && v < T(0) ? T(0) : v;  // NaN propagates
      }
  }
}

// The direct weight gradient of a row of pixels (conv_kernels.h), plain loops.
template <class T>
void generic_direct_dw(const ConvDwTile<T>& t) {
  for (int64_t q = 0; q < t.taps; ++q) {
    const T* a = t.base + t.tap_off[q];
    T* out = t.dw + q * t.ldw;
    for (int64_t i = 0; i < t.rows; ++i) {
      const T ai = a[i * t.pix];
      const T* d = t.dz + i * t.ldd;
      for (int o = 0; o < t.cols; ++o) out[o] += ai * d[o];
    }
  }
}

}  // namespace

const ConvKernel<float> conv_kernel_generic_f32 = {kMR, kNR, &generic_conv_tile<float>,
    &generic_direct_tile<float>, &generic_direct_dw<float>, &im2col<float>,
    &col2im_add<float>, &relu_masked<float>,
    &winograd_input<float>, &winograd_output<float>, &winograd_dy<float>, &winograd_weights<float>, &add_column_sums<float>};
const ConvKernel<double> conv_kernel_generic_f64 = {kMR, kNR, &generic_conv_tile<double>,
    &generic_direct_tile<double>, &generic_direct_dw<double>, &im2col<double>,
    &col2im_add<double>, &relu_masked<double>,
    &winograd_input<double>, &winograd_output<double>, &winograd_dy<double>, &winograd_weights<double>, &add_column_sums<double>};

}  // namespace pynn
