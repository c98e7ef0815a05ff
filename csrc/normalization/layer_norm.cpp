// Layer normalization: the choice of ISA table and the split across threads. Semantics in layer_norm.h; row
// loops in layer_norm_kernels.inc.
#include "normalization/layer_norm.h"

#include <cstddef>
#include <vector>

#include "common/cpu.h"
#include "common/parallel.h"
#include "normalization/layer_norm_kernels.h"

namespace pynn {
namespace {

template <class T>
const LayerNormKernels<T>& layer_norm_kernels();

template <>
const LayerNormKernels<float>& layer_norm_kernels<float>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return layer_norm_kernels_avx512_f32;
    case Isa::avx2: return layer_norm_kernels_avx2_f32;
    default: break;
  }
#endif
  return layer_norm_kernels_generic_f32;
}

template <>
const LayerNormKernels<double>& layer_norm_kernels<double>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return layer_norm_kernels_avx512_f64;
    case Isa::avx2: return layer_norm_kernels_avx2_f64;
    default: break;
  }
#endif
  return layer_norm_kernels_generic_f64;
}

constexpr int64_t kWorkPerThread = 1 << 14;   // elements; sets how many threads wake, never the result
constexpr int64_t kChunkElements = 1 << 15;   // elements per chunk of the parameter-gradient sums

bool valid(const LayerNormParams& p) { return p.rows > 0 && p.features > 0; }

int64_t grain_rows(const LayerNormParams& p) {
  return p.features >= kWorkPerThread ? 1 : kWorkPerThread / p.features;
}

template <class T>
void forward(const LayerNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* mean, T* inv) {
  if (!valid(p)) return;
  const auto fn = layer_norm_kernels<T>().forward;
  parallel_for(p.rows, grain_rows(p), [&](int64_t r0, int64_t r1) {
    fn(x, gamma, beta, y, mean, inv, r0, r1, p.features, static_cast<T>(p.epsilon), p.centered);
  });
}

template <class T>
void backward(const LayerNormParams& p, const T* x, const T* dy, const T* mean, const T* inv, const T* gamma, T* dx,
              T* dgamma, T* dbeta) {
  if (!valid(p)) return;
  const auto fn = layer_norm_kernels<T>().backward;
  const int64_t F = p.features;
  if (!dgamma && !dbeta) {
    parallel_for(p.rows, grain_rows(p), [&](int64_t r0, int64_t r1) {
      fn(x, dy, mean, inv, gamma, dx, nullptr, nullptr, r0, r1, F, p.centered);
    });
    return;
  }
  // Chunks of rows fixed by the shape; each chunk's sums go to its own slot, added in chunk order after.
  const int64_t chunk_rows = F >= kChunkElements ? 1 : kChunkElements / F;
  const int64_t chunks = (p.rows + chunk_rows - 1) / chunk_rows;
  const auto slots = static_cast<std::size_t>(chunks * F);
  std::vector<double> gsum(dgamma ? slots : 0), bsum(dbeta ? slots : 0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = c * chunk_rows, r1 = r0 + chunk_rows < p.rows ? r0 + chunk_rows : p.rows;
      fn(x, dy, mean, inv, gamma, dx, dgamma ? gsum.data() + c * F : nullptr, dbeta ? bsum.data() + c * F : nullptr,
         r0, r1, F, p.centered);
    }
  });
  for (int64_t f = 0; f < F; ++f) {
    double g = 0.0, b = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      if (dgamma) g += gsum[c * F + f];
      if (dbeta) b += bsum[c * F + f];
    }
    if (dgamma) dgamma[f] = static_cast<T>(double(dgamma[f]) + g);
    if (dbeta) dbeta[f] = static_cast<T>(double(dbeta[f]) + b);
  }
}

}  // namespace

void layer_norm_forward(const LayerNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv) {
  forward(p, x, gamma, beta, y, mean, inv);
}
void layer_norm_forward(const LayerNormParams& p, const double* x, const double* gamma, const double* beta,
                        double* y, double* mean, double* inv) {
  forward(p, x, gamma, beta, y, mean, inv);
}
void layer_norm_backward(const LayerNormParams& p, const float* x, const float* dy, const float* mean,
                         const float* inv, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  backward(p, x, dy, mean, inv, gamma, dx, dgamma, dbeta);
}
void layer_norm_backward(const LayerNormParams& p, const double* x, const double* dy, const double* mean,
                         const double* inv, const double* gamma, double* dx, double* dgamma, double* dbeta) {
  backward(p, x, dy, mean, inv, gamma, dx, dgamma, dbeta);
}

}  // namespace pynn
