// Elementwise activations and their derivatives, and softmax / log_softmax over the last axis.
//
// Formulas follow Keras 3 (keras/src/activations/activations.py). Every function exists for float and
// double. The *_serial versions run on the calling thread (the GEMM epilogue calls them from inside its
// own parallel region); the others split the array across pynn's threads.
#pragma once

#include <cstdint>

namespace pynn {

enum class Activation : int {
  linear = 0,
  relu = 1,         // Keras relu(x, negative_slope, max_value, threshold)
  leaky_relu = 2,   // x if x > 0 else negative_slope * x
  elu = 3,          // x if x > 0 else alpha * (exp(x) - 1)
  selu = 4,
  gelu = 5,         // exact (erf)
  gelu_tanh = 6,    // tanh approximation
  sigmoid = 7,
  hard_sigmoid = 8, // Keras 3: relu6(x + 3) / 6
  tanh = 9,
  softplus = 10,
  softsign = 11,
  swish = 12,       // x * sigmoid(x)
  exponential = 13,
};

struct ActivationParams {
  Activation kind = Activation::linear;
  double negative_slope = 0.0;  // relu, leaky_relu
  double max_value = -1.0;      // relu: < 0 means no cap
  double threshold = 0.0;       // relu
  double alpha = 1.0;           // elu
};

// y = f(x). x and y may be the same array.
void activation_forward(const ActivationParams& p, const float* x, float* y, int64_t n);
void activation_forward(const ActivationParams& p, const double* x, double* y, int64_t n);
void activation_forward_serial(const ActivationParams& p, const float* x, float* y, int64_t n);
void activation_forward_serial(const ActivationParams& p, const double* x, double* y, int64_t n);

}  // namespace pynn
