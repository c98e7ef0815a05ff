// What the recurrent driver (recurrent.cpp) is built from: the workspace layouts, the batch chunks, the
// time-major transposes, the bias-gradient column sums and the large products over all steps. Internal:
// only recurrent.cpp includes it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/cpu.h"
#include "common/parallel.h"
#include "common/scratch.h"
#include "gemm/gemm.h"
#include "reduce/reduce.h"
#include "recurrent/recurrent.h"
#include "recurrent/recurrent_rows.h"
#include "recurrent/step_product.h"

namespace pynn {
namespace rnn_detail {

template <class T>
const RnnRowKernels<T>& row_kernels();

template <>
inline const RnnRowKernels<float>& row_kernels<float>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return rnn_row_kernels_avx512_f32;
  if (active_isa() == Isa::avx2) return rnn_row_kernels_avx2_f32;
#endif
  return rnn_row_kernels_generic_f32;
}

template <>
inline const RnnRowKernels<double>& row_kernels<double>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return rnn_row_kernels_avx512_f64;
  if (active_isa() == Isa::avx2) return rnn_row_kernels_avx2_f64;
#endif
  return rnn_row_kernels_generic_f64;
}

inline bool needs_pre(const RnnParams& p) {
  return !activation_backward_uses_y(p.activation.kind) ||
         (p.cell != RnnCell::simple && !activation_backward_uses_y(p.recurrent_activation.kind));
}

// Whether forward projects each step's inputs right before its recurrent product (the kernel packed once)
// rather than all steps in one GEMM first: for a few input features, where that GEMM only writes the gates
// (W3's 3200 x 200 from k = 1, ~75 us on its own) for the steps to read back later. The sums are the same
// either way: k in order, then the bias.
// A forward alone (!save) always does: it keeps no gates of earlier steps.
inline bool projection_per_step(const RnnParams& p) { return p.input_size <= 16 || !p.save; }

// Offsets (in elements) of the forward workspace.
struct ForwardLayout {
  int64_t xt, gates, pre, hs, cs, aux, hin, rec, packed, packed_kernel, total;
};

inline bool gru_before(const RnnParams& p) { return p.cell == RnnCell::gru && !p.reset_after; }

inline ForwardLayout forward_layout(const RnnParams& p) {
  const int64_t B = p.batch, T = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  ForwardLayout l{};
  // Steps kept of the per-step rows and of the states: all of them for backward, else the current step's
  // rows and the two states it goes between.
  const int64_t rows_kept = p.save ? T : 1, states_kept = p.save ? T + 1 : 2;
  int64_t at = 0;
  l.xt = at, at += T * B * F;
  l.gates = at, at += rows_kept * B * GU;
  l.pre = at, at += needs_pre(p) ? rows_kept * B * GU : 0;
  l.hs = at, at += states_kept * B * U;
  l.cs = at, at += p.cell == RnnCell::lstm ? states_kept * B * U : 0;
  l.aux = at, at += p.cell == RnnCell::simple ? 0 : rows_kept * B * U;
  l.hin = at, at += p.recurrent_dropout ? rows_kept * B * U : 0;
  l.rec = at, at += B * GU;
  l.packed = at, at += gru_before(p) ? packed_size(U, 2 * U) + packed_size(U, U)
                                     : packed_size(U, GU);
  l.packed_kernel = at, at += projection_per_step(p) ? packed_size(F, GU) : 0;
  l.total = at;
  return l;
}

// Rows of the batch that one thread takes through the whole sequence: fixed by the shape alone, so the
// arithmetic of every row is the same whatever the thread count.
inline int64_t chunk_rows(const RnnParams& p) {
  const int64_t B = p.batch;
  int64_t rows = 16;
  // Large recurrent matrices: bigger chunks read U fewer times per step.
  if (p.units * rnn_gates(p.cell) * p.units >= (64 << 10)) rows = 32;
  return std::min(B, rows);
}

// Whether backward accumulates the weight gradients per batch chunk, step by step while dG is in cache
// (partials summed in chunk order at the end), instead of as large GEMMs over all steps afterwards: for a
// recurrent matrix that stays in L2 (W3's 50 x 200; the GEMMs over k = T*B read dG three more times and
// did not split across threads) and a few chunks (the partials cost chunks x the weights).
inline bool local_weight_grads(const RnnParams& p) {
  const int64_t GU = rnn_gates(p.cell) * p.units;
  const int64_t chunks = (p.batch + chunk_rows(p) - 1) / chunk_rows(p);
  return (p.units + p.input_size) * GU <= (48 << 10) && chunks <= 8;
}

// Arrays of the given element counts, each on its own cache lines, in this thread's scratch slot `slot`
// (common/scratch.h): valid until the thread asks for that slot again; not zeroed.
template <class T, size_t N>
std::array<T*, N> thread_arrays(int slot, const std::array<int64_t, N>& counts) {
  const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
  int64_t total = line;
  for (const int64_t c : counts) total += (c + line - 1) / line * line;
  T* at = static_cast<T*>(thread_scratch(slot, sizeof(T) * total));
  std::array<T*, N> out{};
  for (size_t i = 0; i < N; ++i) {
    out[i] = at;
    at += (counts[i] + line - 1) / line * line;
  }
  return out;
}

// Steps whose rows the local weight gradients gather before each product: about 256 rows of k, fewer where
// a row is long (many input features) so that the rings stay within 2^18 values per thread.
inline int64_t ring_steps(const RnnParams& p) {
  const int64_t GU = rnn_gates(p.cell) * p.units, rows = chunk_rows(p);
  const bool gru_after = p.cell == RnnCell::gru && p.reset_after;
  const int64_t row_values = (gru_after ? 2 : 1) * GU + p.input_size + (gru_before(p) ? 2 : 1) * p.units;
  const int64_t budget_rows = (int64_t{1} << 18) / row_values;
  return std::max<int64_t>(1, std::min({p.steps, 256 / rows, budget_rows / rows}));
}

// Size of one chunk's partial weight gradients: kernel (F, GU), recurrent kernel (U, GU), two bias rows.
inline int64_t partial_size(const RnnParams& p) {
  const int64_t GU = rnn_gates(p.cell) * p.units;
  return (p.input_size + p.units + 2) * GU;
}

// Whether backward writes each step's dG over the saved gates it is computed from, instead of into a buffer
// of its own: where the rows take the fused loops (rnn_fused_backward), which read every gate value before
// writing its gradient; a GRU without reset_after has rows of its own that do not. One buffer of T*B*G*U
// less for the weight-gradient products to stream through: W4's forward and backward in turn, 34.0-34.9 ->
// 32.0 ms a step (means of 100).
inline bool backward_in_place(const RnnParams& p) {
  return !gru_before(p) && rnn_fused_backward(p.cell, p.activation, p.recurrent_activation);
}

struct BackwardLayout {
  int64_t dg, dgrec, packed, dh, dc, tmp, dxt, partials, total;
};

inline BackwardLayout backward_layout(const RnnParams& p) {
  const int64_t B = p.batch, T = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  const bool gru_after = p.cell == RnnCell::gru && p.reset_after;
  BackwardLayout l{};
  int64_t at = 0;
  l.dg = at, at += backward_in_place(p) ? 0 : T * B * GU;
  l.dgrec = at, at += gru_after ? T * B * GU : 0;
  l.packed = at, at += gru_before(p) ? packed_size(U, U) + packed_size(2 * U, U)
                                     : packed_size(GU, U);
  l.dh = at, at += B * U;
  l.dc = at, at += B * U;
  l.tmp = at, at += B * U;
  l.dxt = at, at += T * B * F;
  l.partials = at, at += local_weight_grads(p) ? (B + chunk_rows(p) - 1) / chunk_rows(p) * partial_size(p) : 0;
  l.total = at;
  return l;
}

inline int64_t input_time(const RnnParams& p, int64_t s) { return p.go_backwards ? p.steps - 1 - s : s; }

inline bool step_valid(const RnnParams& p, const uint8_t* mask, int64_t b, int64_t s) {
  return !mask || mask[b * p.steps + input_time(p, s)] != 0;
}

// n values; a single one inline (with one input feature, W3's, the transposes made a libc memcpy call per
// value; GCC turns a copy loop into that call too).
template <class T>
inline void copy_row(T* dst, const T* src, int64_t n) {
  if (n == 1) dst[0] = src[0]; else std::memcpy(dst, src, sizeof(T) * n);
}

// x (B, T, F) -> xt (T, B, F) in processing order, and back (dxt -> dx).
template <class T>
void to_time_major(const RnnParams& p, const T* x, T* xt) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size;
  parallel_for(T_, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, B * F)), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t b = 0; b < B; ++b) copy_row(xt + (s * B + b) * F, x + (b * T_ + input_time(p, s)) * F, F);
  });
}

template <class T>
void from_time_major(const RnnParams& p, const T* xt, T* x) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size;
  parallel_for(B, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, T_ * F)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t s = 0; s < T_; ++s)
        copy_row(x + (b * T_ + input_time(p, s)) * F, xt + (s * B + b) * F, F);
  });
}

// dst[j] += sum over rows of src[r, j]: the batch reduction's column sums (reduce.h: in double, in chunks
// fixed by the shape), then one add. (Its own loop here, column blocks of 64 per thread in T, took 0.8 ms of
// W4's backward over 3200 x 1024 gate gradients; the reduction takes 0.3 ms.)
template <class T>
void add_column_sums(const T* src, int64_t rows, int64_t cols, T* dst) {
  std::vector<T> sums(static_cast<size_t>(cols));
  sum_rows(src, rows, cols, cols, sums.data());
  for (int64_t j = 0; j < cols; ++j) dst[j] += sums[static_cast<size_t>(j)];
}

// dst[i] += sum over chunks c (in order) of parts[c * stride + offset + i], for i < count; dst may be null.
template <class T>
void add_partials(const T* parts, int64_t chunks, int64_t stride, int64_t offset, int64_t count, T* dst) {
  if (!dst || count <= 0) return;
  parallel_for(count, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T acc = T(0);
      for (int64_t c = 0; c < chunks; ++c) acc += parts[c * stride + offset + i];
      dst[i] += acc;
    }
  });
}

// The large products over all steps, split by blocks of columns of C, one GEMM per thread over its run of
// blocks (its own region nested, so of one thread): the core GEMM did not scale to two threads on these
// shapes (the projection T*B x F x G*U and the weight gradients with k = T*B; measured on W4's shapes).
// Each entry is summed over k the same way whatever columns its GEMM covers, so the split, which depends
// on the thread count, never changes a result; one GEMM per run packs op(A) once per thread, not once per
// block. op(B)'s and C's columns are offset; with trans_b, B's rows.
template <class T>
void gemm_column_blocks(const GemmParams& p, const T* a, const T* b, T* c, const T* bias = nullptr) {
  // A quarter of the columns (rounded to 8), at most 256: several blocks even for W3's dU (50 x 200, k =
  // T*B), which the core GEMM ran on one thread.
  const int64_t kBlock = std::min<int64_t>(256, std::max<int64_t>(8, ((p.n + 3) / 4 + 7) / 8 * 8));
  const int64_t blocks = (p.n + kBlock - 1) / kBlock;
  const int64_t flops_per_block = p.m * p.k * std::min(p.n, kBlock);
  const bool split = blocks > 1 && flops_per_block >= (int64_t{1} << 20);
  if (!split) {
    GemmEpilogue<T> e;
    e.bias = bias;
    gemm(p, a, b, c, e);
    return;
  }
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    const int64_t j0 = b0 * kBlock;
    GemmParams q = p;
    q.n = std::min(p.n, b1 * kBlock) - j0;
    GemmEpilogue<T> e;
    e.bias = bias ? bias + j0 : nullptr;
    gemm(q, a, p.trans_b ? b + j0 * p.ldb : b + j0, c + j0, e);
  });
}


}  // namespace rnn_detail
}  // namespace pynn
