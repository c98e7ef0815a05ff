// Deterministic reductions over a batch; the summation order is documented in reduce.h.
#include "reduce/reduce.h"

#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/reduce.h"

namespace pynn {
namespace {

constexpr int64_t kMinRowsPerChunk = 256;
constexpr int64_t kMaxRowChunks = 64;
constexpr int64_t kColumnBlock = 512;
constexpr int64_t kWorkPerThread = 1 << 15;  // items; sets how many threads are woken, never the result

// Sum of term(i) over [i0, i1) with eight interleaved accumulators, combined pairwise.
template <class Term>
inline double chunk_sum(int64_t i0, int64_t i1, const Term& term) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += term(i + k);
  for (int k = 0; i < i1; ++i, ++k) acc[k] += term(i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// sum of term(i) over [0, n): chunks of kReduceChunk summed in parallel, chunk sums added in order.
template <class Term>
double chunked_sum(int64_t n, const Term& term) {
  if (n <= 0) return 0.0;
  const int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks == 1) return chunk_sum(0, n, term);
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallel_for(chunks, std::max<int64_t>(1, kWorkPerThread / kReduceChunk), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      partial[static_cast<size_t>(c)] = chunk_sum(c * kReduceChunk, std::min(n, (c + 1) * kReduceChunk), term);
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

template <class T>
void sum_rows_fast(const T* x, int64_t rows, int64_t cols, int64_t ld, T* out) {
  if (cols <= 0) return;
  if (rows <= 0) {
    std::fill(out, out + cols, T(0));
    return;
  }
  const int64_t row_chunks = std::min(kMaxRowChunks, (rows + kMinRowsPerChunk - 1) / kMinRowsPerChunk);
  const int64_t rows_per_chunk = (rows + row_chunks - 1) / row_chunks;
  const int64_t col_blocks = (cols + kColumnBlock - 1) / kColumnBlock;
  // One double per (row chunk, column); not needed when there is one row chunk.
  std::vector<double> partial(row_chunks > 1 ? static_cast<size_t>(row_chunks * cols) : 0);

  const int64_t work_per_task = rows_per_chunk * std::min(cols, kColumnBlock);
  const int64_t grain = std::max<int64_t>(1, kWorkPerThread / work_per_task);
  parallel_for(row_chunks * col_blocks, grain, [&](int64_t t0, int64_t t1) {
    double acc[kColumnBlock];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t chunk = t / col_blocks, block = t % col_blocks;
      const int64_t r0 = chunk * rows_per_chunk, r1 = std::min(rows, r0 + rows_per_chunk);
      const int64_t j0 = block * kColumnBlock, width = std::min(cols - j0, kColumnBlock);
      std::fill(acc, acc + width, 0.0);
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) {  // four rows per pass over acc: a quarter of the accumulator traffic
        const T* a = x + r * ld + j0;
        const T *b = a + ld, *c = b + ld, *d = c + ld;
        for (int64_t j = 0; j < width; ++j)
          acc[j] += (double(a[j]) + double(b[j])) + (double(c[j]) + double(d[j]));
      }
      for (; r < r1; ++r) {
        const T* row = x + r * ld + j0;
        for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
      }
      if (row_chunks == 1) {
        for (int64_t j = 0; j < width; ++j) out[j0 + j] = static_cast<T>(acc[j]);
      } else {
        std::copy(acc, acc + width, partial.data() + chunk * cols + j0);
      }
    }
  });
  if (row_chunks == 1) return;
  parallel_for(cols, std::max<int64_t>(1, kWorkPerThread / row_chunks), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      double s = 0.0;
      for (int64_t c = 0; c < row_chunks; ++c) s += partial[static_cast<size_t>(c * cols + j)];
      out[j] = static_cast<T>(s);
    }
  });
}

template <class T>
void sum_rows_plain(const T* x, int64_t rows, int64_t cols, int64_t ld, T* out) {
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; ++r) s += x[r * ld + j];
    out[j] = static_cast<T>(s);
  }
}

template <class T>
double sum_plain(const T* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

template <class T>
void weighted(const T* v, const T* w, int64_t n, double* weighted_total, double* weight_total) {
  *weighted_total = chunked_sum(n, [=](int64_t i) { return double(v[i]) * double(w[i]); });
  *weight_total = chunked_sum(n, [=](int64_t i) { return double(w[i]); });
}

}  // namespace

void sum_rows(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) { sum_rows_fast(x, rows, cols, ld, out); }
void sum_rows(const double* x, int64_t rows, int64_t cols, int64_t ld, double* out) { sum_rows_fast(x, rows, cols, ld, out); }
void sum_rows_reference(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) { sum_rows_plain(x, rows, cols, ld, out); }
void sum_rows_reference(const double* x, int64_t rows, int64_t cols, int64_t ld, double* out) { sum_rows_plain(x, rows, cols, ld, out); }

double sum(const float* x, int64_t n) { return chunked_sum(n, [=](int64_t i) { return double(x[i]); }); }
double sum(const double* x, int64_t n) { return chunked_sum(n, [=](int64_t i) { return x[i]; }); }
double sum_reference(const float* x, int64_t n) { return sum_plain(x, n); }
double sum_reference(const double* x, int64_t n) { return sum_plain(x, n); }

void weighted_sum(const float* values, const float* weights, int64_t n, double* weighted_total, double* weight_total) {
  weighted(values, weights, n, weighted_total, weight_total);
}
void weighted_sum(const double* values, const double* weights, int64_t n, double* weighted_total, double* weight_total) {
  weighted(values, weights, n, weighted_total, weight_total);
}

}  // namespace pynn
