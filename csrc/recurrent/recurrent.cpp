// The recurrent driver: forward and backward through time (recurrent.h), over the layouts and helpers of
// recurrent_detail.h. The per-row arithmetic is in recurrent_rows.inc, compiled once per instruction set.
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
#include "recurrent/recurrent_detail.h"

namespace pynn {
namespace {

using namespace rnn_detail;

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
  const bool per_step = projection_per_step(p);
  const rnn_detail::PackedMatrix<T> wx =
      per_step ? rnn_detail::pack_matrix(a.kernel, GU, 1, F, GU, ws + l.packed_kernel) : rnn_detail::PackedMatrix<T>{};
  if (!per_step) {
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
    std::vector<T> a_panel(static_cast<size_t>(rnn_detail::kMaxMR * std::max(U, F)));
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t r0 = k * rows, r1 = std::min(B, r0 + rows), n = r1 - r0;
      std::vector<char> seen(static_cast<size_t>(n), 0);
      for (int64_t s = 0; s < T_; ++s) {
        // Where this step's rows and its two states are (forward_layout: a forward alone reuses one step's
        // rows and alternates between two states).
        const int64_t sr = p.save ? s : 0;
        const int64_t so = (p.save ? s : s % 2) * B * U, sn = (p.save ? s + 1 : (s + 1) % 2) * B * U;
        T* h_prev = hs + so;
        T* h_next = hs + sn;
        T* g_step = gates + sr * B * GU;
        T* aux_step = aux + sr * B * U;
        const T* h_in = h_prev;
        if (hin) {
          T* hm = hin + sr * B * U;
          for (int64_t b = r0; b < r1; ++b)
            for (int64_t j = 0; j < U; ++j) hm[b * U + j] = h_prev[b * U + j] * a.recurrent_mask[b * U + j];
          h_in = hm;
        }
        if (per_step)
          rnn_detail::step_product(wx, n, xt + (s * B + r0) * F, F, g_step + r0 * GU, GU, T(0), a_panel.data(),
                                   a.bias);
        rnn_detail::step_product(wh, n, h_in + r0 * U, U, rec + r0 * GU, GU, T(0), a_panel.data());
        auto row = [&](int64_t b) {
          RowForward<T> r;
          r.g = g_step + b * GU;
          r.rec = rec + b * GU;
          r.pre = pre ? pre + (sr * B + b) * GU : nullptr;
          r.h_prev = h_prev + b * U;
          r.c_prev = lstm ? cs + so + b * U : nullptr;
          r.h_in = h_in + b * U;
          r.aux = aux_step + b * U;
          r.h = h_next + b * U;
          r.c = lstm ? cs + sn + b * U : nullptr;
          r.recurrent_bias = recurrent_bias;
          return r;
        };
        if (gru_v1) {
          for (int64_t b = r0; b < r1; ++b)
            if (step_valid(p, a.mask, b, s)) kr.gru_v1_forward_gates(acts, row(b), U, 1);
            else std::memset(aux_step + b * U, 0, sizeof(T) * U);
          rnn_detail::step_product(wh_h, n, aux_step + r0 * U, U, rec + r0 * GU + 2 * U, GU, T(0), a_panel.data());
        }
        // The cell's rows, a call per run of consecutive unmasked samples (all of them without a mask).
        for (int64_t b = r0; b < r1;) {
          if (!step_valid(p, a.mask, b, s)) {
            ++b;
            continue;
          }
          int64_t e = b + 1;
          while (e < r1 && step_valid(p, a.mask, e, s)) ++e;
          const RowForward<T> r = row(b);
          switch (p.cell) {
            case RnnCell::simple: kr.simple_forward(acts, r, U, e - b); break;
            case RnnCell::lstm: kr.lstm_forward(acts, r, U, e - b); break;
            case RnnCell::gru:
              if (gru_v1) kr.gru_v1_forward_state(acts, r, U, e - b); else kr.gru_forward(acts, r, U, e - b);
              break;
          }
          b = e;
        }
        for (int64_t b = r0; b < r1; ++b) {
          const bool valid = step_valid(p, a.mask, b, s);
          if (!valid) {
            std::memcpy(h_next + b * U, h_prev + b * U, sizeof(T) * U);
            if (lstm) std::memcpy(cs + sn + b * U, cs + so + b * U, sizeof(T) * U);
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
  const int64_t last = (p.save ? T_ : T_ % 2) * B * U;
  if (a.h_final) std::memcpy(a.h_final, hs + last, sizeof(T) * B * U);
  if (lstm && a.c_final) std::memcpy(a.c_final, cs + last, sizeof(T) * B * U);
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
  // dG (T*B rows of G*U): over the saved gates (backward_in_place), else in the scratch.
  const bool in_place = backward_in_place(p);
  T* dg = in_place ? a.workspace + l.gates : sc + bl.dg;
  T *dgrec = sc + bl.dgrec, *dh = sc + bl.dh, *dc = sc + bl.dc;
  T *tmp = sc + bl.tmp, *dxt = sc + bl.dxt;
  const bool local = local_weight_grads(p);
  const int64_t psize = partial_size(p);
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
    // Local weight gradients: the rows of the last `ring` steps (dG, and the inputs x, h_in, GRU's r * h_in
    // that multiply it), gathered so that each flush is one product with k = ring * rows. Per step (k = the
    // chunk's rows) the partials were loaded and stored every step and took twice as long.
    const int64_t ring = local ? ring_steps(p) : 0, ring_rows = ring * rows;
    // In this thread's scratch (a few hundred KB for W3, allocated once): the rings, and the ragged row
    // panel of a step product (k = GU for dG U^T, k = the ring's rows for the weights').
    const auto buf = thread_arrays<T, 6>(8, {ring_rows * GU, gru_after ? ring_rows * GU : 0, ring_rows * F,
                                              ring_rows * U, gru_v1 ? ring_rows * U : 0,
                                              rnn_detail::kMaxMR * std::max(GU, ring_rows)});
    T *ring_g = buf[0], *ring_gr = buf[1], *ring_x = buf[2], *ring_h = buf[3], *ring_a = buf[4], *a_panel = buf[5];
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t r0 = k * rows, r1 = std::min(B, r0 + rows), n = r1 - r0;
      // This chunk's partial weight gradients: kernel (F, GU), recurrent kernel (U, GU), bias rows.
      T* part_k = local ? sc + bl.partials + k * psize : nullptr;
      T* part_rk = local ? part_k + F * GU : nullptr;
      T* part_b = local ? part_rk + U * GU : nullptr;
      if (local) std::memset(part_k, 0, sizeof(T) * psize);
      int64_t filled = 0;  // steps in the ring
      auto flush = [&] {
        const int64_t m = filled * n;
        T* ap = a_panel;
        step_product_at(F, GU, m, ring_x, F, ring_g, GU, part_k, GU, ap);
        if (gru_v1) {
          step_product_at(U, 2 * U, m, ring_h, U, ring_g, GU, part_rk, GU, ap);
          step_product_at(U, U, m, ring_a, U, ring_g + 2 * U, GU, part_rk + 2 * U, GU, ap);
        } else {
          step_product_at(U, GU, m, ring_h, U, gru_after ? ring_gr : ring_g, GU, part_rk, GU, ap);
        }
        for (int64_t i = 0; i < m; ++i) {
          const T* g = ring_g + i * GU;
          for (int64_t j = 0; j < GU; ++j) part_b[j] += g[j];
          if (gru_after) {
            const T* gr = ring_gr + i * GU;
            for (int64_t j = 0; j < GU; ++j) part_b[GU + j] += gr[j];
          }
        }
        filled = 0;
      };
      // The first valid step of each row: before it, a masked step outputs zero, not h.
      std::vector<int64_t> first(static_cast<size_t>(n), T_);
      for (int64_t b = r0; b < r1; ++b)
        for (int64_t s = 0; s < T_; ++s)
          if (step_valid(p, a.mask, b, s)) { first[static_cast<size_t>(b - r0)] = s; break; }
      for (int64_t s = T_ - 1; s >= 0; --s) {
        const int64_t so = s * B * U;
        const T* h_in = hin ? hin + so : hs + so;
        // This step's dG rows for the chunk (row b at (b - r0) * GU): its rows of dg / dgrec, or (local) the
        // ring's next slot.
        T* dg_rows = local ? ring_g + filled * n * GU : dg + (s * B + r0) * GU;
        T* dgrec_rows = !gru_after ? dg_rows : local ? ring_gr + filled * n * GU : dgrec + (s * B + r0) * GU;
        // In place, the rows' dG is computed over their gates: the ring's slot starts as their copy.
        if (local && in_place) std::memcpy(dg_rows, gates + (s * B + r0) * GU, sizeof(T) * n * GU);
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
          r.dg = dg_rows + (b - r0) * GU;
          r.dgrec = dgrec_rows + (b - r0) * GU;
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
            std::memset(dg_rows + (b - r0) * GU, 0, sizeof(T) * GU);
            if (gru_after) std::memset(dgrec_rows + (b - r0) * GU, 0, sizeof(T) * GU);
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
          rnn_detail::step_product(wt, n, dg_rows + 2 * U, GU, tmp + r0 * U, U, T(0), a_panel);
          for (int64_t b = r0; b < r1; ++b)
            if (step_valid(p, a.mask, b, s)) kr.gru_v1_backward_gates(acts, row(b), h_in + b * U, U);
            else std::memset(tmp + b * U, 0, sizeof(T) * U);
          rnn_detail::step_product(wt_zr, n, dg_rows, GU, tmp + r0 * U, U, T(1), a_panel);
        } else {
          rnn_detail::step_product(wt, n, dgrec_rows, GU, tmp + r0 * U, U, T(0), a_panel);
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
        if (local) {  // this step's inputs into the ring; dG is there already
          const int64_t o = filled * n;
          std::memcpy(ring_x + o * F, xt + (s * B + r0) * F, sizeof(T) * n * F);
          std::memcpy(ring_h + o * U, h_in + r0 * U, sizeof(T) * n * U);
          if (gru_v1) std::memcpy(ring_a + o * U, aux + so + r0 * U, sizeof(T) * n * U);
          if (a.dx) std::memcpy(dg + (s * B + r0) * GU, dg_rows, sizeof(T) * n * GU);
          if (++filled == ring || s == 0) flush();
        }
      }
    }
  });
  if (a.dh0) std::memcpy(a.dh0, dh, sizeof(T) * B * U);
  if (lstm && a.dc0) std::memcpy(a.dc0, dc, sizeof(T) * B * U);

  const int64_t M = T_ * B;
  if (local) {  // the chunks' partials, added in chunk order
    const T* parts = sc + bl.partials;
    add_partials(parts, chunks, psize, 0, F * GU, a.dkernel);
    add_partials(parts, chunks, psize, F * GU, U * GU, a.drecurrent_kernel);
    add_partials(parts, chunks, psize, (F + U) * GU, (gru_after ? 2 : 1) * GU, a.dbias);
  }
  // Weight gradients over all steps at once.
  if (a.dkernel && !local) {
    GemmParams g;
    g.m = F, g.n = GU, g.k = M, g.trans_a = true, g.lda = F, g.ldb = GU, g.ldc = GU, g.beta = 1.0;
    gemm_column_blocks(g, xt, dg, a.dkernel);
  }
  if (a.drecurrent_kernel && !local) {
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
  if (a.dbias && !local) {
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
