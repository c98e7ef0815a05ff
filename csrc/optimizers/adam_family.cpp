// Adam (and AdamW = Adam with weight decay), Adamax and Nadam: keras/src/optimizers/{adam,adamw,adamax,nadam}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using namespace optimizer_detail;

// ---------------------------------------------------------------- Adam
template <class T>
void adam(const AdamParams& p, T* w, const T* g, T* m, T* v, T* v_hat, int64_t n) {
  optimizer_detail::require_step(p.step, "adam_update");
  optimizer_detail::require_slot(m, "adam_update", "m", "always");
  optimizer_detail::require_slot(v, "adam_update", "v", "always");
  if (p.amsgrad) optimizer_detail::require_slot(v_hat, "adam_update", "v_hat", "when amsgrad");
  const double t = static_cast<double>(p.step);
  const double alpha = p.learning_rate * std::sqrt(1.0 - std::pow(p.beta_2, t)) / (1.0 - std::pow(p.beta_1, t));
  const AdamScalars<T> s{static_cast<T>(1.0 - p.beta_1), static_cast<T>(1.0 - p.beta_2), static_cast<T>(alpha),
                         static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().adam[p.amsgrad ? 1 : 0];
  update_in_parallel(n, [&](int64_t b, int64_t e) { range(s, decay, w, g, m, v, v_hat, b, e); });
}

// ---------------------------------------------------------------- Adamax
template <class T>
void adamax(const AdamaxParams& p, T* w, const T* g, T* m, T* u, int64_t n) {
  optimizer_detail::require_step(p.step, "adamax_update");
  optimizer_detail::require_slot(m, "adamax_update", "m", "always");
  optimizer_detail::require_slot(u, "adamax_update", "u", "always");
  const AdamaxScalars<T> s{static_cast<T>(p.learning_rate), static_cast<T>(1.0 - p.beta_1),
                           static_cast<T>(p.beta_2),
                           static_cast<T>(1.0 - std::pow(p.beta_1, static_cast<double>(p.step))),
                           static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().adamax;
  update_in_parallel(n, [&](int64_t b, int64_t e) { range(s, decay, w, g, m, u, b, e); });
}

// ---------------------------------------------------------------- Nadam
double nadam_momentum(int64_t step, double beta_1) {
  return beta_1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step)));
}

template <class T>
void nadam(const NadamParams& p, T* w, const T* g, T* m, T* v, int64_t n) {
  optimizer_detail::require_step(p.step, "nadam_update");
  optimizer_detail::require_slot(m, "nadam_update", "m", "always");
  optimizer_detail::require_slot(v, "nadam_update", "v", "always");
  const double u = nadam_momentum(p.step, p.beta_1), u_next = nadam_momentum(p.step + 1, p.beta_1);
  const NadamScalars<T> s{static_cast<T>(p.learning_rate),
                          static_cast<T>(1.0 - p.beta_1),
                          static_cast<T>(1.0 - p.beta_2),
                          static_cast<T>(p.epsilon),
                          static_cast<T>(u_next),
                          static_cast<T>(1.0 - p.u_product * u_next),
                          static_cast<T>(1.0 - u),
                          static_cast<T>(1.0 - p.u_product),
                          static_cast<T>(1.0 - std::pow(p.beta_2, static_cast<double>(p.step)))};
  const WeightDecay<T> decay = weight_decay<T>(p.weight_decay, p.learning_rate);
  const auto range = update_rules<T>().nadam;
  update_in_parallel(n, [&](int64_t b, int64_t e) { range(s, decay, w, g, m, v, b, e); });
}

}  // namespace

void adam_update(const AdamParams& p, float* param, const float* grad, float* m, float* v, float* v_hat,
                 int64_t n) {
  adam(p, param, grad, m, v, v_hat, n);
}
void adam_update(const AdamParams& p, double* param, const double* grad, double* m, double* v, double* v_hat,
                 int64_t n) {
  adam(p, param, grad, m, v, v_hat, n);
}

void adamax_update(const AdamaxParams& p, float* param, const float* grad, float* m, float* u, int64_t n) {
  adamax(p, param, grad, m, u, n);
}
void adamax_update(const AdamaxParams& p, double* param, const double* grad, double* m, double* u, int64_t n) {
  adamax(p, param, grad, m, u, n);
}

double nadam_next_u_product(double u_product, int64_t step, double beta_1) {
  optimizer_detail::require_step(step, "nadam_next_u_product");
  return u_product * beta_1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step)));
}

void nadam_update(const NadamParams& p, float* param, const float* grad, float* m, float* v, int64_t n) {
  nadam(p, param, grad, m, v, n);
}
void nadam_update(const NadamParams& p, double* param, const double* grad, double* m, double* v, int64_t n) {
  nadam(p, param, grad, m, v, n);
}

}  // namespace pynn
