// Recurrent layers over a whole sequence in one call: SimpleRNN, LSTM and GRU, forward and backward through
// time, in Keras's weight layout and gate order (LSTM i, f, c, o; GRU z, r, h).
//
// Shapes (B batch, T steps, F input features, U units, G gates: 1 SimpleRNN, 4 LSTM (i, f, c, o), 3 GRU
// (z, r, h)):
//   x (B, T, F); kernel (F, G*U); recurrent_kernel (U, G*U); bias (G*U), or (2, G*U) for GRU reset_after
//   ([input bias; recurrent bias]); h0, c0, h_final, c_final (B, U); mask (B, T) bytes, 0 = skip the step;
//   recurrent_mask (B, U): the recurrent-dropout multiplier of h_{t-1} in the recurrent product.
//   y: (B, T, U) with return_sequences, else (B, U).
//
// Cells (pre-activations include the biases; f = activation, g = recurrent_activation):
//   SimpleRNN  h = f(x W + h' U)
//   LSTM       i, f_, o = g(.), c~ = f(.);  c = f_ * c' + i * c~;  h = o * f(c)
//   GRU        z, r = g(x W_zr + h' U_zr);  reset_after:  h~ = f(x W_h + b_h + r * (h' U_h + b'_h))
//              otherwise h~ = f(x W_h + (r * h') U_h);   h = z * h' + (1 - z) * h~
// where h' is h_{t-1} times recurrent_mask in the products (the carried state is never dropped).
//
// Masking and go_backwards follow Keras's backend rnn: steps are taken in reverse time order when
// go_backwards (and y is then in processing order); at a masked step the states are carried unchanged and
// the output is the previous step's output (zero before the first unmasked step), or zero with
// zero_output_for_mask.
//
// How it runs (oneDNN's plan): one GEMM projects the inputs of every step (M = T*B; for a few input
// features, each step's rows right before its product instead); then, per step, one GEMM h_{t-1} U (two
// for GRU without reset_after) and one fused pass over each row for the gates and the state update. Samples
// never interact, so the batch is cut into chunks of rows fixed by the shape, and each chunk runs its whole
// sequence on one thread: no synchronisation per step, and results independent of the thread count.
// Backward runs the steps in reverse per chunk the same way, then forms the weight gradients as large
// GEMMs over all steps: dW += X^T dG, dU += H^T dG, dX = dG W^T (small layers: per chunk, every 16 steps
// or so, from the rows gathered meanwhile; recurrent_detail.h says which).
//
// The forward pass fills a workspace (rnn_forward_workspace_size elements) that backward reads and partly
// overwrites (dG over the saved gates: one backward per forward); backward needs a second, scratch
// workspace (rnn_backward_workspace_size). A forward alone (save = false: inference) keeps one step of
// gates and states in a much smaller workspace, and gives the same outputs bit for bit. Gradients of the weights are ADDED into dkernel /
// drecurrent_kernel / dbias.
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

enum class RnnCell : int { simple = 0, lstm = 1, gru = 2 };

struct RnnParams {
  RnnCell cell = RnnCell::lstm;
  int64_t batch = 0, steps = 0, input_size = 0, units = 0;
  bool use_bias = true;
  bool reset_after = true;          // GRU only
  bool go_backwards = false;
  bool return_sequences = false;
  bool zero_output_for_mask = false;
  bool recurrent_dropout = false;   // recurrent_mask is given (the workspace then keeps h_{t-1} * mask)
  bool save = true;                 // keep every step's gates and states for backward; false: a forward
                                    // alone (inference), whose workspace holds one step of them
  ActivationParams activation;            // tanh by default (set by the caller)
  ActivationParams recurrent_activation;  // sigmoid (LSTM, GRU)
};

template <class T>
struct RnnForwardArgs {
  const T* x = nullptr;
  const T* kernel = nullptr;
  const T* recurrent_kernel = nullptr;
  const T* bias = nullptr;            // nullptr when !use_bias
  const T* h0 = nullptr;              // nullptr: zeros
  const T* c0 = nullptr;              // LSTM; nullptr: zeros
  const uint8_t* mask = nullptr;      // nullptr: every step counts
  const T* recurrent_mask = nullptr;  // nullptr: no recurrent dropout
  T* y = nullptr;
  T* h_final = nullptr;
  T* c_final = nullptr;               // LSTM
  T* workspace = nullptr;             // rnn_forward_workspace_size elements, read by backward
};

template <class T>
struct RnnBackwardArgs {
  // The forward call's inputs (the same arrays) and its workspace. Backward overwrites part of the workspace
  // (the saved gates become their gradients where the cell's default activations allow it), so a forward
  // call's workspace serves one backward call.
  const T* kernel = nullptr;
  const T* recurrent_kernel = nullptr;
  const uint8_t* mask = nullptr;
  const T* recurrent_mask = nullptr;
  T* workspace = nullptr;
  // Incoming gradients: of y (shape of y), and of the final states (nullptr: zero).
  const T* dy = nullptr;
  const T* dh_final = nullptr;
  const T* dc_final = nullptr;
  // Outputs: dx (B, T, F) and dh0 / dc0 (B, U) are written (each may be nullptr: not computed); the
  // weight gradients are added into (nullptr: not computed).
  T* dx = nullptr;
  T* dh0 = nullptr;
  T* dc0 = nullptr;
  T* dkernel = nullptr;
  T* drecurrent_kernel = nullptr;
  T* dbias = nullptr;
  T* scratch = nullptr;               // rnn_backward_workspace_size elements
};

// Checks the params (positive sizes, known cell) and returns the workspace sizes in elements; -1 for
// invalid params.
int64_t rnn_forward_workspace_size(const RnnParams& p);
int64_t rnn_backward_workspace_size(const RnnParams& p);
int rnn_gates(RnnCell cell);

void rnn_forward(const RnnParams& p, const RnnForwardArgs<float>& a);
void rnn_forward(const RnnParams& p, const RnnForwardArgs<double>& a);
void rnn_backward(const RnnParams& p, const RnnBackwardArgs<float>& a);
void rnn_backward(const RnnParams& p, const RnnBackwardArgs<double>& a);

}  // namespace pynn
