// softmax and log_softmax over the last axis of a (rows, cols) array, forward and backward: rows go to
// threads whole, so every row is computed the same way whatever the thread count. The row loops are in
// activation_kernels.inc (per ISA).
#include "activations/activation_kernels.h"
#include "activations/activations.h"
#include "common/parallel.h"

namespace pynn {
namespace {

inline int64_t row_grain(int64_t cols) {  // about 16k elements per thread at least
  const int64_t g = (int64_t{1} << 14) / (cols > 0 ? cols : 1);
  return g > 0 ? g : 1;
}

template <class T>
void forward_rows(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
  if (cols <= 0) return;
  const auto fn = activation_kernels<T>().softmax_rows;
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    fn(x + r0 * cols, y + r0 * cols, r1 - r0, cols, log);
  });
}

template <class T>
void backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols, bool log) {
  if (cols <= 0) return;
  const auto fn = activation_kernels<T>().softmax_backward_rows;
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    fn(y + r0 * cols, dy + r0 * cols, dx + r0 * cols, r1 - r0, cols, log);
  });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) { forward_rows(x, y, rows, cols, false); }
void softmax_forward(const double* x, double* y, int64_t rows, int64_t cols) { forward_rows(x, y, rows, cols, false); }
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) { forward_rows(x, y, rows, cols, true); }
void log_softmax_forward(const double* x, double* y, int64_t rows, int64_t cols) { forward_rows(x, y, rows, cols, true); }

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  backward_rows(y, dy, dx, rows, cols, false);
}
void softmax_backward(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols) {
  backward_rows(y, dy, dx, rows, cols, false);
}
void log_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  backward_rows(y, dy, dx, rows, cols, true);
}
void log_softmax_backward(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols) {
  backward_rows(y, dy, dx, rows, cols, true);
}

}  // namespace pynn
