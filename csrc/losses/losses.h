// Loss kernels: per-sample loss values and the gradient with respect to the model's output, in one pass.
//
// Shapes (all C-contiguous): the model output (logits or predictions) and dense targets are (rows, cols),
// where cols is the last axis (classes, or the features Keras averages over) and rows every axis before it;
// integer labels are (rows); the per-sample loss is (rows). As in Keras, each loss is reduced over the
// last axis: cross-entropy sums over the classes, the others take the mean over cols.
//
// The gradient (rows, cols), when grad is not nullptr, is the derivative of loss[i] with respect to
// output[i, j], times p.scale and times row_scale[i] when row_scale is not nullptr: the layer above passes
// sample_weight / batch so that grad is the gradient of the reduced, weighted loss. loss itself is never
// scaled. Rows go to threads whole, so results do not depend on the thread count. float and double.
#pragma once

#include <cstdint>

namespace pynn {

struct LossParams {
  int64_t rows = 0;
  int64_t cols = 0;     // >= 1 when rows > 0
  double scale = 1.0;   // multiplies every gradient entry
  double delta = 1.0;   // huber: where the quadratic turns linear
};

// softmax + categorical cross-entropy from logits z, with probability (or one-hot) targets y:
//   loss[i] = sum_j y_ij (logsumexp(z_i) - z_ij)       grad[i, j] = softmax(z_i)_j * sum_j y_ij - y_ij
// (= logsumexp(z_i) - y_i . z_i and p - y when the targets sum to 1, Keras's -sum(y * log_softmax(z))).
void softmax_cross_entropy(const LossParams& p, const float* logits, const float* targets,
                           const float* row_scale, float* loss, float* grad);
void softmax_cross_entropy(const LossParams& p, const double* logits, const double* targets,
                           const double* row_scale, double* loss, double* grad);

// softmax + sparse categorical cross-entropy from logits, with integer labels in [0, cols):
//   loss[i] = logsumexp(z_i) - z_i[label_i]            grad[i, j] = softmax(z_i)_j - (j == label_i)
// Returns -1, or the first row whose label is out of range: that row's loss and gradient are NaN and
// nothing outside the arrays is read or written.
int64_t sparse_softmax_cross_entropy(const LossParams& p, const float* logits, const int32_t* labels,
                                     const float* row_scale, float* loss, float* grad);
int64_t sparse_softmax_cross_entropy(const LossParams& p, const float* logits, const int64_t* labels,
                                     const float* row_scale, float* loss, float* grad);
int64_t sparse_softmax_cross_entropy(const LossParams& p, const double* logits, const int32_t* labels,
                                     const double* row_scale, double* loss, double* grad);
int64_t sparse_softmax_cross_entropy(const LossParams& p, const double* logits, const int64_t* labels,
                                     const double* row_scale, double* loss, double* grad);

// sigmoid + binary cross-entropy from logits (the stable form), averaged over the last axis:
//   loss[i] = mean_j (max(z, 0) - z y + log1p(exp(-|z|)))    grad[i, j] = (sigmoid(z) - y) / cols
void sigmoid_binary_cross_entropy(const LossParams& p, const float* logits, const float* targets,
                                  const float* row_scale, float* loss, float* grad);
void sigmoid_binary_cross_entropy(const LossParams& p, const double* logits, const double* targets,
                                  const double* row_scale, double* loss, double* grad);

// Regression losses on e = prediction - target, averaged over the last axis (regression_losses.cpp):
//   mean_squared_error   loss[i] = mean_j e^2                     grad = 2 e / cols
//   mean_absolute_error  loss[i] = mean_j |e|                     grad = sign(e) / cols  (0 at e == 0)
//   huber                loss[i] = mean_j (|e| <= delta ? e^2 / 2 : delta |e| - delta^2 / 2)
//                                                              grad = clip(e, -delta, delta) / cols
void mean_squared_error(const LossParams& p, const float* pred, const float* target, const float* row_scale,
                        float* loss, float* grad);
void mean_squared_error(const LossParams& p, const double* pred, const double* target, const double* row_scale,
                        double* loss, double* grad);
void mean_absolute_error(const LossParams& p, const float* pred, const float* target, const float* row_scale,
                         float* loss, float* grad);
void mean_absolute_error(const LossParams& p, const double* pred, const double* target, const double* row_scale,
                         double* loss, double* grad);
void huber(const LossParams& p, const float* pred, const float* target, const float* row_scale, float* loss,
           float* grad);
void huber(const LossParams& p, const double* pred, const double* target, const double* row_scale, double* loss,
           double* grad);

}  // namespace pynn
