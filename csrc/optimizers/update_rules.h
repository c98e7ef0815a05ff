// The per-element loops of the optimizers, compiled once per ISA (update_rules_{generic,avx2,avx512}.cpp
// include update_rules.inc) and picked at run time through a table, as the activations are. The drivers
// (adam_family.cpp, sgd_rmsprop.cpp, adagrad_adadelta.cpp) check arguments, compute the per-step scalars
// in double, and split [0, n) across threads; each range function updates elements [begin, end).
#pragma once

#include <cstdint>

#include "common/cpu.h"

namespace pynn {
namespace optimizer_detail {

// Keras's decoupled weight decay, w -= w * weight_decay * learning_rate, as one factor. Plain data: the
// loops apply it themselves (no member function is shared across the ISA files).
template <class T>
struct WeightDecay {
  T factor;
  bool active;
};

template <class T>
WeightDecay<T> weight_decay(double weight_decay, double learning_rate) {
  return WeightDecay<T>{static_cast<T>(weight_decay * learning_rate), weight_decay != 0.0};
}

template <class T>
struct RmspropScalars {
  T lr, rho, one_minus_rho, momentum, epsilon;
};

template <class T>
struct AdadeltaScalars {
  T lr, rho, one_minus_rho, epsilon;
};

template <class T>
struct AdamScalars {
  T one_minus_beta_1, one_minus_beta_2, alpha, epsilon;
};

template <class T>
struct AdamaxScalars {
  T lr, one_minus_beta_1, beta_2, bias_correction, epsilon;  // bias_correction = 1 - beta_1^t
};

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
struct UpdateRules {
  void (*sgd_plain)(T lr, WeightDecay<T>, T* w, const T* g, int64_t begin, int64_t end);
  // [nesterov]
  void (*sgd_momentum[2])(T lr, T momentum, WeightDecay<T>, T* w, const T* g, T* velocity, int64_t begin,
                          int64_t end);
  // [centered][momentum]
  void (*rmsprop[2][2])(RmspropScalars<T>, WeightDecay<T>, T* w, const T* g, T* velocity, T* momentums,
                        T* average_grad, int64_t begin, int64_t end);
  void (*adagrad)(T lr, T epsilon, WeightDecay<T>, T* w, const T* g, T* accumulator, int64_t begin, int64_t end);
  void (*adadelta)(AdadeltaScalars<T>, WeightDecay<T>, T* w, const T* g, T* accumulated_grad,
                   T* accumulated_delta, int64_t begin, int64_t end);
  // [amsgrad]
  void (*adam[2])(AdamScalars<T>, WeightDecay<T>, T* w, const T* g, T* m, T* v, T* v_hat, int64_t begin,
                  int64_t end);
  void (*adamax)(AdamaxScalars<T>, WeightDecay<T>, T* w, const T* g, T* m, T* u, int64_t begin, int64_t end);
  void (*nadam)(NadamScalars<T>, WeightDecay<T>, T* w, const T* g, T* m, T* v, int64_t begin, int64_t end);
};

extern const UpdateRules<float> update_rules_generic_f32;
extern const UpdateRules<double> update_rules_generic_f64;
#if defined(PYNN_X86)
extern const UpdateRules<float> update_rules_avx2_f32;
extern const UpdateRules<double> update_rules_avx2_f64;
extern const UpdateRules<float> update_rules_avx512_f32;
extern const UpdateRules<double> update_rules_avx512_f64;
#endif

// The loops of the ISA in use (update_rules_generic.cpp).
template <class T>
const UpdateRules<T>& update_rules();
template <>
const UpdateRules<float>& update_rules<float>();
template <>
const UpdateRules<double>& update_rules<double>();

}  // namespace optimizer_detail
}  // namespace pynn
