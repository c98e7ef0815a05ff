// Baseline x86-64 (or any CPU) register tile: 4 x 8 of C in plain arrays, which the compiler keeps in
// SSE2 registers. The path every CPU can run, and the one PYNN_ISA=generic selects.
#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 8;

template <class T>
void generic_panel(const GemmTile<T>& t, const T* a, T* c, int rows) {
  T acc[kMR][kNR] = {};
  const T* b = t.b;
  const int bc = t.b_cols < kNR ? t.b_cols : kNR;
  if (bc == kNR) {
    for (int64_t kk = 0; kk < t.k; ++kk, a += t.a_k, b += t.b_stride)
      for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < kNR; ++j) acc[i][j] += a[i * t.a_row] * b[j];
  } else {
    for (int64_t kk = 0; kk < t.k; ++kk, a += t.a_k, b += t.b_stride)
      for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < bc; ++j) acc[i][j] += a[i * t.a_row] * b[j];
  }
  for (int i = 0; i < rows; ++i) {
    T* crow = c + i * t.ldc;
    for (int j = 0; j < t.cols; ++j) {
      T r = t.alpha * acc[i][j];
      if (t.beta != 0) r += t.beta * crow[j];
      if (t.bias) r += t.bias[j];
      crow[j] = r;
    }
  }
}

template <class T>
void generic_tile(const GemmTile<T>& t) {
  for (int64_t r0 = 0; r0 < t.rows; r0 += kMR) {
    const int rows = static_cast<int>(t.rows - r0 < kMR ? t.rows - r0 : kMR);
    generic_panel(t, t.a + (r0 / kMR) * t.a_panel, t.c + r0 * t.ldc, rows);
  }
}

}  // namespace

const GemmKernel<float> gemm_kernel_generic_f32 = {kMR, kNR, 256, 256, 2048, &generic_tile<float>, nullptr};
const GemmKernel<double> gemm_kernel_generic_f64 = {kMR, kNR, 128, 256, 2048, &generic_tile<double>, nullptr};

}  // namespace pynn
