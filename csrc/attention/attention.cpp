// Fused multi-head attention, forward and backward: one task per (batch, head) pair. See attention.h.
#include "attention/attention.h"

#include "activations/activations.h"
#include "common/parallel.h"
#include "common/scratch.h"
#include "gemm/gemm.h"

namespace pynn {
namespace {

constexpr double kMaskedScore = -1e9;

// C (m x n, row stride ldc) = alpha op(A) op(B): one thread's product (called inside a parallel region, the
// GEMM runs on a nested one-thread team).
template <class T>
void product(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, bool trans_a, const T* b, int64_t ldb,
             bool trans_b, T* c, int64_t ldc, double alpha = 1.0) {
  GemmParams g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.alpha = alpha;
  gemm(g, a, b, c);
}

// The pointers of one (b, h) pair's blocks.
template <class T>
struct Head {
  const T *q, *k, *v;
  int64_t ldq, ldk, ldv, b, h;
  Head(const AttentionParams& p, int64_t pair, const T* q_, const T* k_, const T* v_)
      : ldq(p.heads * p.dk), ldk(p.heads * p.dk), ldv(p.heads * p.dv), b(pair / p.heads), h(pair % p.heads) {
    q = q_ + b * p.tq * ldq + h * p.dk;
    k = k_ + b * p.tk * ldk + h * p.dk;
    v = v_ + b * p.tk * ldv + h * p.dv;
  }
};

template <class T>
void forward(const AttentionParams& p, const T* q, const T* k, const T* v, T* probs, T* out) {
  const int64_t pairs = p.batch * p.heads, T_ = p.tq, S = p.tk;
  if (pairs <= 0 || T_ <= 0 || S <= 0) return;
  const int64_t ldo = p.heads * p.dv;
  parallel_for(pairs, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const Head<T> hd(p, i, q, k, v);
      T* P = probs + i * T_ * S;
      product<T>(T_, S, p.dk, hd.q, hd.ldq, false, hd.k, hd.ldk, true, P, S);
      const uint8_t* keep = p.keep ? p.keep + hd.b * p.keep_b + hd.h * p.keep_h : nullptr;
      if (keep)
        for (int64_t t = 0; t < T_; ++t)
          for (int64_t s = 0; s < S; ++s)
            if (!keep[t * p.keep_t + s * p.keep_s]) P[t * S + s] = static_cast<T>(kMaskedScore);
      softmax_forward(P, P, T_, S);
      if (keep)
        for (int64_t t = 0; t < T_; ++t)
          for (int64_t s = 0; s < S; ++s)
            if (!keep[t * p.keep_t + s * p.keep_s]) P[t * S + s] = T(0);
      if (p.dv > 0) product<T>(T_, p.dv, S, P, S, false, hd.v, hd.ldv, false, out + hd.b * T_ * ldo + hd.h * p.dv, ldo);
    }
  });
}

template <class T>
void backward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* probs, const T* d_out,
              double alpha, T* dq, T* dk, T* dv) {
  const int64_t pairs = p.batch * p.heads, T_ = p.tq, S = p.tk;
  if (pairs <= 0 || T_ <= 0 || S <= 0) return;
  const int64_t ldo = p.heads * p.dv, ldq = p.heads * p.dk;
  parallel_for(pairs, 1, [&](int64_t i0, int64_t i1) {
    T* dP = static_cast<T*>(thread_scratch(9, sizeof(T) * T_ * S));
    for (int64_t i = i0; i < i1; ++i) {
      const Head<T> hd(p, i, q, k, v);
      const T* P = probs + i * T_ * S;
      const T* dO = d_out + hd.b * T_ * ldo + hd.h * p.dv;
      T* dVh = dv + hd.b * S * hd.ldv + hd.h * p.dv;
      if (p.dv > 0) {
        product<T>(T_, S, p.dv, dO, ldo, false, hd.v, hd.ldv, true, dP, S);            // dP = dO V^T
        product<T>(S, p.dv, T_, P, S, true, dO, ldo, false, dVh, hd.ldv);                // dV = P^T dO
      } else {
        for (int64_t e = 0; e < T_ * S; ++e) dP[e] = T(0);
      }
      softmax_backward(P, dP, dP, T_, S);                                                 // dS, over dP
      if (p.dk > 0) {
        product<T>(T_, p.dk, S, dP, S, false, hd.k, hd.ldk, false, dq + hd.b * T_ * ldq + hd.h * p.dk, ldq,
                   alpha);                                                                 // dQ = alpha dS K
        product<T>(S, p.dk, T_, dP, S, true, hd.q, hd.ldq, false, dk + hd.b * S * hd.ldk + hd.h * p.dk,
                   hd.ldk);                                                                // dK = dS^T Q
      }
    }
  });
}

}  // namespace

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* probs,
                       float* out) {
  forward(p, q, k, v, probs, out);
}
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v, double* probs,
                       double* out) {
  forward(p, q, k, v, probs, out);
}
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* probs, const float* d_out, double alpha, float* dq, float* dk, float* dv) {
  backward(p, q, k, v, probs, d_out, alpha, dq, dk, dv);
}
void attention_backward(const AttentionParams& p, const double* q, const double* k, const double* v,
                        const double* probs, const double* d_out, double alpha, double* dq, double* dk,
                        double* dv) {
  backward(p, q, k, v, probs, d_out, alpha, dq, dk, dv);
}

}  // namespace pynn
