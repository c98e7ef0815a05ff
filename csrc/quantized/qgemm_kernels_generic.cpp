// The int8 GEMM tile in plain C++ (any CPU; the reference of the SIMD tiles' integer sums).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quantized/qgemm_kernels.h"

namespace pynn {

void qgemm_tile_generic(const QgemmTile& t) {
  for (int i = 0; i < t.rows; ++i) {
    const int16_t* a = t.a + i * t.lda;
    for (int j = 0; j < t.cols; ++j) {
      int32_t sum = 0;
      for (int64_t p = 0; p < t.pairs; ++p) {
        const int16_t* b = t.b + (p * 16 + j) * 2;
        sum += int32_t(a[2 * p]) * b[0] + int32_t(a[2 * p + 1]) * b[1];
      }
      float v = static_cast<float>(sum) / (t.a_scale[i] * t.b_scale[j]);
      if (t.bias) v += t.bias[j];
      t.c[i * t.ldc + j] = v;
    }
  }
}

namespace {
#include "quantized/quantize_row.inc"
}  // namespace

const QuantizeRowFns quantize_row_generic = {&quantize_row, &quantize_row_static};

}  // namespace pynn
