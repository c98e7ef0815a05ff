// The int8 GEMM tile on AVX2 (AVX-512 CPUs run it too): R rows x 16 columns in 2R int32 accumulators; each k
// pair is one vpmaddwd per accumulator (two int16 products summed into an int32 lane, no saturation) and one
// vpaddd. Compiled with -mavx2; internal linkage apart from the entry point.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
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
      if (t.cols >= 16)  // a plain store where the tile is whole: vmaskmovps is microcoded on AMD Zen
        _mm256_storeu_ps(t.c + i * t.ldc + 8 * v, r);
      else
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

namespace {

// The row quantizers with AVX2 intrinsics: the same arithmetic as quantize_row.inc, 16 values a step. The
// product is clamped to [-128, 128] before the +-1.5 * 2^23 rounding (a no-op for dynamic rows, |x s| <= 127):
// the min / max between them also keeps the compiler from fusing the product and the addition into an FMA,
// which would round differently.
inline __m256i round_pack(__m256 lo, __m256 hi) {
  const __m256 k_round = _mm256_set1_ps(12582912.0f), top = _mm256_set1_ps(127.0f), bottom = _mm256_set1_ps(-127.0f);
  lo = _mm256_sub_ps(_mm256_add_ps(lo, k_round), k_round);
  hi = _mm256_sub_ps(_mm256_add_ps(hi, k_round), k_round);
  lo = _mm256_max_ps(_mm256_min_ps(lo, top), bottom);
  hi = _mm256_max_ps(_mm256_min_ps(hi, top), bottom);
  const __m256i packed = _mm256_packs_epi32(_mm256_cvtps_epi32(lo), _mm256_cvtps_epi32(hi));   // per 128-bit lane
  return _mm256_permute4x64_epi64(packed, 0xD8);
}

void quantize_row_scaled(const float* row, int64_t k, float s, int16_t* out, int64_t ld) {
  const __m256 vs = _mm256_set1_ps(s), lim = _mm256_set1_ps(128.0f), nlim = _mm256_set1_ps(-128.0f);
  int64_t j = 0;
  for (; j + 16 <= k; j += 16) {
    __m256 lo = _mm256_mul_ps(_mm256_loadu_ps(row + j), vs);
    __m256 hi = _mm256_mul_ps(_mm256_loadu_ps(row + j + 8), vs);
    lo = _mm256_max_ps(_mm256_min_ps(lo, lim), nlim);
    hi = _mm256_max_ps(_mm256_min_ps(hi, lim), nlim);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), round_pack(lo, hi));
  }
  for (; j < k; ++j) {
    float w = std::min(128.0f, std::max(-128.0f, row[j] * s));
    w = (w + 12582912.0f) - 12582912.0f;
    out[j] = static_cast<int16_t>(std::min(127.0f, std::max(-127.0f, w)));
  }
  for (; j < ld; ++j) out[j] = 0;
}

void quantize_row(const float* row, int64_t k, int16_t* out, int64_t ld, float* scale) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m0 = _mm256_setzero_ps(), m1 = m0;
  int64_t j = 0;
  // max(|x|, m): a NaN |x| leaves m (maxps returns its second operand when either is NaN).
  for (; j + 16 <= k; j += 16) {
    m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(row + j), abs_mask), m0);
    m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(row + j + 8), abs_mask), m1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
  float amax = 0.0f;
  for (int l = 0; l < 8; ++l) amax = std::max(amax, lanes[l]);
  for (; j < k; ++j) amax = std::max(amax, std::fabs(row[j]));
  const float s = 127.0f / (amax + 1e-7f);
  *scale = s;
  quantize_row_scaled(row, k, s, out, ld);
}

void quantize_row_static(const float* row, int64_t k, float s, int16_t* out, int64_t ld) {
  quantize_row_scaled(row, k, s, out, ld);
}

}  // namespace

const QuantizeRowFns quantize_row_avx2 = {&quantize_row, &quantize_row_static};

}  // namespace pynn
