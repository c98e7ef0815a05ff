// Scaled dot-product attention over many heads, fused per head: the scores, the mask, the softmax and the
// product with the values of one (batch, head) pair run on one thread one after another, so that its (T x S)
// scores stay in that core's L2 between the steps instead of making three passes over all heads' scores.
//
// Layouts are those of MultiHeadAttention's projections: q is (B * T, H * dk), the heads side by side (head h
// of sample b is the (T x dk) block at rows b*T.., columns h*dk..); k is (B * S, H * dk), v is (B * S, H * dv),
// out is (B * T, H * dv) in the same layout. probs is (B, H, T, S), C-contiguous.
//
//   forward    P = softmax(Q K^T) per (b, h) over its S keys; where keep is 0 the score is -1e9 before the
//              softmax and the probability 0 after (a query row that may see no key is all zeros); O = P V.
//              q is used as given (MultiHeadAttention scales its projected query before).
//   backward   dP = dO V^T, dV = P^T dO, dS = P (dP - sum(dP P)) per row, dQ = alpha dS K, dK = dS^T Q.
//              dP lives in a per-thread (T x S) buffer: nothing of the scores' size is allocated.
//
// The products are the GEMM kernel's (on one thread each), the softmax rows the activation kernels': each
// (b, h) pair is computed in one fixed order, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace pynn {

struct AttentionParams {
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, dk = 0, dv = 0;
  // keep[b * keep_b + h * keep_h + t * keep_t + s * keep_s] (element strides, 0 to broadcast), or no mask.
  const uint8_t* keep = nullptr;
  int64_t keep_b = 0, keep_h = 0, keep_t = 0, keep_s = 0;
};

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* probs,
                       float* out);
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v, double* probs,
                       double* out);
// d_out: the gradient of out; dq, dk, dv are written (not added to); alpha scales dq.
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* probs, const float* d_out, double alpha, float* dq, float* dk, float* dv);
void attention_backward(const AttentionParams& p, const double* q, const double* k, const double* v,
                        const double* probs, const double* d_out, double alpha, double* dq, double* dk,
                        double* dv);

}  // namespace pynn
