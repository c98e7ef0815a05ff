// The per-row kernels of the recurrent cells (recurrent_rows.inc), one table per instruction set, and the
// plain structs they take. recurrent.cpp picks the table of active_isa() and, after the step's GEMMs, calls
// a forward entry per run of unmasked samples and a backward entry per sample.
#pragma once

#include <cstdint>

#include "activations/activation_kernels.h"
#include "recurrent/recurrent.h"

namespace pynn {

struct RnnActivations {
  const ActivationParams* activation;
  const ActivationParams* recurrent_activation;
};

// Whether a cell's backward rows run the fused loops of Keras's default activations (tanh; sigmoid for the
// gates of LSTM and GRU), which work in place over the gate rows. The row kernels and the driver's choice
// of dG buffer (backward_in_place) both read it, so they cannot disagree.
inline bool rnn_fused_backward(RnnCell cell, const ActivationParams& act, const ActivationParams& rec) {
  const bool tanh = act.kind == Activation::tanh;
  return cell == RnnCell::simple ? tanh : tanh && rec.kind == Activation::sigmoid;
}

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

// Backward rows. dh: on entry dL/dh_t, on exit the part of dL/dh_{t-1} that does not go through the
// recurrent product. dc (LSTM): dL/dc_t in, dL/dc_{t-1} out. dg: the gradient of the gates'
// pre-activations (the rows of dG); dgrec (GRU reset_after): the gradient of the recurrent product's row
// (h part scaled by r). tmp: u scratch values. With the default activations (backward_in_place in
// recurrent_detail.h) the row works in place: dg holds the gates on entry (g is not read); otherwise g and
// dg are apart.
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

// A forward entry takes `rows` consecutive samples starting at r: their gate rows (g, rec, pre) are
// gates * units apart, their state rows (h_prev, c_prev, h_in, aux, h, c) units apart.
template <class T>
struct RnnRowKernels {
  using Forward = void (*)(const RnnActivations&, const RowForward<T>&, int64_t units, int64_t rows);
  using Backward = void (*)(const RnnActivations&, const RowBackward<T>&, int64_t units);
  Forward simple_forward, lstm_forward, gru_forward, gru_v1_forward_gates, gru_v1_forward_state;
  Backward simple_backward, lstm_backward, gru_backward, gru_v1_backward_state;
  void (*gru_v1_backward_gates)(const RnnActivations&, const RowBackward<T>&, const T* h_in, int64_t units);
};

extern const RnnRowKernels<float> rnn_row_kernels_generic_f32;
extern const RnnRowKernels<double> rnn_row_kernels_generic_f64;
#if defined(PYNN_X86)
extern const RnnRowKernels<float> rnn_row_kernels_avx2_f32;
extern const RnnRowKernels<double> rnn_row_kernels_avx2_f64;
extern const RnnRowKernels<float> rnn_row_kernels_avx512_f32;
extern const RnnRowKernels<double> rnn_row_kernels_avx512_f64;
#endif

}  // namespace pynn
