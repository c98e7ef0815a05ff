// Optimizer update kernels: one fused, in-place pass over a parameter, its gradient and its slot arrays.
//
// The rules are Keras 3's (keras/src/optimizers/*.py), element for element. Every update first applies
// Keras's decoupled weight decay, w -= w * weight_decay * learning_rate (skipped when weight_decay == 0),
// then the optimizer's own rule, in the same pass. Scalars that depend on the step (bias corrections,
// Nadam's momentum schedule) are computed once per call, in double, from `step`, the 1-based number of the
// update being made (Keras's `iterations + 1`). Per-element arithmetic is done in the array's dtype.
//
// Arrays are contiguous, of n elements, and must not overlap one another. Slots that an option does not
// use may be nullptr; a slot that an option needs and that is nullptr throws std::invalid_argument, as does
// step < 1. The work is split across pynn's threads by element, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace pynn {

// velocity = momentum * velocity - lr * g;  w += velocity  (nesterov: w += momentum * velocity - lr * g).
// momentum == 0: w -= lr * g, and velocity may be nullptr (it is updated as above when given).
struct SgdParams {
  double learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};
void sgd_update(const SgdParams& p, float* param, const float* grad, float* velocity, int64_t n);
void sgd_update(const SgdParams& p, double* param, const double* grad, double* velocity, int64_t n);

// velocity = rho * velocity + (1 - rho) * g^2
// centered: average_grad = rho * average_grad + (1 - rho) * g;  denominator = velocity - average_grad^2 + eps
// otherwise denominator = velocity + eps
// increment = lr * g / sqrt(denominator)
// momentum > 0: momentums = momentum * momentums + increment; w -= momentums.  Otherwise w -= increment.
struct RmspropParams {
  double learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
  double weight_decay = 0.0;
};
void rmsprop_update(const RmspropParams& p, float* param, const float* grad, float* velocity, float* momentums,
                    float* average_grad, int64_t n);
void rmsprop_update(const RmspropParams& p, double* param, const double* grad, double* velocity,
                    double* momentums, double* average_grad, int64_t n);

// accumulator += g^2;  w -= lr * g / sqrt(accumulator + eps).  (Keras starts the accumulator at 0.1.)
struct AdagradParams {
  double learning_rate = 0.001;
  double epsilon = 1e-7;
  double weight_decay = 0.0;
};
void adagrad_update(const AdagradParams& p, float* param, const float* grad, float* accumulator, int64_t n);
void adagrad_update(const AdagradParams& p, double* param, const double* grad, double* accumulator, int64_t n);

// accumulated_grad = rho * accumulated_grad + (1 - rho) * g^2
// delta = -sqrt(accumulated_delta + eps) * g / sqrt(accumulated_grad + eps)
// accumulated_delta = rho * accumulated_delta + (1 - rho) * delta^2;  w += lr * delta
struct AdadeltaParams {
  double learning_rate = 0.001;
  double rho = 0.95;
  double epsilon = 1e-7;
  double weight_decay = 0.0;
};
void adadelta_update(const AdadeltaParams& p, float* param, const float* grad, float* accumulated_grad,
                     float* accumulated_delta, int64_t n);
void adadelta_update(const AdadeltaParams& p, double* param, const double* grad, double* accumulated_grad,
                     double* accumulated_delta, int64_t n);

// m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
// amsgrad: v_hat = max(v_hat, v), and v_hat replaces v below
// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t);  w -= m * alpha / (sqrt(v) + eps)
// AdamW is this with weight_decay > 0.
struct AdamParams {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  int64_t step = 1;
  double weight_decay = 0.0;
};
void adam_update(const AdamParams& p, float* param, const float* grad, float* m, float* v, float* v_hat,
                 int64_t n);
void adam_update(const AdamParams& p, double* param, const double* grad, double* m, double* v, double* v_hat,
                 int64_t n);

// m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|);  w -= lr * m / ((1 - beta_1^t) * (u + eps))
struct AdamaxParams {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  int64_t step = 1;
  double weight_decay = 0.0;
};
void adamax_update(const AdamaxParams& p, float* param, const float* grad, float* m, float* u, int64_t n);
void adamax_update(const AdamaxParams& p, double* param, const double* grad, double* m, double* u, int64_t n);

// Nadam's momentum schedule: u_s = beta_1 * (1 - 0.5 * 0.96^s). Keras keeps the running product
// u_product = u_1 * ... * u_t as optimizer state, shared by every parameter and advanced once per step,
// before the parameters are updated: nadam_next_u_product(u_product_of_step_t_minus_1, t, beta_1).
// Then, with u_product the product through step t:
// m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
// m_hat = u_{t+1} * m / (1 - u_product * u_{t+1}) + (1 - u_t) * g / (1 - u_product)
// v_hat = v / (1 - beta_2^t);  w -= lr * m_hat / (sqrt(v_hat) + eps)
struct NadamParams {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  int64_t step = 1;
  double u_product = 1.0;  // u_1 * ... * u_step
  double weight_decay = 0.0;
};
double nadam_next_u_product(double u_product, int64_t step, double beta_1);
void nadam_update(const NadamParams& p, float* param, const float* grad, float* m, float* v, int64_t n);
void nadam_update(const NadamParams& p, double* param, const double* grad, double* m, double* v, int64_t n);

}  // namespace pynn
