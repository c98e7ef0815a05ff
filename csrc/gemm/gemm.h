// General matrix multiply: C = act(alpha * op(A) * op(B) + beta * C + bias), row-major.
//
// op(A) is m x k, op(B) is k x n, C is m x n with leading dimension ldc. op(X) = X or X^T as trans_* say;
// lda / ldb are the leading dimensions of A and B as stored. beta == 0 never reads C (it may hold NaN).
// bias (length n, added to every row) and the activation form the epilogue that Dense fuses into the store.
//
// gemm() is the fast path: BLIS-style packing and cache blocking around per-ISA register-tile kernels, an
// unpacked-B path for the small and skinny shapes of a training step, OpenMP over tiles of C (over k only in
// fixed chunks where the caller allows it, so results do not depend on the thread count). gemm_reference()
// is the plain triple loop it is tested against.
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

struct GemmParams {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  double alpha = 1.0, beta = 0.0;
  // The caller allows the driver to sum k in a few fixed chunks, each chunk's product on its own thread,
  // for a short-and-deep product (a Dense layer's batch on many inputs): each thread then reads only its
  // rows of B. The chunks depend on the shape alone, so results still do not depend on the thread count;
  // they differ in rounding from the unsplit sum. Off for the kernels' internal calls.
  bool split_k = false;
};

template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;                        // length n, or nullptr
  const ActivationParams* activation = nullptr;   // elementwise only, or nullptr for linear
};

void gemm(const GemmParams& p, const float* a, const float* b, float* c, const GemmEpilogue<float>& e = {});
void gemm(const GemmParams& p, const double* a, const double* b, double* c, const GemmEpilogue<double>& e = {});

// count products c[i] = alpha * op(a[i]) * op(b[i]) + beta * c[i] of the shape p describes, matrix i at
// a + a_off[i] (b, c likewise, offsets in elements). The caller guarantees the c[i] do not overlap.
void gemm_batched(const GemmParams& p, int64_t count, const float* a, const int64_t* a_off, const float* b,
                  const int64_t* b_off, float* c, const int64_t* c_off);
void gemm_batched(const GemmParams& p, int64_t count, const double* a, const int64_t* a_off, const double* b,
                  const int64_t* b_off, double* c, const int64_t* c_off);

void gemm_reference(const GemmParams& p, const float* a, const float* b, float* c,
                    const GemmEpilogue<float>& e = {});
void gemm_reference(const GemmParams& p, const double* a, const double* b, double* c,
                    const GemmEpilogue<double>& e = {});

}  // namespace pynn
