// A Dense / Dropout chain's training step as one call (dense_chain.h).
#include "training/dense_chain.h"

#include "common/parallel.h"
#include "gemm/gemm.h"
#include "losses/losses.h"
#include "random/random.h"
#include "reduce/reduce.h"

namespace pynn {
namespace {

// A step strings together many kernels, most of them tiny for a small batch (a bias sum over 32 x 64, a
// 32 x 128 x 64 product). Kernels with less work than this run on the calling thread: waking the team
// for them costs more than the second thread saves (the chain of a W1 step, bench/README.md: 101.7 -> 95.8 us on two
// threads). Results do not depend on it (they never depend on the thread count).
constexpr int64_t kTeamMultiplyAdds = int64_t{1} << 20;
constexpr int64_t kTeamElements = int64_t{1} << 16;

template <class Kernel>
void run(int64_t work, int64_t team_work, Kernel&& kernel) {
  if (work >= team_work) {
    kernel();
  } else {
    SerialScope serial;
    kernel();
  }
}

template <class T>
void dense_forward(const ChainLayer<T>& l, const T* x, int64_t rows) {
  GemmParams p;
  p.m = rows;
  p.n = l.out_features;
  p.k = l.in_features;
  p.lda = l.in_features;
  p.ldb = l.out_features;
  p.ldc = l.out_features;
  p.split_k = true;  // as pynn's Python binding calls it
  GemmEpilogue<T> e;
  e.bias = l.bias;
  const bool linear = l.activation.kind == Activation::linear;
  const int64_t macs = rows * l.in_features * l.out_features;
  if (linear || l.activation_in_gemm) {
    if (!linear) e.activation = &l.activation;
    run(macs, kTeamMultiplyAdds, [&] { gemm(p, x, l.kernel, l.y, e); });
    return;
  }
  run(macs, kTeamMultiplyAdds, [&] { gemm(p, x, l.kernel, l.z, e); });
  run(rows * l.out_features, kTeamElements,
      [&] { activation_forward(l.activation, l.z, l.y, rows * l.out_features); });
}

// dy: the gradient w.r.t. the layer's output, (rows, out_features); turned in place into the gradient before the
// activation. Writes the weight gradients and, when dx is not nullptr, the input gradient (rows, in_features).
template <class T>
void dense_backward(const ChainLayer<T>& l, const T* x, T* dy, T* dx, int64_t rows) {
  if (l.activation.kind != Activation::linear) {
    const T* pre = l.activation_in_gemm ? nullptr : l.z;
    const T* post = l.activation_in_gemm || activation_backward_uses_y(l.activation.kind) ? l.y : nullptr;
    run(rows * l.out_features, kTeamElements,
        [&] { activation_backward(l.activation, pre, post, dy, dy, rows * l.out_features); });
  }
  const int64_t macs = rows * l.in_features * l.out_features;
  GemmParams w;  // kernel_grad = x^T dy
  w.m = l.in_features;
  w.n = l.out_features;
  w.k = rows;
  w.trans_a = true;
  w.lda = l.in_features;
  w.ldb = l.out_features;
  w.ldc = l.out_features;
  w.split_k = true;
  run(macs, kTeamMultiplyAdds, [&] { gemm(w, x, dy, l.kernel_grad); });
  if (l.bias_grad != nullptr) {
    run(rows * l.out_features, kTeamElements,
        [&] { sum_rows(dy, rows, l.out_features, l.out_features, l.bias_grad); });
  }
  if (dx == nullptr) return;
  GemmParams d;  // dx = dy kernel^T
  d.m = rows;
  d.n = l.in_features;
  d.k = l.out_features;
  d.trans_b = true;
  d.lda = l.out_features;
  d.ldb = l.out_features;
  d.ldc = l.in_features;
  d.split_k = true;
  run(macs, kTeamMultiplyAdds, [&] { gemm(d, dy, l.kernel, dx); });
}

// The per-sample losses, their gradient w.r.t. the logits (of the mean loss) into dy, and the softmax.
template <class T>
void loss_forward_backward(const ChainStep<T>& s, const ChainLayer<T>& last, T* dy) {
  LossParams lp;
  lp.rows = s.rows;
  lp.cols = last.out_features;
  lp.scale = 1.0 / static_cast<double>(s.rows);
  if (s.loss == ChainLoss::softmax_cross_entropy) {
    softmax_cross_entropy(lp, last.y, static_cast<const T*>(s.targets), nullptr, s.loss_values, dy);
  } else if (s.labels64) {
    sparse_softmax_cross_entropy(lp, last.y, static_cast<const int64_t*>(s.targets), nullptr, s.loss_values, dy);
  } else {
    sparse_softmax_cross_entropy(lp, last.y, static_cast<const int32_t*>(s.targets), nullptr, s.loss_values, dy);
  }
  softmax_forward(last.y, s.probabilities, s.rows, last.out_features);
}

template <class T>
double step(const ChainStep<T>& s) {
  const int64_t rows = s.rows, n = s.num_layers;
  ChainLayer<T>* layers = s.layers;
  for (int64_t k = 0; k < n; ++k) {
    const ChainLayer<T>& l = layers[k];
    const T* x = k == 0 ? s.x : layers[k - 1].y;
    if (l.kind == ChainLayerKind::dense) {
      dense_forward(l, x, rows);
    } else {
      DropoutParams d;
      d.rate = l.rate;
      d.seed = l.seed;
      d.offset = l.offset;
      const int64_t count = rows * l.out_features;
      run(count, kTeamElements, [&] { dropout_forward(d, x, l.y, l.mask, count); });
    }
  }

  const ChainLayer<T>& last = layers[n - 1];
  T* dy = s.grad_a;
  run(rows * last.out_features, kTeamElements, [&] { loss_forward_backward(s, last, dy); });

  // Backward to the first Dense layer (nothing below it needs a gradient).
  int64_t first_dense = 0;
  while (layers[first_dense].kind != ChainLayerKind::dense) ++first_dense;
  T* spare = s.grad_b;
  for (int64_t k = n - 1; k >= first_dense; --k) {
    const ChainLayer<T>& l = layers[k];
    const T* x = k == 0 ? s.x : layers[k - 1].y;
    if (l.kind == ChainLayerKind::dense) {
      T* dx = k > first_dense ? spare : nullptr;
      dense_backward(l, x, dy, dx, rows);
      if (dx != nullptr) {
        spare = dy;
        dy = dx;
      }
    } else {
      const int64_t count = rows * l.out_features;
      run(count, kTeamElements, [&] { dropout_backward(l.rate, dy, l.mask, dy, count); });
    }
  }
  double total = 0.0;
  run(rows, kTeamElements, [&] { total = sum(s.loss_values, rows); });
  return total;
}

}  // namespace

double dense_chain_step(const ChainStep<float>& s) { return step(s); }
double dense_chain_step(const ChainStep<double>& s) { return step(s); }

}  // namespace pynn
