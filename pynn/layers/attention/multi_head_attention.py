"""MultiHeadAttention: Keras 3's layer, with an explicit forward and backward.

Shapes (B batch, T query steps, S key steps, N heads, Dk = key_dim, Dv = value_dim):
    Q = query @ Wq + bq, scaled by 1 / sqrt(Dk)         (B, T, N, Dk)     Wq (query_dim, N, Dk), bq (N, Dk)
    K = key @ Wk + bk,  V = value @ Wv + bv              (B, S, N, Dk / Dv)
    P = softmax(Q K^T over Dk, masked)                   (B, N, T, S)      the attention scores
    y = (dropout(P) V) @ Wo + bo                         (B, T, *output_shape)  Wo (N, Dv, *output_shape)

Every product runs on the GEMM kernel (pynn.kernels.gemm): the projections as one GEMM each, the per-head
products one (batch, head) at a time on strided views of the projections, so that no head is transposed.
The softmax is computed in place on the score buffer, and P is the only (T x S) array kept for backward
(attention dropout is drawn again from its counter-based stream there instead of being stored).
"""
import math

import numpy as np

from pynn import kernels
from pynn.layers.attention.base import (
    AttentionLayer, CallOptions, add_matmul_grad, add_sum_grad, batched_gemm, causal_keep, dims_match,
    softmax_in_place,
)
from pynn.layers.layer import serialize_argument as _serialize
from pynn.layers.random_stream import SeededStream, check_seed


def _heads(x2, b, n):
    """A projection (B * steps, N * size) as per-head matrices (B, N, steps, size): strided views, no copy."""
    return x2.reshape(b, -1, n, x2.shape[1] // n).transpose(0, 2, 1, 3)


def _uniform_rows(keep, probs, heads, vp):
    """Keras's weights for a query row whose keys are all masked, on the path where it runs
    ops.dot_product_attention (dropout 0, no returned scores, rank-3 inputs): the mask adds one huge negative
    number to every score of the row, which absorbs them, so the weights are uniform and the row's output is the
    mean of the values. (Keras's other path, Softmax(mask=...), zeroes them: the kernel's rows.)

    Writes those rows of `heads` (the kernel's, whatever it gave there) and leaves their `probs` zero, so that the
    fused backward sends them nothing: a uniform row does not depend on the query or the keys, and the values'
    share (1 / S each) is added in MultiHeadAttention.backward. Returns the rows as (B, N, T) booleans, or None
    when no row is masked everywhere."""
    if keep is None:
        return None
    b, n, t, s = probs.shape
    empty = ~np.asarray(keep).any(axis=-1)
    if not empty.any():
        return None
    empty = np.ascontiguousarray(np.broadcast_to(empty.reshape((1,) * (3 - empty.ndim) + empty.shape), (b, n, t)))
    probs[empty] = 0
    np.copyto(_heads(heads, b, n), _heads(vp, b, n).mean(axis=2)[:, :, None, :], where=empty[..., None])
    return empty


def _positive_int(value, name, layer, optional=False):
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"MultiHeadAttention '{layer}': {name} must be a positive integer"
                         f"{' or None' if optional else ''}, got {value!r}")
    return int(value)


class MultiHeadAttention(SeededStream, AttentionLayer):
    """Multi-head (scaled dot-product) attention, as in "Attention is all you need"; Keras 3's arguments,
    weights and results.

    Args:
        num_heads, key_dim: heads, and the size of each head's query and key.
        value_dim: the size of each head's value (default key_dim).
        dropout: the dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: the output's feature shape (an int or a tuple); default: the query's last dimension.
        attention_axes: only the default (None: attention over every axis between batch and features) is
            supported; other axes raise NotImplementedError.
        sliding_window: None, or w: query step i only sees key steps j with |i - j| < w.
        flash_attention: accepted for Keras's API; the computation is the same.
        kernel_initializer ("glorot_uniform"), bias_initializer ("zeros"), kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for all four projections.
        activity_regularizer: on the layer's output (Keras applies it to each projection's output).
        use_gate: not supported (True raises NotImplementedError).
        seed: the dropout's seed.

    Call: `mha(query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
    return_attention_scores=False, training=None, use_causal_mask=False)`. query (B, T, query_dim), value
    (B, S, value_dim), key (B, S, key_dim; default value). Masks: True (or nonzero) where attention is
    allowed: query_mask (B, T), value_mask and key_mask (B, S), attention_mask (B, T, S) (also (T, S) or
    (B, N, T, S)). Returns y, or (y, scores) with scores (B, N, T, S).

    A query step with every key masked (a padded query step, a row of zeros in attention_mask) gets what Keras
    3 gives it: with dropout 0, no returned scores and rank-3 inputs (Keras's fused path), uniform weights, so
    the mean of the values (its gradient reaches the values only); otherwise zero weights, an output of the
    output bias alone.

    In a functional model, masks carried by the inputs (from Embedding(mask_zero=True) or Masking) are used as
    Keras uses them: the query's as query_mask, the value's as value_mask, the key's as key_mask (a mask given
    explicitly wins; Keras ignores an explicit query_mask), and y carries the query's mask on.

    Weights, in Keras's order and layout: query/kernel, query/bias, key/kernel, key/bias, value/kernel,
    value/bias, attention_output/kernel, attention_output/bias (no biases when use_bias=False).

    Example:
        x = pynn.Input(shape=(16, 32))
        y = pynn.layers.MultiHeadAttention(num_heads=4, key_dim=8)(x, x, use_causal_mask=True)
    """

    mask_roles = ("query_mask", "value_mask", "key_mask", "attention_mask")
    implicit_roles = ("query_mask", "value_mask", "key_mask")

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = _positive_int(num_heads, "num_heads", self.name)
        self.key_dim = _positive_int(key_dim, "key_dim", self.name)
        self.value_dim = _positive_int(value_dim, "value_dim", self.name, optional=True) or self.key_dim
        try:
            self.dropout = float(dropout)
        except (TypeError, ValueError):
            self.dropout = -1.0
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{self._who}: dropout must be a number in [0, 1), got {dropout!r}")
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, (list, tuple)):
            output_shape = (output_shape,)
        if output_shape is not None:
            output_shape = tuple(_positive_int(d, "output_shape", self.name) for d in output_shape) or None
        self._output_shape = output_shape
        if isinstance(attention_axes, int) and not isinstance(attention_axes, bool):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"{self._who}: attention_axes must be an int, list, or tuple, got {attention_axes!r}")
        self.attention_axes = None if attention_axes is None else tuple(int(a) for a in attention_axes)
        self.sliding_window = _positive_int(sliding_window, "sliding_window", self.name, optional=True)
        self.flash_attention = flash_attention
        if flash_attention and self.dropout > 0.0:
            raise ValueError(f"{self._who}: dropout is not supported when flash attention is enabled; set "
                             "dropout to 0.0 to use flash attention")
        if use_gate:
            raise NotImplementedError(f"{self._who}: use_gate=True is not supported")
        self.use_gate = False
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.seed = check_seed(seed, self.name)
        self._init_stream()
        self._scale = 1.0 / math.sqrt(float(self.key_dim))

    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False):
        masks = {"query_mask": query_mask, "value_mask": value_mask, "key_mask": key_mask,
                 "attention_mask": attention_mask}
        if value is None and isinstance(query, (list, tuple)):
            if key is not None or any(m is not None for m in masks.values()):
                raise ValueError(f"{self._who}: give query, value and key as arguments, not as a list, when "
                                 "passing a key or masks")
            query, value, key, masks, recorded = self._replayed(query)
            return_attention_scores = return_attention_scores or recorded.return_attention_scores
            use_causal_mask = use_causal_mask or recorded.use_causal_mask
        return self._call(query, value, key, masks, use_causal_mask, return_attention_scores, training)

    # ------------------------------------------------------------------ shapes and weights
    def check_data_shapes(self, shapes):
        q, v, k = shapes
        if len(q) < 3 or len(v) != len(q) or len(k) != len(q):
            raise ValueError(f"{self._who}: query, value and key must have one rank of at least 3 (batch, steps, "
                             f"features); got shapes {tuple(q)}, {tuple(v)}, {tuple(k)}")
        if any(s[-1] is None for s in shapes):
            raise ValueError(f"{self._who}: the last dimension of query, value and key must be known; got "
                             f"{tuple(q)}, {tuple(v)}, {tuple(k)}")
        if not dims_match(v[1:-1], k[1:-1]):
            raise ValueError(f"{self._who}: all dimensions of value and key except the last must be equal; got "
                             f"value {tuple(v)} and key {tuple(k)}")
        self._check_batch(shapes)

    def check_mask_shapes(self, shapes, options):
        q, v = shapes[0], shapes[1]
        batch = next((s[0] for s in shapes[:3] if s[0] is not None), None)
        tq, tv = tuple(q[1:-1]), tuple(v[1:-1])
        for role, shape in zip(options.masks, shapes[3:]):
            shape = tuple(shape)
            if role == "query_mask" and not dims_match(shape, (batch,) + tq):
                self._mask_error(role, shape, (batch,) + tq)
            elif role in ("value_mask", "key_mask") and not dims_match(shape, (batch,) + tv):
                self._mask_error(role, shape, (batch,) + tv)
            elif role == "attention_mask":
                forms = [(batch,) + tq + tv]
                if len(tq) == 1:
                    forms += [tq + tv, (batch, self.num_heads) + tq + tv]
                if not any(dims_match(shape, f, broadcast=True) for f in forms):
                    self._mask_error(role, shape, " or ".join(str(f) for f in forms))
        if (options.use_causal_mask or self.sliding_window) and len(tq) != 1:
            raise NotImplementedError(f"{self._who}: use_causal_mask and sliding_window need inputs of rank 3 "
                                      f"(batch, steps, features); got query {tuple(q)}")

    def _check_attention_axes(self, rank):
        default = tuple(range(1, rank - 1))
        if self.attention_axes is None:
            return
        axes = tuple(sorted(a if a >= 0 else rank + a for a in self.attention_axes))
        if axes != default:
            raise NotImplementedError(f"{self._who}: attention_axes={self.attention_axes} is not supported; only "
                                      f"the default (attention over every axis between batch and features, "
                                      f"{default} for inputs of rank {rank})")

    def build(self, input_shape):
        q, v, k = input_shape
        self._check_attention_axes(len(q))
        n, dk, dv = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (q[-1],)

        def projection(name, kernel_shape, bias_shape):
            kernel = self.add_weight(f"{name}/kernel", kernel_shape, self.kernel_initializer,
                                     self.kernel_regularizer, self.kernel_constraint)
            bias = None
            if self.use_bias:
                bias = self.add_weight(f"{name}/bias", bias_shape, self.bias_initializer, self.bias_regularizer,
                                       self.bias_constraint)
            return kernel, bias
        self.query_kernel, self.query_bias = projection("query", (q[-1], n, dk), (n, dk))
        self.key_kernel, self.key_bias = projection("key", (k[-1], n, dk), (n, dk))
        self.value_kernel, self.value_bias = projection("value", (v[-1], n, dv), (n, dv))
        self.output_kernel, self.output_bias = projection("attention_output", (n, dv) + tuple(out), tuple(out))

    def compute_output_shape(self, input_shape, options=None):
        q, v = tuple(input_shape[0]), tuple(input_shape[1])
        y = q[:-1] + (self._output_shape or (q[-1],))
        if (options or self._graph_options or CallOptions()).return_attention_scores:
            return [y, (q[0], self.num_heads) + q[1:-1] + v[1:-1]]
        return y

    # ------------------------------------------------------------------ computing
    def _keep(self, masks, options, b, tq, tv):
        """The positions attention may use, as booleans broadcastable to (B, N, T, S), or None for all."""
        t, s = math.prod(tq), math.prod(tv)
        keep = None

        def join(m):
            return m if keep is None else keep & m
        for role, m in masks.items():
            if role == "query_mask":
                keep = join(m.reshape(b, 1, t, 1))
            elif role in ("value_mask", "key_mask"):
                keep = join(m.reshape(b, 1, 1, s))
        if options.use_causal_mask:
            keep = join(causal_keep(t, s))
        if self.sliding_window:
            keep = join(np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < self.sliding_window)
        m = masks.get("attention_mask")
        if m is not None:
            if len(tq) > 1:        # (B, *query steps, *key steps): flattened to (B, 1, T, S)
                m = np.broadcast_to(m, m.shape[:1] + tq + tv).reshape(m.shape[0], 1, t, s)
            else:                  # (T, S), (B, T, S) or (B, N, T, S): the head axis added where missing
                m = m.reshape((1,) * (4 - m.ndim) + m.shape) if m.ndim == 2 else (m[:, None] if m.ndim == 3 else m)
            keep = join(m)
        return keep

    def _project(self, x2, kernel, bias):
        w = kernel.value.reshape(x2.shape[1], -1)
        y = kernels.matmul(x2, w)
        if bias is not None:
            y += bias.value.reshape(-1)
        return y

    def forward(self, xs, training=False, options=None, mask=None):
        options = self._options(xs, options)
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) > 2 else v
        shapes = [q.shape, v.shape, k.shape]
        self._check_shapes(shapes + [np.shape(m) for m in xs[3:]], options)
        masks = self._masks(xs, options, mask, shapes)
        b, tq, tv = q.shape[0], q.shape[1:-1], v.shape[1:-1]
        t, s = math.prod(tq), math.prod(tv)
        n, dv = self.num_heads, self.value_dim
        q2, k2, v2 = (np.ascontiguousarray(a, dtype=self.dtype).reshape(-1, a.shape[-1]) for a in (q, k, v))
        qp = self._project(q2, self.query_kernel, self.query_bias)
        qp *= qp.dtype.type(self._scale)                                  # Keras scales the projected query
        kp = self._project(k2, self.key_kernel, self.key_bias)
        vp = self._project(v2, self.value_kernel, self.value_bias)
        keep = self._keep(masks, options, b, tq, tv)
        stream = uniform = None
        if training and self.dropout > 0.0:
            scores = np.empty((b, n, t, s), self.dtype)
            batched_gemm(_heads(qp, b, n), _heads(kp, b, n), scores, trans_b=True)
            probs = softmax_in_place(scores, None if keep is None else ~keep, fill=-1e9)
            stream = self._key(probs.size)
            used = kernels.dropout(probs, self.dropout, *stream)[0]
            heads = np.empty((b * t, n * dv), self.dtype)                 # the heads side by side, as Wo reads them
            batched_gemm(used, _heads(vp, b, n), _heads(heads, b, n))
            del used
        else:                 # scores, mask, softmax and the product with V fused per head, in cache
            probs, heads = kernels.attention(qp, kp, vp, b, n, keep)
            if len(tq) == 1 and self.dropout == 0.0 and not options.return_attention_scores:
                uniform = _uniform_rows(keep, probs, heads, vp)
        y = self._project(heads, self.output_kernel, self.output_bias)
        y = y.reshape((b,) + tq + tuple(self.output_kernel.shape[2:]))
        ctx = (q2, k2, v2, qp, kp, vp, probs, heads, stream, uniform, len(xs), (q.shape, k.shape, v.shape))
        if options.return_attention_scores:
            return [y, probs.reshape((b, n) + tq + tv)], ctx
        return y, ctx

    def backward(self, ctx, dy):
        q2, k2, v2, qp, kp, vp, probs, heads, stream, uniform, n_inputs, (q_shape, k_shape, v_shape) = ctx
        d_scores = None
        if isinstance(dy, (list, tuple)):
            dy, d_scores = dy[0], (dy[1] if len(dy) > 1 else None)
        b, n, t, s = probs.shape
        dy2 = np.ascontiguousarray(dy, dtype=self.dtype).reshape(b * t, -1)
        add_matmul_grad(self.output_kernel, heads, dy2)
        add_sum_grad(self.output_bias, dy2)
        d_heads2 = kernels.matmul(dy2, self.output_kernel.value.reshape(heads.shape[1], -1).T)
        if stream is None and d_scores is None:
            dqp, dkp, dvp = kernels.attention_backward(qp, kp, vp, probs, d_heads2, b, n, alpha=self._scale)
            if uniform is not None:          # each value gets 1 / S of a uniform row's gradient; Q and K none
                d_rows = np.where(uniform[..., None], _heads(d_heads2, b, n), dvp.dtype.type(0)).sum(axis=2)
                dv_heads = _heads(dvp, b, n)
                dv_heads += (d_rows / s)[:, :, None, :]
        else:
            dqp, dkp, dvp = self._unfused_backward(qp, kp, vp, probs, _heads(d_heads2, b, n), stream, d_scores)
        return self._project_back(ctx, dqp, dkp, dvp)

    def _unfused_backward(self, qp, kp, vp, probs, d_heads, stream, d_scores):
        """The attention's backward head by head on batched GEMMs: with attention dropout, or a gradient for the
        returned scores."""
        b, n = probs.shape[:2]
        d_probs = np.empty_like(probs)
        batched_gemm(d_heads, _heads(vp, b, n), d_probs, trans_b=True)
        dvp = np.empty_like(vp)
        if stream is not None:
            used, drop_mask = kernels.dropout(probs, self.dropout, *stream)
            batched_gemm(used, d_heads, _heads(dvp, b, n), trans_a=True)
            del used
            kernels.dropout_backward(d_probs, drop_mask, self.dropout, out=d_probs)
            del drop_mask
        else:
            batched_gemm(probs, d_heads, _heads(dvp, b, n), trans_a=True)
        if d_scores is not None:
            d_probs += np.asarray(d_scores).reshape(d_probs.shape)
        d_logits = kernels.softmax_backward(probs, d_probs, out=d_probs)   # masked entries: probs 0, gradient 0
        dqp, dkp = np.empty_like(qp), np.empty_like(kp)
        batched_gemm(d_logits, _heads(kp, b, n), _heads(dqp, b, n), alpha=self._scale)
        batched_gemm(d_logits, _heads(qp, b, n), _heads(dkp, b, n), trans_a=True)
        return dqp, dkp, dvp

    def _project_back(self, ctx, dqp, dkp, dvp):
        q2, k2, v2, *_, n_inputs, (q_shape, k_shape, v_shape) = ctx

        def project_back(x2, d2, kernel, bias, shape):
            add_matmul_grad(kernel, x2, d2)
            add_sum_grad(bias, d2)
            return kernels.matmul(d2, kernel.value.reshape(x2.shape[1], -1).T).reshape(shape)
        dq = project_back(q2, dqp, self.query_kernel, self.query_bias, q_shape)
        dk = project_back(k2, dkp, self.key_kernel, self.key_bias, k_shape)
        dv = project_back(v2, dvp, self.value_kernel, self.value_bias, v_shape)
        if n_inputs == 2:
            return [dq, dv + dk]
        return [dq, dv, dk] + [None] * (n_inputs - 3)

    def _call_config(self, query, value, key, masks, keywords):
        return query, {"value": value, **({} if key is None else {"key": key}), **masks, **keywords}

    def keras_weight_groups(self):
        """[(name, variables)]: how Keras 3 stores these weights, one group per projection sublayer
        (layers/<key>/query_dense/vars/0, 1, ... in a .weights.h5 file)."""
        groups = [("query_dense", self.query_kernel, self.query_bias), ("key_dense", self.key_kernel, self.key_bias),
                  ("value_dense", self.value_kernel, self.value_bias),
                  ("output_dense", self.output_kernel, self.output_bias)]
        return [(name, [w for w in (kernel, bias) if w is not None]) for name, kernel, bias in groups]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_shape, "attention_axes": self.attention_axes,
                "sliding_window": self.sliding_window, "flash_attention": self.flash_attention,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "bias_initializer": _serialize(self.bias_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "bias_regularizer": _serialize(self.bias_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint),
                "bias_constraint": _serialize(self.bias_constraint),
                "activity_regularizer": _serialize(self.activity_regularizer),
                "use_gate": self.use_gate, "seed": self.seed}
