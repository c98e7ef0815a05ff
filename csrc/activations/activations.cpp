#include "activations/activations.h"

#include <algorithm>
#include <cmath>

#include "common/parallel.h"

namespace pynn {
namespace {

template <class T>
inline T sigmoid(T x) {
  return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}

template <class T>
void forward_serial(const ActivationParams& p, const T* x, T* y, int64_t n) {
  const T slope = static_cast<T>(p.negative_slope);
  const T alpha = static_cast<T>(p.alpha);
  switch (p.kind) {
    case Activation::linear:
      if (x != y) std::copy(x, x + n, y);
      break;
    case Activation::relu: {
      const T thr = static_cast<T>(p.threshold);
      const bool cap = p.max_value >= 0;
      const T maxv = static_cast<T>(p.max_value);
      for (int64_t i = 0; i < n; ++i) {
        T v = x[i];
        T r = v > thr ? v : (slope != T(0) ? slope * (v - thr) : T(0));
        if (cap && r > maxv) r = maxv;
        y[i] = r;
      }
      break;
    }
    case Activation::leaky_relu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : slope * x[i];
      break;
    case Activation::elu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : alpha * std::expm1(x[i]);
      break;
    case Activation::selu: {
      const T a = T(1.6732632423543772848170429916717), s = T(1.0507009873554804934193349852946);
      for (int64_t i = 0; i < n; ++i) y[i] = s * (x[i] > T(0) ? x[i] : a * std::expm1(x[i]));
      break;
    }
    case Activation::gelu:
      for (int64_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * T(0.70710678118654752440)));
      break;
    case Activation::gelu_tanh:
      for (int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        y[i] = T(0.5) * v * (T(1) + std::tanh(T(0.79788456080286535588) * (v + T(0.044715) * v * v * v)));
      }
      break;
    case Activation::sigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
      break;
    case Activation::hard_sigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i] + T(3), T(0)), T(6)) / T(6);
      break;
    case Activation::tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      break;
    case Activation::softplus:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i], T(0)) + std::log1p(std::exp(-std::fabs(x[i])));
      break;
    case Activation::softsign:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (T(1) + std::fabs(x[i]));
      break;
    case Activation::swish:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid(x[i]);
      break;
    case Activation::exponential:
      for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      break;
  }
}

template <class T>
void forward_parallel(const ActivationParams& p, const T* x, T* y, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) { forward_serial(p, x + b, y + b, e - b); });
}

}  // namespace

void activation_forward(const ActivationParams& p, const float* x, float* y, int64_t n) { forward_parallel(p, x, y, n); }
void activation_forward(const ActivationParams& p, const double* x, double* y, int64_t n) { forward_parallel(p, x, y, n); }
void activation_forward_serial(const ActivationParams& p, const float* x, float* y, int64_t n) { forward_serial(p, x, y, n); }
void activation_forward_serial(const ActivationParams& p, const double* x, double* y, int64_t n) { forward_serial(p, x, y, n); }

}  // namespace pynn
