// The sparse-weight product driver: packing, the split over threads and the ISA's loops. See spmm.h.
#include "sparse/spmm.h"

#include <algorithm>

#include "common/cpu.h"
#include "common/parallel.h"
#include "common/scratch.h"
#include "sparse/spmm_kernels.h"

namespace pynn {
namespace {

const SpmmKernels& kernels_for(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return spmm_kernels_avx512;
  if (isa == Isa::avx2) return spmm_kernels_avx2;
#endif
  (void)isa;
  return spmm_kernels_generic;
}

constexpr int kScratchSlot = 10;              // see common/scratch.h
constexpr int64_t kWorkPerThread = 1 << 15;   // multiply-adds; sets how many threads wake, never the result
constexpr int64_t kColumnsPerTask = 64;

void run(const SpmmKernels& kern, int64_t m, int64_t k, int64_t n, const float* x, int64_t ldx,
         const int32_t* col_ptr, const int32_t* row_idx, const float* values, const float* bias,
         const ActivationParams* activation, float* y, int64_t ldy) {
  if (m <= 0 || n <= 0) return;
  const bool has_act = activation && activation->kind != Activation::linear;
  const int64_t nnz = col_ptr[n];
  const int64_t col_tasks = (n + kColumnsPerTask - 1) / kColumnsPerTask;
  const int64_t work_per_col_task = std::max<int64_t>(1, nnz / col_tasks);
  if (m < kSpmmRows / 2) {
    // A few rows: each task is a block of columns for all rows, one row at a time.
    parallel_for(col_tasks, std::max<int64_t>(1, kWorkPerThread / (work_per_col_task * m)),
                 [&](int64_t t0, int64_t t1) {
      const int64_t j0 = t0 * kColumnsPerTask, j1 = std::min(n, t1 * kColumnsPerTask);
      for (int64_t i = 0; i < m; ++i) {
        kern.row(x + i * ldx, j0, j1, col_ptr, row_idx, values, bias, y + i * ldy);
        if (has_act) activation_forward_serial(*activation, y + i * ldy + j0, y + i * ldy + j0, j1 - j0);
      }
    });
    return;
  }
  // Tasks: (block of kSpmmRows rows, block of columns), row-block major, so that the consecutive tasks one
  // thread gets mostly share a row block, which it transposes once.
  const int64_t row_blocks = (m + kSpmmRows - 1) / kSpmmRows;
  const int64_t tasks = row_blocks * col_tasks;
  parallel_for(tasks, std::max<int64_t>(1, kWorkPerThread / (work_per_col_task * kSpmmRows)),
               [&](int64_t t0, int64_t t1) {
    float* xt = static_cast<float*>(thread_scratch(kScratchSlot, sizeof(float) * k * kSpmmRows));
    int64_t held = -1;
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t rb = task / col_tasks, cb = task % col_tasks;
      const int64_t i0 = rb * kSpmmRows;
      const int rows = static_cast<int>(std::min<int64_t>(kSpmmRows, m - i0));
      if (rb != held) {
        for (int64_t c = 0; c < k; ++c) {
          float* dst = xt + c * kSpmmRows;
          for (int r = 0; r < rows; ++r) dst[r] = x[(i0 + r) * ldx + c];
          for (int r = rows; r < kSpmmRows; ++r) dst[r] = 0.0f;
        }
        held = rb;
      }
      const int64_t j0 = cb * kColumnsPerTask, j1 = std::min(n, j0 + kColumnsPerTask);
      float* yb = y + i0 * ldy;
      kern.block(xt, j0, j1, col_ptr, row_idx, values, bias, yb, ldy, rows);
      if (has_act)
        for (int r = 0; r < rows; ++r) activation_forward_serial(*activation, yb + r * ldy + j0, yb + r * ldy + j0, j1 - j0);
    }
  });
}

}  // namespace

int64_t sparse_count_nonzeros(const float* w, int64_t k, int64_t n) {
  int64_t count = 0;
  for (int64_t i = 0; i < k * n; ++i) count += w[i] != 0.0f;
  return count;
}

void sparse_pack(const float* w, int64_t k, int64_t n, int32_t* col_ptr, int32_t* row_idx, float* values) {
  int64_t p = 0;
  for (int64_t j = 0; j < n; ++j) {
    col_ptr[j] = static_cast<int32_t>(p);
    for (int64_t i = 0; i < k; ++i) {
      const float v = w[i * n + j];
      if (v != 0.0f) {
        row_idx[p] = static_cast<int32_t>(i);
        values[p] = v;
        ++p;
      }
    }
  }
  col_ptr[n] = static_cast<int32_t>(p);
}

void sparse_matmul(int64_t m, int64_t k, int64_t n, const float* x, int64_t ldx, const int32_t* col_ptr,
                   const int32_t* row_idx, const float* values, const float* bias,
                   const ActivationParams* activation, float* y, int64_t ldy) {
  run(kernels_for(active_isa()), m, k, n, x, ldx, col_ptr, row_idx, values, bias, activation, y, ldy);
}

void sparse_matmul_reference(int64_t m, int64_t k, int64_t n, const float* x, int64_t ldx, const int32_t* col_ptr,
                             const int32_t* row_idx, const float* values, const float* bias,
                             const ActivationParams* activation, float* y, int64_t ldy) {
  (void)k;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int64_t p = col_ptr[j]; p < col_ptr[j + 1]; ++p) s += x[i * ldx + row_idx[p]] * values[p];
      y[i * ldy + j] = s + (bias ? bias[j] : 0.0f);
    }
    if (activation && activation->kind != Activation::linear)
      activation_forward_serial(*activation, y + i * ldy, y + i * ldy, n);
  }
}

}  // namespace pynn
