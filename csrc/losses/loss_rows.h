// The row loop shared by the loss kernels: rows go to threads whole (about 16k elements per thread at
// least), so every row is computed the same way whatever the thread count.
#pragma once

#include <cstdint>

#include "common/parallel.h"
#include "losses/losses.h"

namespace pynn {

template <class Row>
void for_loss_rows(const LossParams& p, Row&& row) {
  if (p.rows <= 0 || p.cols <= 0) return;
  int64_t grain = (int64_t{1} << 14) / p.cols;
  if (grain < 1) grain = 1;
  parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) row(i);
  });
}

// The factor every gradient entry of row i is multiplied by: scale * row_scale[i] (* extra).
template <class T>
inline T grad_factor(const LossParams& p, const T* row_scale, int64_t i, double extra = 1.0) {
  return static_cast<T>(p.scale * extra) * (row_scale ? row_scale[i] : T(1));
}

}  // namespace pynn
