// The per-row arithmetic of the recurrent cells, forward and backward side by side (recurrent.h has the
// formulas). One call handles one sample at one step; the driver (recurrent.cpp) has already done the
// GEMMs. Everything here is serial and touches only the row it is given.
#pragma once

#include <cstdint>
#include <cstring>

#include "activations/activation_kernels.h"

namespace pynn {
namespace rnn_detail {

template <class T>
struct Acts {
  const ActivationParams& act;
  const ActivationParams& rec;
  const ActivationKernels<T>& k;
  void forward(const ActivationParams& p, T* v, int64_t n) const { k.forward(p, v, v, n); }
  // dv = dv * f'(.) at the pre-activation x (may be nullptr when f' follows from y) / output y.
  void backward(const ActivationParams& p, const T* x, const T* y, T* dv, int64_t n) const {
    k.backward(p, activation_backward_uses_y(p.kind) ? nullptr : x, activation_backward_uses_y(p.kind) ? y : nullptr,
               dv, dv, n);
  }
};

// Row pointers for one sample at one step. g: the gates row (on entry the input projection, input bias
// included; on exit the activated gates); rec: the recurrent product h' U (no bias); pre: where to keep
// the pre-activations, or nullptr; h_prev / c_prev: the state before the step; h_in: h_prev as it enters
// the recurrent product (times the recurrent-dropout mask); aux: the cell's extra saved row (LSTM f(c),
// GRU reset_after: the recurrent h part with its bias, GRU otherwise: r * h_in).
template <class T>
struct RowForward {
  T* g;
  const T* rec;
  T* pre;
  const T* h_prev;
  const T* c_prev;
  const T* h_in;
  T* aux;
  T* h;
  T* c;
  const T* recurrent_bias;  // GRU reset_after: the second bias row, or nullptr
};

template <class T>
inline void keep_pre(const T* z, T* pre, int64_t n) {
  if (pre) std::memcpy(pre, z, sizeof(T) * n);
}

template <class T>
void simple_forward_row(const Acts<T>& a, const RowForward<T>& r, int64_t u) {
  for (int64_t j = 0; j < u; ++j) r.g[j] += r.rec[j];
  keep_pre(r.g, r.pre, u);
  a.forward(a.act, r.g, u);
  std::memcpy(r.h, r.g, sizeof(T) * u);
}

template <class T>
void lstm_forward_row(const Acts<T>& a, const RowForward<T>& r, int64_t u) {
  T* g = r.g;
  for (int64_t j = 0; j < 4 * u; ++j) g[j] += r.rec[j];
  keep_pre(g, r.pre, 4 * u);
  a.forward(a.rec, g, 2 * u);
  a.forward(a.act, g + 2 * u, u);
  a.forward(a.rec, g + 3 * u, u);
  const T *gi = g, *gf = g + u, *gc = g + 2 * u;
  for (int64_t j = 0; j < u; ++j) r.c[j] = gf[j] * r.c_prev[j] + gi[j] * gc[j];
  std::memcpy(r.aux, r.c, sizeof(T) * u);
  a.forward(a.act, r.aux, u);
  const T* go = g + 3 * u;
  for (int64_t j = 0; j < u; ++j) r.h[j] = go[j] * r.aux[j];
}

// GRU, reset gate after the product: rec holds h_in U for all three gates.
template <class T>
void gru_forward_row(const Acts<T>& a, const RowForward<T>& r, int64_t u) {
  T* g = r.g;
  const T* rb = r.recurrent_bias;
  for (int64_t j = 0; j < 2 * u; ++j) g[j] += r.rec[j] + (rb ? rb[j] : T(0));
  for (int64_t j = 0; j < u; ++j) r.aux[j] = r.rec[2 * u + j] + (rb ? rb[2 * u + j] : T(0));
  if (r.pre) std::memcpy(r.pre, g, sizeof(T) * 2 * u);
  a.forward(a.rec, g, 2 * u);
  const T* gr = g + u;
  T* gh = g + 2 * u;
  for (int64_t j = 0; j < u; ++j) gh[j] += gr[j] * r.aux[j];
  if (r.pre) std::memcpy(r.pre + 2 * u, gh, sizeof(T) * u);
  a.forward(a.act, gh, u);
  for (int64_t j = 0; j < u; ++j) r.h[j] = g[j] * r.h_prev[j] + (T(1) - g[j]) * gh[j];
}

// GRU, reset gate before the product, first half: z, r, and aux = r * h_in (the operand of the second
// product, which the driver then adds into rec[2u:3u]).
template <class T>
void gru_v1_forward_gates(const Acts<T>& a, const RowForward<T>& r, int64_t u) {
  T* g = r.g;
  for (int64_t j = 0; j < 2 * u; ++j) g[j] += r.rec[j];
  if (r.pre) std::memcpy(r.pre, g, sizeof(T) * 2 * u);
  a.forward(a.rec, g, 2 * u);
  for (int64_t j = 0; j < u; ++j) r.aux[j] = g[u + j] * r.h_in[j];
}

template <class T>
void gru_v1_forward_state(const Acts<T>& a, const RowForward<T>& r, int64_t u) {
  T* gh = r.g + 2 * u;
  for (int64_t j = 0; j < u; ++j) gh[j] += r.rec[2 * u + j];
  if (r.pre) std::memcpy(r.pre + 2 * u, gh, sizeof(T) * u);
  a.forward(a.act, gh, u);
  for (int64_t j = 0; j < u; ++j) r.h[j] = r.g[j] * r.h_prev[j] + (T(1) - r.g[j]) * gh[j];
}

// Backward rows. dh: on entry dL/dh_t, on exit the part of dL/dh_{t-1} that does not go through the
// recurrent product. dc (LSTM): dL/dc_t in, dL/dc_{t-1} out. dg: the gradient of the gates'
// pre-activations (the rows of dG); dgrec (GRU reset_after): the gradient of the recurrent product's row
// (h part scaled by r). tmp: u scratch values.
template <class T>
struct RowBackward {
  const T* g;
  const T* pre;
  const T* h_prev;
  const T* c_prev;
  const T* c;
  const T* aux;
  T* dh;
  T* dc;
  T* dg;
  T* dgrec;
  T* tmp;
};

template <class T>
void simple_backward_row(const Acts<T>& a, const RowBackward<T>& r, int64_t u) {
  std::memcpy(r.dg, r.dh, sizeof(T) * u);
  a.backward(a.act, r.pre, r.g, r.dg, u);
  std::memset(r.dh, 0, sizeof(T) * u);
}

template <class T>
void lstm_backward_row(const Acts<T>& a, const RowBackward<T>& r, int64_t u) {
  const T *gi = r.g, *gf = r.g + u, *gc = r.g + 2 * u, *go = r.g + 3 * u;
  T *di = r.dg, *df = r.dg + u, *dcc = r.dg + 2 * u, *dout = r.dg + 3 * u;
  T* dct = r.tmp;
  for (int64_t j = 0; j < u; ++j) {
    dct[j] = r.dh[j] * go[j];
    dout[j] = r.dh[j] * r.aux[j];
  }
  a.backward(a.act, r.c, r.aux, dct, u);
  for (int64_t j = 0; j < u; ++j) {
    const T d = dct[j] + r.dc[j];
    di[j] = d * gc[j];
    df[j] = d * r.c_prev[j];
    dcc[j] = d * gi[j];
    r.dc[j] = d * gf[j];
  }
  a.backward(a.rec, r.pre, r.g, r.dg, 2 * u);
  a.backward(a.act, r.pre ? r.pre + 2 * u : nullptr, gc, dcc, u);
  a.backward(a.rec, r.pre ? r.pre + 3 * u : nullptr, go, dout, u);
  std::memset(r.dh, 0, sizeof(T) * u);
}

template <class T>
void gru_backward_row(const Acts<T>& a, const RowBackward<T>& r, int64_t u) {
  const T *gz = r.g, *gr = r.g + u, *gh = r.g + 2 * u;
  T *dz = r.dg, *dr = r.dg + u, *dhh = r.dg + 2 * u;
  for (int64_t j = 0; j < u; ++j) {
    dz[j] = r.dh[j] * (r.h_prev[j] - gh[j]);
    dhh[j] = r.dh[j] * (T(1) - gz[j]);
    r.dh[j] *= gz[j];
  }
  a.backward(a.act, r.pre ? r.pre + 2 * u : nullptr, gh, dhh, u);
  for (int64_t j = 0; j < u; ++j) {
    dr[j] = dhh[j] * r.aux[j];
    r.dgrec[2 * u + j] = dhh[j] * gr[j];
  }
  a.backward(a.rec, r.pre, r.g, r.dg, 2 * u);
  std::memcpy(r.dgrec, r.dg, sizeof(T) * 2 * u);
}

// GRU before-reset, first half: dz (kept un-differentiated in dg[0:u]) and the h gate's dG.
template <class T>
void gru_v1_backward_state(const Acts<T>& a, const RowBackward<T>& r, int64_t u) {
  const T *gz = r.g, *gh = r.g + 2 * u;
  T *dz = r.dg, *dhh = r.dg + 2 * u;
  for (int64_t j = 0; j < u; ++j) {
    dz[j] = r.dh[j] * (r.h_prev[j] - gh[j]);
    dhh[j] = r.dh[j] * (T(1) - gz[j]);
    r.dh[j] *= gz[j];
  }
  a.backward(a.act, r.pre ? r.pre + 2 * u : nullptr, gh, dhh, u);
}

// Second half, given drh = dL/d(r * h_in) in tmp: dr and the gates' dG; tmp becomes drh * r, the part of
// dL/dh_in that comes through r * h_in (the driver adds the z / r product to it).
template <class T>
void gru_v1_backward_gates(const Acts<T>& a, const RowBackward<T>& r, const T* h_in, int64_t u) {
  const T* gr = r.g + u;
  T* dr = r.dg + u;
  for (int64_t j = 0; j < u; ++j) {
    dr[j] = r.tmp[j] * h_in[j];
    r.tmp[j] *= gr[j];
  }
  a.backward(a.rec, r.pre, r.g, r.dg, 2 * u);
}

}  // namespace rnn_detail
}  // namespace pynn
