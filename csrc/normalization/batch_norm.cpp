// Batch normalization: the per-channel statistics (in double, over fixed chunks), the choice of ISA table and
// the split across threads. Semantics in batch_norm.h; loops in batch_norm_kernels.inc.
#include "normalization/batch_norm.h"

#include <cmath>
#include <vector>

#include "common/cpu.h"
#include "common/parallel.h"
#include "normalization/batch_norm_kernels.h"

namespace pynn {
namespace {

template <class T>
const BatchNormKernels<T>& batch_norm_kernels();

template <>
const BatchNormKernels<float>& batch_norm_kernels<float>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return batch_norm_kernels_avx512_f32;
    case Isa::avx2: return batch_norm_kernels_avx2_f32;
    default: break;
  }
#endif
  return batch_norm_kernels_generic_f32;
}

template <>
const BatchNormKernels<double>& batch_norm_kernels<double>() {
#if defined(PYNN_X86)
  switch (active_isa()) {
    case Isa::avx512: return batch_norm_kernels_avx512_f64;
    case Isa::avx2: return batch_norm_kernels_avx2_f64;
    default: break;
  }
#endif
  return batch_norm_kernels_generic_f64;
}

constexpr int64_t kChunkPerChannel = 256;     // elements of each channel per chunk: fixes the summation order
constexpr int64_t kWorkPerThread = 1 << 14;   // elements; sets how many threads wake, never the result

bool valid(const BatchNormParams& p) { return p.outer > 0 && p.channels > 0 && p.inner > 0; }

// The chunks of outer indices: every one but the last has `length` indices.
struct Chunks {
  int64_t length, count;
  explicit Chunks(const BatchNormParams& p) {
    length = p.inner >= kChunkPerChannel ? 1 : kChunkPerChannel / p.inner;
    count = (p.outer + length - 1) / length;
  }
};

int64_t grain_outer(const BatchNormParams& p) {
  const int64_t per_outer = p.channels * p.inner;
  return per_outer >= kWorkPerThread ? 1 : kWorkPerThread / per_outer;
}

// partial[(chunk * 2 + j) * C + c]: the two sums of `fn` for one chunk; returns the totals in chunk order.
template <class ChunkSums>
void chunked_sums(const BatchNormParams& p, ChunkSums&& fn, std::vector<double>& first, std::vector<double>& second) {
  const Chunks chunks(p);
  const int64_t C = p.channels;
  std::vector<double> partial(static_cast<size_t>(chunks.count * 2 * C));
  const int64_t chunk_work = chunks.length * C * p.inner;
  parallel_for(chunks.count, chunk_work >= kWorkPerThread ? 1 : kWorkPerThread / chunk_work,
               [&](int64_t k0, int64_t k1) {
                 for (int64_t k = k0; k < k1; ++k) {
                   const int64_t o0 = k * chunks.length;
                   const int64_t o1 = o0 + chunks.length < p.outer ? o0 + chunks.length : p.outer;
                   fn(o0, o1, partial.data() + (k * 2) * C, partial.data() + (k * 2 + 1) * C);
                 }
               });
  first.assign(static_cast<size_t>(C), 0.0);
  second.assign(static_cast<size_t>(C), 0.0);
  for (int64_t k = 0; k < chunks.count; ++k)
    for (int64_t c = 0; c < C; ++c) {
      first[c] += partial[(k * 2) * C + c];
      second[c] += partial[(k * 2 + 1) * C + c];
    }
}

template <class T>
void run_affine(const BatchNormParams& p, const T* x, T* y, const std::vector<T>& a, const std::vector<T>& b) {
  const auto fn = batch_norm_kernels<T>().affine;
  parallel_for(p.outer, grain_outer(p), [&](int64_t o0, int64_t o1) {
    fn(x, y, o0, o1, p.channels, p.inner, a.data(), b.data());
  });
}

template <class T>
void forward_training(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* batch_mean,
                      T* batch_inv_std, T* moving_mean, T* moving_variance) {
  if (!valid(p)) return;
  const int64_t C = p.channels;
  std::vector<double> shift(static_cast<size_t>(C)), sum, sum_sq;
  for (int64_t c = 0; c < C; ++c) shift[c] = double(x[c * p.inner]);
  const auto moments = batch_norm_kernels<T>().moments;
  chunked_sums(p, [&](int64_t o0, int64_t o1, double* s, double* q) {
    moments(x, o0, o1, C, p.inner, shift.data(), s, q);
  }, sum, sum_sq);
  const double count = double(p.outer) * double(p.inner);
  std::vector<T> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double m = sum[c] / count;
    const double mean = shift[c] + m;
    double var = sum_sq[c] / count - m * m;
    if (var < 0) var = 0;
    const double inv_std = 1.0 / std::sqrt(var + p.epsilon);
    const double scale = gamma ? double(gamma[c]) * inv_std : inv_std;
    a[c] = static_cast<T>(scale);
    b[c] = static_cast<T>((beta ? double(beta[c]) : 0.0) - mean * scale);
    batch_mean[c] = static_cast<T>(mean);
    batch_inv_std[c] = static_cast<T>(inv_std);
    if (moving_mean) moving_mean[c] = static_cast<T>(double(moving_mean[c]) * p.momentum + mean * (1.0 - p.momentum));
    if (moving_variance)
      moving_variance[c] = static_cast<T>(double(moving_variance[c]) * p.momentum + var * (1.0 - p.momentum));
  }
  run_affine(p, x, y, a, b);
}

template <class T>
void forward_inference(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, const T* moving_mean,
                       const T* moving_variance, T* y) {
  if (!valid(p)) return;
  const int64_t C = p.channels;
  std::vector<T> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double inv_std = 1.0 / std::sqrt(double(moving_variance[c]) + p.epsilon);
    const double scale = gamma ? double(gamma[c]) * inv_std : inv_std;
    a[c] = static_cast<T>(scale);
    b[c] = static_cast<T>((beta ? double(beta[c]) : 0.0) - double(moving_mean[c]) * scale);
  }
  run_affine(p, x, y, a, b);
}

template <class T>
void backward(const BatchNormParams& p, bool batch_statistics, const T* x, const T* dy, const T* mean,
              const T* inv_std, const T* gamma, T* dx, T* dgamma, T* dbeta) {
  if (!valid(p)) return;
  const int64_t C = p.channels;
  std::vector<double> sum_dy, sum_dy_xc;
  if (dgamma || dbeta || (dx && batch_statistics)) {
    const auto sums = batch_norm_kernels<T>().gradient_sums;
    chunked_sums(p, [&](int64_t o0, int64_t o1, double* s, double* q) {
      sums(x, dy, o0, o1, C, p.inner, mean, s, q);
    }, sum_dy, sum_dy_xc);
  }
  if (dbeta)
    for (int64_t c = 0; c < C; ++c) dbeta[c] = static_cast<T>(double(dbeta[c]) + sum_dy[c]);
  if (dgamma)
    for (int64_t c = 0; c < C; ++c) dgamma[c] = static_cast<T>(double(dgamma[c]) + sum_dy_xc[c] * double(inv_std[c]));
  if (!dx) return;
  const double count = double(p.outer) * double(p.inner);
  std::vector<T> k(static_cast<size_t>(C)), shift(static_cast<size_t>(C), T(0)), coef(static_cast<size_t>(C), T(0));
  for (int64_t c = 0; c < C; ++c) {
    const double inv = double(inv_std[c]);
    k[c] = static_cast<T>(gamma ? double(gamma[c]) * inv : inv);
    if (batch_statistics) {
      shift[c] = static_cast<T>(sum_dy[c] / count);
      coef[c] = static_cast<T>(inv * inv * sum_dy_xc[c] / count);
    }
  }
  const auto fn = batch_norm_kernels<T>().input_gradient;
  parallel_for(p.outer, grain_outer(p), [&](int64_t o0, int64_t o1) {
    fn(x, dy, dx, o0, o1, C, p.inner, mean, k.data(), shift.data(), coef.data());
  });
}

}  // namespace

void batch_norm_forward_training(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                                 float* y, float* batch_mean, float* batch_inv_std, float* moving_mean,
                                 float* moving_variance) {
  forward_training(p, x, gamma, beta, y, batch_mean, batch_inv_std, moving_mean, moving_variance);
}
void batch_norm_forward_training(const BatchNormParams& p, const double* x, const double* gamma,
                                 const double* beta, double* y, double* batch_mean, double* batch_inv_std,
                                 double* moving_mean, double* moving_variance) {
  forward_training(p, x, gamma, beta, y, batch_mean, batch_inv_std, moving_mean, moving_variance);
}
void batch_norm_forward_inference(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                                  const float* moving_mean, const float* moving_variance, float* y) {
  forward_inference(p, x, gamma, beta, moving_mean, moving_variance, y);
}
void batch_norm_forward_inference(const BatchNormParams& p, const double* x, const double* gamma,
                                  const double* beta, const double* moving_mean, const double* moving_variance,
                                  double* y) {
  forward_inference(p, x, gamma, beta, moving_mean, moving_variance, y);
}
void batch_norm_backward(const BatchNormParams& p, bool batch_statistics, const float* x, const float* dy,
                         const float* mean, const float* inv_std, const float* gamma, float* dx, float* dgamma,
                         float* dbeta) {
  backward(p, batch_statistics, x, dy, mean, inv_std, gamma, dx, dgamma, dbeta);
}
void batch_norm_backward(const BatchNormParams& p, bool batch_statistics, const double* x, const double* dy,
                         const double* mean, const double* inv_std, const double* gamma, double* dx,
                         double* dgamma, double* dbeta) {
  backward(p, batch_statistics, x, dy, mean, inv_std, gamma, dx, dgamma, dbeta);
}

// ---------------------------------------------------------------- reference versions
namespace {

// Element i of channel c: x[(o * C + c) * inner + k], i = o * inner + k.
template <class T>
T at(const BatchNormParams& p, const T* x, int64_t c, int64_t i) {
  return x[((i / p.inner) * p.channels + c) * p.inner + i % p.inner];
}

template <class T>
void forward_training_ref(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* batch_mean,
                          T* batch_inv_std, T* moving_mean, T* moving_variance) {
  if (!valid(p)) return;
  const int64_t m = p.outer * p.inner;
  for (int64_t c = 0; c < p.channels; ++c) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < m; ++i) mean += double(at(p, x, c, i));
    mean /= double(m);
    for (int64_t i = 0; i < m; ++i) {
      const double d = double(at(p, x, c, i)) - mean;
      var += d * d;
    }
    var /= double(m);
    const double inv_std = 1.0 / std::sqrt(var + p.epsilon);
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    for (int64_t i = 0; i < m; ++i) {
      const int64_t index = ((i / p.inner) * p.channels + c) * p.inner + i % p.inner;
      y[index] = static_cast<T>((double(x[index]) - mean) * inv_std * g + b);
    }
    batch_mean[c] = static_cast<T>(mean);
    batch_inv_std[c] = static_cast<T>(inv_std);
    if (moving_mean) moving_mean[c] = static_cast<T>(double(moving_mean[c]) * p.momentum + mean * (1.0 - p.momentum));
    if (moving_variance)
      moving_variance[c] = static_cast<T>(double(moving_variance[c]) * p.momentum + var * (1.0 - p.momentum));
  }
}

template <class T>
void backward_ref(const BatchNormParams& p, bool batch_statistics, const T* x, const T* dy, const T* mean,
                  const T* inv_std, const T* gamma, T* dx, T* dgamma, T* dbeta) {
  if (!valid(p)) return;
  const int64_t m = p.outer * p.inner;
  for (int64_t c = 0; c < p.channels; ++c) {
    const double mu = double(mean[c]), inv = double(inv_std[c]), g = gamma ? double(gamma[c]) : 1.0;
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      sum_dy += double(at(p, dy, c, i));
      sum_dy_xhat += double(at(p, dy, c, i)) * (double(at(p, x, c, i)) - mu) * inv;
    }
    if (dbeta) dbeta[c] = static_cast<T>(double(dbeta[c]) + sum_dy);
    if (dgamma) dgamma[c] = static_cast<T>(double(dgamma[c]) + sum_dy_xhat);
    if (!dx) continue;
    for (int64_t i = 0; i < m; ++i) {
      const int64_t index = ((i / p.inner) * p.channels + c) * p.inner + i % p.inner;
      double v = double(dy[index]);
      if (batch_statistics)
        v -= (sum_dy + (double(x[index]) - mu) * inv * sum_dy_xhat) / double(m);
      dx[index] = static_cast<T>(g * inv * v);
    }
  }
}

}  // namespace

void batch_norm_forward_training_reference(const BatchNormParams& p, const float* x, const float* gamma,
                                           const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                                           float* moving_mean, float* moving_variance) {
  forward_training_ref(p, x, gamma, beta, y, batch_mean, batch_inv_std, moving_mean, moving_variance);
}
void batch_norm_forward_training_reference(const BatchNormParams& p, const double* x, const double* gamma,
                                           const double* beta, double* y, double* batch_mean,
                                           double* batch_inv_std, double* moving_mean, double* moving_variance) {
  forward_training_ref(p, x, gamma, beta, y, batch_mean, batch_inv_std, moving_mean, moving_variance);
}
void batch_norm_backward_reference(const BatchNormParams& p, bool batch_statistics, const float* x,
                                   const float* dy, const float* mean, const float* inv_std, const float* gamma,
                                   float* dx, float* dgamma, float* dbeta) {
  backward_ref(p, batch_statistics, x, dy, mean, inv_std, gamma, dx, dgamma, dbeta);
}
void batch_norm_backward_reference(const BatchNormParams& p, bool batch_statistics, const double* x,
                                   const double* dy, const double* mean, const double* inv_std,
                                   const double* gamma, double* dx, double* dgamma, double* dbeta) {
  backward_ref(p, batch_statistics, x, dy, mean, inv_std, gamma, dx, dgamma, dbeta);
}

}  // namespace pynn
