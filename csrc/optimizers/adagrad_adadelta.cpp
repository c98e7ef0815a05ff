// Adagrad and Adadelta: keras/src/optimizers/{adagrad,adadelta}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using namespace optimizer_detail;

template <class T>
void adagrad(const AdagradParams& p, T* w, const T* g, T* accumulator, int64_t n) {
  optimizer_detail::require_slot(accumulator, "adagrad_update", "accumulator", "always");
  const T lr = static_cast<T>(p.learning_rate), epsilon = static_cast<T>(p.epsilon);
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().adagrad;
  update_in_parallel(n, [&](int64_t b, int64_t e) { range(lr, epsilon, decay, w, g, accumulator, b, e); });
}

template <class T>
void adadelta(const AdadeltaParams& p, T* w, const T* g, T* accumulated_grad, T* accumulated_delta, int64_t n) {
  optimizer_detail::require_slot(accumulated_grad, "adadelta_update", "accumulated_grad", "always");
  optimizer_detail::require_slot(accumulated_delta, "adadelta_update", "accumulated_delta", "always");
  const AdadeltaScalars<T> s{static_cast<T>(p.learning_rate), static_cast<T>(p.rho), static_cast<T>(1.0 - p.rho),
                             static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().adadelta;
  update_in_parallel(n, [&](int64_t b, int64_t e) {
    range(s, decay, w, g, accumulated_grad, accumulated_delta, b, e);
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
