// Batch normalization over any feature axis: x is viewed as (outer, channels, inner), the statistics of channel
// c taken over all outer * inner = M of its elements (NHWC with axis -1: outer = N * H * W, inner = 1).
//
//   training forward   mean_c, var_c = the batch mean and the biased variance (Keras), in double: the sums of
//                      d = x - x[first element of c] and of d^2, so that a large mean does not cancel the variance;
//                      inv_std = 1 / sqrt(var + epsilon); y = x * a + b with a = gamma * inv_std, b = beta - mean * a;
//                      moving = moving * momentum + batch * (1 - momentum) for the mean and the (biased) variance.
//   inference forward  the same affine map with the moving statistics.
//   backward           dbeta += sum dy, dgamma += inv_std * sum dy (x - mean), both in double;
//                      with batch statistics dx = gamma inv_std (dy - dbeta_batch / M - (x - mean) inv_std^2
//                      sum dy (x - mean) / M); with moving statistics dx = gamma inv_std dy.
//
// Sums run over chunks of outer indices fixed by the shape (about kBatchNormChunk elements of each channel), each
// chunk summed in order by one thread, and the chunk sums are added in chunk order: bit-identical results for
// any thread count. The loops are in batch_norm_kernels.inc, compiled per instruction set.
#pragma once

#include <cstdint>

namespace pynn {

struct BatchNormParams {
  int64_t outer = 0, channels = 0, inner = 1;
  double epsilon = 1e-3;
  double momentum = 0.99;
};

// gamma / beta may be null (scale=False: 1, center=False: 0); moving_mean / moving_variance may be null (not
// updated). batch_mean and batch_inv_std (length channels) receive what backward needs.
void batch_norm_forward_training(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                                 float* y, float* batch_mean, float* batch_inv_std, float* moving_mean,
                                 float* moving_variance);
void batch_norm_forward_training(const BatchNormParams& p, const double* x, const double* gamma,
                                 const double* beta, double* y, double* batch_mean, double* batch_inv_std,
                                 double* moving_mean, double* moving_variance);
void batch_norm_forward_inference(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                                  const float* moving_mean, const float* moving_variance, float* y);
void batch_norm_forward_inference(const BatchNormParams& p, const double* x, const double* gamma,
                                  const double* beta, const double* moving_mean, const double* moving_variance,
                                  double* y);
// mean / inv_std: the statistics the forward used (batch ones, or the moving mean and 1 / sqrt(var + eps)).
// dx, dgamma, dbeta may each be null (not computed); dgamma and dbeta are added to.
void batch_norm_backward(const BatchNormParams& p, bool batch_statistics, const float* x, const float* dy,
                         const float* mean, const float* inv_std, const float* gamma, float* dx, float* dgamma,
                         float* dbeta);
void batch_norm_backward(const BatchNormParams& p, bool batch_statistics, const double* x, const double* dy,
                         const double* mean, const double* inv_std, const double* gamma, double* dx,
                         double* dgamma, double* dbeta);

// The plain serial versions (two passes in double: mean, then the centred sum of squares; outputs computed in
// double and rounded once): the readable spec and the tests' oracle. They agree with the fast ones to rounding.
void batch_norm_forward_training_reference(const BatchNormParams& p, const float* x, const float* gamma,
                                           const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                                           float* moving_mean, float* moving_variance);
void batch_norm_forward_training_reference(const BatchNormParams& p, const double* x, const double* gamma,
                                           const double* beta, double* y, double* batch_mean,
                                           double* batch_inv_std, double* moving_mean, double* moving_variance);
void batch_norm_backward_reference(const BatchNormParams& p, bool batch_statistics, const float* x,
                                   const float* dy, const float* mean, const float* inv_std, const float* gamma,
                                   float* dx, float* dgamma, float* dbeta);
void batch_norm_backward_reference(const BatchNormParams& p, bool batch_statistics, const double* x,
                                   const double* dy, const double* mean, const double* inv_std,
                                   const double* gamma, double* dx, double* dgamma, double* dbeta);

}  // namespace pynn
