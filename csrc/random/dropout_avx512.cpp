// AVX-512 dropout: Philox4x32-10 keep masks sixteen blocks (64 stream elements) per pass, one block per
// lane, the same numbers as philox_block() in philox.h (tests/test_random.py checks the masks against the
// scalar stream on every ISA); and the masked scaling, 16 floats / 8 doubles per step.
#if defined(PYNN_X86)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "random/philox.h"  // for its constants only: no inline function of it is used (and so emitted) here
#include "random/dropout_kernels.h"

namespace pynn {
namespace {

// Low and high 32 bits of the 32x32->64 products a * m, lane by lane.
inline void mul_hi_lo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                          // lanes 0, 2, ...: 64-bit products
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);   // lanes 1, 3, ...
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mullo_epi32(a, m);
}

// 64 keep bytes (1: word >= threshold) for blocks block0 .. block0 + 15, in stream order.
inline void keep_16_blocks(uint32_t key0, uint32_t key1, uint64_t block0, uint32_t threshold, uint8_t* out) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Counter words 0-1: the 64-bit block index (carry into word 1 where the low word wraps); 2-3: zero.
  const __m512i lo_base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0)));
  __m512i c0 = _mm512_add_epi32(lo_base, lane);
  const __mmask16 carried = _mm512_cmplt_epu32_mask(c0, lo_base);
  __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0 >> 32))),
                                     carried, _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0 >> 32))),
                                     _mm512_set1_epi32(1));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(philox_detail::kM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(philox_detail::kM1));
  uint32_t k0 = key0, k1 = key1;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kW0;
      k1 += philox_detail::kW1;
    }
    __m512i hi0, lo0, hi1, lo1;
    mul_hi_lo(c0, m0, hi0, lo0);
    mul_hi_lo(c2, m1, hi1, lo1);
    const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
    const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  const __m512i thr = _mm512_set1_epi32(static_cast<int>(threshold));
  const __m128i one = _mm_set1_epi8(1);
  const __m128i w0 = _mm_and_si128(_mm_movm_epi8(_mm512_cmpge_epu32_mask(c0, thr)), one);
  const __m128i w1 = _mm_and_si128(_mm_movm_epi8(_mm512_cmpge_epu32_mask(c1, thr)), one);
  const __m128i w2 = _mm_and_si128(_mm_movm_epi8(_mm512_cmpge_epu32_mask(c2, thr)), one);
  const __m128i w3 = _mm_and_si128(_mm_movm_epi8(_mm512_cmpge_epu32_mask(c3, thr)), one);
  // Interleave to block order: w0[b] w1[b] w2[b] w3[b] for b = 0 .. 15.
  const __m128i a_lo = _mm_unpacklo_epi8(w0, w1), a_hi = _mm_unpackhi_epi8(w0, w1);
  const __m128i b_lo = _mm_unpacklo_epi8(w2, w3), b_hi = _mm_unpackhi_epi8(w2, w3);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(a_lo, b_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_unpackhi_epi16(a_lo, b_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), _mm_unpacklo_epi16(a_hi, b_hi));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), _mm_unpackhi_epi16(a_hi, b_hi));
}

}  // namespace

void philox_keep_blocks_avx512(uint64_t seed, uint64_t block0, int64_t blocks, uint32_t threshold, uint8_t* out) {
  const uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  int64_t b = 0;
  for (; b + 16 <= blocks; b += 16) keep_16_blocks(key0, key1, block0 + b, threshold, out + 4 * b);
  if (b < blocks) {
    uint8_t tail[64];
    keep_16_blocks(key0, key1, block0 + b, threshold, tail);
    std::memcpy(out + 4 * b, tail, static_cast<size_t>(4 * (blocks - b)));
  }
}

void dropout_apply_avx512(const float* x, const uint8_t* mask, float scale, float* y, int64_t n) {
  const __m512 s = _mm512_set1_ps(scale);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __mmask16 keep = _mm_test_epi8_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mask + i)),
                                              _mm_set1_epi8(1));
    _mm512_storeu_ps(y + i, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(x + i), s));
  }
  for (; i < n; ++i) y[i] = mask[i] ? x[i] * scale : 0.0f;
}

void dropout_apply_avx512(const double* x, const uint8_t* mask, double scale, double* y, int64_t n) {
  const __m512d s = _mm512_set1_pd(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __mmask8 keep = _mm_test_epi8_mask(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mask + i)),
                                             _mm_set1_epi8(1));
    _mm512_storeu_pd(y + i, _mm512_maskz_mul_pd(keep, _mm512_loadu_pd(x + i), s));
  }
  for (; i < n; ++i) y[i] = mask[i] ? x[i] * scale : 0.0;
}

}  // namespace pynn
#endif
