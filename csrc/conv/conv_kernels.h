// The interface between the convolution driver (conv2d.cpp) and its per-ISA register tiles
// (conv_kernels_{generic,avx2,avx512}.cpp): the indirect-GEMM tile of XNNPACK's igemm, written for pynn.
#pragma once

#include <cstdint>

#include "common/cpu.h"
#include "conv/conv2d.h"

namespace pynn {

// One tile of an indirect convolution: `rows` (<= mr) output pixels x `cols` (<= nr) output channels,
//   c[i * ldc + j] = bias[j] + sum_{t < taps} sum_{k < kc} a[t * mr + i][k] * w[(t * kc + k) * ldw + j]
// a: for each tap, mr pointers to kc contiguous input values (the pixel's channels of one group; a tap
// outside the image, and a row past `rows`, points at kc zeros). w: the block's weights packed by the
// driver, taps * kc rows of ldw == nr values, zero past `cols`. bias: nullptr or `cols` values. The
// accumulators stay in registers over every tap and channel; nothing is stored but the tile of c.
//
// The direct tile reads the same sums from one zero-padded window of input rows instead of a pointer table:
//   c[i * ldc + j] = bias[j] + sum_{q < taps} base[tap_off[q] + i * pix] * w[q * ldw + j]
// with one offset per tap and channel (taps = kh * kw * kc here, kc unused): pixel i of a stride-s row of
// pixels at i * pix, for any number of rows (a whole output row), then max(c, 0) where `relu`. The window
// holds valid memory for the pixels of every panel, rows past `rows` included.
template <class T>
struct ConvTile {
  const T* const* a;
  int64_t taps, kc;
  const T* base;
  const int64_t* tap_off;
  int64_t pix;
  bool relu;
  const T* w;
  int64_t ldw;
  const T* bias;
  T* c;
  int64_t ldc;
  int rows, cols;
};

template <class T>
using ConvTileFn = void (*)(const ConvTile<T>&);

// The direct weight gradient of one output row of pixels, from the same window as the direct tile:
//   dw[q * ldw + o] += sum_{i < rows} base[tap_off[q] + i * pix] * dz[i * ldd + o]   for q < taps, o < cols
// (taps = kh * kw * cin_g offsets, one per tap and channel).
template <class T>
struct ConvDwTile {
  const T* base;
  const int64_t* tap_off;
  int64_t taps, pix;
  const T* dz;
  int64_t ldd, rows;
  T* dw;
  int64_t ldw;
  int cols;
};

// The driver's data loops (conv_loops.inc), compiled per ISA.
//   im2col      rows [r0, r0 + rows) of group g's patch matrix (kh * kw * cin_g columns, zeros for taps
//               outside the image) into col.
//   col2im_add  such rows added back into dx, each value into the input pixel and channel it came from,
//               row after row.
//   relu_masked out[i] = mask[i] > 0 ? dy[i] : 0 for i < len.
//   add_column_sums  sums[o] += sum_r d[r * ld + o] for o < width (the bias gradient).
//   winograd_input / winograd_output / winograd_dy / winograd_weights  the Winograd transforms (conv_loops.inc).
template <class T>
struct ConvKernel {
  int mr, nr;
  ConvTileFn<T> tile;
  ConvTileFn<T> direct_tile;
  void (*direct_dw)(const ConvDwTile<T>& t);
  void (*im2col)(const Conv2dParams& p, const T* x, int64_t g, int64_t r0, int64_t rows, T* col);
  void (*col2im_add)(const Conv2dParams& p, const T* col, int64_t g, int64_t r0, int64_t rows, T* dx);
  void (*relu_masked)(const T* dy, const T* mask, int64_t len, T* out);
  void (*winograd_input)(const Conv2dParams& p, const T* x, int64_t t0, int64_t tiles, T* v, int64_t ldv,
                         const T* zeros);
  void (*winograd_output)(const Conv2dParams& p, const T* m, int64_t ldm, int64_t t0, int64_t tiles, const T* bias,
                          bool relu, T* y, const T* zeros);
  void (*winograd_dy)(const Conv2dParams& p, const T* dy, const T* mask, int64_t t0, int64_t tiles, T* e,
                      int64_t lde, const T* zeros, T* bsum);
  void (*winograd_weights)(const T* w, int64_t C, int64_t K, T* u);
  void (*add_column_sums)(const T* d, int64_t rows, int64_t ld, int64_t width, double* sums);
};

extern const ConvKernel<float> conv_kernel_generic_f32;
extern const ConvKernel<double> conv_kernel_generic_f64;
#if defined(PYNN_X86)
extern const ConvKernel<float> conv_kernel_avx2_f32;
extern const ConvKernel<double> conv_kernel_avx2_f64;
extern const ConvKernel<float> conv_kernel_avx512_f32;
extern const ConvKernel<double> conv_kernel_avx512_f64;
#endif

}  // namespace pynn
