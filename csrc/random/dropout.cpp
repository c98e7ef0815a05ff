// Inverted dropout, forward and backward (random.h). The keep mask of element g is 1 when Philox word
// g % 4 of block g / 4 is >= floor(rate 2^32): the complement of random_bernoulli(rate) at the same
// (seed, offset), the same for float32 and float64.
#include <cstdint>

#include "common/cpu.h"
#include "common/parallel.h"
#include "random/dropout_kernels.h"
#include "random/random.h"
#include "random/stream.h"

namespace pynn {
namespace {

using KeepBlocksFn = void (*)(uint64_t, uint64_t, int64_t, uint32_t, uint8_t*);

KeepBlocksFn keep_blocks_for(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return philox_keep_blocks_avx512;
#endif
  (void)isa;
  return philox_keep_blocks_generic;
}

template <class T>
void apply(Isa isa, const T* x, const uint8_t* mask, T scale, T* y, int64_t n) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return dropout_apply_avx512(x, mask, scale, y, n);
#endif
  (void)isa;
  dropout_apply_generic(x, mask, scale, y, n);
}

template <class T>
void forward(const DropoutParams& p, const T* x, T* y, uint8_t* mask, int64_t n) {
  // rate < 1, so the threshold floor(rate 2^32) fits 32 bits.
  const uint32_t threshold = static_cast<uint32_t>(random_detail::bernoulli_threshold(p.rate));
  const T scale = static_cast<T>(1.0 / (1.0 - p.rate));
  const Isa isa = active_isa();
  const KeepBlocksFn keep_blocks = keep_blocks_for(isa);
  parallel_for(n, random_detail::kGrain, [&](int64_t begin, int64_t end) {
    // Stream elements [first + begin, first + end): a partial block at each end, whole blocks between.
    int64_t i = begin;
    auto one = [&](int64_t at) {
      const uint64_t g = p.offset + static_cast<uint64_t>(at);
      mask[at] = philox_block(p.seed, g / 4).v[g % 4] >= threshold;
    };
    for (; i < end && (p.offset + static_cast<uint64_t>(i)) % 4 != 0; ++i) one(i);
    const int64_t blocks = (end - i) / 4;
    if (blocks > 0) keep_blocks(p.seed, (p.offset + static_cast<uint64_t>(i)) / 4, blocks, threshold, mask + i);
    for (i += 4 * blocks; i < end; ++i) one(i);
    apply(isa, x + begin, mask + begin, scale, y + begin, end - begin);
  });
}

template <class T>
void backward(double rate, const T* dy, const uint8_t* mask, T* dx, int64_t n) {
  const T scale = static_cast<T>(1.0 / (1.0 - rate));
  const Isa isa = active_isa();
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    apply(isa, dy + begin, mask + begin, scale, dx + begin, end - begin);
  });
}

}  // namespace

void philox_keep_blocks_generic(uint64_t seed, uint64_t block0, int64_t blocks, uint32_t threshold, uint8_t* out) {
  for (int64_t j = 0; j < blocks; ++j) {
    const Philox4x32 r = philox_block(seed, block0 + static_cast<uint64_t>(j));
    for (int k = 0; k < 4; ++k) out[4 * j + k] = r.v[k] >= threshold;
  }
}

// Branch-free (the mask is random, a branch would miss half the time); the mask is read through a restrict
// pointer so that the stores to y cannot be taken to change it.
template <class T>
void apply_generic(const T* x, const uint8_t* __restrict mask, T scale, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T kept = x[i] * scale;
    y[i] = mask[i] ? kept : T(0);
  }
}

void dropout_apply_generic(const float* x, const uint8_t* mask, float scale, float* y, int64_t n) {
  apply_generic(x, mask, scale, y, n);
}
void dropout_apply_generic(const double* x, const uint8_t* mask, double scale, double* y, int64_t n) {
  apply_generic(x, mask, scale, y, n);
}

void dropout_forward(const DropoutParams& p, const float* x, float* y, uint8_t* mask, int64_t n) {
  forward(p, x, y, mask, n);
}
void dropout_forward(const DropoutParams& p, const double* x, double* y, uint8_t* mask, int64_t n) {
  forward(p, x, y, mask, n);
}
void dropout_backward(double rate, const float* dy, const uint8_t* mask, float* dx, int64_t n) {
  backward(rate, dy, mask, dx, n);
}
void dropout_backward(double rate, const double* dy, const uint8_t* mask, double* dx, int64_t n) {
  backward(rate, dy, mask, dx, n);
}

}  // namespace pynn
