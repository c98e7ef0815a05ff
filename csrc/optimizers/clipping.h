// Gradient clipping, in place, with Keras 3's formulas (keras/src/optimizers/base_optimizer.py).
//
// clip_by_value:       g = min(max(g, -clipvalue), clipvalue)                 (NaN stays NaN)
// clip_by_norm:        g = g * clipnorm / max(norm(g), clipnorm)              (one tensor)
// clip_by_global_norm: g_i *= clipnorm * min(1 / norm, 1 / clipnorm) + (norm - norm), where
//                      norm = sqrt(sum_i sum(g_i^2)) over the whole list: a non-finite norm makes every
//                      gradient NaN, as in Keras.
// Norms are accumulated in double with deterministic_sum, so they (and the clipped gradients) are
// bit-identical for any thread count. The norm functions return the norm before clipping.
#pragma once

#include <cstdint>

namespace pynn {

void clip_by_value(float* grad, int64_t n, double clipvalue);
void clip_by_value(double* grad, int64_t n, double clipvalue);

double clip_by_norm(float* grad, int64_t n, double clipnorm);
double clip_by_norm(double* grad, int64_t n, double clipnorm);

// grads[i] points at sizes[i] elements, for i in [0, count).
double clip_by_global_norm(float* const* grads, const int64_t* sizes, int64_t count, double clipnorm);
double clip_by_global_norm(double* const* grads, const int64_t* sizes, int64_t count, double clipnorm);

}  // namespace pynn
