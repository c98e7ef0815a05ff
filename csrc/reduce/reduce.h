// Reductions over a batch: column sums of a matrix (the bias gradient), the sum of a vector (loss sums),
// and the weighted sum (loss with sample_weight).
//
// Every sum accumulates in double, for float32 and float64 inputs alike, and is rounded to the input's type
// once at the end (float32 inputs: the products v * w of weighted_sum are exact in double). The order of
// the additions is fixed by the shape alone, so results are bit-identical for any thread count:
//
//   sum, weighted_sum   [0, n) cut into chunks of kReduceChunk (common/reduce.h) items. Inside a chunk,
//                       eight accumulators take items i0 + 8m + k (k = 0..7) in order, then are added as
//                       ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)); the chunk sums are added in
//                       chunk order.
//   sum_rows            rows cut into R = min(ceil(rows / 256), 64) row chunks of ceil(rows / R) rows,
//                       columns into blocks of 512. Each (row chunk, column block) sums its rows into one
//                       double per column, four rows at a time from the chunk's first row,
//                       acc += (x[r] + x[r+1]) + (x[r+2] + x[r+3]), then the last rows one by one; each
//                       column's chunk sums are then added in chunk order.
//
// The *_reference functions are the plain serial loops (one double accumulator, index order): the
// readable spec and the tests' oracle. They agree with the fast versions to rounding, not bit for bit.
#pragma once

#include <cstdint>

namespace pynn {

// out[j] = sum_i x[i * ld + j] for an x of rows x cols with leading dimension ld (>= cols).
void sum_rows(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out);
void sum_rows(const double* x, int64_t rows, int64_t cols, int64_t ld, double* out);
void sum_rows_reference(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out);
void sum_rows_reference(const double* x, int64_t rows, int64_t cols, int64_t ld, double* out);

// sum_i x[i], in double.
double sum(const float* x, int64_t n);
double sum(const double* x, int64_t n);
double sum_reference(const float* x, int64_t n);
double sum_reference(const double* x, int64_t n);

// weighted = sum_i values[i] * weights[i] and weight_total = sum_i weights[i], in double.
void weighted_sum(const float* values, const float* weights, int64_t n, double* weighted, double* weight_total);
void weighted_sum(const double* values, const double* weights, int64_t n, double* weighted, double* weight_total);

}  // namespace pynn
