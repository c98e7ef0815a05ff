// The recurrent driver: layouts, the projection and recurrent GEMMs, the batch chunks and the step loops
// (recurrent.h). The per-row arithmetic is in recurrent_rows.inc, compiled once per instruction set.
//
// Internally everything is time-major in processing order (step s reads input time s, or T-1-s with
// go_backwards): xt (T, B, F) so that the rows of the gates (T*B, G*U) line up with the rows of the
// inputs and of the states for the weight-gradient GEMMs.
#include "recurrent/recurrent.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/denormals.h"
#include "common/parallel.h"
#include "gemm/gemm.h"
#include "common/cpu.h"
#include "recurrent/recurrent_rows.h"
#include "recurrent/step_product.h"

namespace pynn {
namespace {

template <class T>
const RnnRowKernels<T>& row_kernels();

template <>
const RnnRowKernels<float>& row_kernels<float>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return rnn_row_kernels_avx512_f32;
  if (active_isa() == Isa::avx2) return rnn_row_kernels_avx2_f32;
#endif
  return rnn_row_kernels_generic_f32;
}

template <>
const RnnRowKernels<double>& row_kernels<double>() {
#if defined(PYNN_X86)
  if (active_isa() == Isa::avx512) return rnn_row_kernels_avx512_f64;
  if (active_isa() == Isa::avx2) return rnn_row_kernels_avx2_f64;
#endif
  return rnn_row_kernels_generic_f64;
}

bool needs_pre(const RnnParams& p) {
  return !activation_backward_uses_y(p.activation.kind) ||
         (p.cell != RnnCell::simple && !activation_backward_uses_y(p.recurrent_activation.kind));
}

// Offsets (in elements) of the forward workspace.
struct ForwardLayout {
  int64_t xt, gates, pre, hs, cs, aux, hin, rec, packed, total;
};

bool gru_before(const RnnParams& p) { return p.cell == RnnCell::gru && !p.reset_after; }

ForwardLayout forward_layout(const RnnParams& p) {
  const int64_t B = p.batch, T = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  ForwardLayout l{};
  int64_t at = 0;
  l.xt = at, at += T * B * F;
  l.gates = at, at += T * B * GU;
  l.pre = at, at += needs_pre(p) ? T * B * GU : 0;
  l.hs = at, at += (T + 1) * B * U;
  l.cs = at, at += p.cell == RnnCell::lstm ? (T + 1) * B * U : 0;
  l.aux = at, at += p.cell == RnnCell::simple ? 0 : T * B * U;
  l.hin = at, at += p.recurrent_dropout ? T * B * U : 0;
  l.rec = at, at += B * GU;
  l.packed = at, at += gru_before(p) ? rnn_detail::packed_size(U, 2 * U) + rnn_detail::packed_size(U, U)
                                     : rnn_detail::packed_size(U, GU);
  l.total = at;
  return l;
}

struct BackwardLayout {
  int64_t dg, dgrec, packed, dh, dc, tmp, dxt, total;
};

BackwardLayout backward_layout(const RnnParams& p) {
  const int64_t B = p.batch, T = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  const bool gru_after = p.cell == RnnCell::gru && p.reset_after;
  BackwardLayout l{};
  int64_t at = 0;
  l.dg = at, at += T * B * GU;
  l.dgrec = at, at += gru_after ? T * B * GU : 0;
  l.packed = at, at += gru_before(p) ? rnn_detail::packed_size(U, U) + rnn_detail::packed_size(2 * U, U)
                                     : rnn_detail::packed_size(GU, U);
  l.dh = at, at += B * U;
  l.dc = at, at += B * U;
  l.tmp = at, at += B * U;
  l.dxt = at, at += T * B * F;
  l.total = at;
  return l;
}

// Rows of the batch that one thread takes through the whole sequence: fixed by the shape alone, so the
// arithmetic of every row is the same whatever the thread count.
int64_t chunk_rows(const RnnParams& p) {
  const int64_t B = p.batch;
  int64_t rows = 16;
  // Large recurrent matrices: bigger chunks read U fewer times per step.
  if (p.units * rnn_gates(p.cell) * p.units >= (64 << 10)) rows = 32;
  return std::min(B, rows);
}

inline int64_t input_time(const RnnParams& p, int64_t s) { return p.go_backwards ? p.steps - 1 - s : s; }

inline bool step_valid(const RnnParams& p, const uint8_t* mask, int64_t b, int64_t s) {
  return !mask || mask[b * p.steps + input_time(p, s)] != 0;
}

// x (B, T, F) -> xt (T, B, F) in processing order, and back (dxt -> dx).
template <class T>
void to_time_major(const RnnParams& p, const T* x, T* xt) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size;
  parallel_for(T_, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, B * F)), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(xt + (s * B + b) * F, x + (b * T_ + input_time(p, s)) * F, sizeof(T) * F);
  });
}

template <class T>
void from_time_major(const RnnParams& p, const T* xt, T* x) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size;
  parallel_for(B, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, T_ * F)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t s = 0; s < T_; ++s)
        std::memcpy(x + (b * T_ + input_time(p, s)) * F, xt + (s * B + b) * F, sizeof(T) * F);
  });
}

// dst[j] += sum over rows of src[r, j], rows summed in order (column blocks split across threads).
template <class T>
void add_column_sums(const T* src, int64_t rows, int64_t cols, T* dst) {
  constexpr int64_t kCols = 64;
  const int64_t blocks = (cols + kCols - 1) / kCols;
  parallel_for(blocks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t cb = c0; cb < c1; ++cb) {
      const int64_t j0 = cb * kCols, j1 = std::min(cols, j0 + kCols);
      T acc[kCols] = {};
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = j0; j < j1; ++j) acc[j - j0] += src[r * cols + j];
      for (int64_t j = j0; j < j1; ++j) dst[j] += acc[j - j0];
    }
  });
}

// The large products over all steps, split by blocks of columns of C that are fixed by the shape, one
// serial GEMM per block on one thread: the core GEMM did not scale to two threads on these shapes (the
// projection T*B x F x G*U and the weight gradients with k = T*B; measured on W4's shapes), and a block
// split keeps every entry's sum independent of the thread count. op(B)'s and C's columns are offset; with
// trans_b, B's rows.
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
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t j0 = blk * kBlock;
      GemmParams q = p;
      q.n = std::min(kBlock, p.n - j0);
      GemmEpilogue<T> e;
      e.bias = bias ? bias + j0 : nullptr;
      gemm(q, a, p.trans_b ? b + j0 * p.ldb : b + j0, c + j0, e);
    }
  });
}

template <class T>
void forward_impl(const RnnParams& p, const RnnForwardArgs<T>& a) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  const ForwardLayout l = forward_layout(p);
  T* ws = a.workspace;
  T *xt = ws + l.xt, *gates = ws + l.gates, *pre = needs_pre(p) ? ws + l.pre : nullptr, *hs = ws + l.hs;
  T *cs = ws + l.cs, *aux = ws + l.aux, *hin = p.recurrent_dropout ? ws + l.hin : nullptr, *rec = ws + l.rec;
  const bool lstm = p.cell == RnnCell::lstm, gru = p.cell == RnnCell::gru;
  const bool gru_v1 = gru && !p.reset_after;
  const T* recurrent_bias = (gru && p.reset_after && a.bias) ? a.bias + GU : nullptr;

  if (a.h0) std::memcpy(hs, a.h0, sizeof(T) * B * U); else std::memset(hs, 0, sizeof(T) * B * U);
  if (lstm) {
    if (a.c0) std::memcpy(cs, a.c0, sizeof(T) * B * U); else std::memset(cs, 0, sizeof(T) * B * U);
  }
  to_time_major(p, a.x, xt);
  {
    GemmParams g;
    g.m = T_ * B, g.n = GU, g.k = F, g.lda = F, g.ldb = GU, g.ldc = GU;
    gemm_column_blocks(g, xt, a.kernel, gates, a.bias);
  }
  // The recurrent matrix (for a GRU without reset_after, its z r and h column blocks), packed once.
  T* packed = ws + l.packed;
  const rnn_detail::PackedMatrix<T> wh = rnn_detail::pack_matrix(a.recurrent_kernel, GU, 1, U, gru_v1 ? 2 * U : GU,
                                                                  packed);
  const rnn_detail::PackedMatrix<T> wh_h =
      gru_v1 ? rnn_detail::pack_matrix(a.recurrent_kernel + 2 * U, GU, 1, U, U,
                                       packed + rnn_detail::packed_size(U, 2 * U))
             : wh;
  const RnnActivations acts{&p.activation, &p.recurrent_activation};
  const RnnRowKernels<T>& kr = row_kernels<T>();
  const int64_t rows = chunk_rows(p);
  const int64_t chunks = (B + rows - 1) / rows;

  parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
    FlushDenormals ftz;
    std::vector<T> a_panel(static_cast<size_t>(rnn_detail::kMaxMR * U));
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t r0 = k * rows, r1 = std::min(B, r0 + rows), n = r1 - r0;
      std::vector<char> seen(static_cast<size_t>(n), 0);
      for (int64_t s = 0; s < T_; ++s) {
        const int64_t so = s * B * U;
        T* h_prev = hs + so;
        T* h_next = hs + so + B * U;
        T* g_step = gates + s * B * GU;
        T* aux_step = aux + s * B * U;
        const T* h_in = h_prev;
        if (hin) {
          T* hm = hin + so;
          for (int64_t b = r0; b < r1; ++b)
            for (int64_t j = 0; j < U; ++j) hm[b * U + j] = h_prev[b * U + j] * a.recurrent_mask[b * U + j];
          h_in = hm;
        }
        rnn_detail::step_product(wh, n, h_in + r0 * U, U, rec + r0 * GU, GU, T(0), a_panel.data());
        auto row = [&](int64_t b) {
          RowForward<T> r;
          r.g = g_step + b * GU;
          r.rec = rec + b * GU;
          r.pre = pre ? pre + (s * B + b) * GU : nullptr;
          r.h_prev = h_prev + b * U;
          r.c_prev = lstm ? cs + so + b * U : nullptr;
          r.h_in = h_in + b * U;
          r.aux = aux_step + b * U;
          r.h = h_next + b * U;
          r.c = lstm ? cs + so + B * U + b * U : nullptr;
          r.recurrent_bias = recurrent_bias;
          return r;
        };
        if (gru_v1) {
          for (int64_t b = r0; b < r1; ++b)
            if (step_valid(p, a.mask, b, s)) kr.gru_v1_forward_gates(acts, row(b), U);
            else std::memset(aux_step + b * U, 0, sizeof(T) * U);
          rnn_detail::step_product(wh_h, n, aux_step + r0 * U, U, rec + r0 * GU + 2 * U, GU, T(0), a_panel.data());
        }
        for (int64_t b = r0; b < r1; ++b) {
          const bool valid = step_valid(p, a.mask, b, s);
          if (valid) {
            const RowForward<T> r = row(b);
            switch (p.cell) {
              case RnnCell::simple: kr.simple_forward(acts, r, U); break;
              case RnnCell::lstm: kr.lstm_forward(acts, r, U); break;
              case RnnCell::gru:
                if (gru_v1) kr.gru_v1_forward_state(acts, r, U); else kr.gru_forward(acts, r, U);
                break;
            }
          } else {
            std::memcpy(h_next + b * U, h_prev + b * U, sizeof(T) * U);
            if (lstm) std::memcpy(cs + so + B * U + b * U, cs + so + b * U, sizeof(T) * U);
          }
          char& sb = seen[static_cast<size_t>(b - r0)];
          const bool out_is_h = valid || (sb && !p.zero_output_for_mask);
          sb = sb || valid;
          if (p.return_sequences || s == T_ - 1) {
            T* y = p.return_sequences ? a.y + (b * T_ + s) * U : a.y + b * U;
            if (out_is_h) std::memcpy(y, h_next + b * U, sizeof(T) * U); else std::memset(y, 0, sizeof(T) * U);
          }
        }
      }
    }
  });
  if (a.h_final) std::memcpy(a.h_final, hs + T_ * B * U, sizeof(T) * B * U);
  if (lstm && a.c_final) std::memcpy(a.c_final, cs + T_ * B * U, sizeof(T) * B * U);
}

template <class T>
void backward_impl(const RnnParams& p, const RnnBackwardArgs<T>& a) {
  const int64_t B = p.batch, T_ = p.steps, F = p.input_size, U = p.units, GU = rnn_gates(p.cell) * U;
  const ForwardLayout l = forward_layout(p);
  const BackwardLayout bl = backward_layout(p);
  const T* ws = a.workspace;
  const T *xt = ws + l.xt, *gates = ws + l.gates, *pre = needs_pre(p) ? ws + l.pre : nullptr;
  const T *hs = ws + l.hs, *cs = ws + l.cs, *aux = ws + l.aux, *hin = p.recurrent_dropout ? ws + l.hin : nullptr;
  T* sc = a.scratch;
  T *dg = sc + bl.dg, *dgrec = sc + bl.dgrec, *dh = sc + bl.dh, *dc = sc + bl.dc;
  T *tmp = sc + bl.tmp, *dxt = sc + bl.dxt;
  const bool lstm = p.cell == RnnCell::lstm, gru = p.cell == RnnCell::gru;
  const bool gru_v1 = gru && !p.reset_after, gru_after = gru && p.reset_after;
  T* dg_rec = gru_after ? dgrec : dg;  // the gradient of the recurrent product's output

  // U^T packed once for every step's dh_{t-1} = dG U^T (a GRU without reset_after: its h rows and its z r
  // rows apart). B(kk, i) = U[i, kk].
  T* packed = sc + bl.packed;
  const rnn_detail::PackedMatrix<T> wt =
      rnn_detail::pack_matrix(a.recurrent_kernel + (gru_v1 ? 2 * U : 0), 1, GU, gru_v1 ? U : GU, U, packed);
  const rnn_detail::PackedMatrix<T> wt_zr =
      gru_v1 ? rnn_detail::pack_matrix(a.recurrent_kernel, 1, GU, 2 * U, U, packed + rnn_detail::packed_size(U, U))
             : wt;
  if (a.dh_final) std::memcpy(dh, a.dh_final, sizeof(T) * B * U); else std::memset(dh, 0, sizeof(T) * B * U);
  if (lstm && a.dc_final) std::memcpy(dc, a.dc_final, sizeof(T) * B * U); else std::memset(dc, 0, sizeof(T) * B * U);

  const RnnActivations acts{&p.activation, &p.recurrent_activation};
  const RnnRowKernels<T>& kr = row_kernels<T>();
  const int64_t rows = chunk_rows(p);
  const int64_t chunks = (B + rows - 1) / rows;
  parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
    FlushDenormals ftz;
    std::vector<T> a_panel(static_cast<size_t>(rnn_detail::kMaxMR * GU));
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t r0 = k * rows, r1 = std::min(B, r0 + rows), n = r1 - r0;
      // The first valid step of each row: before it, a masked step outputs zero, not h.
      std::vector<int64_t> first(static_cast<size_t>(n), T_);
      for (int64_t b = r0; b < r1; ++b)
        for (int64_t s = 0; s < T_; ++s)
          if (step_valid(p, a.mask, b, s)) { first[static_cast<size_t>(b - r0)] = s; break; }
      for (int64_t s = T_ - 1; s >= 0; --s) {
        const int64_t so = s * B * U;
        const T* h_in = hin ? hin + so : hs + so;
        T* dg_step = dg + s * B * GU;
        T* dgrec_step = dg_rec + s * B * GU;
        auto row = [&](int64_t b) {
          RowBackward<T> r;
          r.g = gates + (s * B + b) * GU;
          r.pre = pre ? pre + (s * B + b) * GU : nullptr;
          r.h_prev = hs + so + b * U;
          r.c_prev = lstm ? cs + so + b * U : nullptr;
          r.c = lstm ? cs + so + B * U + b * U : nullptr;
          r.aux = aux + so + b * U;
          r.dh = dh + b * U;
          r.dc = dc + b * U;
          r.dg = dg_step + b * GU;
          r.dgrec = dgrec_step + b * GU;
          r.tmp = tmp + b * U;
          return r;
        };
        for (int64_t b = r0; b < r1; ++b) {
          const bool valid = step_valid(p, a.mask, b, s);
          const bool out_is_h = valid || (first[static_cast<size_t>(b - r0)] < s && !p.zero_output_for_mask);
          if (a.dy && out_is_h && (p.return_sequences || s == T_ - 1)) {
            const T* dy = p.return_sequences ? a.dy + (b * T_ + s) * U : a.dy + b * U;
            for (int64_t j = 0; j < U; ++j) dh[b * U + j] += dy[j];
          }
          if (!valid) {
            std::memset(dg_step + b * GU, 0, sizeof(T) * GU);
            if (gru_after) std::memset(dgrec_step + b * GU, 0, sizeof(T) * GU);
            continue;
          }
          const RowBackward<T> r = row(b);
          switch (p.cell) {
            case RnnCell::simple: kr.simple_backward(acts, r, U); break;
            case RnnCell::lstm: kr.lstm_backward(acts, r, U); break;
            case RnnCell::gru:
              if (gru_v1) kr.gru_v1_backward_state(acts, r, U); else kr.gru_backward(acts, r, U);
              break;
          }
        }
        // tmp = dL/dh_in of this step (zero on masked rows, whose dG is zero).
        if (gru_v1) {
          rnn_detail::step_product(wt, n, dg_step + r0 * GU + 2 * U, GU, tmp + r0 * U, U, T(0), a_panel.data());
          for (int64_t b = r0; b < r1; ++b)
            if (step_valid(p, a.mask, b, s)) kr.gru_v1_backward_gates(acts, row(b), h_in + b * U, U);
            else std::memset(tmp + b * U, 0, sizeof(T) * U);
          rnn_detail::step_product(wt_zr, n, dg_step + r0 * GU, GU, tmp + r0 * U, U, T(1), a_panel.data());
        } else {
          rnn_detail::step_product(wt, n, dgrec_step + r0 * GU, GU, tmp + r0 * U, U, T(0), a_panel.data());
        }
        for (int64_t b = r0; b < r1; ++b) {
          T* d = dh + b * U;
          const T* t = tmp + b * U;
          if (a.recurrent_mask) {
            const T* m = a.recurrent_mask + b * U;
            for (int64_t j = 0; j < U; ++j) d[j] += t[j] * m[j];
          } else {
            for (int64_t j = 0; j < U; ++j) d[j] += t[j];
          }
        }
      }
    }
  });
  if (a.dh0) std::memcpy(a.dh0, dh, sizeof(T) * B * U);
  if (lstm && a.dc0) std::memcpy(a.dc0, dc, sizeof(T) * B * U);

  // Weight gradients over all steps at once.
  const int64_t M = T_ * B;
  if (a.dkernel) {
    GemmParams g;
    g.m = F, g.n = GU, g.k = M, g.trans_a = true, g.lda = F, g.ldb = GU, g.ldc = GU, g.beta = 1.0;
    gemm_column_blocks(g, xt, dg, a.dkernel);
  }
  if (a.drecurrent_kernel) {
    const T* h_in_all = hin ? hin : hs;
    GemmParams g;
    g.m = U, g.k = M, g.trans_a = true, g.lda = U, g.ldb = GU, g.ldc = GU, g.beta = 1.0;
    if (gru_v1) {
      g.n = 2 * U;
      gemm_column_blocks(g, h_in_all, dg, a.drecurrent_kernel);
      g.n = U;
      gemm_column_blocks(g, aux, dg + 2 * U, a.drecurrent_kernel + 2 * U);
    } else {
      g.n = GU;
      gemm_column_blocks(g, h_in_all, dg_rec, a.drecurrent_kernel);
    }
  }
  if (a.dbias) {
    add_column_sums(dg, M, GU, a.dbias);
    if (gru_after) add_column_sums(dgrec, M, GU, a.dbias + GU);
  }
  if (a.dx) {
    GemmParams g;
    g.m = M, g.n = F, g.k = GU, g.trans_b = true, g.lda = GU, g.ldb = GU, g.ldc = F;
    gemm(g, dg, a.kernel, dxt, GemmEpilogue<T>{});
    from_time_major(p, dxt, a.dx);
  }
}

}  // namespace

int rnn_gates(RnnCell cell) {
  switch (cell) {
    case RnnCell::simple: return 1;
    case RnnCell::lstm: return 4;
    case RnnCell::gru: return 3;
  }
  return 0;
}

static bool valid_params(const RnnParams& p) {
  return rnn_gates(p.cell) > 0 && p.batch > 0 && p.steps > 0 && p.input_size > 0 && p.units > 0;
}

int64_t rnn_forward_workspace_size(const RnnParams& p) { return valid_params(p) ? forward_layout(p).total : -1; }
int64_t rnn_backward_workspace_size(const RnnParams& p) { return valid_params(p) ? backward_layout(p).total : -1; }

void rnn_forward(const RnnParams& p, const RnnForwardArgs<float>& a) { forward_impl(p, a); }
void rnn_forward(const RnnParams& p, const RnnForwardArgs<double>& a) { forward_impl(p, a); }
void rnn_backward(const RnnParams& p, const RnnBackwardArgs<float>& a) { backward_impl(p, a); }
void rnn_backward(const RnnParams& p, const RnnBackwardArgs<double>& a) { backward_impl(p, a); }

}  // namespace pynn
