// Regression losses on e = prediction - target, each averaged over the last axis as Keras does, with the
// gradient with respect to the prediction. Formulas and shapes in losses.h.
#include <cmath>

#include "common/vec_math.inc"
#include "losses/loss_rows.h"
#include "losses/losses.h"

namespace pynn {
namespace {

// loss[i] = mean_j value(e_ij); grad[i, j] = f_i * derivative(e_ij), f_i = scale * row_scale[i] / cols.
template <class T, class Value, class Derivative>
void regression_loss(const LossParams& p, const T* pred, const T* target, const T* row_scale, T* loss, T* grad,
                     Value value, Derivative derivative) {
  const int64_t n = p.cols;
  const T inv_n = T(1) / static_cast<T>(n);
  for_loss_rows(p, [&](int64_t i) {
    const T* a = pred + i * n;
    const T* b = target + i * n;
    loss[i] = lane_sum<T>(n, [&](int64_t j) { return value(a[j] - b[j]); }) * inv_n;
    if (grad) {
      const T f = grad_factor(p, row_scale, i) * inv_n;
      T* g = grad + i * n;
      for (int64_t j = 0; j < n; ++j) g[j] = f * derivative(a[j] - b[j]);
    }
  });
}

template <class T>
void mse(const LossParams& p, const T* pred, const T* target, const T* row_scale, T* loss, T* grad) {
  regression_loss(p, pred, target, row_scale, loss, grad, [](T e) { return e * e; }, [](T e) { return T(2) * e; });
}

template <class T>
void mae(const LossParams& p, const T* pred, const T* target, const T* row_scale, T* loss, T* grad) {
  regression_loss(p, pred, target, row_scale, loss, grad, [](T e) { return std::fabs(e); },
                  [](T e) { return e > T(0) ? T(1) : (e < T(0) ? T(-1) : T(0)); });
}

template <class T>
void huber_loss(const LossParams& p, const T* pred, const T* target, const T* row_scale, T* loss, T* grad) {
  const T d = static_cast<T>(p.delta);
  const T half_d2 = T(0.5) * d * d;
  regression_loss(
      p, pred, target, row_scale, loss, grad,
      [=](T e) {
        const T a = std::fabs(e);
        return a <= d ? T(0.5) * e * e : d * a - half_d2;
      },
      [=](T e) { return e > d ? d : (e < -d ? -d : e); });
}

}  // namespace

void mean_squared_error(const LossParams& p, const float* pred, const float* target, const float* row_scale,
                        float* loss, float* grad) {
  mse(p, pred, target, row_scale, loss, grad);
}
void mean_squared_error(const LossParams& p, const double* pred, const double* target, const double* row_scale,
                        double* loss, double* grad) {
  mse(p, pred, target, row_scale, loss, grad);
}
void mean_absolute_error(const LossParams& p, const float* pred, const float* target, const float* row_scale,
                         float* loss, float* grad) {
  mae(p, pred, target, row_scale, loss, grad);
}
void mean_absolute_error(const LossParams& p, const double* pred, const double* target, const double* row_scale,
                         double* loss, double* grad) {
  mae(p, pred, target, row_scale, loss, grad);
}
void huber(const LossParams& p, const float* pred, const float* target, const float* row_scale, float* loss,
           float* grad) {
  huber_loss(p, pred, target, row_scale, loss, grad);
}
void huber(const LossParams& p, const double* pred, const double* target, const double* row_scale, double* loss,
           double* grad) {
  huber_loss(p, pred, target, row_scale, loss, grad);
}

}  // namespace pynn
