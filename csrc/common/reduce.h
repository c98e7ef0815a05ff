// Deterministic reductions: the sum over [0, n) is cut into chunks of kReduceChunk items (fixed by n
// alone), each chunk summed in order on one thread, and the chunk sums added in chunk order. The result is
// bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "common/parallel.h"

namespace pynn {

constexpr int64_t kReduceChunk = 4096;

// sum_{i in [0, n)} term(i), accumulated in Acc (double unless asked otherwise).
template <class Acc = double, class Term>
Acc deterministic_sum(int64_t n, Term&& term) {
  if (n <= 0) return Acc(0);
  const int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks == 1) {
    Acc s = 0;
    for (int64_t i = 0; i < n; ++i) s += term(i);
    return s;
  }
  std::vector<Acc> partial(static_cast<size_t>(chunks));
  parallel_for(chunks, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kReduceChunk, i1 = i0 + kReduceChunk < n ? i0 + kReduceChunk : n;
      Acc s = 0;
      for (int64_t i = i0; i < i1; ++i) s += term(i);
      partial[static_cast<size_t>(c)] = s;
    }
  });
  Acc total = 0;
  for (Acc s : partial) total += s;
  return total;
}

}  // namespace pynn
