// SGD (momentum, Nesterov) and RMSprop (momentum, centered): keras/src/optimizers/{sgd,rmsprop}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using namespace optimizer_detail;

template <class T>
void sgd(const SgdParams& p, T* w, const T* g, T* velocity, int64_t n) {
  if (p.momentum != 0.0)
    optimizer_detail::require_slot(velocity, "sgd_update", "velocity", "when momentum != 0");
  const T lr = static_cast<T>(p.learning_rate), momentum = static_cast<T>(p.momentum);
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const UpdateRules<T>& rules = update_rules<T>();
  if (velocity == nullptr) {
    const auto range = rules.sgd_plain;
    update_in_parallel(n, [&](int64_t b, int64_t e) { range(lr, decay, w, g, b, e); });
  } else {
    const auto range = rules.sgd_momentum[p.nesterov ? 1 : 0];
    update_in_parallel(n, [&](int64_t b, int64_t e) { range(lr, momentum, decay, w, g, velocity, b, e); });
  }
}

template <class T>
void rmsprop(const RmspropParams& p, T* w, const T* g, T* velocity, T* momentums, T* average_grad, int64_t n) {
  optimizer_detail::require_slot(velocity, "rmsprop_update", "velocity", "always");
  const bool use_momentum = p.momentum > 0.0;
  if (use_momentum)
    optimizer_detail::require_slot(momentums, "rmsprop_update", "momentums", "when momentum > 0");
  if (p.centered)
    optimizer_detail::require_slot(average_grad, "rmsprop_update", "average_grad", "when centered");
  const RmspropScalars<T> s{static_cast<T>(p.learning_rate), static_cast<T>(p.rho), static_cast<T>(1.0 - p.rho),
                            static_cast<T>(p.momentum), static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().rmsprop[p.centered ? 1 : 0][use_momentum ? 1 : 0];
  update_in_parallel(n, [&](int64_t b, int64_t e) {
    range(s, decay, w, g, velocity, momentums, average_grad, b, e);
  });
}

}  // namespace

void sgd_update(const SgdParams& p, float* param, const float* grad, float* velocity, int64_t n) {
  sgd(p, param, grad, velocity, n);
}
void sgd_update(const SgdParams& p, double* param, const double* grad, double* velocity, int64_t n) {
  sgd(p, param, grad, velocity, n);
}

void rmsprop_update(const RmspropParams& p, float* param, const float* grad, float* velocity, float* momentums,
                    float* average_grad, int64_t n) {
  rmsprop(p, param, grad, velocity, momentums, average_grad, n);
}
void rmsprop_update(const RmspropParams& p, double* param, const double* grad, double* velocity,
                    double* momentums, double* average_grad, int64_t n) {
  rmsprop(p, param, grad, velocity, momentums, average_grad, n);
}

}  // namespace pynn
