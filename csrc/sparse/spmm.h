// Sparse-weight matrix multiply for pruned Dense layers at inference.
//
// The weights W (k x n, mostly zeros after magnitude pruning) are packed once into compressed sparse columns
// (CSC): for output column j, its nonzero entries are values[p] at input rows row_idx[p], for p in
// [col_ptr[j], col_ptr[j + 1]), in increasing row order. Then
//
//     Y[i, j] = act(bias[j] + sum_p X[i, row_idx[p]] values[p])
//
// costs one multiply-add per nonzero and row instead of one per weight. Rows of X are taken kSpmmRows at a
// time and transposed into a (k x kSpmmRows) scratch block, so that each nonzero multiplies a whole vector of
// rows; each column's sum runs over kSpmmChains interleaved partial sums (nonzero p goes to chain p mod
// kSpmmChains), added in a fixed order, so that the vector units are not waiting on one dependency chain.
// Fewer than kSpmmRows rows (batch 1 to 7) go one row at a time, with the same chains.
//
// Every element of Y is summed in an order fixed by W alone, and written by one thread: results do not
// depend on the thread count.
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

constexpr int kSpmmRows = 16;      // rows of X per transposed block
constexpr int kSpmmChains = 4;     // partial sums per output element

// The number of nonzero entries of w (k x n, row-major).
int64_t sparse_count_nonzeros(const float* w, int64_t k, int64_t n);
// CSC of w: col_ptr (n + 1), row_idx and values (nnz = col_ptr[n] = sparse_count_nonzeros(w, k, n)).
void sparse_pack(const float* w, int64_t k, int64_t n, int32_t* col_ptr, int32_t* row_idx, float* values);
// Y (m x n, row stride ldy) = act(X W + bias) for X (m x k, row stride ldx) and W packed by sparse_pack.
// The packed arrays must be sparse_pack's output for this k and n (the caller keeps them private).
void sparse_matmul(int64_t m, int64_t k, int64_t n, const float* x, int64_t ldx, const int32_t* col_ptr,
                   const int32_t* row_idx, const float* values, const float* bias,
                   const ActivationParams* activation, float* y, int64_t ldy);
// The plain loops (one row, one column, one running sum at a time) sparse_matmul is tested against.
void sparse_matmul_reference(int64_t m, int64_t k, int64_t n, const float* x, int64_t ldx, const int32_t* col_ptr,
                             const int32_t* row_idx, const float* values, const float* bias,
                             const ActivationParams* activation, float* y, int64_t ldy);

}  // namespace pynn
