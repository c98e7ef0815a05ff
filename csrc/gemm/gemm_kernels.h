// The interface between the portable GEMM driver (gemm.cpp) and the per-ISA register-tile kernels
// (gemm_kernels_{generic,avx2,avx512}.cpp), after BLIS's split of frame/ and kernels/.
#pragma once

#include <cstdint>

#include "common/cpu.h"

namespace pynn {

// A block of C: `rows` rows (MR-row panels, the last may be short) x `cols` (<= NR) columns.
// For each panel: C[panel rows, 0:cols] = alpha * A_panel * B_panel + beta * C (+ bias), over k steps.
// a: A(i, kk) = a[i * a_row + kk * a_k] for all MR rows i of a panel, the next panel a_panel further on.
//    A packed panel: a_row = 1, a_k = MR, a_panel = MR * k, rows past the end zero. Full panels read in
//    place from the user's A: a_row = lda, a_k = 1 (or a_row = 1, a_k = lda when A is transposed),
//    a_panel = MR * lda (or MR); the caller packs a short last panel, so nothing past A is read.
// b: B(kk, j) = b[kk * b_stride + j]; only j < b_cols is read (a packed panel has b_cols == NR, a panel
//    read in place from the user's B has the real width).
// beta == 0 never reads C. bias: nullptr, or the bias of the block's first column.
template <class T>
struct GemmTile {
  int64_t k;
  const T* a;
  int64_t a_row, a_k, a_panel;
  const T* b;
  int64_t b_stride;
  int b_cols;
  T* c;
  int64_t ldc;
  int64_t rows;
  int cols;
  T alpha, beta;
  const T* bias;
};

template <class T>
using GemmTileFn = void (*)(const GemmTile<T>&);

// A kernel and the block sizes that suit it (MC a multiple of MR, NC of NR). `rows` computes a product
// with at most kGemmSmallRows rows of C over any number of columns, A and B read in place (B not
// transposed; b_cols == cols), or is nullptr where the ISA has none.
constexpr int kGemmSmallRows = 4;

template <class T>
struct GemmKernel {
  int mr, nr;
  int mc, kc, nc;
  GemmTileFn<T> tile;
  GemmTileFn<T> rows;
};

extern const GemmKernel<float> gemm_kernel_generic_f32;
extern const GemmKernel<double> gemm_kernel_generic_f64;
#if defined(PYNN_X86)
extern const GemmKernel<float> gemm_kernel_avx2_f32;
extern const GemmKernel<double> gemm_kernel_avx2_f64;
extern const GemmKernel<float> gemm_kernel_avx512_f32;
extern const GemmKernel<double> gemm_kernel_avx512_f64;
#endif

}  // namespace pynn
