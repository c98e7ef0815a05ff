// The interface between the sparse-weight product driver (spmm.cpp) and its per-ISA loops
// (spmm_kernels_{generic,avx2,avx512}.cpp, all compiled from spmm_kernels.inc).
#pragma once

#include <cstdint>

namespace pynn {

struct SpmmKernels {
  // Columns [j0, j1) of one block of kSpmmRows rows: y[r * ldy + j] = bias[j] + sum over column j's nonzeros
  // of xt[row_idx[p] * kSpmmRows + r] values[p], for r < rows (xt: the block transposed, k x kSpmmRows).
  void (*block)(const float* xt, int64_t j0, int64_t j1, const int32_t* col_ptr, const int32_t* row_idx,
                const float* values, const float* bias, float* y, int64_t ldy, int rows);
  // Columns [j0, j1) of one row: y[j] = bias[j] + sum over column j's nonzeros of x[row_idx[p]] values[p].
  void (*row)(const float* x, int64_t j0, int64_t j1, const int32_t* col_ptr, const int32_t* row_idx,
              const float* values, const float* bias, float* y);
};

extern const SpmmKernels spmm_kernels_generic;
#if defined(PYNN_X86)
extern const SpmmKernels spmm_kernels_avx2;
extern const SpmmKernels spmm_kernels_avx512;
#endif

}  // namespace pynn
