// The interface between the convolution driver (conv2d.cpp) and its per-ISA register tiles
// (conv_kernels_{generic,avx2,avx512}.cpp): the indirect-GEMM tile of XNNPACK's igemm, written for pynn.
#pragma once

#include <cstdint>

#include "common/cpu.h"

namespace pynn {

// One tile of an indirect convolution: `rows` (<= mr) output pixels x `cols` (<= nr) output channels,
//   c[i * ldc + j] = bias[j] + sum_{t < taps} sum_{k < kc} a[t * mr + i][k] * w[(t * kc + k) * ldw + j]
// a: for each tap, mr pointers to kc contiguous input values (the pixel's channels of one group; a tap
// outside the image, and a row past `rows`, points at kc zeros). w: the block's weights packed by the
// driver, taps * kc rows of ldw == nr values, zero past `cols`. bias: nullptr or `cols` values. The
// accumulators stay in registers over every tap and channel; nothing is stored but the tile of c.
template <class T>
struct ConvTile {
  const T* const* a;
  int64_t taps, kc;
  const T* w;
  int64_t ldw;
  const T* bias;
  T* c;
  int64_t ldc;
  int rows, cols;
};

template <class T>
using ConvTileFn = void (*)(const ConvTile<T>&);

template <class T>
struct ConvKernel {
  int mr, nr;
  ConvTileFn<T> tile;
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
