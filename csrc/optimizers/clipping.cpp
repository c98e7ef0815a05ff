// Gradient clipping by value, by norm and by global norm: keras/src/optimizers/base_optimizer.py.
#include "optimizers/clipping.h"

#include <cmath>

#include "common/reduce.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

template <class T>
double sum_of_squares(const T* x, int64_t n) {
  return deterministic_sum<double>(n, [x](int64_t i) {
    const double v = static_cast<double>(x[i]);
    return v * v;
  });
}

template <class T>
void scale_in_place(T* x, int64_t n, T scale) {
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] *= scale;
  });
}

template <class T>
void clip_value(T* g, int64_t n, double clipvalue) {
  const T hi = static_cast<T>(clipvalue), lo = -hi;
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T x = g[i];  // compare so that NaN falls through unchanged
      g[i] = x < lo ? lo : (x > hi ? hi : x);
    }
  });
}

template <class T>
double clip_norm(T* g, int64_t n, double clipnorm) {
  const double norm = std::sqrt(sum_of_squares(g, n));
  const T numerator = static_cast<T>(clipnorm);
  const T denominator = static_cast<T>(norm < clipnorm ? clipnorm : norm);  // max, NaN propagates
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) g[i] = (g[i] * numerator) / denominator;
  });
  return norm;
}

template <class T>
double clip_global_norm(T* const* grads, const int64_t* sizes, int64_t count, double clipnorm) {
  double squared = 0.0;
  for (int64_t t = 0; t < count; ++t) squared += sum_of_squares(grads[t], sizes[t]);
  const double norm = std::sqrt(squared);
  const double inverse_norm = 1.0 / norm, inverse_clip = 1.0 / clipnorm;
  const double scale_for_finite = clipnorm * (inverse_clip < inverse_norm ? inverse_clip : inverse_norm);
  const double scale = scale_for_finite + (norm - norm);  // NaN when the norm is not finite
  for (int64_t t = 0; t < count; ++t) scale_in_place(grads[t], sizes[t], static_cast<T>(scale));
  return norm;
}

}  // namespace

void clip_by_value(float* grad, int64_t n, double clipvalue) { clip_value(grad, n, clipvalue); }
void clip_by_value(double* grad, int64_t n, double clipvalue) { clip_value(grad, n, clipvalue); }

double clip_by_norm(float* grad, int64_t n, double clipnorm) { return clip_norm(grad, n, clipnorm); }
double clip_by_norm(double* grad, int64_t n, double clipnorm) { return clip_norm(grad, n, clipnorm); }

double clip_by_global_norm(float* const* grads, const int64_t* sizes, int64_t count, double clipnorm) {
  return clip_global_norm(grads, sizes, count, clipnorm);
}
double clip_by_global_norm(double* const* grads, const int64_t* sizes, int64_t count, double clipnorm) {
  return clip_global_norm(grads, sizes, count, clipnorm);
}

}  // namespace pynn
