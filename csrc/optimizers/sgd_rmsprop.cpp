// SGD (momentum, Nesterov) and RMSprop (momentum, centered): keras/src/optimizers/{sgd,rmsprop}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using optimizer_detail::WeightDecay;

template <class T>
void sgd_plain_range(T lr, WeightDecay<T> decay, T* __restrict w, const T* __restrict g, int64_t begin,
                     int64_t end) {
  for (int64_t i = begin; i < end; ++i) w[i] = decay(w[i]) - g[i] * lr;
}

template <class T, bool kNesterov>
void sgd_momentum_range(T lr, T momentum, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                        T* __restrict velocity, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T vel = velocity[i] * momentum - g[i] * lr;
    velocity[i] = vel;
    const T step = kNesterov ? vel * momentum - g[i] * lr : vel;
    w[i] = decay(w[i]) + step;
  }
}

template <class T>
void sgd(const SgdParams& p, T* w, const T* g, T* velocity, int64_t n) {
  if (p.momentum != 0.0)
    optimizer_detail::require_slot(velocity, "sgd_update", "velocity", "when momentum != 0");
  const T lr = static_cast<T>(p.learning_rate), momentum = static_cast<T>(p.momentum);
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    if (velocity == nullptr)
      sgd_plain_range(lr, decay, w, g, b, e);
    else if (p.nesterov)
      sgd_momentum_range<T, true>(lr, momentum, decay, w, g, velocity, b, e);
    else
      sgd_momentum_range<T, false>(lr, momentum, decay, w, g, velocity, b, e);
  });
}

template <class T>
struct RmspropScalars {
  T lr, rho, one_minus_rho, momentum, epsilon;
};

template <class T, bool kCentered, bool kMomentum>
void rmsprop_range(const RmspropScalars<T> s, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                   T* __restrict velocity, T* __restrict momentums, T* __restrict average_grad, int64_t begin,
                   int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T vel = s.rho * velocity[i] + s.one_minus_rho * (gi * gi);
    velocity[i] = vel;
    T denominator;
    if constexpr (kCentered) {
      const T avg = s.rho * average_grad[i] + s.one_minus_rho * gi;
      average_grad[i] = avg;
      denominator = vel - avg * avg + s.epsilon;
    } else {
      denominator = vel + s.epsilon;
    }
    const T increment = (s.lr * gi) / std::sqrt(denominator);
    if constexpr (kMomentum) {
      const T mom = s.momentum * momentums[i] + increment;
      momentums[i] = mom;
      w[i] = decay(w[i]) - mom;
    } else {
      w[i] = decay(w[i]) - increment;
    }
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
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    if (p.centered && use_momentum)
      rmsprop_range<T, true, true>(s, decay, w, g, velocity, momentums, average_grad, b, e);
    else if (p.centered)
      rmsprop_range<T, true, false>(s, decay, w, g, velocity, momentums, average_grad, b, e);
    else if (use_momentum)
      rmsprop_range<T, false, true>(s, decay, w, g, velocity, momentums, average_grad, b, e);
    else
      rmsprop_range<T, false, false>(s, decay, w, g, velocity, momentums, average_grad, b, e);
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
