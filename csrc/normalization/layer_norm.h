// Layer normalization of the rows of a (rows, features) array: each row is standardized over its own features,
// then scaled and shifted per feature (Keras's LayerNormalization over the trailing axes, torch.nn.LayerNorm).
//
//   forward    mean_r = the row's mean, var_r = the biased variance about it, inv_r = 1 / sqrt(var_r + epsilon);
//              y = (x - mean_r) inv_r gamma + beta, or x inv_r gamma + beta when not centered (Keras's
//              rms_scaling). mean and inv (length rows) receive what backward needs: nothing of the input's
//              size is kept besides x.
//   backward   with c = (x - mean_r) inv_r, n = c (centered) or x inv_r (not), u = dy gamma:
//              dx = inv_r (u - mean(u) - c mean(u n)), the mean(u) term only when centered;
//              dgamma += sum over rows of dy n, dbeta += sum over rows of dy.
//
// Each row is computed by one thread in one order. The parameter gradients are summed over chunks of rows
// fixed by the shape (in double), and the chunk sums added in chunk order: bit-identical for any thread count.
// The loops are in layer_norm_kernels.inc, compiled per instruction set.
#pragma once

#include <cstdint>

namespace pynn {

struct LayerNormParams {
  int64_t rows = 0, features = 0;
  double epsilon = 1e-3;
  bool centered = true;
};

// gamma / beta may be null (scale=False: 1, center=False: 0).
void layer_norm_forward(const LayerNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv);
void layer_norm_forward(const LayerNormParams& p, const double* x, const double* gamma, const double* beta,
                        double* y, double* mean, double* inv);
// x, mean, inv: as forward saw and wrote them. dx, dgamma, dbeta may each be null (not wanted); dgamma and
// dbeta are added into. dx may be dy (in place).
void layer_norm_backward(const LayerNormParams& p, const float* x, const float* dy, const float* mean,
                         const float* inv, const float* gamma, float* dx, float* dgamma, float* dbeta);
void layer_norm_backward(const LayerNormParams& p, const double* x, const double* dy, const double* mean,
                         const double* inv, const double* gamma, double* dx, double* dgamma, double* dbeta);

}  // namespace pynn
