// Adagrad and Adadelta: keras/src/optimizers/{adagrad,adadelta}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using optimizer_detail::WeightDecay;

template <class T>
void adagrad_range(T lr, T epsilon, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                   T* __restrict accumulator, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T acc = accumulator[i] + gi * gi;
    accumulator[i] = acc;
    w[i] = decay(w[i]) - (lr * gi) / std::sqrt(acc + epsilon);
  }
}

template <class T>
void adagrad(const AdagradParams& p, T* w, const T* g, T* accumulator, int64_t n) {
  optimizer_detail::require_slot(accumulator, "adagrad_update", "accumulator", "always");
  const T lr = static_cast<T>(p.learning_rate), epsilon = static_cast<T>(p.epsilon);
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(
      n, [&](int64_t b, int64_t e) { adagrad_range(lr, epsilon, decay, w, g, accumulator, b, e); });
}

template <class T>
struct AdadeltaScalars {
  T lr, rho, one_minus_rho, epsilon;
};

template <class T>
void adadelta_range(const AdadeltaScalars<T> s, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                    T* __restrict accumulated_grad, T* __restrict accumulated_delta, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T acc_grad = s.rho * accumulated_grad[i] + s.one_minus_rho * (gi * gi);
    accumulated_grad[i] = acc_grad;
    const T delta = -((std::sqrt(accumulated_delta[i] + s.epsilon) * gi) / std::sqrt(acc_grad + s.epsilon));
    accumulated_delta[i] = s.rho * accumulated_delta[i] + s.one_minus_rho * (delta * delta);
    w[i] = decay(w[i]) + s.lr * delta;
  }
}

template <class T>
void adadelta(const AdadeltaParams& p, T* w, const T* g, T* accumulated_grad, T* accumulated_delta, int64_t n) {
  optimizer_detail::require_slot(accumulated_grad, "adadelta_update", "accumulated_grad", "always");
  optimizer_detail::require_slot(accumulated_delta, "adadelta_update", "accumulated_delta", "always");
  const AdadeltaScalars<T> s{static_cast<T>(p.learning_rate), static_cast<T>(p.rho), static_cast<T>(1.0 - p.rho),
                             static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    adadelta_range(s, decay, w, g, accumulated_grad, accumulated_delta, b, e);
  });
}

}  // namespace

void adagrad_update(const AdagradParams& p, float* param, const float* grad, float* accumulator, int64_t n) {
  adagrad(p, param, grad, accumulator, n);
}
void adagrad_update(const AdagradParams& p, double* param, const double* grad, double* accumulator, int64_t n) {
  adagrad(p, param, grad, accumulator, n);
}

void adadelta_update(const AdadeltaParams& p, float* param, const float* grad, float* accumulated_grad,
                     float* accumulated_delta, int64_t n) {
  adadelta(p, param, grad, accumulated_grad, accumulated_delta, n);
}
void adadelta_update(const AdadeltaParams& p, double* param, const double* grad, double* accumulated_grad,
                     double* accumulated_delta, int64_t n) {
  adadelta(p, param, grad, accumulated_grad, accumulated_delta, n);
}

}  // namespace pynn
