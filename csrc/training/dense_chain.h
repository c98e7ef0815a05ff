// One training step of a chain of Dense and Dropout layers ending in softmax + cross-entropy, in one call:
// forward, loss, backward and the weight gradients, with no Python between the layers.
//
// The step calls the same kernels, with the same arguments and in the same order, as the layer-by-layer
// path (pynn/layers/dense.py, dropout.py, the fused loss), so both give bit-identical gradients, losses and
// predictions; the chain only removes the Python and the allocations between them. Each kernel splits its
// own work across pynn's threads, so results do not depend on the thread count either.
//
// Layer k reads the output of layer k - 1 (layer 0 reads x) and writes its own buffers, each of
// rows * out_features elements, C-contiguous: y (its output), z (a Dense layer's pre-activation when its
// activation is not applied in the GEMM's epilogue) and mask (a Dropout layer's keep mask). The last layer
// is a Dense layer whose outputs are the logits (its softmax is fused into the loss).
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

enum class ChainLayerKind : int { dense = 0, dropout = 1 };

template <class T>
struct ChainLayer {
  ChainLayerKind kind = ChainLayerKind::dense;
  int64_t in_features = 0, out_features = 0;  // equal for dropout
  // Dense: y = act(x kernel + bias). kernel (in_features, out_features), bias (out_features) or nullptr;
  // their gradients are overwritten (not accumulated).
  const T* kernel = nullptr;
  const T* bias = nullptr;
  T* kernel_grad = nullptr;
  T* bias_grad = nullptr;
  ActivationParams activation;     // linear for none (and for the last layer)
  bool activation_in_gemm = false; // applied in the GEMM's store; its derivative is taken from y
  // Dropout: y = mask ? x / (1 - rate) : 0, the mask from stream elements [offset, offset + rows *
  // out_features) of seed.
  double rate = 0.0;
  uint64_t seed = 0, offset = 0;
  // Buffers of rows * out_features elements.
  T* y = nullptr;
  T* z = nullptr;                  // Dense with an activation not in the GEMM: the pre-activation
  uint8_t* mask = nullptr;         // Dropout
};

enum class ChainLoss : int {
  sparse_softmax_cross_entropy = 0,  // integer labels (rows), int32 or int64
  softmax_cross_entropy = 1,         // probability targets (rows, classes)
};

template <class T>
struct ChainStep {
  ChainLayer<T>* layers = nullptr;
  int64_t num_layers = 0;
  int64_t rows = 0;                // the batch
  const T* x = nullptr;            // (rows, layers[0].in_features)
  ChainLoss loss = ChainLoss::sparse_softmax_cross_entropy;
  const void* targets = nullptr;   // labels (checked in range by the caller) or (rows, classes) targets
  bool labels64 = true;
  T* loss_values = nullptr;        // (rows): each sample's loss
  T* probabilities = nullptr;      // (rows, classes): softmax of the logits, the model's prediction
  T* grad_a = nullptr;             // two gradient buffers of rows * (the widest in_features or out_features)
  T* grad_b = nullptr;
};

// Runs the step and returns the sum of the per-sample losses (pynn::sum of loss_values). The gradient of
// the mean loss reaches every kernel_grad and bias_grad.
double dense_chain_step(const ChainStep<float>& s);
double dense_chain_step(const ChainStep<double>& s);

}  // namespace pynn
