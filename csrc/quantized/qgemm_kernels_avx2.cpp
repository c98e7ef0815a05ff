// The int8 GEMM tile on AVX2 (AVX-512 CPUs run it too): R rows x 16 columns in 2R int32 accumulators; each k
// pair is one vpmaddwd per accumulator (two int16 products summed into an int32 lane, no saturation) and one
// vpaddd. Compiled with -mavx2; internal linkage apart from the entry point.
#include <immintrin.h>

#include <cstring>

#include "quantized/qgemm_kernels.h"

namespace pynn {
namespace {

template <int R>
void tile(const QgemmTile& t) {
  __m256i acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const int16_t* b = t.b;
  const int16_t* a = t.a;
  for (int64_t p = 0; p < t.pairs; ++p, b += 32, a += 2) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    for (int i = 0; i < R; ++i) {
      int32_t pair;
      std::memcpy(&pair, a + i * t.lda, sizeof pair);
      const __m256i ai = _mm256_set1_epi32(pair);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(ai, b0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(ai, b1));
    }
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask[2];
  __m256 bs[2], bias[2];
  for (int v = 0; v < 2; ++v) {
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(t.cols - 8 * v), lane);
    bs[v] = _mm256_maskload_ps(t.b_scale + 8 * v, mask[v]);   // 0 past the columns: their lanes are not stored
    bias[v] = t.bias ? _mm256_maskload_ps(t.bias + 8 * v, mask[v]) : _mm256_setzero_ps();
  }
  for (int i = 0; i < R; ++i) {
    const __m256 as = _mm256_set1_ps(t.a_scale[i]);
    for (int v = 0; v < 2; ++v) {
      // float(sum) / (a_scale * b_scale) + bias, as the generic tile rounds it
      __m256 r = _mm256_div_ps(_mm256_cvtepi32_ps(acc[i][v]), _mm256_mul_ps(as, bs[v]));
      if (t.bias) r = _mm256_add_ps(r, bias[v]);
      _mm256_maskstore_ps(t.c + i * t.ldc + 8 * v, mask[v], r);
    }
  }
}

}  // namespace

void qgemm_tile_avx2(const QgemmTile& t) {
  switch (t.rows) {
    case 1: tile<1>(t); break;
    case 2: tile<2>(t); break;
    case 3: tile<3>(t); break;
    case 4: tile<4>(t); break;
    case 5: tile<5>(t); break;
    default: tile<6>(t); break;
  }
}

}  // namespace pynn
