// The interface between the int8 GEMM driver (qgemm.cpp) and its per-ISA tiles (qgemm_kernels_{avx2,generic}.cpp).
#pragma once

#include <cstdint>

namespace pynn {

// rows (<= 6) x cols (<= 16) of C from one packed panel of B: C = float(A B) / (a_scale[i] b_scale[j]) + bias[j].
struct QgemmTile {
  const int16_t* a;        // the first row's first pair
  int64_t lda;             // int16 elements between rows of a
  int64_t pairs;           // k pairs
  const int16_t* b;        // the packed panel
  int rows, cols;
  const float* a_scale;    // rows entries
  const float* b_scale;    // cols entries
  const float* bias;       // cols entries, or null
  float* c;
  int64_t ldc;
};

using QgemmTileFn = void (*)(const QgemmTile&);

// A row's quantization (quantize_row.inc): dynamic (its abs-max scale) and with a fixed scale.
struct QuantizeRowFns {
  void (*dynamic)(const float* row, int64_t k, int16_t* out, int64_t ld, float* scale);
  void (*fixed)(const float* row, int64_t k, float scale, int16_t* out, int64_t ld);
};

constexpr int kQgemmRows = 6;

void qgemm_tile_generic(const QgemmTile& t);
extern const QuantizeRowFns quantize_row_generic;
#if defined(PYNN_X86)
void qgemm_tile_avx2(const QgemmTile& t);
extern const QuantizeRowFns quantize_row_avx2;
#endif

}  // namespace pynn
