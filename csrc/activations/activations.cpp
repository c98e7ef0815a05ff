// Elementwise activations: the choice of ISA table and the split across threads. The loops are in
// activation_kernels.inc.
#include "activations/activations.h"

#include "activations/activation_kernels.h"
#include "common/parallel.h"

namespace pynn {

template <>
const ActivationKernels<float>& activation_kernels<float>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return activation_kernels_avx512_f32;
    case Isa::avx2: return activation_kernels_avx2_f32;
    default: break;
  }
#endif
  return activation_kernels_generic_f32;
}

template <>
const ActivationKernels<double>& activation_kernels<double>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return activation_kernels_avx512_f64;
    case Isa::avx2: return activation_kernels_avx2_f64;
    default: break;
  }
#endif
  return activation_kernels_generic_f64;
}

namespace {

// Elements go to threads in blocks of kBlock, so where a vector loop's tail falls depends on n alone.
constexpr int64_t kBlock = 2048;
constexpr int64_t kGrainBlocks = 16;

template <class Body>
void for_blocks(int64_t n, Body&& body) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    const int64_t i0 = b0 * kBlock, i1 = b1 * kBlock < n ? b1 * kBlock : n;
    for (int64_t i = i0; i < i1; i += kBlock) body(i, (i + kBlock < i1 ? i + kBlock : i1) - i);
  });
}

template <class T>
void forward_parallel(const ActivationParams& p, const T* x, T* y, int64_t n) {
  const auto fn = activation_kernels<T>().forward;
  for_blocks(n, [&](int64_t i, int64_t len) { fn(p, x + i, y + i, len); });
}

template <class T>
void backward_parallel(const ActivationParams& p, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  const auto fn = activation_kernels<T>().backward;
  for_blocks(n, [&](int64_t i, int64_t len) {
    fn(p, x ? x + i : nullptr, y ? y + i : nullptr, dy + i, dx + i, len);
  });
}

template <class T>
void backward_checked(const ActivationParams& p, const T* x, const T* y, const T* dy, T* dx, int64_t n,
                      bool parallel) {
  if (!activation_backward_uses_y(p.kind)) y = nullptr;
  if (!x && !y) return;  // nothing to differentiate at: the bindings never let this through
  if (parallel) {
    backward_parallel(p, x, y, dy, dx, n);
  } else {
    activation_kernels<T>().backward(p, x, y, dy, dx, n);
  }
}

}  // namespace

bool activation_backward_uses_y(Activation kind) {
  return kind == Activation::sigmoid || kind == Activation::tanh || kind == Activation::exponential;
}

void activation_forward(const ActivationParams& p, const float* x, float* y, int64_t n) { forward_parallel(p, x, y, n); }
void activation_forward(const ActivationParams& p, const double* x, double* y, int64_t n) { forward_parallel(p, x, y, n); }
void activation_forward_serial(const ActivationParams& p, const float* x, float* y, int64_t n) {
  activation_kernels<float>().forward(p, x, y, n);
}
void activation_forward_serial(const ActivationParams& p, const double* x, double* y, int64_t n) {
  activation_kernels<double>().forward(p, x, y, n);
}

void activation_backward(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx,
                         int64_t n) {
  backward_checked(p, x, y, dy, dx, n, true);
}
void activation_backward(const ActivationParams& p, const double* x, const double* y, const double* dy,
                         double* dx, int64_t n) {
  backward_checked(p, x, y, dy, dx, n, true);
}
void activation_backward_serial(const ActivationParams& p, const float* x, const float* y, const float* dy,
                                float* dx, int64_t n) {
  backward_checked(p, x, y, dy, dx, n, false);
}
void activation_backward_serial(const ActivationParams& p, const double* x, const double* y, const double* dy,
                                double* dx, int64_t n) {
  backward_checked(p, x, y, dy, dx, n, false);
}

}  // namespace pynn
