// Internal to csrc/random/: walking a stream of elements P to a Philox block, and the bits -> number maps.
// See random.h for the layout these implement.
#pragma once

#include <cstdint>

#include "common/parallel.h"
#include "random/philox.h"

namespace pynn {
namespace random_detail {

constexpr int64_t kGrain = 1 << 14;  // elements per thread at least

// sink(i, value of stream element first + i) for i in [0, n): one block computed per P elements.
// block_values(block, V v[P]) gives the P values of one block.
template <int P, class V, class BlockValues, class Sink>
inline void for_elements(uint64_t first, int64_t n, BlockValues& block_values, Sink& sink) {
  int64_t i = 0;
  while (i < n) {
    const uint64_t g = first + static_cast<uint64_t>(i);
    V v[P];
    block_values(g / P, v);
    for (uint64_t lane = g % P; lane < static_cast<uint64_t>(P) && i < n; ++lane, ++i) sink(i, v[lane]);
  }
}

// for_elements split over pynn's threads. Each element's value depends on (first + i) only.
template <int P, class V, class BlockValues, class Sink>
inline void parallel_elements(uint64_t first, int64_t n, BlockValues& block_values, Sink& sink) {
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    auto shifted = [&](int64_t i, V v) { sink(begin + i, v); };
    for_elements<P, V>(first + static_cast<uint64_t>(begin), end - begin, block_values, shifted);
  });
}

// The reference walk: every element computes its own block, serially.
template <int P, class V, class BlockValues, class Sink>
inline void reference_elements(uint64_t first, int64_t n, BlockValues& block_values, Sink& sink) {
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t g = first + static_cast<uint64_t>(i);
    V v[P];
    block_values(g / P, v);
    sink(i, v[g % P]);
  }
}

inline uint64_t join64(uint32_t hi, uint32_t lo) { return (uint64_t{hi} << 32) | lo; }

// [0, 1) from the top 24 / 53 bits.
inline float unit_float(uint32_t w) { return static_cast<float>(w >> 8) * 0x1.0p-24f; }
inline double unit_double(uint64_t w) { return static_cast<double>(w >> 11) * 0x1.0p-53; }
// (0, 1]: the Box-Muller radius argument, never 0.
inline float unit_open_float(uint32_t w) { return static_cast<float>((static_cast<double>(w) + 1.0) * 0x1.0p-32); }
inline double unit_open_double(uint64_t w) { return static_cast<double>((w >> 11) + 1) * 0x1.0p-53; }

// Threshold for "w < p 2^32" with p in [0, 1] (p = 1 gives 2^32: always true).
inline uint64_t bernoulli_threshold(double p) { return static_cast<uint64_t>(p * 4294967296.0); }

}  // namespace random_detail
}  // namespace pynn
