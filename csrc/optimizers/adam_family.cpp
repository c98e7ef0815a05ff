// Adam (and AdamW = Adam with weight decay), Adamax and Nadam: keras/src/optimizers/{adam,adamw,adamax,nadam}.py.
#include <cmath>

#include "optimizers/optimizers.h"
#include "optimizers/update_loop.h"

namespace pynn {
namespace {

using optimizer_detail::WeightDecay;

// ---------------------------------------------------------------- Adam
template <class T>
struct AdamScalars {
  T one_minus_beta_1, one_minus_beta_2, alpha, epsilon;
};

template <class T, bool kAmsgrad>
void adam_range(const AdamScalars<T> s, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                T* __restrict m, T* __restrict v, T* __restrict v_hat, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T mi = m[i] + (gi - m[i]) * s.one_minus_beta_1;
    T vi = v[i] + (gi * gi - v[i]) * s.one_minus_beta_2;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = v_hat[i] < vi ? vi : v_hat[i];
      v_hat[i] = vi;
    }
    w[i] = decay(w[i]) - (mi * s.alpha) / (std::sqrt(vi) + s.epsilon);
  }
}

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
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) {
    if (p.amsgrad)
      adam_range<T, true>(s, decay, w, g, m, v, v_hat, b, e);
    else
      adam_range<T, false>(s, decay, w, g, m, v, v_hat, b, e);
  });
}

// ---------------------------------------------------------------- Adamax
template <class T>
struct AdamaxScalars {
  T lr, one_minus_beta_1, beta_2, bias_correction, epsilon;  // bias_correction = 1 - beta_1^t
};

template <class T>
void adamax_range(const AdamaxScalars<T> s, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                  T* __restrict m, T* __restrict u, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T mi = m[i] + (gi - m[i]) * s.one_minus_beta_1;
    const T decayed_u = s.beta_2 * u[i], abs_g = std::fabs(gi);
    const T ui = decayed_u < abs_g ? abs_g : decayed_u;
    m[i] = mi;
    u[i] = ui;
    w[i] = decay(w[i]) - (s.lr * mi) / (s.bias_correction * (ui + s.epsilon));
  }
}

template <class T>
void adamax(const AdamaxParams& p, T* w, const T* g, T* m, T* u, int64_t n) {
  optimizer_detail::require_step(p.step, "adamax_update");
  optimizer_detail::require_slot(m, "adamax_update", "m", "always");
  optimizer_detail::require_slot(u, "adamax_update", "u", "always");
  const AdamaxScalars<T> s{static_cast<T>(p.learning_rate), static_cast<T>(1.0 - p.beta_1),
                           static_cast<T>(p.beta_2),
                           static_cast<T>(1.0 - std::pow(p.beta_1, static_cast<double>(p.step))),
                           static_cast<T>(p.epsilon)};
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) { adamax_range(s, decay, w, g, m, u, b, e); });
}

// ---------------------------------------------------------------- Nadam
double nadam_momentum(int64_t step, double beta_1) {
  return beta_1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step)));
}

template <class T>
struct NadamScalars {
  T lr, one_minus_beta_1, one_minus_beta_2, epsilon;
  T u_next;                   // u_{t+1}
  T one_minus_product_next;   // 1 - u_1 ... u_{t+1}
  T one_minus_u;              // 1 - u_t
  T one_minus_product;        // 1 - u_1 ... u_t
  T one_minus_beta_2_power;   // 1 - beta_2^t
};

template <class T>
void nadam_range(const NadamScalars<T> s, WeightDecay<T> decay, T* __restrict w, const T* __restrict g,
                 T* __restrict m, T* __restrict v, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    const T mi = m[i] + (gi - m[i]) * s.one_minus_beta_1;
    const T vi = v[i] + (gi * gi - v[i]) * s.one_minus_beta_2;
    m[i] = mi;
    v[i] = vi;
    const T m_hat = (s.u_next * mi) / s.one_minus_product_next + (s.one_minus_u * gi) / s.one_minus_product;
    const T v_hat = vi / s.one_minus_beta_2_power;
    w[i] = decay(w[i]) - (m_hat * s.lr) / (std::sqrt(v_hat) + s.epsilon);
  }
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
  const WeightDecay<T> decay(p.weight_decay, p.learning_rate);
  optimizer_detail::update_in_parallel(n, [&](int64_t b, int64_t e) { nadam_range(s, decay, w, g, m, v, b, e); });
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
