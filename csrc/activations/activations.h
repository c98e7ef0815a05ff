// Elementwise activations and their derivatives, and softmax / log_softmax over the last axis.
//
// Formulas follow Keras 3 (keras/src/activations/activations.py). Every function exists for float and
// double. The *_serial versions run on the calling thread (the GEMM epilogue calls them from inside its
// own parallel region); the others split the array across pynn's threads, in blocks fixed by n alone, so
// results do not depend on the number of threads. The loops themselves live in activation_kernels.inc,
// compiled once per instruction set; active_isa() picks one (activation_kernels.h).
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

// True for the activations whose derivative is computed from the output y alone (sigmoid, tanh,
// exponential): their backward may be given y and no x. Every other kind needs x.
bool activation_backward_uses_y(Activation kind);

// dx = dy * f'(x). x: the forward input (may be nullptr when activation_backward_uses_y(kind) and y is
// given); y: the forward output f(x), or nullptr (then recomputed from x where needed). dx may be the same
// array as dy, x or y. At a kink the derivative is the one of the left piece for relu's threshold (slope),
// and 0 past a cap.
void activation_backward(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx,
                         int64_t n);
void activation_backward(const ActivationParams& p, const double* x, const double* y, const double* dy,
                         double* dx, int64_t n);
void activation_backward_serial(const ActivationParams& p, const float* x, const float* y, const float* dy,
                                float* dx, int64_t n);
void activation_backward_serial(const ActivationParams& p, const double* x, const double* y, const double* dy,
                                double* dx, int64_t n);

// Row-wise over a (rows, cols) C-contiguous array, each row independent (softmax.cpp).
//   softmax:             y = exp(x - max) / sum(exp(x - max))
//   log_softmax:         y = x - max - log(sum(exp(x - max)))
//   softmax_backward:    dx = y * (dy - sum(dy * y))          (y: the softmax output)
//   log_softmax_backward dx = dy - exp(y) * sum(dy)           (y: the log_softmax output)
// y may be x (forward); dx may be dy or y (backward).
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_forward(const double* x, double* y, int64_t rows, int64_t cols);
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void log_softmax_forward(const double* x, double* y, int64_t rows, int64_t cols);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
void softmax_backward(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols);
void log_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
void log_softmax_backward(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols);

}  // namespace pynn
