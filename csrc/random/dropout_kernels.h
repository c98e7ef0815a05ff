// The per-ISA pieces of dropout (dropout.cpp drives them): keep masks for many consecutive Philox blocks at
// once, and y = mask ? x * scale : 0.
#pragma once

#include <cstdint>

namespace pynn {

// out[4 j + k] = (word k of philox_block(seed, block0 + j)) >= threshold, for j in [0, blocks).
void philox_keep_blocks_generic(uint64_t seed, uint64_t block0, int64_t blocks, uint32_t threshold, uint8_t* out);
// y[i] = mask[i] ? x[i] * scale : 0 (0 even where x is Inf or NaN); x and y may be the same array.
void dropout_apply_generic(const float* x, const uint8_t* mask, float scale, float* y, int64_t n);
void dropout_apply_generic(const double* x, const uint8_t* mask, double scale, double* y, int64_t n);
#if defined(PYNN_X86)
void philox_keep_blocks_avx512(uint64_t seed, uint64_t block0, int64_t blocks, uint32_t threshold, uint8_t* out);
void dropout_apply_avx512(const float* x, const uint8_t* mask, float scale, float* y, int64_t n);
void dropout_apply_avx512(const double* x, const uint8_t* mask, double scale, double* y, int64_t n);
#endif

}  // namespace pynn
