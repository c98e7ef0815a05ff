// Cross-entropy losses fused with their softmax / sigmoid: computed from the logits, stable for any
// magnitude, with the gradient p - y. Formulas and shapes in losses.h.
#include <atomic>
#include <cmath>
#include <limits>

#include "common/vec_math.inc"
#include "losses/loss_rows.h"
#include "losses/losses.h"

namespace pynn {
namespace {

// m = max z, s = sum exp(z - m): logsumexp(z) = m + log(s).
template <class T>
struct RowLse {
  T m, s;
  RowLse(const T* z, int64_t n) : m(row_max(z, n)), s(lane_sum<T>(n, [&](int64_t j) { return vexp(z[j] - m); })) {}
};

template <class T>
void softmax_ce(const LossParams& p, const T* logits, const T* targets, const T* row_scale, T* loss, T* grad) {
  const int64_t n = p.cols;
  for_loss_rows(p, [&](int64_t i) {
    const T* z = logits + i * n;
    const T* y = targets + i * n;
    const RowLse<T> r(z, n);
    const T log_s = std::log(r.s);
    loss[i] = lane_sum<T>(n, [&](int64_t j) { return y[j] * ((r.m - z[j]) + log_s); });
    if (grad) {
      const T sum_y = lane_sum<T>(n, [&](int64_t j) { return y[j]; });
      const T f = grad_factor(p, row_scale, i);
      const T ps = sum_y / r.s;
      T* g = grad + i * n;
      for (int64_t j = 0; j < n; ++j) g[j] = f * (vexp(z[j] - r.m) * ps - y[j]);
    }
  });
}

template <class T, class L>
int64_t sparse_softmax_ce(const LossParams& p, const T* logits, const L* labels, const T* row_scale, T* loss,
                          T* grad) {
  const int64_t n = p.cols;
  std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
  for_loss_rows(p, [&](int64_t i) {
    const T* z = logits + i * n;
    const int64_t label = static_cast<int64_t>(labels[i]);
    if (label < 0 || label >= n) {
      int64_t seen = first_bad.load();
      while (i < seen && !first_bad.compare_exchange_weak(seen, i)) {
      }
      loss[i] = std::numeric_limits<T>::quiet_NaN();
      if (grad)
        for (int64_t j = 0; j < n; ++j) grad[i * n + j] = std::numeric_limits<T>::quiet_NaN();
      return;
    }
    const RowLse<T> r(z, n);
    loss[i] = (r.m - z[label]) + std::log(r.s);
    if (grad) {
      const T f = grad_factor(p, row_scale, i);
      T* g = grad + i * n;
      for (int64_t j = 0; j < n; ++j) g[j] = f * (vexp(z[j] - r.m) / r.s);
      g[label] -= f;
    }
  });
  const int64_t bad = first_bad.load();
  return bad == std::numeric_limits<int64_t>::max() ? -1 : bad;
}

template <class T>
void sigmoid_bce(const LossParams& p, const T* logits, const T* targets, const T* row_scale, T* loss, T* grad) {
  const int64_t n = p.cols;
  const T inv_n = T(1) / static_cast<T>(n);
  for_loss_rows(p, [&](int64_t i) {
    const T* z = logits + i * n;
    const T* y = targets + i * n;
    const T total = lane_sum<T>(n, [&](int64_t j) {
      const T v = z[j];
      return (v > T(0) ? v : T(0)) - v * y[j] + std::log1p(vexp(-std::fabs(v)));
    });
    loss[i] = total * inv_n;
    if (grad) {
      const T f = grad_factor(p, row_scale, i) * inv_n;
      T* g = grad + i * n;
      for (int64_t j = 0; j < n; ++j) g[j] = f * (vsigmoid(z[j]) - y[j]);
    }
  });
}

}  // namespace

void softmax_cross_entropy(const LossParams& p, const float* logits, const float* targets,
                           const float* row_scale, float* loss, float* grad) {
  softmax_ce(p, logits, targets, row_scale, loss, grad);
}
void softmax_cross_entropy(const LossParams& p, const double* logits, const double* targets,
                           const double* row_scale, double* loss, double* grad) {
  softmax_ce(p, logits, targets, row_scale, loss, grad);
}

int64_t sparse_softmax_cross_entropy(const LossParams& p, const float* logits, const int32_t* labels,
                                     const float* row_scale, float* loss, float* grad) {
  return sparse_softmax_ce(p, logits, labels, row_scale, loss, grad);
}
int64_t sparse_softmax_cross_entropy(const LossParams& p, const float* logits, const int64_t* labels,
                                     const float* row_scale, float* loss, float* grad) {
  return sparse_softmax_ce(p, logits, labels, row_scale, loss, grad);
}
int64_t sparse_softmax_cross_entropy(const LossParams& p, const double* logits, const int32_t* labels,
                                     const double* row_scale, double* loss, double* grad) {
  return sparse_softmax_ce(p, logits, labels, row_scale, loss, grad);
}
int64_t sparse_softmax_cross_entropy(const LossParams& p, const double* logits, const int64_t* labels,
                                     const double* row_scale, double* loss, double* grad) {
  return sparse_softmax_ce(p, logits, labels, row_scale, loss, grad);
}

void sigmoid_binary_cross_entropy(const LossParams& p, const float* logits, const float* targets,
                                  const float* row_scale, float* loss, float* grad) {
  sigmoid_bce(p, logits, targets, row_scale, loss, grad);
}
void sigmoid_binary_cross_entropy(const LossParams& p, const double* logits, const double* targets,
                                  const double* row_scale, double* loss, double* grad) {
  sigmoid_bce(p, logits, targets, row_scale, loss, grad);
}

}  // namespace pynn
