// The per-step products of the recurrent layers (h_{t-1} U forward, dG U^T backward) on the GEMM's register
// tiles, with the constant matrix packed once per call.
//
// A whole-sequence call multiplies by the same recurrent matrix at every step. The core GEMM, called per
// step, reads that matrix in place with a row stride of G*U (a new page per k step once it is large: W4's
// 256 x 1024 ran at half speed) or repacks it every step. Here it is packed once into the tile kernel's
// NR-column panels, and each step calls the tile kernel directly on the rows of one batch chunk: full MR-row
// panels of A are read in place, a ragged last panel is copied into a small zero-padded buffer (the tile
// kernels read whole panels). Only recurrent.cpp includes this file (compiled for the baseline ISA; the tile
// kernels it calls are the per-ISA ones from gemm_kernels.h).
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/cpu.h"
#include "gemm/gemm_kernels.h"

namespace pynn {
namespace rnn_detail {

constexpr int64_t kMaxNR = 32;  // the widest tile of any ISA (AVX-512 float)
constexpr int64_t kMaxMR = 12;

// Elements needed to pack a k x n matrix for any ISA's tiles.
inline int64_t packed_size(int64_t k, int64_t n) { return k * (n + kMaxNR); }

template <class T>
const GemmKernel<T>& tile_kernel();

template <>
inline const GemmKernel<float>& tile_kernel<float>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return gemm_kernel_avx512_f32;
  if (active_isa() == Isa::avx2) return gemm_kernel_avx2_f32;
#endif
  return gemm_kernel_generic_f32;
}

template <>
inline const GemmKernel<double>& tile_kernel<double>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return gemm_kernel_avx512_f64;
  if (active_isa() == Isa::avx2) return gemm_kernel_avx2_f64;
#endif
  return gemm_kernel_generic_f64;
}

template <class T>
struct PackedMatrix {
  const GemmKernel<T>* kernel;
  const T* data;  // panel p (columns [p*NR, p*NR + NR)) at data + p * k * NR, k rows of NR values
  int64_t k, n;
};

// Pack B (k x n) with B(kk, j) = b[kk * row_stride + j * col_stride] into `dst` (packed_size(k, n) elements).
template <class T>
PackedMatrix<T> pack_matrix(const T* b, int64_t row_stride, int64_t col_stride, int64_t k, int64_t n, T* dst) {
  const GemmKernel<T>& kr = tile_kernel<T>();
  const int64_t nr = kr.nr;
  for (int64_t p = 0; p * nr < n; ++p) {
    T* panel = dst + p * k * nr;
    const int64_t cols = std::min(nr, n - p * nr);
    for (int64_t kk = 0; kk < k; ++kk) {
      const T* src = b + kk * row_stride + p * nr * col_stride;
      for (int64_t j = 0; j < cols; ++j) panel[kk * nr + j] = src[j * col_stride];
      for (int64_t j = cols; j < nr; ++j) panel[kk * nr + j] = T(0);
    }
  }
  return {&kr, dst, k, n};
}

// C (m x n, row stride ldc) = A (m x k, row stride lda) B + beta C (+ bias, n values, where given).
// a_panel: kMaxMR * k scratch values.
template <class T>
void step_product(const PackedMatrix<T>& b, int64_t m, const T* a, int64_t lda, T* c, int64_t ldc, T beta,
                  T* a_panel, const T* bias = nullptr) {
  if (m <= 0 || b.n <= 0) return;
  const GemmKernel<T>& kr = *b.kernel;
  const int64_t mr = kr.mr, nr = kr.nr, k = b.k;
  int64_t full = m / mr * mr, rest = m - full;
  // A last full panel and MR/3 more rows run as two panels of 2MR/3 rows, read in place (a chunk of 16
  // rows: 8 + 8, not 12 + 4): the MR/3-row kernel's few accumulators barely cover the FMA latency, and
  // it took a third of the 12-row panel's time for a third of its work only at best.
  const int64_t pair = mr % 3 == 0 && rest == mr / 3 && full >= mr ? 2 * mr / 3 : 0;
  if (pair) full -= mr, rest = 0;
  if (rest > 0) {
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t i = 0; i < mr; ++i) a_panel[kk * mr + i] = i < rest ? a[(full + i) * lda + kk] : T(0);
  }
  GemmTile<T> t;
  t.k = k;
  t.ldc = ldc;
  t.alpha = T(1);
  t.beta = beta;
  t.b_stride = nr;
  t.b_cols = static_cast<int>(nr);
  for (int64_t p = 0; p * nr < b.n; ++p) {
    t.b = b.data + p * k * nr;
    t.bias = bias ? bias + p * nr : nullptr;
    t.cols = static_cast<int>(std::min(nr, b.n - p * nr));
    if (full > 0) {
      t.a = a;
      t.a_row = lda;
      t.a_k = 1;
      t.a_panel = mr * lda;
      t.rows = full;
      t.c = c + p * nr;
      kr.tile(t);
    }
    for (int64_t h = 0; h < 2 && pair; ++h) {  // exactly 2MR/3 rows each: the kernel reads no more
      t.a = a + (full + h * pair) * lda;
      t.a_row = lda;
      t.a_k = 1;
      t.a_panel = mr * lda;
      t.rows = pair;
      t.c = c + (full + h * pair) * ldc + p * nr;
      kr.tile(t);
    }
    if (rest > 0) {
      t.a = a_panel;
      t.a_row = 1;
      t.a_k = mr;
      t.a_panel = mr * k;
      t.rows = rest;
      t.c = c + full * ldc + p * nr;
      kr.tile(t);
    }
  }
}

// C (m x n, row stride ldc) += A^T B for A (k x m, row stride lda) and B (k x n, row stride ldb), both read in
// place: the rows a batch chunk gathered over a few steps (k of them) into its partial weight gradient.
// Full MR-column panels of A are read where they lie; a ragged last one is copied into a_panel (kMaxMR * k
// values). The core GEMM would plan, pack A^T and size its team on every call (per step, with k = 16, it
// made W3's backward ~5% slower than this).
template <class T>
void step_product_at(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                     int64_t ldc, T* a_panel) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const GemmKernel<T>& kr = tile_kernel<T>();
  const int64_t mr = kr.mr, nr = kr.nr;
  const int64_t full = m / mr * mr, rest = m - full;
  if (rest > 0) {
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t i = 0; i < mr; ++i) a_panel[kk * mr + i] = i < rest ? a[kk * lda + full + i] : T(0);
  }
  GemmTile<T> t;
  t.k = k;
  t.ldc = ldc;
  t.alpha = T(1);
  t.beta = T(1);
  t.bias = nullptr;
  t.b_stride = ldb;
  t.a_row = 1;
  for (int64_t j = 0; j < n; j += nr) {
    t.b = b + j;
    t.b_cols = t.cols = static_cast<int>(std::min(nr, n - j));
    if (full > 0) {
      t.a = a;
      t.a_k = lda;
      t.a_panel = mr;
      t.rows = full;
      t.c = c + j;
      kr.tile(t);
    }
    if (rest > 0) {
      t.a = a_panel;
      t.a_k = mr;
      t.a_panel = mr * k;
      t.rows = rest;
      t.c = c + full * ldc + j;
      kr.tile(t);
    }
  }
}

}  // namespace rnn_detail
}  // namespace pynn
