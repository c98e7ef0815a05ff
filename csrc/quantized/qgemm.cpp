// The int8 GEMM driver: quantizing rows, packing B, the split over threads and the ISA's tile. See qgemm.h.
#include "quantized/qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpu.h"
#include "common/parallel.h"
#include "common/scratch.h"
#include "quantized/qgemm_kernels.h"

namespace pynn {
namespace {

QgemmTileFn tile_for(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx2 || isa == Isa::avx512) return &qgemm_tile_avx2;   // AVX-512 CPUs have AVX2
#endif
  (void)isa;
  return &qgemm_tile_generic;
}

constexpr int64_t kWorkPerThread = 1 << 16;   // multiply-adds; sets how many threads wake, never the result
constexpr int kQlinearScratchSlot = 11;       // see common/scratch.h

void run(QgemmTileFn fn, int64_t m, int64_t n, int64_t k, const int16_t* a, int64_t lda, const float* a_scale,
         const int16_t* packed_b, const float* b_scale, const float* bias, const ActivationParams* activation,
         float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const int64_t pairs = qgemm_k_pairs(k);
  const int64_t panels = (n + kQgemmPanel - 1) / kQgemmPanel;
  const int64_t row_blocks = (m + kQgemmRows - 1) / kQgemmRows;
  const bool has_act = activation && activation->kind != Activation::linear;
  // Tasks: (row block, column panel) pairs, row-block major; each is one tile. Integer sums are exact and
  // each element's epilogue is the same whichever thread runs it.
  const int64_t tasks = row_blocks * panels;
  const int64_t work_per_task = std::max<int64_t>(1, kQgemmRows * kQgemmPanel * std::max<int64_t>(k, 1));
  parallel_for(tasks, std::max<int64_t>(1, kWorkPerThread / work_per_task), [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t rb = task / panels, q = task % panels;
      const int64_t i0 = rb * kQgemmRows, j0 = q * kQgemmPanel;
      QgemmTile t;
      t.a = a + i0 * lda;
      t.lda = lda;
      t.pairs = pairs;
      t.b = packed_b + q * kQgemmPanel * pairs * 2;
      t.rows = static_cast<int>(std::min<int64_t>(kQgemmRows, m - i0));
      t.cols = static_cast<int>(std::min<int64_t>(kQgemmPanel, n - j0));
      t.a_scale = a_scale + i0;
      t.b_scale = b_scale + j0;
      t.bias = bias ? bias + j0 : nullptr;
      t.c = c + i0 * ldc + j0;
      t.ldc = ldc;
      fn(t);
      if (has_act)
        for (int i = 0; i < t.rows; ++i) activation_forward_serial(*activation, t.c + i * ldc, t.c + i * ldc, t.cols);
    }
  });
}

const QuantizeRowFns& rows_for(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx2 || isa == Isa::avx512) return quantize_row_avx2;
#endif
  (void)isa;
  return quantize_row_generic;
}

void quantize_rows_ld(const float* x, int64_t m, int64_t k, int64_t ldx, int16_t* q, int64_t ld, float* scale) {
  const auto fn = rows_for(active_isa()).dynamic;
  parallel_for(m, std::max<int64_t>(1, kWorkPerThread / std::max<int64_t>(k, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) fn(x + i * ldx, k, q + i * ld, ld, scale + i);
  });
}

}  // namespace

void quantize_rows(const float* x, int64_t m, int64_t k, int16_t* q, int64_t ld, float* scale) {
  quantize_rows_ld(x, m, k, k, q, ld, scale);
}

void quantize_rows_static(const float* x, int64_t m, int64_t k, int64_t ldx, float scale, int16_t* q, int64_t ld) {
  const auto fn = rows_for(active_isa()).fixed;
  parallel_for(m, std::max<int64_t>(1, kWorkPerThread / std::max<int64_t>(k, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) fn(x + i * ldx, k, scale, q + i * ld, ld);
  });
}

void qlinear(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, float input_scale,
             const int16_t* packed_b, const float* b_scale, const float* bias, const ActivationParams* activation,
             float* y, int64_t ldy) {
  if (m <= 0 || n <= 0) return;
  const int64_t ld = qgemm_k_pairs(k) * 2;
  // The quantized rows and their scales, in the calling thread's scratch (the team only reads them).
  char* buffer = static_cast<char*>(thread_scratch(kQlinearScratchSlot, sizeof(int16_t) * m * ld + 64 + sizeof(float) * m));
  int16_t* q = reinterpret_cast<int16_t*>(buffer);
  float* scale = reinterpret_cast<float*>(buffer + (sizeof(int16_t) * m * ld + 63) / 64 * 64);
  if (input_scale > 0.0f) {
    quantize_rows_static(x, m, k, ldx, input_scale, q, ld);
    for (int64_t i = 0; i < m; ++i) scale[i] = input_scale;
  } else {
    quantize_rows_ld(x, m, k, ldx, q, ld, scale);
  }
  run(tile_for(active_isa()), m, n, k, q, ld, scale, packed_b, b_scale, bias, activation, y, ldy);
}

void qgemm_pack_b(const int8_t* b, int64_t k, int64_t n, int16_t* packed) {
  const int64_t pairs = qgemm_k_pairs(k);
  const int64_t panels = (n + kQgemmPanel - 1) / kQgemmPanel;
  for (int64_t q = 0; q < panels; ++q) {
    int16_t* dst = packed + q * kQgemmPanel * pairs * 2;
    for (int64_t p = 0; p < pairs; ++p)
      for (int j = 0; j < kQgemmPanel; ++j)
        for (int e = 0; e < 2; ++e) {
          const int64_t row = 2 * p + e, col = q * kQgemmPanel + j;
          dst[(p * kQgemmPanel + j) * 2 + e] = (row < k && col < n) ? b[row * n + col] : 0;
        }
  }
}

void qgemm(int64_t m, int64_t n, int64_t k, const int16_t* a, int64_t lda, const float* a_scale,
           const int16_t* packed_b, const float* b_scale, const float* bias, const ActivationParams* activation,
           float* c, int64_t ldc) {
  run(tile_for(active_isa()), m, n, k, a, lda, a_scale, packed_b, b_scale, bias, activation, c, ldc);
}

void qgemm_reference(int64_t m, int64_t n, int64_t k, const int16_t* a, int64_t lda, const float* a_scale,
                     const int16_t* packed_b, const float* b_scale, const float* bias,
                     const ActivationParams* activation, float* c, int64_t ldc) {
  SerialScope serial;
  run(&qgemm_tile_generic, m, n, k, a, lda, a_scale, packed_b, b_scale, bias, activation, c, ldc);
}

}  // namespace pynn
